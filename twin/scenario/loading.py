"""Reading scenario files: YAML with line numbers, the shipped catalogue, ``--set`` overrides, and errors
that name file, line, field path and what is wrong.
"""

from __future__ import annotations

import copy
import io
import os
import re
import stat
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from twin.scenario.references import check_references
from twin.scenario.schema import FieldError, Scenario
from twin.units import LongNumber

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot be run; ``problems`` has one entry per thing that is wrong."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: pydantic parses dates, with time zones intact."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _int(loader: _Loader, node: yaml.ScalarNode) -> int | LongNumber:
    """An integer; one longer than Python converts (4300 digits) stays text, for a clear message."""
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        return LongNumber(node.value)


_Loader.add_constructor("tag:yaml.org,2002:int", _int)


# What a scenario file may be: a text file of at most this many bytes (the baseline has 14 KB), nested at
# most this deep, expanding (through YAML aliases) to at most this many values.
MAX_FILE_BYTES = 10_000_000
MAX_DEPTH = 100
MAX_VALUES = 1_000_000
# Plain YAML: no tags that build Python objects, sets or binary data.
PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parse_yaml(text: str, filename: str) -> tuple[Any, dict[Loc, int], list[Problem]]:
    """Data, the line of every key and list item, and problems (duplicate keys), in one parse. A node
    reached again through an alias is not walked again (its values are counted, not its lines): a file
    of aliases that expand exponentially is refused, not expanded."""

    def fail(line: int | None, message: str) -> ScenarioError:
        return ScenarioError([Problem(filename, line, "", message)])

    try:
        loader = _Loader(io.StringIO(text))
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        if "another document" in what:
            what = "a scenario is one YAML document; this file has a second one (---)"
        raise fail(line, f"YAML syntax error: {_one_line(what)}") from None
    except RecursionError:
        raise fail(None, f"nested more than {MAX_DEPTH} levels deep") from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    values: dict[int, int] = {}  # id(node) -> how many values it expands to

    def walk(node: yaml.Node, loc: Loc, depth: int) -> int:
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise fail(line, f"nested more than {MAX_DEPTH} levels deep")
        if node.tag not in PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise fail(line, f"YAML tag {tag!r} is not allowed (plain YAML only)")
        known = values.get(id(node))
        if known is not None:  # reached again through an alias
            return known
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key_node.tag == "tag:yaml.org,2002:merge":
                    total += walk(value_node, loc, depth + 1)
                    continue
                if key_node.tag != "tag:yaml.org,2002:str":
                    shown = repr(key) if isinstance(key_node, yaml.ScalarNode) else "a list or mapping"
                    raise fail(key_node.start_mark.line + 1, f"a key must be a name, not {shown}")
                if key in seen:
                    problems.append(
                        Problem(filename, key_node.start_mark.line + 1, _dotted((*loc, key)), "duplicate key")
                    )
                seen.add(key)
                lines.setdefault((*loc, key), key_node.start_mark.line + 1)
                total += walk(value_node, (*loc, key), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault((*loc, i), item.start_mark.line + 1)
                total += walk(item, (*loc, i), depth + 1)
        if total > MAX_VALUES:
            raise fail(line, f"expands to more than {MAX_VALUES:,} values (YAML aliases)")
        values[id(node)] = total
        return total

    if root is None:
        return None, lines, problems
    lines[()] = root.start_mark.line + 1
    walk(root, (), 0)
    try:
        data = loader.construct_document(root)
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise fail(line, f"YAML error: {_one_line(what)}") from None
    finally:
        loader.dispose()
    return data, lines, problems


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shipped_catalogue() -> dict[str, Any]:
    text = resources.files("twin.scenario").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=_Loader)


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override, validate. Raises ScenarioError listing every problem found. ``path`` may also name
    a scenario shipped with mailtwin (``baseline``), as long as no file of that name is here."""
    found = locate(path)
    return parse_scenario(read_scenario_text(found), str(path), overrides, folder=found.parent)


SHIPPED = Path(str(resources.files("twin").joinpath("scenarios")))  # the shipped scenarios' folder


def shipped_scenarios() -> dict[str, Path]:
    """The scenarios that come with mailtwin (the repository's scenarios/ folder), by name."""
    folder = SHIPPED
    return {
        p.name.removesuffix(".yaml"): Path(str(p))
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".yaml")
    }


