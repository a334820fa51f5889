"""Steps 1 and 3 of the GPU check: what torch and autolr see of the GPU (and whether
``autolr tune`` has ``--trials-per-gpu``), and the benchmark's GPU variant at its quickest
(``benchmarks/run.py --device cuda``: the char workload, autolr's default at N = 8, one job).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gpu_check_commands import run_command
from gpu_check_plan import FLAG
from harness.files import BENCHMARKS

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
    from autolr.trials.workers import visible_gpus
    out["autolr_gpus"] = visible_gpus()
except Exception as exc:
    out["autolr_error"] = f"{type(exc).__name__}: {exc}"
print("PROBE " + json.dumps(out))
"""


def probe_cuda(timeout_s: float) -> dict[str, Any]:
    """What torch sees of the GPU (in a fresh process): its name, memory (GiB), a matmul,
    and the GPUs autolr's workers would use."""
    ran = run_command([sys.executable, "-c", PROBE], timeout_s)
    for _, line in ran.lines:
        if line.startswith("PROBE "):
            return json.loads(line[len("PROBE "):])
    return {"cuda_available": False, "error": "the probe printed nothing", **ran.record()}


def tune_has_flag(timeout_s: float) -> dict[str, Any]:
    """Whether ``autolr tune --help`` lists ``--trials-per-gpu``."""
    ran = run_command([sys.executable, "-m", "autolr", "tune", "--help"], timeout_s)
    if ran.rc != 0:
        return {"present": False, "error": ran.tail(600), "rc": ran.rc}
    return {"present": FLAG in ran.tail(100_000)}


def run_benchmark(tmp: Path, timeout_s: float, device: str, quick: bool) -> dict[str, Any]:
    """``run.py`` on the char workload, autolr's default at N = 8, one job (``quick``: at
    ``--size quick``): its figures from its ``results.json``, or why there are none."""
    out_dir = tmp / "bench"
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--device", device, "--workloads",
               "char", "--methods", "autolr", "--trials", "8", "--jobs", "1", "--seed", "0",
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
