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
    """One trial as autolr records it. ``value`` defaults to the last report for complete
    trials; ``steps`` to ``total_steps`` (complete) or the share of reports made (pruned)."""
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
    if state == "complete" and value is None:
        value = reports[max(reports)]
    trial = optuna.trial.create_trial(
        state=STATES[state], value=value if state == "complete" else None,
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
