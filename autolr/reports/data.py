"""Data preparation for study reports: pure functions from a study to plain, frozen records.

Nothing here draws. Each ``get_*`` function reads a study (or its trials) and returns a frozen
dataclass of plain values — numbers, strings and tuples — so tests compare them by equality and
:mod:`autolr.reports.figures` turns them into plotly figures. :func:`get_report_data` fetches the
trials once and builds every record.

How a trial ended (its *outcome*) is one of ``complete``, ``shortened`` (a run of the fidelity
ladder ended on purpose at its rung: see :mod:`autolr.ladder`), ``pruned``, ``diverged`` (pruned
by the divergence guard: the ``reason`` user attribute says so), ``failed``, ``running`` or
``waiting``. Shortened runs end PRUNED in Optuna, but they were not cut short by a pruner: they
ran the whole of their (compressed) schedule.

Only full-fidelity complete trials can be "the winner", rank in the best trials, the leaderboard,
the history and the LR curves of the best trials: a shortened run's value is a lower-fidelity
number, often better than any full run's.

When the study confirmed its top configurations on fresh seeds (:mod:`autolr.confirmation`), the
winner is the confirmed configuration with the best mean over its seeds, and the baselines show
their confirmed means where they were confirmed; the single luckiest run stays on show beside
it. Confirmation runs (complete ones count as ``confirmation`` in :class:`Counts`) are folded
into the trial they repeat: they never rank as configurations of their own (see
:mod:`autolr.reports.confirm_data`). Strings here are raw database text; whoever renders them
escapes them.
"""

from __future__ import annotations

import statistics
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrError
from autolr.ladder import SHORTENED, Ladder, planned_ladder, planned_steps, rung_of
from autolr.lr_edge import lr_edge_warning, scale_bounds
from autolr.reports.confirm_data import (
    ConfirmedConfig,
    PairedDifference,
    SingleRun,
    confirmed_configs,
    is_confirmation,
    luckiest,
    standing,
)
from autolr.reports.ladder_data import (
    LadderInfo,
    LadderRun,
    LadderRung,
    Promotion,
    ladder_info,
    lineage,
    rung_label,
)
from autolr.reports.stored import StudyView, view_of
from autolr.reports.trial_facts import (
    family_of,
    outcome,
    search_of,
    settings_of,
)
from autolr.reports.trial_facts import finite as _finite
from autolr.reports.trial_facts import full_value as _value
from autolr.reports.trial_facts import ranked as _ranked
from autolr.reports.untrusted import MAX_INT
from autolr.schedules.registry import families as registered_families
from autolr.schedules.registry import get_family
from autolr.schedules.spec import ScheduleSpec

OUTCOMES = ("complete", "shortened", "pruned", "diverged", "failed", "running", "waiting")
TOP_CURVES = 5  # LR curves of the best few trials
TOP_TRIALS = 10  # rows of the best-trials table
MAX_LR_POINTS = 256  # per LR curve
LEARNING_POINTS_BUDGET = 60_000  # points over all learning curves together
MAX_LEARNING_POINTS = 400  # per learning curve
MIN_LEARNING_POINTS = 16
MIN_IMPORTANCE_TRIALS = 5
UNKNOWN_WORKER = "unknown"


# --- records --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    """Trials by outcome."""

    total: int = 0
    complete: int = 0
    shortened: int = 0  # ladder runs that reached their rung (PRUNED in Optuna, not pruned)
    pruned: int = 0
    diverged: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0
    # confirmation runs that completed (one that was pruned, failed or is still to run counts
    # by how it ended)
    confirmation: int = 0


@dataclass(frozen=True)
class FailureReason:
    """Trials that failed for one reason, with the first line of one error as an example."""

    reason: str
    count: int
    example: str


@dataclass(frozen=True)
class Winner:
    """The best complete trial and its schedule, in words and as its formula: when the study
    confirmed its top configurations, the confirmed one with the best mean (``value`` is then
    that mean, ``confirmed`` its every seed, ``best_single_run`` the luckiest run of all)."""

    number: int
    value: float
    family: str
    summary: str  # the family's one-line description
    formula: str  # the multiplier of the peak LR, as the family writes it; "" when unknown
    description: str  # the whole schedule in a sentence or two
    params: tuple[tuple[str, str], ...]  # (name, formatted value)
    peak_lr: float | None
    base_lr: float | None
    warmup_steps: int | None
    total_steps: int | None
    step_unit: str
    seed: int | None
    baseline: str | None
    # the runs of the ladder it climbed, lowest rung first: (trial number, rung, value there)
    lineage: tuple[tuple[int, int, float | None], ...] = ()
    confirmed: ConfirmedConfig | None = None
    best_single_run: SingleRun | None = None  # only when confirmed


