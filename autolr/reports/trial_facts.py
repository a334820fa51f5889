"""Facts about one trial that every report record needs: how it ended, its family, whether
its value can win, and the settings autolr keeps with a study. Pure functions of trials.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.ladder import SHORTENED, fidelity_of
from autolr.space import FAMILY_PARAM
from autolr.study_config import SETTINGS_ATTR

UNKNOWN_FAMILY = "unknown"


def outcome(trial: FrozenTrial) -> str:
    """How ``trial`` ended: complete, shortened, pruned, diverged, failed, running or
    waiting."""
    state = trial.state
    if state == TrialState.COMPLETE:
        return "complete"
    if state == TrialState.PRUNED:
        reason = trial.user_attrs.get("reason")
        if reason == SHORTENED:
            return "shortened"
        return "diverged" if reason == "diverged" else "pruned"
    if state == TrialState.FAIL:
        return "failed"
    if state == TrialState.RUNNING:
        return "running"
    return "waiting"


def family_of(trial: FrozenTrial) -> str:
    name = trial.params.get(FAMILY_PARAM)
    if name is None:
        spec = trial.user_attrs.get("spec")
        name = spec.get("family") if isinstance(spec, Mapping) else None
    return str(name) if name is not None else UNKNOWN_FAMILY


def full_value(trial: FrozenTrial) -> float | None:
    """The objective of a complete full-fidelity trial with a finite value (the only values
    that can win: a shortened run's value is a lower-fidelity number)."""
    if trial.state != TrialState.COMPLETE or trial.value is None or fidelity_of(trial) < 1.0:
        return None
    value = float(trial.value)
    return value if math.isfinite(value) else None


def finite(value: Any) -> bool:
    """A finite int or float (not a bool); an int too large for a float is not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def ranked(direction: str, trials: Iterable[FrozenTrial]) -> list[tuple[float, FrozenTrial]]:
    """Complete trials with finite values, best first (ties: lower number first)."""
    sign = -1.0 if direction == "maximize" else 1.0
    scored = [(v, t) for t in trials if (v := full_value(t)) is not None]
    return sorted(scored, key=lambda vt: (sign * vt[0], vt[1].number))


def settings_of(user_attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The settings autolr keeps with a study (empty for a study autolr did not run)."""
    settings = user_attrs.get(SETTINGS_ATTR)
    return settings if isinstance(settings, Mapping) else {}


def search_of(settings: Mapping[str, Any]) -> str | None:
    """How a study searched: "ladder" or "full"; a study autolr ran before the ladder existed
    is a full search; None for a study autolr did not run."""
    if not settings:
        return None
    search = settings.get("search")
    return str(search) if search in ("ladder", "full") else "full"