def locate(path: str | Path) -> Path:
    """``path`` if it exists; else the shipped scenario it names (``baseline``, ``baseline.yaml``)."""
    p = Path(path)
    if p.exists() or len(p.parts) != 1:
        return p
    return shipped_scenarios().get(p.name.removesuffix(".yaml"), p)


def read_scenario_text(path: str | Path, shipped_hint: bool = True) -> str:
    """The text of a scenario file (or a file it names); ScenarioError (one line) for anything that is not
    a UTF-8 text file of sensible size: a folder, a FIFO or device, a binary, Latin-1 or UTF-16 file, a file
    of 50 MB. ``shipped_hint``: a name that is not a file lists the shipped scenarios."""
    name = str(path)

    def fail(message: str, line: int | None = None) -> ScenarioError:
        return ScenarioError([Problem(name, line, "", message)])

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise fail("not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise fail(
                f"{st.st_size:,} bytes: larger than {MAX_FILE_BYTES:,} bytes, more than any scenario needs"
            )
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        shipped = ", ".join(shipped_scenarios()) if shipped_hint and len(Path(path).parts) == 1 else ""
        also = f" (nor is it a shipped scenario: {shipped})" if shipped else ""
        raise fail(f"cannot read file: {exc.strerror or exc}{also}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("not UTF-8 text (UTF-16); save the file as UTF-8")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise fail(f"not a text file (a NUL byte at line {line})", line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise fail(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, column {column}); "
            "save the file as UTF-8",
            line,
        ) from None


def _overrides(overrides: Any) -> tuple[str, ...]:
    """``--set`` items as given to the API: a list or tuple of strings (a lone string is one item)."""
    if isinstance(overrides, str):
        return (overrides,)
    if not isinstance(overrides, list | tuple) or not all(isinstance(o, str) for o in overrides):
        raise ScenarioError(
            [Problem("overrides", None, "", "expected a list of 'dotted.path=value' strings")]
        )
    return tuple(overrides)


def parse_scenario(
    text: str,
    filename: str = "<scenario>",
    overrides: list[str] | tuple[str, ...] = (),
    folder: Path | None = None,
) -> Scenario:
    """Validate scenario YAML text; ``filename`` is what error messages call it, ``folder`` where the
    files it names are (default: the folder of ``filename``)."""
    if not isinstance(text, str):
        raise ScenarioError([Problem(filename, None, "", "expected the scenario as text (str)")])
    data, lines = _read_extended(text, filename, ())
    return _validate(data, lines, filename, overrides, folder)


MAX_EXTENDS = 8  # a chain of scenarios extending each other longer than this is a mistake


def _read_extended(text: str, filename: str, chain: tuple[str, ...]) -> tuple[Any, dict[Loc, Any]]:
    """The data of a scenario and the line of each key; a file with ``extends: OTHER`` (a path relative to
    it, or a shipped scenario's name) is OTHER with this file's sections merged over it: mappings key by
    key, anything else (a list, a value) replaced whole. Lines of what comes from OTHER name its file."""
    data, lines, problems = _parse_yaml(text, filename)
    if problems:
        raise ScenarioError(problems)
    if not isinstance(data, dict) or "extends" not in data:
        return data, lines
    line = lines.get(("extends",))
    base = data.pop("extends")
    if not isinstance(base, str) or not base.strip():
        raise ScenarioError([Problem(filename, line, "extends", "expected the path of a scenario file")])
    near = Path(filename).parent / base
    path = near if near.exists() else locate(base)
    key = str(Path(path).resolve()) if Path(path).exists() else str(path)
    if key in chain or len(chain) >= MAX_EXTENDS:
        why = "extends itself: " + " -> ".join((*chain, key)) if key in chain else "too many levels"
        raise ScenarioError([Problem(filename, line, "extends", why)])
    try:
        base_text = read_scenario_text(path)
    except ScenarioError as exc:
        raise ScenarioError(
            [Problem(filename, line, "extends", f"{path}: {exc.problems[0].message}")]
        ) from None
    base_data, base_lines = _read_extended(base_text, str(path), (*chain, key))
    if not isinstance(base_data, dict):
        raise ScenarioError([Problem(filename, line, "extends", f"{path} is not a mapping of sections")])
    merged_lines: dict[Loc, Any] = {
        loc: v if isinstance(v, tuple) else (str(path), v) for loc, v in base_lines.items()
    }
    for loc in list(merged_lines):
        if _replaced(data, loc):
            del merged_lines[loc]
    merged_lines.update(lines)
    return _merge(base_data, data), merged_lines


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


