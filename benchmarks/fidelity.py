"""Fidelity: does a shortened, annealed run rank LR schedules like the full run does?

    python benchmarks/fidelity.py                    # full CPU benchmark, about 15 min on 2 cores
    python benchmarks/fidelity.py --quick            # smoke run: digits, 4 schedules, seconds
    python benchmarks/fidelity.py --workloads char --schedules 20 --seed 1 --jobs 2

Every autolr family is a closed form over fractions of the run, so ``spec.with_total_steps(m)``
compresses a whole schedule (warmup, decay, restarts) into ``m`` steps. A tuner can therefore
compare candidate schedules at fidelity ``f``: train each with its schedule compressed into
``m = round(f * T)`` of the workload's ``T`` steps, and stop at the first evaluation at or after
step ``m``. Such a run has annealed by its end. The first ``f`` of a full run, which is what
ordinary pruners compare, has not: it is still near the peak LR, so it favours schedules that
decay early and LRs that are low (short-horizon bias).

For each workload, S schedules are drawn at random (a fixed seed) from autolr's own search space
(every closed-form family, uniformly; the family's searched parameters; peak LR 0.1x-10x the
script's LR, log-uniform; warmup 0-20% of the run), and each is trained from scratch:

- the full run on seed A: its final value is the target every proxy is scored against, and its
  value at every evaluation (with the optimizer steps taken) is kept;
- the full run on seed B: the noise ceiling, how well one full run ranks another;
- the schedule compressed into ``round(f * T)`` steps, for each fidelity (seed A), stopped at the
  first evaluation at or after that step (the step it stopped at is recorded: a workload that
  evaluates once an epoch stops at the end of that epoch);
- for comparison, the seed-A full run's own value at that same evaluation (no extra run).

Each proxy is scored by Spearman's rank correlation with the seed-A final values (ties share
their average rank; a diverged run, any non-finite value, ranks last), by how many of the five
best schedules by full run it also puts in its top five, and by the full-run rank of the schedule
it puts first. A paired bootstrap over schedules gives a 90% interval for the gap between the
compressed run's correlation and the full run's own value's at the same step.

Writes ``benchmarks/results/fidelity.json`` (every value, every curve, every schedule) and
``fidelity.md`` (``fidelity_report.py``; or ``benchmarks/results/quick/`` with ``--quick``).
Runs go to parallel worker processes (``--jobs``, default one per core, one torch thread each);
a run is reproducible given its seed and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fidelity_report import TOP_K, render  # noqa: E402
from harness import cli, jobs  # noqa: E402
from harness.files import json_safe, output_dir, write_json, write_text  # noqa: E402
from harness.lookup import cached_workload  # noqa: E402
from harness.meta import command_line, git_commit, machine, now, versions  # noqa: E402
from workloads import WORKLOADS, Settings, StepMeter, Workload, make_workload  # noqa: E402

import autolr  # noqa: E402

# Schedules per workload by default: about 15 minutes on 2 cores in all (char dominates).
DEFAULT_SCHEDULES = {"digits": 120, "friedman": 100, "char": 64}
QUICK_SCHEDULES = 4
DEFAULT_FIDELITIES = ("1/3", "1/9")
COST = {"char": 22, "friedman": 1.6, "digits": 0.6}  # seconds per schedule, long jobs first
LR_SCALE = (0.1, 10.0)
BOOTSTRAP = 2000


# --- training ------------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a compressed run at its first evaluation at or after its horizon."""


class _Compressed(autolr.ScheduleSpec):
    """A spec trained over its own (compressed) horizon: ``Workload.train`` stretches any other
    spec back to the workload's run length through ``with_total_steps``."""

    def with_total_steps(self, total_steps: int) -> autolr.ScheduleSpec:
        return self


def compressed(spec: autolr.ScheduleSpec, steps: int) -> autolr.ScheduleSpec:
    """``spec`` compressed into ``steps`` optimizer steps, as ``Workload.train`` will apply it."""
    values = spec.with_total_steps(steps).to_dict()
    values.pop("format")
    values.pop("version")
    return _Compressed(**values)


def _record_lrs(workload: Workload, lrs: list[float]) -> None:
    """Append the first param group's LR at every optimizer step of ``workload``'s runs."""
    make_optimizer = workload._optimizer

    def optimizer(model: Any, lr: float) -> Any:
        opt = make_optimizer(model, lr)
        opt.register_step_pre_hook(
            lambda o, args, kwargs: lrs.append(float(o.param_groups[0]["lr"]))
        )
        return opt

    workload._optimizer = optimizer  # type: ignore[method-assign]


