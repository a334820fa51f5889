"""``step``: multiply the LR by ``gamma`` every fixed fraction of training (torch ``StepLR``)."""

from __future__ import annotations

from autolr.schedules.base import Family, Param, space_from_params


def step_factor(step: int, total_steps: int, every: float = 0.3, gamma: float = 0.1) -> float:
    """``gamma ** (step // period)`` with ``period = round(every * total_steps)`` steps (>= 1)."""
    period = max(1, round(every * total_steps))
    return gamma ** (step // period)


PARAMS = (
    Param("every", "float", 0.3, "decay period as a fraction of total_steps",
          low=0.0, high=1.0, low_open=True, search=(0.2, 0.5, False), unit="fraction of steps"),
    Param("gamma", "float", 0.1, "multiplier applied at each decay",
          low=0.0, high=1.0, low_open=True, search=(0.1, 0.7, True)),
)

FAMILY = Family(
    name="step",
    factor=step_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Multiply the LR by gamma every `every` of training.",
    formula="gamma ** floor(step / round(every * total_steps))",
    torch_equivalent="StepLR(step_size=round(every * total_steps), gamma=gamma)",
)
