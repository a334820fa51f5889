"""What the experiments on the default search share: one replayed default study, and a
resumable measurement of many of them side by side.

``replay_winner_rules.py``, ``replay_own_baseline.py`` and ``replay_regret_parts.py`` each replay
the default search (``search="lr_first"``) on a table with the script's LR shifted as
``replay.py`` shifts it, then score what the study ran in their own way; each finished study is
a line of their output file, so a stopped measurement resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from harness.files import read_lines

_tables: dict[str, Any] = {}  # a worker process loads each table once


def replayed_default(name: str, n: int, seed: int, spread: float, study_name: str,
                     **options: Any) -> tuple[Any, float, Any]:
    """The default search replayed on table ``name`` with the compute of ``n`` full runs and
    search seed ``seed``, the script's LR shifted by up to ``spread`` decades
    (``replay_methods.lr_shift``); ``options`` go to ``autolr.tune``. Returns the table, the
    shift (a factor) and the study's ``TuneResult``."""
    import optuna
    import replay_methods
    from replay_table import load_table

    import autolr

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = _tables.get(name) or _tables.setdefault(name, load_table(name))
    replay_methods.use_portfolio_for(name)
    shift = 10 ** replay_methods.lr_shift(seed, spread)
    result = autolr.tune(replay_methods.replayed_script(table, replay_methods.Cost(), shift),
                         n_trials=n, seed=seed, direction=table.direction,
                         study_name=study_name, **{"search": "lr_first", **options})
    return table, shift, result


def measure_studies(one: Callable[[tuple[Any, ...]], dict[str, Any]], names: list[str],
                    budgets: list[int], studies: int, out: Path, *extra: Any,
                    jobs: int = 2) -> None:
    """``one((workload, budget, seed, *extra))`` for every workload, budget and seed below
    ``studies`` not yet in ``out`` (lines with the keys ``w``, ``n`` and ``seed``), ``jobs`` at
    a time; each line is appended as it finishes."""
    done = {(r["w"], r["n"], r["seed"]) for r in read_lines(out)}
    todo = [(w, n, s, *extra) for w in names for n in budgets for s in range(studies)
            if (w, n, s) not in done]
    print(f"{len(todo)} studies to replay", flush=True)
    with Pool(jobs) as pool, out.open("a", encoding="utf-8") as sink:
        for k, row in enumerate(pool.imap_unordered(one, todo, chunksize=4), 1):
            sink.write(json.dumps(row, separators=(",", ":")) + "\n")
            sink.flush()
            if k % 50 == 0:
                print(f"  {k}/{len(todo)}", flush=True)


def command(one: Callable[[tuple[Any, ...]], dict[str, Any]],
            summary: Callable[[Path], str], usage: str) -> None:
    """The command line of an experiment on the default search: ``measure WORKLOADS BUDGETS
    STUDIES OUT`` replays what ``OUT`` lacks through ``one`` (:func:`measure_studies`),
    ``summary OUT`` prints ``summary(OUT)``; anything else exits with ``usage``."""
    argv = sys.argv
    if len(argv) == 6 and argv[1] == "measure":
        try:
            budgets = [int(b) for b in argv[3].split(",")]
            studies = int(argv[4])
        except ValueError:
            raise SystemExit(f"BUDGETS must be whole numbers separated by commas and STUDIES a "
                             f"whole number; got {argv[3]!r} and {argv[4]!r}. For example: "
                             f"measure digits,char 10,20 50 OUT.jsonl") from None
        measure_studies(one, argv[2].split(","), budgets, studies, Path(argv[5]))
    elif len(argv) == 3 and argv[1] == "summary":
        print(summary(Path(argv[2])))
    else:
        raise SystemExit(usage)
