"""Step 2 of the GPU check: ``examples/cifar_resnet.py`` under ``autolr tune`` with K trials per
GPU, a fresh SQLite study each: the calibration run that sizes the trials, the tune command,
its trials read back (states, wall times in seconds, workers) and whether they ran where asked.
"""

from __future__ import annotations

import collections
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from gpu_check_commands import GpuPoller, run_command
from gpu_check_plan import FLAG, Plan
from harness.files import EXAMPLES

SCRIPT = EXAMPLES / "cifar_resnet.py"


def script_args(plan: Plan, train_size: int, epochs: int) -> list[str]:
    """The arguments of ``cifar_resnet.py`` for a run of ``train_size`` images and ``epochs``."""
    return ["--fake-data", "--offline", "--epochs", str(epochs), "--train-size", str(train_size),
            "--val-size", str(plan.val_size), "--batch-size", str(plan.batch_size),
            "--image-size", str(plan.image_size), "--workers", "0"]


def calibrate(plan: Plan, timeout_s: float) -> dict[str, Any]:
    """A plain run of the script (3 epochs at the calibration size): seconds per image from the
    time between its epoch lines (the first epoch, with its warm-up, is left out)."""
    command = [sys.executable, str(SCRIPT), *script_args(plan, plan.calibration_train, 3),
               "--seed", "0"]
    ran = run_command(command, timeout_s)
    out: dict[str, Any] = {"run": ran.record(), "train_size": plan.calibration_train,
                           "val_size": plan.val_size}
    stamps = [t for t, line in ran.lines if line.startswith("epoch ")]
    if ran.rc != 0 or len(stamps) < 2:
        out["ok"] = False
        out["why"] = (f"exit status {ran.rc}" + (", cut at its time budget" if ran.timed_out
                                                 else "") + f", {len(stamps)} epoch line(s)")
        return out
    first = next((line for _, line in ran.lines if " device " in line), "")
    epoch_s = statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
    out.update(ok=True, first_epoch_line_s=round(stamps[0], 2), epoch_s=round(epoch_s, 3),
               per_image_ms=round(1000 * epoch_s / (plan.calibration_train + plan.val_size), 4),
               data_line=first)
    return out


def parallel_flags(k: int, gpu_mode: bool, flag_present: bool, gpus: list[str],
                   explicit_gpus: bool) -> tuple[list[str], str]:
    """How to ask for ``k`` trials per GPU, and that in words."""
    gpu_option = ["--gpus", ",".join(gpus)] if explicit_gpus and gpus else []
    if not gpu_mode:
        return ["--workers", str(k)], f"--workers {k} (CPU workers: no GPU)"
    if flag_present:
        return [FLAG, str(k), *gpu_option], f"{FLAG} {k}"
    workers = k * max(1, len(gpus))
    return ["--workers", str(workers), *gpu_option], (
        f"--workers {workers} ({FLAG} is not in this autolr; the worker pool puts the workers "
        "round-robin on the GPUs, the same thing)")


