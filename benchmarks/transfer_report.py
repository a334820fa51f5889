"""``transfer.py``'s results as Markdown (``results/transfer.md``): the summary over workloads,
then per workload the study, every arm at the stretched length and at the study's length, the LR
sweep, the order of the arms and the exported file's check.

Every figure is a final validation metric (lower is better), mean ± sample std over the
evaluation seeds; *minus transferred* is an arm's value minus the transferred winner's on the
same seed, mean ± standard error. The stretch factor, the arms and their labels are read from
the results file.
"""

from __future__ import annotations

from typing import Any

from harness.markdown import DASH, formatted, header, row, versions_text

DIGITS = 4  # decimals of every metric


def mean_std(record: dict[str, Any] | None, digits: int = DIGITS) -> str:
    """An arm's ``mean ± std`` (the mean alone with one seed), or :data:`DASH`."""
    if not record or record.get("mean") is None:
        return DASH
    std = record.get("std")
    spread = f" ± {std:.{digits}f}" if std is not None else ""
    return f"{record['mean']:.{digits}f}{spread}"


def _diff(d: dict[str, Any] | None, digits: int = DIGITS) -> str:
    if d is None:
        return DASH
    noise = "within noise" if d["within_noise"] else "beyond noise"
    return f"{d['mean']:+.{digits}f} ± {d['se']:.{digits}f} ({noise})"


def summary_table(results: dict[str, Any]) -> list[str]:
    """Per workload: the transferred winner, the best other arm, the winner's edge over cosine
    at its own LR, and the study's compute in long runs."""
    s = results["meta"]["stretch"]
    lines = header(["workload", f"transferred winner at {s}L", f"best other arm at {s}L",
                    f"transferred minus cosine at the winner's LR, at L / at {s}L",
                    f"study compute ({s}L runs)"])
    for name, w in results["workloads"].items():
        arms = w["arms"]
        others = [a for a in list(arms)[1:] if arms[a]["long"]["mean"] is not None]
        best = min(others, key=lambda a: arms[a]["long"]["mean"]) if others else None
        flipped = [arms["cosine_winner_lr"][k]["minus_transferred"] for k in ("short", "long")]
        gaps = " / ".join(DASH if g is None else _diff({**g, "mean": -g["mean"]})
                          for g in flipped)
        shown = DASH if best is None else f"{arms[best]['label']}: {mean_std(arms[best]['long'])}"
        lines.append(row([name, mean_std(arms["transferred"]["long"]), shown, gaps,
                          f"{w['study_long_runs']:.1f}"]))
    return lines


def arms_table(w: dict[str, Any], s: int) -> list[str]:
    """One workload's arms at ``s`` times the study's length and at its length."""
    lines = header(["schedule", f"at {s}L", f"tuning compute ({s}L runs)",
                    f"final metric at {s}L", f"minus transferred, at {s}L", "final metric at L",
                    "minus transferred, at L"])
    for a in w["arms"].values():
        same = " (the same runs as cosine at the script's LR)" if a.get("same_as") else ""
        lines.append(row([
            f"{a['label']}{same}", f"`{a['long']['schedule']}`", f"{a['tuning_long_runs']:.1f}",
            mean_std(a["long"]), _diff(a["long"].get("minus_transferred")),
            mean_std(a.get("short")), _diff(a.get("short", {}).get("minus_transferred")),
        ]))
    return lines


def _sweep_lines(w: dict[str, Any], s: int) -> list[str]:
    """The LR sweep at the long length, and the order of the arms at both lengths."""
    sweep = ", ".join(
        f"{p['lr']:.3g}: {p['value']:.4f}" if p["value"] is not None else f"{p['lr']:.3g}: —"
        for p in w["sweep"]["points"])
    order = {k: " < ".join(v) for k, v in w["ranking"].items()}
    lrs = [p["lr"] for p in w["sweep"]["points"]]
    if len(lrs) > 1 and w["sweep"]["best_lr"] in (lrs[0], lrs[-1]):
        sweep += " (at an edge of the range swept)"
    return [
        "",
        f"LR sweep at {s}L (cosine, seed {w['sweep']['seed']}, "
        f"{len(w['sweep']['points'])} runs): {sweep}; best {w['sweep']['best_lr']:.3g}.",
        "",
        f"Order of the means (best first) at L: {order['short']}; at {s}L: "
        f"{order['long']}.",
    ]


