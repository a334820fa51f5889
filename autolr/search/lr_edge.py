"""Whether a study's best trials sit at an edge of the peak-LR range it searched.

One rule, used while tuning (to widen the range for the remaining trials) and by reports and
``autolr show`` (to warn): among the three best complete trials, two within ``EDGE_FRACTION`` of
the log-range from one edge, or the best within half that, mean the best LR may lie beyond it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.search.space import DEFAULT_LR_SCALE, LR_PARAM

EDGE_FRACTION = 0.1  # within this fraction of the log-range from an edge counts as "at the edge"
EDGE_MIN_COMPLETE = 6  # fewer complete trials say nothing about the edges
MAX_WIDENINGS = 2  # times a study widens its range by itself (10x each)


def scale_bounds(settings: Mapping[str, Any]) -> tuple[float, float] | None:
    """The ``lr_scale`` range a study's settings describe now (None when unknown)."""
    base_lr = settings.get("base_lr")
    fixed = settings.get("lr")
    try:
        if fixed and base_lr:
            return float(fixed[0]) / base_lr, float(fixed[1]) / base_lr
        low, high = settings.get("lr_scale") or DEFAULT_LR_SCALE
        return float(low), float(high)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def find_edge(
    direction: str, settings: Mapping[str, Any], trials: Iterable[FrozenTrial]
) -> tuple[str, FrozenTrial] | None:
    """``("high" | "low", best trial)`` when the best trials sit at that edge, else None."""
    bounds = scale_bounds(settings) if settings else None
    if bounds is None or not 0 < bounds[0] < bounds[1]:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    complete = sorted(
        (
            t for t in trials
            if t.state == TrialState.COMPLETE and _finite(t.value)
            and _finite(t.params.get(LR_PARAM)) and t.params[LR_PARAM] > 0
        ),
        key=lambda t: (sign * t.value, t.number),  # type: ignore[operator]
    )
    if len(complete) < EDGE_MIN_COMPLETE:
        return None
    low, high = bounds
    span = math.log(high / low)
    top = complete[:3]
    at_high = sum(math.log(high / t.params[LR_PARAM]) < EDGE_FRACTION * span for t in top)
    at_low = sum(math.log(t.params[LR_PARAM] / low) < EDGE_FRACTION * span for t in top)
    best = top[0]
    if at_high >= 2 or math.log(high / best.params[LR_PARAM]) < EDGE_FRACTION * span / 2:
        return "high", best
    if at_low >= 2 or math.log(best.params[LR_PARAM] / low) < EDGE_FRACTION * span / 2:
        return "low", best
    return None


def edge_finding(side: str, best: FrozenTrial) -> str:
    """What was found, in words."""
    lr = best.user_attrs.get("lr")
    shown = f"{lr:.3g}" if _finite(lr) else f"{best.params[LR_PARAM]:.3g}x the script's LR"
    return (
        f"The best trials sit at the {side} edge of the peak-LR range searched "
        f"(best: {shown}); the best LR may lie {'above' if side == 'high' else 'below'} it."
    )


def can_widen(settings: Mapping[str, Any]) -> bool:
    """True while the study may widen its own range (the user did not fix it)."""
    return not settings.get("lr") and int(settings.get("widened") or 0) < MAX_WIDENINGS


def edge_advice(settings: Mapping[str, Any]) -> str:
    """What the user can do about an edge, given what the study already did."""
    widened = int(settings.get("widened") or 0)
    if settings.get("lr"):
        return "Widen --lr (lr=...) and resume the study to look further."
    if widened >= MAX_WIDENINGS:
        return (f"autolr already widened the range {widened} times; give a wider --lr "
                "(lr=...) and resume the study to look further.")
    return ("Resume the study with more trials: autolr widens the range while the best trials "
            "sit at its edge.")


def lr_edge_warning(
    direction: str, settings: Mapping[str, Any], trials: Iterable[FrozenTrial]
) -> str | None:
    """The warning for a study as it stands (None when its best trials are inside the range).
    On the fidelity ladder the best trials are those of the rung its sampler learns from, as
    while tuning."""
    from autolr.search.ladder import study_learning_trials

    found = find_edge(direction, settings, study_learning_trials(settings, list(trials), direction))
    if found is None:
        return None
    return f"{edge_finding(*found)} {edge_advice(settings)}"


def edge_message(direction: str, settings: dict[str, Any], trials: list[FrozenTrial], *,
                 widen: bool) -> str | None:
    """A message when the best of ``trials`` (those the sampler learns from) sit at an edge of
    the LR range; with ``widen``, the range in ``settings`` is widened 10x on that side for the
    remaining trials (unless the user fixed it, or it was widened enough): the caller saves the
    settings when ``settings["widened"]`` went up."""
    found = find_edge(direction, settings, trials)
    if found is None:
        return None
    side, best = found
    if not (widen and can_widen(settings)):
        return f"{edge_finding(side, best)} {edge_advice(settings)}"
    low, high = settings["lr_scale"]
    if side == "high":
        high *= 10
    else:
        low /= 10
    settings["lr_scale"] = [low, high]
    settings["widened"] += 1
    return (
        f"{edge_finding(side, best)} The range was widened to {low:g}x-{high:g}x the "
        "script's LR for the remaining trials."
    )
