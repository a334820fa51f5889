"""Markdown for the benchmarks' pages: table rows, number formatting, and a marked section of a
page replaced in place.

A missing or non-finite figure is shown as :data:`DASH`, never as ``nan`` or ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

DASH = "—"


def row(cells: Iterable[Any]) -> str:
    """One table row, ``| a | b |``; an empty cell is ``| |``."""
    return "|" + "".join(f" {cell} |" if cell != "" else " |" for cell in cells)


def rule(columns: int, *, compact: bool = False) -> str:
    """The line under a table's header: ``| --- | --- |`` (``|---|---|`` with ``compact``)."""
    return "|" + "---|" * columns if compact else "|" + " --- |" * columns


def header(columns: Sequence[str], *, compact: bool = False) -> list[str]:
    """A table's header row and the rule under it."""
    return [row(columns), rule(len(columns), compact=compact)]


def num(value: Any, digits: int = 4) -> str:
    """A figure in ``digits`` significant digits (a float), as is (anything else), or
    :data:`DASH` (None, a non-finite float)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def fixed(value: Any, digits: int = 1) -> str:
    """A float with ``digits`` decimals and thousands separators, anything else as is, None as
    :data:`DASH`."""
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def formatted(value: float | None, spec: str) -> str:
    """``format(value, spec)``, or :data:`DASH` for None."""
    return DASH if value is None else format(value, spec)


def versions_text(versions: dict[str, str]) -> str:
    """``python 3.11.7, torch 2.4.0, ...``: the package versions a run recorded."""
    return ", ".join(f"{k} {v}" for k, v in versions.items())


def replace_section(page: Path, start: str, end: str, markdown: str,
                    heading: str = "## Results") -> None:
    """Replace what lies between the markers ``start`` and ``end`` of ``page`` with
    ``markdown`` (which carries both markers); append it under ``heading`` when the page lacks
    them (a new page starts as ``# Benchmarks``)."""
    text = page.read_text(encoding="utf-8") if page.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + markdown.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + markdown
    page.write_text(text, encoding="utf-8")
