"""The LR of a script that never calls ``autolr.scheduler``, through torch's global optimizer
step hooks (``torch.optim.optimizer.register_optimizer_step_pre_hook`` and the post hook).

A *step* is a real optimizer step: the hooks run inside ``optimizer.step()``, so gradient
accumulation counts the steps the script takes, and a step a ``GradScaler`` skips (an overflow)
is not one. An optimizer subclass whose ``step()`` calls ``super().step()`` runs torch's hooks
twice; only the outer call is a step. The *head* is the first optimizer to step; its first
param group's LR is the LR the study searches, and the schedule's position is the head's step
count: another optimizer steps at the LR of the head's latest step (a GAN's discriminator and
generator share each iteration's LR).

- **Observing** (the study's first run, the script as it is): each head step records the LR the
  script set for it; nothing is changed.
- **Applying** (a trial, or ``autolr run``): at the head's first step the schedule is made for
  the script's LR (the head group's ``initial_lr`` or, without one, the LR it has then, unless
  the study measured it), then before every step of every optimizer each param group gets the
  schedule's LR times the ratio it had to the head group when first seen (a head at 10x keeps
  10x), and after the step the script's own value is put back: whatever the script does to its
  LR (its own ``torch.optim.lr_scheduler``, writing ``param_group["lr"]``, a trainer's
  scheduler) is overridden for the step and otherwise left to run as it likes.

A closed-form family's LR is computed at each step (``spec.lr * spec.multiplier(step)``, what
the scheduler ``autolr.scheduler`` builds gives); the plateau family, whose LR follows the
reports, runs as that scheduler on a one-parameter *shadow* optimizer, stepped once per head
step. A stop the
study decided at a report (pruned, diverged, a shortened run at its rung) is raised from the next
optimizer step, where the script's own code cannot swallow it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from autolr.errors import ConfigError
from autolr.schedules.registry import get_family
from autolr.schedules.spec import ScheduleSpec
from autolr.schedules.warmup import warmed_up

SpecFactory = Callable[[float], ScheduleSpec]  # the script's LR -> the schedule to apply
LrObserver = Callable[[int, float], None]  # (head steps taken, the LR of the next step)

DISTRIBUTED = (
    "The script runs as several processes (torch.distributed is initialised with world size "
    "{size}); autolr tune --metric runs a script as one process per trial and cannot set the LR "
    "of the others. Tune it on one process (world size 1), or call autolr.scheduler in the "
    "script."
)


def _value(lr: Any) -> float:
    return float(lr.item() if hasattr(lr, "item") else lr)


def _set(group: dict[str, Any], lr: float) -> None:
    current = group["lr"]
    if hasattr(current, "fill_"):  # a tensor LR (capturable or fused optimizers): in place
        current.fill_(lr)
    else:
        group["lr"] = lr


class StepHooks:
    """The hooks of one run; observing without ``make_spec``. Applying, ``make_spec(lr)`` gives
    the schedule for the script's LR (``script_lr``, the study's measure of it, else read at the
    first step), and ``on_lr(steps, lr)`` hears the LR of the next step as the schedule is made
    (0 steps) and after every head step, as ``autolr.scheduler``'s observer does."""

    def __init__(self, make_spec: SpecFactory | None = None, *, script_lr: float | None = None,
                 on_lr: LrObserver | None = None) -> None:
        self.make_spec = make_spec
        self.script_lr = script_lr
        self.on_lr = on_lr
        self.spec: ScheduleSpec | None = None
        self.head: Any = None
        self.steps = 0  # head steps taken
        self.lrs: list[float] = []  # observing: the script's head LR at each step
        self.stop: BaseException | None = None  # raised from the next optimizer step
        self.scheduler: Any = None
        self._ratios: dict[int, list[float]] = {}  # per optimizer, per group
        self._factor: Any = None
        self._saved: dict[int, list[Any]] = {}
        self._head_ref = 1.0
        self._lr = 0.0  # the LR of the head's latest step
        self._next = 0.0  # the LR of the head's next step
        self._handles: list[Any] = []
        # steps under way per optimizer: a subclass whose step() calls super().step() runs the
        # hooks twice (torch wraps each class's step); only the outer call counts
        self._depth: dict[int, int] = {}

    # --- installation ---------------------------------------------------------------------------
    def install(self) -> None:
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )

        self._handles = [register_optimizer_step_pre_hook(self._before),
                         register_optimizer_step_post_hook(self._after)]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> StepHooks:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # --- the hooks ------------------------------------------------------------------------------
    def _before(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.stop is not None:
            stop, self.stop = self.stop, None
            raise stop
        depth = self._depth.get(id(optimizer), 0)
        self._depth[id(optimizer)] = depth + 1
        if depth:
            return
        if self.head is None:
            self._first_step(optimizer)
        if self.spec is None:
            if optimizer is self.head:
                self.lrs.append(_value(optimizer.param_groups[0]["lr"]))
            return
        if optimizer is self.head:
            self._lr = self._next
        lr = self._lr  # the others step at the head's latest position (the same iteration)
        groups = optimizer.param_groups
        ratios = self._ratios.get(id(optimizer))
        if ratios is None or len(ratios) != len(groups):  # first seen, or a group added
            ratios = self._ratios[id(optimizer)] = self._group_ratios(groups, ratios or [])
        saved = []
        for group, ratio in zip(groups, ratios, strict=True):
            current = group["lr"]
            if type(current) is float:
                saved.append(current)
                group["lr"] = lr * ratio
            else:
                saved.append(_value(current))
                _set(group, lr * ratio)
        self._saved[id(optimizer)] = saved

    def _after(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        depth = self._depth.get(id(optimizer), 1) - 1
        self._depth[id(optimizer)] = depth
        if depth > 0:
            return
        saved = self._saved.pop(id(optimizer), None)
        if saved is not None:
            for group, lr in zip(optimizer.param_groups, saved, strict=False):
                if type(group["lr"]) is float:
                    group["lr"] = lr
                else:
                    _set(group, lr)
        if optimizer is not self.head:
            return
        self.steps += 1
        if self.spec is None:
            return
        if self.scheduler is not None:
            with warnings.catch_warnings():  # the shadow optimizer never steps itself
                warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*optimizer.step")
                self.scheduler.step()
        self._advance()

    def _advance(self) -> None:
        """The LR of the head's next step, told to ``on_lr``."""
        if self.scheduler is not None:
            self._next = _value(self.scheduler.optimizer.param_groups[0]["lr"])
        else:
            spec = self.spec
            assert spec is not None
            self._next = spec.lr * warmed_up(self._factor, self.steps, spec.total_steps,
                                             spec.warmup_steps, spec.params)
        if self.on_lr is not None:
            self.on_lr(self.steps, self._next)

    def _first_step(self, optimizer: Any) -> None:
        check_one_process()
        self.head = optimizer
        head = optimizer.param_groups[0]
        self._head_ref = _value(head.get("initial_lr", head["lr"])) or 1.0
        if self.make_spec is None:
            return
        spec = self.make_spec(self.script_lr or self._head_ref)
        if spec.metric_driven:
            import torch

            shadow = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=spec.lr)
            self.scheduler = spec.build(shadow)  # it reads the values reported in this process
        self.spec = spec
        self._factor = get_family(spec.family).factor  # spec.multiplier, without the lookup
        self._advance()

    def _group_ratios(self, groups: list[dict[str, Any]], known: list[float]) -> list[float]:
        """Each group's LR over the head group's, as first seen (``known``: those seen)."""
        return known + [_value(group.get("initial_lr", group["lr"])) / self._head_ref
                        for group in groups[len(known):]]


def check_one_process() -> None:
    """Refuse a script running as several processes (torch.distributed, world size > 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        raise ConfigError(DISTRIBUTED.format(size=dist.get_world_size()))
