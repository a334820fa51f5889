"""The quality part of ``results.md``: per workload, every method's winner re-trained on fresh
seeds and the compute it spent, issue #9's goal in words, and the same figures under every
search seed (the "Other search seeds" tables).

Figures are the workload's final validation metric (lower is better), mean ± sample standard
deviation over the re-training seeds; compute is in optimizer steps and in full runs of
compute (steps over one run's steps).
"""

from __future__ import annotations

from typing import Any

from harness.markdown import DASH, header, num, row
from report_goals import goal

QUALITY_ORDER = ("autolr", "autolr_half", "autolr_unconfirmed", "autolr_full",
                 "autolr_lr_first", "autolr_lr_first_half", "hand", "optuna_lr", "random",
                 "linear_cosine", "schedulefree")
LADDER_ORDER = ("autolr", "autolr_half", "autolr_unconfirmed")
TAGS = {"hand": "(a)", "optuna_lr": "(b)", "random": "(c)", "linear_cosine": "(d)",
        "schedulefree": "(e)", "autolr_full": "the full search"}
GOAL_TEXT = (
    "**Goal** (issue #9): *at half the compute*, autolr's ladder at N/2 re-trains no worse "
    "(mean over the 3 seeds) than the best of (b)-(e) at N; *at equal compute*, the ladder at N "
    "re-trains better than each of (b)-(e) and than autolr's full search (the previous "
    "default) at N. \"Within the seed spread\" marks a difference smaller than the larger of "
    "the two standard deviations: a win or loss that three seeds cannot confirm."
)


def mean_std(method: dict[str, Any]) -> str:
    """A method's re-trained figure, ``mean ± std`` in 4 decimals."""
    if method.get("retrain_mean") is None:
        return DASH
    return f"{method['retrain_mean']:.4f} ± {method['retrain_std']:.4f}"


def _spread(beyond: bool) -> str:
    return "" if beyond else ", within the seed spread"


def goal_lines(workload: dict[str, Any]) -> list[str]:
    """Issue #9's goal on one workload, at half and at equal compute, as two bullets."""
    g = workload.get("goal") or goal(workload)
    if "half" not in g:  # a results file of an earlier benchmark
        g = goal(workload)
    lines = []
    h = g["half"]
    if "why" in h:
        lines.append(f"- **At half the compute: not met** ({h['why']}).")
    else:
        verdict = "met" if h["met"] else "NOT met"
        relation = "better than" if h["margin"] > 0 else (
            "equal to" if h["margin"] == 0 else "**worse than**")
        runs = f" ({h['runs']:.1f} full runs of compute)" if h["runs"] is not None else ""
        lines.append(
            f"- **At half the compute: {verdict}**. The ladder at N/2{runs}: "
            f"{h['mean']:.4f}, {relation} {TAGS[h['best_rival']]}, the best of (b)-(e) at N "
            f"({h['rival_mean']:.4f}), by {abs(h['margin']):.4f}{_spread(h['beyond_spread'])}."
        )
    e = g["equal"]
    if "why" in e:
        lines.append(f"- **At equal compute: not met** ({e['why']}).")
    else:
        verdict = "met" if e["met"] else "NOT met"
        parts = [
            f"{'beats' if b['beats'] else '**loses to**'} {TAGS[r]} by {abs(b['margin']):.4f}"
            f"{_spread(b['beyond_spread'])}"
            for r, b in e["beats"].items()
        ]
        runs = f" ({e['runs']:.1f} full runs of compute)" if e["runs"] is not None else ""
        lines.append(f"- **At equal compute: {verdict}**. The ladder at N{runs} "
                     f"{'; '.join(parts)}.")
    return lines


