"""``overhead.py``'s results as Markdown: the comparison table (also a section of
``results.md``) and the page ``results/overhead.md`` with the profiles.

Ratios are autolr's wall time over the hand-written loop's (below 1: autolr is the faster);
extra milliseconds per trial are the difference of the median wall times over the trials.
"""

from __future__ import annotations

from typing import Any

from harness.markdown import DASH, header, row

QUIET_CORES = 0.25  # a run is undisturbed when other processes used less CPU than this (cores)
LABELS = {"hand_written": "hand-written, Optuna's default SQLite",
          "hand_written_wal": "hand-written, SQLite as autolr opens it (WAL)"}


def comparison_table(result: dict[str, Any]) -> list[str]:
    """The comparisons of ``result`` (overhead.json) as a Markdown table: one row per side
    compared, in process and on the command line (what was run of them)."""
    lines = header(["comparison", "trials", "training / trial", "against", "autolr s",
                    "hand-written s", "ratio (all)", "ratio (quiet rounds)", "ratio (fastest)",
                    "CPU time ratio", "extra ms / trial", "same configurations", "goal ≤ 1.05"])
    for where, title in (("in_process", "in process"), ("cli", "command line, start-up "
                                                       "included")):
        part = result.get(where)
        if not part:
            continue
        for n, block in part["runs"].items():
            for name, versus in block["versus"].items():
                quiet = versus["ratio_of_medians_quiet_rounds"]
                quiet_text = DASH if quiet is None else f"{quiet:.3f} ({block['quiet_rounds']})"
                lines.append(row([
                    f"{title} ({part['epochs']} epochs)", n,
                    f"{part['training_ms_per_trial']:.0f} ms", LABELS[name],
                    f"{block['median_s']['autolr']:.3f}", f"{block['median_s'][name]:.3f}",
                    f"{versus['ratio_of_medians']:.3f}", quiet_text,
                    f"{versus['ratio_of_minimums']:.3f}", f"{versus['cpu_ratio_of_medians']:.3f}",
                    f"{versus['extra_ms_per_trial']:.1f}",
                    f"{versus['same_configurations']} of {n}",
                    "met" if versus["goal_met"] else "**not met**",
                ]))
    return lines


def _profile_lines(title: str, p: dict[str, Any]) -> list[str]:
    """One profile: its storage calls per trial and its top functions by cumulative time."""
    lines = ["", f"## Profile: {title}", "",
             f"Profiled wall time {p['wall_s']} s. Storage calls per trial: "
             + ", ".join(f"{k} {v['calls_per_trial']:g} ({v['ms_per_trial']:g} ms)"
                         for k, v in sorted(p["storage_calls"].items())) + ".", "",
             *header(["function", "calls", "cumulative ms", "ms / trial"])]
    for r in p["top_cumulative"][:15]:
        lines.append(row([f"`{r['function']}`", r["calls"], r["cumulative_ms"],
                          r["ms_per_trial"]]))
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
        lines += _profile_lines(title, p)
    return "\n".join(lines) + "\n"
