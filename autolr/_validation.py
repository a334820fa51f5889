"""The one place that writes autolr's validation messages.

Each message names the parameter and where it belongs, the rule, and the value received, in the
form users know from scikit-learn::

    The 'pruner' parameter of tune must be one of {'median', 'none'}. Got 'medain' instead.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection
from typing import Any

from autolr.errors import ConfigError, ConfigTypeError


def _where(name: str, owner: str) -> str:
    return f"The '{name}' parameter of {owner}"


def fail(name: str, owner: str, rule: str, value: Any, fix: str | None = None) -> ConfigError:
    """Build the standard error; callers ``raise fail(...)``."""
    message = f"{_where(name, owner)} {rule}. Got {value!r} instead."
    if fix:
        message += f" {fix}"
    return ConfigError(message)


def one_of(name: str, owner: str, value: Any, allowed: Collection[Any]) -> Any:
    """Return ``value`` if it is among ``allowed``; otherwise raise, suggesting the closest name."""
    if value in allowed:  # type: ignore[operator]
        return value
    rule = getattr(allowed, "rule", None)  # a set that is not a list of names says its rule
    if rule:
        raise fail(name, owner, rule, value)
    allowed = list(allowed)
    close = closest(value, [str(a) for a in allowed])
    fix = f"Did you mean {close!r}?" if close else None
    shown = "{" + ", ".join(repr(a) for a in allowed) + "}"
    raise fail(name, owner, f"must be one of {shown}", value, fix)


def closest(value: Any, names: list[str]) -> str | None:
    """The known name ``value`` most likely meant (a prefix, or a close spelling), or None."""
    if not isinstance(value, str) or not value:
        return None
    prefixed = [n for n in names if n.startswith(value)]
    if prefixed:
        return prefixed[0]
    close = difflib.get_close_matches(value, names, n=1)
    return close[0] if close else None


def number(
    name: str,
    owner: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float | int:
    """Check that ``value`` is a finite real number (an int when ``integer``) inside the bounds.

    Bounds are inclusive unless ``low_open`` / ``high_open``. Booleans are not numbers here: a
    ``True`` where a rate belongs is almost always a mistake.
    """
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        # numpy scalars are numbers too
        if hasattr(value, "item") and not isinstance(value, bool):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigTypeError(f"{_where(name, owner)} must be {kind}. Got {value!r} instead.")
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise fail(name, owner, "must be an integer", value)
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise fail(name, owner, "must be a finite number", value)
    if low is not None and (value < low or (low_open and value == low)):
        raise fail(name, owner, _range_rule(low, high, low_open, high_open), value)
    if high is not None and (value > high or (high_open and value == high)):
        raise fail(name, owner, _range_rule(low, high, low_open, high_open), value)
    return value


def _range_rule(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f"must be in the range {left}{low:g}, {high:g}{right}"
    if low is not None:
        return f"must be {'>' if low_open else '>='} {low:g}"
    assert high is not None
    return f"must be {'<' if high_open else '<='} {high:g}"


def boolean(name: str, owner: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigTypeError(
            f"{_where(name, owner)} must be True or False. Got {value!r} instead."
        )
    return value
