"""The report page as a reader sees it: rendered by a real headless browser (Debian's chromium), it shows
no markup as text, every image it references loads, and a name from the scenario cannot inject markup."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers import BASELINE
from twin.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless browser: .ci/run installs Debian's chromium (apt), not found here"
)
EVIL = "<b>bold</b> & <script>document.title='owned'</script>"


def dom(page) -> str:
    """The page's DOM after a headless browser has loaded it (scripts run, as for a reader)."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    sets = ["clock.horizon=20m", "clock.drain=5m", f"meta.description={EVIL}"]
    sets.append("faults=[{kind: outage, target: store, at: 5m, duration: 5m}]")
    argv = ["run", str(BASELINE), "--out", str(out)]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    return out / "report.html"


def test_no_markup_shows_as_text_and_the_verdicts_are_elements(page):
    html = dom(page)
    text = re.sub(r"<[^>]+>", " ", html)
    assert "<span" not in text and "&lt;span" not in html  # the service-quality 'met' cells
    assert re.search(r'<span class="(ok|bad)">(met|missed)</span>', html)


def test_a_scenario_description_cannot_inject_markup(page):
    html = dom(page)
    assert "<title>mailtwin: baseline</title>" in html  # the script did not run
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in html


def test_every_image_the_page_shows_exists(page):
    sources = re.findall(r'<img src="([^"]+)"', dom(page))
    assert {"plots/outcomes.png", "plots/headroom.png", "plots/utilisation.png", "plots/spool.png"} <= set(
        sources
    )
    for src in sources:
        assert (page.parent / src).stat().st_size > 1000, src