@dataclass(frozen=True)
class BaselineResult:
    """How one baseline trial (the script's LR held constant, cosine, linear) ended."""

    name: str
    number: int
    outcome: str
    value: float | None  # the objective, or the last reported value when it did not complete
    confirmed: ConfirmedConfig | None = None  # its values on fresh seeds, when re-run


@dataclass(frozen=True)
class Summary:
    study_name: str
    direction: str
    counts: Counts
    best: Winner | None
    baselines: tuple[BaselineResult, ...]
    steps_spent: int  # scheduler steps every trial took
    steps_unpruned: int  # what the same trials would have cost had none been pruned (a
    # shortened run counted at its own length: the ladder planned it that long)
    step_unit: str
    lr_edge: str | None  # the warning when the best trials sit at an edge of the LR range
    lr_range: str | None  # the peak-LR range searched, in words
    failures: tuple[FailureReason, ...]
    step_mismatches: tuple[str, ...]
    notes: tuple[str, ...]  # what the page must say about an empty / tiny / all-failed study
    search: str | None = None  # "ladder" or "full" (None: a study autolr did not run)
    confirmed: tuple[ConfirmedConfig, ...] = ()  # re-run on fresh seeds, the best mean first


@dataclass(frozen=True)
class Curve:
    """A line of (step, value) points of one trial."""

    number: int
    family: str
    outcome: str
    value: float | None
    steps: tuple[float, ...]
    values: tuple[float, ...]
    baseline: str | None = None
    best: bool = False
    planned: bool = False  # an LR curve computed from the spec (not recorded while training)
    rung: int | None = None  # the ladder rung the run reached (None outside a ladder study)
    seeds: int = 1  # over 1: ``value`` is the configuration's mean over this many seeds


@dataclass(frozen=True)
class LrCurves:
    top: tuple[Curve, ...]  # the best few complete trials, best first
    versus: tuple[Curve, ...]  # the winner, then each baseline (planned over the whole run)
    step_unit: str


@dataclass(frozen=True)
class LearningCurves:
    curves: tuple[Curve, ...]  # every trial with reports, by trial number
    direction: str
    downsampled: bool
    rungs: tuple[str, ...] = ()  # a ladder study's rungs in words, lowest first


@dataclass(frozen=True)
class FamilyRow:
    family: str
    complete: int
    pruned: int  # diverged ones included
    failed: int
    best_value: float | None
    best_number: int | None
    median_value: float | None
    values: tuple[float, ...]  # objectives of the complete trials
    numbers: tuple[int, ...]
    shortened: int = 0  # runs that ended at a lower rung of the ladder
    confirmations: int = 0  # confirmation runs (not counted above: they repeat trials)
    best_seeds: int = 1  # over 1: ``best_value`` is a confirmed configuration's mean


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[FamilyRow, ...]  # best family first; families without a complete trial last
    direction: str


@dataclass(frozen=True)
class TopTrial:
    number: int
    family: str
    value: float
    peak_lr: float | None
    warmup_steps: int | None
    params: tuple[tuple[str, str], ...]
    baseline: str | None
    confirmed: ConfirmedConfig | None = None  # its values on fresh seeds, when re-run


@dataclass(frozen=True)
class History:
    numbers: tuple[int, ...]  # complete trials in order (confirmation runs left out)
    values: tuple[float, ...]
    families: tuple[str, ...]
    best_so_far: tuple[float, ...]
    direction: str


@dataclass(frozen=True)
class Importance:
    params: tuple[tuple[str, float], ...]  # most important first
    note: str | None  # why there are none


@dataclass(frozen=True)
class Bar:
    number: int
    worker: str
    family: str
    outcome: str
    start_s: float  # seconds since the first trial started
    duration_s: float
    rung: int | None = None


@dataclass(frozen=True)
class Timeline:
    bars: tuple[Bar, ...]
    workers: tuple[str, ...]  # in order of first use
    origin: str | None  # ISO time of the first trial's start


