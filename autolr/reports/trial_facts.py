"""Facts about trials that every report record needs: how one ended, its family, whether its
value can win, its last report, the schedule it followed (and of many trials, their families and
step unit), and the settings autolr keeps with a study. Pure functions of trials.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrError
from autolr.reports.untrusted import MAX_INT
from autolr.schedules.registry import families as registered_families
from autolr.schedules.spec import ScheduleSpec
from autolr.search.ladder import SHORTENED, fidelity_of
from autolr.search.space import FAMILY_PARAM
from autolr.study.config import SETTINGS_ATTR

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


def family_order(trials: Iterable[FrozenTrial]) -> tuple[str, ...]:
    """The families that appear among ``trials``: registered ones in catalogue order, then the
    others alphabetically."""
    present = {family_of(t) for t in trials}
    known = [name for name in registered_families() if name in present]
    return (*known, *sorted(present - set(known)))


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


def last_report(trial: FrozenTrial) -> float | None:
    """The value ``trial`` last reported: at its highest step with a finite value (None: no
    finite report)."""
    reports = [(s, v) for s, v in trial.intermediate_values.items() if finite(v)]
    return float(max(reports)[1]) if reports else None


def as_int(value: Any) -> int | None:
    """``value`` as an int when it is one (a whole float too); None for anything else, a bool
    included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def spec_of(trial: FrozenTrial) -> ScheduleSpec | None:
    """The schedule a trial followed; None when it stored none autolr can draw (an
    unregistered family, a corrupt or hostile attribute, a run too long to plot)."""
    data = trial.user_attrs.get("spec")
    if not isinstance(data, Mapping):
        return None
    try:
        spec = ScheduleSpec.from_json(data)
    except (AutolrError, TypeError, ValueError, OverflowError):
        return None
    return spec if spec.total_steps <= MAX_INT else None


def spec_field(trial: FrozenTrial, key: str) -> Any:
    """One field of the schedule ``trial`` stored, as stored (unchecked: for a family autolr
    cannot build too); None when it stored none."""
    data = trial.user_attrs.get("spec")
    return data.get(key) if isinstance(data, Mapping) else None


def step_unit_of(trials: Sequence[FrozenTrial]) -> str:
    """The unit most of ``trials`` count their steps in: "batch", "epoch" or "step"."""
    units = Counter(
        unit for t in trials if isinstance(unit := spec_field(t, "step_unit"), str)
    )
    unit = units.most_common(1)[0][0] if units else "step"
    return unit if unit in ("batch", "epoch") else "step"


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
