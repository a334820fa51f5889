"""The one linear warmup, written once, that wraps any family."""

from __future__ import annotations


# autolr.export copies this function verbatim into exported files, which import only math and
# torch: keep it self-contained, with annotations that need no import.
def warmed_up(factor, step: int, total_steps: int, warmup_steps: int, params: dict) -> float:
    """The multiplier after ``step`` calls of ``scheduler.step()``, warmup included.

    ``factor`` is a family's ``factor(step, total_steps, **params)`` function.

    For the first ``warmup_steps`` steps the LR rises linearly toward the family's first value,
    ``factor(0) * (step + 1) / (warmup_steps + 1)``; the family then runs over the remaining
    ``total_steps - warmup_steps`` steps. Steps past the horizon keep the last step's value.
    """
    step = min(step, total_steps - 1)
    decay_steps = total_steps - warmup_steps
    if step < warmup_steps:
        return factor(0, decay_steps, **params) * (step + 1) / (warmup_steps + 1)
    return factor(step - warmup_steps, decay_steps, **params)
