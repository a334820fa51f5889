"""The reliability suite's tally: faults injected and survived, bad inputs tried, trials lost.

Each test adds what it did to ``reliability_tally.TALLY`` through the ``tally`` fixture; the suite
prints the figures at the end of the run, summed over every xdist worker (tests/conftest.py;
``trials lost`` must stay 0: a finished trial whose state or value changed, or a trial left
RUNNING).
"""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from reliability_tally import ORDER, TALLY


class Tally:
    """What one test did, added to the suite's figures."""

    def add(self, key: str, count: int = 1) -> None:
        assert key in ORDER, key
        TALLY[key] += count

    def fault(self, count: int = 1) -> None:
        self.add("faults injected", count)

    def survived(self, count: int = 1) -> None:
        self.add("faults survived", count)

    def bad_input(self, count: int = 1) -> None:
        self.add("bad inputs tried", count)

    @staticmethod
    def snapshot(trials: list[optuna.trial.FrozenTrial]) -> dict[int, tuple[str, float | None]]:
        """``number -> (state, value)`` of the finished trials (what must never change)."""
        return {t.number: (t.state.name, t.value) for t in trials if t.state.is_finished()}

    def check_kept(self, before: dict[int, tuple[str, float | None]],
                   trials: list[optuna.trial.FrozenTrial]) -> None:
        """Every trial finished in ``before`` is still there, in the same state, with the same
        value; none is left RUNNING. Counts what was lost, then asserts nothing was."""
        now = {t.number: (t.state.name, t.value) for t in trials}
        lost = [n for n, was in before.items() if now.get(n) != was]
        lost += [t.number for t in trials if t.state == TrialState.RUNNING]
        self.add("trials lost", len(lost))
        assert not lost, f"trials lost or changed: {lost}"


@pytest.fixture()
def tally() -> Tally:
    return Tally()
