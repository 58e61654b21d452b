"""Dependencies between the packages of ``twin/`` run one way (docs/architecture.md): a package imports
only the packages below it, never one above. Imports under ``if TYPE_CHECKING:`` are type hints, not
dependencies, and are not counted; imports inside functions are."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

TWIN = ROOT / "twin"

# Package (or top-level module) -> what it may import. Read bottom-up: the kernel and the domain logic
# first, then the components and the workload, the model that assembles them, and what uses runs.
ALLOWED = {
    "units": set(),
    "io": set(),
    "exim": {"units"},
    "sieve": set(),  # Sieve scripts and what a mailbox does with their result: pure logic
    "scenario": {"units", "exim"},  # the scenario checks retry rules with Exim's own parser
    "topology": {"scenario", "io", "units"},
    "sim": {"scenario", "exim", "units"},  # the senders' retries are written in Exim's rule syntax
    "components": {"sim", "exim", "sieve", "scenario", "units"},
    "workload": {"sim", "exim", "scenario", "units"},
    "model": {"components", "workload", "sim", "topology", "scenario"},
    "analysis": {"components", "sim", "scenario"},
    "report": {"io", "topology"},
    "parquet": {"io", "scenario", "sim"},
    "results": {"analysis", "report", "io", "scenario", "sim", "parquet"},
    "__init__": {"model", "analysis", "results", "scenario", "parquet"},  # twin.simulate, the notebook API
    "experiments": {
        "__init__",
        "analysis",
        "scenario",
        "topology",
        "units",
        "io",
        "results",
    },  # spof: the graph; replicate: statistics; store: atomic files, run.json's facts
    "cli": {"__init__", "exim", "io", "scenario", "sieve", "sim", "topology", "units", "experiments"},
    "__main__": {"cli"},
}


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []  # type hints only
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def package_imports() -> list[tuple[str, str, str]]:
    """(importing package, imported package, file:line) for every import between packages of twin."""
    found = []
    for path in sorted(TWIN.rglob("*.py")):
        rel = path.relative_to(TWIN).parts
        src = rel[0] if len(rel) > 1 else rel[0][:-3]
        for module, line in _imports(ast.parse(path.read_text())):
            parts = module.split(".")
            if parts[0] != "twin":
                continue
            dst = parts[1] if len(parts) > 1 else "__init__"
            if dst != src:
                found.append((src, dst, f"{path.relative_to(ROOT)}:{line}"))
    return found


def test_every_package_has_its_place_in_the_layers():
    # data folders (twin/scenarios: the shipped scenario files) hold no code and have no place
    packages = {p.stem for p in TWIN.iterdir() if (p.is_dir() and any(p.glob("*.py"))) or p.suffix == ".py"}
    assert packages <= set(ALLOWED), f"not placed in the layers: {sorted(packages - set(ALLOWED))}"


def test_no_package_imports_one_above_it():
    against = [
        f"{where}: {src} imports {dst}" for src, dst, where in package_imports() if dst not in ALLOWED[src]
    ]
    assert not against, "\n".join(against)


def test_the_layers_have_no_cycle():
    # The allowed map itself must be a one-way order, or the test above would allow a circle.
    seen: dict[str, int] = {}

    def depth(p: str, path: tuple[str, ...] = ()) -> int:
        assert p not in path, f"cycle: {' -> '.join((*path, p))}"
        if p not in seen:
            seen[p] = 1 + max((depth(q, (*path, p)) for q in ALLOWED[p]), default=0)
        return seen[p]

    for p in ALLOWED:
        depth(p)
