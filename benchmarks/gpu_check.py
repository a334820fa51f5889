"""One-shot GPU check: trials per hour of ``autolr tune --trials-per-gpu K``, the benchmark's GPU
variant and a CUDA sanity check, in under 8 minutes on one GPU.

Run it once on the GPU machine (one NVIDIA H200), from the repository root::

    timeout 480 python benchmarks/gpu_check.py

(``--out DIR`` puts the results elsewhere, e.g. ``--out "$OUT"``). It writes
``benchmarks/results/gpu_check.json`` and ``gpu_check.md`` after every step, so a step that fails,
a step that runs out of time, or the outer ``timeout`` still leaves a results file; at the end it
prints the markdown. A CPU dry run of the plumbing (tiny sizes, ``--workers 1`` and ``2`` instead
of ``--trials-per-gpu``, the GPU-only parts reported as skipped)::

    python benchmarks/gpu_check.py --quick --out /tmp/gpu_check_dry

What it measures, each step with its own time budget; no step starts once the total reaches its
budget (450 s, 170 s with ``--quick``), and a running one is cut (Ctrl-C, then killed) when it
would pass it:

1. CUDA: torch's view of the GPU (``torch.cuda.get_device_name``, a matmul), the GPUs autolr's
   workers will use, and whether ``autolr tune`` has ``--trials-per-gpu`` (if not, ``--workers
   K`` is used: with one GPU the worker pool already puts K workers on it).
2. ``examples/cifar_resnet.py`` (ResNet-18, AMP, FakeData, ``--offline``) under ``autolr tune
   --search full --pruner none --no-baselines --confirm 0``, a fresh SQLite study per setting,
   with ``--trials-per-gpu`` 1, 2 and 4 and the same fixed number of trials: trials per hour
   ((complete + pruned) / the tune command's whole wall time), the mean trial wall time (the
   trials' ``wall_time_s``), the speed-up over 1 per GPU, peak GPU memory and mean utilisation
   (``nvidia-smi`` polled every 0.5 s), the trials' states and the workers they ran on. The run
   size comes from a short plain run of the script first (a calibration): the training-set size
   that makes one trial about 10 s, and the trial count that makes the 1-per-GPU setting about
   75 s (a multiple of 4, so every setting runs whole waves).
3. The benchmark's GPU variant, ``benchmarks/run.py --device cuda`` (the character transformer at
   ``--size gpu``), its quickest meaningful form: the char workload, autolr's default method at
   N = 8 (the smallest budget whose confirmation runs anything), one job.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPT = ROOT / "examples" / "cifar_resnet.py"
FLAG = "--trials-per-gpu"
GRACE_S = 10.0  # after Ctrl-C, how long a cut command gets to leave its study consistent
TAIL_CHARS = 2000


# --- plans and budgets --------------------------------------------------------------------------


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


# --- running commands ---------------------------------------------------------------------------


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


# --- step 1: CUDA, the flag -----------------------------------------------------------------------


PROBE = r"""
import json, os
out = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = torch.cuda.is_available()
    out["device_count"] = torch.cuda.device_count() if out["cuda_available"] else 0
    if out["cuda_available"]:
        out["name"] = torch.cuda.get_device_name(0)
        props = torch.cuda.get_device_properties(0)
        out["total_memory_gib"] = round(props.total_memory / 2**30, 1)
        out["capability"] = f"{props.major}.{props.minor}"
        x = torch.randn(1024, 1024, device="cuda")
        value = (x @ x).float().sum().item()
        torch.cuda.synchronize()
        out["matmul_ok"] = value == value
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
try:
    import torchvision
    out["torchvision"] = torchvision.__version__
except Exception as exc:
    out["torchvision_error"] = f"{type(exc).__name__}: {exc}"
try:
    from autolr.workers import visible_gpus
    out["autolr_gpus"] = visible_gpus()
except Exception as exc:
    out["autolr_error"] = f"{type(exc).__name__}: {exc}"
