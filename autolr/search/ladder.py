"""The fidelity ladder: how a study spends a budget of N full runs on many shortened ones.

Read this first. Every schedule family is a closed form over *fractions* of the run, so any
schedule can be run whole (warmup, decay, restarts and all) in a fraction f of the steps: a
run at *fidelity* f follows its schedule compressed into ``round(f x total_steps)`` steps and is
ended by autolr at the script's first report at or after that step. Its value is that report.
A schedule compressed like this ranks schedules nearly as well as a second seed of the full run
does, where the full run's own value at the same step (what ordinary pruners compare) favours
schedules that have already decayed.

The ladder is a few fidelities, its *rungs* (by default 1/9, 1/3 and 1, with ``eta = 3``),
searched by asynchronous successive halving (ASHA, Li et al., 2020):

- a new configuration (sampled by TPE) starts at the lowest rung;
- whenever a worker is free, a configuration in the best ``1/eta`` of the results at its rung so
  far, not promoted yet, is re-run from scratch at the next rung with the same parameters
  (scripts are not checkpointed; the promoted run pays its lower rung again, and the budget
  counts it). The highest rung is served first. Workers never wait for a rung to fill;
- only full-fidelity runs (the top rung, and the baseline trials) can be the winner.

The rungs are placed where the script reports: each requested fidelity moves to the nearest
report position (in ``scheduler.step()`` calls, seen in the first full run), so that a
shortened run ends exactly where its compressed schedule ends. A rung under
:data:`MIN_RUNG_STEPS` steps, or with no report within a factor ``sqrt(eta)`` of it, is
dropped; when no rung below 1 is left (a run too short, a script that reports only at the end)
the study runs the full search instead and says why.

The budget: ``n_trials = N`` is the compute of N full runs, ``N x total_steps`` scheduler
steps, counted from every run's recorded ``steps`` (pruned, failed and promoted runs included;
a run still going counts the steps it is planned to take). A run starts only when it fits. New
configurations are sampled while fewer than the *plan* have started: what the budget left after
the full runs outside the ladder (the baselines) buys, when each new configuration costs its
expected share of the ladder, ``sum_k f_k / eta**k`` full runs (its own run at rung 0, the
``1/eta`` of them promoted to rung 1, and so on). ASHA never promotes more than ``1/eta`` of a
rung, so the plan fits the budget; what is left at the end (runs that diverged early cost less)
promotes the next-best configurations closest to the top, when their way to the top fits.

The sampler learns from one rung: the highest one with :data:`MIN_SAMPLER_RESULTS` results,
never from a mix of fidelities (a value at 1/9 of the run and a full run's value are not on one
scale).

How a ladder study is stored (every run is an Optuna trial, readable by Optuna's tools):

- user attributes ``fidelity`` (float in (0, 1]) and ``rung`` (0 is the lowest) on every run of
  the ladder, and ``promoted_from`` (the trial number of the run it repeats one rung lower);
- a shortened run that reached its rung ends PRUNED with ``reason = "shortened"``; Optuna
  stores its last report as its value and its reports as intermediate values. PRUNED, not
  COMPLETE, so that ``study.best_trial`` and every Optuna tool that looks for the best trial see
  only full-fidelity runs (shortened values are lower-fidelity numbers, often better than any
  full run's, and must never be taken for the winner);
- the study's settings (user attribute ``autolr``) hold ``search`` (``"ladder"`` or ``"full"``),
  the requested rungs and ``eta``, and once planned the ``ladder`` itself (see
  :meth:`Ladder.to_dict`), so that resuming continues the same ladder.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.search.lr_first import LINE_SEARCH_ATTR, SHAPE_SEARCH_ATTR
from autolr.search.sampling import INFORMATIVE_FAILURES
from autolr.search.strategy import Job

DEFAULT_FIDELITIES = (1 / 9, 1 / 3, 1.0)
DEFAULT_ETA = 3
MIN_RUNG_STEPS = 10  # scheduler steps: fewer cannot show a schedule's shape (warmup, decay)
# Results a rung needs before the sampler learns from it. BOHB (Falkner et al., 2018) models
# the highest budget with d + 1 observations, d the dimensions of the space (here the family,
# the peak LR, the warmup and up to three family parameters); a little more for TPE, which
# splits the results into a good and a bad part. A higher rung ranks schedules more like the
# full run does (benchmarks/results/fidelity.md), so the sampler moves up as soon as it can.
MIN_SAMPLER_RESULTS = 10
# A metric-driven family (plateau) cuts the LR on its reports: a run with fewer reports than
# this cannot show what it does, so such configurations start at the lowest rung that has them.
MIN_METRIC_REPORTS = 3
SHORTENED = "shortened"  # the ``reason`` of a run ended on purpose at its rung

# --- the ladder ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ladder:
    """The rungs of a study: fidelities (ascending, the last 1), their steps, and ``eta``."""

    fidelities: tuple[float, ...]
    steps: tuple[int, ...]  # scheduler steps of a run at each rung; the last is total_steps
    eta: int
    requested: tuple[float, ...]  # the fidelities asked for, before they moved to reports
    notes: tuple[str, ...] = ()  # how the requested ladder was shortened or moved
    reports: tuple[int, ...] | None = None  # reports a run at each rung makes (None: unknown)

    @property
    def top(self) -> int:
        """The index of the full-fidelity rung."""
        return len(self.fidelities) - 1

    @property
    def total_steps(self) -> int:
        return self.steps[-1]

    def entry_rung(self, metric_driven: bool) -> int:
        """The rung a new configuration starts at: the lowest, except for metric-driven
        families, which start at the lowest rung whose runs make :data:`MIN_METRIC_REPORTS`
        reports (the top when none does): fewer reports leave such a schedule nothing to act
        on, and it would run as a constant LR."""
        if not metric_driven or self.reports is None:
            return 0
        return next((r for r, n in enumerate(self.reports) if n >= MIN_METRIC_REPORTS),
                    self.top)

    def cost(self) -> float:
        """A new configuration's expected share of the ladder, in full runs:
        ``sum_k f_k / eta**k``."""
        return sum(f / self.eta**k for k, f in enumerate(self.fidelities))

    def describe(self) -> str:
        """The rungs in words: ``23, 69 and 184 steps (0.125, 0.375, 1 of the run), eta 3``."""
        steps = [f"{s:,}" for s in self.steps]
        shown = ", ".join(steps[:-1]) + f" and {steps[-1]}" if len(steps) > 1 else steps[0]
        fractions = ", ".join(f"{f:.3g}" for f in self.fidelities)
        return f"{shown} steps ({fractions} of the run), eta {self.eta}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fidelities": list(self.fidelities), "steps": list(self.steps), "eta": self.eta,
            "requested": list(self.requested), "notes": list(self.notes),
            "reports": list(self.reports) if self.reports is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ladder:
        return cls(
            fidelities=tuple(float(f) for f in data["fidelities"]),
            steps=tuple(int(s) for s in data["steps"]),
            eta=int(data["eta"]),
            requested=tuple(float(f) for f in data.get("requested", data["fidelities"])),
            notes=tuple(data.get("notes", ())),
            reports=tuple(int(n) for n in data["reports"]) if data.get("reports") else None,
        )


def planned_ladder(settings: Mapping[str, Any] | None) -> Ladder | None:
    """The ladder a study's settings hold once it is planned; None for a full search, a
    ladder not planned yet, or settings that do not describe one."""
    data = settings.get("ladder") if isinstance(settings, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    try:
        ladder = Ladder.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None
    valid = ladder.fidelities and len(ladder.fidelities) == len(ladder.steps) and (
        ladder.steps[-1] > 0)
    return ladder if valid else None


def cost_of(fidelities: Sequence[float], eta: int) -> float:
    """:meth:`Ladder.cost` of a requested ladder (its expected share per configuration)."""
    return sum(f / eta**k for k, f in enumerate(fidelities))


def with_top(fidelities: Sequence[float]) -> tuple[float, ...]:
    """The requested fidelities with the full-fidelity rung 1 added when missing."""
    values = tuple(float(f) for f in fidelities)
    return values if values and values[-1] == 1.0 else (*values, 1.0)


def plan_ladder(
    requested: Sequence[float], eta: int, total_steps: int, report_steps: Iterable[int]
) -> tuple[Ladder | None, str]:
    """The ladder a script can honour, or ``(None, why)`` when it can honour no rung below 1.

    ``report_steps`` are the ``scheduler.step()`` counts at which the first full run reported.
    Each requested fidelity below 1 moves to the nearest report position of at least
    :data:`MIN_RUNG_STEPS` steps, within a factor ``sqrt(eta)`` of ``round(f x total_steps)``;
    a rung that has none, or lands on the rung below it, is dropped. The notes of the ladder
    (and the reason, with None) say what changed, for the study to show.
    """
    requested = with_top(requested)
    report_steps = [int(s) for s in report_steps]
    positions = sorted({s for s in report_steps if 0 < s < total_steps})
    usable = [s for s in positions if s >= MIN_RUNG_STEPS]
    tolerance = math.log(eta) / 2
    kept: list[int] = []
    notes: list[str] = []
    for fraction in requested[:-1]:
        target = max(1, round(fraction * total_steps))
        label = f"rung {fraction:.3g} ({target:,} steps)"
        nearest = min(usable, key=lambda s: abs(math.log(s / target)), default=None)
        if nearest is None or abs(math.log(nearest / target)) > tolerance:
            if target < MIN_RUNG_STEPS:
                notes.append(f"{label} dropped: under the {MIN_RUNG_STEPS}-step minimum")
            else:
                notes.append(f"{label} dropped: the script reports nowhere near that step")
            continue
        if kept and nearest <= kept[-1]:
            notes.append(f"{label} dropped: its nearest report is the rung below's")
            continue
        if nearest != target:
            notes.append(f"{label} moved to {nearest:,} steps, where the script reports")
        kept.append(nearest)
    if not kept:
        if not positions:
            why = (
                "the script reports only at the end of its run, so no shortened run can be "
                "ended early. Call autolr.report after every epoch (or evaluation) to use it"
            )
        elif all(round(f * total_steps) < MIN_RUNG_STEPS for f in requested[:-1]):
            why = (
                f"total_steps={total_steps:,} is too small: every shortened rung would train "
                f"fewer than {MIN_RUNG_STEPS} steps"
            )
        else:
            why = "; ".join(notes)
        return None, f"The fidelity ladder cannot be used: {why}."
    ladder = Ladder(
        fidelities=(*(s / total_steps for s in kept), 1.0),
        steps=(*kept, total_steps),
        eta=eta,
        requested=requested,
        notes=tuple(notes),
        reports=tuple(sum(0 < p <= s for p in report_steps) for s in (*kept, total_steps)),
    )
    return ladder, ""


# --- what the trials say -------------------------------------------------------------------------
def fidelity_of(trial: FrozenTrial) -> float:
    """A trial's fidelity: its ``fidelity`` attribute, 1 for trials without one."""
    value = trial.user_attrs.get("fidelity")
    return float(value) if isinstance(value, (int, float)) and 0 < value <= 1 else 1.0


