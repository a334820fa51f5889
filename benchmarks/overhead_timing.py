"""How ``overhead.py`` times its sides fairly on a shared machine: each run after waiting for
the machine's other processes to go quiet, the sides in turns, and every run's wall time, CPU
time and the load of other processes recorded (``/proc/stat``, in cores on average).

A round (one run of each side) is quiet when no side shared the machine with more than
``QUIET_CORES`` cores of other work; the goal is judged on the quiet rounds when there are two
or more.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from overhead_report import QUIET_CORES

GOAL = 1.05  # autolr's wall time at most 5% over the hand-written loop's
QUIET_WAIT_S = 30.0  # --quiet-wait's default: how long each run may wait for a quiet machine


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


def measured(call: Any, quiet_wait_s: float = QUIET_WAIT_S) -> dict[str, Any]:
    """``call()``'s result with ``other_load_cores``: the CPU the machine's other processes
    used meanwhile, in cores on average (this process and the children it waited for left
    out; None where it cannot be told), after waiting (at most ``quiet_wait_s`` seconds; 0:
    never) for the machine to be quiet."""
    waited = wait_quiet(quiet_wait_s) if quiet_wait_s > 0 else 0.0
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


def run_sides(repeats: int, sides: dict[str, Any],
              quiet_wait_s: float = QUIET_WAIT_S) -> dict[str, list[dict[str, Any]]]:
    """Each side ``repeats`` times, in turns (the order rotating), so that a slow patch of the
    machine does not fall on one side only; each run as :func:`measured`."""
    names = list(sides)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            runs[name].append(measured(sides[name], quiet_wait_s))
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
