"""Pruners by name, and the divergence guard that is always on.

Every pruner but ``none`` waits for the first part of training (a fraction of the reports a
finished trial makes) before it may stop a trial: comparing raw losses early favours schedules
that decay early (short-horizon bias), so the first reports are never grounds for pruning.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

PRUNERS = ("median", "percentile", "hyperband", "sha", "none")
DEFAULT_GRACE = 0.3  # fraction of a finished trial's reports before pruning may start
DIVERGENCE_FACTOR = 3.0


class GracePeriodPruner(BasePruner):
    """Lets ``inner`` decide only once a trial has made more than ``grace`` of the reports that
    finished trials made; before any trial has finished, nothing is pruned."""

    def __init__(self, inner: BasePruner, grace: float = DEFAULT_GRACE) -> None:
        self.inner = inner
        self.grace = grace
        self._expected: tuple[int, int] = (-1, 0)  # (complete trials seen, reports expected)

    def _expected_reports(self, study: optuna.Study) -> int:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) != self._expected[0]:
            most = max((len(t.intermediate_values) for t in complete), default=0)
            self._expected = (len(complete), most)
        return self._expected[1]

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        expected = self._expected_reports(study)
        if expected == 0 or len(trial.intermediate_values) <= self.grace * expected:
            return False
        return self.inner.prune(study, trial)


def make_pruner(name: str, n_trials: int) -> BasePruner:
    """The Optuna pruner called ``name`` (validated by the caller), wrapped in the grace period."""
    startup = max(3, min(8, n_trials // 4))
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        inner: BasePruner = optuna.pruners.MedianPruner(n_startup_trials=startup)
    elif name == "percentile":
        inner = optuna.pruners.PercentilePruner(25.0, n_startup_trials=startup)
    elif name == "hyperband":
        inner = optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    else:
        inner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return GracePeriodPruner(inner)


def divergence(first: float | None, value: float, direction: str) -> str | None:
    """Why ``value`` shows a diverged run, or None: not finite, or (minimising) far above the
    first report — more than ``DIVERGENCE_FACTOR`` times its magnitude above it."""
    if not math.isfinite(value):
        return f"reported a non-finite value ({value})"
    if direction == "minimize" and first is not None and math.isfinite(first):
        limit = first + DIVERGENCE_FACTOR * max(abs(first), 1e-12)
        if value > limit:
            return f"reported {value:.4g}, far above the first report {first:.4g}"
    return None


def describe_pruner(pruner: Any) -> str:
    inner = getattr(pruner, "inner", pruner)
    return type(inner).__name__