def _replaced(over: dict, loc: Loc) -> bool:
    """Whether ``over`` replaces what lies at ``loc`` (it gives a non-mapping at ``loc`` or above it)."""
    node: Any = over
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return not isinstance(node, dict)
        node = node[part]
    return not isinstance(node, dict)


def revalidate(scenario: Scenario) -> Scenario:
    """``scenario`` checked again as a run will use it: one changed after validation (``sc.clock.horizon =
    -5``) raises ScenarioError like a file would. Returns the checked copy."""
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            [
                Problem(
                    "scenario",
                    None,
                    "",
                    "expected a Scenario (from load_scenario or scenario_from_dict), got "
                    + type(scenario).__name__,
                )
            ]
        )
    return scenario_from_dict(_fields(scenario), name=f"scenario {scenario.meta.name!r}")


def _fields(value: Any) -> Any:
    """A model's field values as plain data (by alias), without the serializers' formatting."""
    if isinstance(value, BaseModel):
        return {f.alias or k: _fields(getattr(value, k)) for k, f in type(value).model_fields.items()}
    if isinstance(value, dict):
        return {k: _fields(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fields(v) for v in value]
    return value


def scenario_from_dict(
    data: dict, overrides: list[str] | tuple[str, ...] = (), name: str = "<dict>"
) -> Scenario:
    """Validate a scenario given as Python data (notebooks, tests, sweeps), exactly as a file would be."""
    return _validate(data, {}, name, overrides)


def _validate(
    data: Any, lines: dict[Loc, Any], filename: str, overrides, folder: Path | None = None
) -> Scenario:
    overrides = _overrides(overrides)
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem(filename, lines.get(()), "", "a scenario file must be a mapping of sections")]
        )
    data = copy.deepcopy(data)
    hw = data.get("hardware", {})
    if isinstance(hw, dict) and isinstance(hw.get("models", {}), dict):
        data["hardware"] = {**hw, "models": {**shipped_catalogue(), **hw.get("models", {})}}
    set_paths: dict[Loc, str] = {}
    for item in overrides:
        loc = apply_override(data, item)
        set_paths[loc] = item

    def problem(loc: Loc, message: str) -> Problem:
        shown = _data_loc(data, loc)
        for set_loc, item in set_paths.items():
            n = min(len(set_loc), len(shown))
            if shown[:n] == set_loc[:n]:
                return Problem(_set_name(item), None, _dotted(shown), message)
        line, where = None, filename
        for k in range(len(shown), -1, -1):
            if shown[:k] in lines:
                line = lines[shown[:k]]
                break
        if isinstance(line, tuple):  # from the scenario this one extends
            where, line = line
        return Problem(where, line, _dotted(shown), message)

    read = _read_sieve_files(data, lines, folder or Path(filename).parent, set_paths)
    if read:
        raise ScenarioError([problem(loc, msg) for loc, msg in read])
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        found = []
        for e in exc.errors():
            cause = (e.get("ctx") or {}).get("error")
            if isinstance(cause, FieldError):  # a check of several fields, at the field at fault
                field = cause.field if isinstance(cause.field, tuple) else (cause.field,)
                e = {**e, "loc": (*e["loc"], *field)}
            written = _lookup(data, _data_loc(data, tuple(e["loc"])))
            if written is not _MISSING and not isinstance(written, dict | list):
                e = {**e, "input": written}  # quote what the file says (-1h), not the parsed -3600.0
            found.append(problem(tuple(e["loc"]), _message(e)))
        raise ScenarioError(list(dict.fromkeys(found))) from None
    refs = check_references(sc)
    if refs:
        raise ScenarioError(list(dict.fromkeys(problem(loc, msg) for loc, msg in refs)))
    return sc


