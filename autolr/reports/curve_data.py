"""The curves of a study report: the LR curves of the best trials and of the winner against
each baseline (as recorded while training, or planned from the schedule's closed form), and every
trial's learning curve. Pure functions of a study's trials, returning the records of
:mod:`autolr.reports.records`; every curve is thinned to a bounded number of points so that a
long run or a large study still makes a page a browser can draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optuna.trial import FrozenTrial, TrialState

from autolr.reports.confirm_data import (
    ConfirmedConfig,
    confirmed_configs,
    is_confirmation,
    standing,
)
from autolr.reports.ladder_data import rung_label
from autolr.reports.records import Curve, LearningCurves, LrCurves
from autolr.reports.trial_facts import family_of, outcome
from autolr.reports.trial_facts import finite as _finite
from autolr.reports.trial_facts import full_value as _value
from autolr.reports.trial_facts import last_report as _last_report
from autolr.reports.trial_facts import spec_of as _spec
from autolr.reports.trial_facts import step_unit_of as _step_unit
from autolr.schedules.spec import ScheduleSpec
from autolr.search.ladder import Ladder, rung_of

TOP_CURVES = 5  # LR curves of the best few trials
MAX_LR_POINTS = 256  # per LR curve
LEARNING_POINTS_BUDGET = 60_000  # points over all learning curves together
MAX_LEARNING_POINTS = 400  # per learning curve
MIN_LEARNING_POINTS = 16


# --- LR curves ---------------------------------------------------------------------------------
def _even(n: int, limit: int) -> list[int]:
    """At most ``limit`` evenly spaced indices of ``range(n)``, first and last kept."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def recorded_lr(trial: FrozenTrial, limit: int = MAX_LR_POINTS) -> tuple[tuple, tuple] | None:
    """The LR curve recorded while the trial trained, thinned to ``limit`` points."""
    curve = trial.user_attrs.get("lr_curve")
    if not isinstance(curve, Mapping):
        return None
    steps, lrs = curve.get("steps"), curve.get("lrs")
    if not isinstance(steps, list) or not isinstance(lrs, list) or len(steps) != len(lrs):
        return None
    pairs = [(s, v) for s, v in zip(steps, lrs) if _finite(s) and _finite(v)]
    if not pairs:
        return None
    keep = _even(len(pairs), limit)
    return tuple(pairs[i][0] for i in keep), tuple(float(pairs[i][1]) for i in keep)


def planned_lr(spec: ScheduleSpec, limit: int = MAX_LR_POINTS) -> tuple[tuple, tuple]:
    """The schedule's LR over its whole run, at most ``limit`` points (from the closed form; the
    plateau family, without reports, never cuts)."""
    steps = _even(spec.total_steps, limit)
    if spec.metric_driven:
        return tuple(steps), tuple(spec.lr if i >= spec.warmup_steps
                                   else spec.lr * (i + 1) / (spec.warmup_steps + 1)
                                   for i in steps)
    return tuple(steps), tuple(spec.lr * spec.multiplier(i) for i in steps)


def _lr_curve(
    trial: FrozenTrial, *, prefer_planned: bool, best: bool = False,
    confirmed: ConfirmedConfig | None = None,
) -> Curve | None:
    spec = _spec(trial)
    recorded = recorded_lr(trial)
    planned = None
    # the plateau family's cuts are only known from the recorded curve
    if (
        spec is not None
        and (prefer_planned or recorded is None)
        and not (spec.metric_driven and recorded is not None)
    ):
        planned = planned_lr(spec)
    points = planned or recorded
    if points is None:
        return None
    value = _value(trial) if trial.state == TrialState.COMPLETE else _last_report(trial)
    if confirmed is not None:
        value = confirmed.mean
    baseline = trial.user_attrs.get("baseline")
    return Curve(
        number=trial.number, family=family_of(trial), outcome=outcome(trial), value=value,
        steps=points[0], values=points[1],
        baseline=str(baseline) if baseline is not None else None,
        best=best, planned=planned is not None,
        seeds=len(confirmed.values) if confirmed is not None else 1,
    )


