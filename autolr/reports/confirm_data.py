"""The confirmation records of a study report: the configurations re-run on fresh seeds, their
means, and each one's paired difference to the constant baseline.

Pure functions of a study's trials built on :mod:`autolr.search.confirmation` (the figures ``autolr
tune`` and ``autolr show`` print), returning frozen records (see :mod:`autolr.reports.data`).
A confirmation run repeats a configuration on another seed: the report folds it into the trial
it confirms and never ranks it as a configuration of its own. When a study has confirmations its
winner is the configuration with the best mean over its seeds; the single luckiest run is shown
beside it, not taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial

from autolr.reports.trial_facts import family_of, full_value, ranked
from autolr.search import confirmation


@dataclass(frozen=True)
class PairedDifference:
    """A configuration minus the constant baseline on the confirmation seeds both ran
    (:class:`autolr.search.confirmation.Comparison`)."""

    difference: float
    standard_error: float | None
    seeds: int  # the confirmation seeds both ran
    within_noise: bool  # smaller than twice its standard error (or no error to judge it by)
    text: str  # "-0.05 ± 0.014 against the constant baseline on the same 2 seeds (beyond noise)"
    verdict: str  # "within noise", "beyond noise", or "too few seeds" (one shared seed)


@dataclass(frozen=True)
class ConfirmedConfig:
    """One configuration re-run on fresh seeds: its value on every seed and their mean."""

    number: int  # its first run (the trial the confirmation runs repeat)
    family: str
    baseline: str | None
    trials: tuple[int, ...]  # its first run, then its confirmation runs by round
    seeds: tuple[int, ...]
    rounds: tuple[int | None, ...]  # None for the first run, else the confirmation round
    values: tuple[float, ...]
    mean: float
    std: float  # 0 over a single value
    text: str  # "0.0841 ± 0.004 (3 seeds)"
    versus_constant: PairedDifference | None  # None for the baseline itself, or no shared seed
    winner: bool = False  # the best mean: the study's winner


@dataclass(frozen=True)
class SingleRun:
    """The single luckiest full-fidelity run (what ``study.best_trial`` is)."""

    number: int
    value: float
    confirms: int | None = None  # the configuration it repeats, when a confirmation run


def is_confirmation(trial: FrozenTrial) -> bool:
    return confirmation.is_confirmation(trial)


def confirmed_configs(
    direction: str, trials: Sequence[FrozenTrial]
) -> tuple[ConfirmedConfig, ...]:
    """Every configuration with a finished confirmation, the best mean (the winner) first."""
    every = confirmation.confirmed(trials)
    if not every:
        return ()
    best = confirmation.winner(trials, direction)
    by_number = {t.number: t for t in trials}
    sign = -1.0 if direction == "maximize" else 1.0
    rows = []
    for c in sorted(every, key=lambda c: (sign * c.mean, c.number)):
        # the runs behind c.values, in the same order (autolr.search.confirmation.confirmed)
        runs = sorted(
            (t for t in trials
             if t.user_attrs.get("confirms") == c.number and full_value(t) is not None),
            key=lambda t: (t.user_attrs.get("confirm_round", 0), t.number),
        )
        comparison = confirmation.against_baseline(c, every)
        rows.append(ConfirmedConfig(
            number=c.number, family=family_of(by_number[c.number]),
            baseline=str(c.baseline) if c.baseline is not None else None,
            trials=(c.number, *(t.number for t in runs)), seeds=c.seeds, rounds=c.rounds,
            values=c.values, mean=c.mean, std=c.std, text=c.text(),
            versus_constant=_paired(comparison),
            winner=best is not None and c.number == best.number,
        ))
    return tuple(rows)


def _paired(comparison: confirmation.Comparison | None) -> PairedDifference | None:
    if comparison is None:
        return None
    return PairedDifference(
        difference=comparison.difference, standard_error=comparison.standard_error,
        seeds=comparison.seeds, within_noise=comparison.within_noise, text=comparison.text(),
        verdict=comparison.verdict,
    )


def luckiest(direction: str, trials: Sequence[FrozenTrial]) -> SingleRun | None:
    """The best single full-fidelity run, confirmation runs included."""
    found = ranked(direction, trials)
    if not found:
        return None
    value, trial = found[0]
    origin = trial.user_attrs.get("confirms")
    return SingleRun(trial.number, value, origin if isinstance(origin, int) else None)


def standing(
    direction: str,
    trials: Sequence[FrozenTrial],
    configs: Sequence[ConfirmedConfig] = (),
) -> list[tuple[float, FrozenTrial]]:
    """The complete full-fidelity configurations, best first, each once (confirmation runs
    folded into the trial they confirm): the configurations confirmed on fresh seeds first, by
    their mean (the winner first), then the others by their single value; ``(figure, trial)``
    with the mean as the figure of a confirmed one. ``configs``: :func:`confirmed_configs`."""
    means = {c.number: c.mean for c in configs}
    sign = -1.0 if direction == "maximize" else 1.0
    scored = [(means.get(t.number, v), t) for v, t in ranked(direction, trials)
              if not is_confirmation(t)]
    return sorted(scored, key=lambda vt: (vt[1].number not in means, sign * vt[0],
                                          vt[1].number))


__all__ = [
    "ConfirmedConfig",
    "PairedDifference",
    "SingleRun",
    "confirmed_configs",
    "is_confirmation",
    "luckiest",
    "standing",
]
