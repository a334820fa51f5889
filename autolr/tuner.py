"""``autolr.tune``: the study that finds a training function's best LR schedule.

The study owns everything persistent: it asks Optuna for trials, hands each to a runner (this
process, or ``autolr tune``'s workers), tells Optuna how each ended, and keeps its settings, its
baselines and its LR range in the study's user attributes so that running it again resumes it.
"""

from __future__ import annotations

import datetime as _dt
import math
import secrets
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from autolr import _validation
from autolr.errors import AutolrError, AutolrWarning, ConfigError, StudyStopped
from autolr.lr_edge import can_widen, edge_advice, edge_finding, find_edge
from autolr.pruning import DEFAULT_GRACE, PRUNERS, make_pruner
from autolr.runners import InProcessRunner
from autolr.sampling import SAMPLERS, RangeAwareSampler, make_sampler
from autolr.schedules.registry import families as registered_families
from autolr.schedules.spec import ScheduleSpec
from autolr.space import DEFAULT_LR_SCALE, LR_PARAM, SearchSpace
from autolr.storage import open_storage, process_owner, recover_abandoned_trials
from autolr.trial_control import TrialControl, TrialOutcome

DIRECTIONS = ("minimize", "maximize")
SETTINGS_ATTR = "autolr"
SAME_ERROR_TRIALS = 3
_OWNER = "tune"


@dataclass(frozen=True)
class StudyConfig:
    """Validated arguments of a study (shared by ``autolr.tune`` and ``autolr tune``)."""

    n_trials: int
    direction: str = "minimize"
    families: tuple[str, ...] = ()
    lr: tuple[float, float] | None = None
    warmup: bool = True
    pruner: str = "median"
    sampler: str = "tpe"
    seed: int | None = None
    storage: str | None = None
    study_name: str = "autolr"
    baselines: bool = True
    timeout: float | None = None


def make_config(
    *,
    n_trials: Any,
    direction: Any = "minimize",
    families: Any = None,
    lr: Any = None,
    warmup: Any = True,
    pruner: Any = "median",
    sampler: Any = "tpe",
    seed: Any = None,
    storage: Any = None,
    study_name: Any = None,
    baselines: Any = True,
    timeout: Any = None,
    owner: str = _OWNER,
) -> StudyConfig:
    """Check every argument; each bad one raises an error naming it, the value and the rule."""
    n_trials = _validation.number("n_trials", owner, n_trials, low=1, integer=True)
    _validation.one_of("direction", owner, direction, DIRECTIONS)
    known = registered_families()
    if families is None:
        chosen = tuple(registered_families(builtin=True))
    else:
        if isinstance(families, str):
            families = [f.strip() for f in families.split(",") if f.strip()]
        try:
            chosen = tuple(families)
        except TypeError:
            raise _validation.fail("families", owner, "must be a list of family names",
                                   families) from None
        if not chosen:
            raise _validation.fail("families", owner, "must name at least one family", families)
        for name in chosen:
            _validation.one_of("families", owner, name, known)
        if len(set(chosen)) != len(chosen):
            raise _validation.fail("families", owner, "must not repeat a family", list(chosen))
    lr_range = None
    if lr is not None:
        if isinstance(lr, (str, bytes)) or not hasattr(lr, "__len__") or len(lr) != 2:
            raise _validation.fail("lr", owner, "must be a (low, high) pair of peak LRs", lr)
        low = _validation.number("lr", owner, lr[0], low=0.0, low_open=True)
        high = _validation.number("lr", owner, lr[1], low=0.0, low_open=True)
        if not low < high:
            raise _validation.fail("lr", owner, "must be (low, high) with low < high", lr,
                                   "Swap the bounds or widen the range.")
        lr_range = (low, high)
    warmup = _validation.boolean("warmup", owner, warmup)
    _validation.one_of("pruner", owner, pruner, PRUNERS)
    _validation.one_of("sampler", owner, sampler, SAMPLERS)
    if seed is not None:
        seed = _validation.number("seed", owner, seed, low=0, high=2**32 - 1, integer=True)
    if storage is not None and not isinstance(storage, str):
        raise _validation.fail("storage", owner, "must be a database URL string or None",
                               storage)
    if study_name is None:
        study_name = "autolr"
    if not isinstance(study_name, str) or not study_name.strip() or len(study_name) > 200:
        raise _validation.fail("study_name", owner, "must be a non-empty name (<= 200 chars)",
                               study_name)
    baselines = _validation.boolean("baselines", owner, baselines)
    if timeout is not None:
        timeout = _validation.number("timeout", owner, timeout, low=0.0, low_open=True)
    return StudyConfig(
        n_trials=n_trials, direction=direction, families=chosen, lr=lr_range, warmup=warmup,
        pruner=pruner, sampler=sampler, seed=seed, storage=storage, study_name=study_name,
        baselines=baselines, timeout=timeout,
    )


