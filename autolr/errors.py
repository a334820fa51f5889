"""Exceptions a user of autolr can meet.

Every error a user can cause is an :class:`AutolrError`; those about a bad value are also
``ValueError`` (or ``TypeError`` for a value of the wrong type) so ordinary ``except`` clauses keep
working. The CLI turns any :class:`AutolrError` into a message and a non-zero exit.
"""

from __future__ import annotations


class AutolrError(Exception):
    """Base class of the errors autolr raises on purpose."""


class ConfigError(AutolrError, ValueError):
    """A value given to autolr breaks a rule; the message states the rule, the value and the fix."""


class ConfigTypeError(AutolrError, TypeError):
    """A value given to autolr has the wrong type."""


class ExportError(AutolrError):
    """A schedule cannot be written as standalone code; the message says why and what to change."""


class TrialPruned(Exception):
    """Raised inside a trial by :func:`autolr.report` when the study stops the trial early.

    Training scripts need not catch it: the runner does, and records the trial as pruned.
    """

    def __init__(self, message: str = "trial pruned", reason: str = "pruned") -> None:
        super().__init__(message)
        self.reason = reason


class StudyStopped(AutolrError):
    """The study stopped before reaching its target, for a reason the message gives."""


class AutolrWarning(UserWarning):
    """Something in a training script that autolr tolerates but the user should know (a step
    count that differs from ``total_steps``, a schedule stretched to another horizon)."""
