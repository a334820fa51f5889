"""The fidelity-ladder records of a study report: rungs, runs at their rungs, promotions.

Pure functions from a study's settings and trials to frozen records (see
:mod:`autolr.reports.data`); :mod:`autolr.reports.figures` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optuna.trial import FrozenTrial

from autolr.reports.confirm_data import confirmed_configs, is_confirmation, standing
from autolr.reports.trial_facts import family_of, outcome
from autolr.search.ladder import Ladder, is_result, planned_ladder, rung_of
from autolr.search.ladder import summarize as summarize_ladder
from autolr.search.ladder import usable_value as rung_value


@dataclass(frozen=True)
class LadderRung:
    """One rung of the ladder and what ran there (``runs``: its finished results, baselines
    included at the top; ``promoted``: those re-run at the next rung)."""

    rung: int
    fidelity: float
    steps: int
    runs: int
    promoted: int
    best_value: float | None  # the best value at this rung (a lower-fidelity number below the top)
    best_number: int | None


@dataclass(frozen=True)
class LadderRun:
    """One finished run at its rung: a marker of the ladder figure."""

    number: int
    rung: int
    family: str
    outcome: str
    value: float | None  # its value at its rung; None when it diverged or failed
    promoted_from: int | None
    baseline: str | None = None


@dataclass(frozen=True)
class Promotion:
    """A configuration re-run one rung higher: ``source`` at ``rung - 1``, ``target`` at
    ``rung``, same parameters."""

    source: int
    target: int
    rung: int  # the target's rung
    family: str
    source_value: float | None
    target_value: float | None


@dataclass(frozen=True)
class LadderInfo:
    """A ladder study's rungs, runs and promotions, and its compute against the budget."""

    description: str  # the rungs in words (:meth:`autolr.search.ladder.Ladder.describe`)
    eta: int
    requested: tuple[float, ...]  # the fidelities asked for, before they moved to reports
    notes: tuple[str, ...]  # how the requested rungs were moved or dropped
    rungs: tuple[LadderRung, ...]
    configurations: int  # distinct configurations tried
    steps_used: int  # every run's steps, recorded or planned
    total_steps: int  # a full run's steps
    budget_runs: int | None  # N, the budget in full runs
    full_search_steps: int  # every configuration once at full length
    runs: tuple[LadderRun, ...]  # finished results, by trial number
    promotions: tuple[Promotion, ...]  # by target trial number
    winner: int | None  # the best full-fidelity trial (the best confirmed mean, if confirmed)
    direction: str

    @property
    def runs_used(self) -> float:
        """Compute spent, in full runs."""
        return self.steps_used / self.total_steps if self.total_steps else 0.0

    @property
    def full_search_runs(self) -> float:
        return self.full_search_steps / self.total_steps if self.total_steps else 0.0


def rung_label(ladder: Ladder, rung: int) -> str:
    """A rung in words: ``rung 0 (23 steps, 0.125 of the run)``; the top: ``full runs``."""
    if rung == ladder.top:
        return f"rung {rung} (full runs, {ladder.steps[rung]:,} steps)"
    return f"rung {rung} ({ladder.steps[rung]:,} steps, {ladder.fidelities[rung]:.3g} of the run)"


def lineage(
    trial: FrozenTrial, trials: Sequence[FrozenTrial]
) -> tuple[tuple[int, int, float | None], ...]:
    """The lower-rung runs a promoted trial repeats, lowest rung first: (number, rung, value)."""
    by_number = {t.number: t for t in trials}
    chain: list[tuple[int, int, float | None]] = []
    seen = {trial.number}
    source = trial.user_attrs.get("promoted_from")
    while isinstance(source, int) and not isinstance(source, bool) and source not in seen:
        found = by_number.get(source)
        if found is None:
            break
        seen.add(source)
        rung = rung_of(found, None)
        if rung is None:
            break
        chain.append((found.number, rung, rung_value(found)))
        source = found.user_attrs.get("promoted_from")
    return tuple(reversed(chain))


def ladder_info(
    settings: Mapping[str, Any], direction: str, trials: Sequence[FrozenTrial]
) -> LadderInfo | None:
    """A ladder study's rungs (from :func:`autolr.search.ladder.summarize`), every finished run at
    its rung and every promotion; None for a full search or a ladder not planned yet. Confirmation
    runs are not runs of the ladder: they count in the compute spent only."""
    if planned_ladder(settings) is None:
        return None
    summary = summarize_ladder(settings, trials, direction)
    if summary is None:
        return None
    search = [t for t in trials if not is_confirmation(t)]
    if len(search) < len(trials):
        summary = replace(summarize_ladder(settings, search, direction) or summary,
                          steps_used=summary.steps_used)
    ladder = summary.ladder
    sign = -1.0 if direction == "maximize" else 1.0
    by_number = {t.number: t for t in trials}
    runs = []
    for trial in search:
        rung = rung_of(trial, ladder)
        if rung is None or not trial.state.is_finished() or not is_result(trial):
            continue
        source = _source(trial)
        baseline = trial.user_attrs.get("baseline")
        runs.append(LadderRun(
            number=trial.number, rung=rung, family=family_of(trial), outcome=outcome(trial),
            value=rung_value(trial), promoted_from=source,
            baseline=str(baseline) if baseline is not None else None,
        ))
    promotions = []
    for run in runs:
        source = by_number.get(run.promoted_from) if run.promoted_from is not None else None
        if source is None or run.rung == 0:
            continue
        promotions.append(Promotion(
            source=source.number, target=run.number, rung=run.rung, family=run.family,
            source_value=rung_value(source), target_value=run.value,
        ))
    rungs = []
    for info in summary.rungs:
        scored = [(sign * r.value, r.number) for r in runs
                  if r.rung == info.rung and r.value is not None]
        best = min(scored, default=None)
        rungs.append(LadderRung(
            rung=info.rung, fidelity=info.fidelity, steps=info.steps, runs=info.runs,
            promoted=info.promoted, best_value=info.best,
            best_number=best[1] if best is not None else None,
        ))
    best_full = standing(direction, trials, confirmed_configs(direction, trials))
    return LadderInfo(
        description=ladder.describe(), eta=ladder.eta, requested=ladder.requested,
        notes=tuple(str(n) for n in ladder.notes), rungs=tuple(rungs),
        configurations=summary.configurations, steps_used=summary.steps_used,
        total_steps=ladder.total_steps, budget_runs=summary.budget_runs,
        full_search_steps=summary.full_search_steps, runs=tuple(runs),
        promotions=tuple(promotions), winner=best_full[0][1].number if best_full else None,
        direction=direction,
    )


def _source(trial: FrozenTrial) -> int | None:
    source = trial.user_attrs.get("promoted_from")
    return source if isinstance(source, int) and not isinstance(source, bool) else None
