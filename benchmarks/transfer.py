"""Tune short, train long: does the winner of a study on short runs still win on a 3x longer run?

    python benchmarks/transfer.py                       # digits, friedman, char (about 9 min on
                                                        #   2 cores) -> results/transfer.json, .md
    python benchmarks/transfer.py --quick --out /tmp/transfer_quick   # smoke run, seconds
    python benchmarks/transfer.py --workloads digits,friedman --seeds 5 --jobs 2

For each workload of ``workloads.py``:

1. an autolr study (``methods.run_autolr``: ``autolr.tune`` in process with its defaults, the
   fidelity ladder and confirmation, ``--trials`` full runs of compute, study seed ``--seed``) on
   runs of the workload's own length L (digits 8 epochs, friedman 25 epochs, char 400 steps);
2. its winner stretched to 3L: through the exported file's
   ``build_scheduler(optimizer, total_steps=3L)`` when ``autolr.export`` writes one that takes
   ``total_steps`` (checked by exporting to a temporary folder and importing it; its ``lrs`` must
   equal ``spec.with_total_steps(3L).lrs()``), else ``ScheduleSpec.with_total_steps(3L)``; the
   results say which;
3. every arm below trained at 3L on the same fresh seeds (:data:`EVAL_SEEDS`, never used by a
   search), no reports to anyone, no pruning; the final validation metric (lower is better);
4. for context, the same arms (but the sweep) at L on the same seeds: does the order hold?

The arms, at 3L (``tuning`` is the compute spent choosing the schedule, in optimizer steps):

``transferred``        the study's winner stretched to 3L (tuning: the whole study).
``cosine_winner_lr``   cosine to 0 at the winner's peak LR, with the script's own warmup (5% for
                       char, none elsewhere; not the winner's warmup): the winner's LR without
                       its schedule (tuning: the study).
``cosine_swept``       cosine to 0 with the script's warmup at the best of :data:`SWEEP_POINTS`
                       log-spaced peak LRs over 0.1x-10x the script's LR (autolr's default range),
                       each trained once at 3L on :data:`SWEEP_SEED`: tuning directly at the long
                       length at about the study's compute (7 long runs = 21 short runs).
``cosine_default_lr``  cosine to 0 with the script's warmup at the script's LR (tuning: none).
``hand``               the workload's own schedule at the script's LR (tuning: none). On char
                       the hand schedule is that same cosine; it is trained once.

Identical (schedule, length, seed) runs are trained once and shared. Every run is seeded and uses
one torch thread; runs go to ``--jobs`` processes (default 2). The metrics do not depend on the
machine's load; the wall times do. ``transfer_report.py`` writes ``transfer.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import dataclasses
import importlib.util
import inspect
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import cli  # noqa: E402
from harness import jobs as harness_jobs  # noqa: E402
from harness.files import RESULTS, finite, read_json, write_json, write_text  # noqa: E402
from harness.lookup import METRICS, cached_workload  # noqa: E402
from harness.meta import command_line, git_commit, machine, now, versions  # noqa: E402
from transfer_report import mean_std, render  # noqa: E402
from workloads import WORKLOADS, Settings, StepMeter, Workload  # noqa: E402

import autolr  # noqa: E402

STRETCH = 3  # the long run is STRETCH times the study's run length
EVAL_SEEDS = (8001, 8002, 8003, 8004, 8005)  # training seeds of every compared run
SWEEP_SEED = 8101  # the one seed of the LR sweep at 3L
SWEEP_POINTS = 7  # 0.1x, 0.215x, 0.464x, 1x, 2.15x, 4.64x, 10x the script's LR
SWEEP_RANGE = (0.1, 10.0)
# Seeds per workload at full size: char's runs cost 33 s each at 3L on one core, so it gets 3.
DEFAULT_SEEDS = {"digits": 5, "friedman": 5, "char": 3}
COST = {"char": 100, "friedman": 8, "digits": 1}  # rough relative cost: long jobs start first
ARMS = ("transferred", "cosine_winner_lr", "cosine_swept", "cosine_default_lr", "hand")
LABELS = {
    "transferred": "autolr winner at L, stretched to 3L",
    "cosine_winner_lr": "cosine to 0 at the winner's peak LR",
    "cosine_swept": "cosine to 0, LR swept at 3L",
    "cosine_default_lr": "cosine to 0 at the script's LR",
    "hand": "the script's own schedule",
}
SHORT_ARMS = ("transferred", "cosine_winner_lr", "cosine_default_lr", "hand")


# --- settings ----------------------------------------------------------------------------------
def stretched(settings: Settings, factor: int) -> Settings:
    """The same workloads with runs ``factor`` times as long (epochs, or steps for char; char
    keeps its evaluation every ``char_eval_every`` steps, so it reports ``factor`` times as
    often)."""
    return dataclasses.replace(
        settings, digits_epochs=settings.digits_epochs * factor,
        friedman_epochs=settings.friedman_epochs * factor,
        char_steps=settings.char_steps * factor,
    )


def workload(name: str, size: str, factor: int) -> Workload:
    """The workload at ``size`` stretched ``factor`` times, cached per process (data loaded
    once)."""
    return cached_workload(name, stretched(Settings.named(size), factor))


def cosine(w: Workload, lr: float) -> autolr.ScheduleSpec:
    """Cosine to 0 at peak ``lr`` over ``w``'s run, with the script's own warmup."""
    return autolr.ScheduleSpec("cosine", {"min_ratio": 0.0}, lr=lr, total_steps=w.total_steps,
                               warmup_steps=w.warmup_steps())


def sweep_lrs(base_lr: float, points: int) -> list[float]:
    """``points`` peak LRs, log-spaced over SWEEP_RANGE times ``base_lr`` (ends included)."""
    low, high = (math.log(base_lr * s) for s in SWEEP_RANGE)
    if points == 1:
        return [base_lr]
    return [math.exp(low + (high - low) * i / (points - 1)) for i in range(points)]


# --- tasks (run in worker processes) -----------------------------------------------------------
def study_task(name: str, size: str, n_trials: int, seed: int) -> dict[str, Any]:
    """The autolr study on runs of length L, as ``benchmarks/run.py``'s ``autolr`` method."""
    from methods import run_autolr

    w = workload(name, size, 1)
    result = run_autolr(w, "autolr", n_trials, seed)
    record = result.confirmation
    return {
        "winner": result.winner["spec"],
        "summary": result.winner["summary"],
        "trial": result.winner.get("trial"),
        "best_search_value": result.best_value,
        "confirmed": None if record is None else {
            "mean": record["winner"]["mean"], "std": record["winner"]["std"],
            "seeds": record["winner"]["seeds"], "changed": record["changed"],
            "baseline": record["winner"]["baseline"],
        },
        "steps": result.steps,
        "short_runs": result.steps / w.total_steps,
        "trials": result.trials,
        "configurations": result.configurations,
        "search": result.search,
        "ladder": None if result.ladder is None else result.ladder["describe"],
        "notes": result.notes,
        "wall_s": result.wall_s,
    }


