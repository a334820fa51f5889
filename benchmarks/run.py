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
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import report_md  # noqa: E402
from harness import cli, jobs  # noqa: E402
from harness.files import output_dir, write_json, write_text  # noqa: E402
from harness.lookup import ALIASES, workload_info  # noqa: E402
from harness.meta import command_line, git_commit, machine, now, versions  # noqa: E402
from methods import METHODS  # noqa: E402
from report_goals import confirmation_compare, goal  # noqa: E402
from workloads import WORKLOADS, Settings  # noqa: E402

COST = {"char": 100, "friedman": 8, "digits": 1}  # rough relative cost, to start long jobs first
# rough relative cost of a method's search (in full runs, re-training included), same purpose
METHOD_COST = {"hand": 0.15, "autolr_half": 0.65}


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults resolved (workloads, methods, trials, size, output
    folder, whether the README is rewritten, jobs)."""
    parser = cli.make_parser(__doc__)
    cli.add_quick(parser, "smoke run: 8 trials, tiny runs, digits only unless --workloads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    cli.add_workloads(parser, f"comma-separated, from {', '.join(WORKLOADS)} ('third' = friedman)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated subset of {', '.join(METHODS)} (default: all)")
    parser.add_argument("--trials", type=int, default=None,
                        help="N: the compute of N full runs per search, N trials for the "
                             "hand-written ones (default 20; 8 with --quick)")
    parser.add_argument("--size", choices=("cpu", "gpu", "quick"), default=None,
                        help="run length (default: quick with --quick, gpu with --device cuda, "
                             "else cpu)")
    cli.add_seed(parser)
    cli.add_jobs(parser, "parallel jobs, one process each (default: one per core; 1 with "
                         "--quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per job (default: the cores shared out among the "
                             "jobs; 1 with --quick). Give 1 when several runs share a machine")
    cli.add_output_dir(parser, "results.json/.md")
    readme = parser.add_mutually_exclusive_group()
    readme.add_argument("--readme", action="store_true",
                        help="rewrite benchmarks/README.md's results section even when not a "
                             "full run into the default output directory")
    readme.add_argument("--no-readme", action="store_true", help="never touch the README")
    args = parser.parse_args(argv)
    args.workload_list = cli.workload_list(parser, args.workloads,
                                           "digits" if args.quick else ",".join(WORKLOADS),
                                           WORKLOADS, ALIASES)
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
    args.update_readme = args.readme or (
        not args.no_readme and not args.quick and args.output_dir is None
        and args.size != "quick"
    )
    args.output_dir = output_dir(args.output_dir, args.quick)
    if args.jobs is None:
        args.jobs = cli.default_jobs(args.quick)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    return args


def run_searches(args: argparse.Namespace, start: float) -> tuple[dict[tuple[str, str], Any], int]:
    """Every (workload, method) job, longest first, on ``args.jobs`` processes: each job's
    result by ``(workload, method)``, and the torch threads each job had."""
    work = [(w, m) for w in args.workload_list for m in args.method_list]
    work.sort(key=lambda job: -COST[job[0]] * METHOD_COST.get(job[1], 1.0))
    # One thread per job in quick mode: tiny models gain nothing from more, and oversubscribed
    # torch threads on a busy machine slow everything down many times over.
    threads = args.threads or jobs.threads_per_job(args.jobs, single=args.size == "quick")
    print(f"{len(work)} jobs ({', '.join(args.workload_list)} x {len(args.method_list)} "
          f"methods), {args.trials} trials each, {args.jobs} job(s) at a time, {threads} "
          f"thread(s) each, device {args.device}, size {args.size}", flush=True)
    done: dict[tuple[str, str], dict[str, Any]] = {}
    calls = [(w, m, args.size, args.device, args.trials, args.seed) for w, m in work]
    for call, result in jobs.run_all(run_job, calls, args.jobs, threads):
        job = (call[0], call[1])
        done[job] = result
        mean = result.get("retrain_mean")
        shown = f"{mean:.4f}" if mean is not None else "—"
        shortened = f"{result['shortened']} shortened, " if result.get("shortened") else ""
        print(f"[{time.perf_counter() - start:7.1f}s] {job[0]}/{job[1]}: re-trained {shown}, "
              f"{result['steps']:,} steps, {result['trials']} runs ({shortened}"
              f"{result['pruned']} pruned), job {result['job_s']:.1f}s", flush=True)
    return done, threads


def collect(args: argparse.Namespace, done: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """Per workload: its description, every method's result, the pruning replay of the
    unpruned study, and issue #9's goal and issue #10's comparison decided."""
    from pruning import analyse

    workloads: dict[str, Any] = {}
    for name in args.workload_list:
        info = workload_info(name, args.size, args.device)
        info["methods"] = {m: done[(name, m)] for m in args.method_list if (name, m) in done}
        none = info["methods"].get("autolr_none")
        if none is not None:
            info["pruning"] = analyse(none, info["total_steps"], args.trials)
        info["goal"] = goal(info)
        info["confirmation"] = confirmation_compare(info)
        workloads[name] = info
    return workloads


def main(argv: list[str] | None = None) -> int:
    """Run every search, then write ``results.json``, ``results.md`` and (a full run into the
    default folder) the README's results section."""
    args = parse_args(argv)
    start = time.perf_counter()
    jobs.quiet_optuna()
    done, threads = run_searches(args, start)
    workloads = collect(args, done)
    gpu_note = None
    if not args.device.startswith("cuda"):
        gpu_note = ("The GPU variant (`--device cuda`, larger character model) was not run for "
                    "these tables: no GPU on this machine.")
    results = {
        "meta": {
            "date": now(),
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
            "command": command_line(Path(sys.argv[0]).name, argv),
            "gpu_note": gpu_note,
        },
        "workloads": workloads,
        "overhead_json": report_md.load_overhead(),
    }
    write_json(args.output_dir / "results.json", results)
    others = report_md.load_other_seeds(results) if not args.quick else []
    markdown = report_md.render(results, others)
    write_text(args.output_dir / "results.md", markdown)
    if args.update_readme:
        report_md.update_readme(markdown)
    print(markdown)
    print(f"wrote {args.output_dir / 'results.json'} in {results['meta']['wall_s']:.0f}s"
          + (" and updated benchmarks/README.md" if args.update_readme else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