def rung_of(trial: FrozenTrial, ladder: Ladder | None) -> int | None:
    """A trial's rung: its ``rung`` attribute; full-fidelity trials outside the ladder (the
    baselines) stand on the top rung; None where it has no place on ``ladder``."""
    rung = trial.user_attrs.get("rung")
    if isinstance(rung, int) and not isinstance(rung, bool):
        if ladder is None or 0 <= rung <= ladder.top:
            return rung
        return None
    if fidelity_of(trial) == 1.0:
        return ladder.top if ladder is not None else 0
    return None


def is_result(trial: FrozenTrial) -> bool:
    """Whether a finished trial is its configuration's result at its rung: complete, shortened,
    pruned (diverged), or failed in the training code. Interrupted and abandoned runs are not
    (they are queued again)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    # the failures that say something about the configuration, as the sampler sees them too
    return (trial.state == TrialState.FAIL
            and trial.user_attrs.get("reason") in INFORMATIVE_FAILURES)


def usable_value(trial: FrozenTrial) -> float | None:
    """The value a result is ranked by; None for a run that diverged or failed (the worst)."""
    if trial.state == TrialState.FAIL or trial.user_attrs.get("reason") == "diverged":
        return None
    value = trial.value
    return float(value) if value is not None and math.isfinite(value) else None


def planned_steps(trial: FrozenTrial, total_steps: int | None) -> int | None:
    """The steps a run is planned to take: its fidelity's share of ``total_steps``."""
    if total_steps is None:
        return None
    return max(1, round(fidelity_of(trial) * total_steps))


