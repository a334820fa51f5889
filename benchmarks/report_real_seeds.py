"""The real-run benchmark over several search seeds, as one table: each method's re-trained
mean per search seed, the mean over seeds with a 95% interval (t over the search seeds), and
issue #19's real-run goal checked per workload.

    python benchmarks/report_real_seeds.py FOLDER      # FOLDER/*seed*/results.json

The folders come from ``real_seeds.sh`` (or from ``run.py --seed S --output-dir FOLDER/seedS``).
The goal: autolr's default at N and at N/2 is no worse than the best of (b)-(e) at N (an
LR-only Optuna study, random search, linear/cosine with a tuned LR, Schedule-Free AdamW) on any
workload; "worse" counts only where the intervals separate.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from replay_report import md_table

DEFAULT, HALF = "autolr_lr_first", "autolr_lr_first_half"
OTHERS = ("optuna_lr", "random", "linear_cosine", "schedulefree")  # (b)-(e)


def interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% interval (Student's t over the search seeds)."""
    from scipy.stats import t

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan")
    quantile = float(t.ppf(0.975, len(values) - 1))
    return mean, quantile * statistics.stdev(values) / len(values) ** 0.5


def load(folder: Path) -> list[dict[str, Any]]:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*seed*/results.json"))]
    if not runs:
        raise SystemExit(f"no *seed*/results.json under {folder}: run benchmarks/real_seeds.sh "
                         "first")
    return sorted(runs, key=lambda r: r["meta"]["seed"])


def render(runs: list[dict[str, Any]]) -> str:
    lines = ["Each search's winner re-trained on three fresh seeds, the mean; lower is better. "
             "Mean over search seeds ± the half-width of its 95% interval (Student's t).", ""]
    for r in runs:
        meta = r["meta"]
        lines.append(f"- seed {meta['seed']}: N = {meta['trials']}, "
                     f"{', '.join(r['workloads'])}; {meta['machine']}; torch "
                     f"{meta['versions'].get('torch')}; commit {meta['git']}")
    lines.append("")
    for name in dict.fromkeys(w for r in runs for w in r["workloads"]):
        have = [r for r in runs if name in r["workloads"]]
        present = [m for m in have[0]["workloads"][name]["methods"]
                   if all(m in r["workloads"][name]["methods"] for r in have)]
        rows, stats = [], {}
        for method in present:
            values = [r["workloads"][name]["methods"][method]["retrain_mean"] for r in have]
            stats[method] = interval(values)
            mean, half = stats[method]
            rows.append([method, ", ".join(f"{v:.4f}" for v in values),
                         f"{mean:.4f} ± {half:.4f}"])
        seeds = ", ".join(str(r["meta"]["seed"]) for r in have)
        lines += [f"**{name}** (search seeds {seeds})", "",
                  md_table(["method", "per search seed", "mean ± 95%"], rows), ""]
        others = [m for m in OTHERS if m in stats]
        if not others:
            continue
        best = min(others, key=lambda m: stats[m][0])
        for method, label in ((DEFAULT, "at N"), (HALF, "at N/2")):
            if method not in stats:
                continue
            (mine, my_half), (theirs, their_half) = stats[method], stats[best]
            if mine <= theirs:
                verdict = "met"
            elif mine - my_half > theirs + their_half:
                verdict = "not met (intervals apart)"
            else:
                verdict = "not met by the mean, within the intervals"
            lines.append(f"- default {label}: {mine:.4f} against the best of (b)-(e), {best} "
                         f"{theirs:.4f}: {verdict}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    print(render(load(Path(argv[0]))))


if __name__ == "__main__":
    main(sys.argv[1:])
