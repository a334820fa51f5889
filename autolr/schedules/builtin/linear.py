"""``linear``: a straight line from the peak to a floor (default 0) over the run."""

from __future__ import annotations

from autolr.schedules.base import Family, Param, space_from_params


def linear_factor(step: int, total_steps: int, end_ratio: float = 0.0) -> float:
    """``1 + (end_ratio - 1) * step / total_steps``."""
    return 1.0 + (end_ratio - 1.0) * step / total_steps


PARAMS = (
    Param("end_ratio", "float", 0.0, "the LR at the end, as a fraction of the peak",
          low=0.0, high=1.0, search=(0.0, 0.2, False)),
)

FAMILY = Family(
    name="linear",
    factor=linear_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Linear decay from the peak to end_ratio * peak.",
    formula="1 + (end_ratio - 1) * step / total_steps",
    torch_equivalent="LinearLR(start_factor=1, end_factor=end_ratio, total_iters=total_steps)",
)
