"""The summary of a study report: how its trials ended, the winner and its schedule in words,
the baselines, what the search cost, why trials failed, the LR range searched, and what the page
must say about an empty, tiny or all-failed study. Pure functions of a study's name, settings and
trials, returning the records of :mod:`autolr.reports.records`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.reports.confirm_data import (
    ConfirmedConfig,
    confirmed_configs,
    is_confirmation,
    luckiest,
    standing,
)
from autolr.reports.ladder_data import lineage
from autolr.reports.records import (
    OUTCOMES,
    BaselineResult,
    Counts,
    FailureReason,
    Summary,
    Winner,
)
from autolr.reports.text import first_line as _first_line
from autolr.reports.text import format_value as _fmt
from autolr.reports.trial_facts import as_int as _int
from autolr.reports.trial_facts import family_of, outcome, search_of, settings_of
from autolr.reports.trial_facts import finite as _finite
from autolr.reports.trial_facts import full_value as _value
from autolr.reports.trial_facts import last_report as _last_report
from autolr.reports.trial_facts import spec_field as _spec_number
from autolr.reports.trial_facts import spec_of as _spec
from autolr.reports.trial_facts import step_unit_of as _step_unit
from autolr.schedules.registry import get_family
from autolr.search.ladder import SHORTENED, planned_ladder, planned_steps
from autolr.search.lr_edge import lr_edge_warning, scale_bounds
from autolr.trials.first_run import SCRIPT_RUN_ATTR


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
        baselines=own_schedule(user_attrs) + baseline_results(trials, configs),
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


def own_schedule(user_attrs: Mapping[str, Any]) -> tuple[BaselineResult, ...]:
    """Under ``--metric``: the script as it is, from the study's first run (its one value)."""
    record = user_attrs.get(SCRIPT_RUN_ATTR)
    value = record.get("value") if isinstance(record, Mapping) else None
    if not _finite(value):
        return ()
    return (BaselineResult("the script as it is (its own schedule)", None, "complete",
                           float(value)),)


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
