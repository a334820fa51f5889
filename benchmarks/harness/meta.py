"""What a results file records about the run that made it: when, on what machine, with which
package versions, at which commit and from which command line. A figure read months later is
only worth what these say about where it came from.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .files import ROOT

# the packages a benchmark's figures depend on (``versions()``'s default)
PACKAGES = ("autolr", "torch", "optuna", "schedulefree", "numpy", "scikit-learn")


def now() -> str:
    """The local date and time to the minute, ``2026-12-01 13:18``."""
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def cpu_model(default: str | None = None) -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``default`` (by default
    ``platform.processor()`` or the machine type)."""
    cpu = default if default is not None else (platform.processor() or platform.machine())
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine(device: str = "cpu", cpu: str | None = None) -> str:
    """``<cpu>, <n> cores, <OS> <release>`` (``cpu``: the CPU's name, by default
    :func:`cpu_model`), and the first GPU's name when ``device`` is CUDA and torch sees one."""
    text = (f"{cpu if cpu is not None else cpu_model()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}")
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Python's version and each package's installed version (``not installed`` if absent)."""
    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def git_commit() -> str:
    """The checkout's short commit, ``+uncommitted changes`` when tracked files differ from it;
    ``unknown`` outside a git checkout (each git call may take 10 s at most)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
        return head.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def command_line(head: str, argv: list[str] | None = None) -> str:
    """The command as recorded: ``head`` (how the script is named) and its arguments
    (``argv``, or this process's own when None)."""
    return " ".join([head, *(argv if argv is not None else sys.argv[1:])])
