"""Waiting for a script started in a subprocess by a test: its output, or a clear failure."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

import pytest


def finish(proc: subprocess.Popen, timeout_s: float) -> tuple[str, str]:
    """``proc``'s stdout and stderr once it has exited 0; a test failure with its output when it
    exits otherwise or runs past ``timeout_s`` seconds (then it is killed)."""
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout_s} s:\n{out}\n{err}")
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{out}\n{err}"
    return out, err


def kill_unfinished(procs: Iterable[subprocess.Popen]) -> None:
    """Kill the scripts of ``procs`` still running (a test that failed before waiting for
    them), and reap them."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
