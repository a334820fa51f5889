"""The frozen records of a study report: plain values (numbers, strings, tuples) that tests
compare by equality and :mod:`autolr.reports.figures` and :mod:`autolr.reports.html` draw.

They are built by :mod:`autolr.reports.summary_data` (the summary), :mod:`autolr.reports.curve_data`
(LR and learning curves) and :mod:`autolr.reports.data` (the rest, and :class:`ReportData` of them
all); the confirmation and fidelity-ladder records live beside their builders in
:mod:`autolr.reports.confirm_data` and :mod:`autolr.reports.ladder_data`. Strings here are raw
database text; whoever renders them escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from autolr.reports.confirm_data import ConfirmedConfig, SingleRun
from autolr.reports.ladder_data import LadderInfo

OUTCOMES = ("complete", "shortened", "pruned", "diverged", "failed", "running", "waiting")


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
    """How one baseline trial (the script's LR held constant, cosine, linear) ended; under
    ``--metric``, also the script as it is (its first run, no trial: ``number`` None)."""

    name: str
    number: int | None
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
