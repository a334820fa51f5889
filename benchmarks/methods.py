"""The methods compared at equal compute, and the re-training of their winners.

Compute is counted in optimizer steps, every run's (pruned, shortened and failed runs
included), and shown as *full runs of compute*: steps over the workload's run length. A budget of
N means the compute of N full-length runs: the hand-written studies and autolr's full searches
get N trials (pruned ones count); autolr's fidelity-ladder studies get ``n_trials=N``, which
autolr spends on as many shortened runs as N full runs' steps buy, baselines included.

``autolr``          ``autolr.tune`` with its defaults at N: the fidelity ladder (asynchronous
                    successive halving over runs that follow their whole schedule compressed
                    into 1/9, 1/3 and all of the steps, eta 3), TPE over every built-in family,
                    peak LR 0.1x-10x the script's LR (widened at an edge), warmup 0-20%, the
                    three baseline runs first, and confirmation: when the search part of the
                    budget is spent, the top configurations and the constant baseline re-run on
                    fresh seeds inside the budget; the winner is the best mean over its seeds.
``autolr_half``     the same at half the compute: ``n_trials = max(1, N // 2)``.
``autolr_unconfirmed`` the ladder at N with ``confirm=0``: the whole budget on the search, the
                    winner its single best full-length run (issue #10's comparison at equal
                    compute).
``autolr_full``     autolr's default before the ladder: ``search="full"``, median pruning with a
                    30% grace period, N trials, ``confirm=0``.
``hand``            (a) the script's own schedule at its own LR: no search, 0 steps.
``optuna_lr``       (b) what a user writes today: an Optuna study (``TPESampler(seed)``, Optuna's
                    default ``MedianPruner()``) tuning only the peak LR, log-uniform 0.1x-10x
                    the script's LR, with the script's own schedule.
``random``          (c) random search over autolr's space: ``autolr.tune(search="full",
                    sampler="random", pruner="none", baselines=False, confirm=0)``.
``linear_cosine``   (d) linear-to-zero and cosine-to-zero (with the script's own warmup, if any)
                    at a tuned LR: two Optuna LR studies as in (b), ``ceil(n/2)`` trials for
                    linear and ``floor(n/2)`` for cosine; the better of the two wins.
``schedulefree``    (e) ``schedulefree.AdamWScheduleFree`` (warmup 5% of the run, no schedule) at a
                    tuned LR: an Optuna LR study as in (b) over the workload's Adam-type LR range.
``autolr_none``     autolr's full search with ``pruner="none"`` (the pruning comparison; its
                    recorded curves are replayed through each pruner by ``pruning.py``).
``autolr_hyperband`` autolr's full search with ``pruner="hyperband"``.

(``autolr_full`` is the ``median`` study of the pruning comparison.) The full searches pass
``confirm=0``: they stay what they were before confirmation landed.

For a confirmed study the result records the confirmation runs, every confirmed configuration's
values over its seeds, the confirmed winner's mean ± std, and the study's *luckiest* run: its
best full-length search run (confirmation runs apart), what the study would have returned without
confirming. When confirmation changed the winner, the luckiest run's configuration is re-trained
on the same fresh seeds as the winner, so that the effect of confirmation is measured within one
study.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna
from harness.files import finite
from optuna.trial import TrialState
from workloads import StepMeter, Workload

import autolr
from autolr.search import confirmation as confirming
from autolr.search.ladder import SHORTENED, Ladder, LadderBoard, LadderSummary

METHODS = (
    "autolr", "autolr_half", "autolr_unconfirmed", "autolr_full", "hand", "optuna_lr", "random",
    "linear_cosine", "schedulefree", "autolr_none", "autolr_hyperband", "autolr_lr_first",
    "autolr_lr_first_half",
)
LADDER_METHODS = ("autolr", "autolr_half", "autolr_unconfirmed")
CONFIRMED_METHODS = ("autolr", "autolr_half")  # autolr's default confirmation
AUTOLR_METHODS = ("autolr", "autolr_half", "autolr_unconfirmed", "autolr_full", "random",
                  "autolr_none", "autolr_hyperband", "autolr_lr_first", "autolr_lr_first_half")
LABELS = {
    "autolr": "autolr fidelity ladder, confirmed (the default before lr_first)",
    "autolr_half": "autolr at N/2 (half the compute)",
    "autolr_unconfirmed": "autolr ladder, unconfirmed (confirm=0)",
    "autolr_full": "autolr full search (previous default: median pruning)",
    "hand": "(a) script's own schedule",
    "optuna_lr": "(b) Optuna, LR only",
    "random": "(c) random search, autolr's space",
    "linear_cosine": "(d) linear / cosine, tuned LR",
    "schedulefree": "(e) Schedule-Free AdamW, tuned LR",
    "autolr_none": "autolr, pruner none",
    "autolr_hyperband": "autolr, pruner hyperband",
    "autolr_lr_first": "autolr --search lr_first (confirmed)",
    "autolr_lr_first_half": "autolr --search lr_first at N/2",
}
RETRAIN_SEEDS = (7001, 7002, 7003)  # never used in a search (see _search_seed)
# The training seeds of the hand-written studies derive from these numbers (fixed, so that adding
# methods does not change what (b), (d) and (e) sample).
SEED_INDEX = {"optuna_lr": 2, "linear_cosine": 4, "schedulefree": 5}
LR_SCALE = (0.1, 10.0)  # the LR range of the hand-written studies, as autolr's default


@dataclass
class MethodResult:
    """What one method found and what it cost."""

    workload: str
    method: str
    label: str
    winner: dict[str, Any]  # optimizer, lr, spec (a ScheduleSpec dict, or None), summary
    best_value: float | None  # best final value seen in the search
    trials: int  # runs started (a ladder study's shortened runs included)
    pruned: int  # runs stopped early by a pruner or the divergence guard (not shortened ones)
    failed: int
    steps: int  # optimizer steps trained by the search, pruned and shortened runs included
    steps_recorded: int | None  # the same, summed from autolr's `steps` trial attributes
    wall_s: float
    train_s: float  # seconds inside the training function
    budget_runs: int | None = None  # N: the compute granted, in full runs
    search: str | None = None  # autolr's search: "ladder" or "full"
    shortened: int = 0  # ladder runs ended on purpose at a rung below the top
    configurations: int | None = None  # distinct configurations tried
    ladder: dict[str, Any] | None = None  # rungs and compute of a ladder study
    confirming: int = 0  # confirmation runs (full length, on fresh seeds), in ``trials``
    confirmation: dict[str, Any] | None = None  # what confirmation did (see _confirmation_record)
    retrain: list[float] = field(default_factory=list)
    retrain_seeds: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trial_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def retrain_mean(self) -> float:
        return statistics.fmean(self.retrain) if self.retrain else math.nan

    @property
    def retrain_std(self) -> float:
        return statistics.stdev(self.retrain) if len(self.retrain) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retrain_mean"] = finite(self.retrain_mean)
        data["retrain_std"] = finite(self.retrain_std)
        data["best_value"] = finite(self.best_value)
        data["retrain"] = [finite(v) for v in self.retrain]
        return data


def describe(spec: autolr.ScheduleSpec) -> str:
    """A one-line summary of a schedule: family(params) @ lr, warmup."""
    def short(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, list):
            return "[" + ", ".join(short(x) for x in v) + "]"
        return str(v)

    params = ", ".join(f"{k}={short(v)}" for k, v in spec.params.items()
                       if k not in ("mode", "threshold_mode"))
    warm = f", warmup {spec.warmup_steps}/{spec.total_steps}" if spec.warmup_steps else ""
    return f"{spec.family}({params}) @ {spec.lr:.3g}{warm}"


def _search_seed(method: str, seed: int, number: int) -> int:
    """The training seed of trial ``number`` of a hand-written study (>= 10_000)."""
    return 10_000 + int(np.random.SeedSequence([seed, SEED_INDEX[method], number])
                        .generate_state(1)[0] % 2**30)


# --- autolr ------------------------------------------------------------------------------------


def run_autolr(
    workload: Workload, method: str, n_trials: int, seed: int, *, search: str = "ladder",
    pruner: str | None = None, sampler: str = "tpe", baselines: bool = True,
    confirm: int | None = None,
) -> MethodResult:
    """``autolr.tune`` on the workload's autolr-mode training function: the fidelity ladder
    (``pruner`` must then be None) or a full search with ``pruner``; ``confirm=0`` turns
    confirmation off, None keeps autolr's default."""
    meter = StepMeter()

    def train() -> float:
        return workload.train("autolr", meter=meter)

    options: dict[str, Any] = {"search": search}
    if pruner is not None:
        options["pruner"] = pruner
    if confirm is not None:
        options["confirm"] = confirm
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = autolr.tune(
            train, n_trials=n_trials, sampler=sampler, baselines=baselines, seed=seed,
            study_name=f"{workload.name}_{method}", **options,
        )
    wall = time.perf_counter() - start
    trials = result.study.get_trials(deepcopy=False)
    spec = result.best_spec
    notes = [*result.warnings]
    if result.lr_edge and result.lr_edge not in notes:
        notes.append(result.lr_edge)
    settings = result.study.user_attrs.get("autolr", {})
    if settings.get("widened"):
        low, high = settings["lr_scale"]
        notes.append(f"LR range widened {settings['widened']} time(s) during the study, to "
                     f"{low:g}x-{high:g}x the script's LR")
    summary = result.ladder
    if search == "ladder" and summary is None:
        notes += [*result.notes] or ["the fidelity ladder was not used: a full search ran"]
    recorded = sum(int(t.user_attrs.get("steps", 0)) for t in trials)
    shortened = sum(t.user_attrs.get("reason") == SHORTENED for t in trials)
    pruned = sum(t.state == TrialState.PRUNED for t in trials) - shortened
    learning = _learning_rungs(summary.ladder, trials) if summary is not None else {}
    return MethodResult(
        workload=workload.name, method=method, label=LABELS[method],
        winner={"optimizer": "default", "lr": spec.lr, "spec": spec.to_dict(),
                "summary": describe(spec), "trial": result.best_trial.number},
        best_value=_best_search_value(trials, result),
        trials=len(trials), pruned=pruned,
        failed=sum(t.state == TrialState.FAIL for t in trials),
        steps=meter.steps, steps_recorded=recorded, wall_s=wall, train_s=meter.train_seconds,
        budget_runs=n_trials, search=search if summary is not None else "full",
        shortened=shortened,
        configurations=summary.configurations if summary is not None else len(trials),
        ladder=_ladder_record(summary) if summary is not None else None,
        confirming=sum(confirming.is_confirmation(t) for t in trials),
        confirmation=_confirmation_record(result, trials, n_trials, baselines),
        notes=notes, trial_log=[_autolr_trial(t, learning.get(t.number)) for t in trials],
    )


