"""What autolr costs on top of the training it runs: against a hand-written Optuna loop that
searches the same conditional space.

The hand-written loop is what a user would write to get autolr's search without autolr: one
Optuna study in SQLite with TPE set as autolr sets it (multivariate, grouped, constant liar,
the same start-up trials and, by autolr's own derivation, the same sampler seed), an objective
that samples the family as a categorical, then that family's own parameters, the LR scale and
the warmup through autolr's :class:`~autolr.space.SearchSpace` on the plain Optuna trial (so
the names, ranges and conditions are autolr's), builds the sampled schedule with the same
scheduler (``ScheduleSpec.build``), seeds each trial as autolr does, trains the digits MLP of
``examples/digits_mlp.py`` and reports the validation loss after each epoch (``trial.report``,
stored). Both sides run without a pruner and without autolr's extras (``search="full",
pruner="none", confirm=0, baselines=False``) and with the LR range fixed (autolr would widen
it at an edge and then draw other trials), so they sample the same configurations and train
the same runs; the results say how many matched. The loop runs twice: on Optuna's default
SQLite (what ``storage="sqlite:///x.db"`` gives) and on SQLite opened as autolr opens it (WAL,
synchronous=NORMAL), the stricter comparison.

1. In process, trials of about 60 ms of training: ``autolr.tune`` against the loop in the same
   process (torch warmed up first, one torch thread on both sides by default), at 20 and at 60
   trials. Goal: wall time within 5%.
2. The command line, trials of about 0.4 s of training, start-up included: ``autolr tune
   examples/digits_mlp.py`` (its parent process and one worker process) against the loop as a
   script, ``python handwritten.py``, doing the same trials in one process. Goal: within 5%.
3. Where autolr's time goes: its time outside the training function per trial (in process),
   and cProfile of the study's process (autolr and the loop in process, the CLI's parent): the
   top functions inside autolr, Optuna and SQLAlchemy by cumulative time (the training, or
   the waits for the worker, left out) and Optuna's storage calls per trial.

Each comparison runs the sides in turns, ``--repeats`` times each (medians), each run after
waiting (``--quiet-wait``) for the machine's other processes to go quiet; every run records
the CPU the machine's other processes used meanwhile, and the goal is judged on the rounds
where none did. The epochs for each trial length are calibrated on the machine first.

    python benchmarks/overhead.py            # -> benchmarks/results/overhead.json and .md
    python benchmarks/overhead.py --quick    # a smoke run (a minute), written nowhere
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

GOAL = 1.05
BASE_LR = 0.05  # digits_mlp's own LR: autolr's LR scale is relative to it
LR_BOUNDS = (0.1 * BASE_LR, 10 * BASE_LR)  # autolr's default range, fixed (never widened)

# The hand-written script of the command-line comparison, as a user would write it: one
# process, one Optuna study in SQLite, autolr's search space sampled on a plain Optuna trial.
HAND_WRITTEN_SCRIPT = '''
"""A hand-written Optuna study over autolr's search space, on the digits MLP."""
import argparse, math, random, sys, warnings
sys.path.insert(0, {examples!r})

import numpy
import optuna
import torch
from torch import nn

import digits_mlp
from autolr.schedules.registry import families
from autolr.space import DEFAULT_LR_SCALE, SearchSpace

parser = argparse.ArgumentParser()
parser.add_argument("--trials", type=int, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--storage", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--wal", action="store_true",
                    help="SQLite in WAL mode with synchronous=NORMAL, as autolr opens it")
args = parser.parse_args()

# autolr's default space; the LR range fixed as --lr fixes it for autolr (which would otherwise
# widen it when the best trials sit at an edge, and then sample other trials than this loop)
space = SearchSpace(families=tuple(families(builtin=True)), lr_scale=DEFAULT_LR_SCALE,
                    warmup=True, direction="minimize", lr_bounds={lr_bounds!r})


def trial_seed(study_seed, number):  # autolr's derivation, so both sides draw the same seeds
    return int(numpy.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)


