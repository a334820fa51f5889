"""``ScheduleSpec``: one fully specified learning-rate schedule, validated on construction."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autolr import _validation
from autolr.errors import ConfigError, ConfigTypeError
from autolr.schedules.registry import get_family
from autolr.schedules.warmup import warmed_up

FORMAT = "autolr.schedule"
FORMAT_VERSION = 1
STEP_UNITS = ("step", "batch", "epoch")
_OWNER = "ScheduleSpec"



def no_reports() -> tuple[int, float | None]:
    """The reports of a process where ``autolr.report`` was never called: none."""
    return 0, None


_metric_source: list[Callable[[], tuple[int, float | None]]] = [no_reports]


def reported_values() -> tuple[int, float | None]:
    """How many values ``autolr.report`` was given in this process and the last one: what a
    plateau schedule built without a ``metric_source`` reads. The runtime that keeps the
    reports (:mod:`autolr.trials.runtime`) registers itself here when it is imported, so this
    layer never imports the one above it."""
    return _metric_source[0]()


def set_metric_source(source: Callable[[], tuple[int, float | None]]) -> None:
    """Make ``source`` what :func:`reported_values` reads (called by the runtime)."""
    _metric_source[0] = source


@dataclass(frozen=True, eq=True)
class ScheduleSpec:
    """A schedule: a family with its parameters, the peak LR and the horizon.

    Args:
        family: a registered family name (``autolr.families()`` lists them).
        params: the family's parameters; omitted ones take the family's defaults.
        lr: the peak learning rate (> 0). With several param groups, the first group gets ``lr``
            and the others keep their ratio to it.
        total_steps: how many times the training loop calls ``scheduler.step()`` (per batch or
            per epoch, as the loop does).
        warmup_steps: linear warmup length in ``scheduler.step()`` calls, 0 for none; the family
            runs over the remaining ``total_steps - warmup_steps`` calls.
        step_unit: what one ``scheduler.step()`` call stands for, ``"batch"``, ``"epoch"`` or
            ``"step"`` when unknown; it documents exports and does not change the LRs.
    """

    family: str
    params: dict[str, Any] = field(default_factory=dict)
    lr: float = None  # type: ignore[assignment]  # required; None gets a clear error
    total_steps: int = None  # type: ignore[assignment]
    warmup_steps: int = 0
    step_unit: str = "step"

    def __post_init__(self) -> None:
        family = get_family(self.family)
        for name in ("lr", "total_steps"):
            if getattr(self, name) is None:
                raise ConfigError(f"The '{name}' parameter of ScheduleSpec is required. Give it.")
        if not isinstance(self.params, Mapping):
            raise _validation.fail("params", _OWNER, "must be a dict of the family's parameters",
                                   self.params)
        lr = _validation.number("lr", _OWNER, self.lr, low=0.0, low_open=True)
        total = _validation.number("total_steps", _OWNER, self.total_steps, low=1, integer=True)
        warmup = _validation.number("warmup_steps", _OWNER, self.warmup_steps, low=0, integer=True)
        if warmup >= total:
            raise _validation.fail(
                "warmup_steps", _OWNER, f"must be smaller than total_steps ({total})", warmup,
                "Shorten the warmup or lengthen the run.",
            )
        _validation.one_of("step_unit", _OWNER, self.step_unit, STEP_UNITS)
        object.__setattr__(self, "params", family.normalise(self.params))
        object.__setattr__(self, "lr", lr)
        object.__setattr__(self, "total_steps", total)
        object.__setattr__(self, "warmup_steps", warmup)

    __hash__ = None  # type: ignore[assignment]  # params is a dict

    # --- values --------------------------------------------------------------------------
    @property
    def metric_driven(self) -> bool:
        """True for the plateau family, whose LRs depend on the reported metric."""
        return get_family(self.family).metric_driven

    def multiplier(self, step: int) -> float:
        """The multiplier of the peak LR after ``step`` calls of ``scheduler.step()``."""
        factor = get_family(self.family).factor
        return warmed_up(factor, step, self.total_steps, self.warmup_steps, self.params)

    def lrs(
        self, reports: Mapping[int, float] | Sequence[float | None] | None = None
    ) -> list[float]:
        """The peak-group LR in effect for each of the ``total_steps`` optimizer steps.

        Only the plateau family uses ``reports``: ``reports[i]`` is the metric reported during
        optimizer step ``i`` (a mapping, or a sequence with ``None`` where nothing was
        reported). Without reports the plateau schedule never cuts.
        """
        if not self.metric_driven:
            return [self.lr * self.multiplier(i) for i in range(self.total_steps)]
        return self._plateau_lrs(_as_mapping(reports))

    def _plateau_lrs(self, reports: Mapping[int, float]) -> list[float]:
        from autolr.schedules.builtin.plateau import PlateauRule

        p = self.params
        rule = PlateauRule(
            mode=p["mode"], factor=p["factor"], patience=p["patience"], threshold=p["threshold"],
            threshold_mode=p["threshold_mode"], cooldown=p["cooldown"],
            min_lrs=[p["min_ratio"] * self.lr],
        )
        current = [self.lr]
        result = []
        for i in range(self.total_steps):
            if i < self.warmup_steps:
                result.append(self.lr * (i + 1) / (self.warmup_steps + 1))
            else:
                result.append(current[0])
            if i in reports and i >= self.warmup_steps:
                current = rule.update(reports[i], current)
        return result

    # --- torch ---------------------------------------------------------------------------
    def build(self, optimizer: Any, *, metric_source: Any = None) -> Any:
        """A torch LR scheduler that follows this schedule on ``optimizer``.

        Writes the peak LR into the optimizer first: the first param group gets ``lr`` and the
        others keep their LR ratio to it. Step it once per ``scheduler.step()`` call the
        schedule was made for. For the plateau family, ``scheduler.step()`` reads the last value
        given to ``autolr.report``; ``scheduler.step(metric)`` passes one directly.

        ``optimizer`` may be a list or tuple of optimizers (a GAN's generator and
        discriminator): each gets a scheduler of its own from this spec, and every param group
        of every optimizer keeps its LR ratio to the first optimizer's first group, which gets
        ``lr``. The result is then a
        :class:`~autolr.schedules.torch_schedulers.MultiOptimizerLR` that steps them all.
        """
        from autolr.schedules.torch_schedulers import (
            MultiOptimizerLR,
            ReportPlateauLR,
            ScheduledLR,
            ScheduleMultiplier,
        )

        optimizers = optimizer_list(optimizer, "ScheduleSpec.build")
        apply_peak_lr(optimizers, self.lr)
        if self.metric_driven and metric_source is None:
            metric_source = reported_values
        schedulers = []
        for each in optimizers:
            if self.metric_driven:
                schedulers.append(ReportPlateauLR(
                    each,
                    params=self.params,
                    total_steps=self.total_steps,
                    warmup_steps=self.warmup_steps,
                    metric_source=metric_source,
                ))
            else:
                multiplier = ScheduleMultiplier(self.family, self.params, self.total_steps,
                                                self.warmup_steps)
                schedulers.append(ScheduledLR(each, multiplier))
        if isinstance(optimizer, (list, tuple)):
            return MultiOptimizerLR(schedulers)
        return schedulers[0]

    # --- changes -------------------------------------------------------------------------
    def with_total_steps(self, total_steps: int) -> ScheduleSpec:
        """The same schedule over another horizon; the warmup keeps its fraction of the run."""
        total = _validation.number("total_steps", _OWNER, total_steps, low=1, integer=True)
        warmup = min(round(self.warmup_steps * total / self.total_steps), total - 1)
        return self.replace(total_steps=total, warmup_steps=warmup)

    def shortened(self, fidelity: float) -> ScheduleSpec:
        """The whole schedule compressed into ``round(fidelity * total_steps)`` steps (a run at
        that fidelity): ``with_total_steps`` for every closed-form family, whose positions are
        fractions of the run. Parameters counted in reports rather than steps (the plateau
        family's ``patience`` and ``cooldown``) are scaled by ``fidelity`` too, rounded: a
        shortened run makes that fraction of the reports."""
        fidelity = _validation.number("fidelity", "ScheduleSpec.shortened", fidelity, low=0.0,
                                      high=1.0, low_open=True)
        spec = self.with_total_steps(max(1, round(fidelity * self.total_steps)))
        counted = [p for p in get_family(self.family).params if p.unit == "reports"]
        if not counted or fidelity == 1.0:
            return spec
        params = dict(spec.params)
        for param in counted:
            params[param.name] = max(0, round(params[param.name] * fidelity))
        return spec.replace(params=params)

    def replace(self, **changes: Any) -> ScheduleSpec:
        values = self.to_dict()
        values.pop("format")
        values.pop("version")
        values.update(changes)
        return ScheduleSpec(**values)

    # --- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "family": self.family,
            "params": {k: (list(v) if isinstance(v, list) else v) for k, v in self.params.items()},
            "lr": self.lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "step_unit": self.step_unit,
        }

    def to_json(self, **extra: Any) -> str:
        """The spec as JSON (floats exact). ``extra`` adds informational fields, such as the
        study, the trial's seed and value, under ``"found_by"``."""
        data = self.to_dict()
        if extra:
            data["found_by"] = extra
        return json.dumps(data, indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> ScheduleSpec:
        """Parse what :meth:`to_json` wrote (a string or an already-parsed dict)."""
        if isinstance(text, Mapping):
            data = dict(text)
        elif not isinstance(text, (str, bytes, bytearray)):
            raise ConfigTypeError(
                "A schedule must be JSON text (str or bytes) or a dict. "
                f"Got {type(text).__name__} instead."
            )
        else:
            try:
                data = json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"A schedule must be JSON written by autolr; this text is not JSON ({exc})."
                ) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"A schedule must be a JSON object. Got {type(data).__name__}.")
        if data.get("format", FORMAT) != FORMAT:
            raise ConfigError(
                f"A schedule file must have format {FORMAT!r}. Got {data.get('format')!r}."
            )
        version = data.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or version != FORMAT_VERSION:
            raise ConfigError(
                f"This autolr reads schedule format version {FORMAT_VERSION}. Got {version!r}; "
                "upgrade autolr to read it."
            )
        fields = {"family", "params", "lr", "total_steps", "warmup_steps", "step_unit"}
        unknown = set(data) - fields - {"format", "version", "found_by"}
        if unknown:
            raise ConfigError(
                f"A schedule holds only the fields {sorted(fields)}. Got unknown field(s) "
                f"{sorted(unknown)}; remove them."
            )
        if "family" not in data:
            raise ConfigError("A schedule must name its 'family'. The field is missing.")
        return cls(**{k: v for k, v in data.items() if k in fields})


