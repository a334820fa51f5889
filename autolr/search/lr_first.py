"""The peak LR first, then the shape: a full search whose first runs find the LR.

The peak LR decides more than the shape of its decay: a schedule at a good LR with a plain
linear decay to zero is close to the best schedule on most scripts (Defazio et al., 2023, "When,
why and how much? Adaptive learning rate scheduling by refinement"), and a family tried at a
bad LR says little about the family. A sampler over every family, its parameters, the LR and the
warmup spends a small budget spread thin over all of them. So this strategy spends its first
runs on the LR alone:

1. **A line search in log LR** with one shape, linear decay to zero without warmup (cosine
   where linear is not searched): from the script's own LR (the linear baseline), a step of
   :data:`STEP_DECADES` (x3.16) up while the value improves, then down while it improves,
   until the best LR has a worse run (or the range's edge) on both sides; then one run halfway
   (in log LR) to its better neighbour, unless that one is already within
   :data:`REFINE_DECADES`. A pruned, diverged or failed run counts as worse than any finished
   one. It never takes more than half of the search's runs.
2. **Then the shape**: first the shapes of a small portfolio shipped with autolr
   (``shape_portfolio.json``: a family with its parameters, a warmup, and an LR factor, the
   shape's peak LR as a multiple of the line search's best), learned from tabulated training
   runs of other scripts (``benchmarks/replay_learn.py``); then every family, its parameters
   and the warmup, sampled as the full search (:mod:`autolr.search.full_search`) samples them,
   at a peak LR near the line search's best: within :data:`SHAPE_LR_DECADES` of it (x0.56 to
   x1.78, drawn log-uniformly from the study's seed and the run's number), since the best peak
   LR differs a little between shapes (a constant LR is best lower than a decaying one). The
   sampler learns from every run so far.

Runs are full length and hopeless ones are pruned (median by default), as in the full search;
the line search's runs carry the user attribute ``lr_search`` (True). Workers that are free
while a line-search run is under way run sampled configurations, so several workers never
wait. Nothing is kept outside the study: the next point is recomputed from the trials, so a
resumed study or a second machine continues the same line search.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from importlib import resources
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autolr import _validation
from autolr.search.full_search import FullSearch
from autolr.search.space import FAMILY_PARAM, LR_PARAM, WARMUP_PARAM
from autolr.search.strategy import Job

STEP_DECADES = 0.5  # the line search's step in log10 of the LR: x3.16
REFINE_DECADES = 0.25  # neighbours this close (x1.78) need no refining run between them
LINE_SEARCH_ATTR = "lr_search"
# The shape the LR is searched with: the first of these the study searches.
SHAPES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("linear", {"linear.end_ratio": 0.0}),
    ("cosine", {"cosine.min_ratio": 0.0}),
)
SHAPE_LR_DECADES = 0.25  # the shape search's peak LR: within this of the line search's best
SHAPE_SEARCH_ATTR = "shape_search"  # "portfolio <i>" or "sampled"
PORTFOLIO_FILE = "shape_portfolio.json"
_portfolio: list[dict[str, Any]] | None = None


def shape_portfolio() -> list[dict[str, Any]]:
    """The shapes tried first once the LR is found: ``{"params": study parameters without
    lr_scale, "lr_factor": multiple of the line search's LR}`` each (the shipped file unless
    :func:`set_shape_portfolio` replaced it)."""
    global _portfolio
    if _portfolio is None:
        text = resources.files("autolr.search").joinpath(PORTFOLIO_FILE).read_text()
        _portfolio = list(json.loads(text)["shapes"])
    return _portfolio


def set_shape_portfolio(shapes: list[dict[str, Any]] | None) -> None:
    """Replace the shape portfolio (None: the shipped one again), e.g. with one learned from
    other training runs (``benchmarks/replay_learn.py`` shows how)."""
    global _portfolio
    if shapes is not None:
        for shape in shapes:
            _check_shape(shape)
    _portfolio = None if shapes is None else list(shapes)


def _check_shape(shape: Any) -> None:
    owner = "set_shape_portfolio"
    fix = ('Give each shape as {"params": {"family": "cosine", "cosine.min_ratio": 0.0, '
           '"warmup": 0.05}, "lr_factor": 0.8}.')
    params = shape.get("params") if isinstance(shape, dict) else None
    factor = shape.get("lr_factor") if isinstance(shape, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get(FAMILY_PARAM), str):
        raise _validation.fail("shapes", owner, "must hold a 'params' mapping that names a "
                               "'family'", shape, fix)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
            math.isfinite(factor) and factor > 0):
        raise _validation.fail("shapes", owner, "must give each shape an 'lr_factor' > 0 (its "
                               "peak LR as a multiple of the line search's)", shape, fix)


_CLOSE = 1e-6  # decades: two points this close are the same LR


class LrFirstSearch(FullSearch):
    """A line search on the peak LR with one shape, then the full search over every family."""

    name = "lr_first"

    def refresh(self, trials: Sequence[FrozenTrial]) -> None:
        super().refresh(trials)
        self._trials = list(trials)

    # --- the line search ------------------------------------------------------------------------
    def shape(self) -> tuple[str, dict[str, Any]] | None:
        """The family and fixed parameters the LR is searched with (None: neither is searched)."""
        families = self.settings.get("families") or ()
        return next(((f, p) for f, p in SHAPES if f in families), None)

    def _line_trials(self, family: str) -> list[FrozenTrial]:
        """The runs of the line search so far: its own and the baseline of its shape; a run
        stopped and queued again (Ctrl-C, a lost worker) is its copy, not a failure."""
        requeued = {t.user_attrs.get("requeued_from") for t in self._trials}
        return [t for t in self._trials
                if t.number not in requeued
                and (t.user_attrs.get(LINE_SEARCH_ATTR) is True
                     or (t.user_attrs.get("baseline") == family
                         and "confirms" not in t.user_attrs))]

    def _cap(self, reserved_runs: float) -> int:
        """Line-search runs allowed: half of the runs the search part of the budget buys."""
        baselines = sum(1 for t in self._trials if "baseline" in t.user_attrs
                        and "confirms" not in t.user_attrs)
        return max(1, math.floor((self.n_trials - reserved_runs - baselines) / 2))

    def proposal(self, reserved_runs: float = 0.0) -> tuple[str, Any] | None:
        """What runs next: ``("line", lr_scale)``, the line search's next point; once it is
        done, ``("portfolio <i>", params)``, a portfolio shape not run yet, then
        ``("sampled", {"lr_scale": ...})``, a shape the sampler draws near the line search's LR;
        None to sample freely (no shape to search the LR with, a fixed absolute LR range, or
        nothing finished to search from)."""
        shape = self.shape()
        if shape is None or self.settings.get("lr"):  # a fixed absolute range: no line search
            return None
        step = self._line_step(shape[0], reserved_runs)
        if step is None or step[0] == "line":
            return step
        best_x = step[1]
        tried = {t.user_attrs.get(SHAPE_SEARCH_ATTR) for t in self._trials}
        for i, shape in enumerate(shape_portfolio()):
            params = self._portfolio_params(shape, best_x)
            if params is not None and f"portfolio {i}" not in tried:
                return f"portfolio {i}", params
        rng = random.Random(f"{self.settings.get('seed')}:{len(self._trials)}")
        x = best_x + rng.uniform(-SHAPE_LR_DECADES, SHAPE_LR_DECADES)
        return "sampled", {LR_PARAM: self._scale(x)}

    def _log_range(self) -> tuple[float, float]:
        """The study's ``lr_scale`` range now (widened ones included), in log10."""
        low, high = self.settings["lr_scale"]
        return math.log10(low), math.log10(high)

    def _scale(self, x: float) -> float:
        """The ``lr_scale`` at log10 ``x``, kept inside the study's range."""
        low, high = self._log_range()
        return 10 ** min(max(x, low), high)

    def _portfolio_params(self, shape: dict[str, Any], best_x: float) -> dict[str, Any] | None:
        """A portfolio shape's study parameters at the line search's LR; None when the study
        does not search its family."""
        params = dict(shape["params"])
        if params.get(FAMILY_PARAM) not in (self.settings.get("families") or ()):
            return None
        if not self.settings.get("warmup"):
            params.pop(WARMUP_PARAM, None)
        params[LR_PARAM] = self._scale(best_x + math.log10(float(shape["lr_factor"])))
        return params

    def _line_step(self, family: str, reserved_runs: float) -> tuple[str, float] | None:
        """``("line", lr_scale)`` to run next, ``("done", best log10 lr_scale)``, or None
        (waiting for a run under way, or nothing finished)."""
        line = self._line_trials(family)
        if any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in line):
            return None
        low, high = self._log_range()
        if not line:
            if self.settings.get("baselines_enqueued") and any(
                    t.user_attrs.get("baseline") == family for t in self._trials):
                return None
            return "line", self._scale(0.0)  # no baseline: the script's LR
        points = [(math.log10(t.params[LR_PARAM]), self._score(t)) for t in line
                  if LR_PARAM in t.params]
        finished = [p for p in points if p[1] is not None and math.isfinite(p[1])]
        if not finished:
            return None  # nothing to search from: every run so far failed
        best_x, _ = min(finished, key=lambda p: p[1])
        own = [t for t in line if t.user_attrs.get(LINE_SEARCH_ATTR) is True]
        if len(own) >= self._cap(reserved_runs):
            return "done", self._found(points, best_x)
        above = [p for p in points if p[0] > best_x + _CLOSE]
        below = [p for p in points if p[0] < best_x - _CLOSE]
        if not above and best_x < high - _CLOSE:
            return "line", self._scale(best_x + STEP_DECADES)
        if not below and best_x > low + _CLOSE:
            return "line", self._scale(best_x - STEP_DECADES)
        return self._refine(points, best_x)

    def _refine(self, points: list[tuple[float, float | None]],
                best_x: float) -> tuple[str, float]:
        """Bracketed (or at an edge of the range): one refining run halfway (in log LR) to the
        better neighbour, ``("line", lr_scale)``, unless that neighbour is already within
        :data:`REFINE_DECADES`; then ``("done", the LR handed on)``."""
        up = min((p for p in points if p[0] > best_x + _CLOSE), key=lambda p: p[0], default=None)
        down = max((p for p in points if p[0] < best_x - _CLOSE), key=lambda p: p[0],
                   default=None)
        sides = [p for p in (up, down) if p is not None]
        neighbour = min(sides, key=lambda p: _rank(p[1]), default=None)
        if neighbour is None or abs(neighbour[0] - best_x) <= REFINE_DECADES + _CLOSE:
            return "done", self._found(points, best_x)  # refined (or a range too narrow)
        return "line", 10 ** ((best_x + neighbour[0]) / 2)

    def _found(self, points: list[tuple[float, float | None]], best_x: float) -> float:
        """The log10 ``lr_scale`` the line search hands on to the shapes: its best run's.

        Also tried (``benchmarks/replay_variants.py``, variant ``vertex_refine``): refining at
        the vertex of the parabola through the best run and its neighbours, and handing on that
        vertex. Replayed with the script's LR shifted at random (so that the best LR falls
        anywhere between the line search's x3.16 steps) it was within noise of this rule on all
        six tables at N = 10 and 20; with the tables' own LRs it won where the best LR lies
        between two steps (digits) and lost where it lies on one (cancer)."""
        return best_x

    def _score(self, trial: FrozenTrial) -> float | None:
        """A run's value for the line search, lower is better: a finished run's value (negated
        when maximizing); a pruned, diverged or failed run is worse than any finished one."""
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            value = float(trial.value)
            if not math.isfinite(value):
                return math.inf
            return value if self.direction == "minimize" else -value
        if trial.state in (TrialState.PRUNED, TrialState.FAIL):
            return math.inf
        return None

    # --- the strategy ---------------------------------------------------------------------------
    def next_job(self, busy: int, reserved_runs: float = 0.0) -> Job | None:
        job = super().next_job(busy, reserved_runs)
        if job is None:
            return None
        proposal = self.proposal(reserved_runs)
        shape = self.shape()
        if proposal is None or shape is None:
            return job
        kind, value = proposal
        if kind != "line":  # a portfolio shape, or the sampler draws what is not given
            return Job("full", None, 1.0, params=value, attrs={SHAPE_SEARCH_ATTR: kind})
        scale = value
        family, fixed = shape
        params: dict[str, Any] = {FAMILY_PARAM: family, **fixed, LR_PARAM: scale}
        if self.settings.get("warmup"):
            params[WARMUP_PARAM] = 0.0
        return Job("full", None, 1.0, params=params, attrs={LINE_SEARCH_ATTR: True})

    def describe(self) -> str:
        shape = self.shape()
        first = (f"the peak LR first (a line search with {shape[0]} decay to zero), then every "
                 "family" if shape and not self.settings.get("lr") else "every family")
        return (f"Search: lr_first, {first}; every run at full length, pruner {self.pruner}.")


def _rank(score: float | None) -> float:
    return math.inf if score is None else score
