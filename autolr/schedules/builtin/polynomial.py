"""``polynomial``: ``(1 - step / total_steps) ** power`` (torch ``PolynomialLR``)."""

from __future__ import annotations

from autolr.schedules.base import Family, Param, space_from_params


def polynomial_factor(step: int, total_steps: int, power: float = 2.0) -> float:
    """``(1 - step / total_steps) ** power``."""
    return (1.0 - min(step, total_steps) / total_steps) ** power


PARAMS = (
    Param("power", "float", 2.0, "the exponent (1 is linear to zero)",
          low=0.0, high=10.0, low_open=True, search=(0.5, 4.0, True)),
)

FAMILY = Family(
    name="polynomial",
    factor=polynomial_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="Polynomial decay to zero with the given power.",
    formula="(1 - step / total_steps) ** power",
    torch_equivalent="PolynomialLR(total_iters=total_steps, power=power)",
)