print("PROBE " + json.dumps(out))
"""


def probe_cuda(timeout_s: float) -> dict[str, Any]:
    ran = run_command([sys.executable, "-c", PROBE], timeout_s)
    for _, line in ran.lines:
        if line.startswith("PROBE "):
            return json.loads(line[len("PROBE "):])
    return {"cuda_available": False, "error": "the probe printed nothing", **ran.record()}


def tune_has_flag(timeout_s: float) -> dict[str, Any]:
    ran = run_command([sys.executable, "-m", "autolr", "tune", "--help"], timeout_s)
    if ran.rc != 0:
        return {"present": False, "error": ran.tail(600), "rc": ran.rc}
    return {"present": FLAG in ran.tail(100_000)}


# --- step 2: cifar_resnet under autolr tune -------------------------------------------------------


def script_args(plan: Plan, train_size: int, epochs: int) -> list[str]:
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
    ran = run_command([sys.executable, "-m", "autolr", "show", "--json", "--study", name,
                       "--storage", url], timeout_s)
    try:
        text = "\n".join(line for _, line in ran.lines)
        return json.loads(text[text.index("{"):])["counts"]
    except (ValueError, KeyError):
        return None


def run_setting(k: int, plan: Plan, sizes: dict[str, Any], how: tuple[list[str], str],
                tmp: Path, timeout_s: float, gpu_mode: bool) -> dict[str, Any]:
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


# --- step 3: the benchmark's GPU variant ----------------------------------------------------------


def run_benchmark(tmp: Path, timeout_s: float, device: str, quick: bool) -> dict[str, Any]:
    out_dir = tmp / "bench"
    command = [sys.executable, str(HERE / "run.py"), "--device", device, "--workloads", "char",
               "--methods", "autolr", "--trials", "8", "--jobs", "1", "--seed", "0",
               "--output-dir", str(out_dir), "--no-readme", *(["--quick"] if quick else [])]
    ran = run_command(command, timeout_s)
    out: dict[str, Any] = {"run": ran.record(), "wall_s": round(ran.wall_s, 2),
                           "size": "quick" if quick else "gpu"}
    out["run"]["output_tail"] = ran.tail(1200)  # its markdown is long; the figures are below
    try:
        results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        out["ok"] = False
        out["why"] = ("cut at its time budget" if ran.timed_out else f"exit status {ran.rc}") + \
            f"; no results.json ({type(exc).__name__})"
        return out
    char = results["workloads"]["char"]
    method = char["methods"]["autolr"]
    keep = ("retrain_mean", "retrain_std", "best_value", "trials", "shortened", "pruned",
            "failed", "confirming", "steps", "wall_s", "train_s", "job_s", "budget_runs")
    out.update(ok=True, machine=results["meta"].get("machine"),
               benchmark_wall_s=results["meta"].get("wall_s"),
               total_steps=char.get("total_steps"), title=char.get("title"),
               winner=method.get("winner", {}).get("summary"),
               autolr={k: method.get(k) for k in keep})
    return out


# --- results ------------------------------------------------------------------------------------


@dataclass
class Results:
    meta: dict[str, Any]
    cuda: dict[str, Any] = field(default_factory=dict)
    flag: dict[str, Any] = field(default_factory=dict)
    cifar: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    sanity: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({"what": what, "why": why})

    def save(self, out: Path, budget: Budget, finished: bool = False) -> str:
        self.meta["wall_s"] = round(budget.elapsed(), 1)
        self.meta["finished"] = finished
        out.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        (out / "gpu_check.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        markdown = render(data)
        (out / "gpu_check.md").write_text(markdown, encoding="utf-8")
        return markdown


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def render(data: dict[str, Any]) -> str:
    meta, cuda, cifar = data["meta"], data["cuda"], data["cifar"]
    lines = [
        "# GPU check (`benchmarks/gpu_check.py`)", "",
        f"Run on {meta['date']} ({meta['mode']} mode, {meta['wall_s']:.0f} s of a "
        f"{meta['budget_s']:.0f}-s budget{'' if meta['finished'] else ', NOT FINISHED'}) on "
        f"{meta['host']}; python {meta['versions'].get('python')}, torch "
        f"{meta['versions'].get('torch')}, torchvision {meta['versions'].get('torchvision')}, "
        f"optuna {meta['versions'].get('optuna')}; autolr at `{meta['git']}`.", "",
        f"Command: `{meta['command']}`", "",
    ]
    if cuda.get("cuda_available"):
        lines.append(
            f"**GPU: {cuda.get('name')}** ({cuda.get('total_memory_gib')} GiB, compute capability "
            f"{cuda.get('capability')}, CUDA {cuda.get('torch_cuda')}, {cuda.get('device_count')} "
            f"visible; a matmul {'worked' if cuda.get('matmul_ok') else 'FAILED'}; autolr's "
            f"workers use GPU(s) {cuda.get('autolr_gpus')}).")
    elif cuda:
        why = cuda.get("error") or "torch sees no CUDA device"
        lines.append(f"**No CUDA** ({why}; torch {cuda.get('torch')}).")
    flag = data["flag"]
    if flag:
        lines.append(f"`autolr tune {FLAG}`: "
                     + ("present." if flag.get("present") else
                        f"absent{' (' + flag['error'] + ')' if flag.get('error') else ''}."))
    lines.append("")

    settings = cifar.get("settings", [])
    lines += ["## `examples/cifar_resnet.py` under `autolr tune`", ""]
    if cifar.get("script_args"):
        sizes = cifar.get("sizes", {})
        cal = cifar.get("calibration", {})
        lines.append(
            f"ResNet-18 on FakeData, `{' '.join(cifar['script_args'])}`: {sizes.get('n_trials')} "
            "trials per setting, `--search full --pruner none --no-baselines --confirm 0 --seed "
            "0`, a fresh SQLite study each. Sizes "
            + (f"from a calibration run ({cal.get('per_image_ms')} ms per image at "
               f"{cal.get('train_size')} + {cal.get('val_size')} images; estimated trial "
               f"{sizes.get('estimated_trial_s')} s)" if cal.get("ok") else
               f"are the fallback ones (calibration failed: {cal.get('why')})") + ".")
        lines.append("")
    if settings:
        base = next((s.get("trials_per_hour") for s in settings
                     if s.get("trials_per_gpu") == 1), None)
        lines += [
            "| trials per GPU | asked with | finished (complete / pruned / failed) | wall s "
            "| trials/hour | speed-up vs 1 | mean trial s | concurrency | peak GPU MiB "
            "| mean GPU util % | workers |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        cut_marks: dict[int, str] = {}
        for s in settings:
            states = s.get("states", {})
            tph = s.get("trials_per_hour")
            speed = f"{tph / base:.2f}x" if tph and base else "—"
            gpu = s.get("gpu", {})
            cut = " (cut)" if s.get("tune", {}).get("timed_out") else (
                " (--timeout)" if "states" in s and s.get("done", 0) + states.get("fail", 0)
                < s["n_trials"] else "")
            cut_marks[s["trials_per_gpu"]] = cut
            lines.append(
                f"| {s['trials_per_gpu']} | `{s['how'].split(' (')[0]}` | "
                f"{states.get('complete', 0)} / {states.get('pruned', 0)} / "
                f"{states.get('fail', 0)} of {s['n_trials']} | {_fmt(s.get('wall_s'))}{cut} | "
                f"{_fmt(tph)} | {speed} | {_fmt(s.get('trial_wall_s', {}).get('mean'), 2)} | "
                f"{_fmt(s.get('concurrency'), 2)} | {_fmt(gpu.get('peak_memory_used_mib'), 0)} | "
                f"{_fmt(gpu.get('mean_utilization_pct'))} | "
                f"{', '.join(sorted(s.get('workers', {}))) or '—'} |")
        lines += ["", "Trials/hour: (complete + pruned) / the tune command's whole wall time "
                  "(start-up included). Mean trial s: the trials' `wall_time_s`. Concurrency: "
                  "the trials' summed wall time over the command's. Peak GPU memory: the most "
                  "`nvidia-smi` showed in use during the setting (every worker together).", ""]
        for s in settings:
            notes = []
            if "(" in s["how"]:
                notes.append(s["how"])
            if s.get("stats_error"):
                notes.append(f"no study to read: {s['stats_error']}; tune said: "
                             f"{s['tune'].get('output_tail', '')[-400:]!r}")
            for failure in s.get("failures", []):
                notes.append(f"trial {failure['trial']} failed ({failure['reason']}): "
                             f"{failure['error_tail'][-300:]!r}")
            if "(--timeout)" in cut_marks.get(s["trials_per_gpu"], ""):
                notes.append(f"stopped starting trials at its --timeout of "
                             f"{s['stop_starting_after_s']} s, before all {s['n_trials']} ran")
            if s.get("tune", {}).get("timed_out"):
                notes.append("cut (Ctrl-C) at the step's time budget")
            if s.get("tune", {}).get("rc") not in (0, None) and not s.get("stats_error"):
                notes.append(f"tune exited with status {s['tune']['rc']}")
            for note in notes:
                lines.append(f"- {s['trials_per_gpu']} per GPU: {note}")
        if lines[-1] != "":
            lines.append("")

    bench = data["benchmark"]
    lines += ["## The benchmark's GPU variant (`benchmarks/run.py --device cuda`)", ""]
    gpu_run = bench.get("gpu")
    if gpu_run:
        lines.append(_bench_line(gpu_run, "GPU variant"))
    else:
        lines.append("Not run (see Skipped).")
    if bench.get("plumbing"):
        lines.append("")
        lines.append(_bench_line(bench["plumbing"], "Plumbing check only (not a GPU measurement)"))
    lines.append("")

    if data["sanity"]:
        lines += ["## Sanity", ""]
        for k, s in data["sanity"].items():
            where = "" if "on_gpu" not in s else (" on the GPU" if s["on_gpu"] else
                                                  " NOT on the GPU")
            lines.append(f"- {k} per GPU: {s['verdict']}; {s['distinct_workers']} distinct "
                         f"worker(s){where}: {', '.join(s['workers']) or '—'}.")
        lines.append("")
    if data["skipped"]:
        lines += ["## Skipped", ""]
        lines += [f"- {s['what']}: {s['why']}" for s in data["skipped"]]
        lines.append("")
    if data["errors"]:
        lines += ["## Errors", ""]
        lines += [f"- {e['step']}: {e['error'][-600:]!r}" for e in data["errors"]]
        lines.append("")
    return "\n".join(lines)


def _bench_line(bench: dict[str, Any], what: str) -> str:
    if not bench.get("ok"):
        return (f"{what}: no result ({bench.get('why')}); `{bench['run']['command']}` ran "
                f"{bench['wall_s']:.0f} s. Its last output: {bench['run']['output_tail'][-500:]!r}")
    a = bench["autolr"]
    return (
        f"{what}: `{bench['run']['command'].split(' ', 1)[1]}` "
        f"({bench['wall_s']:.0f} s, size `{bench['size']}`, {bench['total_steps']} steps per run) "
        f"on {bench.get('machine')}. autolr's default at N = {a.get('budget_runs')}: "
        f"{a.get('trials')} runs ({a.get('shortened')} shortened, {a.get('pruned')} pruned, "
        f"{a.get('failed')} failed, {a.get('confirming')} confirming), "
        f"{a.get('steps') or 0:,} steps "
        f"in {a.get('wall_s', 0):.1f} s ({a.get('train_s', 0):.1f} s training); the job with "
        f"3 re-trainings {a.get('job_s', 0):.1f} s; winner `{bench.get('winner')}`, re-trained "
        f"{_fmt(a.get('retrain_mean'), 4)} ± {_fmt(a.get('retrain_std'), 4)} nats/char.")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("autolr", "torch", "torchvision", "optuna"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
        return head.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def host() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where gpu_check.json and gpu_check.md go (default "
                             "benchmarks/results)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, for a CPU dry run of the plumbing (about 2 min)")
    parser.add_argument("--keep-tmp", action="store_true",
                        help="keep the temporary folder (studies, worker logs)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def step(results: Results, name: str, out: Path, budget: Budget) -> Iterator[None]:
    """A step of the check: an exception in it is recorded and the check goes on; the results
    are saved after it either way."""
    print(f"[{budget.elapsed():6.1f}s] {name}", flush=True)
    try:
        yield
    except Exception:
        results.errors.append({"step": name, "error": traceback.format_exc()[-TAIL_CHARS:]})
    finally:
        results.save(out, budget)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK_PLAN if args.quick else GPU_PLAN
    budget = Budget(plan.total_s)
    out: Path = args.out
    tmp = Path(tempfile.mkdtemp(prefix="autolr_gpu_check_"))
    results = Results(meta={
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "mode": "quick" if args.quick else "gpu", "budget_s": plan.total_s,
        "command": " ".join(["python", "benchmarks/gpu_check.py", *(argv or sys.argv[1:])]),
        "host": host(), "versions": versions(), "git": git_commit(), "tmp": str(tmp),
        "plan": asdict(plan),
    })
    signal.signal(signal.SIGTERM, _terminated)  # `timeout` sends SIGTERM: save, then stop
    print(f"gpu_check: {results.meta['mode']} mode, budget {plan.total_s:.0f} s, temporary "
          f"folder {tmp}", flush=True)
    try:
        _check(results, plan, budget, out, tmp)
    except KeyboardInterrupt:
        results.errors.append({"step": "main", "error": "interrupted (Ctrl-C or SIGTERM)"})
    finally:
        markdown = results.save(out, budget, finished=True)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(markdown)
    print(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'} in "
          f"{budget.elapsed():.0f} s", flush=True)
    return 0


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _check(results: Results, plan: Plan, budget: Budget, out: Path, tmp: Path) -> None:
    gpu_mode = False
    gpus: list[str] = []
    explicit_gpus = False
    with step(results, "CUDA probe", out, budget):
        results.cuda = probe_cuda(plan.probe_s)
        gpu_mode = bool(results.cuda.get("cuda_available")) and bool(
            results.cuda.get("matmul_ok"))
        gpus = [str(i) for i in range(int(results.cuda.get("device_count") or 0))]
        autolr_gpus = results.cuda.get("autolr_gpus")
        if gpu_mode and not autolr_gpus:
            explicit_gpus = True  # torch sees the GPU, autolr's default would not: name it
            results.cuda["note"] = (f"autolr's visible_gpus() gave {autolr_gpus!r}; the tune "
                                    f"commands get --gpus {','.join(gpus)}")
        elif autolr_gpus:
            gpus = list(autolr_gpus)
    with step(results, f"autolr tune {FLAG}?", out, budget):
        results.flag = tune_has_flag(30.0)
    if not gpu_mode and results.meta["mode"] != "quick":
        why = "no CUDA (" + (results.cuda.get("error") or "torch sees no CUDA device") + ")"
        results.skip(f"cifar_resnet with {FLAG} 1, 2, 4", why + "; --quick runs a CPU dry run")
        results.skip("the benchmark's GPU variant (benchmarks/run.py --device cuda)", why)
        return
    if not gpu_mode:
        results.skip(f"cifar_resnet with {FLAG} 1, 2, 4",
                     "no CUDA: the dry run tunes with --workers 1 and 2 (CPU workers) instead")
        results.skip("peak GPU memory, GPU utilisation", "no CUDA")

    per_image_s: float | None = None
    with step(results, "calibration (a plain run of cifar_resnet.py)", out, budget):
        allowed = budget.allow(plan.calibration_s, 15.0)
        if allowed is None:
            results.skip("calibration", "the total time budget is spent")
        else:
            results.cifar["calibration"] = calibration = calibrate(plan, allowed)
            if calibration.get("ok"):
                per_image_s = calibration["per_image_ms"] / 1000
    sizes = size_trials(plan, per_image_s)
    results.cifar["sizes"] = sizes
    results.cifar["script_args"] = script_args(plan, sizes["train_size"], plan.epochs)
    results.cifar["settings"] = []
    for k in plan.settings:
        with step(results, f"cifar_resnet, {k} trial(s) per GPU", out, budget):
            allowed = budget.allow(plan.setting_s, plan.setting_min_s)
            if allowed is None:
                results.skip(f"cifar_resnet, {k} per GPU",
                             f"the total time budget ({plan.total_s:.0f} s) is spent")
                continue
            how = parallel_flags(k, gpu_mode, bool(results.flag.get("present")), gpus,
                                 explicit_gpus)
            setting = run_setting(k, plan, sizes, how, tmp, allowed, gpu_mode)
            results.cifar["settings"].append(setting)
            results.sanity[str(k)] = sanity(setting, gpu_mode, k * max(1, len(gpus)))
            print(f"    {setting.get('done', 0)} trials finished in {setting['wall_s']:.0f} s: "
                  f"{_fmt(setting.get('trials_per_hour'))} trials/hour, states "
                  f"{setting.get('states')}", flush=True)

    with step(results, "the benchmark's GPU variant", out, budget):
        if not gpu_mode:
            results.skip("the benchmark's GPU variant (benchmarks/run.py --device cuda --workloads "
                         "char --methods autolr --trials 8 --jobs 1)", "no CUDA")
        allowed = budget.allow(plan.benchmark_s, plan.benchmark_min_s)
        if allowed is None:
            results.skip("the benchmark" + ("'s GPU variant" if gpu_mode else " plumbing check"),
                         f"the total time budget ({plan.total_s:.0f} s) is spent")
        elif gpu_mode:
            quick = results.meta["mode"] == "quick"
            results.benchmark["gpu"] = run_benchmark(tmp, allowed, "cuda", quick)
        else:  # the same command on the CPU at --size quick: checks the parsing, measures nothing
            results.benchmark["plumbing"] = run_benchmark(tmp, allowed, "cpu", True)


if __name__ == "__main__":
    sys.exit(main())