def objective(trial):
    seed = trial_seed(args.seed, trial.number)
    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    x_train, y_train, x_val, y_val = digits_mlp.load_data()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr={base_lr!r}, momentum=0.9)
    batches = (len(x_train) + 63) // 64
    spec = space.sample(trial, {base_lr!r}, args.epochs * batches)
    last = [0, None]  # reports so far and the last value: the plateau family reads them
    scheduler = spec.build(optimizer, metric_source=lambda: (last[0], last[1]))
    val_loss = math.nan
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(batches):
            idx = order[i * 64 : (i + 1) * 64]
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = nn.functional.cross_entropy(logits, y_val).item()
            accuracy = (logits.argmax(1) == y_val).float().mean().item()
        last[0] += 1
        last[1] = val_loss
        trial.report(val_loss, epoch)
        print(f"epoch {{epoch + 1}}/{{args.epochs}}  val_loss {{val_loss:.4f}}  "
              f"accuracy {{accuracy:.3f}}")
    return val_loss


optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # group=True
sampler = optuna.samplers.TPESampler(
    multivariate=True, group=True, constant_liar=True, seed=trial_seed(args.seed, 10**6),
    n_startup_trials=max(4, min(10, args.trials // 3)),
)
storage = args.storage
if args.wal:
    storage = optuna.storages.RDBStorage(storage)
    from sqlalchemy import event

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()
study = optuna.create_study(storage=storage, study_name="hand_written", sampler=sampler,
                            direction="minimize")
study.optimize(objective, n_trials=args.trials)
best = study.best_trial
print(f"best trial {{best.number}}: {{best.value:.4f}} {{best.params}}")
'''


# --- the hand-written loop, in process ---------------------------------------------------------


def _script_globals() -> dict[str, Any]:
    """The hand-written script's definitions, for the in-process loop (its ``objective``)."""
    source = HAND_WRITTEN_SCRIPT.format(examples=str(EXAMPLES), base_lr=BASE_LR,
                                        lr_bounds=LR_BOUNDS)
    head, _, _ = source.partition("\noptuna.logging.set_verbosity")
    namespace: dict[str, Any] = {"__name__": "hand_written"}
    saved = sys.argv
    sys.argv = ["hand_written", "--trials", "0", "--epochs", "1", "--storage", "unused"]
    try:
        exec(compile(head, "hand_written", "exec"), namespace)  # our own text
    finally:
        sys.argv = saved
    return namespace


def _wal_storage(url: str) -> Any:
    """Optuna's SQLite storage in WAL mode with synchronous=NORMAL (how autolr opens it)."""
    import optuna
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(url)

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()
    return storage


def hand_written_loop(n_trials: int, epochs: int, url: str, *, wal: bool = False,
                      seed: int = 0) -> dict[str, Any]:
    """The hand-written loop in this process; its wall time (opening the study included)."""
    import optuna

    from autolr.tuner import trial_seed

    namespace = _script_globals()
    namespace["args"].epochs = epochs
    namespace["args"].seed = seed
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # group=True
    start = time.perf_counter()
    sampler = optuna.samplers.TPESampler(
        multivariate=True, group=True, constant_liar=True, seed=trial_seed(seed, 10**6),
        n_startup_trials=max(4, min(10, n_trials // 3)),
    )
    storage = _wal_storage(url) if wal else url
    study = optuna.create_study(storage=storage, study_name="hand_written", sampler=sampler,
                                direction="minimize")
    study.optimize(namespace["objective"], n_trials=n_trials)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "params": [t.params for t in study.get_trials(deepcopy=False)]}


# --- autolr, in process -----------------------------------------------------------------------


def autolr_in_process(n_trials: int, epochs: int, url: str, seed: int = 0) -> dict[str, Any]:
    """``autolr.tune`` on the digits script's ``train``: the wall time, the time inside the
    training function less autolr's calls there, and the time in those calls
    (``autolr.scheduler``, where the schedule is sampled, and ``autolr.report``)."""
    import digits_mlp
    import optuna

    import autolr

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    inside = {"train_s": 0.0, "calls_s": 0.0}

    def timed(call: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                inside["calls_s"] += time.perf_counter() - start
        return wrapper

    def train() -> float:
        start = time.perf_counter()
        try:
            return digits_mlp.train(epochs=epochs)
        finally:
            inside["train_s"] += time.perf_counter() - start

    calls = {"scheduler": autolr.scheduler, "report": autolr.report}
    for name, call in calls.items():  # the script looks them up on the module at each call
        setattr(autolr, name, timed(call))
    try:
        start = time.perf_counter()
        result = autolr.tune(train, n_trials=n_trials, seed=seed, storage=url,
                             study_name="overhead", search="full", pruner="none", confirm=0,
                             baselines=False, lr=LR_BOUNDS)
        wall = time.perf_counter() - start
    finally:
        for name, call in calls.items():
            setattr(autolr, name, call)
    trials = result.study.get_trials(deepcopy=False)
    return {"wall_s": wall, "train_s": inside["train_s"] - inside["calls_s"],
            "calls_s": inside["calls_s"], "params": [t.params for t in trials]}


# --- the command line ---------------------------------------------------------------------------


def _cli_command(n_trials: int, epochs: int, url: str, seed: int) -> list[str]:
    return [
        "-m", "autolr", "tune", str(EXAMPLES / "digits_mlp.py"), "--trials", str(n_trials),
        "--search", "full", "--pruner", "none", "--no-baselines", "--confirm", "0", "--lr",
        f"{LR_BOUNDS[0]!r}:{LR_BOUNDS[1]!r}", "--seed", str(seed), "--workers", "1",
        "--study", "overhead", "--storage", url, "--", "--epochs", str(epochs),
    ]


def cli_autolr(n_trials: int, epochs: int, folder: Path, seed: int = 0,
               profile: Path | None = None) -> dict[str, Any]:
    """``autolr tune examples/digits_mlp.py`` from a fresh process: wall time, start-up
    included; with ``profile``, the parent runs under cProfile writing there."""
    import optuna

    url = f"sqlite:///{folder / 'autolr.db'}"
    head = [sys.executable]
    if profile is not None:
        head += ["-m", "cProfile", "-o", str(profile)]
    start = time.perf_counter()
    subprocess.run([*head, *_cli_command(n_trials, epochs, url, seed)], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="overhead", storage=url)
    trials = study.get_trials(deepcopy=False)
    return {"wall_s": wall, "params": [t.params for t in trials],
            "trial_s": [t.user_attrs.get("wall_time_s") for t in trials]}


def cli_hand_written(n_trials: int, epochs: int, folder: Path, *, wal: bool = False,
                     seed: int = 0) -> dict[str, Any]:
    """``python handwritten.py``: the same trials in one fresh process, start-up included."""
    import optuna

    script = folder / "handwritten.py"
    script.write_text(HAND_WRITTEN_SCRIPT.format(examples=str(EXAMPLES), base_lr=BASE_LR,
                                                 lr_bounds=LR_BOUNDS))
    url = f"sqlite:///{folder / 'hand.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    command = [sys.executable, str(script), "--trials", str(n_trials), "--epochs", str(epochs),
               "--storage", url, "--seed", str(seed), *(["--wal"] if wal else [])]
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="hand_written", storage=url)
    return {"wall_s": wall, "params": [t.params for t in study.get_trials(deepcopy=False)]}


# --- measuring ----------------------------------------------------------------------------------


def calibrate(target_ms: float, *, probe: tuple[int, int] = (1, 8)) -> tuple[int, float, float]:
    """The digits epochs whose run takes about ``target_ms`` here (the fastest of 9 runs at two
    lengths, a line through them, after two runs that warm torch up): ``(epochs, ms_fixed,
    ms_per_epoch)``."""
    import digits_mlp

    def run_ms(epochs: int, repeats: int = 9) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                digits_mlp.train(epochs=epochs)
            times.append((time.perf_counter() - start) * 1000)
        return min(times)

    run_ms(probe[1], 2)
    low, high = probe
    t_low, t_high = run_ms(low), run_ms(high)
    per_epoch = max(1e-3, (t_high - t_low) / (high - low))
    fixed = max(0.0, t_low - per_epoch * low)
    return max(1, round((target_ms - fixed) / per_epoch)), fixed, per_epoch


def _busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, cores: float = 0.15) -> float:
    """Wait (at most ``limit_s``) until the machine's other processes use under ``cores`` cores
    for a second; returns the seconds waited (this process idles meanwhile)."""
    start = time.perf_counter()
    quiet = 0
    while quiet < 2 and time.perf_counter() - start < limit_s:
        before = _busy_s()
        time.sleep(0.5)
        after = _busy_s()
        if before is None or after is None:
            break
        quiet = quiet + 1 if (after - before) / 0.5 < cores else 0
    return time.perf_counter() - start


QUIET_WAIT_S = 30.0  # --quiet-wait: how long each run may wait for a quiet machine
QUIET_CORES = 0.25  # a run is undisturbed when other processes used less CPU than this


def measured(call: Any) -> dict[str, Any]:
    """``call()``'s result with ``other_load_cores``: the CPU the machine's other processes
    used meanwhile, in cores on average (this process and the children it waited for left
    out; None where it cannot be told), after waiting for the machine to be quiet."""
    waited = wait_quiet(QUIET_WAIT_S) if QUIET_WAIT_S > 0 else 0.0
    busy, own, start = _busy_s(), sum(os.times()[:4]), time.perf_counter()
    result = call()
    wall = time.perf_counter() - start
    after = _busy_s()
    cpu = sum(os.times()[:4]) - own
    other = None
    if busy is not None and after is not None:
        other = round(max(0.0, (after - busy) - cpu) / wall, 2)
    return {**result, "cpu_s": cpu, "other_load_cores": other,
            "waited_for_quiet_s": round(waited, 1)}


def run_sides(repeats: int, sides: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each side ``repeats`` times, in turns (the order rotating), so that a slow patch of the
    machine does not fall on one side only."""
    names = list(sides)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            runs[name].append(measured(sides[name]))
    return runs


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """How many trials, in order, sampled the same parameters on both sides."""
    n = 0
    for x, y in zip(a, b):
        if x.keys() != y.keys() or any(
            (abs(x[k] - y[k]) > 1e-12 * max(1.0, abs(x[k])))
            if isinstance(x[k], float) else x[k] != y[k] for k in x
        ):
            break
        n += 1
    return n


def compare(runs: dict[str, list[dict[str, Any]]], n_trials: int) -> dict[str, Any]:
    """Wall times of every side, and autolr against each hand-written variant."""
    walls = {name: [r["wall_s"] for r in rs] for name, rs in runs.items()}
    medians = {name: statistics.median(w) for name, w in walls.items()}
    block: dict[str, Any] = {
        "trials": n_trials,
        "seconds": {name: [round(x, 3) for x in w] for name, w in walls.items()},
        "median_s": {name: round(m, 3) for name, m in medians.items()},
        "min_s": {name: round(min(w), 3) for name, w in walls.items()},
        # CPU time of the side's processes (this one, or the children it waited for): less
        # disturbed by other work on the machine than wall time, and what bookkeeping costs
        "cpu_median_s": {name: round(statistics.median(r["cpu_s"] for r in rs), 3)
                         for name, rs in runs.items()},
        "other_load_cores": {name: [r["other_load_cores"] for r in rs]
                             for name, rs in runs.items()},
        "versus": {},
    }
    # a round (one run of each side) is quiet when no side shared the machine with over
    # QUIET_CORES of other work: the ratios over quiet rounds only are the least disturbed
    rounds = list(zip(*runs.values()))
    quiet = [i for i, round_ in enumerate(rounds)
             if all((r["other_load_cores"] or 0.0) < QUIET_CORES for r in round_)]
    block["quiet_rounds"] = len(quiet)
    tool = walls["autolr"]
    for name in runs:
        if name == "autolr":
            continue
        hand = walls[name]
        pairs = [t / h for t, h in zip(tool, hand)]
        ratio = medians["autolr"] / medians[name]
        quiet_ratio = (statistics.median(tool[i] for i in quiet)
                       / statistics.median(hand[i] for i in quiet)) if quiet else None
        block["versus"][name] = {
            "ratio_of_medians": round(ratio, 4),
            "ratio_of_medians_quiet_rounds": None if quiet_ratio is None else round(
                quiet_ratio, 4),
            "ratio_of_minimums": round(min(tool) / min(hand), 4),
            "cpu_ratio_of_medians": round(
                statistics.median(r["cpu_s"] for r in runs["autolr"])
                / statistics.median(r["cpu_s"] for r in runs[name]), 4),
            "ratio_per_repeat": [round(r, 4) for r in pairs],
            "extra_ms_per_trial": round((medians["autolr"] - medians[name]) / n_trials * 1000,
                                        1),
            "same_configurations": min(_same(a["params"], b["params"])
                                       for a, b in zip(runs[name], runs["autolr"])),
            "goal": GOAL,
            # judged on the quiet rounds when there are two or more, else on all of them
            "goal_judged_on": "quiet rounds" if len(quiet) >= 2 else "all rounds",
            "goal_met": (quiet_ratio if len(quiet) >= 2 else ratio) <= GOAL,
        }
    return block


# --- profiles -----------------------------------------------------------------------------------

_PACKAGES = ("autolr", "optuna", "sqlalchemy")
# Optuna's storage calls, by what they do (each write is one transaction)
_STORAGE_CALLS = ("set_trial_user_attr", "set_trial_intermediate_value", "set_trial_param",
                  "set_trial_state_values", "create_new_trial", "get_all_trials", "get_trial",
                  "set_study_user_attr")


def _package(filename: str) -> str | None:
    parts = Path(filename).parts
    for name in _PACKAGES:
        if name in parts:
            return name
    return None


def profile_summary(stats: pstats.Stats, left_out: tuple[tuple[str, str], ...], trials: int,
                    top: int = 25) -> dict[str, Any]:
    """The top functions inside autolr, Optuna and SQLAlchemy by cumulative time, leaving out
    the functions ``left_out`` (``(file name ending, function name)``: the training, or the
    waits for a worker) and their callers (whose time is theirs); and Optuna's storage calls,
    per trial."""
    raw = stats.stats  # type: ignore[attr-defined]
    out_keys = {k for k in raw
                if any(k[0].endswith(end) and k[2] == name for end, name in left_out)}
    # their callers, followed through autolr's, Optuna's and this benchmark's own functions
    # only: pstats links functions, not call paths, and a shared function (a builtin, a
    # library's helper) would make everything an ancestor
    def followed(key: Any) -> bool:
        parts = Path(key[0]).parts
        return (any(name in parts for name in ("autolr", "optuna", "click"))
                or key[0] in (__file__, "hand_written", "<string>")
                or key[0].endswith(("runpy>", "runpy.py")))
    ancestors: set[Any] = set()
    frontier = list(out_keys)
    while frontier:
        key = frontier.pop()
        for caller in raw.get(key, (0, 0, 0, 0, {}))[4]:
            if caller not in ancestors and followed(caller):
                ancestors.add(caller)
                frontier.append(caller)
    rows = []
    for key, (_, nc, _tt, ct, _) in raw.items():
        package = _package(key[0])
        if package is None or key in ancestors or key in out_keys:
            continue
        where = key[0].split(f"{os.sep}{package}{os.sep}", 1)[-1]
        rows.append({"function": f"{package}/{where}:{key[1]}({key[2]})", "calls": nc,
                     "cumulative_ms": round(ct * 1000, 1),
                     "ms_per_trial": round(ct * 1000 / trials, 2)})
    rows.sort(key=lambda r: -r["cumulative_ms"])
    storage: dict[str, dict[str, float]] = {}
    for key, (_, nc, _, ct, _) in raw.items():
        if key[2] in _STORAGE_CALLS and key[0].endswith(os.path.join("_rdb", "storage.py")):
            storage[key[2]] = {"calls_per_trial": round(nc / trials, 2),
                               "ms_per_trial": round(ct * 1000 / trials, 2)}
    return {"top_cumulative": rows[:top], "storage_calls": storage,
            "profiled_s": round(stats.total_tt, 3)}  # type: ignore[attr-defined]


def profile_in_process(n_trials: int, epochs: int, folder: Path) -> dict[str, Any]:
    """cProfile of ``autolr.tune`` and of the hand-written loop, in this process."""
    result = {}
    for name in ("autolr", "hand_written_wal"):
        profiler = cProfile.Profile()
        url = f"sqlite:///{folder / f'profile-{name}.db'}"
        with contextlib.redirect_stdout(io.StringIO()):
            profiler.enable()
            if name == "autolr":
                measure = autolr_in_process(n_trials, epochs, url)
            else:
                measure = hand_written_loop(n_trials, epochs, url, wal=True)
            profiler.disable()
        summary = profile_summary(pstats.Stats(profiler), (("digits_mlp.py", "train"),
                                                           ("hand_written", "objective")),
                                  n_trials)
        summary["wall_s"] = round(measure["wall_s"], 3)
        result[name] = summary
    result["note"] = ("under cProfile (which slows Python code two- to threefold); cumulative "
                      "times outside the training function (its callers left out) and of what "
                      "runs inside it on the study's behalf (sampling, reports)")
    return result


def profile_cli(n_trials: int, epochs: int, folder: Path) -> dict[str, Any]:
    path = folder / "cli.prof"
    measure = cli_autolr(n_trials, epochs, folder, profile=path)
    # in the parent, a trial's time is spent waiting for its worker: leave the waits out
    waits = ((os.path.join("multiprocessing", "connection.py"), "wait"),
             ("selectors.py", "select"), ("~", "<method 'poll' of 'select.poll' objects>"))
    summary = profile_summary(pstats.Stats(str(path)), waits, n_trials)
    summary["note"] = ("the autolr tune parent process under cProfile; the waits for the "
                       "worker (multiprocessing wait, select, poll) and their callers left out")
    summary["wall_s"] = round(measure["wall_s"], 3)
    return summary


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    global QUIET_WAIT_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 4 and 6 trials, 1 repeat, written nowhere")
    parser.add_argument("--api-trials", default="20,60",
                        help="in-process trial counts, comma-separated (default 20,60)")
    parser.add_argument("--cli-trials", type=int, default=20)
    parser.add_argument("--api-ms", type=float, default=60.0,
                        help="training per in-process trial, ms (default 60)")
    parser.add_argument("--cli-ms", type=float, default=400.0,
                        help="training per command-line trial, ms (default 400)")
    parser.add_argument("--api-epochs", type=int, help="skip the calibration: these epochs")
    parser.add_argument("--cli-epochs", type=int, help="skip the calibration: these epochs")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--quiet-wait", type=float, default=QUIET_WAIT_S,
                        help="seconds each run may wait for the machine's other processes to "
                             "go under 0.15 cores (0: never wait; default %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the in-process comparison, both sides (default "
                             "1: a tiny model trains as fast, and another process on the "
                             "machine then slows it far less; 0: torch's default)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS / "overhead.json")
    args = parser.parse_args()
    api_trials = [int(n) for n in args.api_trials.split(",") if n.strip()]
    cli_trials = args.cli_trials
    QUIET_WAIT_S = args.quiet_wait
    if args.quick:
        api_trials, cli_trials, args.repeats = [4], 6, 1

    import optuna
    import torch

    # torch's first training in a process pays a one-off start-up (kernels, thread pools): the
    # calibration pays it before the in-process loops; the command-line variants pay theirs.
    # The command line trains with torch's default threads, the in-process loops with --threads.
    default_threads = torch.get_num_threads()
    cli_epochs, cli_fixed, cli_per_epoch = calibrate(args.cli_ms)
    if args.threads:
        torch.set_num_threads(args.threads)
    api_epochs, fixed, per_epoch = calibrate(args.api_ms)
    if args.quick:
        api_epochs, cli_epochs = 1, 2
    api_epochs = args.api_epochs or api_epochs
    cli_epochs = args.cli_epochs or cli_epochs
    api_ms = fixed + per_epoch * api_epochs
    cli_ms = cli_fixed + cli_per_epoch * cli_epochs
    print(f"calibrated: in process {fixed:.1f} ms + {per_epoch:.1f} ms per epoch, "
          f"{api_epochs} epochs (~{api_ms:.0f} ms); command line {cli_fixed:.1f} ms + "
          f"{cli_per_epoch:.1f} ms per epoch, {cli_epochs} epochs (~{cli_ms:.0f} ms)",
          file=sys.stderr)

    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/overhead.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "torch_threads": {"in_process": torch.get_num_threads(),
                          "cli": f"torch's default ({default_threads}) in the hand-written "
                                 "script; autolr's worker: the cores it is given"},
        "repeats": args.repeats,
        "quiet_wait_s": args.quiet_wait,
        "calibration_ms": {"in_process": {"fixed": round(fixed, 1),
                                          "per_epoch": round(per_epoch, 2)},
                           "cli": {"fixed": round(cli_fixed, 1),
                                   "per_epoch": round(cli_per_epoch, 2)}},
        "in_process": {"epochs": api_epochs, "training_ms_per_trial": round(api_ms, 1),
                       "runs": {}},
        "cli": {"epochs": cli_epochs, "training_ms_per_trial": round(cli_ms, 1), "runs": {}},
    }
    with tempfile.TemporaryDirectory(prefix="autolr-overhead-") as tmp:
        root = Path(tmp)
        counter = iter(range(10**6))

        def fresh(name: str) -> Path:
            folder = root / f"{next(counter)}-{name}"
            folder.mkdir()
            return folder

        def db(name: str) -> str:
            return f"sqlite:///{fresh(name) / 'study.db'}"

        if not args.skip_api:
            with contextlib.redirect_stdout(io.StringIO()):  # one-off costs of every path
                hand_written_loop(3, 1, db("warm"))
                hand_written_loop(3, 1, db("warm"), wal=True)
                autolr_in_process(3, 1, db("warm"))
            for n in api_trials:
                def quiet(call: Any) -> Any:
                    def run() -> Any:
                        with contextlib.redirect_stdout(io.StringIO()):
                            return call()
                    return run

                runs = run_sides(args.repeats, {
                    "hand_written": quiet(lambda n=n: hand_written_loop(
                        n, api_epochs, db("hand"))),
                    "hand_written_wal": quiet(lambda n=n: hand_written_loop(
                        n, api_epochs, db("hand-wal"), wal=True)),
                    "autolr": quiet(lambda n=n: autolr_in_process(n, api_epochs, db("autolr"))),
                })
                block = compare(runs, n)
                median = sorted(runs["autolr"], key=lambda r: r["wall_s"])[args.repeats // 2]
                block["autolr_outside_training_ms_per_trial"] = round(
                    (median["wall_s"] - median["train_s"]) / n * 1000, 2)
                block["autolr_calls_in_training_ms_per_trial"] = round(
                    median["calls_s"] / n * 1000, 2)
                result["in_process"]["runs"][str(n)] = block
                print(f"in process, {n} trials: {json.dumps(block['median_s'])} "
                      f"{json.dumps(block['versus'])}", file=sys.stderr)
        if not args.skip_cli:
            runs = run_sides(args.repeats, {
                "hand_written": lambda: cli_hand_written(cli_trials, cli_epochs, fresh("hand")),
                "hand_written_wal": lambda: cli_hand_written(cli_trials, cli_epochs,
                                                             fresh("hand-wal"), wal=True),
                "autolr": lambda: cli_autolr(cli_trials, cli_epochs, fresh("autolr")),
            })
            block = compare(runs, cli_trials)
            median = sorted(runs["autolr"], key=lambda r: r["wall_s"])[args.repeats // 2]
            block["autolr_trial_wall_s"] = median["trial_s"]
            result["cli"]["runs"][str(cli_trials)] = block
            print(f"command line, {cli_trials} trials: {json.dumps(block['median_s'])} "
                  f"{json.dumps(block['versus'])}", file=sys.stderr)
        if not args.no_profile:
            if not args.skip_api:
                result["profile_in_process"] = profile_in_process(api_trials[0], api_epochs,
                                                                  fresh("profile"))
            if not args.skip_cli:
                result["profile_cli_parent"] = profile_cli(cli_trials, cli_epochs,
                                                           fresh("profile-cli"))
    text = json.dumps(result, indent=2) + "\n"
    if args.quick:
        print(text)
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    args.output.with_suffix(".md").write_text(render_md(result))
    print(text)


_LABELS = {"hand_written": "hand-written, Optuna's default SQLite",
           "hand_written_wal": "hand-written, SQLite as autolr opens it (WAL)"}


def comparison_table(result: dict[str, Any]) -> list[str]:
    """The comparisons of ``result`` (overhead.json) as a Markdown table: one row per side
    compared, in process and on the command line (what was run of them)."""
    lines = [
        "| comparison | trials | training / trial | against | autolr s | hand-written s | "
        "ratio (all) | ratio (quiet rounds) | ratio (fastest) | CPU time ratio | "
        "extra ms / trial | same configurations | goal ≤ 1.05 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for where, title in (("in_process", "in process"), ("cli", "command line, start-up "
                                                       "included")):
        part = result.get(where)
        if not part:
            continue
        for n, block in part["runs"].items():
            for name, versus in block["versus"].items():
                quiet = versus["ratio_of_medians_quiet_rounds"]
                quiet_text = "—" if quiet is None else f"{quiet:.3f} ({block['quiet_rounds']})"
                lines.append(
                    f"| {title} ({part['epochs']} epochs) | {n} | "
                    f"{part['training_ms_per_trial']:.0f} ms | {_LABELS[name]} | "
                    f"{block['median_s']['autolr']:.3f} | {block['median_s'][name]:.3f} | "
                    f"{versus['ratio_of_medians']:.3f} | {quiet_text} | "
                    f"{versus['ratio_of_minimums']:.3f} | {versus['cpu_ratio_of_medians']:.3f} | "
                    f"{versus['extra_ms_per_trial']:.1f} | "
                    f"{versus['same_configurations']} of {n} | "
                    f"{'met' if versus['goal_met'] else '**not met**'} |")
    return lines


def render_md(result: dict[str, Any]) -> str:
    """The figures as a short Markdown page (results/overhead.md)."""
    lines = [
        "# autolr's overhead against a hand-written Optuna loop",
        "",
        f"{result['date']}, {result['machine']}; python {result['python']}, torch "
        f"{result['torch']}, optuna {result['optuna']}. {result['repeats']} runs of each side "
        "in turns; medians. Written by `python benchmarks/overhead.py`.",
        "",
        "Ratios are autolr's wall time over the hand-written one's: of the medians over every "
        "round (a round: one run of each side), over the quiet rounds only (no side shared the "
        f"machine with more than {QUIET_CORES} cores of other work), and of the fastest runs. "
        "The goal is judged on the quiet rounds where there are two or more. The CPU time "
        "ratio (of the sides' processes, medians) is less disturbed by other work on the "
        "machine; on the command line it adds the parent's and the worker's CPU, which run "
        "side by side.",
        "",
    ]
    lines += comparison_table(result)
    profiles = [(f"in process, {name}", p) for name, p in
                result.get("profile_in_process", {}).items() if isinstance(p, dict)]
    if result.get("profile_cli_parent"):
        profiles.append(("the `autolr tune` parent process", result["profile_cli_parent"]))
    for title, p in profiles:
        lines += ["", f"## Profile: {title}", "",
                  f"Profiled wall time {p['wall_s']} s. Storage calls per trial: "
                  + ", ".join(f"{k} {v['calls_per_trial']:g} ({v['ms_per_trial']:g} ms)"
                              for k, v in sorted(p["storage_calls"].items())) + ".", "",
                  "| function | calls | cumulative ms | ms / trial |", "| --- | --- | --- | --- |"]
        for row in p["top_cumulative"][:15]:
            lines.append(f"| `{row['function']}` | {row['calls']} | {row['cumulative_ms']} | "
                         f"{row['ms_per_trial']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
