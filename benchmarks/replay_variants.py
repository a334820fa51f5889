"""The variants of the default search that ``replay_paired.py`` replays beside it: search rules
kept for comparison (``benchmarks/README.md`` has each one's figures, and whether the default
took it up).

A variant is a function of the workload that returns ``autolr.tune`` options, registering a
strategy first where it needs one; some change autolr's behaviour in the replaying process (the
baselines, the pruner's grace), which :func:`restore` undoes before each replayed study, so a
process may replay one variant after another.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

_BASELINE_PARAMS: Any = None
_TRIAL_CONTROL: Any = None
_MAKE_SCHEDULE: Any = None


def restore() -> None:
    """Undo what a variant changed in this process (the next job may be another variant); the
    shape portfolio is the shipped one again (the replay then sets the one it scores with)."""
    global _BASELINE_PARAMS, _TRIAL_CONTROL, _MAKE_SCHEDULE
    import replay_learn

    from autolr import tuner
    from autolr.search import lr_first, space
    from autolr.trials.control import TrialControl

    if _BASELINE_PARAMS is None:
        _BASELINE_PARAMS = space.SearchSpace.baseline_params
        _TRIAL_CONTROL = tuner.TrialControl
        _MAKE_SCHEDULE = TrialControl.make_schedule
    TrialControl.make_schedule = _MAKE_SCHEDULE  # type: ignore[method-assign]
    space.SearchSpace.baseline_params = _BASELINE_PARAMS  # type: ignore[method-assign]
    tuner.TrialControl = _TRIAL_CONTROL  # type: ignore[misc]
    replay_learn.LINE_WARMUP = 0.0
    replay_learn.PROBE_WARMUP = None
    lr_first.set_shape_portfolio(None)


def _searched_by(cls: Any) -> dict[str, Any]:
    """The ``autolr.tune`` options that run strategy ``cls`` (registered on first use)."""
    from autolr.search import strategies

    if cls.name not in strategies.strategy_names():
        strategies.register_strategy(cls)
    return {"search": cls.name}


def _portfolio_learned_without(name: str) -> None:
    """The shape portfolio learned, as the variant's settings of ``replay_learn`` ask, from the
    training tables other than ``name`` (a held-out table too: the shipped portfolio was learned
    for the default, not for the variant)."""
    import replay_learn
    from replay_table import training_tables

    from autolr.search import lr_first

    lr_first.set_shape_portfolio(replay_learn.portfolio_without(name, training_tables()))


MIN_SPACING_DECADES = 0.1  # vertex_refine: no refining run this close (x1.26) to one made
MAX_REFINES = 2  # vertex_refine: refining runs at most


def _vertex(points: list[tuple[float, float | None]], best_x: float) -> float | None:
    """The log LR of the lowest point of the parabola through the best run and its nearest
    finished neighbour on each side (None without one on both sides); it lies between them."""
    def side(sign: int) -> tuple[float, float] | None:
        near = [p for p in points if sign * (p[0] - best_x) > 1e-6]
        p = min(near, key=lambda q: abs(q[0] - best_x), default=None)
        return None if p is None or p[1] is None or not math.isfinite(p[1]) else (p[0], p[1])

    down, up = side(-1), side(1)
    if down is None or up is None:
        return None
    y1 = min(y for x, y in points if abs(x - best_x) <= 1e-6 and y is not None)
    (x0, y0), x1, (x2, y2) = down, best_x, up
    a, b = (x1 - x0) * (y1 - y2), (x1 - x2) * (y1 - y0)
    if abs(a - b) <= 1e-300:
        return x1
    return min(max(x1 - 0.5 * ((x1 - x0) * a - (x1 - x2) * b) / (a - b), x0), x2)


def _vertex_refine(name: str) -> dict[str, Any]:
    """``lr_first`` whose line search, once bracketed, refines at the vertex of the parabola
    through its best run and their neighbours (Brent's successive parabolic interpolation; up
    to :data:`MAX_REFINES` runs, none within :data:`MIN_SPACING_DECADES` of a run made; halfway
    to the better neighbour with one side only) and hands that vertex on to the shapes."""
    from autolr.search import lr_first

    class VertexRefine(lr_first.LrFirstSearch):
        name = "lr_first_vertex"

        def _refine(self, points: Any, best_x: float) -> tuple[str, float]:
            # a refining run is one off the line search's grid of x3.16 steps
            refines = sum(1 for x, _ in points
                          if abs(x / lr_first.STEP_DECADES - round(x / lr_first.STEP_DECADES))
                          > 1e-6)
            target = _vertex(points, best_x)
            if target is None:
                step = super()._refine(points, best_x)
                if step[0] == "done":
                    return step
                target = math.log10(step[1])
            near = min(abs(target - x) for x, _ in points) <= MIN_SPACING_DECADES
            if near or refines >= MAX_REFINES:
                return "done", self._found(points, best_x)
            return "line", self._scale(target)

        def _found(self, points: Any, best_x: float) -> float:
            vertex = _vertex(points, best_x)
            return best_x if vertex is None else vertex

    return _searched_by(VertexRefine)


def _line_reseed(name: str) -> dict[str, Any]:
    """``lr_first`` whose line search, once done, runs its best two LRs again on another seed
    each (while its cap allows), and settles on the LR with the best mean: a line search that
    picks from single runs picks a lucky seed as often as a better LR where the table is
    noisy."""

    from autolr.search import lr_first

    class LineReseed(lr_first.LrFirstSearch):
        name = "lr_first_reseed"

        def _line_step(self, family: str, reserved_runs: float) -> tuple[str, float] | None:
            step = super()._line_step(family, reserved_runs)  # None while a run is under way
            if step is None or step[0] != "done":
                return step
            line = self._line_trials(family)
            own = [t for t in line if t.user_attrs.get(lr_first.LINE_SEARCH_ATTR) is True]
            runs: dict[float, list[float]] = {}
            for t in line:
                if lr_first.LR_PARAM in t.params:
                    score = self._score(t)
                    if score is not None:
                        x = round(math.log10(t.params[lr_first.LR_PARAM]), 6)
                        runs.setdefault(x, []).append(score)
            means = sorted((statistics.fmean(v), x) for x, v in runs.items())
            for _, x in means[:2]:
                if len(runs[x]) < 2 and len(own) < self._cap(reserved_runs):
                    return "line", self._scale(x)
            return "done", means[0][1] if means else step[1]

    return _searched_by(LineReseed)


LINE_WARMUP = 0.1  # line_warmup: the line search's warmup, a fraction of the run


def _line_warmup(name: str) -> dict[str, Any]:
    """``lr_first`` whose line search runs linear decay to zero after a warmup of
    :data:`LINE_WARMUP` of the run, the linear baseline (its first point) too, with the shape
    portfolio learned relative to the LR that shape finds (from the training tables other than
    ``name``)."""
    import replay_learn

    from autolr.search import lr_first, space

    class LineWarmup(lr_first.LrFirstSearch):
        name = "lr_first_line_warmup"

        def next_job(self, busy: int, reserved_runs: float = 0.0) -> Any:
            job = super().next_job(busy, reserved_runs)
            if (job is not None and job.attrs and job.attrs.get(lr_first.LINE_SEARCH_ATTR)
                    and self.settings.get("warmup")):
                job.params[lr_first.WARMUP_PARAM] = LINE_WARMUP
            return job

    def baseline_params(self: Any) -> list[tuple[str, dict[str, Any]]]:
        result = _BASELINE_PARAMS(self)
        for family, params in result:
            if family == "linear" and self.warmup:
                params[lr_first.WARMUP_PARAM] = LINE_WARMUP
        return result

    space.SearchSpace.baseline_params = baseline_params  # type: ignore[method-assign]
    replay_learn.LINE_WARMUP = LINE_WARMUP
    _portfolio_learned_without(name)
    return _searched_by(LineWarmup)


PROBE_WARMUP = 0.1  # warmup_probe: the probe's warmup, a fraction of the run


def _warmup_probe(name: str) -> dict[str, Any]:
    """``lr_first`` whose first shape, once the line search is done, is the line search's own
    shape at its LR after a warmup of :data:`PROBE_WARMUP` of the run (does this script want a
    warmup?), then the portfolio, learned beside that probe from the training tables other than
    ``name``."""
    import replay_learn

    from autolr.search import lr_first

    class WarmupProbe(lr_first.LrFirstSearch):
        name = "lr_first_warmup_probe"

        def proposal(self, reserved_runs: float = 0.0) -> tuple[str, Any] | None:
            shape = self.shape()
            if (shape is None or self.settings.get("lr") or not self.settings.get("warmup")
                    or any(t.user_attrs.get(lr_first.SHAPE_SEARCH_ATTR) == "warmup probe"
                           for t in self._trials)):
                return super().proposal(reserved_runs)
            step = self._line_step(shape[0], reserved_runs)
            if step is None or step[0] == "line":
                return step
            family, fixed = shape
            return "warmup probe", {lr_first.FAMILY_PARAM: family, **fixed,
                                    lr_first.LR_PARAM: self._scale(step[1]),
                                    lr_first.WARMUP_PARAM: PROBE_WARMUP}

    replay_learn.PROBE_WARMUP = PROBE_WARMUP
    _portfolio_learned_without(name)
    return _searched_by(WarmupProbe)


def _warmup_probe_unpruned(name: str) -> dict[str, Any]:
    """``warmup_probe`` whose probe the pruner never cuts: a warmed-up run is behind at the
    pruner's first look (30% of its reports) more often than it is at its end."""
    from autolr import tuner
    from autolr.search import lr_first

    def control(trial: Any, *args: Any, **kwargs: Any) -> Any:
        if trial.user_attrs.get(lr_first.SHAPE_SEARCH_ATTR) == "warmup probe":
            kwargs["prune_after"] = math.inf
        return _TRIAL_CONTROL(trial, *args, **kwargs)

    tuner.TrialControl = control  # type: ignore[assignment,misc]
    return _warmup_probe(name)


