"""Issue #9's goal and issue #10's comparison, decided from a results file's re-trained figures.

``run.py`` stores both verdicts in ``results.json`` (``goal``, ``confirmation``); the report
recomputes them for a results file of an earlier benchmark that lacks them. Every figure is a
re-trained mean or standard deviation of the workload's metric (lower is better) over the same
fresh seeds, so two methods' figures compare directly.
"""

from __future__ import annotations

from typing import Any

RIVALS = ("optuna_lr", "random", "linear_cosine", "schedulefree")  # (b)-(e)
EQUAL_RIVALS = (*RIVALS, "autolr_full")  # what the ladder at N must beat at equal compute


def compare(ours: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``other``'s re-trained mean minus ours (positive: ours is better), and whether the gap is
    larger than the seed spread."""
    diff = other["retrain_mean"] - ours["retrain_mean"]
    noise = max(ours["retrain_std"], other["retrain_std"])
    return {"margin": diff, "beyond_spread": abs(diff) > noise}


def retrained(methods: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Method ``name``'s record when it ran and its winner was re-trained, else None."""
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
    ours = retrained(methods, "autolr")
    random_steps = methods.get("random", {}).get("steps") or 0
    out["steps_ratio"] = (methods["autolr"]["steps"] / random_steps
                          if "autolr" in methods and random_steps else None)

    half = retrained(methods, "autolr_half")
    rivals = [r for r in RIVALS if retrained(methods, r) is not None]
    if half is None or not rivals:
        out["half"] = {"met": False, "why": "autolr_half or (b)-(e) did not run"}
    else:
        best = min(rivals, key=lambda r: methods[r]["retrain_mean"])
        c = compare(half, methods[best])
        out["half"] = {
            "met": c["margin"] >= 0, "best_rival": best, **c,
            "mean": half["retrain_mean"], "rival_mean": methods[best]["retrain_mean"],
            "runs": half["steps"] / total if total else None,
        }

    equal_rivals = [r for r in EQUAL_RIVALS if retrained(methods, r) is not None]
    if ours is None or not equal_rivals:
        out["equal"] = {"met": False, "why": "autolr or its rivals did not run"}
    else:
        beats = {}
        for rival in equal_rivals:
            c = compare(ours, methods[rival])
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
    ours = retrained(methods, "autolr")
    if ours is None:
        return {"why": "autolr did not run"}
    record = ours.get("confirmation")
    out: dict[str, Any] = {"mean": ours["retrain_mean"], "std": ours["retrain_std"],
                           "confirmed": record is not None}
    other = retrained(methods, "autolr_unconfirmed")
    out["unconfirmed"] = None if other is None else {
        "mean": other["retrain_mean"], "std": other["retrain_std"], **compare(ours, other),
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
                           **compare(ours, luckiest)}
    half = methods.get("autolr_half", {}).get("confirmation")
    out["half_changed"] = half["changed"] if half else None
    if half and half["changed"] and half["luckiest"].get("retrain_mean") is not None:
        m = methods["autolr_half"]
        out["half_luckiest"] = {"mean": m["retrain_mean"], "std": m["retrain_std"],
                                "luckiest_mean": half["luckiest"]["retrain_mean"],
                                "luckiest_std": half["luckiest"]["retrain_std"],
                                "winner": half["winner"]["summary"],
                                "luckiest": half["luckiest"]["summary"],
                                **compare(m, half["luckiest"])}
    return out
