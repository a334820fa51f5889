"""Values from a study's database are untrusted: checked once, where ``show``, ``export`` and
``report`` read them, so that nothing further on crashes on them or passes them on raw.

A study autolr did not write, an older or newer autolr's, one edited by hand or a hostile one may
hold any JSON where autolr expects a number, a name or a dict. :func:`clean_trials` and
:func:`clean_settings` give every user attribute autolr reads the type autolr writes it with, or
leave it out (a text attribute becomes ``str``); the rest of the trial (its state, values,
parameters and reports, which Optuna itself types) and the ``spec`` attribute (parsed, with a
clear error, only where a schedule is needed: :func:`autolr.exporting.export.stored_schedule`) are
left as they are. Trials are copied only where something changes.

For output: :func:`terminal_text` makes database text safe to print (no control characters, so
no terminal escape sequences; no rich markup), and :func:`json_ready` makes values safe for strict
JSON (NaN and infinities become null). HTML is escaped where the page is written
(:mod:`autolr.reports.html`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from optuna.trial import FrozenTrial

MAX_INT = 2**53  # beyond exact float arithmetic: no count, step or trial number is this large
MAX_TEXT = 120  # characters of a name shown in a table cell
MAX_AVERAGED = 1e100  # objective values averaged over seeds (their squares must stay finite)

# user attribute -> (lowest, highest) allowed whole number
_WHOLE = {
    "seed": (0, 2**64), "steps": (0, MAX_INT), "reports": (0, MAX_INT), "rung": (0, 10**6),
    "promoted_from": (0, MAX_INT), "confirm_round": (0, 10**6), "entered_from": (0, 10**6),
    "requeued_from": (0, MAX_INT),
}
# user attribute -> (lowest, highest, lowest excluded) allowed finite number
_NUMBER = {
    "lr": (0.0, math.inf, True), "base_lr": (0.0, math.inf, True),
    "wall_time_s": (0.0, math.inf, False), "fidelity": (0.0, 1.0, True),
    "heartbeat": (-math.inf, math.inf, False),
}
_TEXT = ("reason", "error", "worker", "baseline", "step_mismatch", "owner")


def is_whole(value: Any, low: int = 0, high: int = MAX_INT) -> bool:
    """An ``int`` (not a bool) in ``[low, high]``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_number(value: Any, low: float = -math.inf, high: float = math.inf,
              low_open: bool = False) -> bool:
    """A finite ``int`` or ``float`` (not a bool) in the range; an int too large for a float is
    not a number here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and low <= number <= high and not (low_open and number == low)


# --- trials ----------------------------------------------------------------------------------
def _clean_attr(key: str, value: Any) -> tuple[bool, Any]:
    """``(keep, value)`` for one user attribute."""
    if key in _WHOLE:
        return is_whole(value, *_WHOLE[key]), value
    if key in _NUMBER:
        low, high, low_open = _NUMBER[key]
        return is_number(value, low, high, low_open), value
    if key in _TEXT:
        return True, value if value is None or isinstance(value, str) else str(value)
    if key == "confirms":  # its presence marks a confirmation run: kept, as None when unreadable
        return True, value if is_whole(value) else None
    if key == "lr_curve":
        ok = (isinstance(value, Mapping) and isinstance(value.get("steps"), list)
              and isinstance(value.get("lrs"), list))
        return ok, value
    if key == "report_lrs":
        return isinstance(value, Mapping), value
    return True, value


def clean_trial(trial: FrozenTrial) -> FrozenTrial:
    """``trial`` itself when its user attributes are as autolr writes them, else a copy without
    the unreadable ones (text attributes made ``str``)."""
    attrs = trial.user_attrs
    changed = False
    cleaned: dict[str, Any] = {}
    for key, value in attrs.items():
        keep, new = _clean_attr(key, value)
        if keep:
            cleaned[key] = new
        changed |= not keep or new is not value
    if not changed:
        return trial
    fresh = copy.copy(trial)
    fresh.user_attrs = cleaned  # a copy: the study's own trial is left as it was
    return fresh


def _huge(trial: FrozenTrial) -> bool:
    values = trial.values
    return bool(values) and any(abs(v) > MAX_AVERAGED for v in values)


def clean_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """:func:`clean_trial` of each trial; and a confirmation run of, or with, a value too large
    to average or compare (beyond :data:`MAX_AVERAGED`, where a mean or a variance of such values
    overflows) keeps its mark as a confirmation (``confirms``) but confirms nothing."""
    cleaned = [clean_trial(t) for t in trials]
    huge = {t.number for t in cleaned if _huge(t)}
    if not huge:
        return cleaned
    for i, trial in enumerate(cleaned):
        origin = trial.user_attrs.get("confirms")
        if origin is not None and (origin in huge or trial.number in huge):
            fresh = copy.copy(trial)
            fresh.user_attrs = {**trial.user_attrs, "confirms": None}
            cleaned[i] = fresh
    return cleaned


# --- the study's settings --------------------------------------------------------------------
def _numbers(value: Any, low: float, high: float, low_open: bool = False) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if not all(is_number(v, low, high, low_open) for v in value):
        return None
    return [float(v) for v in value]


def _ladder(data: Any) -> dict[str, Any] | None:
    """A planned ladder (:meth:`autolr.search.ladder.Ladder.to_dict`) that obeys the ladder's rules:
    fidelities rising to 1, steps rising with them, eta at least 2; else None."""
    if not isinstance(data, Mapping):
        return None
    fidelities = _numbers(data.get("fidelities"), 0.0, 1.0, low_open=True)
    steps = data.get("steps")
    eta = data.get("eta")
    if (
        fidelities is None or fidelities[-1] != 1.0
        or any(b <= a for a, b in zip(fidelities, fidelities[1:]))
        or not isinstance(steps, (list, tuple)) or len(steps) != len(fidelities)
        or not all(is_whole(s, 1) for s in steps)
        or any(b <= a for a, b in zip(steps, steps[1:]))
        or not is_whole(eta, 2, 10**6)
    ):
        return None
    ladder: dict[str, Any] = {"fidelities": fidelities, "steps": list(steps), "eta": eta}
    requested = _numbers(data.get("requested"), 0.0, 1.0, low_open=True)
    if requested is not None:
        ladder["requested"] = requested
    notes = data.get("notes")
    if isinstance(notes, (list, tuple)):
        ladder["notes"] = [str(n) for n in notes]
    reports = data.get("reports")
    if (isinstance(reports, (list, tuple)) and len(reports) == len(steps)
            and all(is_whole(n) for n in reports)):
        ladder["reports"] = list(reports)
    return ladder


def clean_settings(settings: Any) -> dict[str, Any]:
    """The settings autolr keeps with a study (user attribute ``autolr``) with each one the
    summaries read of the type autolr writes, or left out; ``{}`` when they are not a dict."""
    if not isinstance(settings, Mapping):
        return {}
    out = {str(k): v for k, v in settings.items()}
    if "ladder" in out:
        out["ladder"] = _ladder(out["ladder"])
    request = out.get("ladder_request")
    if request is not None and not (
        isinstance(request, Mapping) and _numbers(request.get("fidelities"), 0.0, 1.0, True)
        and is_whole(request.get("eta"), 2, 10**6)
    ):
        out["ladder_request"] = None
    checks = {
        "n_trials": lambda v: is_whole(v, 1),
        "total_steps": lambda v: is_whole(v, 1),
        "widened": lambda v: is_whole(v, 0, 100),
        "base_lr": lambda v: is_number(v, 0.0, math.inf, True),
        "families": lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
        "lr_scale": lambda v: (_numbers(v, 0.0, math.inf, True) is not None and len(v) == 2
                               and v[0] < v[1]),
        "search": lambda v: isinstance(v, str),
    }
    for key, ok in checks.items():
        if key in out and not ok(out[key]):
            del out[key]
    fixed = out.get("lr")
    if fixed is not None and not (
        _numbers(fixed, 0.0, math.inf, True) is not None and len(fixed) == 2
        and fixed[0] < fixed[1]
    ):
        out["lr"] = None
    fallback = out.get("ladder_fallback")
    if fallback is not None and not isinstance(fallback, str):
        out["ladder_fallback"] = str(fallback)
    return out


# --- output ------------------------------------------------------------------------------------
def terminal_text(value: Any, limit: int | None = None, *, markup: bool = False) -> str:
    """``value`` as text that prints as itself: control and other unprintable characters (escape
    sequences, bidirectional overrides, newlines) written as ``\\x1b``-style escapes, at most
    ``limit`` characters (then ``…``); with ``markup``, rich markup brackets escaped too, for
    text printed inside a rich markup string."""
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if markup:
        from rich.markup import escape

        text = escape(text)
    return text


def json_ready(value: Any) -> Any:
    """``value`` for strict JSON: NaN and infinities as None, keys as strings, tuples as lists;
    anything JSON does not have as its text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return str(value)


__all__ = [
    "MAX_TEXT",
    "clean_settings",
    "clean_trial",
    "clean_trials",
    "is_number",
    "is_whole",
    "json_ready",
    "terminal_text",
]
