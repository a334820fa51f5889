"""``autolr.scheduler`` and ``autolr.report``: the two calls a training script makes (and
``autolr.seed``, for a script that seeds itself).

Behind them is the current trial, if any. Under ``autolr tune`` (or ``autolr.tune``) a trial
session is active: ``scheduler`` applies the trial's sampled schedule and ``report`` feeds the
study (and may raise :class:`autolr.TrialPruned`). Run plainly, the script behaves like an ordinary
script: ``scheduler`` returns a constant schedule, the schedule in the JSON file named by the
``AUTOLR_SCHEDULE`` environment variable, or ``default``; ``report`` only feeds the plateau family.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any, Protocol

from autolr import _validation
from autolr.errors import AutolrWarning, ConfigError
from autolr.schedules.spec import ScheduleSpec, load_schedule, optimizer_list, set_metric_source

SCHEDULE_ENV = "AUTOLR_SCHEDULE"
SEED_ENV = "AUTOLR_SEED"


class TrialSession(Protocol):
    """What a running trial offers the calls (in-process or through a worker's pipe)."""

    seed: int  # the trial's seed

    def make_schedule(self, base_lr: float, total_steps: int) -> ScheduleSpec: ...

    def on_report(self, value: float, step: int) -> None: ...

    def on_scheduler_step(self, steps_taken: int, lr: float) -> None: ...


class _State:
    session: TrialSession | None = None
    scheduler_made = False
    report_count = 0
    last_value: float | None = None
    capturing: str | None = None  # the metric read from the output (autolr tune --metric)


_state = _State()


def begin_session(session: TrialSession) -> None:
    """Make ``session`` the current trial (the runner calls this before running the script)."""
    _state.session = session
    _state.scheduler_made = False
    _state.report_count = 0
    _state.last_value = None


def end_session() -> None:
    _state.session = None
    _state.scheduler_made = False


def in_trial() -> bool:
    """True while a study's trial is running in this process."""
    return _state.session is not None


def begin_capture(label: str) -> None:
    """The script runs under ``--metric``: its LR is set through the optimizer hooks and its
    metric read from its output (:mod:`autolr.capture`), so its own autolr calls are refused."""
    _state.capturing = label
    _state.report_count = 0
    _state.last_value = None


def end_capture() -> None:
    _state.capturing = None


def note_report(value: float) -> None:
    """A value read from the output under ``--metric``: what a plateau schedule reads."""
    if math.isfinite(value):
        _state.report_count += 1
        _state.last_value = value


def _refuse_under_capture(call: str) -> None:
    if _state.capturing is not None:
        raise ConfigError(
            f"The script calls {call}, and autolr tune --metric {_state.capturing} reads the "
            "metric from its output and sets its LR through the optimizer hooks: the two "
            "cannot both drive a trial. The script's own autolr calls win: run autolr tune "
            "without --metric (and --metric-regex) to tune it through them."
        )


def last_report() -> tuple[int, float | None]:
    """How many values were reported so far and the last one (read by the plateau family)."""
    return _state.report_count, _state.last_value


set_metric_source(last_report)  # a plateau schedule built without a metric source reads it


def seed(default: int | None = None) -> int | None:
    """The seed this run should train with: the trial's seed under tuning (each trial has its
    own, recorded as its ``seed`` attribute); run plainly, the ``AUTOLR_SEED`` environment
    variable, else ``default``.

    A script that seeds itself (``torch.manual_seed(args.seed)``) undoes the seeding autolr does
    at the start of each trial, so every trial would train on the same draw. Seed from this
    instead: ``torch.manual_seed(autolr.seed(default=args.seed))``.
    """
    owner = "autolr.seed"
    if default is not None:
        default = _validation.number("default", owner, default, low=0, integer=True)
    session = _state.session
    if session is not None:
        return session.seed
    text = os.environ.get(SEED_ENV)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"The {SEED_ENV} environment variable must be a seed, a whole number >= 0. Got "
            f"{text!r}; set it to a number such as 1234, or unset it."
        )
    return value


