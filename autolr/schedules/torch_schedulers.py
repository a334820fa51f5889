"""The torch schedulers a :class:`~autolr.ScheduleSpec` builds.

Both are ordinary ``torch.optim.lr_scheduler`` objects: ``step()``, ``get_last_lr()``,
``state_dict()`` / ``load_state_dict()`` behave as users know them, and a state dict saved
mid-run resumes exactly. Closed-form families run as a ``LambdaLR`` over a callable object (so
its state is saved, unlike a lambda); the plateau family runs as :class:`ReportPlateauLR`.
Several optimizers get one such scheduler each, stepped together by :class:`MultiOptimizerLR`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from autolr.errors import ConfigError
from autolr.schedules.builtin.plateau import PlateauRule
from autolr.schedules.registry import get_family
from autolr.schedules.warmup import warmed_up

StepObserver = Callable[[Any], None]


class ScheduleMultiplier:
    """``multiplier(step)`` of a spec: a callable object holding only plain data."""

    def __init__(self, family: str, params: dict, total_steps: int, warmup_steps: int) -> None:
        self.family = family
        self.params = dict(params)
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step: int) -> float:
        factor = get_family(self.family).factor
        return warmed_up(factor, step, self.total_steps, self.warmup_steps, self.params)


class _Observed:
    """Lets autolr's runtime watch ``step()`` calls; the observer never enters a state dict."""

    _observer: StepObserver | None = None

    def set_observer(self, observer: StepObserver | None) -> None:
        self.__dict__["_observer"] = observer

    def _notify(self) -> None:
        observer = self.__dict__.get("_observer")
        if observer is not None:
            observer(self)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()  # type: ignore[misc]
        state.pop("_observer", None)
        return state


class ScheduledLR(_Observed, LambdaLR):
    """A ``LambdaLR`` following a closed-form family (with its warmup)."""

    def __init__(self, optimizer: Any, multiplier: ScheduleMultiplier) -> None:
        super().__init__(optimizer, lr_lambda=multiplier)

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        if epoch is None:
            super().step()
        else:  # pragma: no cover - the deprecated torch form, kept for compatibility
            super().step(epoch)
        self._notify()


MetricSource = Callable[[], "tuple[int, float | None]"]


class ReportPlateauLR(_Observed, LRScheduler):
    """``ReduceLROnPlateau`` that is stepped every optimizer step, like every other family.

    Each ``step()`` looks for a value reported since the previous call (``autolr.report`` in a
    script, or ``step(metric)`` given directly) and feeds it to the plateau rule; steps without
    a new report only advance the warmup. ``patience`` therefore counts reports, not steps.
    """

    def __init__(
        self,
        optimizer: Any,
        *,
        params: dict,
        total_steps: int,
        warmup_steps: int,
        metric_source: MetricSource | None = None,
    ) -> None:
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.plateau_params = dict(params)
        self.__dict__["_metric_source"] = metric_source
        self._seen_reports = metric_source()[0] if metric_source else 0
        self._pending: float | None = None
        peaks = [group["lr"] for group in optimizer.param_groups]
        self.current_lrs = list(peaks)
        self.rule = PlateauRule(
            mode=params["mode"],
            factor=params["factor"],
            patience=params["patience"],
            threshold=params["threshold"],
            threshold_mode=params["threshold_mode"],
            cooldown=params["cooldown"],
            min_lrs=[params["min_ratio"] * lr for lr in peaks],
        )
        super().__init__(optimizer)

    def step(self, metrics: float | None = None) -> None:  # type: ignore[override]
        if metrics is not None:
            self._pending = float(metrics)
        else:
            source = self.__dict__.get("_metric_source")
            if source is not None:
                count, value = source()
                if count != self._seen_reports and value is not None:
                    self._seen_reports = count
                    self._pending = value
        super().step()
        self._notify()

    def get_lr(self) -> list[float]:  # type: ignore[override]
        step = self.last_epoch
        if self._pending is not None:
            if step > self.warmup_steps:
                self.current_lrs = self.rule.update(self._pending, self.current_lrs)
            self._pending = None
        if step < self.warmup_steps:
            return [lr * (step + 1) / (self.warmup_steps + 1) for lr in self.current_lrs]
        return list(self.current_lrs)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.pop("_metric_source", None)
        state["rule"] = self.rule.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        rule_state = state.pop("rule")
        super().load_state_dict(state)
        self.rule = PlateauRule.__new__(PlateauRule)
        self.rule.load_state_dict(rule_state)


