"""Results JSON -> Markdown tables; the tables replace the marked section of benchmarks/README.md.

    python benchmarks/report_md.py [results.json] [--readme benchmarks/README.md]

re-renders the tables from a results file without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START = "<!-- results:start (written by benchmarks/run.py; edits here are overwritten) -->"
END = "<!-- results:end -->"
GOAL_RIVALS = ("optuna_lr", "random", "schedulefree")
QUALITY_ORDER = ("autolr", "hand", "optuna_lr", "random", "linear_cosine", "schedulefree")
PRUNING_ORDER = (("autolr_none", "none"), ("autolr", "median (default)"),
                 ("autolr_hyperband", "hyperband"))


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


def goal(workload: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal on one workload: autolr's re-trained mean below (b), (c) and (e)'s, and
    at most half the training steps of unpruned random search (c)."""
    methods = workload["methods"]
    ours = methods.get("autolr")
    if ours is None or ours.get("retrain_mean") is None:
        return {"met": False, "why": "autolr did not run"}
    beats: dict[str, Any] = {}
    for rival in GOAL_RIVALS:
        other = methods.get(rival)
        if other is None or other.get("retrain_mean") is None:
            continue
        diff = other["retrain_mean"] - ours["retrain_mean"]
        noise = max(ours["retrain_std"], other["retrain_std"])
        beats[rival] = {"beats": diff > 0, "margin": diff, "beyond_spread": abs(diff) > noise}
    random_steps = methods.get("random", {}).get("steps") or 0
    ratio = ours["steps"] / random_steps if random_steps else None
    steps_ok = ratio is not None and ratio <= 0.5
    met = bool(beats) and all(b["beats"] for b in beats.values()) and steps_ok
    return {"met": met, "beats": beats, "steps_ratio": ratio, "steps_ok": steps_ok}


def _goal_line(workload: dict[str, Any]) -> str:
    g = workload.get("goal") or goal(workload)
    if "beats" not in g:
        return f"**Goal: not met** ({g.get('why')})."
    parts = []
    for rival, b in g["beats"].items():
        tag = {"optuna_lr": "(b)", "random": "(c)", "schedulefree": "(e)"}[rival]
        verdict = "beats" if b["beats"] else "**loses to**"
        noise = "" if b["beyond_spread"] else ", within the seed spread"
        parts.append(f"{verdict} {tag} by {abs(b['margin']):.4f}{noise}")
    ratio = g["steps_ratio"]
    steps = (f"steps {ratio:.0%} of (c)'s" if ratio is not None else "steps: no (c) run")
    steps += " (goal ≤ 50%)" if g["steps_ok"] else " (**goal ≤ 50% missed**)"
    verdict = "met" if g["met"] else "NOT met"
    return f"**Goal {verdict}**: autolr {'; '.join(parts)}; {steps}."


def quality_table(workload: dict[str, Any]) -> list[str]:
    methods = workload["methods"]
    random_steps = methods.get("random", {}).get("steps") or 0
    lines = [
        "| method | winner | re-trained, 3 seeds: mean ± std | best in search | trials "
        "(pruned) | steps spent | steps / (c) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in QUALITY_ORDER:
        m = methods.get(name)
        if m is None:
            continue
        ratio = f"{m['steps'] / random_steps:.2f}" if random_steps and m["trials"] else "—"
        trials = f"{m['trials']} ({m['pruned']})" if m["trials"] else "—"
        lines.append(
            f"| {m['label']} | `{m['winner']['summary']}` | {_mean_std(m)} | "
            f"{_num(m['best_value'])} | {trials} | {_steps(m['steps'])} | {ratio} |"
        )
    return lines


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
        "spent inside the training function, per trial; reports and pruning checks happen "
        "inside training, for both):",
        "",
        "| workload | search | trials | wall s | training s | overhead ms / trial |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, workload in results["workloads"].items():
        for key in ("autolr", "random", "optuna_lr"):
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
    if implausible:
        lines += [
            f"**These overhead.py figures are not valid**: negative {', '.join(implausible)} "
            "means the hand-written loop was slowed by other load on the machine while it ran. "
            "Re-run `python benchmarks/overhead.py` on a quiet machine.",
            "",
        ]
    lines += [
        f"From `benchmarks/overhead.py` ({overhead.get('date')}, {overhead.get('machine')}, "
        f"{overhead.get('trials')} trials of {overhead.get('epochs')} digits epochs, no "
        "pruning):",
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
        "different trials): re-trained mean per search seed.",
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
        verdicts = []
        for r in present:
            g = goal(r["workloads"][name])
            verdicts.append("met" if g["met"] else "not met")
        lines += ["| goal | " + " | ".join(verdicts) + " | |", ""]
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
        f"{meta['trials']} trials per search, seed {meta['seed']}, {meta['jobs']} parallel "
        f"job(s), {meta['wall_s'] / 60:.1f} min in all) on {meta['machine']}; {versions}; "
        f"autolr at `{meta['git']}`.",
        "",
    ]
    if meta.get("gpu_note"):
        lines += [meta["gpu_note"], ""]
    lines += ["### Quality at an equal number of trials", ""]
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
            _goal_line(workload),
            "",
        ]
        notes = workload["methods"].get("autolr", {}).get("notes") or []
        for note in notes:
            lines += [f"- autolr note: {note}"]
        if notes:
            lines.append("")
    if others:
        lines += ["#### Other search seeds", "", *seeds_table(results, others)]
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
