"""``wsd``: warmup-stable-decay — hold the peak, then decay over the last part of training.

The warmup is autolr's shared warmup (``warmup_steps``); this family is the stable and decay parts.
"""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def wsd_factor(
    step: int,
    total_steps: int,
    decay: float = 0.2,
    shape: str = "linear",
    min_ratio: float = 0.0,
) -> float:
    """1 until the last ``round(decay * total_steps)`` steps, then down to ``min_ratio`` along
    ``shape``: ``linear``, ``cosine`` or ``1-sqrt``."""
    decay_steps = max(1, round(decay * total_steps))
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return 1.0
    progress = (step - decay_start) / decay_steps
    if shape == "cosine":
        remaining = (1.0 + math.cos(math.pi * progress)) / 2.0
    elif shape == "1-sqrt":
        remaining = 1.0 - math.sqrt(progress)
    else:
        remaining = 1.0 - progress
    return min_ratio + (1.0 - min_ratio) * remaining


PARAMS = (
    Param("decay", "float", 0.2, "fraction of total_steps spent decaying at the end",
          low=0.0, high=1.0, low_open=True, search=(0.05, 0.5, False), unit="fraction of steps"),
    Param("shape", "choice", "linear", "shape of the decay", choices=("linear", "cosine", "1-sqrt"),
          search=("linear", "cosine", "1-sqrt")),
    Param("min_ratio", "float", 0.0, "the LR at the end, as a fraction of the peak",
          low=0.0, high=1.0),
)

FAMILY = Family(
    name="wsd",
    factor=wsd_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Warmup-stable-decay: the peak until the last `decay` of training, then decay.",
    formula="1, then min_ratio + (1 - min_ratio) * shape(progress) over the last decay",
)
