"""The study's conditional search space: family, its prefixed parameters, peak LR and warmup.

Parameter names as stored in the study (what Optuna's tools and the reports show):

- ``family``: categorical over the families searched;
- ``<family>.<param>``: the family's own parameters (only for trials of that family);
- ``lr_scale``: the peak LR as a multiple of the script's own LR (the optimizer's LR when the
  script calls ``autolr.scheduler``), log-uniform; the absolute LR is in each trial's spec;
- ``warmup``: the warmup length as a fraction of the run (absent with ``warmup=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autolr.schedules.base import PrefixedTrial
from autolr.schedules.registry import get_family
from autolr.schedules.spec import ScheduleSpec

FAMILY_PARAM = "family"
LR_PARAM = "lr_scale"
WARMUP_PARAM = "warmup"
WARMUP_RANGE = (0.0, 0.2)
DEFAULT_LR_SCALE = (0.1, 10.0)


@dataclass(frozen=True)
class SearchSpace:
    """What a study searches.

    ``lr_scale`` bounds the peak LR as multiples of the script's own LR; ``lr_bounds``, when the
    user fixed the range, bounds it in absolute terms instead (converted with the script's LR).
    """

    families: tuple[str, ...]
    lr_scale: tuple[float, float]
    warmup: bool
    direction: str
    lr_bounds: tuple[float, float] | None = None

    def lr_scale_bounds(self, base_lr: float | None) -> tuple[float, float]:
        """The ``lr_scale`` range for a script whose own LR is ``base_lr``."""
        if self.lr_bounds is not None and base_lr:
            return self.lr_bounds[0] / base_lr, self.lr_bounds[1] / base_lr
        return self.lr_scale

    def sample(self, trial: Any, base_lr: float, total_steps: int) -> ScheduleSpec:
        """Sample a schedule for ``trial`` now that the script's LR and horizon are known."""
        name = trial.suggest_categorical(FAMILY_PARAM, list(self.families))
        family = get_family(name)
        params = dict(family.space(PrefixedTrial(trial, name)))
        if "mode" in family.param_names and family.metric_driven:
            params["mode"] = "min" if self.direction == "minimize" else "max"
        low, high = self.lr_scale_bounds(base_lr)
        scale = trial.suggest_float(LR_PARAM, low, high, log=True)
        warmup_steps = 0
        if self.warmup:
            fraction = trial.suggest_float(WARMUP_PARAM, *WARMUP_RANGE)
            warmup_steps = min(round(fraction * total_steps), total_steps - 1)
        return ScheduleSpec(
            name, params, lr=base_lr * scale, total_steps=total_steps, warmup_steps=warmup_steps
        )

    def baseline_params(self) -> list[tuple[str, dict[str, Any]]]:
        """The baseline trials, as fixed parameters: the script's own LR held constant, cosine
        to zero and linear to zero at that LR, for whichever of them are searched."""
        baselines = [
            ("constant", {}),
            ("cosine", {"cosine.min_ratio": 0.0}),
            ("linear", {"linear.end_ratio": 0.0}),
        ]
        result = []
        for name, fixed in baselines:
            if name not in self.families:
                continue
            params = {FAMILY_PARAM: name, LR_PARAM: 1.0, **fixed}
            if self.warmup:
                params[WARMUP_PARAM] = 0.0
            result.append((name, params))
        return result


def space_of(settings: dict[str, Any], direction: str) -> SearchSpace:
    """The search space a study's stored settings describe (its LR range as widened so far)."""
    return SearchSpace(
        families=tuple(settings["families"]),
        lr_scale=tuple(settings["lr_scale"]),  # type: ignore[arg-type]
        warmup=settings["warmup"],
        direction=direction,
        lr_bounds=tuple(settings["lr"]) if settings["lr"] else None,
    )
