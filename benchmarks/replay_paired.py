"""Variants of the default search replayed on the same search seeds, so that each is compared
with the default study by study (a paired difference), not only by its mean.

A variant is a set of ``autolr.tune`` options, and may register a strategy first (a search
rule kept for comparison, see :data:`VARIANTS`). Every replayed study is a line of the output
file, so a stopped measurement resumes where it stopped.

    python benchmarks/replay_paired.py measure digits,friedman,char,logreg 10,20 100 OUT \\
        [default,halfway_refine]
    python benchmarks/replay_paired.py summary OUT

``summary`` prints each variant's mean normalized regret and its paired difference from the
default (same workload, budget and search seed), with 95% intervals.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
_tables: dict[str, Any] = {}


def _halfway_refine() -> dict[str, Any]:
    """The line search's refinement before the parabola: one run halfway (in log LR) to the
    better neighbour, and the shapes centred on the best run's LR."""
    from autolr.search import lr_first, strategies

    class HalfwayRefine(lr_first.LrFirstSearch):
        name = "lr_first_halfway"
        max_refines = 1

        def _refine_target(self, points: Any, best_x: float) -> float | None:
            down, up = lr_first._bracket(points, best_x)
            sides = [p for p in (down, up) if p is not None]
            neighbour = min(sides, key=lambda p: lr_first._rank(p[1]), default=None)
            if neighbour is None or abs(neighbour[0] - best_x) <= lr_first.REFINE_DECADES:
                return None
            return (best_x + neighbour[0]) / 2

        def _centre(self, points: Any, best_x: float) -> float:
            return best_x

    if "lr_first_halfway" not in strategies.strategy_names():
        strategies.register_strategy(HalfwayRefine)
    return {"search": "lr_first_halfway"}


# name: what it is, and a function that returns its autolr.tune options (registering a
# strategy first where the variant needs one)
VARIANTS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "default": ("autolr.tune's default search", dict),
    "halfway_refine": ("lr_first with one refining run halfway to the better neighbour, the "
                       "shapes at the best run's LR", _halfway_refine),
    "c12": ("the default, confirmation top 1 on 2 seeds", lambda: {"confirm": (1, 2)}),
    "c22": ("the default, confirmation top 2 on 2 seeds", lambda: {"confirm": (2, 2)}),
    "c32": ("the default, confirmation top 3 on 2 seeds", lambda: {"confirm": (3, 2)}),
    "c23": ("the default, confirmation top 2 on 3 seeds", lambda: {"confirm": (2, 3)}),
}


def one(job: tuple[str, int, int, str]) -> dict[str, Any]:
    """One replayed study of ``(workload, budget, search seed, variant)``."""
    import optuna
    import replay_methods
    from replay_table import load_table

    import autolr

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name, n, seed, variant = job
    table = _tables.get(name) or _tables.setdefault(name, load_table(name))
    replay_methods.use_portfolio_for(name)
    options = VARIANTS[variant][1]()
    result = autolr.tune(replay_methods.replayed_script(table, replay_methods.Cost()),
                         n_trials=n, seed=seed, direction=table.direction,
                         study_name="paired", **options)
    value = table.true_value(result.best_spec)
    return {"w": name, "n": n, "seed": seed, "variant": variant, "regret": table.regret(value),
            "worse": table.worse(value, table.own_value()), "family": result.best_spec.family,
            "lr_scale": result.best_spec.lr / table.base_lr}


def read(path: Path) -> list[dict[str, Any]]:
    """The finished studies of ``path`` (a line cut short by a stop is skipped)."""
    if not path.exists():
        return []
    rows = []
    for text in path.read_text().splitlines():
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return rows


def measure(names: str, budgets: str, seeds: int, out: str,
            variants: str = "default,halfway_refine") -> None:
    """Replay what ``out`` does not hold yet, two processes at a time."""
    done = {(r["w"], r["n"], r["seed"], r["variant"]) for r in read(Path(out))}
    jobs = [(w, int(n), s, v) for w in names.split(",") for n in budgets.split(",")
            for v in variants.split(",") for s in range(seeds)
            if (w, int(n), s, v) not in done]
    unknown = {v for *_, v in jobs} - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    with Pool(2) as pool, open(out, "a", encoding="utf-8") as handle:
        for row in pool.imap_unordered(one, jobs, chunksize=4):
            handle.write(json.dumps(row) + "\n")
            handle.flush()


def interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% interval."""
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.fmean(values), half


def summary(path: str, reference: str = "default") -> None:
    cells: dict[tuple[str, int, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in read(Path(path)):
        cells[(row["w"], row["n"], row["variant"])][row["seed"]] = row
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


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], *sys.argv[6:7])
