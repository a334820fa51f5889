"""Confirmation: the top configurations re-run on fresh seeds, and the winner by its mean.

A trial's value is one seed's draw, and the best of many draws is the luckiest: a schedule that
won on one seed by a hair can re-train worse than the script's own. So when the search part of
the budget is spent, the top ``k`` full-fidelity configurations and the constant baseline (the
script's own LR, held) are run again on ``m`` fresh seeds, the same seeds for every
configuration, so that differences are paired. The winner is the configuration with the best
mean over all its seeds; the single luckiest trial stays ``study.best_trial``.

Confirmation runs are ordinary trials with the user attributes ``confirms`` (the number of the
trial whose configuration they repeat), ``confirm_round`` (0 .. m-1) and their own ``seed``;
they count toward ``n_trials``. By default they take about a sixth of the budget (at least the
three runs that confirm the top two and the baseline on one fresh seed; from a budget of 20 full
runs on, the top three and the baseline on two fresh seeds; never more than half of what the
baselines leave), spent on as many configurations (up to 3) and seeds (up to 2) as it buys; see
:func:`default_plan`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.search.ladder import fidelity_of, params_key

CONFIRM_SEED_BASE = 2 * 10**6  # confirmation round j trains on trial_seed(study seed, BASE + j)
MAX_TOP = 3
MAX_SEEDS = 2
MIN_SHARED_SEEDS = 2  # shared seeds before a paired difference has a standard error
# (configurations, seeds) in the order the default plan prefers them as the budget grows
_PLANS = ((1, 1), (2, 1), (3, 1), (2, 2), (3, 2))
WIDE_FROM = 20  # full runs: from this budget on, confirmation buys at least the last plan


def default_plan(n_trials: int, baselines: int) -> tuple[int, int]:
    """``(k, m)`` for a budget of ``n_trials`` full runs of which ``baselines`` are baselines:
    the largest plan whose runs (the constant baseline re-run too, when the study has one) fit
    in a sixth of the budget, rounded up, and at least 3; from :data:`WIDE_FROM` full runs on,
    at least the runs of the top 3 on 2 fresh seeds. Never more than half of what the baselines
    leave for the search. ``(0, 0)`` when nothing fits.

    Why the wider share from 20 runs: by then the search has run its structured part (the LR
    line search, the baselines, the shape portfolio), and its further single-seed candidates
    add more of the winner's curse (the luckiest of many noisy runs) than information. Replayed
    on the six schedule tables (``benchmarks/replay_paired.py``, 100 studies each), the
    top 3 on 2 seeds at N = 20 had a lower regret than the top 3 on 1 on every table, with the
    intervals apart on four; at N = 10 a wider share cut the line search short and lost."""
    share = max(math.ceil(n_trials / 6), 3)
    if n_trials >= WIDE_FROM:
        share = max(share, plan_runs(_PLANS[-1], with_baseline=baselines > 0))
    share = min(share, (n_trials - baselines) // 2)
    plan = (0, 0)
    for k, m in _PLANS:
        if plan_runs((k, m), with_baseline=baselines > 0) <= share:
            plan = (k, m)
    return plan


def plan_runs(plan: tuple[int, int], *, with_baseline: bool = True) -> int:
    """The runs a plan costs: ``k`` configurations (and the constant baseline), ``m`` seeds
    each."""
    k, m = plan
    return (k + with_baseline) * m if k and m else 0


def is_confirmation(trial: FrozenTrial) -> bool:
    return "confirms" in trial.user_attrs


def _full_complete(trial: FrozenTrial) -> bool:
    return (
        trial.state == TrialState.COMPLETE and trial.value is not None
        and math.isfinite(trial.value) and fidelity_of(trial) == 1.0
    )


@dataclass(frozen=True)
class Pending:
    """A confirmation run to queue: ``origin``'s parameters on round ``round_``'s seed."""

    origin: int
    params: dict[str, Any]
    round_: int
    seed: int
    baseline: str | None


def candidates(
    trials: Sequence[FrozenTrial], direction: str, k: int
) -> tuple[list[FrozenTrial], FrozenTrial | None]:
    """The top ``k`` full-fidelity configurations (their first complete run each, best first;
    the constant baseline apart) and the constant baseline's run."""
    sign = -1.0 if direction == "maximize" else 1.0
    seen: set[str] = set()
    ranked = []
    constant = None
    for trial in sorted((t for t in trials if _full_complete(t) and not is_confirmation(t)),
                        key=lambda t: (sign * t.value, t.number)):  # type: ignore[operator]
        key = params_key(trial.params)
        if key in seen:
            continue
        seen.add(key)
        if trial.user_attrs.get("baseline") == "constant":
            constant = trial
        else:
            ranked.append(trial)
    return ranked[:k], constant


