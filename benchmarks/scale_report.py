"""``scale.py``'s results as Markdown (``results/scale.md``): the study timed, and each
command's runs and median in seconds against its goal (and an older tree's, with ``--before``).
"""

from __future__ import annotations

from typing import Any

from harness.markdown import header, row


def timings_table(result: dict[str, Any]) -> list[str]:
    """Each command's runs, median (bold), the older tree's median, the goal and whether the
    median met it; seconds."""
    before = result.get("before")
    lines = header(["command", "runs (s)", "median (s)", *(["before (s)"] if before else []),
                    "goal (s)", "met"])
    for name, t in result["commands"].items():
        was = [f"{before['commands'][name]['median_s']:.2f}"] if before else []
        lines.append(row([f"`autolr {name}`", ", ".join(f"{r:.2f}" for r in t["runs_s"]),
                          f"**{t['median_s']:.2f}**", *was, f"< {t['goal_s']:g}",
                          "yes" if t["met"] else "no"]))
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The page: the study and the machine, then the timings."""
    before = result.get("before")
    counts = result["study"]
    return "\n".join([
        f"# autolr show / report on a {counts['trials']:,}-trial study",
        "",
        f"{result['date']}, {result['machine']}; Python {result['versions']['python']}, "
        f"optuna {result['versions']['optuna']}, autolr {result['versions']['autolr']} "
        f"(commit {result['commit']}). "
        f"Command: `{result['command']}`.",
        "",
        f"The study: {counts['trials']:,} trials in SQLite ({counts['db_mb']:.1f} MB): "
        f"{counts['complete']} complete full runs ({counts['confirmation']} of them "
        f"confirmation runs), {counts['shortened']:,} shortened runs of the fidelity ladder, "
        f"{counts['pruned']} diverged, {counts['failed']} failed; "
        f"{counts['configurations']:,} configurations; the report is "
        f"{counts['report_mb']:.1f} MB. Each command is a fresh `python -m autolr` process "
        f"(start-up and imports included), run {result['repeats']} times; "
        f"`python -m autolr --version` alone takes {result['startup_s']:.2f} s. The 1-minute "
        f"load average was {result['load_average_1min'][0]:g} when the timings began and "
        f"{result['load_average_1min'][1]:g} when they ended (the benchmark's own processes "
        "bring it near 1; more means other work shared the two cores and slowed the figures).",
        "",
        *timings_table(result),
        "",
        *([f"Before: {before['source']}; its runs alternated with the others'.", ""]
          if before else []),
    ])