def _learning_rungs(ladder: Ladder, trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """For each configuration the sampler drew (not a baseline, promotion or confirmation), the
    rung the sampler learned from when it drew it: the study runs one trial at a time in process,
    so that is the rung the finished trials before it put forward (the highest with
    ``MIN_SAMPLER_RESULTS`` results, else the lowest)."""
    out = {}
    for trial in trials:
        attrs = trial.user_attrs
        if ({"baseline", "promoted_from", "confirms", "requeued_from"} & attrs.keys()
                or "rung" not in attrs):
            continue
        board = LadderBoard(ladder, "minimize", [t for t in trials if t.number < trial.number])
        out[trial.number] = board.learning_rung()
    return out


def _best_search_value(trials: list[optuna.trial.FrozenTrial], result: autolr.TuneResult
                       ) -> float | None:
    """The best final value of a full-length search run (confirmation runs apart: they repeat a
    configuration on another seed)."""
    values = [t.value for t in trials if _full_run(t) and not confirming.is_confirmation(t)]
    return min(values) if values else result.best_value  # type: ignore[type-var]


def _full_run(trial: optuna.trial.FrozenTrial) -> bool:
    return (trial.state == TrialState.COMPLETE and trial.value is not None
            and math.isfinite(trial.value) and trial.user_attrs.get("fidelity", 1.0) == 1.0)


def _confirmation_record(
    result: autolr.TuneResult, trials: list[optuna.trial.FrozenTrial], n_trials: int,
    baselines: bool,
) -> dict[str, Any] | None:
    """What confirmation did in a study (None when it ran no confirmation run): the plan, the
    runs, every confirmed configuration over its seeds, the confirmed winner, its paired
    difference to the constant baseline, and the study's luckiest full-length search run (what it
    would have returned without confirming), with whether confirmation changed the winner."""
    runs = [t for t in trials if confirming.is_confirmation(t)]
    if not runs:
        return None
    by_number = {t.number: t for t in trials}

    def summary(number: int) -> str:
        spec = by_number[number].user_attrs.get("spec")
        return describe(autolr.ScheduleSpec.from_json(spec)) if spec else "—"

    search = [t for t in trials if _full_run(t) and not confirming.is_confirmation(t)]
    luckiest = min(search, key=lambda t: (t.value, t.number))  # type: ignore[arg-type]
    best = result.confirmed_winner
    assert best is not None
    winner = by_number[best.number]
    comparison = result.against_baseline()
    overall = result.study.best_trial
    # the plan that ran: (configurations confirmed besides the constant baseline, seeds each)
    top = {t.user_attrs["confirms"] for t in runs
           if by_number[t.user_attrs["confirms"]].user_attrs.get("baseline") != "constant"}
    rounds = {t.user_attrs.get("confirm_round") for t in runs}
    return {
        "plan": [len(top), len(rounds)],
        "default_plan": list(confirming.default_plan(n_trials, 3 if baselines else 0)),
        "runs": [
            {"number": t.number, "confirms": t.user_attrs["confirms"],
             "round": t.user_attrs.get("confirm_round"), "seed": t.user_attrs.get("seed"),
             "baseline": t.user_attrs.get("baseline"), "state": t.state.name.lower(),
             "value": finite(t.value), "steps": t.user_attrs.get("steps")}
            for t in runs
        ],
        "steps": sum(int(t.user_attrs.get("steps", 0)) for t in runs),
        "configurations": [
            {"number": c.number, "summary": summary(c.number), "baseline": c.baseline,
             "values": [finite(v) for v in c.values], "seeds": list(c.seeds),
             "mean": finite(c.mean), "std": finite(c.std)}
            for c in result.confirmed
        ],
        "winner": {"number": best.number, "summary": summary(best.number),
                   "baseline": best.baseline, "mean": finite(best.mean),
                   "std": finite(best.std), "seeds": len(best.values),
                   "first_value": finite(winner.value)},
        "against_baseline": None if comparison is None else {
            "difference": comparison.difference, "standard_error": comparison.standard_error,
            "seeds": comparison.seeds, "within_noise": comparison.within_noise,
            "text": comparison.text(),
        },
        "luckiest": {
            "number": luckiest.number, "value": finite(luckiest.value),
            "summary": summary(luckiest.number), "baseline": luckiest.user_attrs.get("baseline"),
            "spec": luckiest.user_attrs.get("spec"),
            "confirmed": next(({"mean": finite(c.mean), "std": finite(c.std),
                                "seeds": len(c.values)}
                               for c in result.confirmed if c.number == luckiest.number), None),
            "retrain": [], "retrain_mean": None, "retrain_std": None,
        },
        "changed": (confirming.params_key(winner.params)
                    != confirming.params_key(luckiest.params)),
        # the study's best trial (Optuna's view) may be a confirmation run on a lucky seed
        "study_best_trial": {"number": overall.number,
                             "confirmation": confirming.is_confirmation(overall)},
    }


def _ladder_record(summary: LadderSummary) -> dict[str, Any]:
    """What the ladder did: its rungs, the runs and promotions at each, and the compute."""
    ladder = summary.ladder
    return {
        "describe": ladder.describe(),
        "fidelities": list(ladder.fidelities),
        "steps": list(ladder.steps),
        "eta": ladder.eta,
        "notes": list(ladder.notes),
        "rungs": [
            {"rung": r.rung, "fidelity": r.fidelity, "steps": r.steps, "runs": r.runs,
             "promoted": r.promoted, "best": finite(r.best)}
            for r in summary.rungs
        ],
        "configurations": summary.configurations,
        "steps_used": summary.steps_used,
        "runs_used": summary.runs_used,
        "budget_runs": summary.budget_runs,
        "full_search_steps": summary.full_search_steps,
        "lines": summary.lines(),
    }


def _autolr_trial(trial: optuna.trial.FrozenTrial, learning_rung: int | None = None
                  ) -> dict[str, Any]:
    spec = trial.user_attrs.get("spec")
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "reason": trial.user_attrs.get("reason"),
        "baseline": trial.user_attrs.get("baseline"),
        "rung": trial.user_attrs.get("rung"),
        "fidelity": trial.user_attrs.get("fidelity"),
        "promoted_from": trial.user_attrs.get("promoted_from"),
        "entered_from": trial.user_attrs.get("entered_from"),
        "confirms": trial.user_attrs.get("confirms"),
        "confirm_round": trial.user_attrs.get("confirm_round"),
        "seed": trial.user_attrs.get("seed"),
        "learning_rung": learning_rung,
        "family": trial.params.get("family"),
        "summary": describe(autolr.ScheduleSpec.from_json(spec)) if spec else None,
        "value": finite(trial.value),
        "steps": trial.user_attrs.get("steps"),
        "curve": [[int(step), finite(v)] for step, v in sorted(trial.intermediate_values.items())],
    }


