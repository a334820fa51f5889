"""What autolr costs on top of the training it runs, and how its workers scale.

1. ``autolr.tune`` against a hand-written Optuna loop running the same training in the same
   process: wall-time ratio (goal <= 1.05).
2. ``autolr tune examples/digits_mlp.py`` (worker processes, start-up included) against the same
   trials in a hand-written in-process Optuna loop: ratio (goal <= 1.15) and overhead per trial.
3. ``--workers 2`` against ``--workers 1``, beside the machine's own limit measured in the same
   run: the same training split over two plain Python processes against one process.
4. The fidelity ladder (autolr's default search) at the same compute, ``n_trials`` of the
   measurements above: many shorter runs instead of 20 full ones. Bookkeeping per run, in
   process: the study's wall time minus the time inside the training function, over its runs,
   next to the same figure for the full search; and the CLI's wall time for the ladder against
   the full search's.

Measurements 1-3 use the full search (``search="full"``) without pruning, so every trial trains
for the same number of steps.

    python benchmarks/overhead.py            # 20 trials, writes benchmarks/results/overhead.json
    python benchmarks/overhead.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(EXAMPLES))


def _digits(epochs: int):
    import digits_mlp

    return lambda: digits_mlp.train(epochs=epochs)


def hand_written_loop(n_trials: int, epochs: int, seed: int = 0) -> float:
    """What a user writes today: an Optuna objective with a cosine schedule and a tuned LR."""
    import digits_mlp
    import optuna
    import torch
    from sklearn.datasets import load_digits  # noqa: F401 - same imports as the script
    from torch import nn

    def objective(trial: optuna.Trial) -> float:
        torch.manual_seed(trial.number)
        lr = trial.suggest_float("lr", 0.005, 0.5, log=True)
        x_train, y_train, x_val, y_val = digits_mlp.load_data()
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        batches = (len(x_train) + 63) // 64
        total = epochs * batches
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total))
        )
        val_loss = math.nan
        for epoch in range(epochs):
            order = torch.randperm(len(x_train))
            for i in range(batches):
                idx = order[i * 64 : (i + 1) * 64]
                loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
            with torch.no_grad():
                val_loss = nn.functional.cross_entropy(model(x_val), y_val).item()
            print(f"epoch {epoch + 1}/{epochs}  val_loss {val_loss:.4f}")
            trial.report(val_loss, epoch)
        return val_loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    return time.perf_counter() - start


def autolr_study(n_trials: int, epochs: int, search: str, seed: int = 0) -> dict[str, float]:
    """``autolr.tune`` in process: ``search="full"`` without pruning, or the fidelity ladder.

    Returns the wall time, the time inside the training function, the part of it spent inside
    ``autolr.scheduler`` and ``autolr.report`` (in process, a trial's schedule is sampled when
    the script asks for its scheduler, and a report is where a run is pruned or ends at its
    rung: that is the study's bookkeeping, not training), the runs and their recorded steps.
    """
    import optuna

    import autolr

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fn = _digits(epochs)
    inside = {"runs": 0, "train_s": 0.0, "autolr_s": 0.0}

    def timed(call):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                inside["autolr_s"] += time.perf_counter() - start
        return wrapper

    def train() -> float:
        inside["runs"] += 1
        start = time.perf_counter()
        try:
            return fn()
        finally:
            inside["train_s"] += time.perf_counter() - start

    options = {"search": "full", "pruner": "none"} if search == "full" else {"search": "ladder"}
    calls = {"scheduler": autolr.scheduler, "report": autolr.report}
    for name, call in calls.items():  # the script looks them up on the module at each call
        setattr(autolr, name, timed(call))
    try:
        start = time.perf_counter()
        result = autolr.tune(train, n_trials=n_trials, seed=seed, **options)
        wall = time.perf_counter() - start
    finally:
        for name, call in calls.items():
            setattr(autolr, name, call)
    trials = result.study.get_trials(deepcopy=False)
    steps = sum(int(t.user_attrs.get("steps", 0)) for t in trials)
    return {"wall_s": wall, "train_s": inside["train_s"] - inside["autolr_s"],
            "autolr_calls_s": inside["autolr_s"], "runs": inside["runs"], "steps": steps}


def autolr_api(n_trials: int, epochs: int, seed: int = 0) -> float:
    return autolr_study(n_trials, epochs, "full", seed)["wall_s"]


def autolr_cli_study(
    n_trials: int, epochs: int, workers: int, search: str = "full", seed: int = 0
) -> dict[str, float]:
    """``autolr tune`` on the script (start-up included); the wall time and the runs."""
    import optuna

    options = ["--search", "full", "--pruner", "none"] if search == "full" else [
        "--search", "ladder"]
    with tempfile.TemporaryDirectory() as folder:
        storage = f"sqlite:///{Path(folder) / 'overhead.db'}"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "autolr", "tune", str(EXAMPLES / "digits_mlp.py"),
             "--trials", str(n_trials), *options, "--seed", str(seed),
             "--workers", str(workers), "--study", "overhead", "--storage", storage,
             "--", "--epochs", str(epochs)],
            cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name="overhead", storage=storage)
        runs = len(study.get_trials(deepcopy=False))
        del study
    return {"wall_s": wall, "runs": runs}


def autolr_cli(n_trials: int, epochs: int, workers: int, seed: int = 0) -> float:
    return autolr_cli_study(n_trials, epochs, workers, "full", seed)["wall_s"]


def _bookkeeping(measure: dict[str, float]) -> dict[str, float]:
    """Wall time minus the training (the time inside the training function, less autolr's calls
    there), per run and as a share of the training."""
    extra = measure["wall_s"] - measure["train_s"]
    return {
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in measure.items()},
        "bookkeeping_ms_per_run": round(extra / measure["runs"] * 1000, 2),
        "bookkeeping_share": round(extra / measure["train_s"], 4),
    }


_PLAIN = """
import sys, time
sys.path.insert(0, {examples!r})
import torch
torch.set_num_threads({threads})
import digits_mlp
for i in range({runs}):
    torch.manual_seed(i)
    digits_mlp.train(epochs={epochs})
"""


def plain_processes(n_trials: int, epochs: int, processes: int) -> float:
    """The machine's own limit: the same runs split over plain Python processes."""
    cores = os.cpu_count() or 1
    threads = max(1, cores // processes)
    share = [n_trials // processes + (i < n_trials % processes) for i in range(processes)]
    start = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", _PLAIN.format(examples=str(EXAMPLES), threads=threads,
                                                 runs=runs, epochs=epochs)],
            stdout=subprocess.DEVNULL,
        )
        for runs in share
    ]
    for process in running:
        if process.wait() != 0:
            raise RuntimeError("a plain training process failed")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (4 trials, 2 epochs)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant (median)")
    parser.add_argument("--output", type=Path, default=RESULTS / "overhead.json")
    args = parser.parse_args()
    trials, epochs = (4, 2) if args.quick else (args.trials, args.epochs)
    if args.quick:
        args.repeats = 1

    import optuna
    import torch

    # torch's first training in a process pays a one-off start-up (kernels, thread pools); pay
    # it before timing the in-process loops, as the subprocess variants pay theirs inside.
    with contextlib.redirect_stdout(io.StringIO()):
        _digits(epochs)()

    def median(measure, *a, **k) -> float:
        return statistics.median(measure(*a, **k) for _ in range(args.repeats))

    def median_run(measure, *a, **k) -> dict[str, float]:
        """The repeat with the median wall time (all its figures from that one run)."""
        runs = sorted((measure(*a, **k) for _ in range(args.repeats)),
                      key=lambda r: r["wall_s"])
        return runs[len(runs) // 2]

    with contextlib.redirect_stdout(io.StringIO()):
        hand = median(hand_written_loop, trials, epochs)
        api = median(autolr_api, trials, epochs)
        full_in = median_run(autolr_study, trials, epochs, "full")
        ladder_in = median_run(autolr_study, trials, epochs, "ladder")
    cli1 = median(autolr_cli, trials, epochs, workers=1)
    cli2 = median(autolr_cli, trials, epochs, workers=2)
    cli_ladder = median_run(autolr_cli_study, trials, epochs, 1, "ladder")
    extra_runs = cli_ladder["runs"] - trials
    # what the ladder's extra runs cost inside the script beyond its steps (loading the data,
    # building the model): its training time over the full search's, per extra run
    per_step = full_in["train_s"] / full_in["steps"]
    script_extra = ladder_in["train_s"] - per_step * ladder_in["steps"]
    in_extra = ladder_in["runs"] - full_in["runs"]
    plain1 = median(plain_processes, trials, epochs, 1)
    plain2 = median(plain_processes, trials, epochs, 2)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "trials": trials,
        "epochs": epochs,
        "repeats": args.repeats,
        "seconds": {
            "hand_written_optuna_loop": round(hand, 2),
            "autolr_tune_api": round(api, 2),
            "autolr_tune_cli_1_worker": round(cli1, 2),
            "autolr_tune_cli_2_workers": round(cli2, 2),
            "plain_1_process": round(plain1, 2),
            "plain_2_processes": round(plain2, 2),
        },
        "api_over_hand_written": round(api / hand, 3),
        "cli_over_hand_written": round(cli1 / hand, 3),
        "cli_overhead_ms_per_trial": round((cli1 - hand) / trials * 1000, 1),
        "api_overhead_ms_per_trial": round((api - hand) / trials * 1000, 1),
        "workers_2_over_1": round(cli2 / cli1, 3),
        "machine_limit_2_over_1": round(plain2 / plain1, 3),
        "workers_vs_limit": round((cli2 / cli1) / (plain2 / plain1), 3),
        "ladder": {
            "full": _bookkeeping(full_in),
            "ladder": _bookkeeping(ladder_in),
            "ladder_over_full_wall": round(ladder_in["wall_s"] / full_in["wall_s"], 3),
            "script_ms_per_extra_run": (round(script_extra / in_extra * 1000, 1)
                                        if in_extra > 0 else None),
            "cli": {
                "runs": cli_ladder["runs"],
                "ladder_s": round(cli_ladder["wall_s"], 2),
                "full_s": round(cli1, 2),
                "extra_ms_per_extra_run": (
                    round((cli_ladder["wall_s"] - cli1) / extra_runs * 1000, 1)
                    if extra_runs > 0 else None
                ),
            },
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
