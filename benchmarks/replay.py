"""Replayed studies on the schedule tables: many search seeds per method in minutes.

    python benchmarks/replay.py validate            # how well a table predicts held-out rows
    python benchmarks/replay.py measure             # replay every method (resumes)
    python benchmarks/replay.py report              # results/replay.md, the plots, the README

``measure`` replays, per table workload, budget N (full runs of compute) and method, many
studies with different search seeds (``--seeds`` per budget; by default 30 at N = 5 and 40, 100
at N = 10 and 20), two processes at a time. Each study's script LR is the table's shifted by a
factor drawn from its search seed, uniform in +-``--spread`` decades (default 0.5; 0 keeps the
table's own LR): the tables' own LRs happen to sit a whole number of line-search steps (x3.16)
from the best LR on some workloads, and a new script's LR sits anywhere. Every method gets the
same shift on the same seed, so the comparison stays paired. Each finished study is a line of
``benchmarks/results/replay/<workload>.jsonl`` (``--output-dir``), so a stopped measurement
resumes where it stopped; ``results/replay_fixed_lr/`` holds the studies replayed with the
tables' own LRs. ``validate`` fits each table's regressor on four fifths of the sampled rows and
predicts the fifth left out, five times over (``results/replay_validation.json``).

Options: ``--workloads a,b`` (default: every table built), ``--methods a,b`` (see
``replay_methods.METHODS``), ``--budgets 5,10,20,40``, ``--seeds 5:30,10:100,20:100,40:30``,
``--jobs J``, ``--spread D``. ``report`` writes ``results/<output dir's name>.md`` and its plots.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from harness.cli import make_parser
from harness.files import RESULTS, read_lines, write_json, write_text
from harness.jobs import run_all
from harness.meta import git_commit, machine, now, versions
from replay_table import TABLES, built_tables, load_table

REPLAYS = RESULTS / "replay"
DEFAULT_SEEDS = {5: 30, 10: 100, 20: 100, 40: 30}
SPREAD = 0.5  # decades: each study's script LR is the table's times 10**U(-SPREAD, SPREAD)
SEED_CHUNK = 10  # studies per job: one table load serves them

# --- measure ------------------------------------------------------------------------------------
def replay_chunk(name: str, method: str, n: int, seeds: list[int], tables: str,
                 spread: float = SPREAD) -> list[dict[str, Any]]:
    """Replay ``method`` at budget ``n`` on ``seeds`` (runs in a worker process), each study's
    script LR shifted by up to ``spread`` decades (``replay_methods.lr_shift``). Regret is
    normalized by the table's own schedule at the table's LR (one yardstick per workload);
    "worse than own" compares with the script's own schedule at the study's shifted LR."""
    import optuna
    from replay_methods import lr_shift, run_method

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    table = load_table(name, tables=Path(tables))
    lines = []
    for seed in seeds:
        start = time.perf_counter()
        shift = lr_shift(seed, spread)
        spec, cost = run_method(method, table, n, seed, 10**shift)
        value = table.true_value(spec)
        opt_steps = cost.scheduler_steps * table.optimizer_steps_per_step
        lines.append({
            "workload": name, "method": method, "n": n, "seed": seed,
            "value": value, "regret": table.regret(value),
            **against_own(table, value, shift),
            "family": spec.family, "lr_scale": spec.lr / table.base_lr, "shift": shift,
            "runs": cost.runs, "steps": opt_steps,
            "full_runs": cost.scheduler_steps / table.total,
            "wall_s": cost.runs * table.cost["startup_s"] + opt_steps * table.cost["step_s"],
            "replay_s": round(time.perf_counter() - start, 3),
        })
    return lines


def against_own(table: Any, value: float, shift: float) -> dict[str, Any]:
    """A winner of true value ``value`` against the script's own schedule at the study's
    shifted LR (``shift``, log10): ``worse_than_own``; ``own_value``; ``own_gap``, how much
    worse than own the winner is in the metric's units (negative: better); and ``seed_sd``,
    the table's seed-to-seed spread near the best (``ScheduleTable.seed_sd``), the scale that
    says whether the gap is more than one seed's luck."""
    from replay_methods import own_spec

    own_value = table.true_value(own_spec(table, 10**shift))
    gap = value - own_value if table.direction == "minimize" else own_value - value
    return {"worse_than_own": table.worse(value, own_value), "own_value": own_value,
            "own_gap": gap, "seed_sd": table.seed_sd()}


