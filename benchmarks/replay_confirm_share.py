"""How much of the budget should confirmation take? The default (``lr_first``) replayed with
its own confirmation plan and with larger ones, on the same search seeds.

The default plan buys as many confirmation runs as fit in a sixth of the budget: at N = 10 the
top 2 and the constant baseline on 1 fresh seed (``(2, 1)``), at N = 20 the top 3 on 1 (``(3,
1)``). The variants give confirmation more of the budget (and the search less): at N = 10,
``(1, 2)`` and ``(2, 2)``; at N = 20, ``(2, 2)``, ``(3, 2)`` and ``(2, 3)``.

``python benchmarks/replay_confirm_share.py measure digits,friedman,char,logreg 100 OUT``
appends one line per study to OUT (``... measure cnn,cancer 100 OUT 20 default,c32``: one
budget and two plans); ``python benchmarks/replay_confirm_share.py summary OUT``
prints each plan's regret and its paired difference from the default (same search seed), with
95% intervals.
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
PLANS: dict[int, dict[str, tuple[int, int] | None]] = {
    10: {"default": None, "c12": (1, 2), "c22": (2, 2)},
    20: {"default": None, "c22": (2, 2), "c32": (3, 2), "c23": (2, 3)},
}
_tables: dict[str, Any] = {}


def one(job: tuple[str, int, int, str]) -> dict[str, Any]:
    import optuna
    import replay_methods
    from replay_table import load_table

    import autolr

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name, n, seed, plan = job
    table = _tables.get(name) or _tables.setdefault(name, load_table(name))
    replay_methods.use_portfolio_for(name)
    confirm = PLANS[n][plan]
    options = {} if confirm is None else {"confirm": confirm}
    result = autolr.tune(replay_methods.replayed_script(table, replay_methods.Cost()),
                         n_trials=n, seed=seed, direction=table.direction, study_name="share",
                         search="lr_first", **options)
    value = table.true_value(result.best_spec)
    return {"w": name, "n": n, "seed": seed, "plan": plan, "regret": table.regret(value),
            "worse": table.worse(value, table.own_value())}


def measure(names: str, seeds: int, out: str, budgets: str = "10,20",
            plans: str | None = None) -> None:
    """``plans``: the plans run (comma-separated names; default: every plan of each budget)."""
    wanted = plans.split(",") if plans else None
    jobs = [(w, n, s, p) for w in names.split(",") for n in map(int, budgets.split(","))
            for p in PLANS[n] if wanted is None or p in wanted for s in range(seeds)]
    with Pool(2) as pool, open(out, "a", encoding="utf-8") as handle:
        for row in pool.imap_unordered(one, jobs, chunksize=4):
            handle.write(json.dumps(row) + "\n")
            handle.flush()


def _interval(values: list[float]) -> str:
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.fmean(values):+.3f} ± {half:.3f}"


def summary(path: str) -> None:
    cells: dict[tuple[str, int, str], dict[int, float]] = defaultdict(dict)
    for row in map(json.loads, Path(path).read_text().splitlines()):
        cells[(row["w"], row["n"], row["plan"])][row["seed"]] = row["regret"]
    for (name, n, plan), regrets in sorted(cells.items()):
        line = f"{name:9s} N={n:2d} {plan:8s} ({len(regrets)}) {_interval(list(regrets.values()))}"
        if plan != "default":
            base = cells[(name, n, "default")]
            line += f"  paired {_interval([r - base[s] for s, r in regrets.items() if s in base])}"
        print(line)


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        measure(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:7])
