"""Where the default's regret comes from: the search, the short list, or the final pick.

Each replayed default study (``search="lr_first"``, the script's LR shifted as ``replay.py``
shifts it) is scored three ways, by the table's noise-free values:

- ``found``: the best configuration the study ran to its end at full length (what a perfect
  judge of its finished runs would have returned): the regret the *search* leaves (its pruning
  included);
- ``short_list``: the best of the configurations its confirmation re-ran (the top ``k`` by
  their first run, and the constant baseline): what the *short list* leaves;
- ``winner``: what the study returned (the best mean over each one's seeds): the *pick*.

``winner - short_list`` is the cost of picking on a few noisy seeds, ``short_list - found`` the
cost of short-listing on one seed, and ``found`` the search's own. ``python
benchmarks/replay_regret_parts.py measure digits,friedman,char,logreg,cnn,cancer 10,20 50 OUT``
appends one line per study to OUT; ``summary OUT`` prints each part's mean with its 95%
interval.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import read_lines
from replay_paired import interval
from replay_studies import command, replayed_default

SPREAD = 0.5  # decades, as replay.py shifts each study's script LR
PARTS = ("found", "short_list", "winner")


def one(job: tuple[str, int, int]) -> dict[str, Any]:
    """The three regrets of one replayed default study of ``(workload, budget, seed)``."""
    import optuna

    import autolr
    from autolr.search import confirmation
    from autolr.search.ladder import fidelity_of

    name, n, seed = job
    table, _, result = replayed_default(name, n, seed, SPREAD, "parts")
    trials = result.study.get_trials(deepcopy=False)
    sign = 1 if table.direction == "minimize" else -1

    def regret_of(numbers: set[int]) -> float:
        values = [table.true_value(autolr.ScheduleSpec.from_json(t.user_attrs["spec"]))
                  for t in trials if t.number in numbers]
        return table.regret(min(values, key=lambda v: sign * v))

    ran = {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE
           and fidelity_of(t) == 1.0 and not confirmation.is_confirmation(t)}
    listed = {c.number for c in confirmation.confirmed(trials)}
    return {"w": name, "n": n, "seed": seed, "found": regret_of(ran),
            "short_list": regret_of(listed) if listed else None,
            "winner": table.regret(table.true_value(result.best_spec))}


def summary(out: Path) -> str:
    rows = [r for r in read_lines(out) if r["short_list"] is not None]
    lines = []
    for key in sorted({(r["w"], r["n"]) for r in rows}):
        group = [r for r in rows if (r["w"], r["n"]) == key]
        parts = [f"{key[0]:9s} N={key[1]:<3d} ({len(group)})"]
        for part in PARTS:
            mean, half = interval([r[part] for r in group])
            parts.append(f"{part} {mean:.3f}±{half:.3f}")
        for a, b in (("short_list", "found"), ("winner", "short_list")):
            mean, half = interval([r[a] - r[b] for r in group])
            parts.append(f"{a}-{b} {mean:+.3f}±{half:.3f}")
        lines.append("  ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    command(one, summary, __doc__)
