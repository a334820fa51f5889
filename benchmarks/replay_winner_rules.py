"""Which confirmed configuration should win: rules compared on the same replayed studies.

Each replayed default study (``search="lr_first"``) is run once; the winner is then picked from
its confirmed configurations by each rule, so the comparison is paired:

- ``mean``: the best mean over the first run and the confirmation runs (autolr's rule);
- ``fresh``: the best mean over the confirmation runs alone (free of the selection's bias);
- ``worst``: the best worst seed (pessimistic: a configuration whose seeds disagree loses);
- ``bound``: the best mean plus one standard error of it (a noisy configuration, such as one
  at a hot LR, must win by more);
- ``guarded``: the best mean, unless its paired difference from the constant baseline on the
  shared confirmation seeds is within noise (under two standard errors): then the constant
  baseline (the script's LR held);
- ``pooled``: the best mean, except that a configuration of the line search's shape (linear
  decay to zero, no warmup) is scored by a Gaussian process over log LR fit to every run of that
  shape (line search, baseline and their confirmations): a run's value is one seed's draw, and
  its neighbours in LR say how much of it was luck;
- ``pooled_fresh``: as ``pooled``, the other configurations by their confirmation runs alone.

``python benchmarks/replay_winner_rules.py measure digits,friedman,char,logreg 10,20 100 OUT
[SPREAD]`` appends one line per study (normalized regret of each rule's winner, and whether it
is worse than the script's own schedule) to OUT; SPREAD shifts each study's script LR as
``replay_paired.py`` does;
``python benchmarks/replay_winner_rules.py summary OUT`` prints each rule's mean and the paired
differences, with 95% intervals.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import read_lines
from replay_paired import interval
from replay_studies import measure_studies, replayed_default

RULES = ("mean", "fresh", "worst", "bound", "guarded", "pooled", "pooled_fresh")


def one(job: tuple[str, int, int, float]) -> dict[str, Any]:
    """One replayed default study of ``(workload, budget, seed, LR spread)`` and each rule's
    winner."""
    import replay_methods

    import autolr
    from autolr.search import confirmation

    name, n, seed, spread = job
    table, shift, result = replayed_default(name, n, seed, spread, "rules")
    own_value = table.true_value(replay_methods.own_spec(table, shift))
    trials = result.study.get_trials(deepcopy=False)
    sign = 1 if table.direction == "minimize" else -1
    every = confirmation.confirmed(trials)
    row: dict[str, Any] = {"w": name, "n": n, "seed": seed}
    if not every:
        return row
    keys = {
        "mean": lambda c: sign * c.mean,
        "fresh": lambda c: sign * statistics.fmean(
            [v for r, v in zip(c.rounds, c.values, strict=True) if r is not None]),
        "worst": lambda c: max(sign * v for v in c.values),
        "bound": lambda c: sign * c.mean + c.std / math.sqrt(len(c.values)),
    }
    picks = {rule: min(every, key=lambda c, key=key: (key(c), c.number))
             for rule, key in keys.items()}
    constant = next((c for c in every if c.baseline == "constant"), None)
    comparison = confirmation.against_baseline(picks["mean"], every)
    picks["guarded"] = (constant if constant is not None and comparison is not None
                        and not comparison.too_few_seeds and comparison.within_noise
                        else picks["mean"])
    smooth = _pooled_line(trials, sign)
    for rule, other in (("pooled", keys["mean"]), ("pooled_fresh", keys["fresh"])):
        picks[rule] = min(every, key=lambda c, other=other: (
            smooth[c.number] if c.number in smooth else other(c), c.number))
    for rule, best in picks.items():
        spec = autolr.ScheduleSpec.from_json(trials[best.number].user_attrs["spec"])
        value = table.true_value(spec)
        row[rule] = table.regret(value)
        row[f"{rule}_worse"] = table.worse(value, own_value)
    return row


def _pooled_line(trials: list[Any], sign: int) -> dict[int, float]:
    """The line search's shape, smoothed: for each of its first runs (trial number), the
    posterior mean (times ``sign``: lower is better) at its log LR of a Gaussian process fit to
    every finished full-length run of that shape, confirmations included, with a noise term."""
    import numpy as np
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    from autolr.search.lr_first import LINE_SEARCH_ATTR

    by_number = {t.number: t for t in trials}

    def of_line(t: Any) -> bool:
        first = by_number.get(t.user_attrs.get("confirms"), t)
        return (first.user_attrs.get(LINE_SEARCH_ATTR) is True
                or first.user_attrs.get("baseline") == "linear")

    runs = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None
            and math.isfinite(t.value) and of_line(t) and "lr_scale" in t.params]
    firsts = [t for t in runs if "confirms" not in t.user_attrs]
    if len({round(math.log10(t.params["lr_scale"]), 6) for t in runs}) < 3:
        return {}
    x = np.array([[math.log10(t.params["lr_scale"])] for t in runs])
    y = np.array([sign * float(t.value) for t in runs])
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(0.5, (0.1, 5.0))
              + WhiteKernel(0.1, (1e-6, 10.0)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=0).fit(x, y)
    mean = gp.predict(np.array([[math.log10(t.params["lr_scale"])] for t in firsts]))
    return {t.number: float(m) for t, m in zip(firsts, mean, strict=True)}


def measure(names: str, budgets: str, seeds: int, out: str, spread: str = "0") -> None:
    measure_studies(one, names.split(","), [int(n) for n in budgets.split(",")], seeds,
                    Path(out), float(spread))


def _interval(values: list[float]) -> str:
    mean, half = interval(values)
    return f"{mean:+.3f}±{half:.3f}"


def summary(path: str) -> None:
    rows = [r for r in read_lines(Path(path)) if "mean" in r]
    for key in sorted({(r["w"], r["n"]) for r in rows}):
        cell = [r for r in rows if (r["w"], r["n"]) == key]
        line = f"{key[0]:9s} N={key[1]:2d} ({len(cell)})"
        rules = [rule for rule in RULES if all(rule in r for r in cell)]
        for rule in rules:
            line += f"  {rule} {_interval([r[rule] for r in cell])}"
            if f"{rule}_worse" in cell[0]:
                line += f" (worse than own {sum(r[f'{rule}_worse'] for r in cell)})"
        for rule in rules[1:]:
            line += f" | {rule}-mean {_interval([r[rule] - r['mean'] for r in cell])}"
        print(line)


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], *sys.argv[6:7])
