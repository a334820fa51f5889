"""Hand-built studies for the report tests: trials made with ``optuna.trial.create_trial`` and
the user attributes ``autolr.tune`` records (see ``autolr/trial_control.py``).

A plain module (not a conftest) with a name of its own, imported by the tests beside it."""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

FAMILIES = ["constant", "step", "cosine", "linear"]
T0 = dt.datetime(2024, 5, 1, 12, 0, 0)
STATES = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "failed": TrialState.FAIL,
    "running": TrialState.RUNNING,
}
FAMILY_DISTRIBUTIONS = {
    "step.every": FloatDistribution(0.1, 0.5),
    "step.gamma": FloatDistribution(0.05, 0.7, log=True),
    "cosine.min_ratio": FloatDistribution(0.0, 0.2),
    "linear.end_ratio": FloatDistribution(0.0, 0.2),
}


def make_trial(
    family: str = "cosine",
    *,
    state: str = "complete",
    reports: dict[int, float] | None = None,
    value: float | None = None,
    params: dict[str, Any] | None = None,
    lr_scale: float = 1.0,
    base_lr: float = 0.1,
    total_steps: int = 100,
    steps: int | None = None,
    warmup_steps: int = 0,
    reason: str | None = None,
    error: str | None = None,
    worker: str = "main",
    baseline: str | None = None,
    start_s: float = 0.0,
    duration_s: float = 10.0,
    lr_curve: bool = True,
    seed: int = 7,
    families: list[str] | None = None,
    extra_attrs: dict[str, Any] | None = None,
) -> FrozenTrial:
    """One trial as autolr records it. ``value`` defaults to the last report for complete and
    pruned trials (Optuna stores a pruned trial's last report as its value); ``steps`` to
    ``total_steps`` (complete) or the share of reports made (pruned)."""
    reports = dict(reports if reports is not None else {0: 1.0, 1: 0.5, 2: 0.25, 3: 0.2})
    family_params = dict(params or {})
    trial_params: dict[str, Any] = {"family": family, "lr_scale": lr_scale}
    dists: dict[str, Any] = {
        "family": CategoricalDistribution(families or FAMILIES),
        "lr_scale": FloatDistribution(0.1, 10.0, log=True),
    }
    for name, v in family_params.items():
        key = f"{family}.{name}"
        trial_params[key] = v
        dists[key] = FAMILY_DISTRIBUTIONS.get(key, FloatDistribution(0.0, 1.0))
    if steps is None:
        steps = total_steps if state == "complete" else total_steps * len(reports) // 10
    spec = {
        "format": "autolr.schedule", "version": 1, "family": family, "params": family_params,
        "lr": base_lr * lr_scale, "total_steps": total_steps, "warmup_steps": warmup_steps,
        "step_unit": "batch",
    }
    attrs: dict[str, Any] = {
        "spec": spec, "lr": base_lr * lr_scale, "base_lr": base_lr, "seed": seed,
        "worker": worker, "steps": steps, "reports": len(reports),
        "reason": reason or {"complete": "complete", "pruned": "pruned",
                             "failed": "failed", "running": None}[state],
        "wall_time_s": duration_s,
    }
    if lr_curve:
        attrs["lr_curve"] = {"steps": list(range(steps)),
                             "lrs": [base_lr * lr_scale] * steps}
    if error:
        attrs["error"] = error
    if baseline:
        attrs["baseline"] = baseline
    attrs.update(extra_attrs or {})
    attrs = {k: v for k, v in attrs.items() if v is not None}
    if state in ("complete", "pruned") and value is None and reports:
        value = reports[max(reports)]
    trial = optuna.trial.create_trial(
        state=STATES[state], value=value if state in ("complete", "pruned") else None,
        params=trial_params,
        distributions=dists, user_attrs=attrs,
        intermediate_values=reports if state != "failed" else {},
    )
    trial.datetime_start = T0 + dt.timedelta(seconds=start_s)
    trial.datetime_complete = (
        None if state == "running" else T0 + dt.timedelta(seconds=start_s + duration_s)
    )
    return trial