def _load_module(path: str) -> Any:
    module_spec = importlib.util.spec_from_file_location(f"_transfer_{Path(path).stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def train_task(name: str, size: str, factor: int, spec_json: str, seed: int,
               exported: str | None) -> dict[str, Any]:
    """One training run at ``factor`` times L on ``seed``: the schedule ``spec_json`` through
    ``Workload.train``, or, with ``exported``, the exported file's
    ``build_scheduler(optimizer, total_steps=...)`` in the same loop. Returns the final metric,
    the optimizer steps and the seconds."""
    w = workload(name, size, factor)
    spec = autolr.ScheduleSpec.from_json(json.loads(spec_json))
    meter = StepMeter()
    start = time.perf_counter()
    if exported is None:
        value = w.train(spec, spec.lr, seed, meter=meter)
    else:
        module = _load_module(exported)
        value = w.train(lambda opt: module.build_scheduler(opt, total_steps=w.total_steps),
                        spec.lr, seed, meter=meter)
    return {"value": value, "steps": meter.steps, "seconds": time.perf_counter() - start}


# --- the exported file -------------------------------------------------------------------------
def exported_path(spec: autolr.ScheduleSpec, long_steps: int, folder: Path,
                  name: str) -> tuple[str | None, dict[str, Any]]:
    """Export ``spec`` (length L) and check whether its ``build_scheduler`` and ``lrs`` take
    ``total_steps`` and reproduce ``spec.with_total_steps(long_steps)``. Returns the file to
    train the transferred arm with (None: use ``with_total_steps``) and what was found."""
    path = folder / f"{name}_best_schedule.py"
    autolr.export(spec, path, overwrite=True)
    module = _load_module(str(path))
    takes = "total_steps" in inspect.signature(module.build_scheduler).parameters
    lrs_takes = "total_steps" in inspect.signature(module.lrs).parameters
    info: dict[str, Any] = {"build_scheduler_takes_total_steps": takes,
                            "lrs_takes_total_steps": lrs_takes, "max_lr_difference": None}
    if not takes:
        info["path"] = "with_total_steps"
        info["why"] = ("the exported file's build_scheduler(optimizer) takes no total_steps yet: "
                       "the long runs used ScheduleSpec.with_total_steps")
        return None, info
    if spec.metric_driven:
        info["path"] = "with_total_steps"
        info["why"] = ("the winner is a plateau schedule, exported as ReduceLROnPlateau stepped "
                       "with the metric: the long runs used ScheduleSpec.with_total_steps")
        return None, info
    expected = spec.with_total_steps(long_steps).lrs()
    if lrs_takes:
        got = module.lrs(total_steps=long_steps)
        info["max_lr_difference"] = (max(abs(a - b) for a, b in zip(got, expected))
                                     if len(got) == len(expected) else math.inf)
        if len(got) != len(expected) or info["max_lr_difference"] > 1e-12 * spec.lr:
            info["path"] = "with_total_steps"
            info["why"] = (f"the exported lrs(total_steps={long_steps}) differs from "
                           f"with_total_steps (lengths {len(got)}/{len(expected)}, largest LR "
                           f"difference {info['max_lr_difference']:.3g}): not used")
            return None, info
    info["path"] = "exported"
    info["why"] = (f"the long runs used the exported file's build_scheduler(optimizer, "
                   f"total_steps={long_steps})")
    return str(path), info


