"""The JSON Schema that `mailtwin schema` prints for editors accepts what the loader accepts: every scenario
in the repository (files and the docs' examples) passes it, and its unit patterns refuse what the loader
refuses."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.helpers import ROOT
from tests.test_docs import SCENARIOS
from twin.cli import main
from twin.scenario.loading import _Loader


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "scenario.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


FILES = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "tests" / "data").glob("*.yaml"))
TEXTS = [(p.name, p.read_text()) for p in FILES] + [(f"{d}:{n}", t) for d, n, t in SCENARIOS]


@pytest.mark.parametrize(("name", "text"), TEXTS, ids=[n for n, _ in TEXTS])
def test_every_scenario_of_the_repository_passes_the_schema(validator, name, text):
    data = yaml.load(text, Loader=_Loader)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("clock", "horizon"), "2 hours"),
        (("clock", "start"), "yesterday"),
        (("workload", "inbound", "volume"), "1.4M"),
        (("workload", "mailboxes", "quota"), "500 elephants"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(validator, path, value):
    data = yaml.load((ROOT / "scenarios" / "baseline.yaml").read_text(), Loader=_Loader)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert not validator.is_valid(data)
