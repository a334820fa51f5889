"""The peak-LR range a study samples: learned from its first run, widened at an edge.

The range is stored as multiples of the script's own LR (``lr_scale``), which the study learns
from its first trial (the optimizer's LR when the script called ``autolr.scheduler``); until
then the sampler keeps its default. When the best trials sit at an edge of the range, it is
widened 10x on that side for the remaining trials (:mod:`autolr.search.lr_edge`). The sampler's
distribution follows every change, in this process and, through the stored settings, in others.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial

from autolr.search.lr_edge import edge_message
from autolr.search.space import LR_PARAM, space_of


class LRRange:
    """Keeps ``sampler``'s ``lr_scale`` distribution in step with the study's ``settings``."""

    def __init__(self, settings: dict[str, Any], direction: str, sampler: Any) -> None:
        self.settings = settings
        self.direction = direction
        self.sampler = sampler
        self.sync()

    def sync(self) -> None:
        """Tell the sampler the current range (nothing until the script's LR is known)."""
        base_lr = self.settings.get("base_lr")
        if base_lr:
            low, high = space_of(self.settings, self.direction).lr_scale_bounds(base_lr)
            self.sampler.current[LR_PARAM] = FloatDistribution(low, high, log=True)

    def learn(self, control: Any) -> bool:
        """Learn the script's own LR and run length from a finished trial, once; True when the
        settings changed (the caller saves them)."""
        changed = False
        spec = control.spec
        if spec is not None and not self.settings.get("base_lr"):
            self.settings["base_lr"] = spec.lr / control.trial.params[LR_PARAM]
            changed = True
            self.sync()
        if control.declared_steps and not self.settings.get("total_steps"):
            self.settings["total_steps"] = control.declared_steps
            changed = True
        return changed

    def at_edge(self, trials: list[FrozenTrial], *, widen: bool) -> tuple[str | None, bool]:
        """A message when the best of ``trials`` (those the sampler learns from) sit at an
        edge, and whether the range was widened (the caller saves the settings)."""
        widened = self.settings.get("widened")
        message = edge_message(self.direction, self.settings, trials, widen=widen)
        changed = self.settings.get("widened") != widened
        if changed:
            self.sync()
        return message, changed