def bring_up_to_date(path: Path, tables: Path) -> list[dict[str, Any]]:
    """The studies kept in ``path``, those replayed before the comparison with the script's own
    schedule recorded its gap given it (from their value and shift; the file is rewritten in
    place, atomically)."""
    kept = read_lines(path)
    stale = [r for r in kept if "own_gap" not in r]
    if stale:
        table = load_table(path.stem, tables=tables)
        for r in stale:
            r.update(against_own(table, r["value"], r.get("shift", 0.0)))
        fresh = path.with_suffix(".jsonl.part")
        write_text(fresh, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in kept))
        fresh.replace(path)  # a stop midway leaves the old file whole
    return kept


def measure(names: list[str], methods: list[str], seeds: dict[int, int], jobs: int,
            tables: Path = TABLES, out: Path = REPLAYS, spread: float = SPREAD) -> None:
    """Replay what is not replayed yet; every finished study is appended to its file. A
    folder holds one spread only: studies with another would not be comparable."""
    out.mkdir(parents=True, exist_ok=True)
    calls = []
    for name in names:
        kept = bring_up_to_date(out / f"{name}.jsonl", tables)
        if any(abs(r.get("shift", 0.0)) > spread + 1e-9 or (spread and "shift" not in r)
               for r in kept):
            raise SystemExit(f"{out / (name + '.jsonl')} holds studies replayed with another "
                             f"--spread than {spread}: measure into another --output-dir")
        done = {(r["method"], r["n"], r["seed"]) for r in kept}
        for method in methods:
            for n, count in seeds.items():
                todo = [s for s in range(count) if (method, n, s) not in done]
                for k in range(0, len(todo), SEED_CHUNK):
                    calls.append((name, method, n, todo[k : k + SEED_CHUNK], str(tables),
                                  spread))
    total = sum(len(c[3]) for c in calls)
    print(f"{total} studies to replay in {len(calls)} jobs", flush=True)
    finished = 0
    start = time.perf_counter()
    for call, lines in run_all(replay_chunk, calls, jobs, threads=1):
        with (out / f"{call[0]}.jsonl").open("a") as sink:
            for line in lines:
                sink.write(json.dumps(line, separators=(",", ":")) + "\n")
        finished += len(lines)
        rate = (time.perf_counter() - start) / finished
        print(f"  {call[0]} {call[1]} N={call[2]}: {finished}/{total}, "
              f"{rate * (total - finished) / 60:.1f} min left", flush=True)


