"""The two sides ``overhead.py`` compares: autolr's full search and a hand-written Optuna loop
over the same conditional space, each in process and as a command from a fresh process, and the
calibration that sizes their trials.

Both sides sample autolr's default space with the LR range fixed, TPE set as autolr sets it and
the same seeds, so they draw the same configurations and train the same runs of the digits MLP
(``examples/digits_mlp.py``, which must be importable: ``overhead.py`` puts ``examples/`` on the
path). Times are wall seconds (``time.perf_counter``), the calibration's in milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from harness.files import EXAMPLES, ROOT

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
from autolr.search.space import DEFAULT_LR_SCALE, SearchSpace

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


# --- sizing the trials --------------------------------------------------------------------------


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
