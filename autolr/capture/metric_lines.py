"""Reading a metric from a line of a script's output.

``NAME`` followed by a number is a value, whatever sits between them: ``val_loss=0.12``,
``val loss: 0.12``, ``'val_loss': 0.12``, ``val_loss 0.12``, ``val_loss=tensor(0.12)``, and the
number quoted as Hugging Face's Trainer 5 logs it, ``'eval_loss': '0.12'``. An
underscore, a space or a hyphen in ``NAME`` matches any of the three. The name must not continue
a longer word (``train_val_loss`` and ``val_loss_ema`` are other metrics). A regex given instead
(``--metric-regex``) must have exactly one group, the number.
"""

from __future__ import annotations

import difflib
import re

from autolr import _validation

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_SEPARATOR = r"['\"]?\s*(?::|=|\s)\s*(?:tensor\()?['\"]?"
_NAMED_NUMBER = re.compile(r"(?<![\w.])([A-Za-z_][\w./-]*?)['\"]?\s*[:=]\s*(?:tensor\()?['\"]?(?:"
                           + NUMBER + r")(?![\w.])")


class MetricReader:
    """Finds the metric's value in a line: ``value(line)`` is a float or None."""

    def __init__(self, name: str | None = None, regex: str | None = None) -> None:
        owner = "--metric"
        if regex is not None:
            self.pattern = compile_metric_regex(regex)
            self.label = regex
        else:
            if not isinstance(name, str) or not name.strip():
                raise _validation.fail("--metric", owner, "must name the metric the script "
                                       "prints, e.g. val_loss", name)
            self.label = name.strip()
            self.pattern = re.compile(name_pattern(self.label) + _SEPARATOR + f"({NUMBER})",
                                      re.IGNORECASE)

    def value(self, line: str) -> float | None:
        """The metric's value in ``line`` (its last occurrence), or None."""
        found = None
        for match in self.pattern.finditer(line):
            found = match
        if found is None:
            return None
        try:
            return float(found.group(1))
        except ValueError:
            return None


def name_pattern(name: str) -> str:
    """The regex of ``name`` as a whole word: ``_``, ``-`` and a space match one another."""
    parts = re.split(r"[_\- ]+", name)
    body = r"[_\- ]".join(re.escape(p) for p in parts)
    return r"(?<![\w.])['\"]?" + body + r"(?![\w])"


def compile_metric_regex(regex: str) -> re.Pattern[str]:
    """``regex`` compiled, with exactly one group, the number; a clear error otherwise."""
    owner = "--metric-regex"
    fix = r"Give one group around the number, e.g. --metric-regex 'val[ _]loss\s*[:=]\s*(\S+)'."
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise _validation.fail("--metric-regex", owner, f"must be a valid regular expression "
                               f"({exc})", regex, fix) from None
    if pattern.groups != 1:
        raise _validation.fail("--metric-regex", owner, "must have exactly one group, around "
                               f"the number (it has {pattern.groups})", regex, fix)
    return pattern


def named_numbers(line: str) -> list[str]:
    """The names followed by ``:`` or ``=`` and a number in ``line`` (``loss=0.3 acc: 0.9``
    gives ``["loss", "acc"]``)."""
    return [m.group(1) for m in _NAMED_NUMBER.finditer(line)]


def closest_names(wanted: str, seen: dict[str, int]) -> list[str]:
    """``seen`` (name -> times printed) ordered closest to ``wanted`` first."""
    def closeness(name: str) -> tuple[float, int]:
        return (-difflib.SequenceMatcher(None, wanted.lower(), name.lower()).ratio(),
                -seen[name])

    return sorted(seen, key=closeness)
