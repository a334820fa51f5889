"""Running a trial's training code in this process, with seeding and failure capture.

The worker processes of ``autolr tune`` run trials through the same :func:`run_trial`; only the
way they reach the study differs.
"""

from __future__ import annotations

import gc
import random
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autolr.errors import TrialPruned
from autolr.trials import runtime

if TYPE_CHECKING:  # not imported at run time: a worker process needs neither it nor Optuna
    from autolr.trials.control import TrialControl, TrialOutcome

TRACEBACK_LINES = 15


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch (all devices) at the start of a trial."""
    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy ships with autolr's dependencies
        pass
    torch = sys.modules.get("torch")
    if torch is None:
        import torch
    torch.manual_seed(seed)


def is_out_of_memory(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    if isinstance(exc, MemoryError):  # the host's memory, or a limit set on the process
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(the message with the end of the traceback, a signature naming the error)."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(lines).rstrip().splitlines()[-TRACEBACK_LINES:]
    message = f"{type(exc).__name__}: {exc}"
    return message + "\n" + "\n".join(tail), message


def run_trial(fn: Callable[[], Any], session: runtime.TrialSession, seed: int) -> str | None:
    """Run ``fn`` as one trial. Returns None when it returned normally, ``"pruned:<reason>"``
    when it was pruned; raises whatever else it raised (the caller classifies it)."""
    seed_everything(seed)
    runtime.begin_session(session)
    try:
        fn()
    except TrialPruned as exc:
        return f"pruned:{exc.reason}"
    except Exception as exc:
        optuna = sys.modules.get("optuna")  # a script that raises Optuna's has imported it
        if optuna is not None and isinstance(exc, optuna.TrialPruned):
            return "pruned:pruned"
        raise
    finally:
        runtime.end_session()
    return None


class InProcessRunner:
    """Runs one trial at a time in this process (``autolr.tune``'s default)."""

    slots = 1

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self._pending: list[TrialControl] = []

    def start(self, control: TrialControl) -> None:
        self._pending.append(control)

    def busy(self) -> int:
        return len(self._pending)

    def wait(self, timeout: float | None = None) -> list[tuple[TrialControl, TrialOutcome]]:
        """Run the next trial here; it returns when the trial ends, whatever ``timeout``."""
        control = self._pending[0]
        outcome = self._run(control)  # a Ctrl-C leaves it pending, for interrupt()
        self._pending.pop(0)
        return [(control, outcome)]

    def _run(self, control: TrialControl) -> TrialOutcome:
        try:
            result = run_trial(self.fn, control, control.seed)
        except Exception as exc:
            error, signature = describe_exception(exc)
            if is_out_of_memory(exc):
                del exc
                free_memory()
                return control.failed("out of memory", error, signature)
            return control.failed("failed", error, signature)
        if result is not None:
            return control.pruned(result.split(":", 1)[1])
        return control.completed()

    def interrupt(self) -> list[TrialControl]:
        """The trials cut short by Ctrl-C (the one running, if any)."""
        interrupted, self._pending = self._pending, []
        return interrupted

    def close(self) -> None:
        self._pending.clear()
