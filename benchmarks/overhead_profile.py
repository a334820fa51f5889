"""Where autolr's time goes in ``overhead.py``: cProfile of the study's process (autolr and
the hand-written loop in process, and the ``autolr tune`` parent), the top functions inside
autolr, Optuna and SQLAlchemy by cumulative time with the training (or the waits for the worker)
left out, and Optuna's storage calls per trial. Times in milliseconds.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
from pathlib import Path
from typing import Any

import overhead_sides
from overhead_sides import autolr_in_process, cli_autolr, hand_written_loop

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
                or key[0] in (overhead_sides.__file__, __file__, "hand_written", "<string>")
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
    """cProfile of the ``autolr tune`` parent process, the waits for its worker left out."""
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