# --- the run -----------------------------------------------------------------------------------
class Pool:
    """Training tasks, each (schedule, length, seed) run once, on ``jobs`` processes of one
    torch thread each (with one job, in this process as they are queued)."""

    def __init__(self, jobs: int) -> None:
        self.executor = harness_jobs.executor(jobs, threads=1)
        self.runs: dict[tuple[Any, ...], Any] = {}

    def submit(self, fn: Any, *args: Any) -> futures.Future[Any]:
        return self.executor.submit(fn, *args)

    def train(self, name: str, size: str, factor: int, spec: autolr.ScheduleSpec, seed: int,
              exported: str | None = None) -> tuple[Any, ...]:
        """Queue one run (once per distinct key); returns its key."""
        key = (name, factor, json.dumps(spec.to_dict(), sort_keys=True), seed, exported)
        if key not in self.runs:
            self.runs[key] = self.submit(train_task, name, size, factor, key[2], seed, exported)
        return key

    def result(self, key: tuple[Any, ...]) -> dict[str, Any]:
        return self.runs[key].result()

    def close(self) -> None:
        self.executor.shutdown()


def summary(values: list[float]) -> dict[str, Any]:
    """The values (non-finite ones as None), their mean and sample std (None unless every
    value is finite)."""
    kept = [v for v in values if math.isfinite(v)]
    return {
        "values": [v if math.isfinite(v) else None for v in values],
        "mean": statistics.fmean(kept) if len(kept) == len(values) and kept else None,
        "std": statistics.stdev(kept) if len(kept) == len(values) > 1 else None,
    }


def paired(a: list[float], b: list[float]) -> dict[str, Any] | None:
    """``a - b`` on the same seeds: mean, standard error, within noise (< 2 SE)."""
    if len(a) != len(b) or len(a) < 2 or not all(map(math.isfinite, a + b)):
        return None
    diffs = [x - y for x, y in zip(a, b)]
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    return {"mean": mean, "se": se, "within_noise": abs(mean) < 2 * se, "seeds": len(diffs)}


