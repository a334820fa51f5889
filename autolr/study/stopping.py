"""When failing trials stop a study: the same error in its first trials, or too many failures.

A script that fails the same way three times at the start will fail the same way every time;
a study whose failures outnumber twice the configurations its budget buys (at least 10) has a
broken training script, not bad schedules. Either stops the study with the error, instead of
spending the budget on it.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import TrialState

from autolr.errors import StudyStopped

SAME_ERROR_TRIALS = 3


class FailureWatch:
    """Watches the trials one process finishes; :meth:`check` says when to stop."""

    def __init__(self) -> None:
        self.signatures: list[str | None] = []
        self.failures = 0

    def check(self, control: Any, outcome: Any, configurations: int) -> StudyStopped | None:
        """The error that stops the study after ``control``'s trial ended with ``outcome``,
        or None. ``configurations``: about how many the budget buys."""
        if outcome.fatal:
            return StudyStopped(f"Trial {control.number} failed: {outcome.error}")
        if outcome.requeue:  # not the configuration's failure (a shared GPU ran out of memory)
            return None
        if len(self.signatures) < SAME_ERROR_TRIALS:
            self.signatures.append(
                outcome.signature if outcome.state == TrialState.FAIL else None
            )
            same = set(self.signatures)
            if len(self.signatures) == SAME_ERROR_TRIALS and len(same) == 1 and None not in same:
                return StudyStopped(
                    f"The first {SAME_ERROR_TRIALS} trials failed with the same error, so the "
                    f"study stopped rather than repeat it:\n{outcome.error}"
                )
        if outcome.state == TrialState.FAIL:
            self.failures += 1
            if self.failures >= max(10, 2 * configurations):
                return StudyStopped(
                    f"{self.failures} trials failed in this run, the last with:\n"
                    f"{outcome.error}\nFix the training code and run the study again."
                )
        return None
