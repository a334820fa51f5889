"""The package as users meet it: a light import, the public names, clean code."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import autolr

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = (
        "import sys, autolr\n"
        "heavy = [m for m in ('torch', 'optuna', 'plotly', 'sqlalchemy', 'sklearn') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_public_names():
    for name in ("scheduler", "report", "tune", "TuneResult", "ScheduleSpec", "export",
                 "load_schedule", "families", "family_info", "register_family", "TrialPruned",
                 "write_report", "AutolrError", "ConfigError", "AutolrWarning"):
        assert getattr(autolr, name) is not None, name
        assert name in autolr.__all__
    assert callable(autolr.report) and callable(autolr.export)
    importlib.import_module("autolr.reports")  # the package must not hide autolr.report
    assert callable(autolr.report)


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run([ruff, "check", "autolr", "tests", "examples", "benchmarks"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
