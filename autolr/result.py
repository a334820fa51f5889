"""What ``autolr.tune`` hands back: the study, its winner and how the budget was spent.

The winner is the confirmed configuration with the best mean over its seeds when the study
confirmed its top configurations (:mod:`autolr.search.confirmation`), else its best full-fidelity
trial; the single luckiest trial stays ``study.best_trial``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrError
from autolr.schedules.spec import ScheduleSpec
from autolr.search import confirmation
from autolr.search.ladder import SHORTENED, LadderSummary, summarize
from autolr.study.config import SETTINGS_ATTR


@dataclass
class TuneResult:
    """What a study found. ``study`` is the Optuna study, for any Optuna tool."""

    study: optuna.Study
    lr_edge: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the ladder, or why it was not used

    @property
    def ladder(self) -> LadderSummary | None:
        """Configurations per rung and compute spent, for a fidelity-ladder study."""
        settings = self.study.user_attrs.get(SETTINGS_ATTR) or {}
        direction = self.study.direction.name.lower()
        return summarize(settings, self.study.get_trials(deepcopy=False), direction)

    @property
    def confirmed(self) -> list[confirmation.Confirmed]:
        """Every configuration re-run on fresh seeds, with its value on each seed."""
        return confirmation.confirmed(self.study.get_trials(deepcopy=False))

    @property
    def confirmed_winner(self) -> confirmation.Confirmed | None:
        """The confirmed configuration with the best mean (None when nothing is confirmed)."""
        return self._winner()[0]

    def _winner(self) -> tuple[confirmation.Confirmed | None, list[FrozenTrial]]:
        """The confirmed winner and the trials it was found among (one read of the study)."""
        trials = self.study.get_trials(deepcopy=False)
        return confirmation.winner(trials, self.study.direction.name.lower()), trials

    def against_baseline(self) -> confirmation.Comparison | None:
        """The winner minus the constant baseline on the same confirmation seeds."""
        best, trials = self._winner()
        if best is None:
            return None
        return confirmation.against_baseline(best, confirmation.confirmed(trials))

    @property
    def best_trial(self) -> FrozenTrial:
        """The winner's trial: the confirmed configuration with the best mean, else the best
        complete trial."""
        return self._best()[0]

    def _best(self) -> tuple[FrozenTrial, confirmation.Confirmed | None]:
        """The winner's trial and, when confirmed, its values over its seeds."""
        best, trials = self._winner()
        if best is not None:
            return trials[best.number], best
        try:
            return self.study.best_trial, None
        except ValueError:
            raise AutolrError(
                f"No trial of study {self.study.study_name!r} has completed yet, so there is no "
                "best schedule. Look at the failed trials' 'error' (autolr show) and run again."
            ) from None

    @property
    def best_spec(self) -> ScheduleSpec:
        """The winner's schedule, read back from its trial's ``spec`` attribute."""
        trial = self.best_trial
        spec = trial.user_attrs.get("spec")
        name = self.study.study_name
        if not isinstance(spec, dict):
            raise AutolrError(
                f"Trial {trial.number} of study {name!r} holds no autolr schedule (no 'spec' "
                "attribute): the study was not written by autolr tune, so there is no schedule "
                "to export. autolr show and autolr report read it as it is; autolr tune on "
                "your script makes a study with schedules."
            )
        try:
            return ScheduleSpec.from_json(spec)
        except Exception as exc:  # a damaged or foreign 'spec' must not end in a traceback
            raise AutolrError(
                f"The schedule stored on trial {trial.number} of study {name!r} cannot be read "
                f"({type(exc).__name__}: {exc}); autolr exports only schedules it can check. "
                "Export another trial's schedule with the Python API, or re-run the study."
            ) from exc

    @property
    def best_value(self) -> float:
        """The winner's value: its mean over its seeds when confirmed."""
        trial, best = self._best()
        if best is not None:
            return best.mean
        assert trial.value is not None
        return trial.value

    def found_by(self) -> dict[str, Any]:
        """Facts about the winning trial, written into exports."""
        best, winner = self._best()
        facts: dict[str, Any] = {
            "study": self.study.study_name,
            "trial": best.number,
            "value": best.value,
            "direction": self.study.direction.name.lower(),
            "seed": best.user_attrs.get("seed"),
            "date": _dt.date.today().isoformat(),
        }
        if winner is not None:
            facts["confirmed"] = {"mean": winner.mean, "std": winner.std,
                                  "seeds": len(winner.values)}
        return facts

    def export(self, path: str, format: str = "python", *, overwrite: bool = False,
               total_steps: int | None = None) -> Any:
        """Write the best schedule as standalone Python (needs only torch) or JSON;
        ``total_steps``: for a run of that many ``scheduler.step()`` calls instead of the tuned
        length (every phase keeps its fraction of the run)."""
        from autolr.exporting.export import export

        return export(self.best_spec, path, format, found_by=self.found_by(), overwrite=overwrite,
                      total_steps=total_steps)

    def write_report(self, output: str | None = None) -> Any:
        """Write the study as one self-contained HTML page; returns its path."""
        from autolr.reports import write_report

        return write_report(study=self.study, output=output)

    def counts(self) -> dict[str, int]:
        return count_states(self.study)


def count_states(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> dict[str, int]:
    """Trials by how they ended; ``shortened`` are the ladder's lower-rung runs (stored as
    PRUNED), ``pruned`` the runs stopped early by a pruner or the divergence guard.
    ``trials``: the study's trials when the caller has read them already."""
    counts = {"complete": 0, "shortened": 0, "pruned": 0, "failed": 0, "running": 0,
              "waiting": 0}
    names = {
        TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
        TrialState.RUNNING: "running", TrialState.WAITING: "waiting",
    }
    for trial in study.get_trials(deepcopy=False) if trials is None else trials:
        name = names[trial.state]
        if name == "pruned" and trial.user_attrs.get("reason") == SHORTENED:
            name = "shortened"
        counts[name] += 1
    return counts
