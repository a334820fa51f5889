"""What the tables say of the line search's shape and of the shape portfolio, without replaying.

    python benchmarks/replay_line_shapes.py

Two tables, from each table's regressor (noise-free values at full length):

1. **The warmup of the line search's shape.** For linear decay to zero after a warmup of each of
   :data:`WARMUPS` (fractions of the run): its best normalized regret over the LR grid of
   ``replay_learn`` (0.025 decades apart), and the mean over ±0.125 decades around that LR (a
   line search lands within a quarter decade, so this is what it can expect); then the warmup
   each training table's leave-one-out choice would take (the lowest mean of that average over
   the other training tables).
2. **The portfolio, leave-one-workload-out.** Each table's portfolio learned from the training
   tables other than itself (``replay_learn.portfolio_without``), its shapes' regrets at the
   best LR of linear decay, against linear decay itself there: a shape lower than linear is one
   the search could not have had without the portfolio.

These are the surrogate's values, not replayed studies: they say where to look, and the paired
replays (``replay_paired.py``) say what a search gains.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

WARMUPS = (0.0, 0.02, 0.05, 0.1, 0.15)
NEAR = 5  # grid points either side: ±0.125 decades


def warmup_table(names: list[str], train: list[str]) -> None:
    import replay_learn
    from replay_table import load_table

    robust: dict[str, list[float]] = {}
    print("linear decay to zero after a warmup: best regret over the LR grid (its mean over "
          "±0.125 decades) @ that lr_scale")
    print(f"{'workload':10s}" + "".join(f" | warmup {w:<18.2f}" for w in WARMUPS))
    for name in names:
        table = load_table(name)
        cells, robust[name] = [], []
        for warmup in WARMUPS:
            configs = [{**replay_learn.linear(s), "warmup": warmup} for s in replay_learn.GRID]
            regrets = replay_learn.regrets_of(table, configs)
            i = int(np.argmin(regrets))
            near = float(regrets[max(i - NEAR, 0):i + NEAR + 1].mean())
            robust[name].append(near)
            cells.append(f"{regrets[i]:.3f} ({near:.3f}) @{replay_learn.GRID[i]:.2f}")
        print(f"{name:10s}" + "".join(f" | {c:25s}" for c in cells))
    print("\nthe warmup chosen leave-one-out (lowest mean of the ±0.125-decade average over the "
          "other training tables):")
    for name in names:
        others = [t for t in train if t != name]
        means = np.mean([robust[t] for t in others], axis=0)
        print(f"  {name:10s} {WARMUPS[int(np.argmin(means))]:.2f}")


def portfolio_table(names: list[str], train: list[str]) -> None:
    import replay_learn
    from replay_table import load_table

    print("\nthe portfolio learned without each table, its shapes' regrets at the best LR of "
          "linear decay there:")
    for name in names:
        table = load_table(name)
        lr = replay_learn.line_search_lr(table)
        shapes = replay_learn.portfolio_without(name, train)
        linear = replay_learn.regrets_of(table, [replay_learn.linear(lr)])[0]
        regrets = replay_learn.regrets_of(table, [replay_learn.at(s, lr) for s in shapes])
        families = ", ".join(f"{s['params']['family']} {r:.3f}"
                             for s, r in zip(shapes, regrets, strict=True))
        print(f"  {name:10s} linear {linear:.3f} | {families}")


def main() -> None:
    from replay_table import built_tables, training_tables

    names, train = built_tables(), training_tables()
    warmup_table(names, train)
    portfolio_table(names, train)


if __name__ == "__main__":
    main()