def tune(
    fn: Callable[[], Any],
    *,
    n_trials: int,
    direction: str = "minimize",
    families: Sequence[str] | None = None,
    lr: tuple[float, float] | None = None,
    warmup: bool = True,
    pruner: str = "median",
    sampler: str = "tpe",
    seed: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    baselines: bool = True,
    timeout: float | None = None,
) -> TuneResult:
    """Find the LR schedule that optimises what ``fn`` reports.

    ``fn`` is a zero-argument callable that trains with ``autolr.scheduler(optimizer,
    total_steps)`` and calls ``autolr.report(value, step)``; a trial's objective is its last
    reported value.

    Args:
        n_trials: the study's total of finished trials (complete or pruned; failed ones do not
            count). Calling ``tune`` again on the same storage and study resumes toward it.
        direction: ``"minimize"`` (a loss) or ``"maximize"`` (an accuracy).
        families: the families to search (default: every built-in family).
        lr: ``(low, high)`` bounds of the peak LR. Default: a tenth to ten times the optimizer's
            own LR, widened when the best trials sit at an edge.
        warmup: also search a linear warmup of 0-20% of the run.
        pruner: ``"median"``, ``"percentile"``, ``"hyperband"``, ``"sha"`` or ``"none"``. A
            divergence guard (non-finite values, or a loss far above the first report) is always
            on.
        sampler: ``"tpe"`` (multivariate, grouped, constant liar) or ``"random"``.
        seed: the study seed; trial ``n``'s seed derives from it and ``n`` (recorded on the
            trial). Without one, a random seed is drawn and stored with the study.
        storage: a SQLAlchemy URL (``"sqlite:///studies/x.db"``); None keeps the study in memory.
        study_name: the study's name in the storage (default: ``fn``'s name).
        baselines: start with the script's own LR held constant, cosine and linear-to-zero at
            that LR, so the answer is never worse than those on the measured objective.
        timeout: stop starting new trials after this many seconds.
    """
    if not callable(fn):
        raise _validation.fail("fn", _OWNER, "must be a zero-argument callable", fn)
    from autolr import runtime

    if runtime.in_trial():
        raise ConfigError(
            "autolr.tune was called inside a trial: the script being tuned starts a study of "
            "its own. Tune a training script (one that calls autolr.scheduler and "
            "autolr.report), not a script that calls autolr.tune; run that one with python."
        )
    if study_name is None:
        name = getattr(fn, "__name__", "")
        study_name = name if name.isidentifier() else "autolr"
    config = make_config(
        n_trials=n_trials, direction=direction, families=families, lr=lr, warmup=warmup,
        pruner=pruner, sampler=sampler, seed=seed, storage=storage, study_name=study_name,
        baselines=baselines, timeout=timeout,
    )
    return run_study(config, InProcessRunner(fn))


# --- the result -----------------------------------------------------------------------------


