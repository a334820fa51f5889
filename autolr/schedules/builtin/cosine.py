"""``cosine``: half a cosine from the peak to a floor over the run (torch ``CosineAnnealingLR``)."""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def cosine_factor(step: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """``min_ratio + (1 - min_ratio) * (1 + cos(pi * step / total_steps)) / 2``."""
    return min_ratio + (1.0 - min_ratio) * (1.0 + math.cos(math.pi * step / total_steps)) / 2.0


PARAMS = (
    Param("min_ratio", "float", 0.0, "the floor, as a fraction of the peak LR",
          low=0.0, high=1.0, search=(0.0, 0.2, False)),
)

FAMILY = Family(
    name="cosine",
    factor=cosine_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Cosine annealing from the peak to min_ratio * peak over the run.",
    formula="min_ratio + (1 - min_ratio) * (1 + cos(pi * step / total_steps)) / 2",
    torch_equivalent="CosineAnnealingLR(T_max=total_steps, eta_min=min_ratio * lr)",
)
