"""A schedule table as a training run: any configuration's learning curve, predicted from the
table, with the seed-to-seed noise the table shows.

A configuration is described by what its schedule does, so that every family, its parameters
and any peak LR share one feature space:

- the log10 of the absolute LR at :data:`CURVE_POINTS` evenly spaced fractions of the run (the
  schedule as compressed into the run's length: a shortened run is the same curve);
- the log10 of the peak LR over the script's LR, and the warmup fraction;
- the family (one-hot) and the plateau family's own parameters (its LRs depend on the metric,
  so its curve alone does not say what it does).

For each tabulated length (the full run and each rung), a regressor maps the features to the
mean over the seeds of the (log) values at every report of that length; a configuration is then
the prediction plus the *residual* of one tabulated run (that run's values less its
configuration's seed mean) of one of the configuration's nearest tabulated neighbours, drawn
from the trial's seed: the noise keeps the table's size and its correlation along a run. The
sum is kept within the lowest and highest value any tabulated run had at that report, so a
residual from a neighbour whose seeds disagree wildly (a hot LR) never makes a value no run
reached (an accuracy above 1).
Divergence comes the same way: when the drawn neighbour's run diverged, the replayed run
reports a non-finite value at the report where that run did.

The *true value* of a configuration (what a search's winner is scored by) is the noise-free
prediction of its last report at full length.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from table_build import TABLES

import autolr

CURVE_POINTS = 16
PLATEAU_PARAMS = ("factor", "patience", "threshold", "cooldown")
NEIGHBOURS = 3  # the tabulated configurations a replayed run may draw its noise from


def log_value(values: np.ndarray, direction: str) -> np.ndarray:
    """The scale a table is modelled on: the log of a loss, an accuracy as it is."""
    if direction == "minimize":
        return np.log(np.maximum(values, 1e-12))
    return values


def from_log(values: np.ndarray | float, direction: str) -> Any:
    return np.exp(values) if direction == "minimize" else values


class Features:
    """The feature vector of a schedule (see the module docstring)."""

    def __init__(self, families: list[str], base_lr: float) -> None:
        self.families = list(families)
        self.base_lr = base_lr

    @property
    def width(self) -> int:
        return CURVE_POINTS + 2 + len(self.families) + len(PLATEAU_PARAMS)

    def of(self, spec: autolr.ScheduleSpec) -> np.ndarray:
        x = np.zeros(self.width)
        total = spec.total_steps
        log_peak = math.log10(spec.lr)
        if spec.metric_driven:
            multipliers = [1.0] * CURVE_POINTS
            warm = spec.warmup_steps
            for k in range(CURVE_POINTS):
                step = int((k + 0.5) / CURVE_POINTS * total)
                if step < warm:
                    multipliers[k] = (step + 1) / (warm + 1)
        else:
            multipliers = [spec.multiplier(int((k + 0.5) / CURVE_POINTS * total))
                           for k in range(CURVE_POINTS)]
        for k, m in enumerate(multipliers):
            x[k] = log_peak + math.log10(max(m, 1e-4))
        x[CURVE_POINTS] = math.log10(spec.lr / self.base_lr)
        x[CURVE_POINTS + 1] = spec.warmup_steps / total
        if spec.family in self.families:
            x[CURVE_POINTS + 2 + self.families.index(spec.family)] = 1.0
        if spec.metric_driven:
            base = CURVE_POINTS + 2 + len(self.families)
            for k, name in enumerate(PLATEAU_PARAMS):
                value = float(spec.params.get(name, 0.0))
                x[base + k] = math.log10(value) if name in ("factor", "threshold") else value
        return x


@dataclass
class LengthModel:
    """What the table says at one run length: per row the seeds' (log) values at each report
    (non-finite where a run had diverged or ended), and the fitted regressor."""

    length: int
    reports: int
    values: np.ndarray  # rows x seeds x reports, log scale, nan where missing
    diverged_at: np.ndarray  # rows x seeds: the report index a run diverged at, -1 if never
    mean: np.ndarray = field(init=False)  # rows x reports: the seeds' mean, diverged filled
    model: Any = None  # features -> mean (log) values at each report
    scale: np.ndarray | None = None  # feature standardisation for the neighbour search
    neighbours: Any = None
    # per report, the lowest and highest (log) value any tabulated run had: a replayed value
    # never leaves them (a residual from a noisy neighbour must not give an accuracy above 1)
    low: np.ndarray | None = None
    high: np.ndarray | None = None


class ScheduleTable:
    """A table loaded for replay: ``curve(spec, seed)`` gives the reports of a run."""

    def __init__(self, path: Path, *, model: str = "trees") -> None:
        self.manifest = json.loads(path.with_suffix("").with_suffix(".json").read_text())
        with gzip.open(path, "rt") as source:
            self.rows = [json.loads(line) for line in source]
        m = self.manifest
        self.name: str = m["workload"]
        self.direction: str = m["direction"]
        self.base_lr: float = m["base_lr"]
        self.total: int = m["scheduler_steps"]
        self.report_steps: list[int] = m["report_steps"]
        self.lengths: list[int] = m["lengths"]
        self.optimizer_steps_per_step = m["optimizer_steps"] / m["scheduler_steps"]
        self.features = Features(m["space"]["families"], self.base_lr)
        self.specs = [autolr.ScheduleSpec.from_json(row["spec"]) for row in self.rows]
        self.x = np.array([self.features.of(spec) for spec in self.specs])
        self.model_kind = model
        self.by_length = {length: self._length_model(length) for length in self.lengths}
        self.cost = self._cost()
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        lm = self.by_length[self.total]
        self.values = from_log(predict(lm.model, self.x)[:, -1], self.direction)

    # --- fitting -------------------------------------------------------------------------------
    def _length_model(self, length: int) -> LengthModel:
        reports = sum(1 for s in self.report_steps if s <= length)
        if length < self.total:  # a shortened run ends at its first report at or after it
            reports = next(i + 1 for i, s in enumerate(self.report_steps) if s >= length)
        seeds = len(self.manifest["seeds"])
        values = np.full((len(self.rows), seeds, reports), np.nan)
        diverged_at = np.full((len(self.rows), seeds), -1)
        for r, row in enumerate(self.rows):
            for s, run in enumerate(row["runs"][str(length)]):
                finite = [v if v is not None else math.nan for v in run[:reports]]
                values[r, s, : len(finite)] = finite
                bad = [i for i, v in enumerate(finite) if not math.isfinite(v)]
                if bad or len(finite) < reports:
                    diverged_at[r, s] = bad[0] if bad else len(finite)
        values = log_value(values, self.direction)
        lm = LengthModel(length, reports, values, diverged_at)
        # a diverged run's reports take the worst finite value of that report in the table
        worst = np.nanmax(values, axis=(0, 1)) if self.direction == "minimize" else np.nanmin(
            values, axis=(0, 1))
        filled = np.where(np.isfinite(values), values, worst[None, None, :])
        lm.mean = filled.mean(axis=1)
        lm.low, lm.high = np.nanmin(values, axis=(0, 1)), np.nanmax(values, axis=(0, 1))
        lm.scale = self.x.std(axis=0) + 1e-9
        from sklearn.neighbors import NearestNeighbors

        lm.neighbours = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(self.x / lm.scale)
        lm.model = fit_model(self.model_kind, self.x, lm.mean)
        return lm

    def _cost(self) -> dict[str, float]:
        """Median start-up (ms, data loading included) and per-step (us) cost of a run."""
        startup = [ms for row in self.rows for v in row["startup_ms"].values() for ms in v]
        step = [us for row in self.rows for v in row["step_us"].values() for us in v]
        return {"startup_s": (float(np.median(startup)) + self.manifest["data_ms"]) / 1e3,
                "step_s": float(np.median(step)) / 1e6}

    # --- prediction ----------------------------------------------------------------------------
    def length_for(self, steps: int) -> int:
        """The tabulated length a run of ``steps`` scheduler steps is replayed at (the nearest;
        the default ladder's rungs are tabulated exactly)."""
        return min(self.lengths, key=lambda length: abs(math.log(length / steps)))

    def scheduler_steps(self) -> int:
        """``total_steps`` as the tabulated script gives it to ``autolr.scheduler`` (what
        :func:`table_space.spec_of` asks of a workload)."""
        return self.total

    def mean_curve(self, spec: autolr.ScheduleSpec,
                   features: np.ndarray | None = None) -> np.ndarray:
        """The noise-free (log-scale) values at the reports of a run of ``spec`` (``features``:
        its feature vector, when already made)."""
        length = self.length_for(spec.total_steps)
        key = (spec.to_json(), length)
        if key not in self._cache:
            x = self.features.of(spec) if features is None else features
            self._cache[key] = predict(self.by_length[length].model, x[None, :])[0]
        return self._cache[key]

    def curve(self, spec: autolr.ScheduleSpec, seed: int) -> list[tuple[int, float]]:
        """The reports ``(scheduler step, value)`` of a run of ``spec`` on ``seed``."""
        length = self.length_for(spec.total_steps)
        lm = self.by_length[length]
        features = self.features.of(spec)
        mean = self.mean_curve(spec, features)
        rng = np.random.default_rng(seed)
        _, idx = lm.neighbours.kneighbors((features / lm.scale)[None, :])
        row = int(idx[0, rng.integers(len(idx[0]))])
        s = int(rng.integers(lm.values.shape[1]))
        residual = lm.values[row, s] - lm.mean[row]
        values = from_log(np.clip(mean + np.nan_to_num(residual), lm.low, lm.high),
                          self.direction)
        diverged = int(lm.diverged_at[row, s])
        result = []
        for i, (step, value) in enumerate(zip(self.report_steps[: lm.reports], values,
                                              strict=True)):
            if diverged >= 0 and i >= diverged:
                result.append((step, math.nan))
                break
            result.append((step, float(value)))
        return result

    def true_value(self, spec: autolr.ScheduleSpec) -> float:
        """The noise-free value of ``spec``'s last report at full length."""
        full = spec if spec.total_steps == self.total else spec.with_total_steps(self.total)
        return float(from_log(self.mean_curve(full)[-1], self.direction))

    def own_value(self) -> float:
        """The script's own schedule's noise-free value."""
        own = next(i for i, row in enumerate(self.rows) if row["label"] == "own")
        return float(self.values[own])

    def best_value(self) -> float:
        """The best noise-free value over the table's configurations."""
        return float(self.values.min() if self.direction == "minimize" else self.values.max())

    def seed_sd(self) -> float:
        """What one seed's luck moves a near-best schedule by, in the metric's units: the
        standard deviation over the table's seeds of the last report at full length, averaged
        over the best tenth (at least 10) of the configurations whose every seed finished. A
        winner worse than another schedule by less than this is within one seed's noise of it:
        no confirmation on a few seeds can tell the two apart."""
        lm = self.by_length[self.total]
        last = from_log(lm.values[:, :, -1], self.direction)
        finished = np.isfinite(last).all(axis=1)
        mean = last[finished].mean(axis=1)
        order = np.argsort(mean if self.direction == "minimize" else -mean)
        best = last[finished][order[: max(10, len(order) // 10)]]
        return float(np.mean(np.std(best, axis=1, ddof=1)))

    def worse(self, value: float, than: float) -> bool:
        """True when ``value`` is worse than ``than`` in the table's direction."""
        return value > than if self.direction == "minimize" else value < than

    def regret(self, value: float) -> float:
        """Normalized regret: 0 the table's best, 1 the script's own schedule."""
        best, own = self.best_value(), self.own_value()
        return (value - best) / (own - best)


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    """``model``'s predictions as rows x reports (a one-report length gives a vector)."""
    y = np.asarray(model.predict(x))
    return y.reshape(len(x), -1)


def fit_model(kind: str, x: np.ndarray, y: np.ndarray) -> Any:
    """The regressor from features to a length's (log) report values."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if kind == "trees":
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(n_estimators=48, min_samples_leaf=2, random_state=0,
                                   n_jobs=1).fit(x, y)
    if kind == "knn":
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), KNeighborsRegressor(5, weights="distance")).fit(
            x, y)
    raise ValueError(f"unknown model {kind!r}: trees or knn")


_TABLES: dict[tuple[str, str], Any] = {}


def load_table(name: str, model: str = "trees", tables: Path = TABLES) -> Any:
    """The replay table of ``name``, loaded and fitted once per process."""
    key = (str(tables / name), model)
    if key not in _TABLES:
        _TABLES[key] = ScheduleTable(tables / f"{name}.jsonl.gz", model=model)
    return _TABLES[key]


def built_tables(tables: Path = TABLES) -> list[str]:
    from table_workloads import TABLE_WORKLOADS

    return [name for name in TABLE_WORKLOADS if (tables / f"{name}.jsonl.gz").exists()]


def training_tables(tables: Path = TABLES) -> list[str]:
    """The built tables that methods may learn from: every one but the held-out test set."""
    from table_workloads import HELD_OUT

    return [name for name in built_tables(tables) if name not in HELD_OUT]