_MISSING = object()
SIEVE_SCRIPTS = ("workload", "mailboxes", "sieve", "scripts")


def _read_sieve_files(data: dict, lines: dict[Loc, Any], folder: Path, set_paths) -> list[tuple[Loc, str]]:
    """Read each Sieve script template's ``file`` into its ``text`` (unless the text is given): the path is
    relative to the scenario file that names it (``folder``, the folder of the base of an ``extends``, or
    the working directory for a ``--set`` or a scenario given as data); a path found nowhere there but in
    the shipped scenarios' folder is taken from there, so a copy of the baseline runs anywhere. Returns the
    files that cannot be read, as problems."""
    scripts = _lookup(data, SIEVE_SCRIPTS)
    if not isinstance(scripts, list):
        return []
    problems = []
    for i, item in enumerate(scripts):
        if not isinstance(item, dict) or item.get("text") or not isinstance(item.get("file"), str):
            continue
        loc = (*SIEVE_SCRIPTS, i, "file")
        at = lines.get(loc)
        from_set = any(loc[: len(s)] == s[: len(loc)] for s in set_paths)
        if from_set or not lines:
            base = Path.cwd()
        else:  # the file of an ``extends`` base, or this one
            base = Path(at[0]).parent if isinstance(at, tuple) else folder
        path = base / item["file"]
        shipped = SHIPPED / item["file"]
        if not path.exists() and shipped.exists():  # a copy of a shipped scenario uses the shipped scripts
            path = shipped
        try:
            item["text"] = read_scenario_text(path, shipped_hint=False)
        except ScenarioError as exc:
            problems.append((loc, f"the Sieve script {str(path)!r}: {exc.problems[0].message}"))
    return problems


def _lookup(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _set_name(item: str) -> str:
    """How messages name a ``--set`` argument: as given, shortened if it is very long."""
    return f"--set {item if len(item) <= 100 else item[:80] + '...'}"


def apply_override(data: dict, item: str) -> Loc:
    """Set one ``dotted.path=value`` in raw scenario data; the value is read as YAML (``3``, ``2h``).
    ``dotted.path+=value`` appends the value to the list there (``expect+=recipients.lost == 0``)."""
    if "=" not in item:
        raise ScenarioError([Problem(_set_name(item), None, "", "expected dotted.path=value")])
    key, _, raw_value = item.partition("=")
    append = key.endswith("+")
    key = key.removesuffix("+")
    if not key.strip() or ".." in key or key.strip().startswith(".") or key.strip().endswith("."):
        raise ScenarioError([Problem(_set_name(item), None, "", "empty field name in path")])
    try:
        value, _, _ = _parse_yaml(raw_value, _set_name(item))
    except ScenarioError as exc:
        if not exc.problems[0].message.startswith(("YAML syntax error", "YAML error", "YAML tag")):
            raise  # too deep, or too many values
        value = raw_value  # not YAML: the text as it stands (the field's check will say what it expects)
    loc: list[str | int] = []
    node: Any = data
    rest = key.strip()
    while rest:
        if isinstance(node, list):
            m = re.match(r"^\[?(\d+)\]?\.?", rest)
            if not m or int(m[1]) >= len(node):
                raise ScenarioError(
                    [Problem(_set_name(item), None, _dotted(tuple(loc)), "no such list item")]
                )
            part: str | int = int(m[1])
            rest = rest[m.end() :]
        else:
            # Keys may contain dots (hardware model names): prefer the longest existing key that fits.
            existing = [
                k
                for k in node
                if isinstance(k, str) and (rest == k or rest.startswith(k + ".") or rest.startswith(k + "["))
            ]
            part = max(existing, key=len) if existing else re.split(r"[.\[]", rest, maxsplit=1)[0]
            rest = rest[len(part) :].lstrip(".")
            if not part:
                raise ScenarioError([Problem(_set_name(item), None, "", "empty field name in path")])
        loc.append(part)
        if not rest and append:
            target = node.setdefault(part, []) if isinstance(node, dict) else node[part]
            if not isinstance(target, list):
                raise ScenarioError([Problem(_set_name(item), None, _dotted(tuple(loc)), "+= needs a list")])
            target.append(value)
            loc.append(len(target) - 1)
        elif not rest:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict | list):
                raise ScenarioError(
                    [Problem(_set_name(item), None, _dotted(tuple(loc)), "is a value, not a section")]
                )
    return tuple(loc)