# --- hand-written Optuna LR studies ------------------------------------------------------------


def _lr_study(
    workload: Workload, method: str, n_trials: int, seed: int, lr_range: tuple[float, float],
    make_schedule: Any, optimizer: str, meter: StepMeter, name: str,
) -> optuna.Study:
    """What a user writes: TPE over the LR, Optuna's default MedianPruner on the reports."""
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(), study_name=name,
    )

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", *lr_range, log=True)

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        spec = make_schedule(lr)
        trial.set_user_attr("schedule", describe(spec) if spec else f"schedule-free @ {lr:.3g}")
        return workload.train(spec, lr, _search_seed(method, seed, trial.number),
                              optimizer=optimizer, report=report, meter=meter)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials, catch=(RuntimeError, ValueError))
    return study


def _lr_result(
    workload: Workload, method: str, studies: list[optuna.Study], make: list[Any],
    optimizer: str, meter: StepMeter, wall: float,
) -> MethodResult:
    best_value, winner = math.inf, None
    for study, make_schedule in zip(studies, make):
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        valued = [t for t in complete if t.value is not None and math.isfinite(t.value)]
        if not valued:
            continue
        best = min(valued, key=lambda t: t.value)
        if best.value < best_value:
            lr = best.params["lr"]
            spec = make_schedule(lr)
            best_value = best.value
            winner = {
                "optimizer": optimizer, "lr": lr,
                "spec": spec.to_dict() if spec is not None else None,
                "summary": (describe(spec) if spec is not None
                            else f"schedule-free AdamW @ {lr:.3g}"),
                "trial": f"{study.study_name}#{best.number}",
            }
    trials = [t for s in studies for t in s.get_trials(deepcopy=False)]
    log = [
        {"study": s.study_name, "number": t.number, "state": t.state.name.lower(),
         "lr": t.params.get("lr"), "value": finite(t.value),
         "curve": [[int(k), finite(v)] for k, v in sorted(t.intermediate_values.items())]}
        for s in studies for t in s.get_trials(deepcopy=False)
    ]
    return MethodResult(
        workload=workload.name, method=method, label=LABELS[method],
        winner=winner or {"optimizer": optimizer, "lr": None, "spec": None,
                          "summary": "no trial completed"},
        best_value=best_value if winner else None,
        trials=len(trials),
        pruned=sum(t.state == TrialState.PRUNED for t in trials),
        failed=sum(t.state == TrialState.FAIL for t in trials),
        steps=meter.steps, steps_recorded=None, wall_s=wall, train_s=meter.train_seconds,
        budget_runs=len(trials), configurations=len(trials), trial_log=log,
    )