def run_workload_phase_a(pool: Pool, name: str, args: argparse.Namespace,
                         seeds: tuple[int, ...]) -> dict[str, Any]:
    """Queue what needs no study: the sweep and the untuned arms."""
    short, long = workload(name, args.size, 1), workload(name, args.size, STRETCH)
    state: dict[str, Any] = {"short": short, "long": long, "seeds": seeds}
    state["sweep"] = [(lr, pool.train(name, args.size, STRETCH, cosine(long, lr), SWEEP_SEED))
                      for lr in sweep_lrs(short.base_lr, args.sweep_points)]
    fixed = {"cosine_default_lr": lambda w: cosine(w, w.base_lr),
             "hand": lambda w: w.hand_schedule(w.base_lr)}
    state["specs"] = {(arm, f): make(w) for arm, make in fixed.items()
                      for f, w in ((1, short), (STRETCH, long))}
    state["keys"] = {(arm, f): [pool.train(name, args.size, f, spec, s) for s in seeds]
                     for (arm, f), spec in state["specs"].items()}
    return state


def run_workload_phase_b(pool: Pool, name: str, args: argparse.Namespace, state: dict[str, Any],
                         folder: Path) -> None:
    """Queue what needs the study's winner (once the study is done)."""
    short, long, seeds = state["short"], state["long"], state["seeds"]
    study = state["study"].result()
    state["study_record"] = study
    winner = autolr.ScheduleSpec.from_json(study["winner"])
    path, info = exported_path(winner, long.total_steps, folder, name)
    state["export"] = info
    stretched_spec = winner.with_total_steps(long.total_steps)
    specs = state["specs"]
    specs[("transferred", 1)] = winner
    specs[("transferred", STRETCH)] = stretched_spec
    specs[("cosine_winner_lr", 1)] = cosine(short, winner.lr)
    specs[("cosine_winner_lr", STRETCH)] = cosine(long, winner.lr)
    keys = state["keys"]
    for arm in ("transferred", "cosine_winner_lr"):
        keys[(arm, 1)] = [pool.train(name, args.size, 1, specs[(arm, 1)], s) for s in seeds]
    keys[("transferred", STRETCH)] = [
        pool.train(name, args.size, STRETCH, stretched_spec, s, path) for s in seeds]
    keys[("cosine_winner_lr", STRETCH)] = [
        pool.train(name, args.size, STRETCH, specs[("cosine_winner_lr", STRETCH)], s)
        for s in seeds]
    if path is not None:  # the same run through with_total_steps: does the exported path agree?
        state["check_key"] = pool.train(name, args.size, STRETCH, stretched_spec, seeds[0])


def run_workload_phase_c(pool: Pool, name: str, args: argparse.Namespace,
                         state: dict[str, Any]) -> None:
    """Queue the swept cosine's runs (once the sweep is done)."""
    long, seeds, specs, keys = state["long"], state["seeds"], state["specs"], state["keys"]
    sweep = [(lr, pool.result(key)["value"]) for lr, key in state["sweep"]]
    valued = [(lr, v) for lr, v in sweep if math.isfinite(v)]
    best_lr = min(valued, key=lambda item: item[1])[0] if valued else long.base_lr
    state["sweep_values"] = sweep
    specs[("cosine_swept", STRETCH)] = cosine(long, best_lr)
    keys[("cosine_swept", STRETCH)] = [
        pool.train(name, args.size, STRETCH, specs[("cosine_swept", STRETCH)], s) for s in seeds]


