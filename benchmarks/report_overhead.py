"""The overhead part of ``results.md``: each search's bookkeeping outside the training function
in this run (milliseconds per run), and the figures of ``overhead.py`` (autolr against a
hand-written Optuna loop) when its results files exist.
"""

from __future__ import annotations

from typing import Any

from harness.files import RESULTS, load_json
from harness.markdown import header, row
from overhead_report import comparison_table


def bookkeeping_table(results: dict[str, Any]) -> list[str]:
    """Per search: runs, wall seconds, seconds inside the training function, and the rest per
    run in milliseconds."""
    lines = header(["workload", "search", "runs", "wall s", "training s", "overhead ms / run"])
    for name, workload in results["workloads"].items():
        for key in ("autolr", "autolr_full", "random", "optuna_lr"):
            m = workload["methods"].get(key)
            if not m or not m["trials"]:
                continue
            per_trial = (m["wall_s"] - m["train_s"]) / m["trials"] * 1000
            lines.append(row([name, m["label"], m["trials"], f"{m['wall_s']:.1f}",
                              f"{m['train_s']:.1f}", f"{per_trial:.1f}"]))
    return lines


def overhead_tables(results: dict[str, Any]) -> list[str]:
    """The section: this run's bookkeeping, then ``overhead.py``'s comparisons (the results
    file's ``overhead_json``, and ``results/overhead_in_process.json`` when present)."""
    lines = [
        "Bookkeeping outside the training function in this run (study wall time minus the time "
        "spent inside the training function, per run; reports, pruning checks, the end of a "
        "shortened run and, for autolr's studies, the sampling of a run's schedule (at "
        "`autolr.scheduler`) happen inside training and are not counted here; `overhead.py` "
        "below counts them):",
        "",
        *bookkeeping_table(results),
    ]
    overhead = results.get("overhead_json")
    lines.append("")
    if not overhead:
        lines.append("`benchmarks/results/overhead.json` was not found: run "
                     "`python benchmarks/overhead.py` (on a quiet machine) and then "
                     "`python benchmarks/report_md.py` to add the overhead and scaling figures.")
        return lines
    lines += [
        f"From `benchmarks/overhead.py` (`{overhead.get('command')}`, {overhead.get('date')}, "
        f"{overhead.get('machine')}; the profiles in `results/overhead.md`). autolr (full "
        "search, no pruner, no baselines, no confirmation, the LR range fixed) against a "
        "hand-written Optuna loop over the same conditional space (autolr's `SearchSpace` "
        "sampled on a plain Optuna trial, TPE as autolr sets it with its sampler seed, the same "
        "scheduler and trial seeds: both sides draw the same configurations), storing in "
        "SQLite: Optuna's default, and opened as autolr opens it (WAL, synchronous=NORMAL, the "
        "strict comparison). Ratios are autolr's wall time over the loop's; the goal is judged "
        "on the quiet rounds (no side sharing the machine with other work):",
        "",
        *comparison_table(overhead),
    ]
    extra = load_json(RESULTS / "overhead_in_process.json")
    if extra:
        lines += [
            "",
            f"In process again with more rounds (`{extra.get('command')}`, {extra.get('date')}):",
            "",
            *comparison_table(extra),
        ]
    return lines
