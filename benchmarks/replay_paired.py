"""Variants of the default search replayed on the same search seeds, so that each is compared
with the default study by study (a paired difference), not only by its mean.

A variant is a set of ``autolr.tune`` options, and may register a strategy first (a search
rule kept for comparison, see ``replay_variants.VARIANTS``), or another method of the replay
(``replay_methods.METHODS``: the full search, the ladder, the hand-written Optuna studies).
Every replayed study is a line of the output file, so a stopped measurement resumes where it
stopped.

    python benchmarks/replay_paired.py measure digits,friedman,char,logreg 10,20 100 OUT \\
        [default,vertex_refine] [SPREAD]
    python benchmarks/replay_paired.py summary OUT [REFERENCE]
    python benchmarks/replay_paired.py markdown OUT [REFERENCE]

``SPREAD`` (decades, default 0) shifts each study's script LR by a factor drawn from its search
seed (``replay_methods.lr_shift``). ``summary`` prints each variant's mean normalized regret and
its paired difference from the default (or from the variant REFERENCE: same workload, budget and
search seed), with 95% intervals; ``markdown`` a table of the reference against the best other
variant per workload and budget.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import warnings
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import read_lines
from replay_variants import VARIANTS, restore

_tables: dict[str, Any] = {}


def one(job: tuple[str, int, int, str, float]) -> dict[str, Any]:
    """One replayed study of ``(workload, budget, search seed, variant, LR spread)``."""
    import optuna
    import replay_methods
    from replay_table import load_table

    import autolr

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name, n, seed, variant, spread = job
    table = _tables.get(name) or _tables.setdefault(name, load_table(name))
    restore()
    replay_methods.use_portfolio_for(name)
    shift = replay_methods.lr_shift(seed, spread)
    if variant in VARIANTS:
        options = VARIANTS[variant][1](name)
        script = replay_methods.replayed_script(table, replay_methods.Cost(), 10**shift)
        best = autolr.tune(script, n_trials=n, seed=seed, direction=table.direction,
                           study_name="paired", **options).best_spec
    else:  # another method of the replay (replay_methods.METHODS)
        best, _ = replay_methods.run_method(variant, table, n, seed, 10**shift)
    value = table.true_value(best)
    own_value = table.true_value(replay_methods.own_spec(table, 10**shift))
    row = {"w": name, "n": n, "seed": seed, "variant": variant, "regret": table.regret(value),
           "worse": table.worse(value, own_value), "family": best.family,
           "lr_scale": best.lr / table.base_lr}
    return {**row, "shift": shift} if spread else row


def measure(names: str, budgets: str, seeds: int, out: str,
            variants: str = "default,vertex_refine", spread: str = "0") -> None:
    """Replay what ``out`` does not hold yet, two processes at a time; ``spread``: the script's
    LR is shifted by up to this many decades either way (see :func:`lr_shift`)."""
    done = {(r["w"], r["n"], r["seed"], r["variant"]) for r in read_lines(Path(out))}
    jobs = [(w, int(n), s, v, float(spread)) for w in names.split(",")
            for n in budgets.split(",") for v in variants.split(",") for s in range(seeds)
            if (w, int(n), s, v) not in done]
    from replay_methods import METHODS

    known = [*VARIANTS, *(m for m in METHODS if m not in VARIANTS)]
    unknown = {job[3] for job in jobs} - set(known)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {', '.join(known)}")
    with Pool(2) as pool, open(out, "a", encoding="utf-8") as handle:
        for row in pool.imap_unordered(one, jobs, chunksize=4):
            handle.write(json.dumps(row) + "\n")
            handle.flush()


def interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% interval."""
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.fmean(values), half


def cells_of(path: str) -> dict[tuple[str, int, str], dict[int, dict[str, Any]]]:
    """The replayed studies of ``path`` by (workload, budget, variant), then by search seed."""
    cells: dict[tuple[str, int, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in read_lines(Path(path)):
        cells[(row["w"], row["n"], row["variant"])][row["seed"]] = row
    return cells


def summary(path: str, reference: str = "default") -> None:
    cells = cells_of(path)
    for (name, n, variant), rows in sorted(cells.items()):
        mean, half = interval([r["regret"] for r in rows.values()])
        worse = sum(r["worse"] for r in rows.values())
        line = (f"{name:9s} N={n:2d} {variant:15s} ({len(rows)}) {mean:+.3f} ± {half:.3f}"
                f"  worse than own {worse}")
        base = cells.get((name, n, reference), {})
        if variant != reference and base:
            diff = [r["regret"] - base[s]["regret"] for s, r in rows.items() if s in base]
            mean, half = interval(diff)
            apart = " (apart)" if abs(mean) > half else ""
            line += f"  paired {mean:+.3f} ± {half:.3f}{apart}"
        print(line)


def markdown(path: str, reference: str = "default") -> None:
    """Per workload and budget: ``reference``'s regret, the best other variant's, and the paired
    difference between them (other − reference) with its 95% interval."""
    cells = cells_of(path)
    budgets = sorted({n for _, n, _ in cells})
    head = " | ".join(f"{reference} N = {n} | best other N = {n} | other − {reference}"
                      for n in budgets)
    print(f"| workload | {head} |")
    print("| --- |" + " --- | --- | --- |" * len(budgets))
    for name in dict.fromkeys(w for w, _, _ in sorted(cells)):
        line = f"| {name} |"
        for n in budgets:
            base = cells.get((name, n, reference), {})
            if not base:
                line += " | | |"
                continue
            mean, half = interval([r["regret"] for r in base.values()])
            line += f" {mean:.3f} ± {half:.3f} |"
            others = [(interval([r["regret"] for r in rows.values()]), v, rows)
                      for (w, m, v), rows in cells.items()
                      if w == name and m == n and v != reference]
            if not others:
                line += " | |"
                continue
            (o_mean, o_half), variant, rows = min(others, key=lambda o: o[0][0])
            diff = interval([r["regret"] - base[s]["regret"] for s, r in rows.items()
                             if s in base])
            verdict = "apart" if abs(diff[0]) > diff[1] else "within noise"
            line += (f" {variant} {o_mean:.3f} ± {o_half:.3f} |"
                     f" {diff[0]:+.3f} ± {diff[1]:.3f} ({verdict}) |")
        print(line)


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(*sys.argv[2:4])
    elif sys.argv[1] == "markdown":
        markdown(*sys.argv[2:4])
    else:
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], *sys.argv[6:8])
