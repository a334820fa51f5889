"""The confirmation phase: the search's top configurations re-run on fresh seeds.

Once the search phase has nothing left to start and nothing runs, the top ``k`` configurations
and the constant baseline are queued again on ``m`` fresh seeds, the same seeds for each (round
``j`` trains on ``trial_seed(study seed, CONFIRM_SEED_BASE + j)``), as many as the budget has
room for; the winner is then the best mean (see :mod:`autolr.search.confirmation`). Until then
the phase keeps its runs' share of the budget from the search (:meth:`reserved_runs`), and gives
it back when nothing completed that could be confirmed. ``autolr confirm`` runs this phase alone,
beyond the budget (``extend``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.search import confirmation
from autolr.search.seeds import trial_seed
from autolr.search.space import space_of
from autolr.search.strategy import Job, SearchStrategy


class ConfirmationPhase(SearchStrategy):
    """Queues and runs the confirmation runs, after ``search`` and within its budget (beyond
    it with ``extend``). ``study``: the Optuna study the runs are queued in."""

    name = "confirmation"
    waits_for_running = False

    def __init__(self, settings: dict[str, Any], direction: str,
                 trials: Sequence[FrozenTrial], *, study: optuna.Study,
                 search: SearchStrategy, extend: bool = False) -> None:
        self.study = study
        self.search = search  # whose budget the runs spend
        self.extend = extend
        self.released = False  # nothing could be confirmed: the reserve went to the search
        super().__init__(settings, direction, trials)

    def plan(self) -> tuple[int, int]:
        """``(k, m)``: the top k configurations and the constant baseline on m fresh seeds."""
        stored = self.settings.get("confirm")
        if stored is not None:
            return int(stored[0]), int(stored[1])
        return confirmation.default_plan(self.n_trials, len(self.baselines()))

    def baselines(self) -> list[str]:
        """The baseline trials this study runs (none before they are queued)."""
        if not self.settings.get("baselines_enqueued"):
            return []
        return [name for name, _ in space_of(self.settings, self.direction).baseline_params()]

    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        self._reserve = 0
        if not (self.extend or self.released):
            planned = confirmation.plan_runs(self.plan(),
                                             with_baseline="constant" in self.baselines())
            self._reserve = max(0, planned - confirmation.started_confirmations(trials))

    def reserved_runs(self) -> float:
        return self._reserve

    def give_back_reserve(self) -> bool:
        if not self._reserve or confirmation.candidates(
            self.study.get_trials(deepcopy=False), self.direction, 1
        )[0]:
            return False
        self.released = True
        self._reserve = 0
        return True

    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        """Queue the confirmation runs still missing (as many as the budget buys), then run the
        oldest queued one."""
        trials = self.study.get_trials(deepcopy=False)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        room = math.inf if self.extend else self.search.room(busy)
        room -= waiting
        seed = self.settings["seed"]
        for run in confirmation.pending(
            trials, self.direction, self.plan(),
            lambda j: trial_seed(seed, confirmation.CONFIRM_SEED_BASE + j),
        ):
            if room < 1:
                break
            attrs: dict[str, Any] = {"confirms": run.origin, "confirm_round": run.round_,
                                     "seed": run.seed}
            if run.baseline is not None:
                attrs["baseline"] = run.baseline
            self.study.enqueue_trial(run.params, user_attrs=attrs)
            room -= 1
            waiting += 1
        if not waiting:
            return None
        if self.extend:
            return Job("waiting", None, 1.0)
        self.search.refresh(self.study.get_trials(deepcopy=False))
        return self.search.queued_job(busy)

    def budget_status(self) -> tuple[float, str]:
        return self.search.budget_status()

    def describe(self) -> str:
        k, m = self.plan()
        if not k or not m:
            return "Confirmation: none."
        return (f"Confirmation: the top {k} configuration{'s' if k != 1 else ''} and the "
                f"constant baseline on {m} fresh seed{'s' if m != 1 else ''}"
                + (", beyond the budget." if self.extend else ", inside the budget."))
