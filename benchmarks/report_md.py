"""Results JSON -> Markdown tables; the tables replace the marked section of benchmarks/README.md.

    python benchmarks/report_md.py [results.json] [--readme benchmarks/README.md]

re-renders the tables from a results file without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START = "<!-- results:start (written by benchmarks/run.py; edits here are overwritten) -->"
END = "<!-- results:end -->"
RIVALS = ("optuna_lr", "random", "linear_cosine", "schedulefree")  # (b)-(e)
TAGS = {"hand": "(a)", "optuna_lr": "(b)", "random": "(c)", "linear_cosine": "(d)",
        "schedulefree": "(e)", "autolr_full": "the full search"}
EQUAL_RIVALS = (*RIVALS, "autolr_full")
QUALITY_ORDER = ("autolr", "autolr_half", "autolr_full", "hand", "optuna_lr", "random",
                 "linear_cosine", "schedulefree")
LADDER_ORDER = ("autolr", "autolr_half")
PRUNING_ORDER = (("autolr_none", "none"), ("autolr_full", "median (previous default)"),
                 ("autolr_hyperband", "hyperband"))
GOAL_TEXT = (
    "**Goal** (issue #9): *at half the compute*, autolr's ladder at N/2 re-trains no worse "
    "(mean over the 3 seeds) than the best of (b)-(e) at N; *at equal compute*, the ladder at N "
    "re-trains better than each of (b)-(e) and than autolr's full search (the previous "
    "default) at N. \"Within the seed spread\" marks a difference smaller than the larger of "
    "the two standard deviations: a win or loss that three seeds cannot confirm."
)


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _mean_std(method: dict[str, Any]) -> str:
    if method.get("retrain_mean") is None:
        return "—"
    return f"{method['retrain_mean']:.4f} ± {method['retrain_std']:.4f}"


def _steps(n: int) -> str:
    return f"{n:,}"


def _compare(ours: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``other``'s re-trained mean minus ours (positive: ours is better), and whether the gap is
    larger than the seed spread."""
    diff = other["retrain_mean"] - ours["retrain_mean"]
    noise = max(ours["retrain_std"], other["retrain_std"])
    return {"margin": diff, "beyond_spread": abs(diff) > noise}


def _retrained(methods: dict[str, Any], name: str) -> dict[str, Any] | None:
    m = methods.get(name)
    return m if m is not None and m.get("retrain_mean") is not None else None


def goal(workload: dict[str, Any]) -> dict[str, Any]:
    """Issue #9's goal on one workload.

    ``half``: ``autolr_half``'s re-trained mean no worse than the best re-trained mean of
    (b)-(e). ``equal``: ``autolr``'s re-trained mean below each of (b)-(e)'s and
    ``autolr_full``'s. ``met``: both.
    """
    methods = workload["methods"]
    total = workload.get("total_steps") or 0
    out: dict[str, Any] = {}
    ours = _retrained(methods, "autolr")
    random_steps = methods.get("random", {}).get("steps") or 0
    out["steps_ratio"] = (methods["autolr"]["steps"] / random_steps
                          if "autolr" in methods and random_steps else None)

    half = _retrained(methods, "autolr_half")
    rivals = [r for r in RIVALS if _retrained(methods, r) is not None]
    if half is None or not rivals:
        out["half"] = {"met": False, "why": "autolr_half or (b)-(e) did not run"}
    else:
        best = min(rivals, key=lambda r: methods[r]["retrain_mean"])
        c = _compare(half, methods[best])
        out["half"] = {
            "met": c["margin"] >= 0, "best_rival": best, **c,
            "mean": half["retrain_mean"], "rival_mean": methods[best]["retrain_mean"],
            "runs": half["steps"] / total if total else None,
        }

    equal_rivals = [r for r in EQUAL_RIVALS if _retrained(methods, r) is not None]
    if ours is None or not equal_rivals:
        out["equal"] = {"met": False, "why": "autolr or its rivals did not run"}
    else:
        beats = {}
        for rival in equal_rivals:
            c = _compare(ours, methods[rival])
            beats[rival] = {"beats": c["margin"] > 0, **c}
        out["equal"] = {
            "met": all(b["beats"] for b in beats.values()), "beats": beats,
            "runs": ours["steps"] / total if total else None,
        }
    out["met"] = out["half"]["met"] and out["equal"]["met"]
    return out


def _spread(beyond: bool) -> str:
    return "" if beyond else ", within the seed spread"


