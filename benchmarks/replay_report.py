"""The replay results as a page: normalized regret per workload, budget and method with 95%
intervals, how often the winner is worse than the script's own schedule, what each search cost,
the goals of issue #19, and regret-against-compute plots (SVG, one per workload).

Reads ``benchmarks/results/replay/<workload>.jsonl`` (written by ``replay.py measure``) and the
tables' manifests; imports neither torch nor autolr. Writes ``results/replay.md`` and
``results/replay_<workload>.svg``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.files import BENCHMARKS, RESULTS, read_lines, write_text
from harness.markdown import header, row

TABLES = BENCHMARKS / "tables"
BUDGETS = (5, 10, 20, 40)
def md_table(columns: list[str], rows: list[list[str]]) -> str:
    return "\n".join([*header(columns), *(row(r) for r in rows)])


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#17becf")


def mean_interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% interval (normal approximation)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.inf
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, 1.96 * sd / math.sqrt(n)


def summarize(lines: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (method, N): studies, regret mean and interval, share worse than the script's own
    schedule (and by more than one seed's spread), mean compute (full runs, steps, simulated
    seconds)."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        groups[(line["method"], line["n"])].append(line)
    result = {}
    for key, group in groups.items():
        regret, half = mean_interval([g["regret"] for g in group])
        result[key] = {
            "studies": len(group), "regret": regret, "half": half,
            "worse": sum(g["worse_than_own"] for g in group) / len(group),
            "worse_count": sum(g["worse_than_own"] for g in group),
            "worse_beyond_noise": sum(g["own_gap"] > g["seed_sd"] for g in group),
            "full_runs": sum(g["full_runs"] for g in group) / len(group),
            "wall_s": sum(g["wall_s"] for g in group) / len(group),
        }
    return result


def separated(a: dict[str, Any], b: dict[str, Any]) -> int:
    """-1 when ``a``'s regret is lower than ``b``'s with the intervals apart, 1 when higher, 0
    when they overlap."""
    if a["regret"] + a["half"] < b["regret"] - b["half"]:
        return -1
    if a["regret"] - a["half"] > b["regret"] + b["half"]:
        return 1
    return 0


def goals(summary: dict[tuple[str, int], dict[str, Any]], default: str) -> list[str]:
    """The goals of issue #19 for one workload, checked (with the intervals) for ``default``."""
    lines = []
    methods = sorted({m for m, _ in summary if m != default})
    for n in (10, 20, 40):
        mine = summary.get((default, n // 2))
        if mine is None:
            continue
        losses = [m for m in methods if (m, n) in summary
                  and mine["regret"] > summary[(m, n)]["regret"]]
        clear = [m for m in losses if separated(mine, summary[(m, n)]) == 1]
        verdict = "met" if not losses else (
            f"not met: higher than {', '.join(losses)}"
            + (f" (intervals apart for {', '.join(clear)})" if clear
               else " (within the intervals)"))
        lines.append(f"at N/2 = {n // 2} no higher than every other method at N = {n}: {verdict}")
    mine = summary.get((default, 20))
    others = [summary[(m, 20)] for m in methods if (m, 20) in summary]
    if mine and others:
        best = min(o["regret"] for o in others)
        ok = mine["regret"] <= best / 2 or mine["regret"] < 0.05
        lines.append(f"at N = 20 at most half the best other's ({best:.3f}) or under 0.05: "
                     f"{'met' if ok else 'not met'} ({mine['regret']:.3f})")
    worse = [(n, summary[(default, n)]) for n in BUDGETS if (default, n) in summary]
    if worse:
        total = sum(s["worse_count"] for _, s in worse)
        studies = sum(s["studies"] for _, s in worse)
        beyond = sum(s["worse_beyond_noise"] for _, s in worse)
        lines.append(f"winner worse than the script's own schedule in under 1% of studies: "
                     f"{'met' if total < 0.01 * studies else 'not met'} ({total} of {studies}; "
                     f"by more than one seed's spread in {beyond})")
    return lines


def svg_plot(name: str, summary: dict[tuple[str, int], dict[str, Any]], x_key: str,
             x_label: str, width: int = 460, height: int = 300) -> str:
    """Mean regret (with its interval) against mean compute, one line per method."""
    methods = sorted({m for m, _ in summary})
    points = {m: sorted((summary[(m, n)][x_key], summary[(m, n)]["regret"],
                         summary[(m, n)]["half"]) for n in BUDGETS if (m, n) in summary)
              for m in methods}
    xs = [p[0] for ps in points.values() for p in ps if p[0] > 0]
    ys = [p[1] + min(p[2], 1) for ps in points.values() for p in ps] + [0.0]
    if not xs:
        return ""
    x0, x1 = math.log10(min(xs)) - 0.05, math.log10(max(xs)) + 0.05
    y0, y1 = min(0.0, min(p[1] - min(p[2], 1) for ps in points.values() for p in ps)), max(ys)
    y1 = max(y1, y0 + 1e-6)
    left, right, top, bottom = 48, 150, 24, 40

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="14">{name}: normalized regret (mean, 95% interval)</text>',
           f'<line x1="{left}" y1="{py(0):.1f}" x2="{width - right}" y2="{py(0):.1f}" '
           f'stroke="#999" stroke-dasharray="3,3"/>',
           f'<text x="{left}" y="{height - 8}">{x_label} (log scale)</text>']
    for tick in (y0, (y0 + y1) / 2, y1):
        out.append(f'<text x="4" y="{py(tick) + 4:.1f}">{tick:.2f}</text>')
    for k, method in enumerate(methods):
        colour = COLOURS[k % len(COLOURS)]
        ps = [p for p in points[method] if p[0] > 0]
        if not ps:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in ps)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for x, y, half in ps:
            half = min(half, y1 - y0)
            out.append(f'<line x1="{px(x):.1f}" y1="{py(y - half):.1f}" x2="{px(x):.1f}" '
                       f'y2="{py(y + half):.1f}" stroke="{colour}"/>')
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>')
        out.append(f'<text x="{width - right + 8}" y="{top + 14 * k + 10}" '
                   f'fill="{colour}">{method}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def workload_section(name: str, lines: list[dict[str, Any]], default: str,
                     out: Path, page: str = "replay") -> list[str]:
    manifest = json.loads((TABLES / f"{name}.json").read_text())
    summary = summarize(lines)
    svg = svg_plot(name, summary, "full_runs", "compute, full runs") + svg_plot(
        name, summary, "wall_s", "simulated wall time, s")
    if svg:
        write_text(out / f"{page}_{name}.svg",
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"920\" height=\"300\">\n"
                   + svg.replace("<svg xmlns", "<svg x=\"0\" xmlns", 1).replace(
                       "</svg>\n<svg xmlns", "</svg>\n<svg x=\"460\" xmlns", 1) + "</svg>\n")
    held = " (held out)" if manifest.get("held_out") else ""
    text = [f"### {name}{held}: {manifest['title']}", "",
            f"{manifest['optimizer']}, {manifest['optimizer_steps']:,} optimizer steps "
            f"({manifest['scheduler_steps']:,} scheduler steps), {manifest['metric']} "
            f"({manifest['direction']}); the script's own schedule: {manifest['own_schedule']}; "
            f"table lengths {manifest['lengths']} scheduler steps.", ""]
    methods = sorted({m for m, _ in summary}, key=lambda m: (m != default, m))
    rows = []
    for method in methods:
        row = [method + (" (default)" if method == default else "")]
        for n in BUDGETS:
            s = summary.get((method, n))
            row.append("" if s is None else
                       f"{s['regret']:.3f} ± {s['half']:.3f} ({s['studies']})")
        s = summary.get((method, 20))
        row.append("" if s is None else
                   f"{100 * s['worse']:.0f}% ({s['worse_beyond_noise']})")
        row.append("" if s is None else f"{s['full_runs']:.1f} / {s['wall_s']:.0f} s")
        rows.append(row)
    text.append(md_table(["method", *(f"N = {n}" for n in BUDGETS),
                          "worse than own, N = 20 (beyond one seed's spread)",
                          "compute at N = 20 (full runs / wall)"],
                         rows))
    text += ["", f"![regret against compute]({page}_{name}.svg)", "",
             "Goals for the default:", ""]
    text += [f"- {g}" for g in goals(summary, default)]
    return [*text, ""]