def quality_table(workload: dict[str, Any]) -> list[str]:
    """Every method's winner, its re-trained figure, and the compute its search spent."""
    methods = workload["methods"]
    total = workload["total_steps"]
    random_steps = methods.get("random", {}).get("steps") or 0
    lines = header(["method", "winner", "re-trained, 3 seeds: mean ± std", "best in search",
                    "runs (shortened / pruned / confirming)", "configurations", "steps spent",
                    "full runs of compute", "steps / (c)"])
    for name in QUALITY_ORDER:
        m = methods.get(name)
        if m is None:
            continue
        searched = bool(m["trials"])
        ratio = f"{m['steps'] / random_steps:.2f}" if random_steps and searched else DASH
        runs = (f"{m['trials']} ({m.get('shortened', 0)} / {m['pruned']} / "
                f"{m.get('confirming', 0)})" if searched else DASH)
        configurations = m.get("configurations") if searched else None
        budget = m.get("budget_runs")
        compute = f"{m['steps'] / total:.1f}" if searched else "0"
        if searched and budget:
            compute += f" of {budget}"
        lines.append(row([m["label"], f"`{m['winner']['summary']}`", mean_std(m),
                          num(m["best_value"]), runs, num(configurations), f"{m['steps']:,}",
                          compute, ratio]))
    return lines


def workload_section(workload: dict[str, Any]) -> list[str]:
    """One workload's heading, settings, quality table, goal and autolr's notes."""
    lines = [
        f"#### {workload['title']}",
        "",
        f"{workload['optimizer']}; {workload['total_steps']:,} optimizer steps per run; the "
        f"script's own LR {workload['base_lr']:g}; hand schedule: {workload['hand']}; "
        f"metric: {workload['metric']} (lower is better).",
        "",
        *quality_table(workload),
        "",
        *goal_lines(workload),
        "",
    ]
    notes = []
    for key in ("autolr", "autolr_half", "autolr_full"):
        for note in workload["methods"].get(key, {}).get("notes") or []:
            if key in LADDER_ORDER and note.startswith("Fidelity ladder:"):
                continue  # shown by the ladder table
            notes.append(f"- {key} note: {note}")
    if notes:
        lines += [*notes, ""]
    return lines


def seeds_table(results: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """Each method's re-trained mean under every search seed, and the goal per seed."""
    runs = [results, *others]
    lines = [
        "The whole comparison again with other study seeds (`--seed`; each search samples "
        "different trials): re-trained mean per search seed, and the goal per seed.",
        "",
    ]
    for name, workload in results["workloads"].items():
        present = [r for r in runs if name in r["workloads"]]
        lines += header([f"{name}: method", *(f"seed {r['meta']['seed']}" for r in present),
                         "mean over seeds"])
        for method in QUALITY_ORDER:
            values = [r["workloads"][name]["methods"].get(method, {}).get("retrain_mean")
                      for r in present]
            known = [v for v in values if v is not None]
            mean = num(sum(known) / len(known)) if known else DASH
            label = workload["methods"].get(method, {}).get("label", method)
            lines.append(row([label, *(num(v) for v in values), mean]))
        luckiest: list[float | None] = []
        changed = []
        for r in present:
            record = r["workloads"][name]["methods"].get("autolr", {}).get("confirmation")
            luckiest.append(record["luckiest"].get("retrain_mean") if record else None)
            changed.append(("yes" if record["changed"] else "no") if record else DASH)
        known = [v for v in luckiest if v is not None]
        mean = num(sum(known) / len(known)) if known else DASH
        lines += [
            row(["autolr: the same study's luckiest run (the unconfirmed pick)",
                 *(num(v) for v in luckiest), mean]),
            row(["confirmation changed autolr's winner", *changed, ""]),
        ]
        computes = []
        for r in present:
            m = r["workloads"][name]["methods"]
            total = r["workloads"][name]["total_steps"]
            computes.append(" / ".join(
                f"{m[k]['steps'] / total:.1f}" if k in m else DASH
                for k in ("autolr", "autolr_half")))
        goals = [goal(r["workloads"][name]) for r in present]
        half = ["met" if g["half"]["met"] else "not met" for g in goals]
        equal = ["met" if g["equal"]["met"] else "not met" for g in goals]
        lines += [
            row(["compute of the ladder at N / N/2, full runs", *computes, ""]),
            row(["goal at half the compute", *half, ""]),
            row(["goal at equal compute", *equal, ""]),
            "",
        ]
    return lines
