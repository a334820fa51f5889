"""The GPU check's plan: the sizes of its runs and the time budget of each step (seconds), for
the GPU run and for the CPU dry run (``--quick``), the clock that shares the total out, and the
run size chosen from a calibration.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from gpu_check_commands import GRACE_S

FLAG = "--trials-per-gpu"  # the option of ``autolr tune`` whose settings are measured


@dataclass(frozen=True)
class Plan:
    """Sizes and time budgets: the GPU run, or the CPU dry run (``--quick``)."""

    total_s: float  # no step starts after this; none runs past it
    settings: tuple[int, ...]  # trials (workers) per GPU
    epochs: int
    val_size: int
    batch_size: int
    image_size: int
    calibration_train: int  # the training-set size of the calibration run
    target_trial_s: float  # the trial length the training-set size is chosen for
    trial_overhead_s: float  # a warm worker's set-up per trial (model, data sets), estimated
    train_range: tuple[int, int]
    target_setting_s: float  # the 1-per-GPU setting's length the trial count is chosen for
    trials_range: tuple[int, int]
    fallback_train: int  # used when the calibration fails
    fallback_trials: int
    probe_s: float = 60.0
    calibration_s: float = 60.0
    setting_s: float = 130.0  # each tune command
    setting_min_s: float = 40.0  # do not start a setting with less left
    benchmark_s: float = 130.0
    benchmark_min_s: float = 60.0


GPU_PLAN = Plan(
    total_s=450.0, settings=(1, 2, 4), epochs=3, val_size=1000, batch_size=128, image_size=32,
    calibration_train=4096, target_trial_s=10.0, trial_overhead_s=1.5,
    train_range=(2048, 50000), target_setting_s=75.0, trials_range=(4, 16),
    fallback_train=8192, fallback_trials=8,
)
QUICK_PLAN = Plan(
    total_s=170.0, settings=(1, 2), epochs=1, val_size=32, batch_size=32, image_size=16,
    calibration_train=64, target_trial_s=2.0, trial_overhead_s=0.3, train_range=(64, 256),
    target_setting_s=12.0, trials_range=(2, 6), fallback_train=64, fallback_trials=4,
    probe_s=45.0, calibration_s=40.0, setting_s=45.0, setting_min_s=15.0, benchmark_s=40.0,
    benchmark_min_s=15.0,
)


class Budget:
    """The whole check's clock: every step gets its own budget, capped by what is left."""

    def __init__(self, total_s: float) -> None:
        self.start = time.monotonic()
        self.total_s = total_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.total_s - self.elapsed()

    def allow(self, step_s: float, minimum_s: float) -> float | None:
        """Seconds a step may run (its budget, less when the total is nearly spent, with time
        kept for cutting it cleanly), or None when fewer than ``minimum_s`` are left."""
        available = self.left() - GRACE_S - 2.0
        if available < minimum_s:
            return None
        return min(step_s, available)


def size_trials(plan: Plan, per_image_s: float | None) -> dict[str, Any]:
    """The training-set size for a trial of about ``target_trial_s`` and the trial count for a
    1-per-GPU setting of about ``target_setting_s`` (a multiple of the largest setting)."""
    if per_image_s is None or per_image_s <= 0 or not math.isfinite(per_image_s):
        return {"train_size": plan.fallback_train, "n_trials": plan.fallback_trials,
                "estimated_trial_s": None, "from": "fallback sizes (no calibration)"}
    per_epoch_s = (plan.target_trial_s - plan.trial_overhead_s) / plan.epochs
    train = int(per_epoch_s / per_image_s) - plan.val_size
    train = train // plan.batch_size * plan.batch_size
    train = max(plan.train_range[0], min(plan.train_range[1], train))
    trial_s = plan.trial_overhead_s + plan.epochs * (train + plan.val_size) * per_image_s
    wave = max(plan.settings)
    n = max(1, round(plan.target_setting_s / trial_s / wave)) * wave
    n = max(plan.trials_range[0], min(plan.trials_range[1], n))
    return {"train_size": train, "n_trials": n, "estimated_trial_s": round(trial_s, 2),
            "from": "calibration"}
