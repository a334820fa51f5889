"""Data preparation for study reports: pure functions from a study to plain, frozen records.

Nothing here draws. Each ``get_*`` function reads a study (or its trials) and returns a frozen
dataclass of plain values — numbers, strings and tuples — so tests compare them by equality and
:mod:`autolr.reports.figures` turns them into plotly figures. :func:`get_report_data` fetches the
trials once and builds every record. The records are defined in :mod:`autolr.reports.records`;
the summary is built in :mod:`autolr.reports.summary_data`, the LR and learning curves in
:mod:`autolr.reports.curve_data`, and the leaderboard, best trials, history, importance and
timeline here. Every name of those modules that callers read as ``data.X`` is importable from
here too.

How a trial ended (its *outcome*) is one of ``complete``, ``shortened`` (a run of the fidelity
ladder ended on purpose at its rung: see :mod:`autolr.search.ladder`), ``pruned``, ``diverged``
(pruned by the divergence guard: the ``reason`` user attribute says so), ``failed``, ``running``
or ``waiting``. Shortened runs end PRUNED in Optuna, but they were not cut short by a pruner: they
ran the whole of their (compressed) schedule.

Only full-fidelity complete trials can be "the winner", rank in the best trials, the leaderboard,
the history and the LR curves of the best trials: a shortened run's value is a lower-fidelity
number, often better than any full run's.

When the study confirmed its top configurations on fresh seeds
(:mod:`autolr.search.confirmation`), the winner is the confirmed configuration with the best mean
over its seeds, and the baselines show their confirmed means where they were confirmed; the single
luckiest run stays on show beside it. Confirmation runs (complete ones count as ``confirmation``
in :class:`Counts`) are folded into the trial they repeat: they never rank as configurations of
their own (see :mod:`autolr.reports.confirm_data`). Strings here are raw database text; whoever
renders them escapes them.
"""

from __future__ import annotations

import statistics
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrError
from autolr.reports.confirm_data import (
    ConfirmedConfig,
    PairedDifference,
    SingleRun,
    confirmed_configs,
    is_confirmation,
    standing,
)
from autolr.reports.curve_data import (
    LEARNING_POINTS_BUDGET,
    MAX_LEARNING_POINTS,
    MAX_LR_POINTS,
    MIN_LEARNING_POINTS,
    TOP_CURVES,
    learning_curves,
    lr_curves,
    planned_lr,
    recorded_lr,
)
from autolr.reports.ladder_data import (
    LadderInfo,
    LadderRun,
    LadderRung,
    Promotion,
    ladder_info,
)
from autolr.reports.records import (
    OUTCOMES,
    Bar,
    BaselineResult,
    Counts,
    Curve,
    FailureReason,
    FamilyRow,
    History,
    Importance,
    Leaderboard,
    LearningCurves,
    LrCurves,
    ReportData,
    Summary,
    Timeline,
    TopTrial,
    Winner,
)
from autolr.reports.stored import StudyView, view_of
from autolr.reports.summary_data import (
    baseline_results,
    count_outcomes,
    failure_reasons,
    lr_edge,
    lr_range_text,
    step_costs,
    study_notes,
    summarize,
    winner,
)
from autolr.reports.text import first_line as _first_line
from autolr.reports.text import format_value as _fmt
from autolr.reports.trial_facts import as_int as _int
from autolr.reports.trial_facts import family_of, family_order, outcome, settings_of
from autolr.reports.trial_facts import finite as _finite
from autolr.reports.trial_facts import full_value as _value
from autolr.reports.trial_facts import ranked as _ranked
from autolr.reports.trial_facts import spec_field as _spec_number
from autolr.search.ladder import Ladder, planned_ladder, rung_of
from autolr.trials.first_run import SCRIPT_RUN_ATTR

TOP_TRIALS = 10  # rows of the best-trials table
MIN_IMPORTANCE_TRIALS = 5
UNKNOWN_WORKER = "unknown"


