"""The report in a real browser: headless Chromium loads it offline, draws every plot, logs no
JavaScript error, and keeps database strings as text. A screenshot is left in the test's
temporary folder (``report.png``) for a person to look at."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_studies import (
    confirmed_study,
    ladder_study,
    make_study,
    make_trial,
    small_study,
    synthetic_study,
)

from autolr.reports import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="needs headless Chromium (apt-get install -y chromium; .ci/run installs it)",
)


def load(page: Path, folder: Path, *, screenshot: bool = True) -> str:
    """Load ``page`` headless and offline; the DOM after 10 s of virtual time (which also runs
    out when the page goes idle)."""
    profile = folder / "profile"
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
        f"--user-data-dir={profile}", "--window-size=1400,3000",
        "--virtual-time-budget=10000", "--dump-dom",
    ]
    if screenshot:
        command.append(f"--screenshot={folder / 'report.png'}")
    result = subprocess.run(
        [*command, page.resolve().as_uri()], capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def body_attrs(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def drawn_plots(dom: str) -> int:
    """Plot containers that plotly turned into plots (it adds the class when drawing)."""
    return len(re.findall(r'<div class="plot-area js-plotly-plot" id="plot-[\w-]+"', dom))


def js_errors(dom: str) -> str:
    box = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert box, "the error box is missing"
    return html.unescape(box.group(1)).strip()


def test_report_draws_every_plot_without_errors(tmp_path):
    name = "<script>alert(1)</script>"
    page = write_report(study=small_study(name), output=tmp_path / "report.html")
    dom = load(page, tmp_path)
    attrs = body_attrs(dom)
    assert js_errors(dom) == ""
    assert "data-errors" not in attrs
    assert attrs["data-plots"] == "6"
    assert attrs.get("data-plots-drawn") == "6", "plotly did not finish drawing"
    assert drawn_plots(dom) == 6
    assert dom.count('class="main-svg"') >= 6  # plotly drew SVG into each
    # the hostile study name is text, and no script but the page's own exists
    assert '<h1 class="study-name">&lt;script&gt;alert(1)&lt;/script&gt;</h1>' in dom
    assert "<title>autolr report: &lt;script&gt;alert(1)&lt;/script&gt;</title>" in dom
    assert dom.count("<script") == 6 + 3
    shot = tmp_path / "report.png"
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ladder_report_draws_in_the_browser(tmp_path):
    """A fidelity-ladder study: the six plots of any study and the ladder's runs by rung."""
    page = write_report(study=ladder_study(), output=tmp_path / "report.html")
    dom = load(page, tmp_path)
    attrs = body_attrs(dom)
    assert js_errors(dom) == ""
    assert "data-errors" not in attrs
    assert attrs["data-plots"] == "7"
    assert attrs.get("data-plots-drawn") == "7", "plotly did not finish drawing"
    assert drawn_plots(dom) == 7
    assert '<div class="plot-area js-plotly-plot" id="plot-ladder"' in dom
    assert dom.count("<script") == 7 + 3


def test_confirmed_report_draws_in_the_browser(tmp_path):
    """A study that confirmed its top configurations: the same plots, and the table of the
    configurations re-run on fresh seeds."""
    page = write_report(study=confirmed_study("<b>confirmed</b>"), output=tmp_path / "r.html")
    dom = load(page, tmp_path, screenshot=False)
    attrs = body_attrs(dom)
    assert js_errors(dom) == ""
    assert attrs["data-plots"] == "7"
    assert attrs.get("data-plots-drawn") == "7", "plotly did not finish drawing"
    assert '<section id="confirmed">' in dom
    assert "&lt;b&gt;confirmed&lt;/b&gt;" in dom and "<b>confirmed</b>" not in dom


def test_large_report_draws_in_the_browser(tmp_path):
    page = write_report(study=synthetic_study(1500, 10), output=tmp_path / "report.html")
    dom = load(page, tmp_path, screenshot=False)
    assert js_errors(dom) == ""
    assert body_attrs(dom).get("data-plots-drawn") == "7"
    assert drawn_plots(dom) == 7


def test_a_javascript_error_is_caught(tmp_path):
    """The harness itself: a broken figure shows up as an error, not as silence."""
    page = write_report(study=make_study([make_trial("cosine")]), output=tmp_path / "r.html")
    text = page.read_text("utf-8").replace('"data":[', '"data":[{"type":"nonsense","x":', 1)
    text = text.replace("</body>", "<script>notDefinedAnywhere();</script></body>")
    page.write_text(text, "utf-8")
    dom = load(page, tmp_path, screenshot=False)
    errors = js_errors(dom)
    assert "drawing plot-" in errors  # the broken figure
    assert "notDefinedAnywhere" in errors  # an uncaught error anywhere on the page
    assert body_attrs(dom)["data-errors"] == "2"
