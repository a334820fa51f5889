"""autolr: find the learning-rate schedule for a PyTorch training script.

In a training script::

    scheduler = autolr.scheduler(optimizer, total_steps=epochs * len(train_loader))
    ...
    autolr.report(val_loss, step=epoch)

From Python: ``autolr.tune(train_fn, n_trials=40)``; from the shell: ``autolr tune train.py``.
Importing autolr is light: torch, Optuna and plotly load only when first needed.
"""

from __future__ import annotations

from typing import Any

from autolr._version import __version__
from autolr.errors import (
    AutolrError,
    AutolrWarning,
    ConfigError,
    ExportError,
    StudyStopped,
    TrialPruned,
)

# Imported eagerly: light (torch only where a schedule is built), and used by every study.
from autolr.exporting.export import export
from autolr.schedules import (
    ScheduleSpec,
    families,
    family_info,
    load_schedule,
    register_family,
    unregister_family,
)

_LAZY = {
    "scheduler": "autolr.trials.runtime",
    "report": "autolr.trials.runtime",
    "seed": "autolr.trials.runtime",
    "tune": "autolr.api",
    "confirm": "autolr.api",
    "TuneResult": "autolr.result",
    "write_report": "autolr.reports",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autolr' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AutolrError",
    "AutolrWarning",
    "ConfigError",
    "ExportError",
    "ScheduleSpec",
    "StudyStopped",
    "TrialPruned",
    "TuneResult",
    "__version__",
    "confirm",
    "export",
    "families",
    "family_info",
    "load_schedule",
    "register_family",
    "report",
    "scheduler",
    "seed",
    "tune",
    "unregister_family",
    "write_report",
]
