"""A Sieve script compiled once and run against many messages (RFC 5228, RFC 5230 vacation, RFC 5231
relational, RFC 4790 comparators).

``compile_script(text, name)`` parses with sievelib (``grammar.py``) and turns the tree into Python
closures, one per test, with keys and patterns prepared; ``Script.run(message)`` walks the commands and
returns the script's ``Result``: the actions in the order they were taken (duplicates merged) and whether
the implicit keep still applies. That is the level of Pigeonhole's ``sieve-test`` dry run. What a mailbox
then does with the result (folders that may not exist, vacation rules) is ``delivery.py``.

Where RFC 5228 leaves a choice to the implementation, the twin does what Pigeonhole does (checked by
``tests/test_sieve_pigeonhole.py`` against the real ``sieve-test``):

- ``keep`` and ``fileinto "INBOX"`` are one action; a second ``fileinto`` of the same folder or
  ``redirect`` to the same address is merged with the first; ``discard`` is listed as an action and
  cancels only the implicit keep;
- more than 4 ``redirect`` actions, or a second ``vacation``, is a run-time error: the result is dropped
  and the implicit keep applies (``Result.errors`` says why);
- ``vacation :days`` below 1 is raised to 1 day with a warning; the default is 7 days.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field

from twin.sieve.grammar import SieveParser, unquote
from twin.sieve.message import Message, split_address

MAX_REDIRECTS = 4  # Pigeonhole's sieve_max_redirects default
DAY = 86400
DEFAULT_DAYS = 7  # RFC 5230 §4.1 leaves it to the site; Pigeonhole's sieve_vacation_default_period
MIN_DAYS = 1  # Pigeonhole's sieve_vacation_min_period
INBOX = "INBOX"
ENVELOPE_PARTS = ("from", "to")


class CompileError(Exception):
    """The script does not compile: ``errors`` are ``NAME:LINE: message`` strings."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Vacation:
    reason: str
    seconds: int
    subject: str | None
    sender: str | None  # :from
    addresses: tuple[str, ...]
    handle: str
    mime: bool
    line: int


@dataclass
class Result:
    """What the script decided. ``actions``: ``("store", folder)``, ``("redirect", address)``,
    ``("discard",)``, ``("vacation", Vacation)``; ``errors``: run-time errors (the actions are then
    dropped and ``implicit_keep`` is True)."""

    actions: list[tuple] = field(default_factory=list)
    implicit_keep: bool = True
    errors: list[str] = field(default_factory=list)


class RuntimeFailure(Exception):
    pass


# --- comparators (RFC 4790) -------------------------------------------------------------------------

_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = re.compile(r"[0-9]*")


def _numeric(s: str) -> float:
    """i;ascii-numeric: the value of the leading digits; a string without one is positive infinity."""
    digits = _DIGITS.match(s).group()
    return int(digits) if digits else math.inf


_ORDER = {
    "i;octet": lambda s: s,
    "i;ascii-casemap": lambda s: s.translate(_UPPER),
    "i;ascii-numeric": _numeric,
}
_RELATION = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}


def _glob(key: str, casemap: bool) -> re.Pattern:
    out, i = [], 0
    while i < len(key):
        c = key[i]
        if c == "\\" and i + 1 < len(key):
            i += 1
            out.append(re.escape(key[i]))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.S | (re.I | re.A if casemap else 0))


def _matcher(match: str, relation: str | None, comparator: str, keys: list[str]):
    """A function of the list of values that says whether the test matches (any value against any key)."""
    norm = _ORDER[comparator]
    if match == ":count":
        rel = _RELATION[relation]
        nkeys = [norm(k) for k in keys]
        return lambda values: any(rel(norm(str(len(values))), k) for k in nkeys)
    if match == ":value":
        rel = _RELATION[relation]
        nkeys = [norm(k) for k in keys]
        return lambda values: any(rel(norm(v), k) for v in values for k in nkeys)
    if match == ":matches":
        pats = [_glob(k, comparator == "i;ascii-casemap") for k in keys]
        return lambda values: any(p.fullmatch(v) for v in values for p in pats)
    if match == ":contains":
        nkeys = [norm(k) for k in keys]
        return lambda values: any(k in norm(v) for v in values for k in nkeys)
    nkeys = [norm(k) for k in keys]  # :is
    return lambda values: any(norm(v) == k for v in values for k in nkeys)


def _part(address: str, part: str) -> str | None:
    if part == ":all":
        return address
    split = split_address(address)
    if split is None:
        return None
    return split[0] if part == ":localpart" else split[1]


def _number(text: str) -> int:
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1].lower(), 1)
    return int(text.rstrip("KMGkmg")) * scale


