"""``rex``: the REX profile ``(1 - z) / (0.5 + 0.5 * (1 - z))`` with ``z = step / total_steps``."""

from __future__ import annotations

from autolr.schedules.base import Family, Param, space_from_params


def rex_factor(step: int, total_steps: int) -> float:
    """``(1 - z) / (0.5 + 0.5 * (1 - z))`` with ``z = step / total_steps`` (Chen et al., 2022)."""
    remaining = 1.0 - step / total_steps
    return remaining / (0.5 + 0.5 * remaining)


PARAMS: tuple[Param, ...] = ()

FAMILY = Family(
    name="rex",
    factor=rex_factor,
    params=PARAMS,
    space=space_from_params(PARAMS),
    summary="REX: stays high longer than linear, then drops to zero.",
    formula="(1 - z) / (0.5 + 0.5 * (1 - z)), z = step / total_steps",
)