def steps_used(trial: FrozenTrial, total_steps: int | None) -> int | None:
    """What a trial cost: its recorded ``steps``, else (running, or abandoned before it could
    record them) its planned steps; 0 for a trial that never started. None while unknown."""
    if trial.state == TrialState.WAITING:
        return 0
    steps = trial.user_attrs.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool):
        return steps
    if trial.state == TrialState.FAIL and trial.datetime_start is None:
        return 0
    return planned_steps(trial, total_steps)


# --- the ASHA board ------------------------------------------------------------------------------
class LadderBoard:
    """Where every configuration of a ladder study stands, built from the study's trials.

    Everything is derived from the trials (their ``rung``, ``promoted_from`` and values), so the
    board is the same in any process and after a resume; :meth:`started` records a run this
    process starts until the next :meth:`rebuild`.
    """

    def __init__(self, ladder: Ladder, direction: str, trials: Sequence[FrozenTrial]) -> None:
        self.ladder = ladder
        self.sign = -1.0 if direction == "maximize" else 1.0
        self.rebuild(trials)

    def rebuild(self, trials: Sequence[FrozenTrial]) -> None:
        ladder = self.ladder
        self.results: list[list[tuple[tuple[int, float, int], FrozenTrial]]] = [
            [] for _ in ladder.fidelities
        ]
        self.promoted: set[int] = set()
        self.running = 0
        self.waiting: list[FrozenTrial] = []
        self.new_started = 0  # configurations that entered the ladder at its lowest rung
        self.direct_started = 0  # configurations run at full fidelity at once (see next_job)
        self.used_steps = 0  # every trial's steps, recorded or planned
        self.outside_steps = 0  # of those, the full runs outside the ladder (baselines)
        for trial in trials:
            used = steps_used(trial, ladder.total_steps) or 0
            self.used_steps += used
            if "rung" not in trial.user_attrs:
                self.outside_steps += used
            source = trial.user_attrs.get("promoted_from")
            if isinstance(source, int) and not isinstance(source, bool):
                self.promoted.add(source)
            if trial.state == TrialState.WAITING:
                self.waiting.append(trial)
                continue
            if trial.state == TrialState.RUNNING:
                self.running += 1
            rung = rung_of(trial, ladder)
            fresh = "rung" in trial.user_attrs and not (
                {"requeued_from", "promoted_from"} & trial.user_attrs.keys()
            )
            if fresh and (rung == 0 or "entered_from" in trial.user_attrs):
                self.new_started += 1
            elif fresh and rung == ladder.top:
                self.direct_started += 1
            repeat = "confirms" in trial.user_attrs  # a confirmation: another seed, not a result
            if rung is not None and trial.state.is_finished() and is_result(trial) and not repeat:
                self.results[rung].append((self._key(trial), trial))
        for rung in self.results:
            rung.sort(key=lambda item: item[0])

    def _key(self, trial: FrozenTrial) -> tuple[int, float, int]:
        """Sort key, best first: usable values by value, then the runs that diverged or failed."""
        value = usable_value(trial)
        if value is None:
            return (1, 0.0, trial.number)
        return (0, self.sign * value, trial.number)

    def started(self, job: Job, steps: int) -> None:
        """Count a run this process just started."""
        self.running += 1
        self.used_steps += steps
        if job.kind == "new" and job.rung == 0:
            self.new_started += 1
        elif job.kind == "new":
            self.direct_started += 1
        if job.source is not None:
            self.promoted.add(job.source)
        if job.kind == "waiting" and self.waiting:
            self.waiting.pop(0)

    def regraded(self, old_steps: int, new_steps: int) -> None:
        """A run this process started moved to another rung (see :meth:`Ladder.entry_rung`)."""
        self.used_steps += new_steps - old_steps

    def plan(self, budget_steps: int, reserved_steps: int = 0) -> tuple[int, int]:
        """New configurations the budget buys: what is left after the full runs outside the
        ladder and ``reserved_steps``, over a configuration's expected share of the ladder;
        and how many full runs that leaves over (a budget too small for the ladder's first
        configurations is spent on configurations run at full fidelity at once)."""
        free = budget_steps - self.outside_steps - reserved_steps
        share = self.ladder.cost() * self.ladder.total_steps
        configurations = max(0, math.floor(free / share + 1e-9))
        if free < sum(self.ladder.steps):  # not even one configuration's way to the top
            configurations = 0
        rest = free - configurations * share
        return configurations, max(0, math.floor(rest / self.ladder.total_steps + 1e-9))

    def promotable(self, rung: int, *, quota: bool = True) -> FrozenTrial | None:
        """The best result at ``rung`` not promoted yet, within the best ``1/eta`` of the
        results there so far (ASHA's rule) unless ``quota`` is False; runs that diverged or
        failed are never promoted."""
        ranked = self.results[rung]
        limit = len(ranked) // self.ladder.eta if quota else len(ranked)
        for key, trial in ranked[:limit]:
            if key[0] == 0 and trial.number not in self.promoted:
                return trial
        return None

    def next_job(self, budget_steps: int, reserved_steps: int = 0) -> Job | None:
        """The run a free worker should start, or None when none fits now (wait while runs are
        going; stop when none is). ``reserved_steps`` of the budget are kept for runs outside
        the search (confirmations): the search plans and starts runs within the rest; queued
        trials may use all of it."""
        ladder = self.ladder
        left = budget_steps - self.used_steps
        if self.waiting:
            trial = self.waiting[0]
            rung = rung_of(trial, ladder)
            fidelity = fidelity_of(trial)
            steps = planned_steps(trial, ladder.total_steps) or ladder.total_steps
            if steps > left:
                return None
            return Job("waiting", rung, fidelity)
        left -= reserved_steps
        # A run starts only when its configuration's way to the top fits in what is left: a
        # run that could never reach a full-fidelity result would be spent for nothing.
        for rung in reversed(range(ladder.top)):  # ASHA: the highest rung first
            trial = self.promotable(rung)
            if trial is not None and sum(ladder.steps[rung + 1:]) <= left:
                return self._promotion(trial, rung + 1)
        plan, direct = self.plan(budget_steps, reserved_steps)
        if self.new_started < plan and sum(ladder.steps) <= left:
            return Job("new", 0, ladder.fidelities[0])
        if self.running:
            return None
        # Nothing runs and ASHA promotes nothing: what is left promotes the next-best
        # configuration closest to the top whose way to the top fits.
        for rung in reversed(range(ladder.top)):
            if sum(ladder.steps[rung + 1:]) > left:
                continue
            trial = self.promotable(rung, quota=False)
            if trial is not None:
                return self._promotion(trial, rung + 1)
        if self.direct_started < direct and ladder.total_steps <= left:
            return Job("new", ladder.top, 1.0)
        return None

    def _promotion(self, trial: FrozenTrial, rung: int) -> Job:
        return Job("promote", rung, self.ladder.fidelities[rung], source=trial.number,
                   params=dict(trial.params))

    def learning_rung(self) -> int:
        """The rung the sampler learns from: the highest with enough results, else the lowest."""
        for rung in reversed(range(len(self.results))):
            if len(self.results[rung]) >= MIN_SAMPLER_RESULTS:
                return rung
        return 0