# --- reading trials --------------------------------------------------------------------------
def get_report_data(study: optuna.Study) -> ReportData:
    """Every record of the report, reading the study's trials once."""
    direction = _direction(study)
    view = view_of(study)
    trials = _trials(view)
    settings = settings_of(view.user_attrs)
    ladder = planned_ladder(settings)
    return ReportData(
        summary=summarize(study.study_name, direction, view.user_attrs, trials),
        families=family_order(trials),
        lr_curves=lr_curves(direction, trials, script_run=view.user_attrs.get(SCRIPT_RUN_ATTR)),
        learning_curves=learning_curves(direction, trials, ladder),
        leaderboard=leaderboard(direction, trials),
        top_trials=top_trials(direction, trials),
        history=history(direction, trials),
        importance=get_importance(view.study, trials),
        timeline=timeline(trials, ladder),
        ladder=ladder_info(settings, direction, trials),
    )


def get_summary(study: optuna.Study) -> Summary:
    direction = _direction(study)
    view = view_of(study)
    return summarize(study.study_name, direction, view.user_attrs, _trials(view))


def get_lr_curves(study: optuna.Study, top: int = TOP_CURVES) -> LrCurves:
    return lr_curves(_direction(study), _trials(study), top)


def get_learning_curves(study: optuna.Study) -> LearningCurves:
    view = view_of(study)
    ladder = planned_ladder(settings_of(view.user_attrs))
    return learning_curves(_direction(study), _trials(view), ladder)


def get_leaderboard(study: optuna.Study) -> Leaderboard:
    return leaderboard(_direction(study), _trials(study))


def get_top_trials(study: optuna.Study, n: int = TOP_TRIALS) -> tuple[TopTrial, ...]:
    return top_trials(_direction(study), _trials(study), n)


def get_history(study: optuna.Study) -> History:
    return history(_direction(study), _trials(study))


def get_timeline(study: optuna.Study) -> Timeline:
    view = view_of(study)
    return timeline(_trials(view), planned_ladder(settings_of(view.user_attrs)))


def get_ladder(study: optuna.Study) -> LadderInfo | None:
    """The fidelity ladder of a study (None for a full search, or a ladder not planned yet)."""
    direction = _direction(study)
    view = view_of(study)
    return ladder_info(settings_of(view.user_attrs), direction, _trials(view))


def _trials(study: optuna.Study | StudyView) -> list[FrozenTrial]:
    """The study's trials by number, read once and checked (:mod:`autolr.reports.untrusted`)."""
    return sorted(view_of(study).get_trials(deepcopy=False), key=lambda t: t.number)


def _direction(study: optuna.Study) -> str:
    directions = study.directions
    if len(directions) != 1:
        raise AutolrError(
            f"autolr reports single-objective studies; study {study.study_name!r} has "
            f"{len(directions)} objectives. Use optuna.visualization for it."
        )
    return "maximize" if directions[0] == optuna.study.StudyDirection.MAXIMIZE else "minimize"


# --- families and trials -------------------------------------------------------------------------
def leaderboard(direction: str, trials: Sequence[FrozenTrial]) -> Leaderboard:
    """Per family: how its trials ended and its objectives, the best family first. Confirmation
    runs are counted apart (they repeat a trial on another seed), not ranked; a family's best
    is its best configuration as the best trials rank them (a confirmed one by its mean), so
    the winner's family leads."""
    order = family_order(trials)
    configs = confirmed_configs(direction, trials)
    seeds = {c.number: len(c.values) for c in configs}
    ranked = [(v, t) for v, t in _ranked(direction, trials) if not is_confirmation(t)]
    best_first = standing(direction, trials, configs)
    rows = []
    for family in order:
        everyone = [t for t in trials if family_of(t) == family]
        mine = [t for t in everyone if not is_confirmation(t)]
        scored = sorted(((t.number, v) for v, t in ranked if family_of(t) == family))
        values = tuple(v for _, v in scored)
        best = next(((v, t.number) for v, t in best_first if family_of(t) == family), None)
        ends = Counter(outcome(t) for t in mine)
        rows.append(FamilyRow(
            family=family,
            complete=ends["complete"],
            pruned=ends["pruned"] + ends["diverged"],
            failed=ends["failed"],
            best_value=best[0] if best else None,
            best_number=best[1] if best else None,
            median_value=float(statistics.median(values)) if values else None,
            values=values,
            numbers=tuple(n for n, _ in scored),
            shortened=ends["shortened"],
            confirmations=len(everyone) - len(mine),
            best_seeds=seeds.get(best[1], 1) if best else 1,
        ))
    sign = -1.0 if direction == "maximize" else 1.0
    rows.sort(key=lambda r: (r.best_value is None,
                             r.best_number not in seeds,  # confirmed configurations first
                             sign * r.best_value if r.best_value is not None else 0.0,
                             order.index(r.family)))
    return Leaderboard(tuple(rows), direction)


