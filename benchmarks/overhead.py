"""What autolr costs on top of the training it runs: against a hand-written Optuna loop that
searches the same conditional space.

The hand-written loop is what a user would write to get autolr's search without autolr: one
Optuna study in SQLite with TPE set as autolr sets it (multivariate, grouped, constant liar,
the same start-up trials and, by autolr's own derivation, the same sampler seed), an objective
that samples the family as a categorical, then that family's own parameters, the LR scale and
the warmup through autolr's :class:`~autolr.search.space.SearchSpace` on the plain Optuna trial (so
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

The sides are ``overhead_sides.py``, the fair timing ``overhead_timing.py``, the profiles
``overhead_profile.py`` and the Markdown ``overhead_report.py``; this script runs them in order.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness.files import EXAMPLES, RESULTS, ROOT, write_json, write_text  # noqa: E402
from harness.meta import command_line, machine, now  # noqa: E402

# the digits script is imported by name, and autolr from this checkout
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

from overhead_profile import profile_cli, profile_in_process  # noqa: E402
from overhead_report import render_md  # noqa: E402
from overhead_sides import (  # noqa: E402
    autolr_in_process,
    calibrate,
    cli_autolr,
    cli_hand_written,
    hand_written_loop,
)
from overhead_timing import QUIET_WAIT_S, compare, run_sides  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``api_trial_list`` holds the in-process trial counts (``--quick``
    shrinks the counts and the repeats)."""
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
    args = parser.parse_args(argv)
    args.api_trial_list = [int(n) for n in args.api_trials.split(",") if n.strip()]
    if args.quick:
        args.api_trial_list, args.cli_trials, args.repeats = [4], 6, 1
    return args


class Folders:
    """A fresh numbered folder (or SQLite study in one) under ``root`` for every run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counter = count()

    def fresh(self, name: str) -> Path:
        """A new empty folder named after ``name``."""
        folder = self.root / f"{next(self.counter)}-{name}"
        folder.mkdir()
        return folder

    def db(self, name: str) -> str:
        """The URL of a new SQLite file in a fresh folder."""
        return f"sqlite:///{self.fresh(name) / 'study.db'}"


def _quiet(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with its training's printing swallowed."""
    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return call()
    return run


def in_process(args: argparse.Namespace, epochs: int, folders: Folders) -> dict[str, Any]:
    """The in-process comparison at each trial count: the blocks of ``compare`` by count."""
    with contextlib.redirect_stdout(io.StringIO()):  # one-off costs of every path
        hand_written_loop(3, 1, folders.db("warm"))
        hand_written_loop(3, 1, folders.db("warm"), wal=True)
        autolr_in_process(3, 1, folders.db("warm"))
    blocks = {}
    for n in args.api_trial_list:
        runs = run_sides(args.repeats, {
            "hand_written": _quiet(lambda n=n: hand_written_loop(n, epochs, folders.db("hand"))),
            "hand_written_wal": _quiet(lambda n=n: hand_written_loop(
                n, epochs, folders.db("hand-wal"), wal=True)),
            "autolr": _quiet(lambda n=n: autolr_in_process(n, epochs, folders.db("autolr"))),
        }, args.quiet_wait)
        block = compare(runs, n)
        median = sorted(runs["autolr"], key=lambda r: r["wall_s"])[args.repeats // 2]
        block["autolr_outside_training_ms_per_trial"] = round(
            (median["wall_s"] - median["train_s"]) / n * 1000, 2)
        block["autolr_calls_in_training_ms_per_trial"] = round(
            median["calls_s"] / n * 1000, 2)
        blocks[str(n)] = block
        print(f"in process, {n} trials: {json.dumps(block['median_s'])} "
              f"{json.dumps(block['versus'])}", file=sys.stderr)
    return blocks


def command_line_runs(args: argparse.Namespace, epochs: int, folders: Folders) -> dict[str, Any]:
    """The command-line comparison: ``compare``'s block, with autolr's trials' wall times."""
    n = args.cli_trials
    runs = run_sides(args.repeats, {
        "hand_written": lambda: cli_hand_written(n, epochs, folders.fresh("hand")),
        "hand_written_wal": lambda: cli_hand_written(n, epochs, folders.fresh("hand-wal"),
                                                     wal=True),
        "autolr": lambda: cli_autolr(n, epochs, folders.fresh("autolr")),
    }, args.quiet_wait)
    block = compare(runs, n)
    median = sorted(runs["autolr"], key=lambda r: r["wall_s"])[args.repeats // 2]
    block["autolr_trial_wall_s"] = median["trial_s"]
    print(f"command line, {n} trials: {json.dumps(block['median_s'])} "
          f"{json.dumps(block['versus'])}", file=sys.stderr)
    return block


def main(argv: list[str] | None = None) -> None:
    """Calibrate, run the comparisons and the profiles, and write ``overhead.json`` and
    ``overhead.md`` (a quick run prints the JSON and writes nothing)."""
    args = parse_args(argv)
    api_trials, cli_trials = args.api_trial_list, args.cli_trials

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
        "command": command_line("python benchmarks/overhead.py", argv),
        "date": now(),
        "machine": machine(cpu=platform.processor() or platform.machine()),
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
        folders = Folders(Path(tmp))
        if not args.skip_api:
            result["in_process"]["runs"] = in_process(args, api_epochs, folders)
        if not args.skip_cli:
            result["cli"]["runs"][str(cli_trials)] = command_line_runs(args, cli_epochs, folders)
        if not args.no_profile:
            if not args.skip_api:
                result["profile_in_process"] = profile_in_process(api_trials[0], api_epochs,
                                                                  folders.fresh("profile"))
            if not args.skip_cli:
                result["profile_cli_parent"] = profile_cli(cli_trials, cli_epochs,
                                                           folders.fresh("profile-cli"))
    if args.quick:
        print(json.dumps(result, indent=2) + "\n")
        return
    text = write_json(args.output, result, indent=2)
    write_text(args.output.with_suffix(".md"), render_md(result))
    print(text)


if __name__ == "__main__":
    main()