@dataclass
class TuneResult:
    """What a study found. ``study`` is the Optuna study, for any Optuna tool."""

    study: optuna.Study
    lr_edge: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def best_trial(self) -> FrozenTrial:
        try:
            return self.study.best_trial
        except ValueError:
            raise AutolrError(
                f"No trial of study {self.study.study_name!r} has completed yet, so there is no "
                "best schedule. Look at the failed trials' 'error' (autolr show) and run again."
            ) from None

    @property
    def best_spec(self) -> ScheduleSpec:
        return ScheduleSpec.from_json(self.best_trial.user_attrs["spec"])

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    def found_by(self) -> dict[str, Any]:
        """Facts about the winning trial, written into exports."""
        best = self.best_trial
        return {
            "study": self.study.study_name,
            "trial": best.number,
            "value": best.value,
            "direction": self.study.direction.name.lower(),
            "seed": best.user_attrs.get("seed"),
            "date": _dt.date.today().isoformat(),
        }

    def export(self, path: str, format: str = "python", *, overwrite: bool = False) -> Any:
        """Write the best schedule as standalone Python (needs only torch) or JSON."""
        from autolr.export import export

        return export(self.best_spec, path, format, found_by=self.found_by(), overwrite=overwrite)

    def write_report(self, output: str | None = None) -> Any:
        """Write the study as one self-contained HTML page; returns its path."""
        from autolr.reports import write_report

        return write_report(study=self.study, output=output)

    def counts(self) -> dict[str, int]:
        return count_states(self.study)


def count_states(study: optuna.Study) -> dict[str, int]:
    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0}
    names = {
        TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
        TrialState.RUNNING: "running", TrialState.WAITING: "waiting",
    }
    for trial in study.get_trials(deepcopy=False):
        counts[names[trial.state]] += 1
    return counts


# --- the study loop ---------------------------------------------------------------------------


