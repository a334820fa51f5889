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

The check is spread over ``gpu_check_plan.py`` (sizes and time budgets), ``gpu_check_commands.py``
(running a command under a budget, polling ``nvidia-smi``), ``gpu_check_steps.py`` (steps 1 and
3), ``gpu_check_cifar.py`` (step 2) and ``gpu_check_report.py`` (the results and their Markdown);
this script runs the steps in order.
"""


from __future__ import annotations

import argparse
import contextlib
import platform
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from gpu_check_cifar import (  # noqa: E402
    calibrate,
    parallel_flags,
    run_setting,
    sanity,
    script_args,
)
from gpu_check_commands import TAIL_CHARS  # noqa: E402
from gpu_check_plan import FLAG, GPU_PLAN, QUICK_PLAN, Budget, Plan, size_trials  # noqa: E402
from gpu_check_report import Results  # noqa: E402
from gpu_check_steps import probe_cuda, run_benchmark, tune_has_flag  # noqa: E402
from harness import cli  # noqa: E402
from harness.files import RESULTS  # noqa: E402
from harness.markdown import fixed  # noqa: E402
from harness.meta import command_line, cpu_model, git_commit, machine, now, versions  # noqa: E402

PACKAGES = ("autolr", "torch", "torchvision", "optuna")  # the versions the results record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: output folder, ``--quick`` (the CPU dry run), ``--keep-tmp``."""
    parser = cli.make_parser(__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where gpu_check.json and gpu_check.md go (default "
                             "benchmarks/results)")
    cli.add_quick(parser, "tiny sizes, for a CPU dry run of the plumbing (about 2 min)")
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
    """Run the check's steps within the plan's budget; the results are saved after each."""
    args = parse_args(argv)
    plan = QUICK_PLAN if args.quick else GPU_PLAN
    budget = Budget(plan.total_s)
    out: Path = args.out
    tmp = Path(tempfile.mkdtemp(prefix="autolr_gpu_check_"))
    results = Results(meta={
        "date": now(),
        "mode": "quick" if args.quick else "gpu", "budget_s": plan.total_s,
        "command": command_line("python benchmarks/gpu_check.py", argv),
        "host": machine(cpu=cpu_model(platform.machine())), "versions": versions(PACKAGES),
        "git": git_commit(), "tmp": str(tmp), "plan": asdict(plan),
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


def _probe(results: Results, plan: Plan, budget: Budget,
           out: Path) -> tuple[bool, list[str], bool]:
    """Step 1: whether a GPU can be used, the GPUs to use, and whether they must be named to
    autolr (``--gpus``) because its own default would not see them."""
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
    return gpu_mode, gpus, explicit_gpus


def _cifar(results: Results, plan: Plan, budget: Budget, out: Path, tmp: Path, gpu_mode: bool,
           gpus: list[str], explicit_gpus: bool) -> None:
    """Step 2: the calibration, then each setting of trials per GPU in turn."""
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
                  f"{fixed(setting.get('trials_per_hour'))} trials/hour, states "
                  f"{setting.get('states')}", flush=True)


def _benchmark(results: Results, plan: Plan, budget: Budget, out: Path, tmp: Path,
               gpu_mode: bool) -> None:
    """Step 3: the benchmark's GPU variant (on the CPU, its plumbing only)."""
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


def _check(results: Results, plan: Plan, budget: Budget, out: Path, tmp: Path) -> None:
    """Every step in order; the GPU-only parts are skipped (and said so) without CUDA."""
    gpu_mode, gpus, explicit_gpus = _probe(results, plan, budget, out)
    if not gpu_mode and results.meta["mode"] != "quick":
        why = "no CUDA (" + (results.cuda.get("error") or "torch sees no CUDA device") + ")"
        results.skip(f"cifar_resnet with {FLAG} 1, 2, 4", why + "; --quick runs a CPU dry run")
        results.skip("the benchmark's GPU variant (benchmarks/run.py --device cuda)", why)
        return
    if not gpu_mode:
        results.skip(f"cifar_resnet with {FLAG} 1, 2, 4",
                     "no CUDA: the dry run tunes with --workers 1 and 2 (CPU workers) instead")
        results.skip("peak GPU memory, GPU utilisation", "no CUDA")
    _cifar(results, plan, budget, out, tmp, gpu_mode, gpus, explicit_gpus)
    _benchmark(results, plan, budget, out, tmp, gpu_mode)


if __name__ == "__main__":
    sys.exit(main())
