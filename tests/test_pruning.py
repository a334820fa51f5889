"""The pruners' grace period and the divergence guard."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from autolr.search.pruning import PRUNERS, GracePeriodPruner, divergence, make_pruner


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


def _finished(value_at: dict[int, float], lrs: dict[int, float]) -> optuna.trial.FrozenTrial:
    return create_trial(
        value=value_at[max(value_at)],
        intermediate_values=value_at,
        user_attrs={"report_lrs": {str(s): lr for s, lr in lrs.items()}},
        state=TrialState.COMPLETE,
    )


def test_a_trial_still_at_its_peak_is_not_judged_against_cooled_down_ones():
    """Short-horizon bias: half-way, a hot run looks worse than annealed ones that it beats."""
    study = optuna.create_study(pruner=make_pruner("median", n_trials=20))
    steps = range(10)
    cooling = {s: max(0.1 * (1 - s / 6), 0.001) for s in steps}  # a sixth of the peak at 5
    for i in range(5):  # fast-decaying runs: low loss half-way
        study.add_trial(_finished({s: 1.0 - 0.05 * s - 0.01 * i for s in steps}, cooling))
    for i in range(3):  # constant-like: still hot, higher loss half-way
        study.add_trial(_finished({s: 1.2 - 0.05 * s + 0.01 * i for s in steps},
                                  {s: 0.1 for s in steps}))
    hot = study.ask()  # a schedule holding its peak (WSD-like): loss 0.9 at report 5
    hot.set_user_attr("report_lrs", {str(s): 0.1 for s in range(6)})
    for s in range(6):
        hot.report(1.15 - 0.05 * s, s)
    assert not hot.should_prune()  # compared with the 3 hot runs, it is the best of them
    plain = optuna.create_study(pruner=optuna.pruners.MedianPruner())
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        plain.add_trial(trial)
    raw = plain.ask()
    for s in range(6):
        raw.report(1.15 - 0.05 * s, s)
    assert raw.should_prune()  # what comparing raw losses does

    cooled = study.ask()  # the same values from a run that had cooled down: a poor run
    cooled.set_user_attr("report_lrs", {str(s): cooling[s] for s in range(6)})
    for s in range(6):
        cooled.report(1.15 - 0.05 * s, s)
    assert cooled.should_prune()


def test_maximizing_studies_prune_low_values():
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", n_trials=20))
    for i in range(6):
        study.add_trial(create_trial(value=0.9, intermediate_values={s: 0.5 + 0.04 * s + 0.001 * i
                                                                     for s in range(10)},
                                     state=TrialState.COMPLETE))
    trial = study.ask()
    for s in range(5):
        trial.report(0.1, s)
    assert trial.should_prune()
