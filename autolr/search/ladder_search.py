"""The study's side of a fidelity ladder: which run a free worker starts, and the budget.

:mod:`autolr.search.ladder` holds the ladder, ASHA's promotion rule and the budget arithmetic, all
derived from the trials; this module keeps one study's ladder going across its life:

1. *Before the ladder is planned* (a new study) every run is full length: the baselines, or a
   first sampled configuration. One run at a time is started beyond the queued baselines, since
   the rungs can be placed only once a full run has shown where the script reports.
2. *When the first full run completes*, :func:`autolr.search.ladder.plan_ladder` places the rungs on
   its report positions and the ladder is stored with the study's settings; a script that cannot
   honour any rung (too few steps, a report only at the end, a step count that differs from the
   declared ``total_steps``) makes the study a full search, and the reason is stored and shown.
3. *Then* a :class:`~autolr.search.ladder.LadderBoard` answers every free worker, within the
   budget of ``n_trials`` full runs.

The strategy registered as ``search="ladder"`` (see :mod:`autolr.search.strategy`); a study that
falls back hands over to :class:`~autolr.search.full_search.FullSearch`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr import _validation
from autolr.search.ladder import (
    LadderBoard,
    cost_of,
    learning_trials,
    plan_ladder,
    planned_ladder,
    steps_used,
)
from autolr.search.strategy import Decide, Job, SearchStrategy


def check_pruner_on_ladder(pruner: str | None, owner: str) -> None:
    """The fidelity ladder ends runs at its rungs: a pruner other than ``none`` is refused."""
    if pruner not in (None, "none"):
        raise _validation.fail(
            "pruner", owner, "applies to search='lr_first' or 'full' only: the fidelity ladder "
            "ends runs at its rungs instead", pruner,
            "Drop it, or search with full-length runs (search='lr_first', the default, or "
            "autolr tune --search full) to prune them.",
        )


class LadderSearch(SearchStrategy):
    """Decides the runs of a ladder study. ``settings`` is the study's settings dict (shared
    with the study loop, which saves it); planning the ladder writes ``ladder`` or
    ``ladder_fallback`` into it."""

    name = "ladder"

    def __init__(self, settings: dict[str, Any], direction: str,
                 trials: Sequence[FrozenTrial], *, pruner: str | None = None) -> None:
        check_pruner_on_ladder(pruner, "tune")
        self.ladder = None
        self.board: LadderBoard | None = None
        super().__init__(settings, direction, trials, pruner=pruner)

    @property
    def planned(self) -> bool:
        return self.ladder is not None

    def successor(self) -> tuple[SearchStrategy, str] | None:
        """The full search, once this study (or another process running it) found that the
        script cannot honour the ladder."""
        reason = self.settings.get("ladder_fallback")
        if not reason:
            return None
        from autolr.search.full_search import FullSearch

        return FullSearch(self.settings, self.direction, self._trials,
                          pruner=self.requested_pruner), reason

    def budget_status(self) -> tuple[float, str]:
        return self.compute_used(), self.unit

    def room(self, busy: int) -> float:
        return math.floor(self.n_trials - self.compute_used() + 1e-9)

    def queued_job(self, busy: int) -> Job | None:
        return self.next_job(busy)

    def configurations_expected(self, baselines: int) -> int:
        request = self.settings.get("ladder_request")
        if not request:
            return self.n_trials
        searched = max(1, self.n_trials - baselines)
        return max(1, round(searched / cost_of(request["fidelities"], request["eta"])))

    def describe(self) -> str:
        if self.ladder is not None:
            return f"Search: fidelity ladder, {self.ladder.describe()}."
        request = self.settings["ladder_request"]
        rungs = ", ".join(f"{f:.3g}" for f in request["fidelities"])
        return (f"Search: fidelity ladder, rungs {rungs} of the run, eta {request['eta']}; "
                "they are placed where the script reports once its first full run completes.")

    def started(self, job: Job, control: Any, decide: Decide) -> None:
        """Count the run; a new configuration at the first rung may move to the rung its
        family enters at once its family is known (see :meth:`entry`)."""
        if self.board is not None:
            steps = self.planned_steps(job)
            assert steps is not None
            self.board.started(job, steps)
        else:
            self._started_since_read += 1
        if job.kind == "new" and job.rung == 0:
            control.rung = 0
            control.entry_rung = lambda rung, metric_driven: self._entry(rung, metric_driven,
                                                                          decide)

    def _entry(self, rung: int | None, metric_driven: bool,
               decide: Decide) -> tuple[int, float] | None:
        if self.board is None or rung != 0:
            return None
        if self.board.ladder.entry_rung(metric_driven) == rung:
            return None
        return decide(lambda: self.entry(rung, metric_driven))

    def ended(self, control: Any, outcome: Any) -> str | None:
        """Place the rungs on the first completed full run (or fall back to the full search,
        see :meth:`successor`); returns what to tell the user."""
        if self.planned or outcome.state != TrialState.COMPLETE or control.fidelity < 1:
            return None
        assert control.declared_steps is not None
        return self.plan_from(declared_steps=control.declared_steps,
                              steps_taken=control.steps_taken,
                              report_positions=control.report_positions)

    def total_steps(self) -> int | None:
        value = self.settings.get("total_steps")
        return int(value) if isinstance(value, int) and value > 0 else None

    def budget_steps(self) -> int | None:
        """The budget, ``n_trials`` full runs, in scheduler steps (None while unknown)."""
        total = self.total_steps()
        return self.n_trials * total if total else None

    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        """Take a fresh read of the study's trials and settings: the ladder may have been
        placed by another process running the study (the sampler then learns from one rung,
        see :meth:`learning_view`)."""
        self._trials = list(trials)
        self._started_since_read = 0
        if self.board is None and (ladder := planned_ladder(self.settings)) is not None:
            self.ladder = ladder
            self.board = LadderBoard(ladder, self.direction, trials)
        elif self.board is not None:
            self.board.rebuild(trials)

    # --- the next run ------------------------------------------------------------------------
    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        """The run to start now, or None (wait while ``busy`` runs go on; stop when none do).
        ``reserved_runs`` full runs of the budget are kept for confirmation."""
        if self.board is not None:
            budget = self.budget_steps()
            assert budget is not None  # the ladder is planned from a run of known length
            reserved = round(reserved_runs * self.board.ladder.total_steps)
            return self.board.next_job(budget, reserved)
        return self._job_before_ladder(busy, reserved_runs)

    def compute_used(self) -> float:
        """The compute spent (and committed to running runs), in full runs."""
        if self.board is not None:
            return self.board.used_steps / self.board.ladder.total_steps
        total = self.total_steps()
        if total is None:  # no run has ended yet: each started one is a full run
            return float(self._runs_started())
        used = sum((steps_used(trial, total) or 0) for trial in self._trials) / total
        return used + self._started_since_read

    def _runs_started(self) -> int:
        started = sum(
            t.state != TrialState.WAITING
            and (t.state != TrialState.FAIL or t.datetime_start is not None)
            for t in self._trials
        )
        return started + self._started_since_read

    def _job_before_ladder(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        """Full runs only, within ``n_trials`` of them (in compute and in number, so that runs
        that end at once cannot go on for ever): the queued trials (baselines) as workers free
        up, otherwise a single sampled run at a time until one completes."""
        used = self.compute_used()
        if used + 1 > self.n_trials + 1e-9 or self._runs_started() >= self.n_trials:
            return None
        waiting = [t for t in self._trials if t.state == TrialState.WAITING]
        if len(waiting) > self._started_since_read:
            return Job("waiting", None, 1.0)
        if used + 1 > self.n_trials - reserved_runs + 1e-9:
            return None
        if busy:
            return None
        return Job("full", None, 1.0)

    def planned_steps(self, job: Job) -> int | None:
        """The steps a job's run will take, when the run length is known."""
        total = self.total_steps()
        if total is None:
            return None
        if self.ladder is not None and job.rung is not None:
            return self.ladder.steps[job.rung]
        return max(1, round(job.fidelity * total))

    def entry(self, rung: int | None, metric_driven: bool) -> tuple[int, float] | None:
        """The rung (and fidelity) a new configuration started at ``rung`` should run at once
        its family is known, or None to keep it there (it is not a new ladder run, or the move
        does not fit in the budget)."""
        if self.board is None or rung is None or rung != 0:
            return None
        entry = self.board.ladder.entry_rung(metric_driven)
        if entry == rung:
            return None
        steps = self.board.ladder.steps
        budget = self.budget_steps()
        assert budget is not None
        if self.board.used_steps - steps[rung] + steps[entry] > budget:
            return None
        self.board.regraded(steps[rung], steps[entry])
        return entry, self.board.ladder.fidelities[entry]

    # --- planning the ladder -------------------------------------------------------------------
    def plan_from(
        self, *, declared_steps: int, steps_taken: int, report_positions: Sequence[int]
    ) -> str:
        """Place the rungs on a completed full run's reports. Returns what to tell the user:
        the ladder (with how it was moved or shortened), or why the study runs the full search
        instead (then ``settings["ladder_fallback"]`` holds that reason)."""
        request = self.settings["ladder_request"]
        if steps_taken != declared_steps:
            reason = (
                f"The fidelity ladder cannot be used: the first full run called "
                f"scheduler.step() {steps_taken:,} times but declared total_steps="
                f"{declared_steps:,}, so autolr cannot tell where a shortened run would end. "
                "Fix total_steps (see the step-count warning)."
            )
            return self._fall_back(reason)
        ladder, reason = plan_ladder(
            request["fidelities"], request["eta"], declared_steps, report_positions
        )
        if ladder is None:
            return self._fall_back(reason)
        self.ladder = ladder
        self.settings["ladder"] = ladder.to_dict()
        self.board = LadderBoard(ladder, self.direction, self._trials)
        notes = "; ".join(ladder.notes)
        return f"Fidelity ladder: {ladder.describe()}." + (f" ({notes}.)" if notes else "")

    def _fall_back(self, reason: str) -> str:
        self.settings["ladder_fallback"] = reason
        return f"{reason} The study runs the full search instead (every run at full length)."

    # --- what the sampler sees ----------------------------------------------------------------
    def learning_view(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        """The trials the sampler and the LR-edge rule learn from: one rung's results."""
        if self.board is None:
            return trials
        return learning_trials(self.ladder, trials, self.board.learning_rung())
