"""Would running the script's own schedule as a baseline pay for itself? Measured on the tables
before autolr builds it.

A script that states its own schedule (``autolr.scheduler(..., default=...)``) could have it run
as a baseline and confirmed beside the winner, so that the study returns the script's own
schedule whenever the winner does not beat it on the same seeds. That costs runs the search
no longer has: the own schedule's first run and one run per confirmation round. Each replayed
study here is paired:

- ``lr_first``: the default search with a budget of N full runs, as ``replay.py`` replays it;
- ``own_baseline``: the own schedule run beside the other baselines. The default search with
  N - (1 + m) full runs and the confirmation plan of a budget of N (``m`` rounds), then the
  script's own schedule, trained on the seed of the constant baseline's first run and on the
  ``m`` confirmation seeds; the study returns the own schedule when its mean over those seeds is
  better than the winner's mean over its own seeds (the rule a study applies to every confirmed
  configuration).
- ``own_for_constant``: the own schedule run in the constant baseline's place, at no extra
  cost. The ``lr_first`` study itself, with the constant baseline's runs (its first run and its
  confirmations) read as the own schedule's on the same seeds: the winner is the best mean of
  the other confirmed configurations and the own schedule.

On the tables whose script's own schedule is the constant one (digits, logreg, cancer) autolr
already runs and confirms it, so the two are the same there; this measures the others.

``python benchmarks/replay_own_baseline.py measure char,friedman,cnn 10,20 100 OUT`` appends one
line per study to OUT (both variants' normalized regret, whether each is worse than the script's
own schedule, by how much, and the table's seed-to-seed spread);
``python benchmarks/replay_own_baseline.py summary OUT`` prints each variant's mean and the
paired difference with 95% intervals, and the counts of winners worse than own.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import read_lines
from replay_paired import interval
from replay_studies import command, replayed_default

VARIANTS = ("lr_first", "own_baseline", "own_for_constant")
SPREAD = 0.5  # decades, as replay.py shifts each study's script LR


def one(job: tuple[str, int, int]) -> dict[str, Any]:
    """Both variants of one replayed default study of ``(workload, budget, seed)``."""
    import replay_methods

    import autolr
    from autolr.search import confirmation

    name, n, seed = job
    table, shift, plain = replayed_default(name, n, seed, SPREAD, "plain")
    own = replay_methods.own_spec(table, shift)
    own_value = table.true_value(own)
    sign = 1 if table.direction == "minimize" else -1
    row: dict[str, Any] = {"w": name, "n": n, "seed": seed, "seed_sd": table.seed_sd()}

    def scored(key: str, spec: autolr.ScheduleSpec) -> None:
        value = table.true_value(spec)
        row[key] = table.regret(value)
        row[key + "_gap"] = sign * (value - own_value)  # > 0: worse than own

    scored("lr_first", plain.best_spec)
    trials = plain.study.get_trials(deepcopy=False)
    every = confirmation.confirmed(trials)
    others = [c for c in every if c.baseline != "constant"]
    constant = next((c for c in every if c.baseline == "constant"), None)
    winner = plain.best_spec
    if constant is not None:
        own_mean = statistics.fmean(table.curve(own, s)[-1][1] for s in constant.seeds)
        best = min(others, key=lambda c: sign * c.mean, default=None)
        if best is None or sign * own_mean < sign * best.mean:
            winner = own
        else:
            by_number = {t.number: t for t in trials}
            winner = autolr.ScheduleSpec.from_json(by_number[best.number].user_attrs["spec"])
    scored("own_for_constant", winner)
    plan = confirmation.default_plan(n, 3)
    _, m = plan
    _, _, smaller = replayed_default(name, n - (1 + m), seed, SPREAD, "smaller", confirm=plan)
    trials = smaller.study.get_trials(deepcopy=False)
    every = confirmation.confirmed(trials)
    best = confirmation.winner(trials, table.direction)
    constant = next((c for c in every if c.baseline == "constant"), None)
    winner = smaller.best_spec
    if best is not None and constant is not None:
        seeds = constant.seeds  # the constant baseline's first run and its confirmation rounds
        own_values = [table.curve(own, s)[-1][1] for s in seeds]
        own_mean = statistics.fmean(own_values)
        if sign * own_mean < sign * best.mean:
            winner = own
    scored("own_baseline", winner)
    return row


def summary(out: Path) -> str:
    rows = read_lines(out)
    lines = []
    for key in sorted({(r["w"], r["n"]) for r in rows}):
        group = [r for r in rows if (r["w"], r["n"]) == key]
        parts = [f"{key[0]:9s} N={key[1]:<3d} ({len(group)})"]
        for variant in VARIANTS:
            mean, half = interval([r[variant] for r in group])
            worse = sum(r[variant + "_gap"] > 0 for r in group)
            beyond = sum(r[variant + "_gap"] > r["seed_sd"] for r in group)
            parts.append(f"{variant} {mean:.3f}±{half:.3f} (worse than own {worse}, by more "
                         f"than one seed sd {beyond})")
        for variant in VARIANTS[1:]:
            mean, half = interval([r[variant] - r["lr_first"] for r in group])
            parts.append(f"{variant}-lr_first {mean:+.3f}±{half:.3f}")
        lines.append("  ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    command(one, summary, __doc__)
