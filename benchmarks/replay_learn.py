"""The shape portfolio of ``--search lr_first``, learned from schedule tables.

    python benchmarks/replay_learn.py                 # from every table not held out
    python benchmarks/replay_learn.py --workloads digits,char --output /tmp/portfolio.json

``lr_first`` finds the peak LR with linear decay to zero by a line search, then tries a few
*shapes* at that LR before its sampler takes over. A shape is a family with its parameters, a
warmup, and an LR factor: the shape's peak LR as a multiple of the LR the line search found (a
constant LR is best lower than linear decay, a one-cycle higher). Because every LR is taken
relative to the line search's, a shape learned on one script carries over to another.

The portfolio is built greedily, as Auto-sklearn 2.0 builds its own: on each table, the line
search's LR ``L*`` is the best LR of linear decay to zero (the regressor's prediction over a
fine grid); every sampled configuration of every table is a candidate shape (its LR factor: its
LR over its own table's ``L*``); each step adds the candidate that most lowers the mean over
the tables of the best normalized regret reached so far, starting from linear decay at ``L*``
(what the line search already ran). Regrets are capped at :data:`REGRET_CAP` so that no single
table decides alone.

A workload's own table never shapes the portfolio it is scored with: the replays score each
table workload with a portfolio learned from the others (:func:`portfolio_without`), and the
shipped one (``autolr/search/shape_portfolio.json``) comes from the tables not held out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

REGRET_CAP = 2.0
PORTFOLIO_SIZE = 3
# lr_scale over the study's default range (where the line search and the shapes run), 0.025
# decades apart
GRID = np.logspace(-1, 1, 81)
# the warmup of the line search's shape (a fraction of the run); replay_variants' line_warmup
# variant sets it, so that the LR factors are relative to the LR that shape finds
LINE_WARMUP = 0.0
# the warmup of a probe the search runs before the portfolio (the line search's shape, warmed
# up, at its LR; None: no probe); replay_variants' warmup_probe variant sets it, so that the
# portfolio is learned beside it
PROBE_WARMUP: float | None = None
SHIPPED = Path(__file__).resolve().parents[1] / "autolr" / "search" / "shape_portfolio.json"


def values_of(table: Any, params: list[dict[str, Any]]) -> np.ndarray:
    """The noise-free full-length values of configurations (study parameters) on ``table``."""
    from replay_table import from_log, predict
    from table_space import spec_of

    x = np.array([table.features.of(spec_of(p, table)) for p in params])
    return from_log(predict(table.by_length[table.total].model, x)[:, -1], table.direction)


def regrets_of(table: Any, params: list[dict[str, Any]]) -> np.ndarray:
    best, own = table.best_value(), table.own_value()
    return np.minimum((values_of(table, params) - best) / (own - best), REGRET_CAP)


def linear(lr_scale: float) -> dict[str, Any]:
    return {"family": "linear", "linear.end_ratio": 0.0, "lr_scale": float(lr_scale),
            "warmup": LINE_WARMUP}


def line_search_lr(table: Any) -> float:
    """``L*``: the best lr_scale of linear decay to zero on ``table``."""
    values = values_of(table, [linear(s) for s in GRID])
    pick = np.argmin(values) if table.direction == "minimize" else np.argmax(values)
    return float(GRID[pick])


def probe(lr_scale: float) -> list[dict[str, Any]]:
    """What the search runs beside linear decay at ``L*`` before the portfolio: the warmup
    probe's configuration, when it has one."""
    if PROBE_WARMUP is None:
        return []
    return [{**linear(lr_scale), "warmup": PROBE_WARMUP}]


def shapes(tables: list[Any], lrs: list[float]) -> list[dict[str, Any]]:
    """Every sampled configuration of ``tables`` as a shape with its LR factor."""
    result, seen = [], set()
    for table, lr in zip(tables, lrs, strict=True):
        for row in table.rows:
            if row["label"] != "sample":
                continue
            params = {k: v for k, v in row["params"].items() if k != "lr_scale"}
            shape = {"params": params, "lr_factor": row["params"]["lr_scale"] / lr}
            key = json.dumps(shape, sort_keys=True)
            if key not in seen:
                seen.add(key)
                result.append(shape)
    return result


def at(shape: dict[str, Any], lr: float) -> dict[str, Any]:
    """A shape's study parameters on a table whose line search found ``lr``."""
    scale = float(np.clip(lr * shape["lr_factor"], GRID[0], GRID[-1]))
    return {**shape["params"], "lr_scale": scale}


def greedy_portfolio(tables: list[Any], size: int = PORTFOLIO_SIZE) -> list[dict[str, Any]]:
    """Up to ``size`` shapes, chosen greedily over ``tables`` (see the module docstring); fewer
    when no further shape lowers the mean regret."""
    lrs = [line_search_lr(t) for t in tables]
    pool = shapes(tables, lrs)
    regrets = np.stack([regrets_of(t, [at(s, lr) for s in pool])
                        for t, lr in zip(tables, lrs, strict=True)])
    best = np.array([min(regrets_of(t, [linear(lr), *probe(lr)]))
                     for t, lr in zip(tables, lrs, strict=True)])
    chosen = []
    for _ in range(size):
        scores = np.minimum(regrets, best[:, None]).mean(axis=0)
        pick = int(np.argmin(scores))
        if scores[pick] >= best.mean() - 1e-9:
            break  # no shape lowers it further
        chosen.append({**pool[pick], "mean_regret_after": float(scores[pick])})
        best = np.minimum(best, regrets[:, pick])
    return chosen


_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def portfolio_without(name: str, train: list[str]) -> list[dict[str, Any]]:
    """The portfolio learned from the training tables other than ``name`` (cached)."""
    from replay_table import load_table

    others = tuple(sorted(t for t in train if t != name))
    key = (*others, LINE_WARMUP, PROBE_WARMUP)
    if key not in _CACHE:
        _CACHE[key] = greedy_portfolio([load_table(t) for t in others]) if others else []
    return _CACHE[key]


def main(argv: list[str] | None = None) -> None:
    from harness.cli import make_parser
    from harness.files import write_json
    from replay_table import load_table, training_tables

    parser = make_parser(__doc__)
    parser.add_argument("--workloads", default=None)
    parser.add_argument("--output", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    names = (args.workloads.split(",") if args.workloads
             else training_tables())
    tables = [load_table(n) for n in names]
    portfolio = greedy_portfolio(tables)
    write_json(args.output, {
        "learned_from": names,
        "how": "benchmarks/replay_learn.py: greedy over the tables, LR factors relative to the "
               "best LR of linear decay to zero",
        "shapes": [{"params": s["params"], "lr_factor": round(s["lr_factor"], 4)}
                   for s in portfolio],
    }, indent=1)
    for s in portfolio:
        print(json.dumps(s))


if __name__ == "__main__":
    main()
