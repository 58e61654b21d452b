"""The quickstart notebook runs from top to bottom with the current code (so it can never rot)."""

from __future__ import annotations

import json
import os

import matplotlib
import pandas as pd

from tests.helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "01-quickstart.ipynb"


def test_the_quickstart_notebook_runs_and_compares_two_runs():
    matplotlib.use("Agg")
    nb = json.loads(NOTEBOOK.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert cells, "the notebook has no code"
    namespace: dict = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(NOTEBOOK.parent)  # as Jupyter runs it
    try:
        for i, source in enumerate(cells):
            code = compile(source, f"{NOTEBOOK.name}[cell {i}]", "exec")
            exec(code, namespace)
    finally:
        os.chdir(cwd)
    # one table per direction of mail, and an overview whose rows add up to the run's recipients
    overview, by_direction = namespace["overview"], namespace["by_direction"]
    assert list(overview.index) == ["inbound", "internal", "outbound", "relay", "lists", "platform"]
    assert list(by_direction) == list(overview.index)
    assert overview["offered"].sum() == namespace["res"].kpis["recipients"]["offered"]
    for name, table in by_direction.items():
        assert table.to_numpy().sum() == overview.loc[name, "offered"]
    funnel = namespace["funnel"]
    assert funnel.loc["offered", "left"] == namespace["res"].kpis["funnel"]["inbound"][0]["left"]
    comparison = namespace["comparison"]
    assert isinstance(comparison, pd.DataFrame)
    # Fewer scanners carry the same scan work: each is busier.
    assert comparison.loc["scanners", "2 scanners"] == 2 and comparison.loc["scanners", "baseline"] == 4
    assert (
        comparison.loc["scanner utilisation, mean", "2 scanners"]
        > comparison.loc["scanner utilisation, mean", "baseline"]
    )
