"""``cosine_restarts``: cosine cycles that restart at the peak (``CosineAnnealingWarmRestarts``)."""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def cosine_restarts_factor(
    step: int, total_steps: int, period: float = 0.25, mult: int = 1, min_ratio: float = 0.0
) -> float:
    """Cosine from the peak to ``min_ratio`` over a cycle of ``round(period * total_steps)``
    steps, then restart; each cycle is ``mult`` times longer than the one before."""
    length = max(1, round(period * total_steps))
    position = step
    while position >= length:
        position -= length
        length *= mult
    return min_ratio + (1.0 - min_ratio) * (1.0 + math.cos(math.pi * position / length)) / 2.0


PARAMS = (
    Param("period", "float", 0.25, "first cycle length as a fraction of total_steps",
          low=0.0, high=1.0, low_open=True, search=(0.1, 0.5, False), unit="fraction of steps"),
    Param("mult", "int", 1, "each cycle is mult times longer than the last",
          low=1, high=4, search=(1, 2, False)),
    Param("min_ratio", "float", 0.0, "the floor of each cycle, as a fraction of the peak LR",
          low=0.0, high=1.0, search=(0.0, 0.2, False)),
)

FAMILY = Family(
    name="cosine_restarts",
    factor=cosine_restarts_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Cosine cycles restarting at the peak; cycle i lasts period * mult**i of training.",
    formula="min_ratio + (1 - min_ratio) * (1 + cos(pi * t_cur / t_i)) / 2",
    torch_equivalent=(
        "CosineAnnealingWarmRestarts(T_0=round(period * total_steps), T_mult=mult, "
        "eta_min=min_ratio * lr)"
    ),
)
