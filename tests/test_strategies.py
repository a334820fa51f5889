"""Search strategies behind one interface: every registered one runs a study within its budget,
and a new one is one class and one registration, driven by the study loop unchanged."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import ClassVar

import pytest
import torch
from optuna.trial import FrozenTrial, TrialState

import autolr
from autolr.errors import ConfigError
from autolr.search.strategies import (
    register_strategy,
    strategy_class,
    strategy_names,
    unregister_strategy,
)
from autolr.search.strategy import Job, SearchStrategy

TOTAL = 30


def train() -> None:
    """A 'training' of 30 steps whose last report is best near a peak LR of 0.03."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=TOTAL)
    peak = scheduler.base_lrs[0]
    for i in range(1, TOTAL + 1):
        optimizer.step()
        scheduler.step()
        if i % 3 == 0:
            autolr.report(abs(math.log(peak / 0.03)) + 1.0 / i, step=i // 3)


def tune(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        return autolr.tune(train, seed=3, **kwargs)


@pytest.mark.parametrize("name", strategy_names())
def test_every_strategy_runs_a_study_within_its_budget(name, tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    result = tune(n_trials=8, search=name, storage=storage, study_name="s")
    trials = result.study.trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    steps = sum(t.user_attrs.get("steps", 0) for t in trials)
    assert steps <= 8 * TOTAL  # the compute of n_trials full runs, never more
    assert result.best_trial.user_attrs.get("fidelity", 1.0) == 1.0  # the winner ran in full
    assert result.study.user_attrs["autolr"]["search"] == name
    again = tune(n_trials=8, storage=storage, study_name="s")  # resumed: nothing more to run
    assert len(again.study.trials) == len(trials)


class EveryRunTwice(SearchStrategy):
    """A toy strategy: each sampled configuration runs twice in a row at full length (the
    second time queued with the first's parameters), within ``n_trials`` finished runs."""

    name = "every_run_twice"
    unit = "trials"
    calls: ClassVar[list[str]] = []

    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        self.trials = list(trials)
        self.finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)

    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        self.calls.append("next_job")
        if self.finished + busy >= self.n_trials - reserved_runs:
            return None
        if any(t.state == TrialState.WAITING for t in self.trials):
            return Job("waiting", None, 1.0)
        return Job("full", None, 1.0)

    def ended(self, control, outcome) -> str | None:
        self.calls.append("ended")
        repeats = [t for t in self.trials if t.user_attrs.get("repeats") is not None]
        first_run = "repeats" not in control.trial.user_attrs and "baseline" not in (
            control.trial.user_attrs)
        if first_run and outcome.state == TrialState.COMPLETE and len(repeats) < 10:
            control.trial.study.enqueue_trial(dict(control.trial.params),
                                              user_attrs={"repeats": control.number})
        return None

    def budget_status(self) -> tuple[float, str]:
        return float(self.finished), self.unit

    def describe(self) -> str:
        return "Search: every configuration twice."


@pytest.fixture()
def toy_strategy():
    EveryRunTwice.calls = []
    register_strategy(EveryRunTwice)
    yield EveryRunTwice
    unregister_strategy(EveryRunTwice.name)


def test_a_toy_strategy_registered_runs_in_a_study(toy_strategy):
    assert strategy_class("every_run_twice") is toy_strategy
    result = tune(n_trials=9, search="every_run_twice", baselines=False, confirm=(1, 1))
    trials = result.study.trials
    repeats = [t for t in trials if "repeats" in t.user_attrs and t.state == TrialState.COMPLETE]
    assert repeats, "the strategy's own decisions did not reach the study"
    by_number = {t.number: t for t in trials}
    for repeat in repeats:  # each repeat ran its first run's configuration
        assert repeat.params == by_number[repeat.user_attrs["repeats"]].params
    assert "ended" in toy_strategy.calls and "next_job" in toy_strategy.calls
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 9  # its budget, the confirmation phase after it included
    assert any("confirms" in t.user_attrs for t in trials)


def test_an_unknown_strategy_is_refused_with_the_known_names(toy_strategy):
    with pytest.raises(ConfigError, match="'every_run_twice'") as caught:
        tune(n_trials=4, search="every_run_twize")
    assert "Did you mean 'every_run_twice'" in str(caught.value)


def test_built_in_strategies_stay_registered():
    assert strategy_names()[:2] == ("ladder", "full")
    with pytest.raises(ValueError, match="cannot be removed"):
        unregister_strategy("ladder")
    with pytest.raises(ValueError, match="identifier"):
        register_strategy(type("Nameless", (EveryRunTwice,), {"name": "no name"}))
