"""Importing an exported schedule file in tests: each import under a fresh module name, so two
files with the same name (or one file rewritten) never share a cached module."""

from __future__ import annotations

import importlib.util
from itertools import count
from pathlib import Path
from types import ModuleType

_counter = count()


def load_module(path: Path) -> ModuleType:
    """Import the exported file at ``path`` under a fresh module name."""
    name = f"exported_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
