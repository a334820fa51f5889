"""``inverse_sqrt``: ``1 / sqrt(1 + step / timescale)``, the Transformer-paper decay."""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def inverse_sqrt_factor(step: int, total_steps: int, timescale: float = 0.05) -> float:
    """``1 / sqrt(1 + step / (timescale * total_steps))``: halves the LR by 3 timescales."""
    return 1.0 / math.sqrt(1.0 + step / (timescale * total_steps))


PARAMS = (
    Param("timescale", "float", 0.05, "decay timescale as a fraction of total_steps",
          low=0.0, high=1.0, low_open=True, search=(0.005, 0.5, True), unit="fraction of steps"),
)

FAMILY = Family(
    name="inverse_sqrt",
    factor=inverse_sqrt_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Inverse square-root decay after the peak.",
    formula="1 / sqrt(1 + step / (timescale * total_steps))",
)
