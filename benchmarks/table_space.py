"""The configurations a schedule table holds, and the run lengths each is trained at.

A table samples autolr's default search space space-fillingly: the families in turn (the same
number of configurations each), and within a family a scrambled Sobol sequence over its
parameters, the peak LR and the warmup, so that every family's own parameters are spread evenly
whatever their number. The peak LR spans :data:`LR_SCALE_RANGE` times the script's LR: the
default 0.1x-10x and one widening (10x) past either edge, where a study that finds its best
runs at an edge goes. Parameters are stored under the names a study gives them (``family``,
``<family>.<param>``, ``lr_scale``, ``warmup``), so that the schedule of a row is exactly what
:class:`autolr.search.space.SearchSpace` makes of them.

Besides the sample, a table holds the script's own schedule at its own LR and the three baselines
an autolr study starts with (constant, cosine and linear to zero at the script's LR).

The lengths: every configuration at full length and at each rung of autolr's default fidelity
ladder (compressed, placed where the script reports, as :func:`autolr.search.ladder.plan_ladder`
places them); a script whose ladder cannot be planned (too few scheduler steps) has full runs
only, as its studies do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from scipy.stats import qmc

import autolr
from autolr.schedules.registry import get_family
from autolr.search.ladder import DEFAULT_ETA, DEFAULT_FIDELITIES, plan_ladder
from autolr.search.space import FAMILY_PARAM, LR_PARAM, WARMUP_PARAM, WARMUP_RANGE, SearchSpace

LR_SCALE_RANGE = (0.01, 100.0)  # multiples of the script's LR: the default range widened once
SOBOL_SEED = 19


class UnitTrial:
    """An Optuna-like trial whose ``suggest_*`` calls read successive coordinates of a point of
    the unit cube: floats (log or not) and ints spread over their range, choices by index."""

    def __init__(self, point: Sequence[float]) -> None:
        self._point = list(point)
        self._next = 0
        self.params: dict[str, Any] = {}

    def _unit(self) -> float:
        value = self._point[self._next]
        self._next += 1
        return min(max(float(value), 0.0), 1.0 - 1e-12)

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False,
                      step: float | None = None) -> float:
        u = self._unit()
        if log:
            value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        else:
            value = low + u * (high - low)
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        value = low + int(self._unit() * (high - low + 1))
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = list(choices)[int(self._unit() * len(choices))]
        self.params[name] = value
        return value


DIMENSIONS = 10  # unit coordinates per configuration: peak LR, warmup, then the family's own


def sample_params(families: Sequence[str], n: int, seed: int = SOBOL_SEED) -> list[dict[str, Any]]:
    """``n`` configurations as study parameters: the families in turn, Sobol within each (the
    peak LR and the warmup on the first two coordinates, the family's parameters, whatever
    their number, on the next ones)."""
    per_family = {f: math.ceil((n - i) / len(families)) for i, f in enumerate(families)}
    points: dict[str, list[list[float]]] = {}
    for k, family in enumerate(families):
        count = per_family[family]
        if count == 0:
            points[family] = []
            continue
        sobol = qmc.Sobol(DIMENSIONS, scramble=True, seed=seed + k)
        m = max(0, math.ceil(math.log2(count)))
        points[family] = sobol.random_base2(m)[:count].tolist()
    result = []
    used = dict.fromkeys(families, 0)
    for i in range(n):
        family = families[i % len(families)]
        trial = UnitTrial(points[family][used[family]])
        used[family] += 1
        result.append(params_of(family, trial))
    return result


def params_of(family: str, trial: UnitTrial) -> dict[str, Any]:
    """The study parameters of one configuration of ``family`` drawn by ``trial``."""
    from autolr.schedules.base import PrefixedTrial

    low, high = LR_SCALE_RANGE
    trial.suggest_float(LR_PARAM, low, high, log=True)
    trial.suggest_float(WARMUP_PARAM, *WARMUP_RANGE)
    get_family(family).space(PrefixedTrial(trial, family))
    return {FAMILY_PARAM: family, **trial.params}


def reference_params(workload: Any) -> dict[str, dict[str, Any] | None]:
    """The rows every table holds besides the sample: the study's baselines (as parameters) and
    the script's own schedule (``own``: kept as a spec, it may lie outside the space)."""
    space = default_space(workload)
    rows: dict[str, dict[str, Any] | None] = {name: params
                                              for name, params in space.baseline_params()}
    rows["own"] = None
    return rows


def default_space(workload: Any) -> SearchSpace:
    """autolr's default search space for ``workload`` (every built-in family, warmup on), over
    the table's LR range."""
    return SearchSpace(families=tuple(autolr.families()), lr_scale=LR_SCALE_RANGE,
                       warmup=True, direction=workload.direction)


def spec_of(params: dict[str, Any], workload: Any) -> autolr.ScheduleSpec:
    """The full-length schedule a study makes of ``params`` on ``workload``."""
    space = default_space(workload)
    fixed = optuna.trial.FixedTrial(params)
    return space.sample(fixed, workload.base_lr, workload.scheduler_steps())


def run_lengths(workload: Any, report_steps: Sequence[int]) -> tuple[list[int], list[str]]:
    """The lengths (scheduler steps, ascending, the last the full run) every configuration is
    trained at, and the ladder's notes (why rungs moved or why there is no ladder)."""
    total = workload.scheduler_steps()
    ladder, why = plan_ladder(DEFAULT_FIDELITIES, DEFAULT_ETA, total, report_steps)
    if ladder is None:
        return [total], [why]
    return list(ladder.steps), list(ladder.notes)
