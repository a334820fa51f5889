"""Schedule families, their registry, the shared warmup and ``ScheduleSpec``."""

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