class MultiOptimizerLR:
    """One schedule over several optimizers: one scheduler per optimizer, built from the same
    spec, stepped together (what ``spec.build`` and ``autolr.scheduler`` return for a list of
    optimizers).

    Every param group of every optimizer follows the one multiplier over time, at its own LR
    ratio to the first optimizer's first group. ``step()`` steps every scheduler once (the
    plateau family's with the same report); ``get_last_lr()`` lists every group's LR, the first
    optimizer's groups first, then the second's; ``last_epoch`` and ``optimizer`` are the first
    scheduler's; ``state_dict()`` / ``load_state_dict()`` save and resume all of them.
    """

    def __init__(self, schedulers: list[Any]) -> None:
        self.schedulers = list(schedulers)
        self._observer: StepObserver | None = None

    @property
    def optimizers(self) -> list[Any]:
        return [scheduler.optimizer for scheduler in self.schedulers]

    @property
    def optimizer(self) -> Any:
        """The first optimizer: its first param group carries the schedule's peak LR."""
        return self.schedulers[0].optimizer

    @property
    def last_epoch(self) -> int:
        """How many times ``step()`` was called."""
        return self.schedulers[0].last_epoch

    def set_observer(self, observer: StepObserver | None) -> None:
        self._observer = observer

    def parts(self, units: list[list[int]]) -> list[Any]:
        """This scheduler cut into parts that different owners step (Lightning's manual
        optimization steps each optimizer's scheduler itself): for each unit, a list of
        optimizer indices (each index in exactly one unit), that optimizer's scheduler or a
        :class:`MultiOptimizerLR` over them. The observer (the trial's LR curve) moves to the
        part holding the first optimizer, whose scheduler comes first in it."""
        flat = sorted(i for unit in units for i in unit)
        if flat != list(range(len(self.schedulers))):
            raise ValueError(f"units must hold each of the {len(self.schedulers)} optimizers' "
                             f"indices once; got {units!r}")
        parts: list[Any] = []
        for unit in units:
            unit = sorted(unit)
            part = (self.schedulers[unit[0]] if len(unit) == 1
                    else MultiOptimizerLR([self.schedulers[i] for i in unit]))
            if unit[0] == 0:
                part.set_observer(self._observer)
            parts.append(part)
        self._observer = None
        return parts

    def step(self, metrics: float | None = None) -> None:
        for scheduler in self.schedulers:
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics)
        if self._observer is not None:
            self._observer(self)

    def get_last_lr(self) -> list[float]:
        return [lr for scheduler in self.schedulers for lr in scheduler.get_last_lr()]

    def state_dict(self) -> dict[str, Any]:
        return {"schedulers": [scheduler.state_dict() for scheduler in self.schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        states = state_dict.get("schedulers") if isinstance(state_dict, dict) else None
        if not isinstance(states, list) or len(states) != len(self.schedulers):
            count = len(states) if isinstance(states, list) else "no"
            raise ConfigError(
                f"This scheduler drives {len(self.schedulers)} optimizers, so its state_dict "
                f"must hold {len(self.schedulers)} schedulers' states. Got {count} "
                "schedulers' states; load a state_dict saved by a scheduler over the same "
                "optimizers, in the same order."
            )
        for scheduler, state in zip(self.schedulers, states, strict=True):
            scheduler.load_state_dict(state)
