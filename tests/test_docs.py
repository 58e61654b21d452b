"""Examples in the README and docs/ are executed, so they cannot rot (the Ciw habit)."""

from __future__ import annotations

import re

import pytest

import twin
from tests.helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(lang: str) -> list[tuple[str, int, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for m in re.finditer(rf"```{lang}\n(.*?)```", text, re.S):
            found.append((doc.name, text[: m.start()].count("\n") + 1, m.group(1)))
    return found


SCENARIOS = [b for b in blocks("yaml") if b[2].lstrip().startswith("meta:")]
PYTHON = blocks("python")
CONSOLE = blocks("console")


def test_the_docs_have_examples():
    assert SCENARIOS and PYTHON


@pytest.mark.parametrize(("doc", "line", "text"), SCENARIOS, ids=[f"{d}:{n}" for d, n, _ in SCENARIOS])
def test_scenario_examples_validate_and_run(doc, line, text):
    sc = twin.parse_scenario(text, f"{doc}:{line}", ["clock.horizon=10m"])
    res = twin.simulate(sc, seed=1)
    assert res.kpis["conservation_ok"] and res.kpis["recipients"]["offered"] > 0


@pytest.mark.parametrize(("doc", "line", "code"), PYTHON, ids=[f"{d}:{n}" for d, n, _ in PYTHON])
def test_python_examples_run(doc, line, code, tmp_path, monkeypatch):
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{doc}:{line}", "exec"), {"__name__": "__doc_example__"})


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first = readme.split("\n## ")[1]
    assert first.startswith("On a fresh machine")
    commands = re.findall(r"^make \w+", first, re.M)
    assert commands == ["make run", "make test"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^test:.*\n(\t.*\n)*\t.*pytest", (ROOT / "Makefile").read_text(), re.M)


def test_every_doc_link_points_to_a_file():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


@pytest.mark.parametrize(("doc", "line", "text"), CONSOLE, ids=[f"{d}:{n}" for d, n, _ in CONSOLE])
def test_console_transcripts_print_what_the_docs_show(doc, line, text, capsys):
    import shlex

    from twin.cli import main

    command, *expected = text.rstrip("\n").split("\n")
    assert command.startswith("$ mailtwin ")
    assert main(shlex.split(command[len("$ mailtwin ") :])) == 0
    assert capsys.readouterr().out.rstrip("\n").split("\n") == expected


def _project_texts():
    for folder in ("twin", "tests", "docs", "scenarios", "notebooks", "bench"):
        for p in sorted((ROOT / folder).rglob("*")):
            if (
                p.is_file()
                and p.suffix in (".py", ".md", ".yaml", ".ipynb", ".j2")
                and "__pycache__" not in p.parts
            ):
                yield p, p.read_text(encoding="utf-8")
    yield ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_project_stands_alone():
    # what it cites lives in its own docs/, never in a folder beside the repository
    outside = ("PLATFORM" + ".md", "DESIGN" + ".md", "../" + "shared")
    cited = [
        f"{p.relative_to(ROOT)}: {word}" for p, text in _project_texts() for word in outside if word in text
    ]
    assert cited == []


def test_every_cited_section_of_platform_md_exists():
    headings = set(re.findall(r"^#+ §([0-9A-Z.]+) ", (ROOT / "docs" / "platform.md").read_text(), re.M))
    cited = set()
    for _, text in _project_texts():
        for m in re.finditer(r"platform\.md\)? (§[0-9A-Z.]+(?:, §[0-9A-Z.]+)*)", text):
            cited |= {s.strip("§.,") for s in m.group(1).replace("§", " §").split() if s.startswith("§")}
    assert cited and cited <= headings, cited - headings


SECTIONS = [b for b in blocks("yaml") if not b[2].lstrip().startswith(("meta:", "#"))]


@pytest.mark.parametrize(("doc", "line", "text"), SECTIONS, ids=[f"{d}:{n}" for d, n, _ in SECTIONS])
def test_section_examples_validate_in_the_baseline(doc, line, text, monkeypatch):
    # a block that shows one section (e.g. faults: in scenarios.md, with until: 1d2h) must be accepted as is;
    # the baseline given as data finds its Sieve scripts relative to the working directory
    import yaml

    monkeypatch.chdir(ROOT / "scenarios")

    from twin.scenario.loading import _Loader

    data = yaml.load((ROOT / "scenarios" / "baseline.yaml").read_text(), Loader=_Loader)
    data.update(yaml.load(text, Loader=_Loader))
    assert twin.scenario_from_dict(data, ["clock.horizon=2d"], name=f"{doc}:{line}")


def test_the_mailtwin_command_is_installed_beside_python():
    # after `make run` the README's commands work once .venv/bin is on PATH (`. .venv/bin/activate`)
    import subprocess
    import sys
    from pathlib import Path

    command = Path(sys.executable).parent / "mailtwin"
    assert ". .venv/bin/activate" in (ROOT / "README.md").read_text()
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("mailtwin ")
