"""The reliability suite's figures, summed over every process that ran tests.

The ``tally`` fixture (tests/reliability/conftest.py) adds to :data:`TALLY` in the process that
runs the test. Under pytest-xdist that is a worker: each worker hands its figures to the
controller when it finishes (``workeroutput``), and the controller adds them up
(:func:`merge`) before it prints them (:func:`write_summary`), so the totals are the whole
run's however many workers there were. The hooks that do this are in tests/conftest.py, the one
conftest every process loads.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

TALLY: Counter[str] = Counter()
ORDER = ("faults injected", "faults survived", "bad inputs tried", "trials lost")
WORKER_OUTPUT_KEY = "autolr_reliability_tally"


def dump() -> str:
    """This process's figures, as text a worker can send to the controller."""
    return json.dumps(dict(TALLY))


def merge(text: str) -> None:
    """Add a worker's figures (what :func:`dump` gave there) to this process's."""
    figures: dict[str, Any] = json.loads(text)
    for key, count in figures.items():
        assert key in ORDER and isinstance(count, int), (key, count)
        TALLY[key] += count


def write_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures, in a section of their own at the end of the run (none if no test added)."""
    if not TALLY:
        return
    terminalreporter.section("reliability figures")
    for key in ORDER:
        terminalreporter.write_line(f"{key}: {TALLY[key]}")