def top_trials(
    direction: str, trials: Sequence[FrozenTrial], n: int = TOP_TRIALS
) -> tuple[TopTrial, ...]:
    """The best ``n`` complete trials with their schedules: the configurations confirmed on
    fresh seeds first, by their mean, then the others by their value; confirmation runs folded
    into the trial they confirm (``value`` stays each trial's own)."""
    configs = {c.number: c for c in confirmed_configs(direction, trials)}
    rows = []
    for _, trial in standing(direction, trials, tuple(configs.values()))[:n]:
        value = _value(trial)
        assert value is not None
        family = family_of(trial)
        spec = trial.user_attrs.get("spec")
        params = spec.get("params") if isinstance(spec, Mapping) else None
        if not isinstance(params, Mapping):
            prefix = f"{family}."
            params = {k[len(prefix):]: v for k, v in trial.params.items() if k.startswith(prefix)}
        peak = trial.user_attrs.get("lr")
        baseline = trial.user_attrs.get("baseline")
        rows.append(TopTrial(
            number=trial.number, family=family, value=value,
            peak_lr=float(peak) if _finite(peak) else None,
            warmup_steps=_int(_spec_number(trial, "warmup_steps")),
            params=tuple((str(k), _fmt(v)) for k, v in params.items()),
            baseline=str(baseline) if baseline is not None else None,
            confirmed=configs.get(trial.number),
        ))
    return tuple(rows)


# --- history, importance, timeline -------------------------------------------------------------
def history(direction: str, trials: Sequence[FrozenTrial]) -> History:
    """The objective of each complete trial in order, with the best so far (confirmation runs
    left out: they repeat trials on other seeds)."""
    pick = max if direction == "maximize" else min
    numbers, values, families, best = [], [], [], []
    for trial in trials:
        value = _value(trial)
        if value is None or is_confirmation(trial):
            continue
        numbers.append(trial.number)
        values.append(value)
        families.append(family_of(trial))
        best.append(pick(best[-1], value) if best else value)
    return History(tuple(numbers), tuple(values), tuple(families), tuple(best), direction)


def get_importance(
    study: optuna.Study, trials: Sequence[FrozenTrial] | None = None
) -> Importance:
    """Optuna's parameter importances (PED-ANOVA, which copes with conditional parameters), or
    a note saying why there are none."""
    trials = _trials(study) if trials is None else trials
    complete = sum(_value(t) is not None and not is_confirmation(t) for t in trials)
    if complete < MIN_IMPORTANCE_TRIALS:
        shortened = sum(outcome(t) == "shortened" for t in trials)
        return Importance((), (
            f"Parameter importance needs at least {MIN_IMPORTANCE_TRIALS} complete trials; "
            f"this study has {complete}."
            + (f" (Its {shortened} shortened runs do not count: their values are on another "
               "scale.)" if shortened else "")
        ))
    try:
        from optuna.importance import get_param_importances

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = get_param_importances(_without_confirmations(study, trials))
    except Exception as exc:  # Optuna raises several kinds on degenerate studies
        return Importance((), (
            f"Optuna could not compute parameter importances ({type(exc).__name__}: "
            f"{_first_line(exc)})."
        ))
    # most important first; ties by name (Optuna orders them by set iteration, which changes
    # from one process to the next)
    params = tuple(sorted(((str(k), float(v)) for k, v in found.items() if _finite(v)),
                          key=lambda item: (-item[1], item[0])))
    if not params:
        return Importance((), "No parameter varied among the complete trials.")
    return Importance(params, None)


