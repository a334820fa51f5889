"""The benchmark suite (benchmarks/run.py) runs end to end in quick mode and writes complete
results: every method of every workload with numbers, the pruning replay and the Markdown."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
WORKLOADS = ("digits", "char", "friedman")
METHODS = ("autolr", "autolr_half", "autolr_unconfirmed", "autolr_full", "hand", "optuna_lr",
           "random", "linear_cosine", "schedulefree", "autolr_none", "autolr_hyperband",
           "autolr_lr_first", "autolr_lr_first_half")
LADDER = ("autolr", "autolr_half", "autolr_unconfirmed")  # budget: N (N // 2) full runs
AUTOLR = (*LADDER, "autolr_full", "random", "autolr_none", "autolr_hyperband",
          "autolr_lr_first", "autolr_lr_first_half")
N = 8  # the quick mode's default: autolr at N confirms its best run and the constant baseline


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("AUTOLR_SCHEDULE", None)
    readme = BENCHMARKS / "README.md"
    before = readme.read_text(encoding="utf-8") if readme.exists() else None
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--workloads",
         ",".join(WORKLOADS), "--output-dir", str(out)],
        cwd=out, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = readme.read_text(encoding="utf-8") if readme.exists() else None
    assert after == before, "a quick run into --output-dir must not rewrite benchmarks/README.md"
    return json.loads((out / "results.json").read_text()), proc.stdout, out


def _number(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@pytest.mark.slow
def test_every_method_of_every_workload_has_numbers(quick_run):
    results, _, _ = quick_run
    assert set(results["workloads"]) == set(WORKLOADS)
    for name, workload in results["workloads"].items():
        assert set(workload["methods"]) == set(METHODS), name
        for method, m in workload["methods"].items():
            where = f"{name}/{method}"
            assert m["winner"]["summary"], where
            assert len(m["retrain"]) == 3 and all(_number(v) for v in m["retrain"]), where
            assert _number(m["retrain_mean"]) and _number(m["retrain_std"]), where
            assert m["retrain_seeds"] == [7001, 7002, 7003], where
            if method == "hand":
                assert m["trials"] == 0 and m["steps"] == 0, where
                continue
            assert _number(m["best_value"]), where
            budget = max(1, N // 2) if method.endswith("_half") else N
            assert m["budget_runs"] == budget, where
            # steps: summed over every run, at most the compute of N full runs
            assert 0 < m["steps"] <= budget * workload["total_steps"], where
            if method in LADDER:
                assert m["trials"] >= 1, where
            else:
                assert m["trials"] == budget and m["shortened"] == 0, where


@pytest.mark.slow
def test_step_counts_agree_with_autolr_and_searches_are_unpruned_where_asked(quick_run):
    results, _, _ = quick_run
    for name, workload in results["workloads"].items():
        total = workload["total_steps"]
        for method in AUTOLR:
            m = workload["methods"][method]
            # the benchmark's own count equals the `steps` autolr records on its trials
            assert m["steps"] == m["steps_recorded"], f"{name}/{method}"
            assert m["search"] == ("ladder" if method in LADDER else "full"), f"{name}/{method}"
        for method in ("random", "autolr_none"):
            m = workload["methods"][method]
            diverged = [t for t in m["trial_log"] if t["reason"] == "diverged"]
            assert m["pruned"] == len(diverged), f"{name}/{method}"
            if not diverged:
                assert m["steps"] == N * total, f"{name}/{method}"


@pytest.mark.slow
def test_ladder_studies_are_recorded(quick_run):
    results, _, _ = quick_run
    for name, workload in results["workloads"].items():
        total = workload["total_steps"]
        m = workload["methods"]["autolr"]
        ladder = m["ladder"]
        assert ladder["steps"][-1] == total and ladder["fidelities"][-1] == 1.0, name
        assert ladder["budget_runs"] == N and ladder["steps_used"] == m["steps"], name
        # the quick runs leave room for a few shortened runs beside the three baselines
        assert m["shortened"] > 0, name
        shortened = [t for t in m["trial_log"] if t["reason"] == "shortened"]
        assert len(shortened) == m["shortened"], name
        assert all(t["state"] == "pruned" and t["rung"] < len(ladder["steps"]) - 1
                   and t["steps"] < total for t in shortened), name
        assert sum(r["runs"] for r in ladder["rungs"]) <= m["trials"], name
        assert m["configurations"] == ladder["configurations"] >= 4, name


@pytest.mark.slow
def test_pruning_replay_and_goal_are_reported(quick_run):
    results, _, _ = quick_run
    for name, workload in results["workloads"].items():
        replays = workload["pruning"]["replays"]
        assert {"autolr median", "autolr hyperband", "Optuna MedianPruner() (no grace)"} <= set(
            replays), name
        for label, r in replays.items():
            assert isinstance(r["best_cut"], bool), (name, label)
            assert 0 < r["steps"] <= workload["pruning"]["study_steps"], (name, label)
        g = workload["goal"]
        assert isinstance(g["met"], bool), name
        assert isinstance(g["half"]["met"], bool) and isinstance(g["equal"]["met"], bool), name
        assert g["half"]["best_rival"] in ("optuna_lr", "random", "linear_cosine",
                                           "schedulefree"), name
        assert set(g["equal"]["beats"]) == {"optuna_lr", "random", "linear_cosine",
                                             "schedulefree", "autolr_full"}, name
        assert g["steps_ratio"] is not None


@pytest.mark.slow
def test_markdown_and_metadata(quick_run):
    results, stdout, out = quick_run
    meta = results["meta"]
    assert meta["mode"] == "quick" and meta["trials"] == N
    for package in ("torch", "optuna", "schedulefree", "python"):
        assert meta["versions"][package]
    assert "cores" in meta["machine"]
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("<!-- results:start")
    assert "(e) Schedule-Free AdamW" in markdown and "Replay of the unpruned study" in markdown
    assert "At half the compute" in markdown and "At equal compute" in markdown
    assert "full runs of compute" in markdown and "### The fidelity ladder" in markdown
    assert "### Confirmation on fresh seeds (issue #10)" in markdown
    assert "the same study's luckiest run" in markdown
    assert "wrote" in stdout


@pytest.mark.slow
def test_confirmation_runs_are_counted_and_stay_within_budget(quick_run):
    results, _, _ = quick_run
    for name, workload in results["workloads"].items():
        total = workload["total_steps"]
        for method in AUTOLR:
            m = workload["methods"][method]
            runs = [t for t in m["trial_log"] if t["confirms"] is not None]
            assert m["confirming"] == len(runs), f"{name}/{method}"
            if method not in ("autolr", "autolr_lr_first"):
                # confirm=0, or a budget (N // 2) that buys no confirmation
                assert not runs and m["confirmation"] is None, f"{name}/{method}"
                continue
            record = m["confirmation"]
            # the default plan at N = 8 with 3 baselines: the best run and the constant baseline,
            # one fresh seed each, full length, inside the budget and in the step counts
            assert record["plan"] == [1, 1] == record["default_plan"], name
            assert len(runs) == len(record["runs"]) == 2, name
            assert {t["seed"] for t in runs} == {record["runs"][0]["seed"]}, name
            assert all(t["steps"] == total and t["rung"] is None for t in runs), name
            assert record["steps"] == 2 * total, name
            search = sum(t["steps"] for t in m["trial_log"] if t["confirms"] is None)
            assert m["steps"] == m["steps_recorded"] == search + record["steps"], name
            assert m["steps"] <= N * total, name
            if method == "autolr":  # the ladder counts every step it spent
                assert m["ladder"]["steps_used"] == m["steps"], name
            # the winner is the confirmed configuration with the best mean; its first run is a
            # trial of the search, and the same study's luckiest run is re-trained too
            winner = record["winner"]
            assert m["winner"]["trial"] == winner["number"] and winner["seeds"] == 2, name
            means = [c["mean"] for c in record["configurations"]]
            assert winner["mean"] == min(means), name
            lucky = record["luckiest"]
            assert len(lucky["retrain"]) == 3 and _number(lucky["retrain_mean"]), name
            assert record["changed"] == (lucky["number"] != winner["number"]), name
            if not record["changed"]:
                assert lucky["retrain"] == m["retrain"], name
            assert m["best_value"] == lucky["value"], name
        c = workload["confirmation"]
        assert c["confirmed"] and isinstance(c["changed"], bool), name
        assert _number(c["unconfirmed"]["margin"]), name


def test_readme_section_is_replaced_in_place(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import report_md
    finally:
        sys.path.remove(str(BENCHMARKS))
    readme = tmp_path / "README.md"
    readme.write_text(f"# B\n\nintro\n\n{report_md.START}\nold\n{report_md.END}\n\nafter\n")
    report_md.update_readme(f"{report_md.START}\nnew\n{report_md.END}\n", readme)
    text = readme.read_text()
    assert "old" not in text and "new" in text
    assert text.startswith("# B\n\nintro\n") and text.endswith("\n\nafter\n")
    assert text.count(report_md.START) == 1


def _seed_run(seed: int, values: dict[str, float]) -> dict:
    methods = {m: {"retrain_mean": v} for m, v in values.items()}
    return {"meta": {"seed": seed, "trials": 20, "machine": "test", "versions": {}, "git": "x"},
            "workloads": {"toy": {"methods": methods}}}


def test_the_many_seed_report_checks_the_real_run_goal_with_intervals(tmp_path):
    """report_real_seeds.py: each method's mean over search seeds with a t interval, and the
    goal (the default at N and N/2 no worse than the best of (b)-(e)) met, missed within the
    intervals, or missed with them apart."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import report_real_seeds
    finally:
        sys.path.remove(str(BENCHMARKS))
    base = {"autolr_lr_first_half": 1.0, "optuna_lr": 2.0, "random": 1.5, "schedulefree": 1.2}
    for seed, (mine, half) in enumerate([(1.10, 1.00), (1.12, 1.02), (1.11, 1.01)]):
        run = _seed_run(seed, {**base, "autolr_lr_first": mine, "autolr_lr_first_half": half})
        run["workloads"]["toy"]["methods"]["schedulefree"]["retrain_mean"] = 1.2 + seed / 100
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(run))
    text = report_real_seeds.render(report_real_seeds.load(tmp_path))
    assert "| autolr_lr_first | 1.1000, 1.1200, 1.1100 | 1.1100 ± 0.0248 |" in text
    assert "default at N: 1.1100 against the best of (b)-(e), schedulefree 1.2100: met" in text
    assert "default at N/2: 1.0100 against the best of (b)-(e), schedulefree 1.2100: met" in text
    worse = tmp_path / "worse"
    for seed in range(3):
        run = _seed_run(seed, {**base, "autolr_lr_first": 1.5 + seed / 100})
        (worse / f"seed{seed}").mkdir(parents=True)
        (worse / f"seed{seed}" / "results.json").write_text(json.dumps(run))
    text = report_real_seeds.render(report_real_seeds.load(worse))
    assert "schedulefree 1.2000: not met (intervals apart)" in text
    with pytest.raises(SystemExit, match="real_seeds.sh"):
        report_real_seeds.load(tmp_path / "missing")


