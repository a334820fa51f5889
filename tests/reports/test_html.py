"""The report page: escaping, self-contained, plotly.js once, size and speed, and writing it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import optuna
import pytest
from plotly.offline import get_plotlyjs
from report_studies import FAMILIES, make_study, make_trial, small_study, synthetic_study

from autolr.errors import ConfigError
from autolr.reports import default_output, write_report
from autolr.reports.data import get_report_data
from autolr.reports.html import render_page, safe_json

EVIL = "<script>alert(1)</script>"


def without_plotly_js(page: str) -> str:
    js = get_plotlyjs()
    assert page.count(js) == 1
    return page.replace(js, "")


def figure_count(page: str) -> int:
    return int(re.search(r'<body data-plots="(\d+)">', page).group(1))  # type: ignore[union-attr]


def test_database_strings_are_escaped(tmp_path):
    evil_family = '<img src=x onerror="alert(2)">'
    trials = [
        make_trial(evil_family, families=[evil_family], reports={0: 1.0, 1: 0.5},
                   worker="</script><script>alert(3)</script>",
                   extra_attrs={"baseline": "<b>base</b>",
                                "step_mismatch": "<iframe src=//evil.example>"}),
        make_trial("cosine", families=[evil_family, "cosine"], state="failed",
                   reason="<marquee>r</marquee>", error="ValueError: </script><h1>x</h1>"),
    ]
    study = make_study(trials, name=EVIL)
    path = write_report(study=study, output=tmp_path / "r.html")
    page = path.read_text(encoding="utf-8")
    rest = without_plotly_js(page)
    for raw in (EVIL, "<img", "<b>base", "<iframe", "<marquee", "<h1>x", "alert(3)</script>"):
        assert raw not in rest, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rest  # shown as text
    assert "<title>autolr report: &lt;script&gt;alert(1)&lt;/script&gt;</title>" in rest
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in rest
    # exactly our scripts: error handler, plotly.js, one JSON block per figure, the drawer
    assert rest.count("<script") == figure_count(page) + 3
    assert rest.count("</script>") == figure_count(page) + 3
    # the figure JSON carries the names escaped for plotly, and no raw "<" at all
    blocks = re.findall(r'<script type="application/json" data-figure="[^"]+">(.*?)</script>',
                        rest, re.S)
    assert blocks and all("<" not in b for b in blocks)
    decoded = json.dumps([json.loads(b) for b in blocks])
    assert "&lt;/script&gt;&lt;script&gt;alert(3)" in decoded
    # the folder made from the study name stays inside studies/
    root = tmp_path / "root"
    assert default_output(EVIL, root).parent.name == "_script_alert_1___script_"
    assert default_output("../../etc", root) == root / "studies" / "_.._etc" / "report.html"
    assert default_output("..", root) == root / "studies" / "study" / "report.html"


def test_safe_json_neutralises_script_endings():
    text = json.dumps({"a": "</script><!-- & \u2028"})
    out = safe_json(text)
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out
    assert json.loads(out) == {"a": "</script><!-- & \u2028"}


def test_page_is_self_contained_with_plotly_once(tmp_path):
    page = write_report(study=small_study(), output=tmp_path / "r.html").read_text("utf-8")
    rest = without_plotly_js(page)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|ftp:)""", rest, re.I)
    assert "<link" not in rest and "<iframe" not in rest and "@import" not in rest
    assert page.count("<script>") == 3  # error handler, plotly.js, the drawer (JSON typed apart)
    assert figure_count(page) == 6  # importance needs 5 complete trials: a note instead
    assert page.count('class="plot-area"') == 6
    assert "Parameter importance needs at least 5 complete trials; this study has 3." in page
    for heading in ("Summary", "Learning-rate schedules", "Learning curves",
                    "Reported value of every trial", "Family leaderboard", "Best trials",
                    "Optimization history", "Parameter importance", "Timeline"):
        assert f">{heading}</h" in page, heading
    assert "LR at the edge" not in page
    assert "pruning saved <strong>31%</strong>" in page  # 370 of 540 steps


def test_empty_one_trial_and_all_failed_pages_say_so(tmp_path):
    empty = render_page(get_report_data(make_study(name="nothing")))
    assert figure_count(empty) == 0
    assert "This study has no trials yet" in empty

    one = render_page(get_report_data(make_study([make_trial("cosine")], name="one")))
    assert "Only one trial completed" in one
    assert "Parameter importance needs at least 5 complete trials; this study has 1." in one
    assert figure_count(one) == 6  # all but importance

    failed = make_study([make_trial("step", state="failed", reason="out of memory",
                                    error="CUDA out of memory")] * 2, name="failing")
    page = render_page(get_report_data(failed))
    assert "All 2 trials failed, so there is no best schedule." in page
    assert "CUDA out of memory" in page
    assert figure_count(page) == 1  # the timeline


def test_large_study_is_fast_and_small(tmp_path):
    """A 1,500-trial report takes under 5 s of this process's CPU time and under 10 MB, with every
    figure. CPU time, not the wall clock: the suite runs in parallel (pytest-xdist), and the
    other workers' tests would otherwise decide whether this one passes."""
    study = synthetic_study(1500, 10)
    assert len(study.trials) == 1500
    start, start_cpu = time.perf_counter(), time.process_time()
    path = write_report(study=study, output=tmp_path / "big.html")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    size = path.stat().st_size
    print(f"1,500-trial report: {cpu_seconds:.2f} s CPU ({seconds:.2f} s wall), "
          f"{size / 1e6:.2f} MB")
    assert cpu_seconds < 5.0
    assert size < 10 * 1024 * 1024
    assert figure_count(path.read_text("utf-8")) == 7


def test_write_report_default_path_and_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = make_study([make_trial("constant")], name="my study/../x")
    path = write_report(study=study)
    assert path == tmp_path / "studies" / "my_study_.._x" / "report.html"
    assert path == default_output(study.study_name)
    assert path.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary left
    # a folder as output gets report.html inside; an existing report is replaced
    folder = tmp_path / "out"
    folder.mkdir()
    assert write_report(study=study, output=folder) == folder / "report.html"
    assert write_report(study=study, output=str(folder)) == folder / "report.html"


def test_write_report_by_name_and_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    url = f"sqlite:///{tmp_path / 'studies' / 'digits.db'}"
    stored = optuna.create_study(study_name="digits", storage=url)
    stored.add_trial(make_trial("cosine", families=FAMILIES))
    assert write_report("digits", url).is_file()
    assert write_report("digits").is_file()  # default storage: studies/<study>.db
    with pytest.raises(ConfigError, match=r"no study named 'other'\. Studies there: 'digits'"):
        write_report("other", url)
    with pytest.raises(ConfigError, match="No study database at"):
        write_report("missing", f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert not (tmp_path / "nowhere.db").exists()


def test_write_report_argument_errors():
    study = make_study()
    with pytest.raises(ConfigError, match="either a loaded study"):
        write_report("x", study=study)
    with pytest.raises(ConfigError, match="must name a study"):
        write_report()
    with pytest.raises(ConfigError, match=r"must be an optuna\.Study"):
        write_report(study="digits")
    with pytest.raises(ConfigError, match="must be a file path"):
        write_report(study=study, output=3)


def test_importing_autolr_and_the_report_package_leaves_plotly_unloaded():
    code = (
        "import sys, autolr, autolr.reports\n"
        "assert 'plotly' not in sys.modules, 'plotly imported'\n"
        "assert callable(autolr.report) and not isinstance(autolr.report, type(sys))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