def _data_loc(data: Any, loc: Loc) -> Loc:
    """The error location as it stands in the file: drops union tags and validator names pydantic adds."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
            out.append(part)
        elif (
            last
            and isinstance(part, str)
            and not part.startswith(("function-", "union["))
            and not (isinstance(node, dict) and part in (node.get("dist"), node.get("kind")))  # a union tag
        ):
            out.append(part)
    return tuple(out)


def _got(value: Any) -> str:
    if isinstance(value, dict | list):
        return ""
    return f" (got {value!r})"


def _message(err: dict) -> str:
    kind, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(tuple(err["loc"][:-1]))
        return "unknown field" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "").replace("'", "")
        field = ctx.get("discriminator", "").strip("'")
        return f"unknown {field} {ctx.get('tag')!r} (expected one of: {tags})"
    if kind == "union_tag_not_found":
        return f"missing {ctx.get('discriminator', '').strip(chr(39))!r}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number" + _got(value)
    if kind == "finite_number":
        return "must be a finite number" + _got(value)
    if kind in ("float_parsing", "float_type"):
        return "expected a number" + _got(value)
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false" + _got(value)
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping" + _got(value)
    if kind in ("list_type", "tuple_type"):
        return "expected a list" + _got(value)
    if kind == "string_type":
        return "expected text" + _got(value)
    if kind == "literal_error":
        return f"expected {ctx.get('expected', '')}".replace("'", "") + _got(value)
    if kind.startswith("datetime"):
        return "expected a date-time such as 2010-05-03 00:00 or 2010-05-03T00:00:00+02:00" + _got(value)
    if kind == "value_error":
        return str(ctx.get("error", msg)).removeprefix("Value error, ")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return msg.replace("Input should be", "must be") + _got(value)
    if kind in ("too_short", "too_long") and "actual_length" in ctx:
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        what = "at least" if kind == "too_short" else "at most"
        return f"must have {what} {bound} {'entry' if bound == 1 else 'entries'} (got {ctx['actual_length']})"
    if kind in ("too_short", "too_long", "string_too_short"):
        return msg.replace("should have", "must have").replace("String should", "must") + _got(value)
    return msg.replace("Input should be", "expected") + _got(value)


def _allowed_fields(loc: Loc) -> list[str]:
    """Field names of the model at ``loc`` (for "unknown field" messages)."""
    tp: Any = Scenario
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp, None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any, tag: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            match = [a for a in options if _tag_of(a) == tag]
            tp = match[0] if match else options[0]
        else:
            return tp


def _tag_of(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel) and "dist" in tp.model_fields:
        return typing.get_args(tp.model_fields["dist"].annotation)[0]
    return None


def _step(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp, part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if _tag_of(tp) == part:
            return tp
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


def dump_resolved(sc: Scenario, source: str = "") -> str:
    """The scenario with every default filled in, as YAML that loads back to the same scenario."""
    data = sc.model_dump(mode="json", by_alias=True)
    head = "# Resolved scenario written by mailtwin: every default filled in; runs as it stands.\n"
    if source:
        head += f"# Source: {source}\n"
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