@dataclass(frozen=True)
class ReportData:
    summary: Summary
    families: tuple[str, ...]  # every family in the study, in the registry's order
    lr_curves: LrCurves
    learning_curves: LearningCurves
    leaderboard: Leaderboard
    top_trials: tuple[TopTrial, ...]
    history: History
    importance: Importance
    timeline: Timeline
    ladder: LadderInfo | None = None  # a study searched with a planned fidelity ladder


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
        lr_curves=lr_curves(direction, trials),
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


def family_order(trials: Iterable[FrozenTrial]) -> tuple[str, ...]:
    """The families that appear among ``trials``: registered ones in catalogue order, then the
    others alphabetically."""
    present = {family_of(t) for t in trials}
    known = [name for name in registered_families() if name in present]
    return (*known, *sorted(present - set(known)))


def _last_report(trial: FrozenTrial) -> float | None:
    finite = [(s, v) for s, v in trial.intermediate_values.items() if _finite(v)]
    return float(max(finite)[1]) if finite else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _spec(trial: FrozenTrial) -> ScheduleSpec | None:
    """The schedule a trial followed; None when it stored none autolr can draw (an
    unregistered family, a corrupt or hostile attribute, a run too long to plot)."""
    data = trial.user_attrs.get("spec")
    if not isinstance(data, Mapping):
        return None
    try:
        spec = ScheduleSpec.from_json(data)
    except (AutolrError, TypeError, ValueError, OverflowError):
        return None
    return spec if spec.total_steps <= MAX_INT else None


def _spec_number(trial: FrozenTrial, key: str) -> Any:
    data = trial.user_attrs.get("spec")
    return data.get(key) if isinstance(data, Mapping) else None


def _step_unit(trials: Sequence[FrozenTrial]) -> str:
    units = Counter(
        unit for t in trials if isinstance(unit := _spec_number(t, "step_unit"), str)
    )
    unit = units.most_common(1)[0][0] if units else "step"
    return unit if unit in ("batch", "epoch") else "step"


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # a traceback's last line names the exception; a plain message's first line says it all
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line[:300]


# --- summary -----------------------------------------------------------------------------------
def count_outcomes(trials: Iterable[FrozenTrial]) -> Counts:
    """Trials by how they ended; a complete confirmation run is a ``confirmation``."""
    counter = Counter(
        "confirmation" if (end := outcome(t)) == "complete" and is_confirmation(t) else end
        for t in trials
    )
    return Counts(total=sum(counter.values()), **{name: counter[name] for name in OUTCOMES},
                  confirmation=counter["confirmation"])


def summarize(
    study_name: str,
    direction: str,
    user_attrs: Mapping[str, Any],
    trials: Sequence[FrozenTrial],
) -> Summary:
    """The summary of a study from its name, direction, user attributes and trials."""
    counts = count_outcomes(trials)
    configs = confirmed_configs(direction, trials)
    order = standing(direction, trials, configs)
    best = winner(order[0][1], trials) if order else None
    if best is not None and configs and configs[0].number == best.number:
        best = replace(best, value=configs[0].mean, confirmed=configs[0],
                       best_single_run=luckiest(direction, trials))
    settings = settings_of(user_attrs)
    ladder = planned_ladder(settings)
    spent, unpruned = step_costs(trials, ladder.total_steps if ladder is not None else None)
    failures = failure_reasons(trials)
    return Summary(
        study_name=str(study_name),
        direction=direction,
        counts=counts,
        best=best,
        baselines=baseline_results(trials, configs),
        steps_spent=spent,
        steps_unpruned=unpruned,
        step_unit=_step_unit(trials),
        lr_edge=lr_edge(direction, settings, trials),
        lr_range=lr_range_text(settings),
        failures=failures,
        step_mismatches=tuple(dict.fromkeys(
            str(m) for t in trials if (m := t.user_attrs.get("step_mismatch"))
        )),
        notes=study_notes(counts, failures, settings),
        search=search_of(settings),
        confirmed=configs,
    )