@pytest.mark.slow
def test_tune_short_train_long_runs_through_the_exported_file(tmp_path):
    """benchmarks/transfer.py in quick mode: each study's winner is trained at 3x its length
    through the exported build_scheduler(optimizer, total_steps=3L), which gives the same run
    as ScheduleSpec.with_total_steps, and every arm has numbers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("AUTOLR_SCHEDULE", None)
    proc = subprocess.run(
        # one job: a second job process only adds its torch start-up on the suite's cores
        [sys.executable, str(BENCHMARKS / "transfer.py"), "--quick", "--jobs", "1", "--out",
         str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "transfer.json").read_text())
    assert results["workloads"]
    for name, workload in results["workloads"].items():
        assert workload["long_steps"] == 3 * workload["short_steps"], name
        assert workload["export"]["path"] == "exported", workload["export"]["why"]
        assert workload["export"]["max_lr_difference"] == 0.0
        assert workload["export"]["same_run_check"]["difference"] == 0.0
        winner = workload["arms"]["transferred"]["long"]
        assert winner["spec"]["total_steps"] == workload["long_steps"]
        for arm in workload["arms"].values():
            assert _number(arm["long"]["mean"]), (name, arm["label"])
    assert "Tune short, train long" in (tmp_path / "transfer.md").read_text()
