"""``plateau``: cut the LR when the reported metric stops improving (torch ``ReduceLROnPlateau``).

The one metric-driven family. Under autolr the scheduler reads the last value given to
``autolr.report`` itself, so ``scheduler.step()`` stays argument-free; ``patience`` and
``cooldown`` count reports (usually epochs), not optimizer steps.
"""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def plateau_factor(
    step: int,
    total_steps: int,
    factor: float = 0.5,
    patience: int = 2,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_ratio: float = 0.0,
    mode: str = "min",
) -> float:
    """The multiplier before any report: the peak. Reductions come from :class:`PlateauRule`."""
    return 1.0


class PlateauRule:
    """The decision rule of torch ``ReduceLROnPlateau``, in plain Python.

    ``update(metric, lrs)`` takes one reported value and the current LRs (one per param group)
    and returns the LRs after the rule: reduced by ``factor`` (never below ``min_lrs``) once more
    than ``patience`` reports in a row failed to beat the best by ``threshold``.
    """

    def __init__(
        self,
        *,
        mode: str,
        factor: float,
        patience: int,
        threshold: float,
        threshold_mode: str,
        cooldown: int,
        min_lrs: list[float],
        eps: float = 1e-8,
    ) -> None:
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lrs = list(min_lrs)
        self.eps = eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, current: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < self.best - self.threshold
        if self.threshold_mode == "rel":
            return current > self.best * (self.threshold + 1.0)
        return current > self.best + self.threshold

    def update(self, metric: float, lrs: list[float]) -> list[float]:
        current = float(metric)
        if self.is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            lrs = [self._reduced(lr, floor) for lr, floor in zip(lrs, self.min_lrs)]
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return lrs

    def _reduced(self, lr: float, floor: float) -> float:
        new_lr = max(lr * self.factor, floor)
        return new_lr if lr - new_lr > self.eps else lr

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


PARAMS = (
    Param("factor", "float", 0.5, "multiplier applied at each cut",
          low=0.0, high=1.0, low_open=True, high_open=True, search=(0.1, 0.7, True)),
    Param("patience", "int", 2, "reports without improvement tolerated before a cut",
          low=0, search=(0, 5, False), unit="reports"),
    Param("threshold", "float", 1e-4, "the least change that counts as an improvement",
          low=0.0, search=(1e-4, 1e-2, True)),
    Param("threshold_mode", "choice", "rel", "threshold relative to the best value, or absolute",
          choices=("rel", "abs")),
    Param("cooldown", "int", 0, "reports to wait after a cut before counting again",
          low=0, search=(0, 2, False), unit="reports"),
    Param("min_ratio", "float", 0.0, "the floor, as a fraction of the peak LR",
          low=0.0, high=1.0),
    Param("mode", "choice", "min", "'min' when lower reports are better, 'max' otherwise; "
          "set from the study direction when tuning", choices=("min", "max")),
)

FAMILY = Family(
    name="plateau",
    factor=plateau_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Cut the LR by factor when the reported metric stops improving.",
    formula="lr *= factor after more than `patience` reports without improvement",
    torch_equivalent=(
        "ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown, "
        "min_lr=min_ratio * lr)"
    ),
    metric_driven=True,
    helpers=(PlateauRule,),
)
