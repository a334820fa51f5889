"""The interface every search strategy implements (the registry is :mod:`autolr.search.strategies`).

A study spends its budget through *phases* (:class:`SearchStrategy` objects), asked in turn by
the study loop (:class:`autolr.tuner.StudyRun`), which knows none of them by name. Each answers
the three questions of Ray Tune's and Syne Tune's ``TrialScheduler``:

- **Which run starts next within the budget** (:meth:`SearchStrategy.next_job`): a fresh
  configuration, a queued trial, a promotion to a longer rung; or None (wait, or done).
- **What happens when a run ends** (:meth:`SearchStrategy.ended`): learn from it (place the
  fidelity ladder on the first full run's reports, say), and possibly hand over to another
  strategy (a ladder the script cannot honour becomes the full search).
- **What the summary shows** (:meth:`SearchStrategy.describe`, :meth:`budget_status`).

Every decision is taken holding the study's lock on a fresh read of its trials
(:meth:`SearchStrategy.refresh`), so several processes running one study share one budget.
A strategy keeps nothing of its own that it cannot rebuild from the study's trials and settings:
a resumed study, or a second machine, picks up where the others are.

Adding a strategy is one module and one :func:`~autolr.search.strategies.register_strategy`
call; ``search=NAME`` (``autolr.tune``) then runs it. The built-in ones: ``ladder``
(:mod:`autolr.search.ladder_search`) and ``full`` (:mod:`autolr.search.full_search`); the
confirmation phase that follows either is :mod:`autolr.search.confirmation_phase`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from optuna.trial import FrozenTrial


@dataclass(frozen=True)
class Job:
    """What a free worker runs next.

    ``kind``: ``"waiting"`` (the oldest queued trial: a baseline, or a run queued again after an
    interruption), ``"new"`` (a new configuration at ``rung``), ``"promote"`` (``source``'s
    parameters at ``rung``) or ``"full"`` (a new configuration at full fidelity, while the
    ladder is not planned yet).
    """

    kind: str
    rung: int | None
    fidelity: float
    source: int | None = None  # the trial number a promotion repeats
    # a promotion's parameters, or those a strategy prescribes for a new run (then ``attrs``
    # are the user attributes it starts with)
    params: Mapping[str, Any] | None = None
    attrs: Mapping[str, Any] | None = None


Decide = Callable[[Callable[[], Any]], Any]
"""Runs a function holding the study's lock on a fresh read of the study (for a decision a
strategy takes while a run is under way)."""


class SearchStrategy(ABC):
    """One phase of a study's search: which run starts next, what a run's end changes, what
    the summary says.

    ``settings`` is the study's settings dict, shared with the study loop (which saves it when
    a strategy changes it: placing the ladder, say); ``direction`` is ``"minimize"`` or
    ``"maximize"``; ``trials`` the study's trials as read now; ``pruner`` the pruner the user
    asked for (None: the strategy's default).
    """

    name: ClassVar[str]
    unit: ClassVar[str] = "full runs"  # what budget_status counts: "full runs" or "trials"
    waits_for_running: ClassVar[bool] = True  # no later phase starts while its runs go on

    def __init__(self, settings: dict[str, Any], direction: str,
                 trials: Sequence[FrozenTrial], *, pruner: str | None = None) -> None:
        self.settings = settings
        self.direction = direction
        self.requested_pruner = pruner
        self.refresh(trials)

    @property
    def n_trials(self) -> int:
        """The study's budget as its settings say now (another process may have raised it)."""
        return int(self.settings["n_trials"])

    # --- which run starts next ------------------------------------------------------------------
    @abstractmethod
    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        """The run a free worker starts now, or None. ``busy``: the study's running trials,
        every process's; ``reserved_runs``: full runs of the budget kept for later phases."""

    def queued_job(self, busy: int) -> Job | None:
        """The job that runs a trial a later phase queued (a confirmation run), if the budget
        has room for it now."""
        return Job("waiting", None, 1.0) if self.room(busy) >= 1 else None

    def started(self, job: Job, control: Any, decide: Decide) -> None:  # noqa: B027
        """Count a run just handed to a worker (``control``: its trial control)."""

    # --- what happens when a run ends -----------------------------------------------------------
    def ended(self, control: Any, outcome: Any) -> str | None:
        """Learn from a run that ended (holding the lock; ``control`` its trial control,
        ``outcome`` how it ended). Returns a note for the user, if any; a strategy that hands
        over says so through :meth:`successor`."""
        return None

    def successor(self) -> tuple[SearchStrategy, str] | None:
        """The strategy that decides from now on and why, once this one has handed over (asked
        after every :meth:`ended` and :meth:`refresh`: another process may have decided it)."""
        return None

    @abstractmethod
    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        """Take a fresh read of the study's trials (holding the lock)."""

    # --- the budget -----------------------------------------------------------------------------
    @abstractmethod
    def budget_status(self) -> tuple[float, str]:
        """How much of the budget is spent, and in what :attr:`unit`."""

    def room(self, busy: int) -> float:
        """How many more full runs the budget has room for now."""
        spent, unit = self.budget_status()
        return self.n_trials - spent - (busy if unit == "trials" else 0)

    def reserved_runs(self) -> float:
        """Full runs of the budget this phase keeps from the phases before it."""
        return 0.0

    def give_back_reserve(self) -> bool:
        """Called when nothing runs and nothing can start: True when this phase gave its
        reserve back to the phases before it (then they are asked again)."""
        return False

    # --- how runs are judged and learned from ---------------------------------------------------
    @property
    def pruner(self) -> str:
        """The pruner name the study uses under this strategy (see :mod:`autolr.search.pruning`)."""
        return "none"

    def learning_view(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        """The trials the sampler and the LR-edge rule learn from."""
        return trials

    def configurations_expected(self, baselines: int) -> int:
        """About how many configurations the budget buys (it sizes the sampler's start-up)."""
        return self.n_trials

    # --- what the summary shows -----------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """How the study searches, in one line (``autolr tune`` prints it at the start)."""