def _without_confirmations(study: optuna.Study, trials: Sequence[FrozenTrial]) -> optuna.Study:
    """An in-memory study of the complete ``trials`` (what Optuna's default evaluator,
    PED-ANOVA, reads)
    without the confirmation runs (repeats of trials that would weigh their parameters twice).
    Always a copy: asking ``study`` itself would read every trial from the database once more
    (over a second for 1,500 trials)."""
    quiet = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line
    try:
        copy = optuna.create_study(directions=study.directions)
    finally:
        optuna.logging.set_verbosity(quiet)
    copy.add_trials([t for t in trials
                     if t.state == TrialState.COMPLETE and not is_confirmation(t)])
    return copy


def timeline(trials: Sequence[FrozenTrial], ladder: Ladder | None = None) -> Timeline:
    """When each trial ran, and on which worker (and on a ``ladder``, at which rung); a trial
    still running ends at the latest time the study knows."""
    started = [t for t in trials if t.datetime_start is not None]
    if not started:
        return Timeline((), (), None)
    origin = min(t.datetime_start for t in started)  # type: ignore[type-var]
    stamps = [t.datetime_complete or t.datetime_start for t in started]
    latest = max(stamps)  # type: ignore[type-var]
    bars, workers = [], {}
    for trial in sorted(started, key=lambda t: (t.datetime_start, t.number)):
        end = trial.datetime_complete or latest
        worker = trial.user_attrs.get("worker")
        worker = str(worker) if worker not in (None, "") else UNKNOWN_WORKER
        workers.setdefault(worker, None)
        bars.append(Bar(
            number=trial.number, worker=worker, family=family_of(trial), outcome=outcome(trial),
            start_s=(trial.datetime_start - origin).total_seconds(),  # type: ignore[operator]
            duration_s=max(0.0, (end - trial.datetime_start).total_seconds()),  # type: ignore[operator]
            rung=rung_of(trial, ladder) if ladder is not None else None,
        ))
    bars.sort(key=lambda b: b.number)
    return Timeline(tuple(bars), tuple(workers), origin.isoformat(timespec="seconds"))


__all__ = [
    "LEARNING_POINTS_BUDGET",
    "MAX_LEARNING_POINTS",
    "MAX_LR_POINTS",
    "MIN_LEARNING_POINTS",
    "OUTCOMES",
    "TOP_CURVES",
    "Bar",
    "BaselineResult",
    "ConfirmedConfig",
    "Counts",
    "Curve",
    "FailureReason",
    "FamilyRow",
    "History",
    "Importance",
    "LadderInfo",
    "LadderRun",
    "LadderRung",
    "Leaderboard",
    "LearningCurves",
    "LrCurves",
    "PairedDifference",
    "Promotion",
    "ReportData",
    "SingleRun",
    "Summary",
    "Timeline",
    "TopTrial",
    "Winner",
    "baseline_results",
    "count_outcomes",
    "failure_reasons",
    "family_order",
    "get_history",
    "get_importance",
    "get_ladder",
    "get_leaderboard",
    "get_learning_curves",
    "get_lr_curves",
    "get_report_data",
    "get_summary",
    "get_timeline",
    "get_top_trials",
    "learning_curves",
    "lr_curves",
    "lr_edge",
    "lr_range_text",
    "planned_lr",
    "recorded_lr",
    "step_costs",
    "study_notes",
    "summarize",
    "winner",
]