def learning_trials(
    ladder: Ladder | None, trials: Sequence[FrozenTrial], rung: int
) -> list[FrozenTrial]:
    """The trials as the sampler (and the LR-edge rule) should see them: the results at
    ``rung`` as COMPLETE trials with their rung value, running and failed trials as they are,
    and every other finished trial hidden (another fidelity, another scale)."""
    if ladder is None:
        return list(trials)
    seen = []
    for trial in trials:
        if not trial.state.is_finished() or trial.state == TrialState.FAIL:
            seen.append(trial)
            continue
        if rung_of(trial, ladder) != rung:
            continue
        if trial.state == TrialState.PRUNED and trial.user_attrs.get("reason") == SHORTENED:
            value = trial.value
            if value is None or not math.isfinite(value):
                continue
            shown = copy.copy(trial)
            shown.state = TrialState.COMPLETE
            shown.values = [value]
            seen.append(shown)
        else:
            seen.append(trial)
    return seen


def study_learning_trials(
    settings: Mapping[str, Any], trials: Sequence[FrozenTrial], direction: str
) -> list[FrozenTrial]:
    """:func:`learning_trials` of a stored study: the rung its sampler learns from now (all the
    trials as they are for a full search, or a ladder not planned yet)."""
    ladder = planned_ladder(settings)
    if ladder is None:
        return list(trials)
    board = LadderBoard(ladder, direction, trials)
    return learning_trials(ladder, trials, board.learning_rung())