def optimizer_list(optimizer: Any, owner: str) -> list[Any]:
    """``[optimizer]``, or the optimizers of a list or tuple, each checked: a torch optimizer (it
    has ``param_groups``), each one once. ``owner`` names the caller in messages."""
    several = isinstance(optimizer, (list, tuple))
    optimizers = list(optimizer) if several else [optimizer]
    if not optimizers:
        raise _validation.fail(
            "optimizer", owner, "must be a torch optimizer, or a list of them", optimizer,
            "Pass the optimizer itself, or a list of the optimizers the training loop steps.",
        )
    for i, item in enumerate(optimizers):
        if not getattr(item, "param_groups", None):
            rule = (f"must hold only torch optimizers, but item {i} of the list is not one"
                    if several else "must be a torch optimizer, or a list of them")
            raise _validation.fail(
                "optimizer", owner, rule, item,
                "Pass the torch.optim optimizer(s) the training loop steps.",
            )
        earlier = next((j for j in range(i) if optimizers[j] is item), None)
        if earlier is not None:
            raise ConfigError(
                f"The 'optimizer' parameter of {owner} must hold each optimizer once. Got the "
                f"same {type(item).__name__} as items {earlier} and {i}: it would be stepped "
                "twice per step. Pass each optimizer once."
            )
    return optimizers