def scheduler(optimizer: Any, total_steps: int, default: str | ScheduleSpec | None = None) -> Any:
    """The LR scheduler for this run; call ``scheduler.step()`` after each ``optimizer.step()``
    (or once per epoch, if ``total_steps`` counts epochs).

    Args:
        optimizer: the torch optimizer; its first param group's LR is the script's own LR, the
            reference for the study's LR range. Several groups keep their LR ratios. A list or
            tuple of optimizers (a GAN's generator and discriminator) follows one schedule: the
            first optimizer's first group gets the schedule's LR (the study's peak LR under
            tuning), and every group of every optimizer keeps its LR ratio to that group, so one
            multiplier drives them all. Call this once per run, with every optimizer.
        total_steps: how many times the script will call ``scheduler.step()`` in the whole run,
            per batch or per epoch — your choice; autolr counts the calls and warns on mismatch.
        default: the schedule for plain runs without ``AUTOLR_SCHEDULE``: a family name (with
            its default parameters and the optimizer's LR) or a :class:`~autolr.ScheduleSpec`.

    Returns:
        For one optimizer, a torch LR scheduler (``step()``, ``get_last_lr()``,
        ``state_dict()`` / ``load_state_dict()``, ``last_epoch``). For a list, a
        :class:`~autolr.schedules.torch_schedulers.MultiOptimizerLR` with the same methods:
        ``step()`` steps every optimizer's scheduler once; ``get_last_lr()`` lists every group's
        LR, the first optimizer's groups first; ``last_epoch`` counts the steps. Under tuning the
        trial records the first optimizer's first group's LR as its LR curve.
    """
    owner = "autolr.scheduler"
    _refuse_under_capture(owner)
    total_steps = _validation.number("total_steps", owner, total_steps, low=1, integer=True)
    optimizers = optimizer_list(optimizer, owner)
    head = optimizers[0].param_groups[0]
    base_lr = float(head.get("initial_lr", head["lr"]))
    session = _state.session
    if session is not None:
        if _state.scheduler_made:
            raise ConfigError(
                "autolr.scheduler was called twice in one trial. Create one scheduler per "
                "training run: call autolr.scheduler once, after creating the optimizer. For "
                "several optimizers (a GAN's generator and discriminator), pass them together: "
                "autolr.scheduler([optimizer_g, optimizer_d], total_steps=...)."
            )
        _state.scheduler_made = True
        spec = session.make_schedule(base_lr, total_steps)
        built = spec.build(optimizer, metric_source=last_report)
        observe = _observer(session)
        built.set_observer(observe)
        observe(built)  # the LR in effect before the first step
        return built
    spec = _plain_run_spec(base_lr, total_steps, default)
    return spec.build(optimizer, metric_source=last_report)


def _observer(session: TrialSession) -> Any:
    """Reports each step, and the first optimizer's first group's LR, to the trial."""

    def observe(built: Any) -> None:
        session.on_scheduler_step(built.last_epoch, float(built.optimizer.param_groups[0]["lr"]))

    return observe


def _plain_run_spec(base_lr: float, total_steps: int, default: Any) -> ScheduleSpec:
    path = os.environ.get(SCHEDULE_ENV)
    if path:
        spec = load_schedule(path)
        source = f"{SCHEDULE_ENV}={path}"
    elif default is None:
        return ScheduleSpec("constant", lr=base_lr, total_steps=total_steps)
    elif isinstance(default, str):
        return ScheduleSpec(default, lr=base_lr, total_steps=total_steps)
    elif isinstance(default, ScheduleSpec):
        spec, source = default, "default="
    else:
        raise _validation.fail(
            "default", "autolr.scheduler", "must be a family name or an autolr.ScheduleSpec",
            default,
        )
    if spec.total_steps != total_steps:
        warnings.warn(
            f"The schedule from {source} was made for total_steps={spec.total_steps}; this run "
            f"has total_steps={total_steps}, so it is stretched to fit (positions and lengths are "
            "fractions of the run).",
            AutolrWarning,
            stacklevel=3,
        )
        spec = spec.with_total_steps(total_steps)
    return spec


def report(value: Any, step: int) -> None:
    """Give the metric at a point in training (e.g. the validation loss after an epoch).

    The trial's objective is the last reported value. Under tuning this may raise
    :class:`autolr.TrialPruned` to stop a hopeless trial early — let it propagate. Run plainly, it
    only feeds the plateau family.

    Args:
        value: a number (a one-element tensor works too).
        step: where in training the value was measured, e.g. the epoch; must not decrease.
    """
    owner = "autolr.report"
    _refuse_under_capture(owner)
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        try:
            value = value.item()
        except (RuntimeError, ValueError):
            raise _validation.fail("value", owner, "must be a single number", value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _validation.fail("value", owner, "must be a number", value)
    value = float(value)
    step = _validation.number("step", owner, step, low=0, integer=True)
    session = _state.session
    if session is not None and not _state.scheduler_made:
        raise ConfigError(
            "autolr.report was called before autolr.scheduler in this trial. Create the "
            "scheduler first: scheduler = autolr.scheduler(optimizer, total_steps=...)."
        )
    if math.isfinite(value):  # a NaN must not count as a (repeated) plateau report
        _state.report_count += 1
        _state.last_value = value
    if session is not None:
        session.on_report(value, step)