# --- compilation --------------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, name: str, lines: list[int]):
        self.name = name
        self.lines = iter(lines)  # the line of each command and test, in the order of the tree
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.reads: set[str] = set()  # what the tests look at: header names (lower case), "size", "envelope"

    def at(self, line: int, message: str) -> str:
        return f"{self.name}:{line}: {message}"

    def block(self, cmds) -> list:
        out = []
        for cmd in cmds:
            compiled = self.command(cmd)
            if compiled is not None:
                out.append(compiled)
        return out

    def command(self, cmd):
        line = next(self.lines)
        name = cmd.name
        args = cmd.arguments
        if name == "require":
            return None
        if name in ("if", "elsif"):
            test = self.test(args["test"])
            return (name, test, self.block(cmd.children), line)
        if name == "else":
            return ("else", None, self.block(cmd.children), line)
        if name in ("keep", "discard", "stop"):
            return (name, line)
        if name == "fileinto":
            return ("fileinto", unquote(args["mailbox"]), line)
        if name == "redirect":
            address = unquote(args["address"])
            if split_address(address) is None:
                self.errors.append(self.at(line, f"redirect: invalid address '{address}'"))
            return ("redirect", address, line)
        if name == "vacation":
            return ("vacation", self.vacation(cmd, line), line)
        self.errors.append(self.at(line, f"command '{name}' is not supported by the twin's engine"))
        return None

    def vacation(self, cmd, line: int) -> Vacation:
        extra = cmd.extra_arguments
        days = int(extra.get("days", DEFAULT_DAYS))
        if days < MIN_DAYS:
            self.warnings.append(self.at(line, f"specified :days value '{days}' is under the minimum"))
            days = MIN_DAYS
        reason = unquote(cmd.arguments["reason"])
        subject = unquote(extra["subject"]) if "subject" in extra else None
        sender = unquote(extra["from"]) if "from" in extra else None
        addresses = unquote(extra.get("addresses", []))
        mime = "mime" in cmd.arguments
        handle = (
            unquote(extra["handle"])
            if "handle" in extra
            else reason
            + (subject if subject is not None else "<default-subject>")
            + (sender if sender is not None else "<default-from>")
            + ("<MIME>" if mime else "<NO-MIME>")
        )
        return Vacation(
            reason,
            days * DAY,
            subject,
            sender,
            tuple([addresses] if isinstance(addresses, str) else addresses),
            handle,
            mime,
            line,
        )

    def test(self, cmd):
        line = next(self.lines)
        name, args = cmd.name, cmd.arguments
        if name == "true":
            return lambda m: True
        if name == "false":
            return lambda m: False
        if name == "not":
            inner = self.test(args["test"])
            return lambda m: not inner(m)
        if name in ("allof", "anyof"):
            tests = [self.test(t) for t in args["tests"]]
            if name == "allof":
                return lambda m: all(t(m) for t in tests)
            return lambda m: any(t(m) for t in tests)
        if name == "exists":
            names = _list(args["header-names"])
            self.reads.update(n.lower() for n in names)
            return lambda m: all(m.has(n) for n in names)
        if name == "size":
            self.reads.add(":size")
            limit = _number(args["limit"])
            if args["comparator"] == ":over":
                return lambda m: m.size > limit
            return lambda m: m.size < limit
        if name in ("header", "address", "envelope"):
            return self.compared(cmd, line)
        self.errors.append(self.at(line, f"test '{name}' is not supported by the twin's engine"))
        return lambda m: False

    def compared(self, cmd, line: int):
        args, extra = cmd.arguments, cmd.extra_arguments
        comparator = unquote(extra.get("comparator", '"i;ascii-casemap"'))
        match = args.get("match-type", ":is")
        relation = unquote(extra["match-type"]) if match in (":count", ":value") else None
        keys = _list(args["key-list"])
        matches = _matcher(match, relation, comparator, keys)
        name = cmd.name
        if name == "header":
            names = _list(args["header-names"])
            self.reads.update(n.lower() for n in names)
            return lambda m: matches([v for n in names for v in m.header(n)])
        part = args.get("address-part", ":all")
        names = _list(args["header-list"])
        if name == "address":
            self.reads.update(n.lower() for n in names)

            def address(m: Message) -> bool:
                values = [_part(a, part) for n in names for a in m.addresses(n)]
                return matches([v for v in values if v is not None])

            return address
        lowered = [n.lower() for n in names]
        self.reads.add(":envelope")
        for n in lowered:
            if n not in ENVELOPE_PARTS:
                self.errors.append(self.at(line, f"envelope: part '{n}' is not supported"))

        def envelope(m: Message) -> bool:
            values = []
            for n in lowered:
                value = m.sender if n == "from" else m.recipient
                if value == "":  # the null reverse path is the empty string, whatever the part
                    values.append("")
                elif (got := _part(value, part)) is not None:
                    values.append(got)
            return matches(values)

        return envelope