def _warmup_grace(name: str) -> dict[str, Any]:
    """The default whose pruner waits, for each run, its warmup longer: the grace period (30% of
    the reports) counts from the end of the run's warmup, so a warmed-up run is not judged
    while it is still behind by the warmup it has just spent."""
    from autolr.search.pruning import DEFAULT_GRACE
    from autolr.trials.control import TrialControl

    def make_schedule(self: Any, base_lr: float, total_steps: int) -> Any:
        spec = _MAKE_SCHEDULE(self, base_lr, total_steps)
        if math.isfinite(self.prune_after) and spec.total_steps:
            share = spec.warmup_steps / spec.total_steps
            self.prune_after *= (DEFAULT_GRACE + share) / DEFAULT_GRACE
        return spec

    TrialControl.make_schedule = make_schedule  # type: ignore[method-assign]
    return {}


def _line_cap(name: str) -> dict[str, Any]:
    """``lr_first`` whose line search may take three quarters of the search's runs (the default:
    half). The cap binds at small budgets only (at N = 10 it allows 2 runs, here 3): the
    line search then refines its LR where it would have stopped at x3.16 steps, and the
    portfolio gets a run fewer."""
    from autolr.search import lr_first

    class LineCap(lr_first.LrFirstSearch):
        name = "lr_first_line_cap"

        def _cap(self, reserved_runs: float) -> int:
            baselines = sum(1 for t in self._trials if "baseline" in t.user_attrs
                            and "confirms" not in t.user_attrs)
            return max(1, math.floor(0.75 * (self.n_trials - reserved_runs - baselines)))

    return _searched_by(LineCap)