def write_report(names: list[str], replays: Path, out: Path = RESULTS,
                 default: str = "full", descriptions: dict[str, str] | None = None) -> str:
    """Render ``results/<replays' name>.md`` (and the plots) from the replay files in
    ``replays``; returns the page."""
    validation = json.loads((RESULTS / "replay_validation.json").read_text()) if (
        RESULTS / "replay_validation.json").exists() else None
    studies = {name: read_lines(replays / f"{name}.jsonl") for name in names}
    every = [study for lines in studies.values() for study in lines]
    widest = max((abs(study.get("shift", 0.0)) for study in every), default=0.0)
    spread = (
        "Each study's script LR is the table's shifted by a factor drawn from its search seed, "
        f"uniform within ±{math.ceil(widest * 10) / 10:.1f} decades, the same for every method on "
        "that seed; \"worse than own\" compares with the script's own schedule at that LR, and "
        "counts in brackets the studies whose winner is worse by more than one seed's spread "
        "(the table's seed-to-seed standard deviation of the final value near its best: a "
        "smaller gap is within one seed's luck, which no confirmation on a few seeds resolves). "
        if widest > 0 else "Every study uses the table's own script LR. ")
    page = ["# Replayed studies on the schedule tables", "",
            f"Written by `python benchmarks/replay.py report` from `results/{replays.name}/"
            "*.jsonl`. " + spread + "Normalized regret: 0 is the table's best schedule, 1 the "
            "script's own (at the table's LR); mean over search seeds ± the half-width of its 95% "
            "interval, (studies). A difference counts only where the intervals separate.", ""]
    measured = {study["method"] for study in every}
    if descriptions:
        descriptions = {k: v for k, v in descriptions.items() if k in measured}
        page += ["## The methods", "", "Each gets the compute of N full runs (`n_trials=N` for "
                 "autolr; N trials, pruned ones included, for the hand-written studies).", ""]
        page += [f"- `{name}`: {text}" + (" **(autolr's default)**" if name == default else "")
                 for name, text in descriptions.items() if name != "default"]
        page.append("")
    if validation:
        page += ["## How well the tables predict held-out configurations", "",
                 "Five-fold: each fifth of the sampled configurations predicted by a regressor fit "
                 "on the rest; the last report's seed mean (log of a loss, an accuracy as is). "
                 "`seed vs seed`: what one seed of a configuration tells of another (the noise "
                 "ceiling).", ""]
        rows = []
        for name, entry in validation["workloads"].items():
            for length, v in entry["lengths"].items():
                rows.append([name, length, f"{v['trees']['spearman']:.3f}",
                             f"{v['trees']['spearman_best_quarter']:.3f}",
                             f"{v['trees']['mae']:.3f}", f"{v['knn']['spearman']:.3f}",
                             f"{v['knn']['spearman_best_quarter']:.3f}",
                             f"{v['seed_vs_seed']['spearman']:.3f}",
                             f"{v['seed_vs_seed']['spearman_best_quarter']:.3f}",
                             f"{v['seed_vs_seed']['seed_sd']:.3f}",
                             f"{100 * v['diverged_share']:.0f}%"])
        page.append(md_table(
            ["workload", "length", "trees ρ", "trees ρ best ¼", "trees MAE", "kNN ρ",
             "kNN ρ best ¼", "seed vs seed ρ", "seed vs seed ρ best ¼", "seed sd",
             "diverged"], rows))
        page.append("")
    page += ["## Regret per workload, budget and method", ""]
    for name, lines in studies.items():
        if lines:
            page += workload_section(name, lines, default, out, replays.name)
    text = "\n".join(page)
    write_text(out / f"{replays.name}.md", text)
    return text
