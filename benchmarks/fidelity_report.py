"""``fidelity.py``'s results as Markdown (``results/fidelity.md``): per workload, how well each
proxy ranks the schedules against the full run's final value (Spearman's rho), how many of the
five best it finds, the full-run rank of its pick, the bootstrap interval of the gap between a
compressed run and the full run's own value at the same step, and the diverged runs.
"""

from __future__ import annotations

from typing import Any

from harness.markdown import DASH, header, row, versions_text

TOP_K = 5  # the top-k overlap's k (fidelity.py scores with the same)


def _rho(score: dict[str, Any]) -> str:
    return DASH if score["spearman"] is None else f"{score['spearman']:.2f}"


def _steps(values: list[int]) -> str:
    return "/".join(str(v) for v in values)


def _proxies(fids: list[str]) -> tuple[list[str], list[str]]:
    """The proxies' keys in the analysis, and their short labels, in the tables' order."""
    proxies = ["seed_b", *[p for f in fids for p in (f"compressed {f}", f"own {f}")]]
    labels = ["seed B", *[p for f in fids for p in (f, f"own at {f}")]]
    return proxies, labels


def correlation_table(results: dict[str, Any]) -> list[str]:
    """Per workload: each proxy's Spearman rho against the full run (with the steps its runs
    took) and the top-k overlaps."""
    fids = results["meta"]["fidelities"]
    proxies, labels = _proxies(fids)
    columns = ["workload", "schedules", "a second seed of the full run (noise ceiling)"]
    for f in fids:
        columns += [f"compressed into {f} (steps)", f"full run's own value at {f}"]
    columns.append(f"top-{TOP_K} overlap ({', '.join(labels)})")
    lines = header(columns, compact=True)
    for name, info in results["workloads"].items():
        a = info["analysis"]
        s = a["scores"]
        cells = [f"{name} ({info['total_steps']} steps)", str(len(info["schedules"])),
                 _rho(s["seed_b"])]
        for f in fids:
            c = s[f"compressed {f}"]["steps"]
            o = s[f"own {f}"]["steps"]
            cells.append(f"{_rho(s[f'compressed {f}'])} ({c['horizon']}→{_steps(c['ended_at'])})")
            cells.append(f"{_rho(s[f'own {f}'])} ({_steps(o['at'])})")
        cells.append(", ".join(str(s[p][f"top{TOP_K}_overlap"]) for p in proxies)
                     + f" of {a['k']}")
        lines.append(row(cells))
    return lines


def pick_table(results: dict[str, Any]) -> list[str]:
    """Per workload: the full-run rank of each proxy's pick, the rho gaps with their bootstrap
    intervals, and the diverged runs."""
    fids = results["meta"]["fidelities"]
    proxies, labels = _proxies(fids)
    columns = ["workload", f"pick's rank: {', '.join(labels)}"]
    columns += [f"ρ gap at {f} (90%)" for f in fids]
    columns += ["diverged: full A, seed B, " + ", ".join(f"compressed {f}" for f in fids)]
    lines = header(columns, compact=True)
    for name, info in results["workloads"].items():
        a = info["analysis"]
        s = a["scores"]
        cells = [name, ", ".join(f"{s[p]['pick_rank']:g}" for p in proxies)]
        for f in fids:
            gap = s[f"compressed {f}"]["spearman"], s[f"own {f}"]["spearman"]
            interval = a["gap_90"][f]
            text = DASH if None in gap else f"{gap[0] - gap[1]:+.2f}"
            if interval is not None:
                text += f" [{interval[0]:+.2f}, {interval[1]:+.2f}]"
            cells.append(text)
        cells.append(", ".join(str(x) for x in [
            a["diverged_full_a"], s["seed_b"]["diverged"],
            *[s[f"compressed {f}"]["diverged"] for f in fids]]))
        lines.append(row(cells))
    return lines


def render(results: dict[str, Any]) -> str:
    """The page: how the run was made, then the two tables."""
    meta = results["meta"]
    lines = [
        "# Fidelity: do compressed, annealed runs rank LR schedules like the full run?",
        "",
        f"`{meta['command']}`: {meta['date']}, {meta['wall_s'] / 60:.1f} min on "
        f"{meta['machine']} ({meta['jobs']} job(s) x {meta['threads_per_job']} torch thread(s)), "
        f"git {meta['git']}; {versions_text(meta['versions'])}.",
        "",
        "Spearman rank correlation with the full run's final value (seed "
        f"{meta['seeds'][0]}), over random schedules from autolr's search space (every "
        "closed-form family; peak LR 0.1x-10x the script's; warmup 0-20%). *Compressed into "
        "f*: the whole schedule in round(f·T) steps, stopped at the first evaluation at or "
        "after that step (shown as horizon→step it stopped at). *Full run's own value at f*: "
        "the seed-A full run's value at that same evaluation (what pruners compare). Diverged "
        "runs rank last.",
        "",
        *correlation_table(results),
        "",
        "Per proxy: the full-run rank of the schedule it ranks first (1 = it found the best); "
        "the paired-bootstrap 90% interval of ρ(compressed) − ρ(own value at the same step); "
        "diverged runs.",
        "",
        *pick_table(results),
        "",
    ]
    return "\n".join(lines)
