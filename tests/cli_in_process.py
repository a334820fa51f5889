"""The ``autolr`` command run in the test's own process, for commands that need no fresh
interpreter: read-only ones (show, export, studies, report), ones refused before any trial, and
``tune`` (its trials still run in their own worker processes). Each saves the second or more of
interpreter start-up a subprocess costs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from autolr.cli import main


def autolr_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``autolr ARGS`` run here from ``cwd``; its exit status and output as a finished
    subprocess's, so a test reads it as it reads one run in another process."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(["autolr", *args], result.exit_code, result.stdout,
                                       result.stderr)