def study_stats(url: str, name: str) -> dict[str, Any]:
    """States, trial wall times and workers, read from the study with Optuna."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials(deepcopy=False)
    states = collections.Counter(t.state.name.lower() for t in trials)
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    walls = [float(t.user_attrs["wall_time_s"]) for t in done if "wall_time_s" in t.user_attrs]
    workers = collections.Counter(str(t.user_attrs.get("worker")) for t in trials)
    failures = [
        {"trial": t.number, "reason": t.user_attrs.get("reason"),
         "error_tail": str(t.user_attrs.get("error", ""))[-800:]}
        for t in trials if t.state.name == "FAIL" and t.user_attrs.get("reason") != "interrupted"
    ][:3]
    interrupted = sum(t.state.name == "FAIL" and t.user_attrs.get("reason") == "interrupted"
                      for t in trials)
    return {
        "states": dict(states),
        "done": len(done),
        "interrupted": interrupted,  # failed because the step was cut, not by themselves
        "trial_wall_s": {
            "mean": round(statistics.fmean(walls), 2) if walls else None,
            "median": round(statistics.median(walls), 2) if walls else None,
            "min": round(min(walls), 2) if walls else None,
            "max": round(max(walls), 2) if walls else None,
            "sum": round(sum(walls), 2),
            "n": len(walls),
        },
        "workers": dict(workers),
        "failures": failures,
    }


def show_counts(url: str, name: str, timeout_s: float) -> dict[str, Any] | None:
    """The trial counts ``autolr show --json`` gives for the study (None if unreadable)."""
    ran = run_command([sys.executable, "-m", "autolr", "show", "--json", "--study", name,
                       "--storage", url], timeout_s)
    try:
        text = "\n".join(line for _, line in ran.lines)
        return json.loads(text[text.index("{"):])["counts"]
    except (ValueError, KeyError):
        return None


def run_setting(k: int, plan: Plan, sizes: dict[str, Any], how: tuple[list[str], str],
                tmp: Path, timeout_s: float, gpu_mode: bool) -> dict[str, Any]:
    """One setting: ``autolr tune`` with ``k`` trials per GPU on a fresh study, cut at
    ``timeout_s``; its wall time (s), GPU samples and the trials read back."""
    name = f"gpu_check_k{k}"
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'study.db'}"
    n = sizes["n_trials"]
    estimate = sizes.get("estimated_trial_s") or plan.target_trial_s
    # Stop starting trials in time for the running ones to end inside the step's budget. With k
    # trials sharing a GPU a trial may take up to k times as long (the GPU split k ways).
    stop_after = max(5.0, timeout_s - 1.5 * estimate * k - 10.0)
    trial_timeout = max(60.0, 3.0 * estimate * k)
    command = [
        sys.executable, "-m", "autolr", "tune", str(SCRIPT), "--trials", str(n),
        "--search", "full", "--pruner", "none", "--no-baselines", "--confirm", "0",
        "--seed", "0", "--study", name, "--storage", url, "--timeout", f"{stop_after:.0f}",
        "--trial-timeout", f"{trial_timeout:.0f}", *how[0],
        "--", *script_args(plan, sizes["train_size"], plan.epochs),
    ]
    poller = GpuPoller().start() if gpu_mode else None
    try:
        ran = run_command(command, timeout_s, cwd=folder)
    finally:
        gpu = poller.stop() if poller is not None else {"available": False, "why": "no GPU"}
    out: dict[str, Any] = {"trials_per_gpu": k, "how": how[1], "n_trials": n,
                           "stop_starting_after_s": round(stop_after),
                           "trial_timeout_s": round(trial_timeout), "tune": ran.record(),
                           "wall_s": round(ran.wall_s, 2), "gpu": gpu}
    try:
        stats = study_stats(url, name)
    except Exception as exc:  # no study (the command failed at once): say so
        out["stats_error"] = f"{type(exc).__name__}: {exc}"
        return out
    out.update(stats)
    out["show_counts"] = show_counts(url, name, 30.0)
    out["trials_per_hour"] = round(3600 * stats["done"] / ran.wall_s, 1) if ran.wall_s else None
    if stats["trial_wall_s"]["sum"] and ran.wall_s:
        out["concurrency"] = round(stats["trial_wall_s"]["sum"] / ran.wall_s, 2)
    return out


def sanity(setting: dict[str, Any], gpu_mode: bool, expected_workers: int) -> dict[str, Any]:
    """Did the trials run where they should (on the GPU, on as many workers as asked), and did
    they not all fail?"""
    states = setting.get("states", {})
    done = setting.get("done", 0)
    cut = setting.get("interrupted", 0)
    failed = states.get("fail", 0) - cut
    workers = [w for w in setting.get("workers", {}) if w != "None"]
    on_gpu = bool(workers) and all(w.startswith("cuda") for w in workers)
    if "states" not in setting:
        verdict = "no study to read (the tune command failed before its first trial?)"
    elif done == 0:
        verdict = "all failing" if failed else "no trial finished"
    elif failed:
        verdict = f"{failed} failed, {done} finished"
    else:
        verdict = "ok"
    if cut:
        verdict += f"; {cut} trial(s) cut when the step reached its time budget"
    out = {"verdict": verdict, "workers": workers, "distinct_workers": len(workers),
           "expected_workers": expected_workers}
    if len(workers) != expected_workers and done + failed >= expected_workers:
        out["verdict"] += f"; {len(workers)} worker(s) ran trials, {expected_workers} asked for"
    if gpu_mode:
        out["on_gpu"] = on_gpu
        if not on_gpu:
            out["verdict"] += "; NOT on the GPU"
    return out
