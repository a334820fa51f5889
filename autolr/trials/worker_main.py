"""The worker process: imports once, then runs a training script as trials, one after another.

Started by :class:`autolr.trials.workers.WorkerPool` as ``python -m autolr.trials.worker_main FD
SCRIPT [ARGS...]``. It never opens the study: ``autolr.scheduler`` and ``autolr.report`` inside the
script talk to the parent over the connection on file descriptor FD, and the parent answers
("here is your schedule", "continue", "prune"). Each trial runs the script as a fresh
``__main__`` with ``runpy``; modules the script imports stay loaded, which is what makes the next
trial start fast.

A report waits for the parent's answer only where it may be other than "continue" (the schedule
comes with when that is, see :func:`autolr.trials.workers.report_hints`); the others are sent and
training goes on, and a decision the parent sends unasked (the trial was taken over by another
process) is read at the next report. The worker imports neither Optuna nor the study's code:
its start-up is torch's and the script's. It leaves without the interpreter's teardown of every
module (a second or more with torch loaded), after the script's ``atexit`` handlers.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import runpy
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from autolr.errors import TrialPruned
from autolr.schedules.spec import ScheduleSpec
from autolr.trials.runners import describe_exception, free_memory, is_out_of_memory, run_trial


def receive(connection: Connection, *kinds: str) -> tuple[Any, ...]:
    """The next message of one of ``kinds``; decisions left from an ended trial (sent unasked,
    or answering a report after the trial had decided to stop) are skipped."""
    while True:
        message = connection.recv()
        if message[0] in kinds:
            return message
        if message[0] != "decision":
            raise RuntimeError(f"unexpected message from the study process: {message[0]!r}")


class PipeSession:
    """A trial session whose study lives in the parent process."""

    def __init__(self, connection: Connection, seed: int) -> None:
        self.connection = connection
        self.seed = seed
        self.steps_taken = 0
        self.curve: list[float] = []
        self.reports = 0
        self.first_value: float | None = None
        # the default, until the schedule says more: wait for the answer to every report
        self.hints: dict[str, Any] = {"prune_after": 0}

    def make_schedule(self, base_lr: float, total_steps: int) -> ScheduleSpec:
        self.connection.send(("schedule", base_lr, total_steps))
        message = receive(self.connection, "spec", "error")
        if message[0] == "error":
            raise RuntimeError(message[1])
        if len(message) > 2:
            self.hints = message[2]
        return ScheduleSpec.from_json(message[1])

    def on_scheduler_step(self, steps_taken: int, lr: float) -> None:
        self.steps_taken = steps_taken
        if steps_taken == len(self.curve):
            self.curve.append(lr)

    def on_report(self, value: float, step: int) -> None:
        lr = self.curve[-1] if self.curve else None
        self.reports += 1
        number = self.reports
        waiting = self.may_stop(value)
        if self.first_value is None and math.isfinite(value):
            self.first_value = value
        self.connection.send(("report", value, step, self.steps_taken, lr, number, waiting))
        while waiting or self.connection.poll():
            _, answered, decision, detail = receive(self.connection, "decision")
            if decision != "continue":
                raise TrialPruned(detail, reason=decision)
            if answered == number:
                waiting = False

    def may_stop(self, value: float) -> bool:
        """Whether the parent's answer to this report may be other than "continue": the pruner
        is asked from this report on, a shortened run has reached its end, or the value may
        show a diverged run (not finite, or, minimising, above the first report: a superset of
        :func:`autolr.search.pruning.divergence`, which this process does not import)."""
        hints = self.hints
        prune_after = hints.get("prune_after", 0)
        if prune_after is None or self.reports > prune_after:
            return True
        ends_at = hints.get("ends_at_step")
        if ends_at is not None and self.steps_taken >= ends_at:
            return True
        if not math.isfinite(value):
            return True
        first = self.first_value
        return hints.get("direction") == "minimize" and first is not None and value > first


def run_script(script: str) -> None:
    """Run ``script`` as ``__main__``; a non-zero ``sys.exit`` is an error."""
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise RuntimeError(f"the script exited with status {exc.code!r}") from None


def run_one(connection: Connection, script: str, args: list[str], job: dict[str, Any]) -> None:
    session = PipeSession(connection, job["seed"])
    sys.argv = [script, *job.get("args", args)]
    result: dict[str, Any] = {"status": "complete"}
    capture = job.get("capture")

    def run() -> None:
        if capture:  # autolr tune --metric: the hooks set the LR, the output gives the metric
            from autolr.trials.captured import trial_run

            trial_run(session, capture, lambda: run_script(script))
        else:
            run_script(script)

    try:
        outcome = run_trial(run, session, job["seed"])
        if outcome is not None:
            result = {"status": "pruned", "reason": outcome.split(":", 1)[1]}
    except Exception as exc:
        error, signature = describe_exception(exc)
        oom = is_out_of_memory(exc)
        del exc
        if oom:
            free_memory()
        result = {
            "status": "failed",
            "reason": "out of memory" if oom else "failed",
            "error": error,
            "signature": signature,
        }
    result["steps"] = session.steps_taken
    result["curve"] = session.curve
    connection.send(("done", result))


def _exit_with_parent(poll_s: float = 2.0) -> None:
    """End this worker when the study process is gone (killed, or its output pipe closed), so an
    orphan never keeps training on a GPU nobody is watching."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="autolr-parent-watch", daemon=True).start()


def leave(code: int = 0) -> NoReturn:
    """End the worker now: the script's threads are joined and its ``atexit`` handlers run, as at
    a normal exit, and the output is flushed; the interpreter's teardown of every module, which
    nothing needs here, is skipped."""
    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main(argv: list[str]) -> None:
    _exit_with_parent()
    fd, script, *args = argv
    connection = Connection(int(fd))
    threads = os.environ.get("AUTOLR_TORCH_THREADS")
    import torch  # paid once per worker, not once per trial

    if threads:
        torch.set_num_threads(int(threads))
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    connection.send(("ready", os.getpid()))
    while True:
        try:
            message = receive(connection, "run", "exit")
        except (EOFError, OSError):
            leave(0)
        if message[0] == "exit":
            leave(0)
        run_one(connection, script, args, message[1])
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