def train(workload: Workload, spec: autolr.ScheduleSpec, seed: int,
          stop_at: int | None = None) -> dict[str, Any]:
    """One run from scratch: the full schedule, or (``stop_at``) stopped at the first evaluation
    at or after ``stop_at`` optimizer steps. ``curve`` is ``[steps taken, value]`` per report."""
    meter = StepMeter()
    curve: list[list[float]] = []

    def report(value: float, step: int) -> None:
        curve.append([meter.steps, float(value)])
        if stop_at is not None and meter.steps >= stop_at:
            raise _Stop

    start = time.perf_counter()
    with contextlib.suppress(_Stop):
        workload.train(spec, seed=seed, report=report, meter=meter)
    return {
        "value": curve[-1][1] if curve else math.nan,
        "end_step": meter.steps,
        "curve": curve,
        "seconds": round(time.perf_counter() - start, 3),
    }


def horizon(fidelity: str, total_steps: int) -> int:
    """The compressed run length at ``fidelity`` (at least one step)."""
    return max(1, round(Fraction(fidelity) * total_steps))


def self_check() -> None:
    """A compressed run applies ``spec.with_total_steps(m).lrs()`` for its ``m`` steps, then
    holds the last LR until it stops at the next evaluation."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        workload = make_workload("digits", Settings.named("quick"))
        spec = autolr.ScheduleSpec(
            "cosine_restarts", {"period": 0.3, "mult": 1, "min_ratio": 0.05},
            lr=workload.base_lr * 2, total_steps=workload.total_steps,
            warmup_steps=round(0.1 * workload.total_steps),
        )
        m = horizon("1/3", workload.total_steps)
        lrs: list[float] = []
        _record_lrs(workload, lrs)
        run = train(workload, compressed(spec, m), seed=0, stop_at=m)
        expected = spec.with_total_steps(m).lrs()
        assert run["end_step"] >= m and len(lrs) == run["end_step"], (run["end_step"], len(lrs))
        assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(lrs[:m], expected)), (
            lrs[:m], expected)
        assert all(math.isclose(a, expected[-1], rel_tol=1e-9) for a in lrs[m:]), lrs[m:]
        lrs.clear()
        train(workload, spec, seed=0)
        assert len(lrs) == workload.total_steps
        assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(lrs, spec.lrs()))
    finally:
        torch.set_num_threads(threads)


# --- worker --------------------------------------------------------------------------------


def run_schedule(workload_name: str, size: str, index: int, spec_dict: dict[str, Any],
                 seeds: tuple[int, int], fidelities: tuple[str, ...]) -> dict[str, Any]:
    """Every run of one schedule (in a worker process): full on both seeds, then compressed."""
    workload = cached_workload(workload_name, Settings.named(size))
    spec = autolr.ScheduleSpec(
        **{k: v for k, v in spec_dict.items() if k not in ("format", "version")})
    seed_a, seed_b = seeds
    total = workload.total_steps
    result: dict[str, Any] = {
        "index": index,
        "full_a": train(workload, spec, seed_a),
        "full_b": train(workload, spec, seed_b),
        "compressed": {},
    }
    for fidelity in fidelities:
        m = horizon(fidelity, total)
        run = train(workload, compressed(spec, m), seed_a, stop_at=m)
        run["steps"] = m
        result["compressed"][fidelity] = run
    return result


# --- statistics ----------------------------------------------------------------------------


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1 (lowest), ties sharing their average rank, non-finite values last."""
    x = np.where(np.isfinite(values), values, np.inf)
    order = np.argsort(x, kind="mergesort")
    out = np.empty(len(x), dtype=float)
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        out[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (nan when either side is constant)."""
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def top_overlap(target: np.ndarray, proxy: np.ndarray, k: int) -> int:
    """How many of the ``k`` best by ``target`` are among the ``k`` best by ``proxy``."""
    best = set(np.argsort(ranks(target), kind="mergesort")[:k].tolist())
    return len(best & set(np.argsort(ranks(proxy), kind="mergesort")[:k].tolist()))


def pick_rank(target: np.ndarray, proxy: np.ndarray) -> float:
    """The target rank (1 = the best) of the schedule ``proxy`` ranks first."""
    return float(ranks(target)[int(np.argsort(ranks(proxy), kind="mergesort")[0])])


def bootstrap_gap(target: np.ndarray, a: np.ndarray, b: np.ndarray,
                  seed: int) -> list[float] | None:
    """A paired bootstrap 90% interval of ``spearman(target, a) - spearman(target, b)``."""
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, len(target), len(target))
        gap = spearman(target[idx], a[idx]) - spearman(target[idx], b[idx])
        if math.isfinite(gap):
            gaps.append(gap)
    if len(gaps) < BOOTSTRAP // 2:
        return None
    return [round(float(q), 3) for q in np.quantile(gaps, [0.05, 0.95])]


def value_at(curve: list[list[float]], step: int) -> tuple[float, int]:
    """The curve's value at its first report at or after ``step``, and that report's step."""
    for steps, value in curve:
        if steps >= step:
            return value, int(steps)
    return curve[-1][1], int(curve[-1][0])


def analyse(runs: list[dict[str, Any]], total_steps: int, fidelities: tuple[str, ...],
            seed: int) -> dict[str, Any]:
    """Every proxy scored against the seed-A full runs' final values."""
    target = np.array([r["full_a"]["value"] for r in runs], dtype=float)
    proxies: dict[str, np.ndarray] = {"seed_b": np.array([r["full_b"]["value"] for r in runs])}
    steps: dict[str, Any] = {"seed_b": total_steps}
    gaps: dict[str, Any] = {}
    for fidelity in fidelities:
        m = horizon(fidelity, total_steps)
        proxies[f"compressed {fidelity}"] = np.array(
            [r["compressed"][fidelity]["value"] for r in runs], dtype=float)
        steps[f"compressed {fidelity}"] = {
            "horizon": m,
            "ended_at": sorted({r["compressed"][fidelity]["end_step"] for r in runs}),
        }
        own = [value_at(r["full_a"]["curve"], m) for r in runs]
        proxies[f"own {fidelity}"] = np.array([v for v, _ in own], dtype=float)
        steps[f"own {fidelity}"] = {"from": m, "at": sorted({s for _, s in own})}
        gaps[fidelity] = bootstrap_gap(target, proxies[f"compressed {fidelity}"],
                                       proxies[f"own {fidelity}"], seed)
    k = min(TOP_K, len(runs))
    scores = {}
    for name, proxy in proxies.items():
        rho = spearman(target, proxy)
        scores[name] = {
            "spearman": round(rho, 3) if math.isfinite(rho) else None,
            f"top{TOP_K}_overlap": top_overlap(target, proxy, k),
            "pick_rank": pick_rank(target, proxy),
            "diverged": int((~np.isfinite(proxy)).sum()),
            "steps": steps[name],
        }
    return {
        "k": k,
        "diverged_full_a": int((~np.isfinite(target)).sum()),
        "scores": scores,
        "gap_90": gaps,
    }


# --- the benchmark -------------------------------------------------------------------------


def sample_schedules(workload: Workload, n: int, seed: int) -> list[autolr.ScheduleSpec]:
    """``n`` schedules from autolr's search space over every closed-form family (RandomSampler)."""
    import optuna

    from autolr.search.space import SearchSpace

    families = tuple(f for f in autolr.families()
                     if autolr.family_info(f)["builtin"] and not autolr.family_info(f)[
                         "metric_driven"])
    space = SearchSpace(families=families, lr_scale=LR_SCALE, warmup=True, direction="minimize")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    specs = []
    for _ in range(n):
        trial = study.ask()
        specs.append(space.sample(trial, workload.base_lr, workload.total_steps))
        study.tell(trial, 0.0)
    return specs


def describe(spec: autolr.ScheduleSpec, base_lr: float) -> str:
    params = ", ".join(f"{k}={_short(v)}" for k, v in spec.params.items())
    warmup = f", warmup {spec.warmup_steps}" if spec.warmup_steps else ""
    return f"{spec.family}({params}) at {spec.lr / base_lr:.2f}x{warmup}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults resolved (workloads, fidelities, size, output
    folder, jobs)."""
    parser = cli.make_parser(__doc__)
    cli.add_quick(parser, f"smoke run: {QUICK_SCHEDULES} schedules, tiny runs, digits only "
                          "unless --workloads")
    cli.add_workloads(parser, f"comma-separated, from {', '.join(WORKLOADS)}")
    parser.add_argument("--schedules", type=int, default=None,
                        help="schedules per workload (default: "
                             + ", ".join(f"{k} {v}" for k, v in DEFAULT_SCHEDULES.items())
                             + f"; {QUICK_SCHEDULES} with --quick)")
    parser.add_argument("--fidelities", default=",".join(DEFAULT_FIDELITIES),
                        help="comma-separated fractions of the run (default: %(default)s)")
    cli.add_seed(parser, "samples the schedules; the full runs use seeds SEED and SEED+1")
    cli.add_jobs(parser, "parallel worker processes (default: one per core; 1 with --quick)")
    cli.add_output_dir(parser, "fidelity.json/.md")
    args = parser.parse_args(argv)
    args.workload_list = cli.workload_list(parser, args.workloads,
                                           "digits" if args.quick else ",".join(WORKLOADS),
                                           WORKLOADS)
    if args.schedules is not None and args.schedules < 2:
        parser.error(f"--schedules must be at least 2, got {args.schedules}")
    args.fidelity_list = tuple(f.strip() for f in args.fidelities.split(",") if f.strip())
    for fidelity in args.fidelity_list:
        try:
            ok = 0 < Fraction(fidelity) < 1
        except (ValueError, ZeroDivisionError):
            ok = False
        if not ok:
            parser.error(f"a fidelity must be a fraction between 0 and 1, got {fidelity!r}")
    args.size = "quick" if args.quick else "cpu"
    args.output_dir = output_dir(args.output_dir, args.quick)
    if args.jobs is None:
        args.jobs = cli.default_jobs(args.quick)
    return args


def plan(args: argparse.Namespace, seeds: tuple[int, int]) -> tuple[dict[str, Any], list[Any]]:
    """Per workload: its description and the schedules drawn; and the calls of
    :func:`run_schedule`, one per schedule, the costliest workload's first."""
    workloads: dict[str, Any] = {}
    calls = []
    for name in args.workload_list:
        workload = make_workload(name, Settings.named(args.size))
        n = args.schedules or (QUICK_SCHEDULES if args.quick else DEFAULT_SCHEDULES[name])
        specs = sample_schedules(workload, n, args.seed)
        workloads[name] = {
            "title": workload.title, "total_steps": workload.total_steps,
            "base_lr": workload.base_lr, "optimizer": workload.optimizer_name,
            "schedules": [{"spec": s.to_dict(), "summary": describe(s, workload.base_lr)}
                          for s in specs],
        }
        calls += [(name, args.size, i, s.to_dict(), seeds, args.fidelity_list)
                  for i, s in enumerate(specs)]
    calls.sort(key=lambda call: -COST[call[0]])
    return workloads, calls


