"""The search methods a replay compares, each run on a schedule table instead of real training.

autolr's own methods go through ``autolr.tune`` unchanged (its sampler, ladder, confirmation,
baselines and LR widening): the training function is :func:`replayed_script`, which calls
``autolr.scheduler`` and ``autolr.report`` as a script does and takes its reports from the
table. The hand-written methods are the Optuna studies users write, fed by the same table.

Every method gets the compute of N full runs: ``n_trials=N`` for autolr (on the ladder, N full
runs of steps), N trials for the hand-written studies (pruned trials count, and cost less).
A method's result: its winner's true value (the table's noise-free value at full length) and
what the search cost, in optimizer steps and in simulated seconds (each run pays the table's
start-up, data loading included, and its steps at the table's time per step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import autolr
from autolr.search.space import SearchSpace


@dataclass
class Cost:
    """What the runs of one replayed study cost."""

    runs: int = 0
    scheduler_steps: int = 0


def built_spec(scheduler: Any) -> autolr.ScheduleSpec:
    """The schedule behind a scheduler ``autolr.scheduler`` built (family, parameters, peak LR,
    length), read from the scheduler as a script would see it."""
    lr = float(scheduler.base_lrs[0])
    if hasattr(scheduler, "plateau_params"):
        return autolr.ScheduleSpec("plateau", scheduler.plateau_params, lr=lr,
                                   total_steps=scheduler.total_steps,
                                   warmup_steps=scheduler.warmup_steps)
    m = scheduler.lr_lambdas[0]
    return autolr.ScheduleSpec(m.family, m.params, lr=lr, total_steps=m.total_steps,
                               warmup_steps=m.warmup_steps)


def replayed_script(table: Any, cost: Cost, lr_shift: float = 1.0) -> Callable[[], None]:
    """A training function for ``autolr.tune`` whose reports come from ``table``; the script's
    LR is the table's times ``lr_shift`` (a script whose author picked another LR)."""
    import torch

    def train() -> None:
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=table.base_lr * lr_shift)
        scheduler = autolr.scheduler(optimizer, total_steps=table.total)
        reports = table.curve(built_spec(scheduler), autolr.seed() or 0)
        cost.runs += 1
        optimizer.step()  # no gradient: changes nothing, and torch sees the order it expects
        step = 0
        try:
            for at, value in reports:
                while step < at:
                    scheduler.step()
                    step += 1
                autolr.report(value, at)
            if not reports or math.isfinite(reports[-1][1]):
                while step < table.total:
                    scheduler.step()
                    step += 1
        finally:
            cost.scheduler_steps += step

    return train


def lr_shift(seed: int, spread: float) -> float:
    """log10 of the factor a study's script LR is shifted by: uniform in [-spread, spread]
    decades, drawn from the search seed (the same for every variant: the comparison stays
    paired). The tables' own LR happens to lie a whole number of line-search steps (x3.16) from
    the best LR on some workloads, which favours any rule that samples that grid; a shifted LR
    puts the best LR anywhere between the grid's points, as a new script's LR would."""
    import numpy as np

    return float(np.random.default_rng([seed, 7919]).uniform(-spread, spread)) if spread else 0.0


def hand_loop(table: Any, cost: Cost, n: int, seed: int, sample: Callable[[Any], Any],
              sampler: Any) -> autolr.ScheduleSpec:
    """A hand-written Optuna study: ``sample(trial)`` gives the schedule, ``MedianPruner()``
    judges every report; returns the best trial's schedule."""
    import optuna

    study = optuna.create_study(direction=table.direction, sampler=sampler,
                                pruner=optuna.pruners.MedianPruner())
    specs: dict[int, autolr.ScheduleSpec] = {}

    def objective(trial: Any) -> float:
        spec = sample(trial)
        specs[trial.number] = spec
        cost.runs += 1
        taken, value = 0, math.nan
        try:
            for taken, value in table.curve(spec, seed * 1000 + trial.number):
                if not math.isfinite(value):
                    return value  # Optuna fails the trial, as it does a NaN objective
                trial.report(value, taken)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return value
        finally:
            cost.scheduler_steps += taken

    study.optimize(objective, n_trials=n, catch=())
    return specs[study.best_trial.number]