def pending(
    trials: Sequence[FrozenTrial],
    direction: str,
    plan: tuple[int, int],
    round_seed: Any,
) -> list[Pending]:
    """The confirmation runs still to queue for ``plan``: for the top ``k`` and the constant
    baseline, each of the ``m`` rounds not yet run (or queued) for it. ``round_seed(j)`` gives
    round ``j``'s seed."""
    k, m = plan
    if not k or not m:
        return []
    top, constant = candidates(trials, direction, k)
    done = {
        (t.user_attrs["confirms"], t.user_attrs.get("confirm_round"))
        for t in trials if is_confirmation(t) and _counts_as_run(t)
    }
    runs = []
    for origin in [*top, *([constant] if constant is not None else [])]:
        for round_ in range(m):
            if (origin.number, round_) not in done:
                baseline = origin.user_attrs.get("baseline")
                runs.append(Pending(origin.number, dict(origin.params), round_,
                                    round_seed(round_), baseline))
    return runs


def _counts_as_run(trial: FrozenTrial) -> bool:
    """A confirmation that ran, runs or waits to run (an interrupted one is queued again)."""
    return not (trial.state == TrialState.FAIL
                and trial.user_attrs.get("reason") in ("interrupted", "abandoned", "stopped"))


def steps_of_confirmations(trials: Sequence[FrozenTrial], total_steps: int) -> int:
    """The steps confirmation runs have taken (running ones at full length)."""
    used = 0
    for trial in trials:
        if not is_confirmation(trial) or trial.state == TrialState.WAITING:
            continue
        steps = trial.user_attrs.get("steps")
        used += steps if isinstance(steps, int) else total_steps
    return used


def started_confirmations(trials: Sequence[FrozenTrial]) -> int:
    """Confirmation runs started (running or ended), less those cut short and queued again."""
    return sum(is_confirmation(t) and t.state != TrialState.WAITING and _counts_as_run(t)
               for t in trials)


# --- the confirmed figures ---------------------------------------------------------------------
@dataclass(frozen=True)
class Confirmed:
    """One configuration's values over all its seeds (its first run and its confirmations)."""

    number: int  # the trial confirmed (whose spec is exported)
    values: tuple[float, ...]
    seeds: tuple[int, ...]
    rounds: tuple[int | None, ...]  # None for the first run, else the confirmation round
    baseline: str | None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self) -> str:
        """``0.0841 ± 0.0040 (3 seeds)``."""
        n = len(self.values)
        return f"{self.mean:.6g} ± {self.std:.2g} ({n} seed{'s' if n != 1 else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "seeds": list(self.seeds),
                "values": list(self.values)}


@dataclass(frozen=True)
class Comparison:
    """The winner against the constant baseline on the same (confirmation) seeds."""

    difference: float  # winner minus baseline, mean over the shared seeds
    standard_error: float | None  # of the paired differences; None below MIN_SHARED_SEEDS
    seeds: int

    @property
    def too_few_seeds(self) -> bool:
        """Fewer shared seeds than a spread of paired differences needs: nothing can be said."""
        return self.standard_error is None

    @property
    def within_noise(self) -> bool:
        """Smaller than twice its standard error (or no error to judge it by)."""
        return self.standard_error is None or abs(self.difference) < 2 * self.standard_error

    @property
    def verdict(self) -> str:
        """``beyond noise``, ``within noise``, or ``too few seeds`` (one shared seed)."""
        if self.too_few_seeds:
            return "too few seeds"
        return "within noise" if self.within_noise else "beyond noise"

    def text(self) -> str:
        if self.too_few_seeds:
            return (f"{self.difference:+.4g} against the constant baseline on "
                    f"{self.seeds} shared seed: too few to tell; autolr confirm --seeds "
                    f"{MIN_SHARED_SEEDS + 1} runs more")
        return (f"{self.difference:+.4g} ± {self.standard_error:.2g} against the constant "
                f"baseline on the same {self.seeds} seeds ({self.verdict})")


