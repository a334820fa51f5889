"""Does autolr's fidelity ladder find better LR schedules, at equal or half the compute, than
today's default and what users do today? (issue #9)

    python benchmarks/run.py                     # full CPU benchmark, about 15-20 min on 2 cores
    python benchmarks/run.py --quick             # smoke run (CI): digits, 8 trials, seconds
    python benchmarks/run.py --device cuda       # the GPU variant (larger character model)
    python benchmarks/run.py --workloads digits,char --trials 30 --jobs 4

For each workload, every method of ``methods.py`` searches with the compute of N full runs
(``--trials N``; ``autolr_half`` with N // 2) and its winner is re-trained on three fresh seeds;
the unpruned autolr study is replayed through each pruner (``pruning.py``). autolr's default
confirms its top configurations on fresh seeds inside the budget (issue #10); the same ladder
with ``confirm=0`` runs beside it at the same compute. Writes
``<output-dir>/results.json`` and ``results.md``; a full run with the default output directory
also rewrites the results section of benchmarks/README.md. Searches run as parallel jobs (one
process each, ``--jobs``, default: one per core), each seeded, so a run is reproducible given its
seed, its ``--jobs`` and the machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import datetime as dt
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import report_md  # noqa: E402
from methods import METHODS  # noqa: E402
from workloads import WORKLOADS, Settings  # noqa: E402

ALIASES = {"third": "friedman", "mlp": "digits", "lm": "char"}
COST = {"char": 100, "friedman": 8, "digits": 1}  # rough relative cost, to start long jobs first
# rough relative cost of a method's search (in full runs, re-training included), same purpose
METHOD_COST = {"hand": 0.15, "autolr_half": 0.65}


def _init_worker(threads: int) -> None:
    import optuna
    import torch

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_job(workload_name: str, method: str, size: str, device: str, n_trials: int,
            seed: int) -> dict[str, Any]:
    """One method on one workload: search, then re-train the winner (in a worker process)."""
    from methods import run_method
    from workloads import make_workload

    workload = make_workload(workload_name, Settings.named(size), device)
    start = time.perf_counter()
    result = run_method(workload, method, n_trials, seed).to_dict()
    result["job_s"] = time.perf_counter() - start
    return result


def workload_info(name: str, size: str, device: str) -> dict[str, Any]:
    from workloads import make_workload

    w = make_workload(name, Settings.named(size), device)
    metric = {"digits": "validation cross-entropy", "char": "validation loss, nats/char",
              "friedman": "validation MSE, standardised target"}[name]
    return {
        "title": w.title, "total_steps": w.total_steps, "base_lr": w.base_lr,
        "sf_lr_range": list(w.sf_lr_range), "hand": w.hand_name, "optimizer": w.optimizer_name,
        "metric": metric,
    }


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("autolr", "torch", "optuna", "schedulefree", "numpy", "scikit-learn"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=HERE, capture_output=True, text=True, check=True).stdout
        return head + ("+uncommitted changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 8 trials, tiny runs, digits only unless --workloads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    parser.add_argument("--workloads", default=None,
                        help=f"comma-separated, from {', '.join(WORKLOADS)} ('third' = friedman)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated subset of {', '.join(METHODS)} (default: all)")
    parser.add_argument("--trials", type=int, default=None,
                        help="N: the compute of N full runs per search, N trials for the "
                             "hand-written ones (default 20; 8 with --quick)")
    parser.add_argument("--size", choices=("cpu", "gpu", "quick"), default=None,
                        help="run length (default: quick with --quick, gpu with --device cuda, "
                             "else cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel jobs, one process each (default: one per core; 1 with "
                             "--quick)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="where results.json/.md go (default benchmarks/results, or "
                             "benchmarks/results/quick with --quick)")
    readme = parser.add_mutually_exclusive_group()
    readme.add_argument("--readme", action="store_true",
                        help="rewrite benchmarks/README.md's results section even when not a "
                             "full run into the default output directory")
    readme.add_argument("--no-readme", action="store_true", help="never touch the README")
    args = parser.parse_args(argv)
    names = (args.workloads or ("digits" if args.quick else ",".join(WORKLOADS))).split(",")
    args.workload_list = []
    for name in (n.strip() for n in names if n.strip()):
        name = ALIASES.get(name, name)
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")
        if name not in args.workload_list:
            args.workload_list.append(name)
    methods = (args.methods or ",".join(METHODS)).split(",")
    for name in methods:
        if name not in METHODS:
            parser.error(f"unknown method {name!r}: choose from {', '.join(METHODS)}")
    args.method_list = methods
    if args.trials is None:
        # 8 with --quick: the smallest budget whose default confirmation runs anything
        args.trials = 8 if args.quick else 20
    if args.trials < 1:
        parser.error(f"--trials must be at least 1, got {args.trials}")
    if args.size is None:
        args.size = "quick" if args.quick else ("gpu" if args.device.startswith("cuda") else "cpu")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA device on this machine")
    default_out = HERE / "results" / ("quick" if args.quick else "")
    args.update_readme = args.readme or (
        not args.no_readme and not args.quick and args.output_dir is None
        and args.size != "quick"
    )
    args.output_dir = args.output_dir or default_out
    if args.jobs is None:
        args.jobs = 1 if args.quick else max(1, os.cpu_count() or 1)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    jobs = [(w, m) for w in args.workload_list for m in args.method_list]
    jobs.sort(key=lambda job: -COST[job[0]] * METHOD_COST.get(job[1], 1.0))
    # One thread per job in quick mode: tiny models gain nothing from more, and oversubscribed
    # torch threads on a busy machine slow everything down many times over.
    threads = 1 if args.size == "quick" else max(1, (os.cpu_count() or 1) // args.jobs)
    print(f"{len(jobs)} jobs ({', '.join(args.workload_list)} x {len(args.method_list)} "
          f"methods), {args.trials} trials each, {args.jobs} job(s) at a time, {threads} "
          f"thread(s) each, device {args.device}, size {args.size}", flush=True)

    done: dict[tuple[str, str], dict[str, Any]] = {}

    def finished(job: tuple[str, str], result: dict[str, Any]) -> None:
        done[job] = result
        mean = result.get("retrain_mean")
        shown = f"{mean:.4f}" if mean is not None else "—"
        shortened = f"{result['shortened']} shortened, " if result.get("shortened") else ""
        print(f"[{time.perf_counter() - start:7.1f}s] {job[0]}/{job[1]}: re-trained {shown}, "
              f"{result['steps']:,} steps, {result['trials']} runs ({shortened}"
              f"{result['pruned']} pruned), job {result['job_s']:.1f}s", flush=True)

    call = [(w, m, args.size, args.device, args.trials, args.seed) for w, m in jobs]
    if args.jobs == 1:
        _init_worker(threads)
        for job, arguments in zip(jobs, call):
            finished(job, run_job(*arguments))
    else:
        context = multiprocessing.get_context("spawn")
        with futures.ProcessPoolExecutor(args.jobs, mp_context=context,
                                         initializer=_init_worker,
                                         initargs=(threads,)) as pool:
            pending = {pool.submit(run_job, *arguments): job
                       for job, arguments in zip(jobs, call)}
            for future in futures.as_completed(pending):
                finished(pending[future], future.result())

    from pruning import analyse

    workloads: dict[str, Any] = {}
    for name in args.workload_list:
        info = workload_info(name, args.size, args.device)
        info["methods"] = {m: done[(name, m)] for m in args.method_list if (name, m) in done}
        none = info["methods"].get("autolr_none")
        if none is not None:
            info["pruning"] = analyse(none, info["total_steps"], args.trials)
        info["goal"] = report_md.goal(info)
        info["confirmation"] = report_md.confirmation_compare(info)
        workloads[name] = info

    gpu_note = None
    if not args.device.startswith("cuda"):
        gpu_note = ("The GPU variant (`--device cuda`, larger character model) was not run for "
                    "these tables: no GPU on this machine.")
    results = {
        "meta": {
            "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "mode": "quick" if args.quick else "full",
            "size": args.size,
            "device": args.device,
            "trials": args.trials,
            "seed": args.seed,
            "jobs": args.jobs,
            "threads_per_job": threads,
            "wall_s": round(time.perf_counter() - start, 1),
            "machine": machine(args.device),
            "versions": versions(),
            "git": git_commit(),
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "gpu_note": gpu_note,
        },
        "workloads": workloads,
        "overhead_json": report_md.load_overhead(),
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "results.json").write_text(json.dumps(results) + "\n",
                                                  encoding="utf-8")
    others = report_md.load_other_seeds(results) if not args.quick else []
    markdown = report_md.render(results, others)
    (args.output_dir / "results.md").write_text(markdown, encoding="utf-8")
    if args.update_readme:
        report_md.update_readme(markdown)
    print(markdown)
    print(f"wrote {args.output_dir / 'results.json'} in {results['meta']['wall_s']:.0f}s"
          + (" and updated benchmarks/README.md" if args.update_readme else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