def apply_peak_lr(optimizer: Any, lr: float) -> None:
    """Give the first param group ``lr``; the others keep their LR ratio to the first.

    ``optimizer`` may be a list of optimizers: the first optimizer's first group gets ``lr``,
    and every group of every optimizer keeps its LR ratio to that group."""
    optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    head = optimizers[0].param_groups[0]
    first = head.get("initial_lr", head["lr"])
    if not first or not math.isfinite(first) or first <= 0:
        raise ConfigError(
            f"The optimizer's first param group must have a positive LR for autolr to scale the "
            f"groups from. Got {first!r}; create the optimizer with lr > 0."
        )
    for each in optimizers:
        for group in each.param_groups:
            own = group.get("initial_lr", group["lr"])
            # ratio first: own / first is exactly 1.0 for the first group, so it gets exactly lr
            group["lr"] = lr * (own / first)
            group.pop("initial_lr", None)


def load_schedule(path: str | os.PathLike[str]) -> ScheduleSpec:
    """Read a schedule written by ``autolr export --format json`` (or ``spec.to_json()``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"No schedule file at {str(file)!r}. Check the path.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the schedule file {str(file)!r}: {exc}") from None
    try:
        return ScheduleSpec.from_json(text)
    except (ConfigError, ConfigTypeError) as exc:  # a wrong type is reported with the file too
        raise type(exc)(f"{file}: {exc}") from None


def _as_mapping(reports: Mapping[int, float] | Sequence[float | None] | None) -> dict[int, float]:
    if reports is None:
        return {}
    if isinstance(reports, Mapping):
        return {int(k): float(v) for k, v in reports.items()}
    return {i: float(v) for i, v in enumerate(reports) if v is not None}
