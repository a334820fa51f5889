"""Workloads by name: the aliases the command lines accept, the metric each reports, a
per-process cache, and the description a results file keeps of each.

The workloads themselves are :mod:`workloads` (imported only when one is made: it loads torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workloads import Settings, Workload

ALIASES = {"third": "friedman", "mlp": "digits", "lm": "char"}  # run.py's other names
# what each workload's training function returns (lower is better for all of them)
METRICS = {"digits": "validation cross-entropy", "char": "validation loss, nats/char",
           "friedman": "validation MSE, standardised target"}

_CACHE: dict[tuple[str, Settings, str], Workload] = {}


def cached_workload(name: str, settings: Settings, device: str = "cpu") -> Workload:
    """The workload ``name`` at ``settings`` on ``device``, made once per process: its data is
    loaded once, however many runs train on it."""
    from workloads import make_workload

    key = (name, settings, device)
    if key not in _CACHE:
        _CACHE[key] = make_workload(name, settings, device)
    return _CACHE[key]


def workload_info(name: str, size: str, device: str = "cpu") -> dict[str, Any]:
    """What a results file says about workload ``name`` at ``size``: its title, run length
    (optimizer steps), the script's LR, the Schedule-Free LR range, the hand schedule, the
    optimizer and the metric."""
    from workloads import Settings, make_workload

    w = make_workload(name, Settings.named(size), device)
    return {
        "title": w.title, "total_steps": w.total_steps, "base_lr": w.base_lr,
        "sf_lr_range": list(w.sf_lr_range), "hand": w.hand_name, "optimizer": w.optimizer_name,
        "metric": METRICS[name],
    }
