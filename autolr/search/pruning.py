"""Pruners by name, and the divergence guard that is always on.

Comparing raw losses part-way through training favours schedules that decay early (short-horizon
bias): half-way, a run still at its peak LR looks worse than one that has already annealed, even
when it ends better. autolr answers this twice:

- every pruner but ``none`` waits for the first part of training (a fraction of the reports a
  finished trial makes) before it may stop a trial;
- ``median`` and ``percentile`` compare a trial only with finished trials that were at least
  half as "hot" at the same report (their LR then was at least half of this trial's LR), so a
  schedule that holds its LR is not judged against schedules that have already cooled down.
  Each trial records the LR in effect at each report (user attribute ``report_lrs``).
"""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

PRUNERS = ("median", "percentile", "hyperband", "sha", "none")
DEFAULT_GRACE = 0.3  # fraction of a finished trial's reports before pruning may start
DIVERGENCE_FACTOR = 3.0
HOT_RATIO = 0.5  # a finished trial is comparable if its LR then was >= this x the trial's LR


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


class LRAwarePercentilePruner(BasePruner):
    """Prune a trial whose best report so far is worse than the ``percentile`` of the finished
    trials' reports at the same step, among the finished trials whose LR at that report was at
    least ``hot_ratio`` times this trial's LR (all of them where an LR is unknown).

    Nothing is pruned before ``n_startup_trials`` trials have completed, nor with fewer than
    ``min_comparable`` comparable trials at the step.
    """

    def __init__(
        self,
        percentile: float,
        *,
        n_startup_trials: int = 5,
        hot_ratio: float = HOT_RATIO,
        min_comparable: int = 3,
    ) -> None:
        self.percentile = percentile
        self.n_startup_trials = n_startup_trials
        self.hot_ratio = hot_ratio
        self.min_comparable = min_comparable

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        finished = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
        )
        if sum(t.state == TrialState.COMPLETE for t in finished) < self.n_startup_trials:
            return False
        lr_now = report_lr(trial, step)
        comparable = []
        for other in finished:
            value = other.intermediate_values.get(step)
            if value is None or not math.isfinite(value):
                continue
            lr_other = report_lr(other, step)
            if lr_now is not None and lr_other is not None and lr_other < self.hot_ratio * lr_now:
                continue  # it had cooled down by then: not a fair comparison
            comparable.append(value)
        if len(comparable) < self.min_comparable:
            return False
        finite = [v for v in trial.intermediate_values.values() if math.isfinite(v)]
        if not finite:
            return False
        minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
        best = min(finite) if minimize else max(finite)
        quantile = self.percentile if minimize else 100 - self.percentile
        threshold = float(np.percentile(comparable, quantile))
        return best > threshold if minimize else best < threshold


# The LRs at each report of the trials running in this process, by trial id. Finished trials
# carry theirs as the user attribute ``report_lrs``; a running trial's live here, which saves a
# database write per report.
_running_report_lrs: dict[int, dict[str, float]] = {}


def track_report_lrs(trial_id: int, report_lrs: dict[str, float] | None) -> None:
    """Make ``report_lrs`` (updated in place by its owner) the running trial's; None forgets."""
    if report_lrs is None:
        _running_report_lrs.pop(trial_id, None)
    else:
        _running_report_lrs[trial_id] = report_lrs


def report_lr(trial: FrozenTrial, step: int) -> float | None:
    """The LR in effect when ``trial`` reported ``step`` (None when not recorded)."""
    lrs = trial.user_attrs.get("report_lrs")
    if not isinstance(lrs, dict):
        lrs = _running_report_lrs.get(trial._trial_id)
    if not isinstance(lrs, dict):
        return None
    value = lrs.get(str(step))
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def make_pruner(name: str, n_trials: int) -> BasePruner:
    """The Optuna pruner called ``name`` (validated by the caller), wrapped in the grace period."""
    startup = max(3, min(8, n_trials // 4))
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        inner: BasePruner = LRAwarePercentilePruner(50.0, n_startup_trials=startup)
    elif name == "percentile":
        inner = LRAwarePercentilePruner(25.0, n_startup_trials=startup)
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

