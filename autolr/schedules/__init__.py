"""Schedule families, their registry, the shared warmup and ``ScheduleSpec``.

- ``base``: what a family is (a closed form ``factor(step, total_steps, **params)`` and its
  search space); ``builtin/``: one module per built-in family; ``registry``: the families by
  name, with ``register_family`` for the user's own; ``warmup``: the one warmup wrapper;
  ``spec``: ``ScheduleSpec`` (family, parameters, peak LR, warmup, length) and its JSON;
  ``torch_schedulers``: a spec as a torch LR scheduler (several optimizers, the plateau family).

May import the package's base modules (``errors``, ``_validation``) only: every other layer
builds on this one. The plateau family reads ``autolr.report``'s values through a source the
trials' runtime registers (``spec.set_metric_source``), not by importing it.
"""

from __future__ import annotations

from autolr.schedules.registry import (
    families,
    family_info,
    get_family,
    register_family,
    unregister_family,
)
from autolr.schedules.spec import ScheduleSpec, load_schedule

__all__ = [
    "ScheduleSpec",
    "families",
    "family_info",
    "get_family",
    "load_schedule",
    "register_family",
    "unregister_family",
]