def trial_seed(study_seed: int, number: int) -> int:
    """Trial ``number``'s seed: ``SeedSequence([study_seed, number])``'s first 31-bit word."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)


class StudyRun:
    """One call's worth of work on a study: resume, run trials until the target, stop cleanly."""

    def __init__(
        self,
        config: StudyConfig,
        runner: Any,
        *,
        on_trial_start: Callable[[TrialControl], None] | None = None,
        on_trial_end: Callable[[TrialControl, TrialOutcome], None] | None = None,
    ) -> None:
        self.config = config
        self.runner = runner
        self.on_trial_start = on_trial_start
        self.on_trial_end = on_trial_end
        self.storage = open_storage(config.storage)
        self.settings = self._settings_for(self._existing_settings())
        self.study = self._open_study()
        self.recovered = recover_abandoned_trials(self.study, self.storage)
        self.owner = process_owner()
        self.warnings: list[str] = []
        self.lr_edge: str | None = None
        self._finished_signatures: list[str | None] = []
        self._failures = 0
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        self._expected_reports = max((len(t.intermediate_values) for t in complete), default=0)
        self._counted = self.counted()

    # --- settings kept with the study --------------------------------------------------------
    def _existing_settings(self) -> dict[str, Any] | None:
        try:
            study_id = self.storage.get_study_id_from_name(self.config.study_name)
        except KeyError:
            self._existing_trials = 0
            return None
        self._existing_trials = len(self.storage.get_all_trials(study_id, deepcopy=False))
        attrs = self.storage.get_study_user_attrs(study_id)
        directions = self.storage.get_study_directions(study_id)
        if directions and directions[0].name.lower() != self.config.direction:
            raise ConfigError(
                f"Study {self.config.study_name!r} was created to "
                f"{directions[0].name.lower()}; it cannot be resumed with "
                f"direction={self.config.direction!r}. Use the study's direction, or another "
                "study name."
            )
        return attrs.get(SETTINGS_ATTR)

    def _settings_for(self, stored: dict[str, Any] | None) -> dict[str, Any]:
        config = self.config
        if stored is None:
            seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
            low, high = DEFAULT_LR_SCALE
            return {
                "version": 1,
                "families": list(config.families),
                "warmup": config.warmup,
                "seed": seed,
                "lr": list(config.lr) if config.lr else None,
                "lr_scale": [low, high],
                "widened": 0,
                "baselines_enqueued": False,
            }
        for key, label in (("families", "families"), ("warmup", "warmup")):
            want = list(config.families) if key == "families" else config.warmup
            if stored.get(key) != want:
                raise ConfigError(
                    f"Study {config.study_name!r} searched {label}={stored.get(key)!r}; it cannot "
                    f"be resumed with {label}={want!r} (Optuna cannot change a parameter's "
                    "choices mid-study). Resume with the same settings, or use another study name."
                )
        settings = dict(stored)
        if config.seed is not None:
            settings["seed"] = config.seed
        if config.lr is not None and list(config.lr) != stored.get("lr"):
            settings["lr"] = list(config.lr)
            settings["widened"] = 0
        return settings

    def _open_study(self) -> optuna.Study:
        config = self.config
        study = optuna.create_study(
            storage=self.storage,
            sampler=self._sampler(),
            pruner=make_pruner(config.pruner, config.n_trials),
            study_name=config.study_name,
            direction=config.direction,
            load_if_exists=True,
        )
        study.set_user_attr(SETTINGS_ATTR, self.settings)
        return study

    def _sampler(self) -> RangeAwareSampler:
        # A resumed study draws new numbers: the sampler seed mixes in the trials so far.
        seed = trial_seed(self.settings["seed"], 10**6 + self._existing_trials)
        sampler = make_sampler(self.config.sampler, seed, self.config.n_trials)
        self.sampler = sampler
        self._sync_lr_range()
        return sampler

    def _sync_lr_range(self) -> None:
        """Tell the sampler the current lr_scale range (None until the script's LR is known)."""
        base_lr = self.settings.get("base_lr")
        if base_lr:
            low, high = self.space().lr_scale_bounds(base_lr)
            self.sampler.current[LR_PARAM] = FloatDistribution(low, high, log=True)

    def _save_settings(self) -> None:
        self.study.set_user_attr(SETTINGS_ATTR, self.settings)

    def space(self) -> SearchSpace:
        return SearchSpace(
            families=tuple(self.settings["families"]),
            lr_scale=tuple(self.settings["lr_scale"]),  # type: ignore[arg-type]
            warmup=self.settings["warmup"],
            direction=self.config.direction,
            lr_bounds=tuple(self.settings["lr"]) if self.settings["lr"] else None,
        )

    # --- running ------------------------------------------------------------------------------
    def counted(self) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def run(self) -> TuneResult:
        config = self.config
        if config.baselines and not self.settings.get("baselines_enqueued"):
            for name, params in self.space().baseline_params():
                self.study.enqueue_trial(params, user_attrs={"baseline": name})
            self.settings["baselines_enqueued"] = True
            self._save_settings()
        deadline = time.monotonic() + config.timeout if config.timeout else math.inf
        runner = self.runner
        stopping: BaseException | None = None
        try:
            while True:
                while (
                    stopping is None
                    and runner.busy() < runner.slots
                    and self._counted + runner.busy() < config.n_trials
                    and time.monotonic() < deadline
                ):
                    self._start_trial()
                if runner.busy() == 0:
                    break
                for control, outcome in runner.wait():
                    error = self._finish_trial(control, outcome)
                    if error is not None and stopping is None:
                        stopping = error
                        self._abandon_running("stopped", requeue=True)
        except KeyboardInterrupt:
            self._abandon_running("interrupted", requeue=True)
            raise
        finally:
            runner.close()
        if stopping is not None:
            raise stopping
        self.lr_edge = self._lr_edge(widen=False)
        return TuneResult(self.study, lr_edge=self.lr_edge, warnings=self.warnings)

    def _start_trial(self) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
            trial = self.study.ask()
        control = TrialControl(
            trial,
            self.space(),
            seed=trial_seed(self.settings["seed"], trial.number),
            owner=self.owner,
            prune_after=self._prune_after(),
        )
        self.runner.start(control)
        if self.on_trial_start is not None:
            self.on_trial_start(control)

    def _prune_after(self) -> float:
        """Reports a trial makes before asking the pruner is worth a database read: none while
        no trial has completed, or in the grace period (the pruner would say no anyway)."""
        if self.config.pruner == "none" or self._expected_reports == 0:
            return math.inf
        return DEFAULT_GRACE * self._expected_reports

    def _finish_trial(self, control: TrialControl, outcome: TrialOutcome) -> Exception | None:
        """Tell the study how ``control`` ended; returns the error that stops the study, if any."""
        if outcome.state == TrialState.COMPLETE:
            self.study.tell(control.trial, outcome.value)
            self._expected_reports = max(self._expected_reports, control.n_reports)
        else:
            self.study.tell(control.trial, state=outcome.state)
        # one read serves the target count (other processes may share the study) and the LR edge
        trials = self.study.get_trials(deepcopy=False)
        self._counted = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        base_lr = control.spec.lr / control.trial.params[LR_PARAM] if control.spec else None
        if base_lr and not self.settings.get("base_lr"):
            self.settings["base_lr"] = base_lr
            self._save_settings()
            self._sync_lr_range()
        for message in control.warnings:
            if message not in self.warnings:
                self.warnings.append(message)
                warnings.warn(message, AutolrWarning, stacklevel=2)
        if self.on_trial_end is not None:
            self.on_trial_end(control, outcome)
        if outcome.fatal:
            return StudyStopped(f"Trial {control.number} failed: {outcome.error}")
        if len(self._finished_signatures) < SAME_ERROR_TRIALS:
            self._finished_signatures.append(
                outcome.signature if outcome.state == TrialState.FAIL else None
            )
            same = set(self._finished_signatures)
            if (
                len(self._finished_signatures) == SAME_ERROR_TRIALS
                and len(same) == 1
                and None not in same
            ):
                return StudyStopped(
                    f"The first {SAME_ERROR_TRIALS} trials failed with the same error, so the "
                    f"study stopped rather than repeat it:\n{outcome.error}"
                )
        if outcome.state == TrialState.FAIL:
            self._failures += 1
            limit = max(10, 2 * self.config.n_trials)
            if self._failures >= limit:
                return StudyStopped(
                    f"{self._failures} trials failed in this run, the last with:\n"
                    f"{outcome.error}\nFix the training code and run the study again."
                )
        if outcome.state == TrialState.COMPLETE:
            message = self._lr_edge(widen=True, trials=trials)
            if message:
                self.lr_edge = message
        return None

    def _abandon_running(self, reason: str, *, requeue: bool) -> None:
        for control in self.runner.interrupt():
            trial = control.trial
            control.failed(reason, f"the study was {reason} while this trial ran")
            self.study.tell(trial, state=TrialState.FAIL)
            if requeue and trial.params:
                self.study.enqueue_trial(
                    dict(trial.params), user_attrs={"requeued_from": trial.number}
                )

    # --- the LR range ---------------------------------------------------------------------------
    def _lr_edge(self, *, widen: bool, trials: list[FrozenTrial] | None = None) -> str | None:
        """A message when the best trials sit at an edge of the LR range; with ``widen``, widens
        the range 10x on that side for the remaining trials unless the user fixed it."""
        if trials is None:
            trials = self.study.get_trials(deepcopy=False)
        found = find_edge(self.config.direction, self.settings, trials)
        if found is None:
            return None
        side, best = found
        if not (widen and can_widen(self.settings)):
            return f"{edge_finding(side, best)} {edge_advice(self.settings)}"
        low, high = self.settings["lr_scale"]
        if side == "high":
            high *= 10
        else:
            low /= 10
        self.settings["lr_scale"] = [low, high]
        self.settings["widened"] += 1
        self._save_settings()
        self._sync_lr_range()
        return (
            f"{edge_finding(side, best)} The range was widened to {low:g}x-{high:g}x the "
            "script's LR for the remaining trials."
        )


def run_study(
    config: StudyConfig,
    runner: Any,
    *,
    on_trial_start: Callable[[TrialControl], None] | None = None,
    on_trial_end: Callable[[TrialControl, TrialOutcome], None] | None = None,
) -> TuneResult:
    """Run ``config``'s study with ``runner`` until it has ``n_trials`` finished trials."""
    study_run = StudyRun(
        config, runner, on_trial_start=on_trial_start, on_trial_end=on_trial_end
    )
    return study_run.run()
