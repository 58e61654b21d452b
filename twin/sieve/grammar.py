"""Parsing a Sieve script with ``sievelib``, and what this module adds where sievelib falls short.

sievelib (1.6) parses RFC 5228's grammar into a tree of commands and checks most arguments. The twin
needs four things it does not do; each is added here, through sievelib's own extension point
(``sievelib.commands.add_commands``, which replaces a command class by name), not by editing it:

1. ``:comparator "i;ascii-numeric"`` (RFC 4790, named by RFC 5231 for numeric relational tests) is refused
   as a bad value: ``header``, ``address`` and ``envelope`` get a comparator argument that accepts it, and
   it must be required (``comparator-i;ascii-numeric``), with ``:is`` or a relational match, as RFC 5228
   §2.7.3 and RFC 4790 §9.1 say (the numeric comparator has no substring operation).
2. ``require`` of an unknown capability is accepted: here it is an error, as in Pigeonhole.
3. A script whose last command lacks its ``;`` is accepted: here it is an error.
4. Quoted strings come back with their quotes and escapes, multi-line strings (``text:``) with their
   framing and dot-stuffing: ``unquote`` turns both into their values.

Registering the replacement classes changes sievelib's command table for the whole process; a program that
used sievelib beside the twin would get the same (stricter) checks.
"""

from __future__ import annotations

import re

from sievelib import commands as sc
from sievelib.parser import Parser

# The capabilities the twin's engine implements (RFC 5228 base, envelope and fileinto; RFC 5230 vacation;
# RFC 5231 relational; RFC 4790 comparators). A script may require only these.
CAPABILITIES = (
    "envelope",
    "fileinto",
    "vacation",
    "relational",
    "comparator-i;ascii-numeric",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
)
COMPARATORS = ("i;octet", "i;ascii-casemap", "i;ascii-numeric")


class GrammarError(sc.CommandError):
    """A check this module adds; sievelib's parser reports it with the line it was reading."""

    def __init__(self, message: str):
        self.message = message

    def __str__(self) -> str:
        return self.message


_COMPARATOR = {
    **sc.comparator,
    "extra_arg": {"type": "string", "values": [f'"{c}"' for c in COMPARATORS]},
}


def _with_comparator(definitions: list) -> list:
    return [_COMPARATOR if d.get("name") == "comparator" else d for d in definitions]


class _ComparedTest:
    """Checks of the comparator as the arguments arrive (sievelib's parser calls ``check_next_arg``)."""

    def check_next_arg(self, atype, avalue, add=True, check_extension=True):
        ok = super().check_next_arg(atype, avalue, add, check_extension)
        comparator = self.extra_arguments.get("comparator")
        if ok and add and comparator == '"i;ascii-numeric"':
            if "comparator-i;ascii-numeric" not in sc.parser_state.loaded_extensions:
                raise GrammarError(
                    "comparator 'i;ascii-numeric' used without require \"comparator-i;ascii-numeric\""
                )
            if self.arguments.get("match-type") in (":contains", ":matches"):
                raise GrammarError(
                    f"comparator 'i;ascii-numeric' does not support {self.arguments['match-type']} matching"
                )
        return ok


class HeaderCommand(_ComparedTest, sc.HeaderCommand):
    args_definition = _with_comparator(sc.HeaderCommand.args_definition)


class AddressCommand(_ComparedTest, sc.AddressCommand):
    args_definition = _with_comparator(sc.AddressCommand.args_definition)


class EnvelopeCommand(_ComparedTest, sc.EnvelopeCommand):
    args_definition = _with_comparator(sc.EnvelopeCommand.args_definition)


class RequireCommand(sc.RequireCommand):
    def complete_cb(self):
        wanted = unquote(self.arguments["capabilities"])
        for cap in [wanted] if isinstance(wanted, str) else wanted:
            if cap not in CAPABILITIES:
                raise GrammarError(f"require: unknown Sieve capability '{cap}'")
        super().complete_cb()


sc.add_commands([HeaderCommand, AddressCommand, EnvelopeCommand, RequireCommand])


class SieveParser(Parser):
    """sievelib's parser, which also refuses a script that ends inside a command."""

    def parse(self, text) -> bool:
        if not super().parse(text):
            return False
        if self._Parser__cstate is not None:  # a command began but its ';' never came
            self.error_pos = (self.lexer.curlineno(), self.lexer.curcolno(), 0)
            self.error = f"line {self.error_pos[0]}: end of script reached while ';' expected"
            return False
        return True


_TEXT = re.compile(r"\Atext:[ \t]*(?:#[^\n]*)?\r?\n(.*?)^\.\r?\n?\Z", re.S | re.M)
_ESCAPE = re.compile(r"\\(.)", re.S)


def unquote(value):
    """The value of a string argument as sievelib returns it: a quoted string (escapes removed), a
    multi-line ``text:`` string (framing removed, RFC 5228 §2.4.2 dot-stuffing undone), or a list."""
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        return _ESCAPE.sub(r"\1", value[1:-1])
    m = _TEXT.match(value)
    if m:
        body = m.group(1)
        return re.sub(r"^\.\.", ".", body, flags=re.M)
    return value
