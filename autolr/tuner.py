"""The study loop: it drives a search strategy through a study's budget.

The study owns everything persistent: it asks Optuna for trials, hands each to a runner (this
process, or ``autolr tune``'s workers), tells Optuna how each ended, and keeps its settings, its
baselines and its LR range in the study's user attributes so that running it again resumes it.
Which run starts next is a search strategy's decision (:mod:`autolr.search.strategy`): the
line search on the LR then the shape (the default), the full search or the fidelity ladder,
then the confirmation phase. The loop knows none of them by name.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrWarning
from autolr.result import TuneResult
from autolr.search import confirmation
from autolr.search.confirmation_phase import ConfirmationPhase
from autolr.search.ladder import SHORTENED
from autolr.search.lr_range import LRRange
from autolr.search.pruning import DEFAULT_GRACE, make_pruner
from autolr.search.sampling import RangeAwareSampler, make_sampler
from autolr.search.seeds import trial_seed
from autolr.search.space import SearchSpace, space_of
from autolr.search.strategies import strategy_class
from autolr.search.strategy import Job, SearchStrategy
from autolr.study import outcomes
from autolr.study.config import (
    SETTINGS_ATTR,
    StudyConfig,
    resolve_config,
    settings_for,
    stored_settings,
)
from autolr.study.coordination import (
    Heartbeat,
    ServerClock,
    StudyLock,
    process_owner,
    read_trials,
)
from autolr.study.stopping import FailureWatch
from autolr.study.storage import open_storage
from autolr.study.storage_retry import StorageUnavailable
from autolr.trials.control import TrialControl, TrialOutcome

OTHERS_POLL_S = 2.0  # how often a process with nothing to start looks at the others' trials
_OWNER = "tune"
__all__ = ["SearchSpace", "StudyRun", "TrialControl", "run_study", "trial_seed"]


class StudyRun:
    """One call's worth of work on a study: resume, run trials until the budget, stop cleanly.

    Several processes (on one machine or many) may run one study at once: every decision is
    taken holding the study's lock on a fresh read of its trials and settings (see
    :mod:`autolr.study.coordination`), so the budget holds across them, each configuration is
    promoted and each confirmation run queued once, and a process with nothing left to start
    waits for the others' trials (which may fail, or make promotions) before it ends.
    """

    def __init__(
        self,
        config: StudyConfig,
        runner: Any,
        *,
        on_trial_start: Callable[[TrialControl], None] | None = None,
        on_trial_end: Callable[[TrialControl, TrialOutcome], None] | None = None,
    ) -> None:
        self.runner = runner
        self.on_trial_start = on_trial_start
        self.on_trial_end = on_trial_end
        self.storage = open_storage(config.storage, write=True)
        self.lock = StudyLock(self.storage, config.storage, config.study_name)
        self.clock = ServerClock(self.storage)
        self.heartbeat = Heartbeat(self.storage, self.clock)
        self.owner = process_owner()
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.lr_edge: str | None = None
        self.recovered: list[int] = []
        self.failures = FailureWatch()
        self._running = 0  # RUNNING trials of the study, every process's, at the last read
        self._others_running = 0
        self._expected_reports = 0  # reports of a complete run (the pruner's grace counts them)
        self._starting: optuna.Trial | None = None  # asked for, not yet handed to the runner
        # autolr confirm: confirmation runs only, beyond the budget (the user asked for them)
        self.extend_confirmation = False
        with self.lock.held():
            direction, stored, existing = stored_settings(self.storage, config.study_name,
                                                          config.storage)
            self.config = resolve_config(config, direction, stored)
            self.settings = settings_for(self.config, stored, direction)
            self.search = self._follow(strategy_class(self.settings["search"])(
                self.settings, self.config.direction, [], pruner=self.config.pruner))
            self.study = self._open_study(existing)
            self.confirming = ConfirmationPhase(self.settings, self.config.direction, [],
                                                study=self.study, search=self.search)
            self._sync()

    @property
    def n_trials(self) -> int:
        """The study's budget as stored now: ``autolr tune --trials`` on any machine sets it."""
        return int(self.settings["n_trials"])

    @property
    def pruner(self) -> str:
        return self.search.pruner

    def space(self) -> SearchSpace:
        """The search space as the study's settings describe it now."""
        return space_of(self.settings, self.config.direction)

    def budget_status(self) -> tuple[float, str]:
        """How much of the budget is spent: full runs of compute, or finished trials."""
        return self.search.budget_status()

    # --- the study and its strategies -----------------------------------------------------------
    def _open_study(self, existing: int) -> optuna.Study:
        # A resumed study draws new numbers: the sampler seed mixes in the trials so far.
        seed = trial_seed(self.settings["seed"], 10**6 + existing)
        self.sampler: RangeAwareSampler = make_sampler(
            self.config.sampler, seed, self.search.configurations_expected(self._baseline_count())
        )
        self.sampler.trial_view = self.search.learning_view
        self.lr_range = LRRange(self.settings, self.config.direction, self.sampler)
        study = optuna.create_study(
            storage=self.storage, sampler=self.sampler,
            pruner=make_pruner(self.pruner, self.n_trials), study_name=self.config.study_name,
            direction=self.config.direction, load_if_exists=True,
        )
        study.set_user_attr(SETTINGS_ATTR, self.settings)
        return study

    def _baseline_count(self) -> int:
        return len(self.space().baseline_params()) if self.config.baselines else 0

    def _follow(self, strategy: SearchStrategy) -> SearchStrategy:
        """``strategy``, or the one it handed over to (a ladder the script cannot honour is a
        full search); the study's pruner and sampler follow a hand-over."""
        while (handed := strategy.successor()) is not None:
            strategy, why = handed
            if not any(why in note for note in self.notes):
                self.notes.append(why)
            if hasattr(self, "confirming"):
                self.study.pruner = make_pruner(strategy.pruner, self.n_trials)
                self.sampler.trial_view = strategy.learning_view
                self.confirming.search = strategy
        return strategy

    def _phases(self) -> list[SearchStrategy]:
        self.confirming.extend = self.extend_confirmation
        return [self.confirming] if self.extend_confirmation else [self.search, self.confirming]

    def _decide(self, strategy: SearchStrategy, decide: Callable[[], Any]) -> Any:
        """Run ``decide`` for ``strategy`` holding the lock on a fresh read (None when another
        strategy took over meanwhile)."""
        with self.lock.held():
            self._sync()
            return decide() if self.search is strategy else None

    def save_settings(self) -> None:
        self.study.set_user_attr(SETTINGS_ATTR, self.settings)

    # --- the study as stored now ----------------------------------------------------------------
    def _sync(self) -> list[FrozenTrial]:
        """Holding the lock: take the study's settings and trials as stored now (other
        processes running it may have placed the ladder, widened the LR range, raised the
        budget, started or ended trials), and let every phase read them."""
        stored = self.study.user_attrs.get(SETTINGS_ATTR)
        if isinstance(stored, dict) and stored != self.settings:
            self.settings.clear()
            self.settings.update(stored)
            self.lr_range.sync()
        trials, recovered = read_trials(self.study, self.storage, self.clock)
        self.recovered.extend(recovered)
        self._running = sum(t.state == TrialState.RUNNING for t in trials)
        self._others_running = self._running - self.runner.busy()
        self._expected_reports = max([self._expected_reports] + [
            len(t.intermediate_values) for t in trials if t.state == TrialState.COMPLETE])
        self.search.refresh(trials)
        self.search = self._follow(self.search)
        self.confirming.refresh(trials)
        return trials

    # --- running --------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        deadline = time.monotonic() + self.config.timeout if self.config.timeout else math.inf
        runner = self.runner
        stopping: BaseException | None = None
        ended: list[tuple[TrialControl, TrialOutcome]] = []
        try:
            while True:
                with self.lock.held():
                    trials = self._sync()
                    self._enqueue_baselines()
                    for control, outcome in ended:
                        error = self._after_trial(control, outcome, trials)
                        if error is not None and stopping is None:
                            stopping = error
                            self._abandon_running("stopped", requeue=True)
                    ended = []
                    busy = self._running
                    while stopping is None and runner.busy() < runner.slots and (
                            time.monotonic() < deadline):
                        job = self._next_job(busy)
                        if job is None:
                            break
                        self._start_trial(job)
                        busy += 1
                if runner.busy() == 0:
                    if stopping is None and self._others_running and time.monotonic() < deadline:
                        time.sleep(OTHERS_POLL_S)  # their trials may fail, or promote
                        continue
                    break
                idle = runner.busy() < runner.slots and self._others_running
                for control, outcome in runner.wait(OTHERS_POLL_S * 5 if idle else None):
                    self._tell(control, outcome)
                    ended.append((control, outcome))
        except KeyboardInterrupt:
            self._abandon_running("interrupted", requeue=True)
            raise
        except StorageUnavailable as exc:
            raise self._lost_storage(exc) from exc
        except Exception:
            # nothing this process ran is left RUNNING: failed ('stopped') and queued again, so
            # the same command resumes the study (best effort: the error may be the database's)
            with contextlib.suppress(Exception):
                self._abandon_running("stopped", requeue=True)
            raise
        finally:
            runner.close()
            self.heartbeat.stop()
            self.lock.close()
        if stopping is not None:
            raise stopping
        self.lr_edge = self._lr_edge(widen=False)
        return TuneResult(self.study, lr_edge=self.lr_edge, warnings=self.warnings,
                          notes=self.notes)

    def _enqueue_baselines(self) -> None:
        """Queue the baselines once for the whole study (holding the lock)."""
        if self.config.baselines and not self.settings.get("baselines_enqueued"):
            for name, params in self.space().baseline_params():
                self.study.enqueue_trial(params, user_attrs={"baseline": name})
            self.settings["baselines_enqueued"] = True
            self.save_settings()
            self._sync()

    def _next_job(self, busy: int) -> Job | None:
        """The first phase's run that fits the budget less what later phases keep; a phase
        whose runs go on (``busy``: the study's running trials, every process's) holds back
        the phases after it."""
        phases = self._phases()
        for i, phase in enumerate(phases):
            job = phase.next_job(busy, sum(later.reserved_runs() for later in phases[i + 1:]))
            if job is not None or (busy and phase.waits_for_running):
                return job
        if not busy and any(phase.give_back_reserve() for phase in phases):
            return self._next_job(busy)
        return None

    def _start_trial(self, job: Job) -> None:
        if job.kind == "promote":
            assert job.params is not None
            self.study.enqueue_trial(dict(job.params), user_attrs={
                "rung": job.rung, "fidelity": job.fidelity, "promoted_from": job.source,
            })
        elif job.params is not None:  # a run whose configuration the strategy prescribes
            self.study.enqueue_trial(dict(job.params), user_attrs=dict(job.attrs or {}))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
            trial = self.study.ask()
        self._starting = trial  # until a runner has it: Ctrl-C here must not leave it RUNNING
        attrs = trial.user_attrs  # a queued trial carries what it is
        seed = trial_seed(self.settings["seed"], trial.number)
        if "confirms" in attrs and isinstance(attrs.get("seed"), int):
            seed = attrs["seed"]  # a confirmation round's seed, the same for every configuration
        if job.kind == "waiting":
            job = Job("waiting", attrs.get("rung"), float(attrs.get("fidelity", 1.0)))
        start = {"heartbeat": self.heartbeat.now()}  # what the trial starts with, in one write
        if job.kind == "new":
            start.update(rung=job.rung, fidelity=job.fidelity)
        # a confirmation run measures its configuration on another seed: the pruner never cuts
        # it short (its value would not be on the scale of the others), the divergence guard may
        unpruned = self.pruner == "none" or self._expected_reports == 0 or "confirms" in attrs
        prune_after = math.inf if unpruned else DEFAULT_GRACE * self._expected_reports
        control = TrialControl(trial, self.space(), seed=seed, owner=self.owner,
                               prune_after=prune_after, fidelity=job.fidelity, attrs=start)
        control.captured = bool(self.settings.get("capture"))
        self.heartbeat.add(trial._trial_id, beaten=True)
        strategy = self.search
        strategy.started(job, control, lambda decide: self._decide(strategy, decide))
        self.runner.start(control)
        self._starting = None
        if self.on_trial_start is not None:
            self.on_trial_start(control)

    def _tell(self, control: TrialControl, outcome: TrialOutcome) -> None:
        """Store how ``control`` ended (at once, whatever the other processes are doing)."""
        self.heartbeat.remove(control.trial._trial_id)
        if control.taken_over:  # another process failed it as abandoned meanwhile
            outcomes.taken_over(self.storage, control)
            return
        try:
            if outcome.state == TrialState.COMPLETE:
                self.study.tell(control.trial, outcome.value)
            else:
                self.study.tell(control.trial, state=outcome.state)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            if not outcomes.taken_over(self.storage, control):
                raise
            return
        if outcome.state == TrialState.COMPLETE:
            self._expected_reports = max(self._expected_reports, control.n_reports)
        if outcome.requeue and "requeued_from" not in control.trial.user_attrs:
            outcomes.requeue(self.study, self.storage, control.trial)

    def _after_trial(self, control: TrialControl, outcome: TrialOutcome,
                     trials: list[FrozenTrial]) -> Exception | None:
        """Holding the lock on the fresh read ``trials``: learn from how ``control`` ended;
        returns the error that stops the study, if any."""
        if not control.taken_over:
            if self.lr_range.learn(control):
                self.save_settings()
            strategy = self.search
            note = strategy.ended(control, outcome)
            if note:
                self.save_settings()
                self.notes.append(note)
                self.search = self._follow(strategy)
                if self.search is not strategy:
                    warnings.warn(note, AutolrWarning, stacklevel=3)
            if "confirms" in control.trial.user_attrs:
                repeat = confirmation.identical_repeats(trials)
                if repeat is not None:
                    control.warnings.append(confirmation.seeds_itself_message(*repeat))
        self._report_warnings(control)
        if control.taken_over:
            return None
        if self.on_trial_end is not None:
            self.on_trial_end(control, outcome)
        error = self.failures.check(
            control, outcome, self.search.configurations_expected(self._baseline_count()))
        if error is None and (outcome.state == TrialState.COMPLETE
                              or outcome.reason == SHORTENED) and not outcome.requeue:
            self.lr_edge = self._lr_edge(widen=True, trials=trials) or self.lr_edge
        return error

    def _report_warnings(self, control: TrialControl) -> None:
        for message in control.warnings:
            if message not in self.warnings:
                self.warnings.append(message)
                warnings.warn(message, AutolrWarning, stacklevel=3)

    def _lr_edge(self, *, widen: bool, trials: list[FrozenTrial] | None = None) -> str | None:
        """A message when the best trials sit at an edge of the LR range; with ``widen``, the
        range is widened for the remaining trials (see :mod:`autolr.search.lr_range`)."""
        if trials is None:
            trials = self.study.get_trials(deepcopy=False)
        message, changed = self.lr_range.at_edge(self.search.learning_view(list(trials)),
                                                 widen=widen)
        if changed:
            self.save_settings()
        return message

    # --- stopping ---------------------------------------------------------------------------------
    def _abandon_running(self, reason: str, *, requeue: bool) -> None:
        """Fail this process's running trials (and one being started) with ``reason``."""
        starting, self._starting = self._starting, None
        outcomes.abandon(self.study, self.storage, self.heartbeat, self.runner.interrupt(),
                         starting, reason, requeue_them=requeue)

    def _lost_storage(self, exc: StorageUnavailable) -> StorageUnavailable:
        """Stop this process's trials after the database went away, and say what happened."""
        self.storage.retry_s = min(self.storage.retry_s, 5.0)  # one last, short try
        return outcomes.lost_storage(exc, self.study, self.storage, self.heartbeat,
                                     self.runner.interrupt())


def run_study(
    config: StudyConfig,
    runner: Any,
    *,
    on_trial_start: Callable[[TrialControl], None] | None = None,
    on_trial_end: Callable[[TrialControl, TrialOutcome], None] | None = None,
) -> TuneResult:
    """Run ``config``'s study with ``runner`` until its budget is spent."""
    study_run = StudyRun(
        config, runner, on_trial_start=on_trial_start, on_trial_end=on_trial_end
    )
    return study_run.run()
