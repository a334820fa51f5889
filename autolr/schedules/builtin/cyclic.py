"""``cyclic``: triangular cycles between a base and the peak (torch ``CyclicLR``)."""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def cyclic_factor(
    step: int,
    total_steps: int,
    period: float = 0.25,
    up: float = 0.5,
    base_ratio: float = 0.1,
    mode: str = "triangular",
    end_scale: float = 0.1,
) -> float:
    """Cycles of ``round(period * total_steps)`` steps that rise for ``up`` of the cycle from
    ``base_ratio`` to the peak and fall back. ``triangular2`` halves each cycle's height;
    ``exp_range`` shrinks the height smoothly to ``end_scale`` at the end of training."""
    cycle_steps = max(2, round(period * total_steps))
    up_steps = min(cycle_steps - 1, max(1, round(up * cycle_steps)))
    step_ratio = up_steps / cycle_steps
    cycle = math.floor(1 + step / cycle_steps)
    x = 1.0 + step / cycle_steps - cycle
    if x <= step_ratio:
        height = x / step_ratio
    else:
        height = (x - 1) / (step_ratio - 1)
    if mode == "triangular2":
        scale = 1 / (2.0 ** (cycle - 1))
    elif mode == "exp_range":
        scale = (end_scale ** (1 / total_steps)) ** step
    else:
        scale = 1.0
    return base_ratio + (1.0 - base_ratio) * height * scale


PARAMS = (
    Param("period", "float", 0.25, "cycle length as a fraction of total_steps",
          low=0.0, high=1.0, low_open=True, search=(0.1, 0.5, False), unit="fraction of steps"),
    Param("up", "float", 0.5, "fraction of each cycle spent rising",
          low=0.0, high=1.0, low_open=True, high_open=True, search=(0.1, 0.9, False)),
    Param("base_ratio", "float", 0.1, "the low end of each cycle, as a fraction of the peak",
          low=0.0, high=1.0, search=(0.01, 0.5, True)),
    Param("mode", "choice", "triangular", "how cycle heights change",
          choices=("triangular", "triangular2", "exp_range"),
          search=("triangular", "triangular2", "exp_range")),
    Param("end_scale", "float", 0.1, "exp_range: the height scale reached at the last step",
          low=0.0, high=1.0, low_open=True, search=(0.01, 1.0, True)),
)

FAMILY = Family(
    name="cyclic",
    factor=cyclic_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Triangular cycles between base_ratio * peak and the peak.",
    formula="base_ratio + (1 - base_ratio) * triangle(step) * scale(step)",
    torch_equivalent=(
        "CyclicLR(base_lr=base_ratio * lr, max_lr=lr, step_size_up, step_size_down, mode, "
        "gamma=end_scale ** (1 / total_steps), cycle_momentum=False)"
    ),
)
