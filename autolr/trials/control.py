"""The study's side of one trial: sampling its schedule, judging its reports, recording its end.

A :class:`TrialControl` lives in the process that owns the study (the only writer). The training
code talks to it through ``autolr.scheduler`` / ``autolr.report`` — directly when it runs in the
same process, over a pipe when it runs in a worker. Everything a trial leaves behind is stored as
Optuna user attributes, readable by any Optuna tool:

``spec`` (the schedule as JSON data), ``lr`` (absolute peak LR), ``seed``, ``steps`` (calls of
``scheduler.step()``), ``lr_curve`` (the LR in effect, at most 512 points), ``wall_time_s``,
``reason`` (why it ended: complete, pruned, diverged, failed, out of memory, interrupted, timeout,
abandoned), ``error`` (message and the end of the traceback), ``step_mismatch`` (when the
script stepped a different number of times than it declared), ``report_lrs`` (the LR in effect
at each report, which the pruners compare by). Runs of a fidelity ladder also carry ``fidelity``,
``rung`` and, when promoted, ``promoted_from`` (see :mod:`autolr.search.ladder`); a run shortened to
``fidelity < 1`` follows its schedule compressed into ``round(fidelity * total_steps)`` steps,
its ``spec`` is that compressed schedule, and it ends (reason ``shortened``) at the first report
at or after that step.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from autolr.errors import TrialPruned
from autolr.schedules.spec import ScheduleSpec
from autolr.search.ladder import SHORTENED
from autolr.search.pruning import divergence, track_report_lrs
from autolr.search.space import SearchSpace
from autolr.study.storage_retry import set_user_attrs

MAX_CURVE_POINTS = 512

MISSING_SCHEDULER = (
    "The training code never called autolr.scheduler, so autolr cannot apply the trial's "
    "schedule. Add, after creating the optimizer:\n"
    "    scheduler = autolr.scheduler(optimizer, total_steps=epochs * len(train_loader))\n"
    "and call scheduler.step() after each optimizer.step()."
)
MISSING_REPORT = (
    "The training code never called autolr.report, so the trial has no objective value. Add, "
    "after each evaluation:\n"
    "    autolr.report(val_loss, step=epoch)"
)


@dataclass
class TrialOutcome:
    """How a trial ended, ready for ``study.tell``. ``fatal`` stops the whole study."""

    state: TrialState
    value: float | None
    reason: str
    error: str | None = None
    fatal: bool = False
    signature: str | None = None  # identifies "the same error" across trials
    requeue: bool = False  # not the configuration's fault (a shared GPU ran out): run it again


class TrialControl:
    """The parent-side state of one running trial."""

    def __init__(
        self,
        trial: optuna.Trial,
        space: SearchSpace,
        *,
        seed: int,
        owner: str,
        worker: str = "main",
        prune_after: float = 0.0,
        fidelity: float = 1.0,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """``attrs``: more user attributes to store on the trial as it starts, with its seed
        and owner (in one write)."""
        self.trial = trial
        self.number = trial.number
        self.space = space
        self.seed = seed
        self.worker = worker
        self.prune_after = prune_after  # reports before the pruner is worth asking
        self.fidelity = fidelity  # < 1: a shortened run (see autolr.search.ladder)
        self.declared_steps: int | None = None  # total_steps as the script gave it
        self.run_steps: int | None = None  # the steps this run's schedule spans
        self.report_positions: list[int] = []  # scheduler steps taken at each report
        # Set by the study for a new ladder run: the rung it should run at once its family is
        # known (a metric-driven family needs a rung with enough reports), or None.
        self.entry_rung: Any = None
        self.rung: int | None = None
        self.started = time.time()
        # Another process running the study failed this trial as abandoned (this one was
        # suspended, or away from the database, too long): nothing more is stored for it.
        self.taken_over = False
        self.spec: ScheduleSpec | None = None
        self.base_lr: float | None = None
        self.first_value: float | None = None
        self.last_value: float | None = None
        self.n_reports = 0
        self.steps_taken = 0
        self.lr_curve = array("d")
        self.report_lrs: dict[str, float] = {}  # report step -> LR in effect (for pruning)
        self.end_reason: str | None = None
        self.end_detail: str | None = None
        self.warnings: list[str] = []
        # autolr tune --metric: the steps are optimizer steps, counted by the hooks
        self.captured = False
        set_user_attrs(trial, {**(attrs or {}), "seed": seed, "owner": owner})
        track_report_lrs(trial._trial_id, self.report_lrs)

    # --- called by the training code (directly or through a worker) ------------------------
    def make_schedule(self, base_lr: float, total_steps: int) -> ScheduleSpec:
        spec = self.space.sample(self.trial, base_lr, total_steps)
        if self.entry_rung is not None:
            moved = self.entry_rung(self.rung, spec.metric_driven)
            if moved is not None:
                moved, fidelity = moved
                set_user_attrs(self.trial, {"entered_from": self.rung, "rung": moved,
                                            "fidelity": fidelity})
                self.rung, self.fidelity = moved, fidelity
        if self.fidelity < 1.0:
            spec = spec.shortened(self.fidelity)
        self.declared_steps = total_steps
        self.run_steps = spec.total_steps
        self.spec = spec
        self.base_lr = base_lr
        set_user_attrs(self.trial, {"spec": spec.to_dict(), "lr": spec.lr})
        return spec

    def on_scheduler_step(self, steps_taken: int, lr: float) -> None:
        self.steps_taken = steps_taken
        if steps_taken == len(self.lr_curve):
            self.lr_curve.append(lr)

    def on_report(self, value: float, step: int) -> None:
        decision = self.judge(value, step, steps_taken=self.steps_taken)
        if decision != "continue":
            raise TrialPruned(self.end_detail or decision, reason=decision)

    def judge(
        self, value: float, step: int, lr: float | None = None, *, steps_taken: int | None = None
    ) -> str:
        """``continue``, ``pruned``, ``diverged`` or ``shortened`` for a value reported while
        ``lr`` (the first group's LR; in-process, the last one the scheduler applied) was in
        effect, after ``steps_taken`` calls of ``scheduler.step()``. A shortened run ends at its
        first report at or after the end of its compressed schedule."""
        self.n_reports += 1
        if steps_taken is not None:
            self.steps_taken = steps_taken
            self.report_positions.append(steps_taken)
        if lr is None and self.lr_curve:
            lr = self.lr_curve[-1]
        why = divergence(self.first_value, value, self.space.direction)
        if self.first_value is None and math.isfinite(value):
            self.first_value = value
        if why is not None:
            self.end_reason, self.end_detail = "diverged", why
            return "diverged"
        self.last_value = value
        if lr is not None:
            self.report_lrs[str(step)] = lr  # read by the pruner; stored when the trial ends
        try:
            self.trial.report(value, step)
        except optuna.exceptions.UpdateFinishedTrialError:
            self.taken_over = True
            self.end_reason = self.end_detail = "abandoned"
            return "abandoned"
        if self.shortened_at_end():
            self.end_reason = SHORTENED
            self.end_detail = (
                f"ended at its rung after {self.steps_taken} of {self.declared_steps} steps "
                f"(fidelity {self.fidelity:.3g})"
            )
            return SHORTENED
        if self.n_reports > self.prune_after and self.trial.should_prune():
            self.end_reason = "pruned"
            self.end_detail = f"pruned at step {step} (value {value:.6g})"
            return "pruned"
        return "continue"

    def shortened_at_end(self) -> bool:
        """True for a shortened run that has stepped through its whole compressed schedule."""
        return self.run_steps is not None and self.fidelity < 1.0 and (
            self.steps_taken >= self.run_steps
        )

    # --- ends --------------------------------------------------------------------------------
    def completed(self) -> TrialOutcome:
        if self.spec is None:
            return self._failed("missing autolr.scheduler", MISSING_SCHEDULER, fatal=True)
        if self.last_value is None:
            return self._failed("missing autolr.report", MISSING_REPORT, fatal=True)
        if self.fidelity < 1.0:
            # The script ended before the run reached its rung's step: still the run's value
            # at a lower fidelity, never a full-fidelity result.
            if not self.shortened_at_end():
                self._check_step_count(self.run_steps)
            self.end_reason = SHORTENED
            return self.pruned(SHORTENED)
        self._check_step_count()
        self._record("complete")
        return TrialOutcome(TrialState.COMPLETE, self.last_value, "complete")

    def pruned(self, reason: str | None = None) -> TrialOutcome:
        reason = self.end_reason or reason or "pruned"
        self._record(reason, self.end_detail)
        return TrialOutcome(TrialState.PRUNED, self.last_value, reason)

    def failed(self, reason: str, error: str, signature: str | None = None) -> TrialOutcome:
        return self._failed(reason, error, signature=signature)

    def _failed(
        self, reason: str, error: str, *, fatal: bool = False, signature: str | None = None
    ) -> TrialOutcome:
        self._record(reason, error)
        return TrialOutcome(TrialState.FAIL, None, reason, error, fatal, signature or error)

    def _record(self, reason: str, error: str | None = None) -> None:
        trial = self.trial
        track_report_lrs(trial._trial_id, None)
        if self.taken_over:
            return
        attrs: dict[str, Any] = {"worker": self.worker}
        if self.base_lr is not None:
            attrs["base_lr"] = self.base_lr
        if self.report_lrs:
            attrs["report_lrs"] = self.report_lrs
        attrs["reason"] = reason
        if error:
            attrs["error"] = error[-4000:]
        attrs["steps"] = self.steps_taken
        attrs["reports"] = self.n_reports
        attrs["wall_time_s"] = round(time.time() - self.started, 3)
        if self.lr_curve:
            attrs["lr_curve"] = downsample(self.lr_curve)
        if self.spec is not None and self.n_reports and self.steps_taken:
            unit = "batch" if self.steps_taken >= 1.5 * self.n_reports else "epoch"
            self.spec = self.spec.replace(step_unit=unit)
            attrs["spec"] = self.spec.to_dict()
        set_user_attrs(trial, attrs)

    def _check_step_count(self, expected: int | None = None) -> None:
        """Warn when the script stepped other than it declared; a shortened run is expected to
        take ``expected`` (its compressed schedule's) steps, and is judged by the script's own
        declared total."""
        spec = self.spec
        assert spec is not None
        if self.steps_taken == (expected or spec.total_steps):
            return
        total = self.declared_steps or spec.total_steps
        message = (captured_mismatch_message(self.steps_taken, total) if self.captured
                   else step_mismatch_message(self.steps_taken, total))
        self.trial.set_user_attr("step_mismatch", message)
        self.warnings.append(message)


def step_mismatch_message(steps: int, total: int) -> str:
    """Both numbers and the likely cause of a scheduler.step() count that differs from
    ``total_steps``."""
    head = (
        f"The training code called scheduler.step() {steps} times, but told autolr.scheduler "
        f"total_steps={total}."
    )
    if steps == 0:
        cause = "It never stepped the scheduler: call scheduler.step() after optimizer.step()."
    elif steps < total and total / steps >= 2:
        cause = (
            "It looks like the loop steps once per epoch while total_steps counts batches: call "
            "scheduler.step() after every optimizer.step(), or pass total_steps=epochs."
        )
    elif steps > total and steps / total >= 2:
        cause = (
            "It looks like the loop steps once per batch while total_steps counts epochs: pass "
            "total_steps=epochs * len(train_loader)."
        )
    else:
        cause = "Pass the number of scheduler.step() calls the run really makes."
    return f"{head} {cause} The schedule was stretched over the wrong horizon."


def captured_mismatch_message(steps: int, total: int) -> str:
    """A ``--metric`` run took ``steps`` optimizer steps where the study's runs take ``total``."""
    return (
        f"This run took {steps} optimizer steps; the study's schedules are made for {total} "
        "(the script's first run, or --total-steps). A script whose length changes between runs "
        "(a time limit, early stopping, a random number of batches) gets its schedule stretched "
        "over the wrong horizon: fix its length, or give the length it really runs with "
        "--total-steps in a new study."
    )


def downsample(values: Any, limit: int = MAX_CURVE_POINTS) -> dict[str, list]:
    """At most ``limit`` evenly spaced points (first and last kept) as ``{"steps", "lrs"}``."""
    n = len(values)
    if n <= limit:
        steps = list(range(n))
    else:
        steps = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return {"steps": steps, "lrs": [float(values[i]) for i in steps]}