def own_spec(table: Any, lr_shift: float = 1.0) -> autolr.ScheduleSpec:
    """The script's own schedule (the table's ``own`` row), its LR times ``lr_shift`` (the
    schedule of a script whose author picked that LR)."""
    row = next(r for r in table.rows if r["label"] == "own")
    own = autolr.ScheduleSpec.from_json(row["spec"])
    return own.replace(lr=own.lr * lr_shift)


def run_method(method: str, table: Any, n: int, seed: int,
               lr_shift: float = 1.0) -> tuple[autolr.ScheduleSpec, Cost]:
    """One replayed study of ``method`` with the compute of ``n`` full runs, search seed
    ``seed``, for a script whose LR is the table's times ``lr_shift``: the winner's schedule
    and the cost."""
    import optuna

    cost = Cost()
    if method in AUTOLR_METHODS:
        from autolr.study.config import DEFAULT_SEARCH

        options = AUTOLR_METHODS[method]
        if options.get("search", DEFAULT_SEARCH) == "lr_first":
            use_portfolio_for(table.name)
        result = autolr.tune(replayed_script(table, cost, lr_shift), n_trials=n, seed=seed,
                             direction=table.direction, study_name=f"replay_{method}",
                             **options)
        return result.best_spec, cost
    own = own_spec(table, lr_shift)
    base_lr = table.base_lr * lr_shift
    low, high = base_lr / 10, base_lr * 10
    if method in ("optuna_lr", "gp_lr"):
        sampler = (optuna.samplers.TPESampler(seed=seed) if method == "optuna_lr"
                   else optuna.samplers.GPSampler(seed=seed))

        def lr_only(trial: Any) -> autolr.ScheduleSpec:
            return own.replace(lr=trial.suggest_float("lr", low, high, log=True))

        return hand_loop(table, cost, n, seed, lr_only, sampler), cost
    if method == "optuna_family":
        space = SearchSpace(families=tuple(autolr.families()), lr_scale=(0.1, 10.0),
                            warmup=True, direction=table.direction)

        def family(trial: Any) -> autolr.ScheduleSpec:
            return space.sample(trial, base_lr, table.total)

        return hand_loop(table, cost, n, seed, family,
                         optuna.samplers.TPESampler(seed=seed)), cost
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def use_portfolio_for(name: str) -> None:
    """The shape portfolio ``lr_first`` scores ``name`` with: learned from the other training
    tables for a training workload, the shipped one (learned from all of them) for a held-out
    workload, so that no table shapes the portfolio it is scored with."""
    from replay_learn import portfolio_without
    from replay_table import training_tables
    from table_workloads import HELD_OUT

    from autolr.search import lr_first

    if name in HELD_OUT:
        lr_first.set_shape_portfolio(None)
        return
    lr_first.set_shape_portfolio(portfolio_without(name, training_tables()))


# autolr.tune's options per method (the default: whatever autolr.tune does without options)
AUTOLR_METHODS: dict[str, dict[str, Any]] = {
    "default": {},
    "ladder": {"search": "ladder"},
    "full": {"search": "full"},
    "lr_first": {"search": "lr_first"},
    "ladder_unconfirmed": {"search": "ladder", "confirm": 0},
    "full_unconfirmed": {"search": "full", "confirm": 0},
    "random": {"search": "full", "sampler": "random", "pruner": "none", "baselines": False,
               "confirm": 0},
}
HAND_METHODS = ("optuna_lr", "gp_lr", "optuna_family")
METHODS = (*AUTOLR_METHODS, *HAND_METHODS)
DESCRIPTIONS = {
    "default": "autolr.tune(n_trials=N): today's default",
    "ladder": "autolr, fidelity ladder (1/9, 1/3, 1; eta 3) + confirmation",
    "full": "autolr --search full: median pruning + confirmation",
    "lr_first": "autolr --search lr_first: a line search on the LR (linear to 0), then the "
                "shape portfolio (learned without the workload scored) and TPE near that LR; "
                "median pruning + confirmation",
    "ladder_unconfirmed": "autolr ladder, confirm=0 (measured on digits and friedman)",
    "full_unconfirmed": "autolr --search full, confirm=0, median pruning (digits, friedman)",
    "random": "random search over autolr's space, no pruning, no baselines",
    "optuna_lr": "Optuna TPE on the peak LR alone, the script's own schedule, MedianPruner",
    "gp_lr": "Optuna GPSampler on the peak LR alone, the script's own schedule, MedianPruner",
    "optuna_family": "hand-written Optuna family search (TPE, autolr's space), MedianPruner",
}
