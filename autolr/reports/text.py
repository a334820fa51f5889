"""How the report records write raw stored values as text: a parameter's value, and the one
line of an error message worth showing. The text stays raw; whoever renders it escapes it.
"""

from __future__ import annotations

from typing import Any


def format_value(value: Any) -> str:
    """A parameter's value as the report shows it: floats to 4 significant digits, lists
    element by element, anything else as ``str`` gives it."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def first_line(text: Any) -> str:
    """The line of an error that says what went wrong (a traceback's last line, a message's
    first), at most 300 characters; "" for blank text."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # a traceback's last line names the exception; a plain message's first line says it all
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line[:300]
