"""The worker process: imports once, then runs a training script as trials, one after another.

Started by :class:`autolr.workers.WorkerPool` as ``python -m autolr.worker_main FD SCRIPT
[ARGS...]``. It never opens the study: ``autolr.scheduler`` and ``autolr.report`` inside the
script talk to the parent over the connection on file descriptor FD, and the parent answers
("here is your schedule", "continue", "prune"). Each trial runs the script as a fresh
``__main__`` with ``runpy``; modules the script imports stay loaded, which is what makes the next
trial start fast.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from autolr.errors import TrialPruned
from autolr.runners import describe_exception, free_memory, is_out_of_memory, run_trial
from autolr.schedules.spec import ScheduleSpec


class PipeSession:
    """A trial session whose study lives in the parent process."""

    def __init__(self, connection: Connection, seed: int) -> None:
        self.connection = connection
        self.seed = seed
        self.steps_taken = 0
        self.curve: list[float] = []

    def make_schedule(self, base_lr: float, total_steps: int) -> ScheduleSpec:
        self.connection.send(("schedule", base_lr, total_steps))
        kind, payload = self.connection.recv()
        if kind == "error":
            raise RuntimeError(payload)
        return ScheduleSpec.from_json(payload)

    def on_scheduler_step(self, steps_taken: int, lr: float) -> None:
        self.steps_taken = steps_taken
        if steps_taken == len(self.curve):
            self.curve.append(lr)

    def on_report(self, value: float, step: int) -> None:
        lr = self.curve[-1] if self.curve else None
        self.connection.send(("report", value, step, self.steps_taken, lr))
        decision, detail = self.connection.recv()
        if decision != "continue":
            raise TrialPruned(detail, reason=decision)


def _run_script(script: str) -> None:
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise RuntimeError(f"the script exited with status {exc.code!r}") from None


def run_one(connection: Connection, script: str, args: list[str], job: dict[str, Any]) -> None:
    session = PipeSession(connection, job["seed"])
    sys.argv = [script, *job.get("args", args)]
    result: dict[str, Any] = {"status": "complete"}
    try:
        outcome = run_trial(lambda: _run_script(script), session, job["seed"])
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
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        run_one(connection, script, args, message[1])
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