def workload_section(w: dict[str, Any], s: int) -> list[str]:
    """One workload: its study, its arms, the sweep, the export check and the study's notes."""
    study = w["study"]
    seeds = len(w["arms"]["transferred"]["long"]["seeds"])
    confirmed = study["confirmed"]
    why = w["export"]["why"]
    conf = ("" if confirmed is None else
            f", confirmed mean {confirmed['mean']:.4f} over {confirmed['seeds']} seeds")
    lines = [
        f"## {w['title']}",
        "",
        f"L = {w['short_steps']:,} steps, {s}L = {w['long_steps']:,} steps; "
        f"{w['optimizer']}; script's LR {w['base_lr']:g}; metric: {w['metric']}; "
        f"{seeds} seeds ({', '.join(map(str, w['arms']['transferred']['long']['seeds']))}).",
        "",
        f"Study: {study['trials']} runs, {study['configurations']} configurations, "
        f"{study['steps']:,} steps = {study['short_runs']:.1f} runs of L = "
        f"{w['study_long_runs']:.1f} runs of {s}L, {study['wall_s']:.0f} s; winner "
        f"`{study['summary']}` (trial {study['trial']}; best search value "
        f"{study['best_search_value']:.4f}{conf}). {why[:1].upper()}{why[1:]}.",
        "",
        *arms_table(w, s),
        *_sweep_lines(w, s),
    ]
    check = w["export"].get("same_run_check")
    if check is not None:
        same = ("identical" if check["difference"] == 0 else
                f"difference {formatted(check['difference'], '.2g')}")
        lines += ["", f"The exported file against with_total_steps on seed {check['seed']}: "
                      f"{formatted(check['exported'], '.6f')} and "
                      f"{formatted(check['with_total_steps'], '.6f')} ({same}); largest LR "
                      f"difference {formatted(w['export']['max_lr_difference'], '.2g')}."]
    if study["winner"]["family"] == "plateau":
        lines += ["", "The winner is a plateau schedule: its patience and cooldown count "
                      f"evaluations, which are not rescaled, and a {s}L run makes "
                      f"{s} times as many."]
    if study["notes"]:
        lines += ["", "Study notes: " + "; ".join(study["notes"])]
    return [*lines, ""]


def render(results: dict[str, Any]) -> str:
    """The page: how the run was made, the summary, then each workload."""
    meta = results["meta"]
    s = meta["stretch"]
    lines = [
        "# Tune short, train long (`benchmarks/transfer.py`)",
        "",
        f"{meta['date']}, {meta['machine']}; commit {meta['git']}; "
        f"autolr from {meta['autolr_source']['path']} (sources "
        f"{meta['autolr_source']['sha256']}); "
        f"`{meta['command']}`, {meta['wall_s']:.0f} s wall, {meta['jobs']} process(es), one "
        f"torch thread each. {versions_text(meta['versions'])}.",
        "",
        f"Each study: `autolr.tune` with its defaults (fidelity ladder, confirmation), "
        f"n_trials = {meta['trials']} full runs of compute at length L, study seed "
        f"{meta['seed']}. Every arm is trained from scratch at {s}L (and at L for "
        "context) on the same fresh seeds; final validation metric, lower is better, mean ± "
        "sample std over the seeds. *minus transferred*: the arm's value minus the transferred "
        "winner's on the same seed, mean ± standard error (positive: the transferred winner is "
        "better; within noise when under 2 SE). Tuning compute in long runs "
        f"({s}L steps each); the evaluation runs themselves are not counted.",
        "",
        *summary_table(results),
        "",
    ]
    for w in results["workloads"].values():
        lines += workload_section(w, s)
    return "\n".join(lines).rstrip() + "\n"