def make_study(
    trials: list[FrozenTrial] = (),  # type: ignore[assignment]
    *,
    name: str = "hand-built",
    direction: str = "minimize",
    settings: dict[str, Any] | None = None,
) -> optuna.Study:
    study = optuna.create_study(study_name=name, direction=direction)
    if settings is not None:
        study.set_user_attr("autolr", settings)
    for trial in trials:
        study.add_trial(trial)
    return study


@functools.cache
def synthetic_study(n: int = 1500, reports: int = 10, seed: int = 0) -> optuna.Study:
    """A large study, quick to build: ``n`` trials with ``reports`` reports each, a third
    pruned early, some failed, four workers. Built once per session (reports only read it)."""
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        params = {}
        if family == "cosine":
            params = {"min_ratio": rng.uniform(0, 0.2)}
        elif family == "step":
            params = {"every": rng.uniform(0.1, 0.5), "gamma": rng.uniform(0.05, 0.7)}
        state = "pruned" if i % 3 == 1 else "failed" if i % 50 == 7 else "complete"
        k = rng.randint(2, reports - 1) if state == "pruned" else reports
        scale = math.exp(rng.uniform(-2.3, 2.3))
        curve = {s: 2.0 / (s + 1) * (1 + abs(math.log(scale))) + rng.random() * 0.1
                 for s in range(k)}
        trials.append(make_trial(
            family, state=state, reports=curve, params=params, lr_scale=scale,
            total_steps=1000, worker=f"cuda:{i % 4}", start_s=(i // 4) * 30.0,
            duration_s=28.0 if state == "complete" else 12.0,
            error="Traceback (most recent call last):\nRuntimeError: boom" if state == "failed"
            else None,
        ))
    return make_study(trials, name="synthetic", settings={
        "version": 1, "families": FAMILIES, "warmup": True, "seed": 1, "lr": None,
        "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "base_lr": 0.1,
    })


def small_study(name: str = "small") -> optuna.Study:
    """Baselines, a winner with warmup, pruned, diverged and failed trials on two workers."""
    return make_study([
        make_trial("constant", baseline="constant", reports={0: 1.0, 1: 0.8, 2: 0.7, 3: 0.6},
                   worker="cpu0", start_s=0),
        make_trial("cosine", baseline="cosine", params={"min_ratio": 0.0},
                   reports={0: 1.0, 1: 0.6, 2: 0.4, 3: 0.35}, worker="cpu1", start_s=0),
        make_trial("linear", baseline="linear", params={"end_ratio": 0.0}, state="pruned",
                   reports={0: 1.2, 1: 0.9}, worker="cpu0", start_s=10),
        make_trial("step", params={"every": 0.3, "gamma": 0.1}, lr_scale=3.0, warmup_steps=10,
                   reports={0: 0.9, 1: 0.4, 2: 0.2, 3: 0.15}, worker="cpu1", start_s=10),
        make_trial("cosine", params={"min_ratio": 0.1}, lr_scale=8.0, state="pruned",
                   reason="diverged", reports={0: 3.0}, worker="cpu0", start_s=20,
                   duration_s=2.0),
        make_trial("cosine", params={"min_ratio": 0.05}, lr_scale=0.5, state="failed",
                   reason="out of memory", error="CUDA out of memory. Tried to allocate 2 GiB",
                   worker="cpu1", start_s=20, duration_s=1.0),
    ], name=name, settings={
        "version": 1, "families": FAMILIES, "warmup": True, "seed": 1, "lr": None,
        "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "base_lr": 0.1,
    })


# --- a ladder study ------------------------------------------------------------------------------
LADDER = {
    "fidelities": [0.1, 0.3, 1.0], "steps": [10, 30, 100], "eta": 3,
    "requested": [1 / 9, 1 / 3, 1.0],
    "notes": ["rung 0.111 (11 steps) moved to 10 steps, where the script reports",
              "rung 0.333 (33 steps) moved to 30 steps, where the script reports"],
}
LADDER_SETTINGS = {
    "version": 2, "families": FAMILIES, "warmup": True, "seed": 1, "lr": None,
    "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "base_lr": 0.1,
    "search": "ladder", "ladder_request": {"fidelities": [1 / 9, 1 / 3, 1.0], "eta": 3},
    "ladder": LADDER, "n_trials": 6, "total_steps": 100,
}


def rung_trial(
    family: str, rung: int, reports: dict[int, float], *, promoted_from: int | None = None,
    state: str | None = None, reason: str | None = None, steps: int | None = None,
    ladder: dict[str, Any] = LADDER, **kwargs: Any,
) -> FrozenTrial:
    """A run of the ladder as autolr records it: at a lower rung it is PRUNED with reason
    "shortened" and its compressed schedule's ``total_steps`` are the rung's steps; at the top
    it is COMPLETE."""
    top = len(ladder["steps"]) - 1
    rung_steps = ladder["steps"][rung]
    extra = {"fidelity": ladder["fidelities"][rung], "rung": rung, **kwargs.pop("extra_attrs", {})}
    if promoted_from is not None:
        extra["promoted_from"] = promoted_from
    if state is None:
        state = "complete" if rung == top else "pruned"
    if reason is None and state == "pruned":
        reason = "shortened"
    return make_trial(
        family, state=state, reason=reason, reports=reports, total_steps=rung_steps,
        steps=rung_steps if steps is None else steps, extra_attrs=extra, **kwargs,
    )


def ladder_study(name: str = "ladder", direction: str = "minimize") -> optuna.Study:
    """A ladder of rungs 10, 30 and 100 steps (eta 3) with known runs and promotions.

    Rung 0: #2 (0.30), #3 (0.50), #4 (0.40), #5 diverged, #6 (0.45), #7 (0.70), #11 failed;
    #12 still running. Rung 1: #8 repeats #2 (0.10, better than any full run), #9 repeats #4
    (0.25). Rung 2: the baselines #0 (0.60) and #1 (0.35), and #10 repeating #8 (0.20, the
    winner). Steps: 2 x 100 + 5 x 10 + 3 (diverged) + 4 (failed) + 10 (running, planned) +
    2 x 30 + 100 = 427; 10 configurations.
    """
    cos1 = {"min_ratio": 0.1}
    lin0 = {"end_ratio": 0.0}
    return make_study([
        make_trial("constant", baseline="constant", reports={0: 1.0, 1: 0.8, 2: 0.6},
                   start_s=0),
        make_trial("cosine", baseline="cosine", params={"min_ratio": 0.0},
                   reports={0: 1.0, 1: 0.5, 2: 0.35}, start_s=10),
        rung_trial("cosine", 0, {0: 0.30}, params=cos1, start_s=20, duration_s=1),
        rung_trial("step", 0, {0: 0.50}, params={"every": 0.3, "gamma": 0.1}, start_s=21,
                   duration_s=1),
        rung_trial("linear", 0, {0: 0.40}, params=lin0, start_s=22, duration_s=1),
        rung_trial("cosine", 0, {0: 3.0}, params={"min_ratio": 0.05}, lr_scale=8.0,
                   reason="diverged", steps=3, start_s=23, duration_s=1),
        rung_trial("constant", 0, {0: 0.45}, lr_scale=3.0, start_s=24, duration_s=1),
        rung_trial("linear", 0, {0: 0.70}, params={"end_ratio": 0.1}, start_s=25, duration_s=1),
        rung_trial("cosine", 1, {0: 0.5, 1: 0.2, 2: 0.10}, params=cos1, promoted_from=2,
                   start_s=26, duration_s=3),
        rung_trial("linear", 1, {0: 0.6, 1: 0.4, 2: 0.25}, params=lin0, promoted_from=4,
                   start_s=29, duration_s=3),
        rung_trial("cosine", 2, {0: 0.9, 1: 0.5, 2: 0.20}, params=cos1, promoted_from=8,
                   start_s=32, duration_s=10),
        rung_trial("step", 0, {}, params={"every": 0.2, "gamma": 0.2}, state="failed",
                   reason="failed", steps=4, error="ValueError: bad batch", start_s=42,
                   duration_s=1),
        rung_trial("cosine", 0, {}, params={"min_ratio": 0.15}, state="running",
                   extra_attrs={"steps": None}, start_s=43),
    ], name=name, direction=direction, settings=LADDER_SETTINGS)


# --- a study that confirmed its top configurations on fresh seeds --------------------------------
CONFIRM_SEEDS = (101, 102)  # confirmation rounds 0 and 1: the same seed for every configuration


def confirmation_trial(
    family: str, confirms: int, round_: int, value: float, **kwargs: Any
) -> FrozenTrial:
    """A confirmation run as autolr records it: the configuration of trial ``confirms`` again,
    on round ``round_``'s seed (the constant baseline's keeps its ``baseline`` attribute)."""
    extra = {"confirms": confirms, "confirm_round": round_, **kwargs.pop("extra_attrs", {})}
    return make_trial(family, reports={0: 1.0, 1: value}, seed=CONFIRM_SEEDS[round_],
                      extra_attrs=extra, **kwargs)


def confirmed_study(
    name: str = "confirmed",
    constant: tuple[float, float, float] = (0.60, 0.62, 0.58),
    *,
    families: list[str] | None = None,
) -> optuna.Study:
    """Baselines and three configurations, the top two and the constant baseline confirmed on
    two fresh seeds (101 and 102).

    #0 constant baseline (``constant[0]``), #1 cosine baseline (0.45), #2 step (0.10, the
    luckiest single run), #3 cosine (0.16), #4 linear (0.30, not confirmed). Round 0: #5 repeats
    #2 (0.34), #6 #3 (0.15), #7 #0 (``constant[1]``); round 1: #8 #2 (0.30), #9 #3 (0.17), #10 #0
    (``constant[2]``). Means: #2 0.2467, #3 0.16 (the winner), #0 the mean of ``constant``.
    ``families``: the first family's name is used for the step configuration (a hostile name,
    say).
    """
    step = families[0] if families else "step"
    fams = families or FAMILIES
    step_params = {"every": 0.3, "gamma": 0.1}
    cos1 = {"min_ratio": 0.1}
    return make_study([
        make_trial("constant", baseline="constant", reports={0: 1.0, 1: constant[0]}, seed=1,
                   families=fams, start_s=0),
        make_trial("cosine", baseline="cosine", params={"min_ratio": 0.0},
                   reports={0: 1.0, 1: 0.45}, seed=1, families=fams, start_s=10),
        make_trial(step, params=step_params, lr_scale=3.0, reports={0: 1.0, 1: 0.10}, seed=11,
                   families=fams, start_s=20),
        make_trial("cosine", params=cos1, reports={0: 1.0, 1: 0.16}, seed=12, families=fams,
                   start_s=30),
        make_trial("linear", params={"end_ratio": 0.1}, reports={0: 1.0, 1: 0.30}, seed=13,
                   families=fams, start_s=40),
        confirmation_trial(step, 2, 0, 0.34, params=step_params, lr_scale=3.0, families=fams,
                           start_s=50),
        confirmation_trial("cosine", 3, 0, 0.15, params=cos1, families=fams, start_s=60),
        confirmation_trial("constant", 0, 0, constant[1], baseline="constant", families=fams,
                           start_s=70),
        confirmation_trial(step, 2, 1, 0.30, params=step_params, lr_scale=3.0, families=fams,
                           start_s=80),
        confirmation_trial("cosine", 3, 1, 0.17, params=cos1, families=fams, start_s=90),
        confirmation_trial("constant", 0, 1, constant[2], baseline="constant", families=fams,
                           start_s=100),
    ], name=name, settings={
        "version": 1, "families": fams, "warmup": True, "seed": 1, "lr": None,
        "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "base_lr": 0.1,
        "confirm": [2, 2],
    })