# --- summaries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RungSummary:
    """One rung of a study: its place and what ran there."""

    rung: int
    fidelity: float
    steps: int
    runs: int  # finished results at this rung (baselines included at the top)
    promoted: int  # of those, promoted to the next rung
    best: float | None


@dataclass(frozen=True)
class LadderSummary:
    """A ladder study in numbers: rungs, configurations and compute against the budget."""

    ladder: Ladder
    rungs: tuple[RungSummary, ...]
    configurations: int  # distinct configurations tried at the lowest rung
    steps_used: int
    budget_runs: int | None  # N, the budget in full runs
    full_search_steps: int  # what running every configuration once at full length would cost

    @property
    def runs_used(self) -> float:
        """Compute spent, in full runs."""
        return self.steps_used / self.ladder.total_steps

    def lines(self) -> list[str]:
        """The summary in a few lines, for the end-of-run table and ``autolr show``."""
        ladder = self.ladder
        out = [f"Fidelity ladder: {ladder.describe()}."]
        if ladder.notes:
            out.append(f"  ({'; '.join(ladder.notes)})")
        for rung in self.rungs:
            where = "full runs" if rung.rung == ladder.top else f"runs at {rung.steps:,} steps"
            promoted = f", {rung.promoted} promoted" if rung.rung < ladder.top else ""
            out.append(f"  rung {rung.rung} ({rung.fidelity:.3g}): {rung.runs} {where}{promoted}")
        budget = f" of {self.budget_runs}" if self.budget_runs else ""
        saved = ""
        if self.full_search_steps:
            share = self.steps_used / self.full_search_steps
            saved = (f"; training each configuration at full length would have cost "
                     f"{self.full_search_steps / ladder.total_steps:.1f} ({share:.0%} used)")
        out.append(f"  compute: {self.runs_used:.1f}{budget} full runs "
                   f"({self.steps_used:,} steps){saved}")
        return out


