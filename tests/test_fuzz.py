"""Hypothesis mutates valid scenarios (a value's type, NaN and infinity, huge and negative numbers, unknown
names, the YAML text itself): every mutant is refused with exit 2 and one line per problem naming the file
(nothing written), or it validates and then runs; never a traceback, a hang or another exit code."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers import BASELINE
from twin.cli import main
from twin.scenario.loading import _Loader

RAW = yaml.load(BASELINE.read_text(), Loader=_Loader)


class Digits(str):
    """An integer of more digits than Python converts to text (written as a plain YAML integer)."""


class Dumper(yaml.SafeDumper):
    pass


Dumper.add_representer(Digits, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", str.__str__(v)))
TEXT = BASELINE.read_text()


def leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    yield path


PATHS = [p for p in leaves(RAW) if p]
VALUES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 10**30, 1e308, -1e-300, True, None]),
    st.just(Digits("1" + "0" * 5000)),
    st.sampled_from(["", "x", "1e400s", "-2h", "nowhere", "9" * 400, "1d2h", "0/s", "[", "*a", "!!binary x"]),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def check(path: Path, tmp: Path, capsys) -> None:
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert lines and all(line.startswith(str(path)) for line in lines), err
        return
    assert code == 0, err
    out = tmp / "out"
    code = main(["run", str(path), "--set", "clock.horizon=1m", "--set", "clock.drain=0s", "--out", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 2), err  # 2: the short horizon itself may not fit (a warm-up longer than it)
    assert "Traceback" not in err and (code == 0) == out.is_dir()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(PATHS), value=VALUES, extra=st.booleans())
# found by this test: a run that delivers nothing (no latency plot) broke the report
@example(where=("platform", "frontend", "disk", "demand", "mean"), value=10**30, extra=False)
# and a time zone of 5,000 digits, whose look-up failed with OSError (file name too long): an internal error
@example(where=("clock", "timezone"), value=Digits("1" + "0" * 5000), extra=False)
def test_a_mutated_value_is_refused_cleanly_or_runs(where, value, extra, tmp_path_factory, capsys):
    data = copy.deepcopy(RAW)
    node = data
    for part in where[:-1]:
        node = node[part]
    if extra and isinstance(node, dict):
        node[f"{where[-1]}_typo"] = value  # an unknown name beside the real one
    else:
        node[where[-1]] = value
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "mutant.yaml"
    path.write_text(yaml.dump(data, Dumper=Dumper, allow_unicode=True))
    check(path, tmp, capsys)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, len(TEXT)),
    length=st.integers(0, 200),
    insert=st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`, \n\t\x00\x01é9.")), max_size=12),
)
def test_a_mangled_file_is_refused_cleanly_or_runs(cut, length, insert, tmp_path_factory, capsys):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "mangled.yaml"
    path.write_bytes((TEXT[:cut] + insert + TEXT[cut + length :]).encode("utf-8", "surrogatepass"))
    check(path, tmp, capsys)
