"""Where the benchmarks' results go, and the result files (JSON) written and read back.

Every results file is one JSON document followed by a newline, in UTF-8. JSON has no NaN or
infinity, so measurements pass through :func:`finite` (or :func:`json_safe` for a whole tree)
before they are written: a non-finite number is stored as ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[1]  # benchmarks/
ROOT = BENCHMARKS.parent  # the repository
RESULTS = BENCHMARKS / "results"  # the committed results
EXAMPLES = ROOT / "examples"  # the example training scripts the workloads come from


def output_dir(given: Path | None, quick: bool) -> Path:
    """``--output-dir``: the folder given, else ``benchmarks/results`` (``results/quick`` for a
    quick run, so that a smoke run never overwrites the committed results)."""
    if given is not None:
        return given
    return RESULTS / "quick" if quick else RESULTS


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_json(path: Path, data: Any, *, indent: int | None = None,
               allow_nan: bool = True) -> str:
    """Write ``data`` as one JSON document and a newline; returns the text written.
    ``allow_nan=False`` refuses a non-finite number instead of writing ``NaN``."""
    text = json.dumps(data, indent=indent, allow_nan=allow_nan) + "\n"
    write_text(path, text)
    return text


def read_json(path: Path) -> Any:
    """A results file (raises when it is missing or not JSON)."""
    return json.loads(path.read_text(encoding="utf-8"))


def load_json(path: Path) -> Any | None:
    """A results file, or None when it is missing or unreadable (an optional input)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The finished lines of a JSON-lines file that a measurement appends to as it goes (none
    when it is missing; a line cut short by a stop is skipped, so a stopped run resumes)."""
    if not path.exists():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return lines


def finite(value: float | None) -> float | None:
    """A number for JSON: a non-finite one (or None) becomes None (``null``)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float inside it (dicts, lists, tuples) made None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
