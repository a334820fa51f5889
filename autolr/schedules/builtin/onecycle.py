"""``onecycle``: rise from ``1/div_factor`` to the peak, then anneal far below (``OneCycleLR``).

The rise is part of the family, so studies usually pair it with no extra warmup. Momentum cycling
(torch's ``cycle_momentum``) is not part of an LR schedule and is left to the optimizer.
"""

from __future__ import annotations

import math

from autolr.schedules.base import Family, Param, space_from_params


def onecycle_factor(
    step: int,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 10000.0,
    anneal: str = "cos",
) -> float:
    """Two phases as in torch ``OneCycleLR`` (three_phase=False), as multipliers of the peak.

    Where ``pct_start * total_steps <= 1`` there is no room to rise and the run starts at the
    peak (torch raises a division by zero there)."""
    initial = 1.0 / div_factor
    final = initial / final_div_factor
    rise_end = float(pct_start * total_steps) - 1
    if rise_end > 0 and step <= rise_end:
        start, end, pct = initial, 1.0, step / rise_end
    else:
        start, end, pct = 1.0, final, (step - rise_end) / (total_steps - 1 - rise_end)
    if anneal == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


PARAMS = (
    Param("pct_start", "float", 0.3, "fraction of total_steps spent rising to the peak",
          low=0.0, high=1.0, low_open=True, high_open=True, search=(0.05, 0.5, False),
          unit="fraction of steps"),
    Param("div_factor", "float", 25.0, "the start LR is peak / div_factor",
          low=1.0, search=(5.0, 100.0, True)),
    Param("final_div_factor", "float", 10000.0, "the end LR is start LR / final_div_factor",
          low=1.0, search=(10.0, 1e5, True)),
    Param("anneal", "choice", "cos", "shape of both phases", choices=("cos", "linear"),
          search=("cos", "linear")),
)


FAMILY = Family(
    name="onecycle",
    factor=onecycle_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Rise from peak/div_factor to the peak over pct_start, then anneal to a tiny LR.",
    formula="anneal(1/div, 1, pct) then anneal(1, 1/(div*final_div), pct)",
    torch_equivalent=(
        "OneCycleLR(max_lr=lr, total_steps=total_steps, pct_start, div_factor, "
        "final_div_factor, anneal_strategy=anneal, cycle_momentum=False)"
    ),
)
