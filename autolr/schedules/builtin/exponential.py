"""``exponential``: ``decay_rate ** (step / (decay_steps * total_steps))``, maybe staircased."""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def exponential_factor(
    step: int,
    total_steps: int,
    decay_rate: float = 0.1,
    decay_steps: float = 1.0,
    staircase: bool = False,
) -> float:
    """The LR falls by ``decay_rate`` every ``decay_steps * total_steps`` steps; with
    ``staircase`` the exponent is floored so the LR drops in whole steps."""
    exponent = step / (decay_steps * total_steps)
    if staircase:
        exponent = math.floor(exponent)
    return decay_rate**exponent


PARAMS = (
    Param("decay_rate", "float", 0.1, "multiplier reached after decay_steps",
          low=0.0, high=1.0, low_open=True, search=(0.01, 0.5, True)),
    Param("decay_steps", "float", 1.0, "decay period as a fraction of total_steps",
          low=0.0, low_open=True, search=(0.5, 1.0, False), unit="fraction of steps"),
    Param("staircase", "bool", False, "floor the exponent (decay in whole steps)",
          search=(False, True)),
)

FAMILY = Family(
    name="exponential",
    factor=exponential_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Exponential decay by decay_rate every decay_steps of training.",
    formula="decay_rate ** (step / (decay_steps * total_steps)), exponent floored if staircase",
    torch_equivalent=(
        "ExponentialLR(gamma=decay_rate ** (1 / (decay_steps * total_steps))) without staircase"
    ),
)
