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
QUALITY_ORDER = ("autolr", "autolr_half", "autolr_unconfirmed", "autolr_full", "hand",
                 "optuna_lr", "random", "linear_cosine", "schedulefree")
LADDER_ORDER = ("autolr", "autolr_half", "autolr_unconfirmed")
CONFIRMED_ORDER = ("autolr", "autolr_half")
PRUNING_ORDER = (("autolr_none", "none"), ("autolr_full", "median (previous default)"),
                 ("autolr_hyperband", "hyperband"))
GOAL_TEXT = (
    "**Goal** (issue #9): *at half the compute*, autolr's ladder at N/2 re-trains no worse "
    "(mean over the 3 seeds) than the best of (b)-(e) at N; *at equal compute*, the ladder at N "
    "re-trains better than each of (b)-(e) and than autolr's full search (the previous "
    "default) at N. \"Within the seed spread\" marks a difference smaller than the larger of "
    "the two standard deviations: a win or loss that three seeds cannot confirm."
)
CONFIRM_TEXT = (
    "**Comparison** (issue #10): the fresh-seed quality of the confirmed winner against the "
    "unconfirmed pick. `autolr` (the default) keeps part of its budget to re-run its top "
    "configurations and the constant baseline on fresh seeds and returns the best mean; its "
    "winner, re-trained on the 3 seeds 7001-7003, is set against (i) `autolr_unconfirmed`, the "
    "ladder at the same total compute with `confirm=0` (the whole budget on the search, the "
    "single best full-length run wins), and (ii) the same study's *luckiest* run, its best "
    "full-length search run, which it would have returned without confirming (re-trained on the "
    "same seeds). \"Within the seed spread\" as above."
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


def confirmation_compare(workload: dict[str, Any]) -> dict[str, Any]:
    """Issue #10's comparison on one workload: the confirmed winner's (``autolr``) re-trained
    mean against the unconfirmed ladder study at equal compute (``autolr_unconfirmed``) and
    against the same study's luckiest run (``vs_luckiest`` None when confirmation kept it).
    Margins are the other's mean minus the confirmed winner's (positive: confirmation better)."""
    methods = workload["methods"]
    ours = _retrained(methods, "autolr")
    if ours is None:
        return {"why": "autolr did not run"}
    record = ours.get("confirmation")
    out: dict[str, Any] = {"mean": ours["retrain_mean"], "std": ours["retrain_std"],
                           "confirmed": record is not None}
    other = _retrained(methods, "autolr_unconfirmed")
    out["unconfirmed"] = None if other is None else {
        "mean": other["retrain_mean"], "std": other["retrain_std"], **_compare(ours, other),
        "same_winner": other["winner"].get("spec") == ours["winner"].get("spec")}
    if record is None:
        out["changed"] = None
        out["luckiest"] = None
        return out
    luckiest = record["luckiest"]
    out["changed"] = record["changed"]
    out["luckiest"] = None
    if luckiest.get("retrain_mean") is not None:
        out["luckiest"] = {"mean": luckiest["retrain_mean"], "std": luckiest["retrain_std"],
                           **_compare(ours, luckiest)}
    half = methods.get("autolr_half", {}).get("confirmation")
    out["half_changed"] = half["changed"] if half else None
    if half and half["changed"] and half["luckiest"].get("retrain_mean") is not None:
        m = methods["autolr_half"]
        out["half_luckiest"] = {"mean": m["retrain_mean"], "std": m["retrain_std"],
                                "luckiest_mean": half["luckiest"]["retrain_mean"],
                                "luckiest_std": half["luckiest"]["retrain_std"],
                                "winner": half["winner"]["summary"],
                                "luckiest": half["luckiest"]["summary"],
                                **_compare(m, half["luckiest"])}
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
        "(shortened / pruned / confirming) | configurations | steps spent | full runs of "
        "compute | steps / (c) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in QUALITY_ORDER:
        m = methods.get(name)
        if m is None:
            continue
        searched = bool(m["trials"])
        ratio = f"{m['steps'] / random_steps:.2f}" if random_steps and searched else "—"
        runs = (f"{m['trials']} ({m.get('shortened', 0)} / {m['pruned']} / "
                f"{m.get('confirming', 0)})" if searched else "—")
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


def _search_runs(trial_log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study's search runs: its confirmation runs apart."""
    return [t for t in trial_log if t.get("confirms") is None]


def _kind(trial: dict[str, Any]) -> str:
    """A run's family (a baseline's name for the baselines)."""
    return trial.get("family") or trial.get("baseline") or "—"


def _constant(trial: dict[str, Any]) -> bool:
    return trial.get("family") == "constant" or trial.get("baseline") == "constant"


def _learning_text(trial_log: list[dict[str, Any]]) -> str | None:
    """Which rung the sampler learned from, draw by draw, in words."""
    draws = [t for t in trial_log if t.get("learning_rung") is not None]
    if not draws:
        return None
    spans: list[list[int]] = []  # [rung, first draw, last draw, first trial]
    for i, t in enumerate(draws, 1):
        if spans and spans[-1][0] == t["learning_rung"]:
            spans[-1][2] = i
        else:
            spans.append([t["learning_rung"], i, i, t["number"]])
    parts = []
    for rung, first, last, number in spans:
        which = f"draws {first}-{last}" if last > first else f"draw {first}"
        parts.append(f"rung {rung} for {which}" + (f" (from trial {number})" if first > 1 else ""))
    plural = "s" if len(draws) != 1 else ""
    return (f"The sampler drew {len(draws)} configuration{plural} and learned from "
            + ", then ".join(parts) + ".")


def _rank_at(
    trial_log: list[dict[str, Any]], rung: int, number: int, top: int
) -> tuple[int, int] | None:
    """The rank (1 = best) of run ``number`` among the results at ``rung`` (the baselines
    included at the top rung), and their count."""
    results = [t for t in _search_runs(trial_log)
               if (t.get("rung") == rung or (rung == top and t.get("baseline")))
               and t["state"] != "running"]
    if not any(t["number"] == number for t in results):
        return None
    ordered = sorted(results, key=lambda t: (t["value"] is None, t["value"] or 0.0, t["number"]))
    return [t["number"] for t in ordered].index(number) + 1, len(ordered)


def ladder_tables(workload: dict[str, Any]) -> list[str]:
    """What each ladder study did: its rungs, runs and promotions per rung, the constant-LR and
    plateau share at each rung and among its promotions, the rung the sampler learned from, and
    where the winner stood on the way up."""
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
        log = _search_runs(m.get("trial_log", []))
        by_number = {t["number"]: t for t in log}
        total = ladder["steps"][-1]
        top = len(ladder["steps"]) - 1
        confirming = m.get("confirming", 0)
        extra = (f", {confirming} of them confirmation runs (not in the table)"
                 if confirming else "")
        lines += [
            f"{m['label']}: rungs at {ladder['describe']}; {ladder['configurations']} "
            f"configurations; {ladder['runs_used']:.1f} of {ladder['budget_runs']} full runs of "
            f"compute ({ladder['steps_used']:,} steps{extra}); running every configuration at "
            f"full length would have cost {ladder['full_search_steps'] / total:.1f}.",
            "",
            "| rung | steps (fraction of the run) | runs (entered here) | promoted | most frequent "
            "families | constant-LR runs | plateau runs | promoted runs: constant / plateau | "
            "family of the best | best value at the rung |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in ladder["rungs"]:
            at = [t for t in log if (t.get("rung") == r["rung"]
                                     or (r["rung"] == top and t.get("baseline")))
                  and t["state"] != "running"]
            entered = sum(t.get("promoted_from") is None and not t.get("baseline") for t in at)
            here = {t["number"] for t in at}
            promoted = [by_number[t["promoted_from"]] for t in log
                        if t.get("promoted_from") in here]
            valued = [t for t in at if t["value"] is not None]
            leader = min(valued, key=lambda t: t["value"]) if valued else None
            counts = Counter(_kind(t) for t in at)
            frequent = ", ".join(f"{f} {n}" for f, n in counts.most_common(3)) or "—"
            share = (f"{sum(map(_constant, promoted))} / "
                     f"{sum(_kind(t) == 'plateau' for t in promoted)} of {len(promoted)}"
                     if r["rung"] < top else "—")
            lines.append(
                f"| {r['rung']} | {r['steps']:,} ({r['fidelity']:.3g}) | {len(at)} ({entered}) | "
                f"{len(promoted) if r['rung'] < top else '—'} | {frequent} | "
                f"{sum(map(_constant, at))} | {sum(_kind(t) == 'plateau' for t in at)} | "
                f"{share} | {_kind(leader) if leader else '—'} | {_num(r['best'])} |"
            )
        learning = _learning_text(log)
        lines += ["", *([learning] if learning else []), "", _winner_path(m, top), ""]
        record = m.get("confirmation")
        if record and record.get("changed"):
            lines += [_winner_path(m, top, record["luckiest"]["number"], "The luckiest run"), ""]
    return lines


def _winner_path(m: dict[str, Any], top: int, number: int | None = None,
                 who: str = "Winner") -> str:
    """The winner's (or run ``number``'s) way up the ladder, as its rank at each rung."""
    log = {t["number"]: t for t in _search_runs(m.get("trial_log", []))}
    number = m["winner"].get("trial") if number is None else number
    trial = log.get(number)
    if trial is None:
        return f"{who}: not in the study's runs."
    if trial.get("baseline"):
        return f"{who}: the baseline `{trial['baseline']}` (a full run outside the ladder)."
    path = []
    while trial is not None:
        rank = _rank_at(list(log.values()), trial.get("rung"), trial["number"], top)
        if rank is not None:
            path.append(f"{rank[0]} of {rank[1]} at rung {trial.get('rung')}")
        trial = log.get(trial.get("promoted_from"))
    if not path:
        return f"{who}: —"
    return f"{who}'s rank on its way up: " + ", ".join(reversed(path)) + "."


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
    import overhead as overhead_py  # benchmarks/overhead.py, beside this file

    lines += [
        f"From `benchmarks/overhead.py` (`{overhead.get('command')}`, {overhead.get('date')}, "
        f"{overhead.get('machine')}; the profiles in `results/overhead.md`). autolr (full "
        "search, no pruner, no baselines, no confirmation, the LR range fixed) against a "
        "hand-written Optuna loop over the same conditional space (autolr's `SearchSpace` "
        "sampled on a plain Optuna trial, TPE as autolr sets it with its sampler seed, the same "
        "scheduler and trial seeds: both sides draw the same configurations), storing in "
        "SQLite: Optuna's default, and opened as autolr opens it (WAL, synchronous=NORMAL, the "
        "strict comparison). Ratios are autolr's wall time over the loop's; the goal is judged "
        "on the quiet rounds (no side sharing the machine with other work):",
        "",
        *overhead_py.comparison_table(overhead),
    ]
    extra = load_overhead(RESULTS / "overhead_in_process.json")
    if extra:
        lines += [
            "",
            f"In process again with more rounds (`{extra.get('command')}`, {extra.get('date')}):",
            "",
            *overhead_py.comparison_table(extra),
        ]
    return lines


def _versus(margin: float, beyond: bool) -> str:
    """A margin in words, from the confirmed winner's side."""
    if margin == 0:
        return "equal"
    word = "better" if margin > 0 else "**worse**"
    return f"{word} by {_margin(margin)}{'' if beyond else ' (within the seed spread)'}"


def _margin(margin: float) -> str:
    """``0.0041``; a margin too small for 4 decimals in 2 significant digits."""
    return f"{abs(margin):.4f}" if abs(margin) >= 5e-5 else f"{abs(margin):.2g}"


def _confirmed_name(configuration: dict[str, Any]) -> str:
    """A confirmed configuration in a word: its family, or which baseline it is."""
    if configuration.get("baseline"):
        return f"{configuration['baseline']} baseline"
    return configuration["summary"].split("(")[0]


def _plan_text(record: dict[str, Any]) -> str:
    k, m = record["plan"]
    baseline = any(c.get("baseline") == "constant" for c in record["configurations"])
    return (f"{len(record['runs'])} runs: top {k}{' and the constant baseline' if baseline else ''}"
            f" on {m} fresh seed{'s' if m != 1 else ''}")


def confirmation_tables(results: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """What confirmation did in this run's confirmed studies, and issue #10's comparison under
    every search seed available."""
    lines = [CONFIRM_TEXT, "", "What confirmation did in each confirmed study (this page's seed, "
             f"{results['meta']['seed']}):", "",
             "| workload | study | confirmation runs | confirmed winner | its mean ± std over "
             "its seeds, in the study | the other confirmed configurations' means | winner "
             "minus the constant baseline (paired, same seeds) | the luckiest run (its value in "
             "the search) | winner changed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, workload in results["workloads"].items():
        for key in CONFIRMED_ORDER:
            m = workload["methods"].get(key)
            if m is None:
                continue
            record = m.get("confirmation")
            if not record:
                lines.append(f"| {name} | {m['label']} | none (the budget buys no "
                             "confirmation) | | | | | | |")
                continue
            w, lucky = record["winner"], record["luckiest"]
            against = record.get("against_baseline")
            if against is None:
                against_text = "— (the winner is the constant baseline)" if w.get(
                    "baseline") == "constant" else "—"
            else:
                error = against["standard_error"]
                shown = f" ± {error:.2g}" if error is not None else ""
                against_text = (f"{against['difference']:+.4f}{shown} "
                                f"({'within' if against['within_noise'] else 'beyond'} noise)")
            rest = ", ".join(
                f"{_confirmed_name(c)} {c['mean']:.4f}"
                for c in sorted(record["configurations"], key=lambda c: c["mean"])
                if c["number"] != w["number"]) or "—"
            lines.append(
                f"| {name} | {m['label']} | {_plan_text(record)} ({record['steps']:,} steps) | "
                f"`{w['summary']}` | {w['mean']:.4f} ± {w['std']:.4f} ({w['seeds']}) | {rest} | "
                f"{against_text} | `{lucky['summary']}` ({_num(lucky['value'])}) | "
                f"{'**yes**' if record['changed'] else 'no'} |"
            )
    runs = [results, *others]
    lines += [
        "",
        "Re-trained on seeds 7001-7003 (mean ± std), under every search seed:",
        "",
        "| workload, seed | confirmed winner (`autolr`) | unconfirmed ladder at equal compute "
        "(`autolr_unconfirmed`) | the same study's luckiest run | confirmed against the "
        "unconfirmed study | confirmed against the luckiest run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    tally = {"studies": 0, "changed": 0, "vs": 0, "better": 0, "beyond": 0, "worse_beyond": 0,
             "lucky_better": 0, "half": 0, "half_changed": 0, "same": 0}
    half_cases: list[str] = []
    for name in results["workloads"]:
        for run in runs:
            workload = run["workloads"].get(name)
            if workload is None:
                continue
            c = confirmation_compare(workload)
            if "why" in c:
                continue
            unconfirmed, luckiest = c["unconfirmed"], c["luckiest"]
            u_text = (f"{unconfirmed['mean']:.4f} ± {unconfirmed['std']:.4f}"
                      if unconfirmed else "—")
            if not c["confirmed"]:
                l_text, vs_l = "—", "no confirmation ran"
            elif not c["changed"]:
                l_text, vs_l = "the winner itself", "same configuration"
            elif luckiest:
                l_text = f"{luckiest['mean']:.4f} ± {luckiest['std']:.4f}"
                vs_l = _versus(luckiest["margin"], luckiest["beyond_spread"])
            else:
                l_text, vs_l = "—", "—"
            vs_u = _versus(unconfirmed["margin"], unconfirmed["beyond_spread"]) if (
                unconfirmed) else "—"
            if unconfirmed and unconfirmed.get("same_winner"):
                vs_u += " (the same configuration won)"
            lines.append(f"| {name}, {run['meta']['seed']} | {c['mean']:.4f} ± {c['std']:.4f} | "
                         f"{u_text} | {l_text} | {vs_u} | {vs_l} |")
            if c["confirmed"]:
                tally["studies"] += 1
                tally["changed"] += bool(c["changed"])
                if c["changed"] and luckiest:
                    tally["lucky_better"] += luckiest["margin"] > 0
            if c.get("half_changed") is not None:
                tally["half"] += 1
                tally["half_changed"] += bool(c["half_changed"])
            h = c.get("half_luckiest")
            if h:
                half_cases.append(
                    f"{name} seed {run['meta']['seed']}: `{h['winner']}` re-trained "
                    f"{h['mean']:.4f} ± {h['std']:.4f} against the luckiest run `{h['luckiest']}`"
                    f" at {h['luckiest_mean']:.4f} ± {h['luckiest_std']:.4f}, "
                    f"{_versus(h['margin'], h['beyond_spread'])}")
            if unconfirmed:
                tally["vs"] += 1
                tally["same"] += bool(unconfirmed.get("same_winner"))
                tally["better"] += unconfirmed["margin"] > 0
                tally["beyond"] += unconfirmed["margin"] > 0 and unconfirmed["beyond_spread"]
                tally["worse_beyond"] += (unconfirmed["margin"] < 0
                                          and unconfirmed["beyond_spread"])
    if tally["vs"]:
        changed = (f"; where it did, the confirmed winner re-trained better than the luckiest "
                   f"run in {tally['lucky_better']} of {tally['changed']}"
                   if tally["changed"] else "")
        half = (f" At N/2 it changed the winner in {tally['half_changed']} of {tally['half']}"
                + (": " + "; ".join(half_cases) if half_cases else "") + "."
                if tally["half"] else "")
        lines += [
            "",
            f"Confirmation changed the winner in {tally['changed']} of {tally['studies']} "
            f"studies at N{changed}.{half} Against the unconfirmed study at equal compute the "
            f"confirmed winner re-trained better in {tally['better']} of {tally['vs']} "
            f"({tally['beyond']} beyond the seed spread; worse beyond it in "
            f"{tally['worse_beyond']}); in {tally['same']} of {tally['vs']} both studies returned "
            "the same configuration.",
        ]
    return [*lines, ""]


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
        luckiest: list[float | None] = []
        changed = []
        for r in present:
            record = r["workloads"][name]["methods"].get("autolr", {}).get("confirmation")
            luckiest.append(record["luckiest"].get("retrain_mean") if record else None)
            changed.append(("yes" if record["changed"] else "no") if record else "—")
        known = [v for v in luckiest if v is not None]
        mean = _num(sum(known) / len(known)) if known else "—"
        lines += [
            "| autolr: the same study's luckiest run (the unconfirmed pick) | "
            + " | ".join(_num(v) for v in luckiest) + f" | {mean} |",
            "| confirmation changed autolr's winner | " + " | ".join(changed) + " | |",
        ]
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
    if any(w["methods"].get("autolr", {}).get("confirmation") is not None
           or "autolr_unconfirmed" in w["methods"] for w in results["workloads"].values()):
        lines += ["### Confirmation on fresh seeds (issue #10)", "",
                  *confirmation_tables(results, others or [])]
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
