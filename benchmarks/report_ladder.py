"""The fidelity-ladder part of ``results.md``: what each ladder study did, rung by rung.

Per study: its rungs (optimizer steps and fraction of the run), the runs and promotions at each,
the constant-LR and ``plateau`` share of the runs and of those promoted, the family of each
rung's best run, the rung the sampler learned from draw by draw, and the winner's rank at every
rung on its way up. Confirmation runs (which repeat a configuration on another seed) stand
outside these tables.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.markdown import DASH, header, num, row
from report_quality import LADDER_ORDER


def _search_runs(trial_log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study's search runs: its confirmation runs apart."""
    return [t for t in trial_log if t.get("confirms") is None]


def _kind(trial: dict[str, Any]) -> str:
    """A run's family (a baseline's name for the baselines)."""
    return trial.get("family") or trial.get("baseline") or DASH


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
            *header(["rung", "steps (fraction of the run)", "runs (entered here)", "promoted",
                     "most frequent families", "constant-LR runs", "plateau runs",
                     "promoted runs: constant / plateau", "family of the best",
                     "best value at the rung"]),
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
            frequent = ", ".join(f"{f} {n}" for f, n in counts.most_common(3)) or DASH
            share = (f"{sum(map(_constant, promoted))} / "
                     f"{sum(_kind(t) == 'plateau' for t in promoted)} of {len(promoted)}"
                     if r["rung"] < top else DASH)
            lines.append(row([
                r["rung"], f"{r['steps']:,} ({r['fidelity']:.3g})", f"{len(at)} ({entered})",
                len(promoted) if r["rung"] < top else DASH, frequent, sum(map(_constant, at)),
                sum(_kind(t) == "plateau" for t in at), share,
                _kind(leader) if leader else DASH, num(r["best"]),
            ]))
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