def main(argv: list[str] | None = None) -> int:
    """Check the compressed runs, train every schedule, score the proxies, and write
    ``fidelity.json`` and ``fidelity.md``."""
    args = parse_args(argv)
    start = time.perf_counter()
    jobs.quiet_optuna()
    self_check()
    # One torch thread per job: these small models gain little from more, and oversubscribed
    # threads slow every job down.
    threads = jobs.threads_per_job(args.jobs, single=args.quick)
    seeds = (args.seed, args.seed + 1)
    workloads, calls = plan(args, seeds)
    print(f"{len(calls)} schedules ({', '.join(args.workload_list)}), 2 full runs + "
          f"{len(args.fidelity_list)} compressed each, {args.jobs} job(s) at a time, {threads} "
          f"thread(s) each, size {args.size}", flush=True)

    done: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in args.workload_list}
    for call, result in jobs.run_all(run_schedule, calls, args.jobs, threads):
        name = call[0]
        done[name][result["index"]] = result
        seconds = result["full_a"]["seconds"] + result["full_b"]["seconds"] + sum(
            r["seconds"] for r in result["compressed"].values())
        if len(done[name]) % 10 == 0 or len(done[name]) == len(workloads[name]["schedules"]):
            print(f"[{time.perf_counter() - start:7.1f}s] {name}: {len(done[name])}/"
                  f"{len(workloads[name]['schedules'])} schedules (last {seconds:.1f}s)",
                  flush=True)

    for name, info in workloads.items():
        runs = [done[name][i] for i in range(len(info["schedules"]))]
        for schedule, run in zip(info["schedules"], runs):
            schedule.update({k: v for k, v in run.items() if k != "index"})
        info["analysis"] = analyse(runs, info["total_steps"], args.fidelity_list, args.seed)

    results = {
        "meta": {
            "date": now(),
            "mode": "quick" if args.quick else "full",
            "size": args.size,
            "fidelities": list(args.fidelity_list),
            "seed": args.seed,
            "seeds": list(seeds),
            "jobs": args.jobs,
            "threads_per_job": threads,
            "wall_s": round(time.perf_counter() - start, 1),
            "machine": machine("cpu"),
            "versions": versions(),
            "git": git_commit(),
            "command": command_line("python benchmarks/fidelity.py", argv),
        },
        "workloads": workloads,
    }
    write_json(args.output_dir / "fidelity.json", json_safe(results))
    markdown = render(results)
    write_text(args.output_dir / "fidelity.md", markdown)
    print(markdown)
    print(f"wrote {args.output_dir / 'fidelity.json'} in {results['meta']['wall_s']:.0f}s",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
