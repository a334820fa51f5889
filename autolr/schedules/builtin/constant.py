"""``constant``: the peak LR throughout (the script's own behaviour without a scheduler)."""

from __future__ import annotations

from autolr.schedules.base import Family, space_from_params


def constant_factor(step: int, total_steps: int) -> float:
    """The peak LR at every step."""
    return 1.0


PARAMS = ()

FAMILY = Family(
    name="constant",
    factor=constant_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="The peak LR at every step.",
    formula="1",
    torch_equivalent="ConstantLR(factor=1.0) / no scheduler",
)