def collect(pool: Pool, name: str, state: dict[str, Any]) -> dict[str, Any]:
    """The workload's record: the study, the export check, every arm at L and 3L, the sweep."""
    from methods import describe

    short, long, seeds = state["short"], state["long"], state["seeds"]
    study = state["study_record"]
    sweep_steps = sum(pool.result(key)["steps"] for _, key in state["sweep"])
    tuning = {"transferred": study["steps"], "cosine_winner_lr": study["steps"],
              "cosine_swept": sweep_steps, "cosine_default_lr": 0, "hand": 0}
    arms: dict[str, Any] = {}
    for arm in ARMS:
        record: dict[str, Any] = {"label": LABELS[arm], "tuning_steps": tuning[arm],
                                  "tuning_long_runs": tuning[arm] / long.total_steps}
        for factor, key_name in ((STRETCH, "long"), (1, "short")):
            if (arm, factor) not in state["keys"]:
                continue
            spec = state["specs"][(arm, factor)]
            results = [pool.result(key) for key in state["keys"][(arm, factor)]]
            record[key_name] = {
                "schedule": describe(spec), "lr": spec.lr, "spec": spec.to_dict(),
                "seeds": list(seeds), **summary([r["value"] for r in results]),
                "steps": sum(r["steps"] for r in results),
                "seconds": sum(r["seconds"] for r in results),
            }
        arms[arm] = record
    if json.dumps(arms["hand"]["long"]["spec"], sort_keys=True) == json.dumps(
            arms["cosine_default_lr"]["long"]["spec"], sort_keys=True):
        arms["hand"]["same_as"] = "cosine_default_lr"
    check = None
    if "check_key" in state:
        a = pool.result(state["keys"][("transferred", STRETCH)][0])["value"]
        b = pool.result(state["check_key"])["value"]
        check = {"seed": seeds[0], "exported": finite(a), "with_total_steps": finite(b),
                 "difference": finite(a - b)}
    state["export"]["same_run_check"] = check
    for key_name in ("long", "short"):
        base = arms["transferred"][key_name]["values"]
        for arm in ARMS:
            if key_name in arms[arm]:
                arms[arm][key_name]["minus_transferred"] = (
                    None if arm == "transferred"
                    else paired(arms[arm][key_name]["values"], base))
    ranking = {}
    for key_name in ("short", "long"):
        means = {arm: arms[arm][key_name]["mean"] for arm in SHORT_ARMS
                 if arms[arm].get(key_name, {}).get("mean") is not None}
        ranking[key_name] = sorted(means, key=lambda arm: means[arm])
    return {
        "title": short.title, "metric": METRICS[name], "optimizer": short.optimizer_name,
        "hand": short.hand_name, "base_lr": short.base_lr,
        "short_steps": short.total_steps, "long_steps": long.total_steps,
        "study": study, "study_long_runs": study["steps"] / long.total_steps,
        "export": state["export"],
        "sweep": {"seed": SWEEP_SEED, "steps": sweep_steps,
                  "points": [{"lr": lr, "value": v if math.isfinite(v) else None}
                             for lr, v in state["sweep_values"]],
                  "best_lr": state["specs"][("cosine_swept", STRETCH)].lr},
        "arms": arms,
        "ranking": ranking,
    }


def autolr_source() -> dict[str, str]:
    """Where the autolr that ran was imported from, and a SHA-256 of its ``.py`` files (names
    and contents, sorted): identifies a working tree that differs from the commit."""
    import hashlib

    root = Path(autolr.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return {"path": str(root), "sha256": digest.hexdigest()[:16]}


# --- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults resolved (workloads, trials, sweep points, size)."""
    parser = cli.make_parser(__doc__)
    cli.add_quick(parser, "smoke run: tiny runs, 8 trials, 2 seeds, 3 sweep points, digits "
                          "and friedman (seconds)")
    cli.add_workloads(parser, f"comma-separated, from {', '.join(WORKLOADS)} (default: all; "
                              "digits,friedman with --quick)")
    parser.add_argument("--trials", type=int, default=None,
                        help="the study's budget, in full runs of L (default 20; 8 with --quick)")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"training seeds per arm, at most {len(EVAL_SEEDS)} (default: "
                             "digits 5, friedman 5, char 3; 2 with --quick)")
    parser.add_argument("--sweep-points", type=int, default=None,
                        help=f"peak LRs of the cosine sweep at {STRETCH}L (default "
                             f"{SWEEP_POINTS}; 3 with --quick)")
    cli.add_seed(parser, "the study seed (default 0)")
    cli.add_jobs(parser, "processes (default 2)", default=2)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder for transfer.json and transfer.md (default "
                             "benchmarks/results)")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="only re-render a transfer.json as transfer.md beside it")
    args = parser.parse_args(argv)
    args.workload_list = cli.workload_list(
        parser, args.workloads, "digits,friedman" if args.quick else ",".join(WORKLOADS),
        WORKLOADS)
    args.trials = args.trials or (8 if args.quick else 20)
    args.sweep_points = args.sweep_points or (3 if args.quick else SWEEP_POINTS)
    if args.seeds is not None and not 2 <= args.seeds <= len(EVAL_SEEDS):
        parser.error(f"--seeds must be 2 to {len(EVAL_SEEDS)}, got {args.seeds}")
    if args.trials < 1 or args.jobs < 1 or args.sweep_points < 1:
        parser.error("--trials, --jobs and --sweep-points must be at least 1")
    args.size = "quick" if args.quick else "cpu"
    return args


