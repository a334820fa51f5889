"""``multistep``: stages that end at milestones, each with its own decay factor.

torch ``MultiStepLR`` is the case where every factor is the same ``gamma``.
"""

from __future__ import annotations

from typing import Any

from autolr import _validation
from autolr.schedules.base import Family, Param


def multistep_factor(
    step: int,
    total_steps: int,
    milestones: list = [0.5, 0.75],  # noqa: B006 - read only; a list keeps exports plain
    gammas: list = [0.1, 0.1],  # noqa: B006
) -> float:
    """Product of ``gammas[i]`` over the milestones passed; milestone ``i`` is at step
    ``round(milestones[i] * total_steps)``."""
    factor = 1.0
    for milestone, gamma in zip(milestones, gammas):
        if step >= round(milestone * total_steps):
            factor *= gamma
    return factor


def _check(params: dict[str, Any]) -> None:
    owner = "the 'multistep' family"
    milestones, gammas = params["milestones"], params["gammas"]
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise _validation.fail("milestones", owner, "must be strictly increasing", milestones)
    if len(gammas) != len(milestones):
        raise _validation.fail(
            "gammas", owner, f"must hold one factor per milestone ({len(milestones)})", gammas,
            "Give as many gammas as milestones.",
        )


def _space(trial: Any) -> dict[str, Any]:
    first = trial.suggest_float("first", 0.2, 0.7)
    gap = trial.suggest_float("gap", 0.1, 0.6)
    second = min(first + gap * (1.0 - first), 0.95)
    gamma1 = trial.suggest_float("gamma1", 0.05, 0.7, log=True)
    gamma2 = trial.suggest_float("gamma2", 0.05, 0.7, log=True)
    return {"milestones": [first, second], "gammas": [gamma1, gamma2]}


PARAMS = (
    Param("milestones", "floats", [0.5, 0.75],
          "where each stage ends, as increasing fractions of total_steps",
          low=0.0, high=1.0, low_open=True, high_open=True, unit="fraction of steps"),
    Param("gammas", "floats", [0.1, 0.1], "the multiplier applied at each milestone",
          low=0.0, high=1.0, low_open=True),
)

FAMILY = Family(
    name="multistep",
    factor=multistep_factor,
    params=PARAMS,
    space=_space,
    summary="Stages ending at milestones, each multiplying the LR by its own gamma.",
    formula="prod(gammas[i] for milestones[i] * total_steps <= step)",
    torch_equivalent=(
        "MultiStepLR(milestones=[round(m * total_steps)], gamma) when gammas are equal"
    ),
    check=_check,
    space_note=(
        "two milestones: the first at 0.2-0.7 of the run (multistep.first), the second "
        "10-60% of the way from it to the end (multistep.gap); gamma1 and gamma2 in "
        "0.05-0.7, log scale"
    ),
)