def lr_curves(direction: str, trials: Sequence[FrozenTrial], top: int = TOP_CURVES, *,
              script_run: object = None) -> LrCurves:
    """The LR curves of the best ``top`` complete trials (as recorded; a configuration confirmed
    on fresh seeds with its mean), and the winner against each baseline's schedule over the
    whole run; under ``--metric``, against the script as it is too (``script_run``: the study's
    record of its first run, with the LR curve the script set)."""
    configs = {c.number: c for c in confirmed_configs(direction, trials)}
    ranked = [t for _, t in standing(direction, trials, tuple(configs.values()))]
    best = ranked[0] if ranked else None
    top_curves = tuple(
        c for i, t in enumerate(ranked[:top])
        if (c := _lr_curve(t, prefer_planned=False, best=i == 0,
                           confirmed=configs.get(t.number))) is not None
    )
    versus: list[Curve] = []
    if best is not None:
        first = _lr_curve(best, prefer_planned=False, best=True,
                          confirmed=configs.get(best.number))
        if first is not None:
            versus.append(first)
        baselines: dict[str, FrozenTrial] = {}
        for trial in trials:
            name = trial.user_attrs.get("baseline")
            if (name is not None and trial.number != best.number and trial.user_attrs.get("spec")
                    and not is_confirmation(trial)):
                baselines[str(name)] = trial
        for trial in baselines.values():
            curve = _lr_curve(trial, prefer_planned=True, confirmed=configs.get(trial.number))
            if curve is not None:
                versus.append(curve)
        own = script_as_it_is(script_run)
        if own is not None:
            versus.append(own)
    return LrCurves(top_curves, tuple(versus), _step_unit(trials))


def script_as_it_is(record: object, limit: int = MAX_LR_POINTS) -> Curve | None:
    """The LR the script set in the study's first run (``--metric``), as a baseline's curve;
    None without a readable record."""
    if not isinstance(record, Mapping):
        return None
    curve = record.get("lr_curve")
    steps = curve.get("steps") if isinstance(curve, Mapping) else None
    lrs = curve.get("lrs") if isinstance(curve, Mapping) else None
    if not isinstance(steps, list) or not isinstance(lrs, list) or len(steps) != len(lrs):
        return None
    pairs = [(s, float(v)) for s, v in zip(steps, lrs, strict=True) if _finite(s) and _finite(v)]
    if not pairs:
        return None
    keep = _even(len(pairs), limit)
    value = record.get("value")
    return Curve(-1, "its own", "complete", float(value) if _finite(value) else None,
                 tuple(pairs[i][0] for i in keep), tuple(pairs[i][1] for i in keep),
                 baseline="the script as it is")


# --- learning curves ---------------------------------------------------------------------------
def learning_curves(
    direction: str, trials: Sequence[FrozenTrial], ladder: Ladder | None = None
) -> LearningCurves:
    """Every trial's reported values against step, thinned so that all curves together stay
    within a budget of points (first and last report always kept); on a ``ladder``, each with
    the rung it reached. The winner's first run is the best curve."""
    order = standing(direction, trials, confirmed_configs(direction, trials))
    best = order[0][1].number if order else None
    series = []
    for trial in trials:
        points = sorted(
            (s, float(v)) for s, v in trial.intermediate_values.items() if _finite(v)
        )
        if points:
            series.append((trial, points))
    per_curve = MAX_LEARNING_POINTS
    if series:
        per_curve = max(MIN_LEARNING_POINTS,
                        min(MAX_LEARNING_POINTS, LEARNING_POINTS_BUDGET // len(series)))
    downsampled = False
    curves = []
    for trial, points in series:
        keep = _even(len(points), per_curve)
        downsampled |= len(keep) < len(points)
        baseline = trial.user_attrs.get("baseline")
        curves.append(Curve(
            number=trial.number, family=family_of(trial), outcome=outcome(trial),
            value=_value(trial) if trial.state == TrialState.COMPLETE else points[-1][1],
            steps=tuple(points[i][0] for i in keep), values=tuple(points[i][1] for i in keep),
            baseline=str(baseline) if baseline is not None else None,
            best=trial.number == best,
            rung=rung_of(trial, ladder) if ladder is not None else None,
        ))
    rungs = tuple(rung_label(ladder, k) for k in range(ladder.top + 1)) if ladder else ()
    return LearningCurves(tuple(curves), direction, downsampled, rungs)
