"""A 1,500-trial ladder study (the one ``benchmarks/scale.py`` times): ``autolr show``, ``show
--json``, ``export`` and ``report`` work on it and give the right counts. No timings here: they
are the benchmark's (``benchmarks/results/scale.md``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest
from click.testing import CliRunner

import autolr
from autolr.cli import main
from autolr.reports.stored import read_trials

ROOT = Path(__file__).resolve().parents[2]
N = 1500

pytestmark = pytest.mark.slow


def _scale_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autolr_bench_scale",
                                                  ROOT / "benchmarks" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scale_study(tmp_path_factory) -> tuple[Path, str, Any]:
    """The study in ``<dir>/studies/scale.db``: (the folder, its URL, what was made)."""
    folder = tmp_path_factory.mktemp("scale")
    (folder / "studies").mkdir()
    url = f"sqlite:///{folder / 'studies' / 'scale.db'}"
    made = _scale_module().build_study(url, N, seed=0)
    return folder, url, made


def cli(*args: str, cwd: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False,
                                env={"NO_COLOR": "1", "COLUMNS": "160"})
    return result.exit_code, result.output


def test_the_study_is_the_size_and_shape_asked_for(scale_study):
    _, url, made = scale_study
    study = optuna.load_study(study_name="scale", storage=url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == made.total == N
    assert made.shortened > 1000 and made.complete > 100 and made.confirmation == 6
    assert made.pruned > 0 and made.failed > 0 and made.baselines == 3
    # what show, export and report read is what Optuna reads, trial for trial
    assert [repr(t) for t in read_trials(study)] == [repr(t) for t in trials]


def test_show_counts_every_trial(scale_study):
    folder, url, made = scale_study
    code, out = cli("show", "--study", "scale", "--storage", url, cwd=folder)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first == (f"Study scale (minimize): {made.complete} complete, {made.shortened} "
                     f"shortened, {made.pruned} pruned, {made.failed} failed")
    runs = [int(n) for n in re.findall(r"rung \d \([\d.]+\): (\d+) (?:runs|full runs)", out)]
    assert len(runs) == 3 and runs[0] > runs[1] > runs[2]
    assert "Top 10 trials" in out and "Winner (best mean over fresh seeds): trial" in out
    assert "Best schedule: {" in out


def test_show_json_counts_every_trial(scale_study):
    folder, url, made = scale_study
    code, out = cli("show", "--json", "--top", "25", "--study", "scale", "--storage", url,
                    cwd=folder)
    assert code == 0, out
    shown = json.loads(out)
    assert shown["counts"] == {"complete": made.complete, "shortened": made.shortened,
                               "pruned": made.pruned, "failed": made.failed, "running": 0,
                               "waiting": 0}
    ladder = shown["ladder"]
    assert ladder["steps"] == [60, 200, 600] and ladder["configurations"] == made.configurations
    results = sum(r["runs"] for r in ladder["rungs"])
    # every run is a result at its rung (a failure in the training code too), but the
    # confirmation runs
    assert results == N - made.confirmation
    assert len(shown["confirmed"]) == 3 and len(shown["top"]) == 25
    assert shown["top"][0]["trial"] == shown["confirmed"][0]["trial"] or any(
        c["trial"] == shown["top"][0]["trial"] for c in shown["confirmed"])


def test_export_writes_the_winner(scale_study):
    folder, url, _ = scale_study
    code, out = cli("show", "--json", "--study", "scale", "--storage", url, cwd=folder)
    winner = json.loads(out)["top"][0]
    target = folder / "best_schedule.py"
    code, out = cli("export", "-o", str(target), "--study", "scale", "--storage", url,
                    cwd=folder)
    assert code == 0, out
    text = target.read_text(encoding="utf-8")
    ast.parse(text)
    assert f"trial: {winner['trial']}" in text and f"{winner['family']}" in text
    code, out = cli("export", "--format", "json", "-o", "-", "--study", "scale", "--storage",
                    url, cwd=folder)
    assert code == 0, out
    spec = autolr.ScheduleSpec.from_json(out)
    assert spec.family == winner["family"] and spec.total_steps == 600


def test_report_counts_every_trial(scale_study):
    folder, url, made = scale_study
    target = folder / "report.html"
    code, out = cli("report", "-o", str(target), "--study", "scale", "--storage", url,
                    cwd=folder)
    assert code == 0, out
    page = target.read_text(encoding="utf-8")
    assert f"{N:,} trials" in page
    assert f'<span class="pill complete">{made.complete - made.confirmation} complete</span>' \
        in page
    assert f'<span class="pill shortened">{made.shortened:,} shortened</span>' in page
    assert f'<span class="pill diverged">{made.pruned} diverged</span>' in page
    assert f'<span class="pill failed">{made.failed} failed</span>' in page
    assert f"confirmation runs: {made.confirmation}" in page
    drawn = int(re.search(r'<body data-plots="(\d+)">', page).group(1))  # type: ignore[union-attr]
    # every figure of a ladder study: LR curves (2), learning curves, families, history,
    # importance, timeline, ladder
    assert drawn == 8 and page.count('<script type="application/json"') == drawn
