"""Running the GPU check's commands: each with a time budget (Ctrl-C past it, then a kill),
its output captured line by line with the seconds since start, in this checkout's environment;
and ``nvidia-smi`` polled in the background for GPU memory (MiB) and utilisation (%).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.files import ROOT

GRACE_S = 10.0  # after Ctrl-C, how long a cut command gets to leave its study consistent
TAIL_CHARS = 2000  # the output kept of a command, and of an error, in characters


@dataclass
class Ran:
    """What a command did: exit status, wall time, whether it was cut, its output lines (with the
    seconds since start each arrived)."""

    command: list[str]
    rc: int | None
    wall_s: float
    timed_out: bool
    lines: list[tuple[float, str]]
    error: str | None = None

    def tail(self, chars: int = TAIL_CHARS) -> str:
        return "\n".join(line for _, line in self.lines)[-chars:]

    def record(self) -> dict[str, Any]:
        return {"command": " ".join(self.command), "rc": self.rc, "wall_s": round(self.wall_s, 2),
                "timed_out": self.timed_out, "error": self.error, "output_tail": self.tail()}


def child_env() -> dict[str, str]:
    """The environment of every command: this checkout first on the path (the worker processes
    inherit it), no schedule forced on plain runs, never the network."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("AUTOLR_SCHEDULE", None)
    env["AUTOLR_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_command(command: list[str], timeout_s: float, cwd: Path | None = None) -> Ran:
    """Run ``command`` (output captured line by line); past ``timeout_s`` send it Ctrl-C, then
    kill it after :data:`GRACE_S`."""
    start = time.monotonic()
    lines: collections.deque[tuple[float, str]] = collections.deque(maxlen=4000)
    try:
        process = subprocess.Popen(
            command, cwd=cwd or ROOT, env=child_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return Ran(command, None, 0.0, False, [], f"{type(exc).__name__}: {exc}")

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.monotonic() - start, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=max(timeout_s, 1.0))
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(process, GRACE_S)
    except KeyboardInterrupt:  # this check is being stopped: take the command with it
        _stop(process, 3.0)
        raise
    reader.join(timeout=5)
    return Ran(command, process.returncode, time.monotonic() - start, timed_out, list(lines))


def _stop(process: subprocess.Popen, grace_s: float) -> None:
    """Ctrl-C (autolr tune leaves its study consistent), then a kill after ``grace_s``."""
    _signal_group(process, signal.SIGINT)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        if sig == signal.SIGKILL:
            process.kill()


class GpuPoller:
    """``nvidia-smi`` every 0.5 s in the background: peak memory used and mean utilisation."""

    QUERY = "index,memory.used,memory.total,utilization.gpu"

    def __init__(self) -> None:
        self.samples: list[tuple[int, float, float, float]] = []
        self.process: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> GpuPoller:
        if shutil.which("nvidia-smi") is None:
            self.error = "nvidia-smi not found"
            return self
        try:
            self.process = subprocess.Popen(
                ["nvidia-smi", f"--query-gpu={self.QUERY}", "--format=csv,noheader,nounits",
                 "-lms", "500"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            return self
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            sample = parse_smi_line(line)
            if sample is not None:
                self.samples.append(sample)

    def stop(self) -> dict[str, Any]:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.thread is not None:
            self.thread.join(timeout=3)
        return summarize_samples(self.samples, self.error)


def parse_smi_line(line: str) -> tuple[int, float, float, float] | None:
    """``0, 1234, 143771, 87`` -> (GPU index, MiB used, MiB total, utilisation %); None for
    anything else (``[N/A]``, a header)."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 4:
        return None
    try:
        return int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])
    except ValueError:
        return None


def summarize_samples(samples: list[tuple[int, float, float, float]],
                      error: str | None = None) -> dict[str, Any]:
    """Peak memory used (MiB) and mean and peak utilisation (%) over the samples."""
    if not samples:
        return {"available": False, "why": error or "no nvidia-smi samples"}
    return {
        "available": True,
        "samples": len(samples),
        "peak_memory_used_mib": max(s[1] for s in samples),
        "memory_total_mib": max(s[2] for s in samples),
        "mean_utilization_pct": round(statistics.fmean(s[3] for s in samples), 1),
        "max_utilization_pct": max(s[3] for s in samples),
    }
