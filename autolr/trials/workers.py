"""Running a training script as trials in persistent worker processes, one per device slot.

The parent (this module) owns the study; each worker imports torch once and then runs trials one
after another (:mod:`autolr.trials.worker_main`). GPU workers see one GPU each through
``CUDA_VISIBLE_DEVICES`` (with ``trials_per_gpu`` K, K workers share each GPU, and when a trial
on a shared GPU runs out of memory that GPU drops to one worker fewer and the trial's
configuration runs again); CPU workers split the cores through torch's thread count. A worker that
dies is replaced and its trial failed with the reason and the last lines of its output; a trial
past ``trial_timeout`` (counted from when its worker is ready: a replacement worker's start-up,
importing torch, is not the trial's time) is stopped and failed. Each worker's output goes to a
log file. With ``seed_arg`` (``autolr tune --seed-arg --seed``), each trial's seed reaches the
script as that option.

The workers start when the pool is made, so their imports (torch: seconds) overlap the parent's
own start-up (opening the study, reading its trials). A trial's reports reach the parent
without waiting for its answer unless the answer may be other than "continue": the parent
tells the worker, with the schedule, from which report on the pruner is asked and where a
shortened run ends, and the worker waits at those reports (and at one that may show a
diverged run) only.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

from autolr.trials.control import TrialControl, TrialOutcome

LOG_TAIL_LINES = 20
POLL_S = 0.2
# how long a worker may take to start (import torch, initialise CUDA) before its trial fails
START_LIMIT_S = 300.0


def worker_threads(cores: int, workers: int) -> int:
    """The torch threads each of ``workers`` CPU workers gets: the ``cores`` shared out among
    them, and no more than an ``OMP_NUM_THREADS`` the user set (a machine shared with other
    jobs, where threads beyond it wait on each other and take several times the CPU)."""
    threads = max(1, cores // workers)
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) >= 1:
        threads = min(threads, int(limit))
    return threads


@dataclass
class Slot:
    """One device slot: where its worker runs and what it is doing."""

    name: str  # "cpu0", "cuda:1", "cuda:1/3" (the fourth worker, sharing GPU 1)
    env: dict[str, str]
    log_path: Path
    gpu: str | None = None
    retired: bool = False  # dropped after an out-of-memory failure on a shared GPU
    process: subprocess.Popen | None = None
    connection: Connection | None = None
    log: TextIO | None = None
    control: TrialControl | None = None
    started: float = 0.0
    step: int = 0
    jobs: int = 0  # trials its current process was given (0: it may still be importing)
    ready: bool = False  # its current process has started (imported torch)
    # a decision other than "continue" already sent for the running trial: (decision, detail)
    decided: tuple[str, str] | None = None


def with_seed_arg(args: list[str], option: str, seed: int) -> list[str]:
    """``args`` with ``option`` set to ``seed``: every ``option X`` or ``option=X`` given is
    replaced by one ``option seed`` at the end; an ``option`` ending with ``=`` (``--seed=``, for
    a script whose parser takes only ``--key=value``, or ``seed=`` for Hydra) by one
    ``option<seed>``."""
    joined = option.endswith("=")
    name = option[:-1] if joined else option
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(f"{name}="):
            kept.append(arg)
    return [*kept, f"{name}={seed}"] if joined else [*kept, name, str(seed)]


def rejected_seed_arg(option: str | None, output: str) -> bool:
    """True when the script's own argument parser refused ``option`` (argparse's words)."""
    if not option:
        return False
    return any(
        marker in line and option in line
        for line in output.splitlines()
        for marker in ("unrecognized arguments", "no such option", "unrecognized option")
    )


def report_hints(control: TrialControl) -> dict[str, Any]:
    """What a worker needs to know to send a trial's reports without waiting for the answer
    where it can only be "continue" (:meth:`TrialControl.judge`): after how many reports the
    pruner is asked, where a shortened run ends, and the direction (a loss far above the first
    report may show a diverged run)."""
    shortened = control.fidelity < 1.0 and control.run_steps is not None
    return {
        "prune_after": control.prune_after,
        "ends_at_step": control.run_steps if shortened else None,
        "direction": control.space.direction,
    }


def _kill_all(slots: list[Slot]) -> None:
    for slot in slots:
        process = slot.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA device ids ("0", "1", ...).

    Torch is imported (seconds) only where an NVIDIA driver is present; on a machine without one
    the answer is known at once.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return []
    if not Path("/proc/driver/nvidia/gpus").is_dir() and sys.platform.startswith("linux"):
        return []
    torch = sys.modules.get("torch")
    if torch is None:
        import torch
    if not torch.cuda.is_available():
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


class WorkerPool:
    """Runs trials of ``script`` in worker processes; the runner interface of the study loop."""

    def __init__(
        self,
        script: str | os.PathLike[str],
        script_args: list[str] | None = None,
        *,
        workers: int = 1,
        gpus: list[str] | None = None,
        trial_timeout: float | None = None,
        isolate: bool = False,
        log_dir: str | os.PathLike[str],
        seed_arg: str | None = None,
        trials_per_gpu: int = 1,
        prestart: bool = True,
    ) -> None:
        self.script = str(Path(script).resolve())
        self.script_args = list(script_args or [])
        self.seed_arg = seed_arg
        # autolr tune --metric: what each trial's worker runs the script under (see
        # autolr.trials.captured.trial_run); None for a script that calls autolr itself
        self.capture: dict[str, Any] | None = None
        self.trial_timeout = trial_timeout
        self.isolate = isolate
        log_root = Path(log_dir)
        log_root.mkdir(parents=True, exist_ok=True)
        self.slots_list: list[Slot] = []
        cores = os.cpu_count() or 1
        if gpus:
            count = max(workers, len(gpus) * trials_per_gpu)
            threads = str(worker_threads(cores, count))
            for i in range(count):
                gpu = gpus[i % len(gpus)]
                env = {"CUDA_VISIBLE_DEVICES": gpu}
                if count > len(gpus):  # workers sharing a GPU also share the cores
                    env.update(AUTOLR_TORCH_THREADS=threads, OMP_NUM_THREADS=threads)
                name = f"cuda:{gpu}" if count == len(gpus) else f"cuda:{gpu}/{i}"
                self.slots_list.append(Slot(name, env, log_root / f"worker-{i}.log", gpu))
        else:
            threads = worker_threads(cores, workers)
            for i in range(workers):
                env = {"CUDA_VISIBLE_DEVICES": "", "AUTOLR_TORCH_THREADS": str(threads),
                       "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
                self.slots_list.append(Slot(f"cpu{i}", env, log_root / f"worker-{i}.log"))
        self._finished: list[tuple[TrialControl, TrialOutcome]] = []
        # workers left running when this process exits (an error before close) are killed
        self._finalizer = weakref.finalize(self, _kill_all, self.slots_list)
        if prestart:
            for slot in self.slots_list:
                self._spawn(slot)

    @property
    def slots(self) -> int:
        """How many trials may run at once (fewer after a shared GPU ran out of memory)."""
        return sum(not slot.retired for slot in self.slots_list)

    def first_env(self) -> dict[str, str]:
        """The environment of the first slot's worker (its GPU, or the CPU's threads)."""
        return dict(self.slots_list[0].env)

    # --- the runner interface ------------------------------------------------------------------
    def worker_names(self) -> list[str]:
        return [slot.name for slot in self.slots_list]

    def busy(self) -> int:
        return sum(slot.control is not None for slot in self.slots_list)

    def start(self, control: TrialControl) -> None:
        slot = next(s for s in self.slots_list if s.control is None and not s.retired)
        if slot.process is None or slot.process.poll() is not None:
            self._spawn(slot)
        control.worker = slot.name  # recorded on the trial when it ends
        slot.control = control
        slot.started = time.time()
        slot.step = 0
        slot.decided = None
        slot.jobs += 1
        assert slot.connection is not None
        try:
            # the arguments go with every job: the worker may have started before the study's
            # stored script arguments were known
            args = self.script_args
            if self.seed_arg:
                args = with_seed_arg(args, self.seed_arg, control.seed)
            job: dict[str, Any] = {"trial": control.number, "seed": control.seed, "args": args}
            if self.capture:
                job["capture"] = self.capture
            slot.connection.send(("run", job))
        except OSError:
            self._worker_died(slot)

    def wait(self, timeout: float | None = None) -> list[tuple[TrialControl, TrialOutcome]]:
        """Serve the workers' requests until at least one trial has finished, or for at most
        ``timeout`` seconds."""
        until = math.inf if timeout is None else time.monotonic() + timeout
        while not self._finished and time.monotonic() < until:
            active = {s.connection: s for s in self.slots_list
                      if s.control is not None and s.connection is not None}
            if not active:
                break
            for connection in wait(list(active), timeout=POLL_S):
                self._serve(active[connection])  # type: ignore[index]
            self._check_timeouts()
        finished, self._finished = self._finished, []
        return finished

    def interrupt(self) -> list[TrialControl]:
        """Stop every running trial (their workers are stopped) and return their controls."""
        running = []
        for slot in self.slots_list:
            if slot.control is not None:
                running.append(slot.control)
                slot.control = None
                self._stop(slot)
        return running

    def close(self) -> None:
        """Stop every worker: those that ran trials are asked to exit (all at once, then
        waited for), those still starting are killed."""
        asked = []
        for slot in self.slots_list:
            if slot.control is not None or slot.jobs == 0:
                self._stop(slot)
            elif slot.process is not None:
                self._ask_exit(slot)
                asked.append(slot)
        for slot in asked:
            self.close_slot(slot, asked=True)

    # --- workers --------------------------------------------------------------------------------
    def _spawn(self, slot: Slot) -> None:
        self._stop(slot)
        parent_socket, child_socket = socket.socketpair()
        env = {**os.environ, **slot.env, "PYTHONUNBUFFERED": "1"}
        slot.log = open(slot.log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        slot.log.write(f"--- worker {slot.name} started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        slot.log.flush()
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "autolr.trials.worker_main", str(child_socket.fileno()),
             self.script, *self.script_args],
            pass_fds=(child_socket.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=slot.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the parent only; it stops the workers
        )
        child_socket.close()
        slot.connection = Connection(parent_socket.detach())
        slot.jobs = 0
        slot.ready = False

    def _stop(self, slot: Slot) -> None:
        if slot.process is not None and slot.process.poll() is None:
            try:
                os.killpg(slot.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                slot.process.kill()
            slot.process.wait()
        if slot.connection is not None:
            slot.connection.close()
        if slot.log is not None:
            slot.log.close()
        slot.process = slot.connection = slot.log = None

    def _serve(self, slot: Slot) -> None:
        assert slot.connection is not None and slot.control is not None
        control = slot.control
        try:
            message = slot.connection.recv()
        except (EOFError, OSError):
            self._worker_died(slot)
            return
        kind = message[0]
        if kind == "ready":
            # the worker has imported torch; a trial given to it meanwhile starts its clock now
            slot.ready = True
            if control is not None:
                slot.started = time.time()
        elif kind == "schedule":
            _, base_lr, total_steps = message
            try:
                spec = control.make_schedule(base_lr, total_steps)
            except Exception as exc:  # a bad request from the script: the trial fails there
                self._reply(slot, ("error", f"{type(exc).__name__}: {exc}"))
                return
            self._reply(slot, ("spec", spec.to_dict(), report_hints(control)))
        elif kind == "report":
            _, value, step, steps_taken, lr, number, waiting = message
            slot.step = steps_taken
            if slot.decided is None:
                decision = control.judge(value, step, lr, steps_taken=steps_taken)
                if decision != "continue":
                    slot.decided = (decision, control.end_detail or decision)
                    waiting = True  # sent unasked too: the worker stops at its next report
            if waiting:
                decision, detail = slot.decided or ("continue", "continue")
                self._reply(slot, ("decision", number, decision, detail))
        elif kind == "done":
            self._trial_done(slot, message[1])

    def _reply(self, slot: Slot, message: tuple[Any, ...]) -> None:
        """Answer the worker; one that died after asking (its end of the connection closed
        before the answer, so the write fails) has its trial failed as ``worker died``."""
        assert slot.connection is not None
        try:
            slot.connection.send(message)
        except OSError:
            self._worker_died(slot)

    def _trial_done(self, slot: Slot, result: dict[str, Any]) -> None:
        control = slot.control
        assert control is not None
        control.steps_taken = result["steps"]
        control.lr_curve = array("d", result["curve"])
        status = result["status"]
        if status == "complete" and slot.decided is not None:
            # the script ended before it read a decision sent without being asked for
            outcome = control.pruned(slot.decided[0])
        elif status == "complete":
            outcome = control.completed()
        elif status == "pruned":
            outcome = control.pruned(result.get("reason"))
        else:
            tail = self._log_tail(slot, 10)
            error = f"{result['error']}\nLast output of the worker:\n{tail}"
            if rejected_seed_arg(self.seed_arg, tail):
                error = (
                    f"The script does not take the option {self.seed_arg} that --seed-arg "
                    f"passes each trial's seed as. Give --seed-arg the option your script "
                    "reads its seed from, or drop --seed-arg and seed from autolr.seed() in "
                    f"the script. The script said:\n{tail}"
                )
                outcome = control.failed(result["reason"], error, result.get("signature"))
                outcome.fatal = True
            else:
                outcome = control.failed(result["reason"], error, result.get("signature"))
        self._release(slot, outcome)

    def _release(self, slot: Slot, outcome: TrialOutcome) -> None:
        control = slot.control
        assert control is not None
        slot.control = None
        if outcome.reason == "out of memory" and slot.gpu is not None:
            self._out_of_memory(slot, control, outcome)
        self._finished.append((control, outcome))
        if self.isolate or slot.retired:
            self.close_slot(slot)
            if self.isolate and not slot.retired:
                self._spawn(slot)  # the next trial's process imports while the study decides

    def _out_of_memory(self, slot: Slot, control: TrialControl, outcome: TrialOutcome) -> None:
        """A trial ran out of GPU memory: where other workers share the GPU, that GPU runs one
        trial fewer from now on and the trial's configuration runs again (it may fit alone)."""
        sharing = [s for s in self.slots_list if s.gpu == slot.gpu and not s.retired]
        if len(sharing) < 2:
            return
        slot.retired = True
        outcome.requeue = True
        left = len(sharing) - 1
        control.warnings.append(
            f"Trial {control.number} ran out of memory on GPU {slot.gpu} while {len(sharing)} "
            f"trials shared it; that GPU runs {left} trial{'s' if left > 1 else ''} at a time "
            "from now on, and the configuration runs again. Lower --trials-per-gpu to start "
            "with fewer."
        )

    def _ask_exit(self, slot: Slot) -> None:
        if slot.connection is not None:
            with contextlib.suppress(OSError):
                slot.connection.send(("exit",))

    def close_slot(self, slot: Slot, *, asked: bool = False) -> None:
        """Ask an idle worker to exit (unless ``asked`` already), then make sure it is gone."""
        if not asked:
            self._ask_exit(slot)
        if slot.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.process.wait(timeout=5)
        self._stop(slot)

    def _worker_died(self, slot: Slot) -> None:
        control = slot.control
        assert control is not None
        process, code = slot.process, None
        if process is not None:
            try:
                code = process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # it closed the connection but lives on
                self._stop(slot)
                code = process.returncode
        tail = self._log_tail(slot)
        if code is not None and code < 0:
            try:
                cause = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                cause = f"killed by signal {-code}"
        else:
            cause = f"exited with status {code}"
        reason = "out of memory" if "out of memory" in tail.lower() else "worker died"
        error = f"The worker process running this trial {cause}. Last output:\n{tail}"
        self._stop(slot)
        self._release(slot, control.failed(reason, error, f"worker {cause}"))

    def _check_timeouts(self) -> None:
        if self.trial_timeout is None:
            return
        now = time.time()
        for slot in self.slots_list:
            control = slot.control
            if control is None:
                continue
            if slot.ready and now - slot.started > self.trial_timeout:
                error = (
                    f"The trial ran longer than --trial-timeout={self.trial_timeout:g} s and was "
                    "stopped. Raise the limit or shorten the trial."
                )
            elif not slot.ready and now - slot.started > START_LIMIT_S:
                error = (
                    f"The worker process did not start within {START_LIMIT_S:g} s (importing "
                    f"torch), so its trial was stopped. Its output:\n{self._log_tail(slot)}"
                )
            else:
                continue
            self._stop(slot)
            self._release(slot, control.failed("timeout", error, "timeout"))

    def _log_tail(self, slot: Slot, lines: int = LOG_TAIL_LINES) -> str:
        if slot.log is not None:
            slot.log.flush()
        try:
            text = slot.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def status(self) -> list[dict[str, Any]]:
        """Each worker's trial and step, for progress displays."""
        return [
            {"worker": s.name, "trial": s.control.number if s.control else None, "step": s.step,
             "total": s.control.spec.total_steps if s.control and s.control.spec else None}
            for s in self.slots_list
        ]