def confirmed(trials: Sequence[FrozenTrial]) -> list[Confirmed]:
    """Every configuration with at least one finished confirmation, with all its values."""
    by_number = {t.number: t for t in trials}
    groups: dict[int, list[FrozenTrial]] = {}
    for trial in trials:
        origin = trial.user_attrs.get("confirms")
        if isinstance(origin, int) and origin in by_number and _full_complete(trial):
            groups.setdefault(origin, []).append(trial)
    result = []
    for origin, runs in groups.items():
        first = by_number[origin]
        if not _full_complete(first):
            continue
        runs = sorted(runs, key=lambda t: (t.user_attrs.get("confirm_round", 0), t.number))
        every = [first, *runs]
        result.append(Confirmed(
            number=origin,
            values=tuple(float(t.value) for t in every),  # type: ignore[arg-type]
            seeds=tuple(int(t.user_attrs.get("seed", -1)) for t in every),
            rounds=(None, *(t.user_attrs.get("confirm_round") for t in runs)),
            baseline=first.user_attrs.get("baseline"),
        ))
    return sorted(result, key=lambda c: c.number)


def winner(trials: Sequence[FrozenTrial], direction: str) -> Confirmed | None:
    """The confirmed configuration with the best mean (ties: the earlier trial); None when no
    configuration is confirmed."""
    sign = -1.0 if direction == "maximize" else 1.0
    every = confirmed(trials)
    if not every:
        return None
    return min(every, key=lambda c: (sign * c.mean, c.number))


def against_baseline(
    best: Confirmed, every: Sequence[Confirmed]
) -> Comparison | None:
    """``best`` minus the constant baseline on the confirmation rounds both ran: the mean
    paired difference and, from :data:`MIN_SHARED_SEEDS` shared rounds on, its standard error.
    One shared round gives a difference but no spread of differences to judge it by (each
    configuration's own spread says nothing of how their difference varies)."""
    constant = next((c for c in every if c.baseline == "constant"), None)
    if constant is None or constant.number == best.number:
        return None
    mine = {r: v for r, v in zip(best.rounds, best.values) if r is not None}
    theirs = {r: v for r, v in zip(constant.rounds, constant.values) if r is not None}
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    differences = [mine[r] - theirs[r] for r in shared]
    mean = statistics.fmean(differences)
    error = None
    if len(differences) >= MIN_SHARED_SEEDS:
        error = statistics.stdev(differences) / math.sqrt(len(differences))
    return Comparison(difference=mean, standard_error=error, seeds=len(shared))


def identical_repeats(trials: Sequence[FrozenTrial]) -> tuple[FrozenTrial, FrozenTrial] | None:
    """A confirmation that reported exactly its origin's value on another seed: the sign of a
    script that seeds itself."""
    by_number = {t.number: t for t in trials}
    for trial in trials:
        origin = by_number.get(trial.user_attrs.get("confirms"))  # type: ignore[arg-type]
        if origin is None or not (_full_complete(trial) and _full_complete(origin)):
            continue
        if trial.value == origin.value and trial.user_attrs.get("seed") != origin.user_attrs.get(
            "seed"
        ):
            return origin, trial
    return None


def seeds_itself_message(origin: FrozenTrial, repeat: FrozenTrial) -> str:
    return (
        f"Trial {repeat.number} repeats trial {origin.number}'s configuration on another seed "
        f"({repeat.user_attrs.get('seed')} instead of {origin.user_attrs.get('seed')}) and "
        f"reported exactly the same value ({origin.value:.10g}): the script seeds itself, so "
        "every trial trains on the same draw and the study cannot tell a better schedule from "
        "a lucky seed. Pass each trial's seed to it (autolr tune SCRIPT --seed-arg --seed, "
        "naming the option your script reads its seed from; --seed-arg --seed= for a parser "
        "that takes only --key=value), or seed from autolr.seed() in the script: "
        "torch.manual_seed(autolr.seed(default=args.seed)). A script with no seed option and a "
        "fixed seed of its own needs one before its schedules can be told apart."
    )