def _list(value) -> list[str]:
    value = unquote(value)
    return [value] if isinstance(value, str) else value


def _identifier_lines(text: str) -> list[int]:
    """The line of each identifier (command or test name) of the script, in order: the tree's commands
    and tests in pre-order are these, one for one (sievelib keeps no positions)."""
    lexer = SieveParser().lexer
    data = text.encode("utf-8")
    lines, line, last = [], 1, 0
    for kind, _ in lexer.scan(data):  # at each token, lexer.pos is where the token begins
        line += data.count(b"\n", last, lexer.pos)
        last = lexer.pos
        if kind == "identifier":
            lines.append(line)
    return lines


# --- running ------------------------------------------------------------------------------------------


class Script:
    """A compiled script. ``errors`` is empty when it compiled (``ok``); ``warnings`` are kept.

    ``reads`` is everything the script's tests can look at: header field names (lower case), and
    ``":size"`` and ``":envelope"`` when it tests the size or the envelope. Its result depends on the
    message through these alone, so two messages alike in them get the same result (the store caches
    results on this, ``components/filters.py``)."""

    def __init__(
        self, name: str, program: list, errors: list[str], warnings: list[str], reads: frozenset = frozenset()
    ):
        self.name = name
        self.program = program
        self.errors = errors
        self.warnings = warnings
        self.reads = reads

    @property
    def ok(self) -> bool:
        return not self.errors

    def run(self, message: Message) -> Result:
        if self.errors:
            raise CompileError(self.errors)
        state = _State(self.name)
        try:
            self._block(self.program, message, state)
        except _Stop:
            pass
        except RuntimeFailure as failure:
            return Result([], True, [str(failure)])
        return Result(state.actions, state.implicit_keep, [])

    def _block(self, program: list, message: Message, state: _State) -> None:
        taken = False  # whether the current if/elsif chain has run a branch
        for cmd in program:
            kind = cmd[0]
            if kind == "if":
                taken = cmd[1](message)
                if taken:
                    self._block(cmd[2], message, state)
            elif kind == "elsif":
                if not taken and cmd[1](message):
                    taken = True
                    self._block(cmd[2], message, state)
            elif kind == "else":
                if not taken:
                    self._block(cmd[2], message, state)
            else:
                state.act(cmd, message)


class _Stop(Exception):
    pass


class _State:
    def __init__(self, name: str):
        self.name = name
        self.actions: list[tuple] = []
        self.implicit_keep = True
        self.redirects = 0
        self.vacation_line: int | None = None

    def _add(self, action: tuple) -> None:
        if action not in self.actions:
            self.actions.append(action)

    def act(self, cmd: tuple, message: Message) -> None:
        kind, line = cmd[0], cmd[-1]
        if kind == "stop":
            raise _Stop
        if kind == "keep":
            self._add(("store", INBOX))
        elif kind == "fileinto":
            folder = cmd[1]
            self._add(("store", INBOX if folder.upper() == INBOX else folder))
        elif kind == "discard":
            self._add(("discard",))
        elif kind == "redirect":
            if ("redirect", cmd[1]) not in self.actions:
                self.redirects += 1
                if self.redirects > MAX_REDIRECTS:
                    raise RuntimeFailure(
                        f"{self.name}:{line}: number of redirect actions exceeds policy limit "
                        f"({self.redirects} > {MAX_REDIRECTS})"
                    )
            self._add(("redirect", cmd[1]))
        elif kind == "vacation":
            if self.vacation_line is not None:
                raise RuntimeFailure(
                    f"{self.name}:{line}: duplicate vacation action not allowed "
                    f"(previously triggered one was here: {self.name}:{self.vacation_line})"
                )
            self.vacation_line = line
            self.actions.append(("vacation", cmd[1]))
            return  # vacation keeps the implicit keep (RFC 5230 §4.7)
        self.implicit_keep = False


def compile_script(text: str, name: str = "script") -> Script:
    """Compile ``text``; a script that does not compile gives a ``Script`` with ``errors`` (never raises)."""
    parser = SieveParser()
    if not parser.parse(text):
        line = parser.error_pos[0]
        message = parser.error.split(": ", 1)[1] if parser.error.startswith("line ") else parser.error
        return Script(name, [], [f"{name}:{line}: {message}"], [])
    compiler = _Compiler(name, _identifier_lines(text))
    program = compiler.block(parser.result)
    return Script(name, program, compiler.errors, compiler.warnings, frozenset(compiler.reads))