def summarize(
    settings: Mapping[str, Any], trials: Sequence[FrozenTrial], direction: str
) -> LadderSummary | None:
    """The ladder summary of a study (None for a full search, or a ladder not planned yet)."""
    ladder = planned_ladder(settings)
    if ladder is None:
        return None
    board = LadderBoard(ladder, direction, trials)
    promoted_from = board.promoted
    rungs = []
    for rung, results in enumerate(board.results):
        values = [key[1] for key, _ in results if key[0] == 0]
        best = board.sign * min(values) if values else None
        rungs.append(RungSummary(
            rung=rung, fidelity=ladder.fidelities[rung], steps=ladder.steps[rung],
            runs=len(results),
            promoted=sum(t.number in promoted_from for _, t in results),
            best=best,
        ))
    configurations = len({
        params_key(t.params) for t in trials
        if t.params and ("rung" in t.user_attrs or "baseline" in t.user_attrs)
    })
    budget = settings.get("n_trials")
    return LadderSummary(
        ladder=ladder, rungs=tuple(rungs), configurations=configurations,
        steps_used=board.used_steps,
        budget_runs=budget if isinstance(budget, int) else None,
        full_search_steps=configurations * ladder.total_steps,
    )


def params_key(params: Mapping[str, Any]) -> str:
    """One configuration's parameters as a key (the same for every run of it)."""
    return repr(sorted(params.items()))


def requeue_params(trial: FrozenTrial) -> dict[str, Any]:
    """The configuration a run queued again repeats: what it was queued with (a baseline, a
    promotion, a confirmation: all fixed before the first parameter is sampled) and what was
    sampled. Empty for a fresh trial stopped before its first parameter: the sampler draws a
    new one instead."""
    fixed = trial.system_attrs.get("fixed_params")
    params = dict(fixed) if isinstance(fixed, dict) else {}
    params.update(trial.params)
    return params


def requeue_attrs(trial: FrozenTrial) -> dict[str, Any]:
    """The user attributes a run queued again (after an interruption or a crash) keeps: what
    it was (a baseline; its rung, fidelity and the run it promotes; the configuration it
    confirms, on the same seed; a run of ``lr_first``'s line search or shape search), and whom
    it repeats."""
    attrs: dict[str, Any] = {"requeued_from": trial.number}
    if "confirms" in trial.user_attrs and "seed" in trial.user_attrs:
        attrs["seed"] = trial.user_attrs["seed"]
    for key in ("baseline", "rung", "fidelity", "promoted_from", "confirms", "confirm_round",
                LINE_SEARCH_ATTR, SHAPE_SEARCH_ATTR):
        if key in trial.user_attrs:
            attrs[key] = trial.user_attrs[key]
    return attrs
