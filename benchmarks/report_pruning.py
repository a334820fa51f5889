"""The pruning part of ``results.md``: autolr's full searches under each pruner, and the
unpruned study's recorded curves replayed through every pruner (``pruning.py``).

Steps are optimizer steps; "steps vs unpruned" is a replay's steps over the unpruned study's.
Values are the workload's final validation metric (lower is better).
"""

from __future__ import annotations

from typing import Any

from harness.markdown import header, num, row
from report_quality import mean_std

PRUNING_ORDER = (("autolr_none", "none"), ("autolr_full", "median (previous default)"),
                 ("autolr_hyperband", "hyperband"))


def studies_table(workload: dict[str, Any]) -> list[str]:
    """autolr's full search under each pruner: its trials, compute and winner."""
    methods = workload["methods"]
    lines = header(["autolr study, pruner", "trials (pruned)", "steps spent", "best value found",
                    "re-trained mean ± std", "constant-LR trials", "winner"])
    for key, label in PRUNING_ORDER:
        m = methods.get(key)
        if m is None:
            continue
        constant = sum(t.get("family") == "constant" for t in m.get("trial_log", []))
        lines.append(row([label, f"{m['trials']} ({m['pruned']})", f"{m['steps']:,}",
                          num(m["best_value"]), mean_std(m), constant,
                          f"`{m['winner']['summary']}`"]))
    return lines


def replay_table(analysis: dict[str, Any]) -> list[str]:
    """What each pruner would have cut of the unpruned study, replayed trial by trial."""
    unpruned = analysis["study_steps"] or 1
    lines = header(["pruner", "trials cut", "steps vs unpruned", "eventual best cut?",
                    "top-3 cut", "cut but finished in the top quartile", "best value kept"])
    for label, r in analysis["replays"].items():
        if "error" in r:
            lines.append(row([label, r["error"], "", "", "", "", ""]))
            continue
        best = (f"**yes**, at report {r['best_cut_at_report']}/{r['n_reports']}"
                if r["best_cut"] else "no")
        lines.append(row([
            label, r["cut"], f"{r['steps'] / unpruned:.0%}", best, r["top3_cut"],
            f"{r['cut_in_top_quartile']} of {r['cut']} (quartile = {r['top_quartile_size']})",
            num(r["best_value_kept"]),
        ]))
    return lines


def horizon_table(rows: list[dict[str, Any]]) -> list[str]:
    """How well each report ranks the trials by their final value, report by report."""
    return [
        *header(["report (fraction of run)", *(f"{r['fraction']:.0%}" for r in rows)]),
        row(["rank correlation with final value", *(num(r["spearman"], 2) for r in rows)]),
        row(["rank of the eventual best", *(r["best_rank"] for r in rows)]),
        row(["family leading at that report", *(r["leader_family"] for r in rows)]),
    ]


def pruning_tables(workload: dict[str, Any]) -> list[str]:
    """One workload's pruning section: the pruned studies, the replay and the horizon."""
    lines = studies_table(workload)
    analysis = workload.get("pruning")
    if not analysis:
        return lines
    lines += [
        "",
        "Replay of the unpruned study's recorded curves through each pruner (same trials, same "
        "order):",
        "",
        *replay_table(analysis),
    ]
    horizon = analysis.get("horizon", {})
    rows = horizon.get("reports") or []
    if rows:
        lines += [
            "",
            f"How early reports predict the final value ({horizon['trials']} complete trials; "
            f"eventual best: `{horizon['best_summary']}`):",
            "",
            *horizon_table(rows),
        ]
    return lines


def pruning_summary(runs: list[dict[str, Any]]) -> list[str]:
    """Each replayed pruner over every workload (and every search seed given)."""
    totals: dict[str, dict[str, Any]] = {}
    cases = 0
    for run in runs:
        for workload in run["workloads"].values():
            analysis = workload.get("pruning")
            if not analysis or not analysis["study_steps"]:
                continue
            cases += 1
            for label, r in analysis["replays"].items():
                if "error" in r:
                    continue
                t = totals.setdefault(label, {"best": 0, "n": 0, "top3": 0, "fractions": []})
                t["best"] += r["best_cut"]
                t["n"] += 1
                t["top3"] += r["top3_cut"]
                t["fractions"].append(r["steps"] / analysis["study_steps"])
    if not totals:
        return []
    seeds = ", ".join(str(r["meta"]["seed"]) for r in runs)
    lines = [
        f"All replays together ({cases} unpruned studies: every workload, search seed(s) "
        f"{seeds}):",
        "",
        *header(["pruner", "eventual best cut", "top-3 trials cut",
                 "steps vs unpruned: mean (range)"]),
    ]
    for label, t in totals.items():
        f = t["fractions"]
        lines.append(row([label, f"{t['best']} of {t['n']}", f"{t['top3']} of {3 * t['n']}",
                          f"{sum(f) / len(f):.0%} ({min(f):.0%}-{max(f):.0%})"]))
    return [*lines, ""]