def _no_portfolio(name: str) -> dict[str, Any]:
    """``lr_first`` without its shape portfolio: once the LR is found, the sampler draws every
    shape near it (what the portfolio's runs buy, measured against the sampler's draws)."""
    from autolr.search import lr_first

    lr_first.set_shape_portfolio([])
    return {}


# name: what it is, and a function of the workload that returns its autolr.tune options
# (registering a strategy first where the variant needs one)
VARIANTS: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "default": ("autolr.tune's default search", lambda name: {}),
    "vertex_refine": ("lr_first refining at the parabola's vertex, the shapes there",
                      _vertex_refine),
    "no_pruning": ("the default without a pruner", lambda name: {"pruner": "none"}),
    "vertex_no_pruning": ("vertex_refine without a pruner",
                          lambda name: {**_vertex_refine(name), "pruner": "none"}),
    "line_reseed": ("lr_first whose best two line-search LRs run again on another seed",
                    _line_reseed),
    "no_portfolio": ("lr_first without the shape portfolio: the sampler's shapes only",
                     _no_portfolio),
    "line_warmup": ("lr_first whose line search (and linear baseline) warms up over a tenth",
                    _line_warmup),
    "warmup_probe": ("lr_first whose first shape is its line's, warmed up over a tenth",
                     _warmup_probe),
    "warmup_probe_unpruned": ("warmup_probe whose probe is never pruned",
                              _warmup_probe_unpruned),
    "warmup_grace": ("the default, the pruner's grace counted from the end of the warmup",
                     _warmup_grace),
    "warmup_probe_grace": ("warmup_probe, the pruner's grace counted from the end of the warmup",
                           lambda name: {**_warmup_grace(name), **_warmup_probe(name)}),
    "line_cap": ("lr_first whose line search may take 3/4 of the search's runs", _line_cap),
    "c12": ("the default, confirmation top 1 on 2 seeds", lambda name: {"confirm": (1, 2)}),
    "c22": ("the default, confirmation top 2 on 2 seeds", lambda name: {"confirm": (2, 2)}),
    "c32": ("the default, confirmation top 3 on 2 seeds", lambda name: {"confirm": (3, 2)}),
    "c23": ("the default, confirmation top 2 on 3 seeds", lambda name: {"confirm": (2, 3)}),
}