def _lr_range(workload: Workload) -> tuple[float, float]:
    return workload.base_lr * LR_SCALE[0], workload.base_lr * LR_SCALE[1]


def run_optuna_lr(workload: Workload, n_trials: int, seed: int) -> MethodResult:
    meter, start = StepMeter(), time.perf_counter()
    make = workload.hand_schedule
    study = _lr_study(workload, "optuna_lr", n_trials, seed, _lr_range(workload), make,
                      "default", meter, f"{workload.name}_optuna_lr")
    return _lr_result(workload, "optuna_lr", [study], [make], "default", meter,
                      time.perf_counter() - start)


def run_linear_cosine(workload: Workload, n_trials: int, seed: int) -> MethodResult:
    meter, start = StepMeter(), time.perf_counter()
    warmup = workload.warmup_steps()

    def linear(lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("linear", {"end_ratio": 0.0}, lr=lr,
                                   total_steps=workload.total_steps, warmup_steps=warmup)

    def cosine(lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("cosine", {"min_ratio": 0.0}, lr=lr,
                                   total_steps=workload.total_steps, warmup_steps=warmup)

    studies = []
    for offset, (name, make, n) in enumerate(
        (("linear", linear, math.ceil(n_trials / 2)), ("cosine", cosine, n_trials // 2))
    ):
        if n:
            studies.append(_lr_study(workload, "linear_cosine", n, seed + offset,
                                     _lr_range(workload), make, "default", meter,
                                     f"{workload.name}_{name}"))
    makes = [linear, cosine][: len(studies)]
    return _lr_result(workload, "linear_cosine", studies, makes, "default", meter,
                      time.perf_counter() - start)


def run_schedulefree(workload: Workload, n_trials: int, seed: int) -> MethodResult:
    meter, start = StepMeter(), time.perf_counter()

    def no_schedule(lr: float) -> None:
        return None

    study = _lr_study(workload, "schedulefree", n_trials, seed, workload.sf_lr_range,
                      no_schedule, "schedulefree", meter, f"{workload.name}_schedulefree")
    return _lr_result(workload, "schedulefree", [study], [no_schedule], "schedulefree", meter,
                      time.perf_counter() - start)


def run_hand(workload: Workload) -> MethodResult:
    spec = workload.hand_schedule(workload.base_lr)
    return MethodResult(
        workload=workload.name, method="hand", label=LABELS["hand"],
        winner={"optimizer": "default", "lr": spec.lr, "spec": spec.to_dict(),
                "summary": describe(spec)},
        best_value=None, trials=0, pruned=0, failed=0, steps=0, steps_recorded=None,
        wall_s=0.0, train_s=0.0,
    )


# --- dispatch and re-training ------------------------------------------------------------------


def run_method(workload: Workload, method: str, n_trials: int, seed: int) -> MethodResult:
    """Search with ``method``, then re-train its winner on :data:`RETRAIN_SEEDS`."""
    if method == "autolr":
        result = run_autolr(workload, method, n_trials, seed)
    elif method == "autolr_half":
        result = run_autolr(workload, method, half(n_trials), seed)
    elif method == "autolr_unconfirmed":
        result = run_autolr(workload, method, n_trials, seed, confirm=0)
    elif method == "autolr_full":
        result = run_autolr(workload, method, n_trials, seed, search="full", pruner="median",
                            confirm=0)
    elif method == "autolr_none":
        result = run_autolr(workload, method, n_trials, seed, search="full", pruner="none",
                            confirm=0)
    elif method == "autolr_hyperband":
        result = run_autolr(workload, method, n_trials, seed, search="full", pruner="hyperband",
                            confirm=0)
    elif method == "autolr_lr_first":
        result = run_autolr(workload, method, n_trials, seed, search="lr_first")
    elif method == "autolr_lr_first_half":
        result = run_autolr(workload, method, half(n_trials), seed, search="lr_first")
    elif method == "random":
        result = run_autolr(workload, method, n_trials, seed, search="full", pruner="none",
                            sampler="random", baselines=False, confirm=0)
    elif method == "hand":
        result = run_hand(workload)
    elif method == "optuna_lr":
        result = run_optuna_lr(workload, n_trials, seed)
    elif method == "linear_cosine":
        result = run_linear_cosine(workload, n_trials, seed)
    elif method == "schedulefree":
        result = run_schedulefree(workload, n_trials, seed)
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    retrain(workload, result)
    return result


def half(n_trials: int) -> int:
    """The budget of ``autolr_half``: half of N full runs, at least one."""
    return max(1, n_trials // 2)


def retrain(workload: Workload, result: MethodResult) -> None:
    """Train the winner from scratch on each fresh seed; no reports, no pruning. For a confirmed
    study whose confirmation changed the winner, the luckiest run's configuration too (on the same
    seeds); when it did not, the luckiest run is the winner and shares its values."""
    winner = result.winner
    if winner.get("lr") is None:
        return
    spec = autolr.ScheduleSpec.from_json(winner["spec"]) if winner["spec"] else None
    for seed in RETRAIN_SEEDS:
        value = workload.train(spec, winner["lr"], seed, optimizer=winner["optimizer"])
        result.retrain.append(value)
        result.retrain_seeds.append(seed)
    record = result.confirmation
    if record is None:
        return
    luckiest = record["luckiest"]
    if record["changed"]:
        other = autolr.ScheduleSpec.from_json(luckiest["spec"])
        values = [workload.train(other, other.lr, seed, optimizer=winner["optimizer"])
                  for seed in RETRAIN_SEEDS]
    else:
        values = list(result.retrain)
    luckiest["retrain"] = [finite(v) for v in values]
    luckiest["retrain_mean"] = finite(statistics.fmean(values))
    luckiest["retrain_std"] = finite(statistics.stdev(values) if len(values) > 1 else 0.0)