def run_workloads(pool: Pool, args: argparse.Namespace, seeds: dict[str, tuple[int, ...]],
                  start: float) -> dict[str, Any]:
    """Every workload's study, its winner's runs, the sweep and the arms, queued as what each
    waits for is done; each workload's record (see :func:`collect`)."""
    order = list(seeds)
    workloads: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="autolr_transfer_") as tmp:
        # the studies first: the runs of their winners wait for them
        studies = {n: pool.submit(study_task, n, args.size, args.trials, args.seed)
                   for n in order}
        states = {n: run_workload_phase_a(pool, n, args, seeds[n]) for n in order}
        for n in order:
            states[n]["study"] = studies[n]
        # (workload, phase) -> the futures it waits for; each phase queues its runs once
        # they are all done, so that the processes never wait on one workload's study
        waiting = {(n, "b"): [states[n]["study"]] for n in order}
        waiting.update({(n, "c"): [pool.runs[key] for _, key in states[n]["sweep"]]
                        for n in order})
        while waiting:
            ready = [job for job, fs in waiting.items() if all(f.done() for f in fs)]
            if not ready:
                futures.wait([f for fs in waiting.values() for f in fs if not f.done()],
                             return_when=futures.FIRST_COMPLETED)
                continue
            for n, phase in ready:
                del waiting[(n, phase)]
                if phase == "b":
                    run_workload_phase_b(pool, n, args, states[n], Path(tmp))
                    print(f"[{time.perf_counter() - start:6.1f}s] {n}: study done, winner "
                          f"{states[n]['study_record']['summary']}; long runs through "
                          f"{states[n]['export']['path']}", flush=True)
                else:
                    run_workload_phase_c(pool, n, args, states[n])
        for n in order:
            workloads[n] = collect(pool, n, states[n])
            t = workloads[n]["arms"]
            print(f"[{time.perf_counter() - start:6.1f}s] {n}: at {STRETCH}L "
                  + ", ".join(f"{arm} {mean_std(t[arm]['long'], 4)}" for arm in ARMS),
                  flush=True)
    return workloads


def main(argv: list[str] | None = None) -> int:
    """Run the studies and every arm's runs and write ``transfer.json`` and ``transfer.md``;
    with ``--render``, only re-render a results file."""
    args = parse_args(argv)
    if args.render is not None:
        write_text(args.render.parent / "transfer.md", render(read_json(args.render)))
        print(f"wrote {args.render.parent / 'transfer.md'}")
        return 0
    start = time.perf_counter()
    warnings.simplefilter("ignore")
    order = sorted(args.workload_list, key=lambda n: -COST[n])
    seeds = {n: EVAL_SEEDS[: args.seeds or (2 if args.quick else DEFAULT_SEEDS[n])]
             for n in order}
    print(f"transfer: {', '.join(order)}; study of {args.trials} runs at L, arms at "
          f"{STRETCH}L and L on {', '.join(f'{n} {len(s)}' for n, s in seeds.items())} seeds; "
          f"{args.jobs} process(es)", flush=True)
    pool = Pool(args.jobs)
    try:
        workloads = run_workloads(pool, args, seeds, start)
    finally:
        pool.close()
    results = {
        "meta": {
            "date": now(),
            "mode": "quick" if args.quick else "full",
            "size": args.size, "stretch": STRETCH, "trials": args.trials, "seed": args.seed,
            "jobs": args.jobs, "sweep_points": args.sweep_points,
            "sweep_range": list(SWEEP_RANGE), "eval_seeds": {n: list(s) for n, s in seeds.items()},
            "wall_s": round(time.perf_counter() - start, 1),
            "machine": machine("cpu"), "versions": versions(), "git": git_commit(),
            "autolr_source": autolr_source(),
            "command": command_line("transfer.py", argv),
        },
        "workloads": {n: workloads[n] for n in args.workload_list},
    }
    write_json(args.out / "transfer.json", results, indent=1, allow_nan=False)
    markdown = render(results)
    write_text(args.out / "transfer.md", markdown)
    print(markdown)
    print(f"wrote {args.out / 'transfer.json'} and transfer.md in "
          f"{results['meta']['wall_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
