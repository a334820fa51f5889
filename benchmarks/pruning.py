"""Pruning: replay the learning curves of an unpruned study through each pruner.

The ``autolr_none`` study trains every trial to the end, so its recorded intermediate values are
the whole learning curve of every trial. Replaying them, trial by trial in the study's order,
through a pruner in a fresh in-memory study (``ask``, ``report`` step by step, ``should_prune``,
``tell``) shows what that pruner would have done with exactly these trials: which it cuts, the
steps it saves, and whether it cuts the trial that turns out best (short-horizon bias: a schedule
that decays late looks worse half-way than one that has already decayed).

The replay holds the sampled trials fixed; a real pruned study samples differently after its
first cut (the ``autolr`` and ``autolr_hyperband`` studies measure that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import TrialState

from autolr.search.pruning import make_pruner


def pruners(n_trials: int) -> dict[str, Callable[[], BasePruner]]:
    """The pruners replayed: autolr's (with its 30% grace period) and Optuna's own."""
    return {
        "autolr median": lambda: make_pruner("median", n_trials),
        "autolr percentile": lambda: make_pruner("percentile", n_trials),
        "autolr hyperband": lambda: make_pruner("hyperband", n_trials),
        "autolr sha": lambda: make_pruner("sha", n_trials),
        "Optuna MedianPruner() (no grace)": lambda: optuna.pruners.MedianPruner(),
        "Optuna HyperbandPruner (no grace)": lambda: optuna.pruners.HyperbandPruner(
            min_resource=1, reduction_factor=3
        ),
    }


def replay(
    trial_log: list[dict[str, Any]], pruner: BasePruner, study_name: str, total_steps: int
) -> dict[str, Any]:
    """Replay ``trial_log`` (``methods._autolr_trial`` records of an unpruned study)."""
    complete = [t for t in trial_log if t["state"] == "complete" and t["value"] is not None]
    if not complete:
        return {"error": "no complete trial to replay"}
    ranked = sorted(complete, key=lambda t: t["value"])
    rank = {t["number"]: i + 1 for i, t in enumerate(ranked)}
    best = ranked[0]["number"]
    top_quartile = max(1, math.ceil(len(ranked) / 4))
    n_reports = max(len(t["curve"]) for t in complete)

    study = optuna.create_study(
        study_name=study_name, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    cuts: list[dict[str, Any]] = []
    steps = 0
    best_kept = math.inf
    for record in sorted(trial_log, key=lambda t: t["number"]):
        trial = study.ask()
        if record["state"] == "fail":
            study.tell(trial, state=TrialState.FAIL)
            continue
        cut_at = None
        for index, (step, value) in enumerate(record["curve"]):
            if value is None:
                break
            trial.report(value, step)
            if trial.should_prune():
                cut_at = index
                break
        if cut_at is not None:
            study.tell(trial, state=TrialState.PRUNED)
            steps += round(total_steps * (cut_at + 1) / n_reports)
            cuts.append({
                "number": record["number"], "family": record["family"],
                "summary": record["summary"], "at_report": cut_at + 1,
                "final_rank": rank.get(record["number"]),
            })
        elif record["state"] == "complete":
            study.tell(trial, record["value"])
            steps += total_steps
            best_kept = min(best_kept, record["value"])
        else:  # diverged in the original study: it stopped there
            study.tell(trial, state=TrialState.PRUNED)
            steps += int(record["steps"] or 0)
    cut_numbers = {c["number"] for c in cuts}
    best_cut = next((c for c in cuts if c["number"] == best), None)
    return {
        "cut": len(cuts),
        "best_trial": best,
        "best_cut": best_cut is not None,
        "best_cut_at_report": best_cut["at_report"] if best_cut else None,
        "top3_cut": sum(n in cut_numbers for n in (t["number"] for t in ranked[:3])),
        "cut_in_top_quartile": sum(
            c["final_rank"] is not None and c["final_rank"] <= top_quartile for c in cuts
        ),
        "top_quartile_size": top_quartile,
        "steps": steps,
        "best_value_kept": best_kept if math.isfinite(best_kept) else None,
        "n_reports": n_reports,
        "cuts": cuts,
    }


def horizon_bias(trial_log: list[dict[str, Any]]) -> dict[str, Any]:
    """How well each report predicts the final value, over the complete trials: Spearman's rank
    correlation with the final value, and the rank the eventual best trial held at that report."""
    complete = [t for t in trial_log if t["state"] == "complete" and t["value"] is not None
                and all(v is not None for _, v in t["curve"])]
    if len(complete) < 3:
        return {"reports": []}
    n_reports = min(len(t["curve"]) for t in complete)
    finals = np.array([t["value"] for t in complete])
    best = int(np.argmin(finals))
    rows = []
    for index in range(n_reports):
        values = np.array([t["curve"][index][1] for t in complete])
        ranks = values.argsort().argsort()
        rows.append({
            "report": index + 1,
            "fraction": round((index + 1) / n_reports, 3),
            "spearman": round(_spearman(values, finals), 3),
            "best_rank": int(ranks[best]) + 1,
            "leader_family": complete[int(np.argmin(values))]["family"],
        })
    return {
        "trials": len(complete),
        "best_family": complete[best]["family"],
        "best_summary": complete[best]["summary"],
        "reports": rows,
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = a.argsort().argsort().astype(float), b.argsort().argsort().astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def analyse(none_result: dict[str, Any], total_steps: int, n_trials: int) -> dict[str, Any]:
    """Every pruner's replay of the ``autolr_none`` study, and the horizon-bias table."""
    log = none_result["trial_log"]
    name = f"{none_result['workload']}_autolr_none"
    replays = {label: replay(log, factory(), name, total_steps)
               for label, factory in pruners(n_trials).items()}
    return {
        "study_steps": none_result["steps"],
        "replays": replays,
        "horizon": horizon_bias(log),
    }