# --- validate -----------------------------------------------------------------------------------
def validate(names: list[str], folds: int = 5, tables: Path = TABLES) -> dict[str, Any]:
    """Hold out each fifth of the sampled rows in turn, fit on the rest, predict it: per
    workload, length and regressor the rank correlation and the error of the last report's
    seed mean, beside what one seed tells of another (the noise ceiling)."""
    import numpy as np
    from replay_table import fit_model, predict
    from scipy.stats import spearmanr

    results: dict[str, Any] = {}
    for name in names:
        table = load_table(name, tables=tables)
        sample = np.array([i for i, row in enumerate(table.rows) if row["label"] == "sample"])
        rng = np.random.default_rng(0)
        order = rng.permutation(sample)
        per_length = {}
        for length, lm in table.by_length.items():
            finite = np.isfinite(lm.values[:, :, -1]).all(axis=1)
            entry: dict[str, Any] = {}
            for kind in ("trees", "knn"):
                predicted = np.full(len(table.rows), np.nan)
                for k in range(folds):
                    held = order[k::folds]
                    train = np.setdiff1d(np.arange(len(table.rows)), held)
                    model = fit_model(kind, table.x[train], lm.mean[train])
                    predicted[held] = predict(model, table.x[held])[:, -1]
                rows = sample[finite[sample]]
                actual = lm.mean[rows, -1]
                guess = predicted[rows]
                top = actual <= np.quantile(actual, 0.25) if table.direction == "minimize" \
                    else actual >= np.quantile(actual, 0.75)
                entry[kind] = {
                    "spearman": float(spearmanr(actual, guess).statistic),
                    "spearman_best_quarter": float(spearmanr(actual[top], guess[top]).statistic),
                    "mae": float(np.mean(np.abs(actual - guess))),
                    "rows": len(rows),
                }
            rows = sample[finite[sample]]
            seed_a, seed_b = lm.values[rows, 0, -1], lm.values[rows, 1, -1]
            mean = lm.mean[rows, -1]
            top = mean <= np.quantile(mean, 0.25) if table.direction == "minimize" \
                else mean >= np.quantile(mean, 0.75)
            entry["seed_vs_seed"] = {
                "spearman": float(spearmanr(seed_a, seed_b).statistic),
                "spearman_best_quarter": float(spearmanr(seed_a[top], seed_b[top]).statistic),
                "mae": float(np.mean(np.abs(seed_a - seed_b))),
                "seed_sd": float(np.mean(np.std(lm.values[rows, :, -1], axis=1, ddof=1))),
            }
            entry["diverged_share"] = float(1 - finite[sample].mean())
            per_length[str(length)] = entry
        results[name] = {"scale": "log" if table.direction == "minimize" else "value",
                         "lengths": per_length}
        print(name, json.dumps(per_length[str(table.total)], indent=None), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    from replay_methods import METHODS

    parser = make_parser(__doc__)
    parser.add_argument("command", choices=("validate", "measure", "report"))
    parser.add_argument("--workloads", default=None)
    parser.add_argument("--methods", default=None)
    parser.add_argument("--seeds", default=None,
                        help="budget:studies pairs, e.g. 5:30,10:100,20:100,40:30")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tables", type=Path, default=TABLES)
    parser.add_argument("--output-dir", type=Path, default=REPLAYS)
    parser.add_argument("--spread", type=float, default=SPREAD,
                        help="decades the script's LR is shifted by at most (0: the table's)")
    args = parser.parse_args(argv)
    names = args.workloads.split(",") if args.workloads else built_tables(args.tables)
    missing = [n for n in names if not (args.tables / f"{n}.jsonl.gz").exists()]
    if missing:
        parser.error(f"no table for {', '.join(missing)}: build it with "
                     f"python benchmarks/table_build.py {missing[0]}")
    if args.command == "validate":
        path = RESULTS / "replay_validation.json"
        kept = json.loads(path.read_text())["workloads"] if path.exists() else {}
        kept.update(validate(names, tables=args.tables))  # the other workloads' stay
        write_json(path, {"date": now(), "machine": machine(), "versions": versions(),
                          "git_commit": git_commit(), "workloads": kept}, indent=1)
    elif args.command == "measure":
        methods = args.methods.split(",") if args.methods else [
            m for m in METHODS if m != "default"]
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            parser.error(f"unknown method {unknown[0]!r}: one of {', '.join(METHODS)}")
        seeds = DEFAULT_SEEDS
        if args.seeds:
            try:
                seeds = {int(a): int(b) for a, b in (p.split(":") for p in args.seeds.split(","))}
            except ValueError:
                parser.error(f"--seeds must be budget:studies pairs such as 10:100,20:100; got "
                             f"{args.seeds!r}")
            if any(n < 1 or count < 1 for n, count in seeds.items()):
                parser.error(f"--seeds: budgets and study counts must be at least 1; got "
                             f"{args.seeds!r}")
        if not 0 <= args.spread <= 2:
            parser.error(f"--spread must be between 0 and 2 decades; got {args.spread}")
        measure(names, methods, seeds, args.jobs, args.tables, args.output_dir, args.spread)
    else:
        from replay_methods import DESCRIPTIONS
        from replay_report import write_report

        from autolr.study.config import DEFAULT_SEARCH

        write_report(names, args.output_dir, default=DEFAULT_SEARCH, descriptions=DESCRIPTIONS)


if __name__ == "__main__":
    sys.exit(main())
