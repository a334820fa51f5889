"""The pruners' grace period and the divergence guard."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from autolr.pruning import PRUNERS, GracePeriodPruner, divergence, make_pruner


def _study_with_finished_trials(n: int, reports: int) -> optuna.Study:
    study = optuna.create_study(pruner=make_pruner("median", n_trials=20))
    for i in range(n):
        study.add_trial(
            create_trial(
                value=1.0 + i,
                intermediate_values={s: 1.0 + i for s in range(reports)},
                state=TrialState.COMPLETE,
            )
        )
    return study


def test_no_pruning_before_a_trial_has_finished():
    study = optuna.create_study(pruner=make_pruner("median", n_trials=20))
    trial = study.ask()
    trial.report(1e9, 0)
    assert not trial.should_prune()


def test_no_pruning_in_the_grace_period_then_the_median_rule():
    study = _study_with_finished_trials(8, reports=10)
    trial = study.ask()
    for step in range(3):  # 30% of 10 reports
        trial.report(100.0, step)
        assert not trial.should_prune(), step
    trial.report(100.0, 3)
    assert trial.should_prune()


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_is_built(name):
    pruner = make_pruner(name, n_trials=30)
    if name == "none":
        assert isinstance(pruner, optuna.pruners.NopPruner)
    else:
        assert isinstance(pruner, GracePeriodPruner)


@pytest.mark.parametrize(
    ("first", "value", "direction", "diverged"),
    [
        (1.0, math.nan, "minimize", True),
        (1.0, math.inf, "maximize", True),
        (1.0, 3.9, "minimize", False),
        (1.0, 4.1, "minimize", True),
        (-2.0, 3.9, "minimize", False),
        (-2.0, 4.1, "minimize", True),
        (0.5, 100.0, "maximize", False),
        (None, 1e9, "minimize", False),
    ],
)
def test_divergence_guard(first, value, direction, diverged):
    assert (divergence(first, value, direction) is not None) == diverged
