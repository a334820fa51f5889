"""Does a table predict the schedules searches actually pick? The winners of real searches,
trained again on the table's seeds, against the table's prediction for them.

    python benchmarks/replay_winners.py [FOLDER]    # FOLDER/seed*/results.json (default:
                                                     # results/real_seeds), writes
                                                     # results/replay_winners.json

``replay.py validate`` scores a table on held-out rows of its own space-filling sample, most of
them far from any good schedule. A replayed study is decided among the best few configurations,
where one seed of a configuration predicts another poorly. So every distinct winner that the
real-run benchmark (``run.py``, ``real_seeds.sh``) found on a tabulated workload is trained here
as the table trains its rows (``table_workloads``: same script, length and seeds), and the
table's noise-free prediction is set beside the mean of those runs: the rank correlation and
mean error over the winners, and the mean error per method (a table that misjudges the shapes
one method favours biases the replay for or against it). Only workloads whose real runs have the
table's length are checked (the table's char model is smaller than the real one).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import RESULTS, write_json
from harness.meta import git_commit, machine, now, versions

import autolr


def winners(runs: list[dict[str, Any]], name: str) -> dict[str, tuple[str, autolr.ScheduleSpec]]:
    """Each distinct winning schedule on workload ``name``: its spec by its JSON text, with the
    first method that won with it."""
    found: dict[str, tuple[str, autolr.ScheduleSpec]] = {}
    for run in runs:
        for method, result in run["workloads"].get(name, {}).get("methods", {}).items():
            spec = (result.get("winner") or {}).get("spec")
            if spec is not None:
                key = json.dumps(spec, sort_keys=True)
                found.setdefault(key, (method, autolr.ScheduleSpec.from_json(spec)))
    return found


def check(name: str, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The table of ``name`` against its real-run winners trained on the table's seeds (None
    when the real runs are not the table's length)."""
    from replay_table import load_table
    from scipy.stats import spearmanr
    from table_workloads import make_table_workload

    table = load_table(name)
    workload = make_table_workload(name)
    found = winners(runs, name)
    if not found or any(spec.total_steps != table.total for _, spec in found.values()):
        return None
    seeds = table.manifest["seeds"]
    rows = []
    for method, spec in found.values():
        trained = [workload.table_run(spec, seed).reports[-1][1] for seed in seeds]
        rows.append({"method": method, "schedule": spec.to_json(),
                     "predicted": table.true_value(spec),
                     "trained": statistics.fmean(trained), "trained_seeds": trained})
    predicted = [r["predicted"] for r in rows]
    trained = [r["trained"] for r in rows]
    per_method: dict[str, list[float]] = {}
    for r in rows:
        per_method.setdefault(r["method"], []).append(r["predicted"] - r["trained"])
    return {
        "winners": len(rows),
        "spearman": float(spearmanr(predicted, trained).statistic),
        "mae": statistics.fmean(abs(p - t) for p, t in zip(predicted, trained, strict=True)),
        "own_minus_best": abs(table.own_value() - table.best_value()),
        "bias_by_method": {m: statistics.fmean(v) for m, v in sorted(per_method.items())},
        "rows": rows,
    }


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else RESULTS / "real_seeds"
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*seed*/results.json"))]
    if not runs:
        raise SystemExit(f"no *seed*/results.json under {folder}: run benchmarks/real_seeds.sh")
    from replay_table import built_tables

    results = {}
    for name in built_tables():
        entry = check(name, runs)
        if entry is None:
            continue
        results[name] = entry
        bias = ", ".join(f"{m} {b:+.4f}" for m, b in entry["bias_by_method"].items())
        print(f"{name}: {entry['winners']} winners, Spearman {entry['spearman']:.2f}, mean "
              f"error {entry['mae']:.4f} (own - best in the table: {entry['own_minus_best']:.4f});"
              f" predicted - trained by method: {bias}", flush=True)
    write_json(RESULTS / "replay_winners.json",
               {"date": now(), "machine": machine(), "versions": versions(),
                "git_commit": git_commit(), "from": str(folder), "workloads": results}, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
