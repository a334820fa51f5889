"""The full search: every run at full length, hopeless ones stopped early by a pruner.

The budget counts finished trials (complete or pruned; failed ones do not count): ``n_trials``
of them, the confirmation runs that follow included. Queued trials (the baselines, runs queued
again after an interruption) start first, as Optuna's ``ask`` hands them out; then the sampler's.
"""

from __future__ import annotations

from collections.abc import Sequence

from optuna.trial import FrozenTrial, TrialState

from autolr.search.strategy import Job, SearchStrategy


class FullSearch(SearchStrategy):
    """Every run at full length; ``pruner`` (default ``median``) stops hopeless ones."""

    name = "full"
    unit = "trials"

    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        self.counted = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)

    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        if self.counted + busy < self.n_trials - reserved_runs:
            return Job("full", None, 1.0)
        return None

    def budget_status(self) -> tuple[float, str]:
        return float(self.counted), self.unit

    @property
    def pruner(self) -> str:
        return self.requested_pruner or "median"

    def describe(self) -> str:
        why = (" (the fidelity ladder could not be used)"
               if self.settings.get("ladder_fallback") else "")
        return f"Search: full{why}, every run at full length, pruner {self.pruner}."
