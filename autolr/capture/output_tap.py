"""A text stream that writes through to the one it wraps and hands each finished line on.

``sys.stdout`` and ``sys.stderr`` are replaced by taps for a run under ``--metric``: ``print``,
a ``logging`` handler (made before or after, since it writes to the tap it was given or finds)
and a progress bar's ``\\r`` refreshes all pass through. A line ends at ``\\n`` or ``\\r``; a
line still open when the run ends is handed on by :meth:`OutputTap.flush_line`. An exception
raised by the callback is the callback's to keep: the tap never lets one reach the script's
``print``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TextIO

_ENDS = re.compile(r"[\r\n]")
MAX_OPEN_LINE = 1 << 16  # characters: a line never ended is handed on at this length


class OutputTap:
    """Wraps ``stream``; ``on_line(text)`` gets every finished line while ``active``."""

    def __init__(self, stream: TextIO, on_line: Callable[[str], None]) -> None:
        self.stream = stream
        self.on_line = on_line
        self.active = False
        self._open = ""

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        if self.active and text:
            self._scan(text)
        return written

    def _scan(self, text: str) -> None:
        pieces = _ENDS.split(self._open + text)
        self._open = pieces.pop()
        if len(self._open) > MAX_OPEN_LINE:
            pieces.append(self._open)
            self._open = ""
        for line in pieces:
            if line.strip():
                self.on_line(line)

    def flush_line(self) -> None:
        """Hand on the line still open (the run ended without its newline)."""
        line, self._open = self._open, ""
        if self.active and line.strip():
            self.on_line(line)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer ...
        return getattr(self.stream, name)