def study_notes(
    counts: Counts, failures: Sequence[FailureReason], settings: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """What the page says when there is little or nothing to show, and how the search went when
    it could not use the fidelity ladder."""
    settings = settings or {}
    notes = []
    fallback = settings.get("ladder_fallback")
    if fallback:
        notes.append(f"{fallback} The study ran the full search instead (every run at full "
                     "length).")
    elif search_of(settings) == "ladder" and planned_ladder(settings) is None and counts.total:
        notes.append("The fidelity ladder is not planned yet: its rungs are placed where the "
                     "script reports, once the first full run completes.")
    if counts.total == 0:
        return (*notes, "This study has no trials yet. Run `autolr tune` on it, then make the "
                "report again.")
    if counts.complete == 0:
        ended = counts.failed + counts.pruned + counts.diverged + counts.shortened
        if counts.failed and counts.failed == counts.total:
            text = f"All {counts.total} trials failed, so there is no best schedule."
        elif counts.shortened:
            text = (f"No full-fidelity run has completed yet, so there is no best schedule: the "
                    f"{counts.shortened} shortened run{'s' if counts.shortened != 1 else ''} of "
                    "the fidelity ladder ran compressed schedules, and only a full-length run "
                    "can win.")
        elif ended:
            text = f"None of the {counts.total} trials completed, so there is no best schedule."
        else:
            text = "No trial has finished yet, so there is no best schedule."
        if failures:
            text += f" Most common failure: {failures[0].reason}: {failures[0].example}"
        notes.append(text)
    elif counts.complete == 1:
        notes.append(
            "Only one trial completed: the comparisons below need more. Resume the study with "
            "more trials."
        )
    if counts.running:
        notes.append(f"{counts.running} trial(s) were still running when this report was made.")
    return tuple(notes)


def winner(trial: FrozenTrial, trials: Sequence[FrozenTrial] = ()) -> Winner:
    """The winning trial's schedule in words (``trials``: the study's, for the ladder runs the
    winner repeats)."""
    value = _value(trial)
    assert value is not None
    family = family_of(trial)
    attrs = trial.user_attrs
    spec = _spec(trial)
    chain = lineage(trial, trials)
    base_lr = attrs.get("base_lr") if _finite(attrs.get("base_lr")) else None
    baseline = attrs.get("baseline")
    seed = _int(attrs.get("seed"))
    if spec is None:
        raw = attrs.get("spec") if isinstance(attrs.get("spec"), Mapping) else {}
        params = raw.get("params") if isinstance(raw.get("params"), Mapping) else {}
        if not params:
            prefix = f"{family}."
            params = {k[len(prefix):]: v for k, v in trial.params.items() if k.startswith(prefix)}
        peak = attrs.get("lr") if _finite(attrs.get("lr")) else None
        return Winner(
            number=trial.number, value=value, family=family,
            summary=f"The family {family!r} is not registered in this process.",
            formula="", description=_words(family, params, peak, base_lr, None, None, "step"),
            params=tuple((str(k), _fmt(v)) for k, v in params.items()),
            peak_lr=peak, base_lr=base_lr, warmup_steps=_int(raw.get("warmup_steps")),
            total_steps=_int(raw.get("total_steps")), step_unit=str(raw.get("step_unit", "step")),
            seed=seed, baseline=str(baseline) if baseline is not None else None, lineage=chain,
        )
    info = get_family(spec.family)
    return Winner(
        number=trial.number, value=value, family=spec.family,
        summary=info.summary, formula=" ".join(info.formula.split()),
        description=_words(spec.family, spec.params, spec.lr, base_lr, spec.warmup_steps,
                           spec.total_steps, spec.step_unit),
        params=tuple((k, _fmt(v)) for k, v in spec.params.items()),
        peak_lr=spec.lr, base_lr=base_lr, warmup_steps=spec.warmup_steps,
        total_steps=spec.total_steps, step_unit=spec.step_unit, seed=seed,
        baseline=str(baseline) if baseline is not None else None, lineage=chain,
    )


def _words(
    family: str,
    params: Mapping[str, Any],
    peak: float | None,
    base_lr: float | None,
    warmup: int | None,
    total: int | None,
    unit: str,
) -> str:
    parts = [f"{family} schedule"]
    if params:
        parts[0] += " with " + ", ".join(f"{k} = {_fmt(v)}" for k, v in params.items())
    sentence = parts[0]
    if peak is not None:
        sentence += f"; peak LR {peak:.4g}"
        if base_lr:
            sentence += f" ({peak / base_lr:.3g}× the script's own LR {base_lr:.4g})"
    steps = {"batch": "batch steps", "epoch": "epochs"}.get(unit, "steps")
    if total:
        if warmup:
            sentence += (f", reached after a linear warmup over the first {warmup:,} of "
                         f"{total:,} {steps} ({warmup / total:.0%})")
        else:
            sentence += f", over {total:,} {steps} with no warmup"
    return sentence + "."


def baseline_results(
    trials: Iterable[FrozenTrial], confirmed: Sequence[ConfirmedConfig] = ()
) -> tuple[BaselineResult, ...]:
    """The baseline trials in the order they ran (a requeued baseline: its last run), each with
    its values on fresh seeds where it was ``confirmed``; a confirmation run of a baseline is
    not a baseline run of its own."""
    by_number = {c.number: c for c in confirmed}
    found: dict[str, BaselineResult] = {}
    for trial in trials:
        name = trial.user_attrs.get("baseline")
        if (name is None or trial.state in (TrialState.RUNNING, TrialState.WAITING)
                or is_confirmation(trial)):
            continue
        result = outcome(trial)
        value = _value(trial) if result == "complete" else _last_report(trial)
        found[str(name)] = BaselineResult(str(name), trial.number, result, value,
                                          by_number.get(trial.number))
    return tuple(found.values())


def step_costs(
    trials: Iterable[FrozenTrial], total_steps: int | None = None
) -> tuple[int, int]:
    """Scheduler steps taken by all trials, and what they would have taken unpruned: a pruned
    or diverged trial counted at its planned length (its spec's ``total_steps``; on a ladder of
    full runs of ``total_steps``, its rung's share of them). A shortened run was not pruned: it
    ran the length the ladder planned for it, and counts as it ran."""
    spent = unpruned = 0
    for trial in trials:
        steps = _int(trial.user_attrs.get("steps"))
        steps = steps if steps is not None and steps >= 0 else 0
        spent += steps
        total = _int(_spec_number(trial, "total_steps"))
        if total_steps is not None and "fidelity" in trial.user_attrs:
            total = planned_steps(trial, total_steps)
        if (
            trial.state == TrialState.PRUNED
            and trial.user_attrs.get("reason") != SHORTENED
            and total is not None
            and total > steps
        ):
            unpruned += total
        else:
            unpruned += steps
    return spent, unpruned


def failure_reasons(trials: Iterable[FrozenTrial]) -> tuple[FailureReason, ...]:
    """Failed trials grouped by ``reason``, the most common first."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for trial in trials:
        if trial.state != TrialState.FAIL:
            continue
        reason = str(trial.user_attrs.get("reason") or "failed")
        counts[reason] += 1
        if reason not in examples and trial.user_attrs.get("error"):
            examples[reason] = _first_line(trial.user_attrs["error"])
    return tuple(
        FailureReason(reason, n, examples.get(reason, ""))
        for reason, n in sorted(counts.items(), key=lambda rn: (-rn[1], rn[0]))
    )


def lr_range_text(settings: Mapping[str, Any]) -> str | None:
    """The peak-LR range the study searched, in words (None for a study autolr did not run)."""
    if not settings:
        return None
    bounds = scale_bounds(settings)
    if bounds is None:
        return None
    low, high = bounds
    base_lr = settings.get("base_lr")
    text = f"{low:g}× to {high:g}× the script's own LR"
    if _finite(base_lr):
        text += f" ({low * base_lr:.3g} to {high * base_lr:.3g})"
    if settings.get("lr"):
        text += ", fixed by the user"
    widened = _int(settings.get("widened")) or 0
    if widened:
        text += f", widened {'once' if widened == 1 else f'{widened} times'} during the study"
    return text


def lr_edge(
    direction: str, settings: Mapping[str, Any], trials: Iterable[FrozenTrial]
) -> str | None:
    """The LR-edge warning for the study as it stands (the tuner's own rule and wording)."""
    return lr_edge_warning(direction, settings, trials) if settings else None


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


def lr_curves(direction: str, trials: Sequence[FrozenTrial], top: int = TOP_CURVES) -> LrCurves:
    """The LR curves of the best ``top`` complete trials (as recorded; a configuration confirmed
    on fresh seeds with its mean), and the winner against each baseline's schedule over the
    whole run."""
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
    return LrCurves(top_curves, tuple(versus), _step_unit(trials))


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


# --- the fidelity ladder -------------------------------------------------------------------------
__all__ = [
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
]