def _goal_lines(workload: dict[str, Any]) -> list[str]:
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
    methods = workload["methods"]
    total = workload["total_steps"]
    random_steps = methods.get("random", {}).get("steps") or 0
    lines = [
        "| method | winner | re-trained, 3 seeds: mean ± std | best in search | runs "
        "(shortened / pruned) | configurations | steps spent | full runs of compute | "
        "steps / (c) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in QUALITY_ORDER:
        m = methods.get(name)
        if m is None:
            continue
        searched = bool(m["trials"])
        ratio = f"{m['steps'] / random_steps:.2f}" if random_steps and searched else "—"
        runs = f"{m['trials']} ({m.get('shortened', 0)} / {m['pruned']})" if searched else "—"
        configurations = m.get("configurations") if searched else None
        budget = m.get("budget_runs")
        compute = f"{m['steps'] / total:.1f}" if searched else "0"
        if searched and budget:
            compute += f" of {budget}"
        lines.append(
            f"| {m['label']} | `{m['winner']['summary']}` | {_mean_std(m)} | "
            f"{_num(m['best_value'])} | {runs} | {_num(configurations)} | "
            f"{_steps(m['steps'])} | {compute} | {ratio} |"
        )
    return lines


def _rank_at(
    trial_log: list[dict[str, Any]], rung: int, number: int, top: int
) -> tuple[int, int] | None:
    """The rank (1 = best) of run ``number`` among the results at ``rung`` (the baselines
    included at the top rung), and their count."""
    results = [t for t in trial_log
               if (t.get("rung") == rung or (rung == top and t.get("baseline")))
               and t["state"] != "running"]
    if not any(t["number"] == number for t in results):
        return None
    ordered = sorted(results, key=lambda t: (t["value"] is None, t["value"] or 0.0, t["number"]))
    return [t["number"] for t in ordered].index(number) + 1, len(ordered)


def ladder_tables(workload: dict[str, Any]) -> list[str]:
    """What each ladder study did: its rungs, runs and promotions per rung, the constant-LR
    share at each rung, and where the winner stood on the way up."""
    lines: list[str] = []
    for name in LADDER_ORDER:
        m = workload["methods"].get(name)
        if m is None:
            continue
        ladder = m.get("ladder")
        if not ladder:
            notes = "; ".join(m.get("notes") or []) or "the ladder was not used"
            lines += [f"{m['label']}: full search ({notes}).", ""]
            continue
        log = m.get("trial_log", [])
        total = ladder["steps"][-1]
        top = len(ladder["steps"]) - 1
        lines += [
            f"{m['label']}: rungs at {ladder['describe']}; {ladder['configurations']} "
            f"configurations; {ladder['runs_used']:.1f} of {ladder['budget_runs']} full runs of "
            f"compute ({ladder['steps_used']:,} steps); running every configuration at full "
            f"length would have cost {ladder['full_search_steps'] / total:.1f}.",
            "",
            "| rung | steps (fraction of the run) | runs | promoted | most frequent families | "
            "constant-LR runs | family of the best | best value at the rung |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in ladder["rungs"]:
            at = [t for t in log if (t.get("rung") == r["rung"]
                                     or (r["rung"] == top and t.get("baseline")))
                  and t["state"] != "running"]
            constant = sum(t.get("family") == "constant" or t.get("baseline") == "constant"
                           for t in at)
            valued = [t for t in at if t["value"] is not None]
            leader = min(valued, key=lambda t: t["value"]) if valued else None
            family = (leader.get("family") or leader.get("baseline") or "—") if leader else "—"
            counts = Counter(t.get("family") or t.get("baseline") for t in at)
            frequent = ", ".join(f"{f} {n}" for f, n in counts.most_common(3)) or "—"
            lines.append(
                f"| {r['rung']} | {r['steps']:,} ({r['fidelity']:.3g}) | {r['runs']} | "
                f"{r['promoted'] if r['rung'] < top else '—'} | {frequent} | {constant} | "
                f"{family} | {_num(r['best'])} |"
            )
        lines += ["", _winner_path(m, top), ""]
    return lines


def _winner_path(m: dict[str, Any], top: int) -> str:
    """The winner's way up the ladder, as its rank at each rung."""
    log = {t["number"]: t for t in m.get("trial_log", [])}
    number = m["winner"].get("trial")
    trial = log.get(number)
    if trial is None:
        return "Winner: not in the study's runs."
    if trial.get("baseline"):
        return f"Winner: the baseline `{trial['baseline']}` (a full run outside the ladder)."
    path = []
    while trial is not None:
        rank = _rank_at(list(log.values()), trial.get("rung"), trial["number"], top)
        if rank is not None:
            path.append(f"{rank[0]} of {rank[1]} at rung {trial.get('rung')}")
        trial = log.get(trial.get("promoted_from"))
    if not path:
        return "Winner: —"
    return "Winner's rank on its way up: " + ", ".join(reversed(path)) + "."


def pruning_tables(workload: dict[str, Any]) -> list[str]:
    methods = workload["methods"]
    lines = [
        "| autolr study, pruner | trials (pruned) | steps spent | best value found | "
        "re-trained mean ± std | constant-LR trials | winner |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in PRUNING_ORDER:
        m = methods.get(key)
        if m is None:
            continue
        constant = sum(t.get("family") == "constant" for t in m.get("trial_log", []))
        lines.append(
            f"| {label} | {m['trials']} ({m['pruned']}) | {_steps(m['steps'])} | "
            f"{_num(m['best_value'])} | {_mean_std(m)} | {constant} | "
            f"`{m['winner']['summary']}` |"
        )
    analysis = workload.get("pruning")
    if not analysis:
        return lines
    unpruned = analysis["study_steps"] or 1
    lines += [
        "",
        "Replay of the unpruned study's recorded curves through each pruner (same trials, same "
        "order):",
        "",
        "| pruner | trials cut | steps vs unpruned | eventual best cut? | top-3 cut | cut but "
        "finished in the top quartile | best value kept |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, r in analysis["replays"].items():
        if "error" in r:
            lines.append(f"| {label} | {r['error']} | | | | | |")
            continue
        best = (f"**yes**, at report {r['best_cut_at_report']}/{r['n_reports']}"
                if r["best_cut"] else "no")
        lines.append(
            f"| {label} | {r['cut']} | {r['steps'] / unpruned:.0%} | {best} | {r['top3_cut']} | "
            f"{r['cut_in_top_quartile']} of {r['cut']} (quartile = {r['top_quartile_size']}) | "
            f"{_num(r['best_value_kept'])} |"
        )
    horizon = analysis.get("horizon", {})
    rows = horizon.get("reports") or []
    if rows:
        lines += [
            "",
            f"How early reports predict the final value ({horizon['trials']} complete trials; "
            f"eventual best: `{horizon['best_summary']}`):",
            "",
            "| report (fraction of run) | " + " | ".join(f"{r['fraction']:.0%}" for r in rows)
            + " |",
            "| --- |" + " --- |" * len(rows),
            "| rank correlation with final value | "
            + " | ".join(_num(r["spearman"], 2) for r in rows) + " |",
            "| rank of the eventual best | " + " | ".join(str(r["best_rank"]) for r in rows)
            + " |",
            "| family leading at that report | " + " | ".join(r["leader_family"] for r in rows)
            + " |",
        ]
    return lines


def overhead_tables(results: dict[str, Any]) -> list[str]:
    lines = [
        "Bookkeeping outside the training function in this run (study wall time minus the time "
        "spent inside the training function, per run; reports, pruning checks, the end of a "
        "shortened run and, for autolr's studies, the sampling of a run's schedule (at "
        "`autolr.scheduler`) happen inside training and are not counted here; `overhead.py` "
        "below counts them):",
        "",
        "| workload | search | runs | wall s | training s | overhead ms / run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, workload in results["workloads"].items():
        for key in ("autolr", "autolr_full", "random", "optuna_lr"):
            m = workload["methods"].get(key)
            if not m or not m["trials"]:
                continue
            per_trial = (m["wall_s"] - m["train_s"]) / m["trials"] * 1000
            lines.append(f"| {name} | {m['label']} | {m['trials']} | {m['wall_s']:.1f} | "
                         f"{m['train_s']:.1f} | {per_trial:.1f} |")
    overhead = results.get("overhead_json")
    lines.append("")
    if not overhead:
        lines.append("`benchmarks/results/overhead.json` was not found: run "
                     "`python benchmarks/overhead.py` (on a quiet machine) and then "
                     "`python benchmarks/report_md.py` to add the overhead and scaling figures.")
        return lines
    s = overhead.get("seconds", {})
    implausible = [
        key for key in ("api_overhead_ms_per_trial", "cli_overhead_ms_per_trial")
        if isinstance(overhead.get(key), (int, float)) and overhead[key] < 0
    ]
    limit = overhead.get("machine_limit_2_over_1")
    if isinstance(limit, (int, float)) and limit > 1.3:
        lines += [
            f"**The machine was busy while overhead.py ran**: two plain processes took {limit:g}x "
            "one process's time on this machine's cores, so the wall-time figures below are "
            "inflated. Re-run `python benchmarks/overhead.py` on a quiet machine.",
            "",
        ]
    if implausible:
        lines += [
            f"**These overhead.py figures are not valid**: negative {', '.join(implausible)} "
            "means the hand-written loop was slowed by other load on the machine while it ran. "
            "Re-run `python benchmarks/overhead.py` on a quiet machine.",
            "",
        ]
    lines += [
        f"From `benchmarks/overhead.py` ({overhead.get('date')}, {overhead.get('machine')}, "
        f"{overhead.get('trials')} trials of {overhead.get('epochs')} digits epochs, full search "
        "without pruning; the ladder at the same compute, `n_trials` "
        f"{overhead.get('trials')}):",
        "",
        "| measure | value | goal |",
        "| --- | --- | --- |",
        f"| hand-written Optuna loop | {_num(s.get('hand_written_optuna_loop'))} s | |",
        f"| `autolr.tune` (in process) | {_num(s.get('autolr_tune_api'))} s | |",
        f"| `autolr tune` CLI, 1 worker | {_num(s.get('autolr_tune_cli_1_worker'))} s | |",
        f"| `autolr tune` CLI, 2 workers | {_num(s.get('autolr_tune_cli_2_workers'))} s | |",
        f"| API / hand-written | {_num(overhead.get('api_over_hand_written'))} | ≤ 1.05 |",
        f"| CLI / hand-written | {_num(overhead.get('cli_over_hand_written'))} | ≤ 1.15 |",
        f"| API overhead per trial | {_num(overhead.get('api_overhead_ms_per_trial'))} ms | |",
        f"| CLI overhead per trial | {_num(overhead.get('cli_overhead_ms_per_trial'))} ms | |",
        f"| 2 workers / 1 worker (wall time) | {_num(overhead.get('workers_2_over_1'))} | |",
        f"| machine limit: 2 plain processes / 1 | "
        f"{_num(overhead.get('machine_limit_2_over_1'))} | |",
        f"| workers against the machine limit | {_num(overhead.get('workers_vs_limit'))} | "
        "≈ 1 |",
    ]
    ladder = overhead.get("ladder")
    if ladder:
        lines += [
            "",
            "Bookkeeping per run in process, at the same compute (wall time minus training; "
            "training is the time inside the training function less autolr's calls there: "
            "`autolr.scheduler`, where a run's schedule is sampled, and `autolr.report`, where a "
            "run is pruned or ends at its rung):",
            "",
            "| search (in process) | runs | steps | training ms / run | wall s | training s | "
            "bookkeeping ms / run | bookkeeping / training |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for key, label in (("full", "full search, no pruning"), ("ladder", "fidelity ladder")):
            r = ladder.get(key)
            if not r:
                continue
            lines.append(
                f"| {label} | {r['runs']} | {r['steps']:,} | "
                f"{_num(r['train_s'] / r['runs'] * 1000, 3)} | {_num(r['wall_s'])} | "
                f"{_num(r['train_s'])} | {_num(r['bookkeeping_ms_per_run'], 3)} | "
                f"{r['bookkeeping_share']:.1%} |"
            )
        facts = []
        if ladder.get("ladder_over_full_wall") is not None:
            facts.append(f"the ladder's wall time is {_num(ladder['ladder_over_full_wall'])}x "
                         "the full search's")
        if ladder.get("script_ms_per_extra_run") is not None:
            extra = _num(ladder["script_ms_per_extra_run"], 3)
            facts.append(f"each extra run costs the script {extra} ms beyond its steps "
                         "(loading the data, building the model)")
        cli = ladder.get("cli")
        if cli:
            facts.append(
                f"the CLI (1 worker, start-up included) took {_num(cli['ladder_s'])} s for the "
                f"ladder's {cli['runs']} runs against {_num(cli['full_s'])} s for the full "
                f"search's {overhead.get('trials')}, "
                f"{_num(cli['extra_ms_per_extra_run'], 3)} ms per extra run")
        if facts:
            lines += ["", "At the same compute, " + "; ".join(facts) + "."]
    return lines


def load_other_seeds(results: dict[str, Any], folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Full runs in ``folder/seed*/results.json`` with the same settings and another seed."""
    meta, others = results["meta"], []
    for path in sorted(folder.glob("seed*/results.json")):
        try:
            other = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        m = other.get("meta", {})
        if (m.get("seed") != meta["seed"] and m.get("size") == meta["size"]
                and m.get("trials") == meta["trials"] and m.get("device") == meta["device"]):
            others.append(other)
    return others


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
        lines += [
            f"| {name}: method | " + " | ".join(f"seed {r['meta']['seed']}" for r in present)
            + " | mean over seeds |",
            "| --- |" + " --- |" * (len(present) + 1),
        ]
        for method in QUALITY_ORDER:
            values = [r["workloads"][name]["methods"].get(method, {}).get("retrain_mean")
                      for r in present]
            shown = [_num(v) for v in values]
            known = [v for v in values if v is not None]
            mean = _num(sum(known) / len(known)) if known else "—"
            label = workload["methods"].get(method, {}).get("label", method)
            lines.append(f"| {label} | " + " | ".join(shown) + f" | {mean} |")
        computes = []
        for r in present:
            m = r["workloads"][name]["methods"]
            total = r["workloads"][name]["total_steps"]
            computes.append(" / ".join(
                f"{m[k]['steps'] / total:.1f}" if k in m else "—"
                for k in ("autolr", "autolr_half")))
        goals = [goal(r["workloads"][name]) for r in present]
        half = ["met" if g["half"]["met"] else "not met" for g in goals]
        equal = ["met" if g["equal"]["met"] else "not met" for g in goals]
        lines += [
            "| compute of the ladder at N / N/2, full runs | " + " | ".join(computes) + " | |",
            "| goal at half the compute | " + " | ".join(half) + " | |",
            "| goal at equal compute | " + " | ".join(equal) + " | |",
            "",
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
        "| pruner | eventual best cut | top-3 trials cut | steps vs unpruned: mean (range) |",
        "| --- | --- | --- | --- |",
    ]
    for label, t in totals.items():
        f = t["fractions"]
        lines.append(
            f"| {label} | {t['best']} of {t['n']} | {t['top3']} of {3 * t['n']} | "
            f"{sum(f) / len(f):.0%} ({min(f):.0%}-{max(f):.0%}) |"
        )
    return [*lines, ""]


def render(results: dict[str, Any], others: list[dict[str, Any]] | None = None) -> str:
    meta = results["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [
        START,
        "",
        f"Run on {meta['date']} ({meta['mode']} mode, device `{meta['device']}`, "
        f"N = {meta['trials']} (full runs of compute per search), seed {meta['seed']}, "
        f"{meta['jobs']} parallel job(s), {meta['wall_s'] / 60:.1f} min in all) on "
        f"{meta['machine']}; {versions}; autolr at `{meta['git']}`.",
        "",
    ]
    if meta.get("gpu_note"):
        lines += [meta["gpu_note"], ""]
    lines += ["### Quality at equal and at half the compute", "", GOAL_TEXT, ""]
    for workload in results["workloads"].values():
        lines += [
            f"#### {workload['title']}",
            "",
            f"{workload['optimizer']}; {workload['total_steps']:,} optimizer steps per run; the "
            f"script's own LR {workload['base_lr']:g}; hand schedule: {workload['hand']}; "
            f"metric: {workload['metric']} (lower is better).",
            "",
            *quality_table(workload),
            "",
            *_goal_lines(workload),
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
    if others:
        lines += ["#### Other search seeds", "", *seeds_table(results, others)]
    ladders = [(name, ladder_tables(w)) for name, w in results["workloads"].items()]
    if any(table for _, table in ladders):
        lines += ["### The fidelity ladder", ""]
        for name, table in ladders:
            if table:
                lines += [f"#### {name}", "", *table]
    lines += ["### Pruning", "", *pruning_summary([results, *(others or [])])]
    for name, workload in results["workloads"].items():
        lines += [f"#### {name}", "", *pruning_tables(workload), ""]
    lines += ["### Overhead and parallel scaling", "", *overhead_tables(results), "", END]
    return "\n".join(lines) + "\n"


def update_readme(markdown: str, readme: Path = README) -> None:
    """Replace the marked section of ``readme`` (appending it when the markers are missing)."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + markdown.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + markdown
    readme.write_text(text, encoding="utf-8")


def load_overhead(path: Path = RESULTS / "overhead.json") -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "results.json")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    results["overhead_json"] = load_overhead() or results.get("overhead_json")
    markdown = render(results, load_other_seeds(results, args.results.parent))
    args.results.with_suffix(".md").write_text(markdown, encoding="utf-8")
    update_readme(markdown, args.readme)
    print(markdown)


if __name__ == "__main__":
    main()
