"""``autolr.tune``: the study that finds a training function's best LR schedule.

The study owns everything persistent: it asks Optuna for trials, hands each to a runner (this
process, or ``autolr tune``'s workers), tells Optuna how each ended, and keeps its settings, its
baselines, its LR range and its fidelity ladder in the study's user attributes so that running it
again resumes it. Which run starts next is the search's decision: the fidelity ladder
(:mod:`autolr.search.ladder_search`, the default) or the full search (every run at full length,
with a pruner).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from autolr import _validation
from autolr.errors import AutolrWarning, ConfigError, StudyStopped
from autolr.result import TuneResult, count_states
from autolr.search import confirmation
from autolr.search.ladder import SHORTENED, Job, cost_of, requeue_attrs, requeue_params
from autolr.search.ladder_search import LadderSearch
from autolr.search.lr_edge import can_widen, edge_advice, edge_finding, find_edge
from autolr.search.pruning import DEFAULT_GRACE, make_pruner
from autolr.search.sampling import RangeAwareSampler, make_sampler
from autolr.search.space import LR_PARAM, SearchSpace
from autolr.study.config import (
    DIRECTIONS,
    SETTINGS_ATTR,
    StudyConfig,
    check_pruner_on_ladder,
    make_config,
    resolve_config,
    settings_for,
)
from autolr.study.coordination import (
    Heartbeat,
    ServerClock,
    StudyLock,
    process_owner,
    recover_abandoned_trials,
)
from autolr.study.storage import display_url, open_storage
from autolr.study.storage_retry import StorageUnavailable
from autolr.trials.control import TrialControl, TrialOutcome
from autolr.trials.runners import InProcessRunner

SAME_ERROR_TRIALS = 3
OTHERS_POLL_S = 2.0  # how often a process with nothing to start looks at the others' trials
_OWNER = "tune"
__all__ = [
    "DIRECTIONS", "SETTINGS_ATTR", "StudyConfig", "StudyRun", "TuneResult", "confirm",
    "confirmation_config", "count_states", "make_config", "run_confirmation", "run_study",
    "trial_seed", "tune",
]


def tune(
    fn: Callable[[], Any],
    *,
    n_trials: int,
    direction: str = "minimize",
    families: Sequence[str] | None = None,
    lr: tuple[float, float] | None = None,
    warmup: bool = True,
    pruner: str | None = None,
    sampler: str = "tpe",
    seed: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    baselines: bool = True,
    timeout: float | None = None,
    search: str | None = None,
    ladder: Sequence[float] | None = None,
    eta: int | None = None,
    confirm: tuple[int, int] | int | None = None,
) -> TuneResult:
    """Find the LR schedule that optimises what ``fn`` reports.

    ``fn`` is a zero-argument callable that trains with ``autolr.scheduler(optimizer,
    total_steps)`` and calls ``autolr.report(value, step)``; a trial's objective is its last
    reported value.

    Args:
        n_trials: the study's budget, the compute of this many full-length runs (baselines
            included). On the fidelity ladder the study never trains more scheduler steps than
            ``n_trials`` full runs and tries as many configurations as that buys; in a full
            search it is the number of finished trials (complete or pruned; failed ones do not
            count). Calling ``tune`` again on the same storage and study resumes toward it.
        direction: ``"minimize"`` (a loss) or ``"maximize"`` (an accuracy).
        families: the families to search (default: every built-in family).
        lr: ``(low, high)`` bounds of the peak LR. Default: a tenth to ten times the optimizer's
            own LR, widened when the best trials sit at an edge.
        warmup: also search a linear warmup of 0-20% of the run.
        pruner: for ``search="full"``: ``"median"`` (the default), ``"percentile"``,
            ``"hyperband"``, ``"sha"`` or ``"none"``. A divergence guard (non-finite values, or a
            loss far above the first report) is always on, on every rung too.
        sampler: ``"tpe"`` (multivariate, grouped, constant liar) or ``"random"``.
        seed: the study seed; trial ``n``'s seed derives from it and ``n`` (recorded on the
            trial). Without one, a random seed is drawn and stored with the study.
        storage: a SQLAlchemy URL (``"sqlite:///studies/x.db"``); None keeps the study in memory.
        study_name: the study's name in the storage (default: ``fn``'s name).
        baselines: start with the script's own LR held constant, cosine and linear-to-zero at
            that LR, so the answer is never worse than those on the measured objective.
        timeout: stop starting new trials after this many seconds.
        search: ``"ladder"`` (the default for a new study): asynchronous successive halving
            over shortened runs that follow their whole schedule compressed (see
            :mod:`autolr.search.ladder`); ``"full"``: every run at full length, stopped early by
            ``pruner``. A resumed study keeps its own.
        ladder: the rungs as fractions of the run (default ``(1/9, 1/3, 1)``); each moves to
            the nearest step where the script reports, and 1 is added when missing.
        eta: the ladder's reduction factor (default 3): the best ``1/eta`` of a rung go on.
        confirm: ``(k, m)``: when the search part of the budget is spent, re-run the top ``k``
            configurations and the constant baseline on ``m`` fresh seeds (the same seeds for
            each), inside ``n_trials``; the winner is the best mean (see
            :mod:`autolr.search.confirmation`). ``0`` turns it off; the default spends about a sixth
            of the budget.
    """
    if not callable(fn):
        raise _validation.fail("fn", _OWNER, "must be a zero-argument callable", fn)
    from autolr.trials import runtime

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
        baselines=baselines, timeout=timeout, search=search, ladder=ladder, eta=eta,
        confirm=confirm,
    )
    return run_study(config, InProcessRunner(fn))


# --- the study loop ---------------------------------------------------------------------------


def trial_seed(study_seed: int, number: int) -> int:
    """Trial ``number``'s seed: ``SeedSequence([study_seed, number])``'s first 31-bit word."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)


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
        self._finished_signatures: list[str | None] = []
        self._failures = 0
        self._running = 0  # RUNNING trials of the study, every process's, at the last read
        self._others_running = 0
        self._reserve = 0
        self._reserve_released = False  # nothing can be confirmed: the reserve went to the search
        self._starting: optuna.Trial | None = None  # asked for, not yet handed to the runner
        # autolr confirm: confirmation runs only, beyond the budget (the user asked for them)
        self.extend_confirmation = False
        self.search: LadderSearch | None = None
        with self.lock.held():
            direction, stored = self._existing_settings(config.study_name)
            if direction is not None and stored is None and self._existing_trials:
                raise ConfigError(
                    f"Study {config.study_name!r} in {display_url(config.storage)} holds "
                    f"{self._existing_trials} trial(s) written by another program, not by "
                    "autolr tune; autolr does not add its trials to them. Give another study "
                    "name (--study / study_name). autolr show and autolr report read it."
                )
            self.config = resolve_config(config, direction, stored)
            self.settings = settings_for(self.config, stored, direction)
            self.pruner = self._pruner_name()
            self.study = self._open_study()
            trials = self._read_trials()
        self._counted = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        self._expected_reports = max(
            (len(t.intermediate_values) for t in trials if t.state == TrialState.COMPLETE),
            default=0,
        )
        if self.search_mode() == "ladder":
            self.search = LadderSearch(self.settings, self.config.direction, trials)
            self._use_ladder_view()
        if self.settings.get("ladder_fallback"):
            self.notes.append(self.settings["ladder_fallback"])

    @property
    def n_trials(self) -> int:
        """The study's budget as stored now: ``autolr tune --trials`` on any machine sets it."""
        return int(self.settings["n_trials"])

    # --- settings kept with the study --------------------------------------------------------
    def _existing_settings(self, name: str) -> tuple[str | None, dict[str, Any] | None]:
        """The stored study's direction and settings (None, None for a new study)."""
        try:
            study_id = self.storage.get_study_id_from_name(name)
        except KeyError:
            self._existing_trials = 0
            return None, None
        self._existing_trials = len(self.storage.get_all_trials(study_id, deepcopy=False))
        attrs = self.storage.get_study_user_attrs(study_id)
        directions = self.storage.get_study_directions(study_id)
        direction = directions[0].name.lower() if directions else None
        stored = attrs.get(SETTINGS_ATTR)
        return direction, stored if isinstance(stored, dict) else None

    def search_mode(self) -> str:
        """``ladder`` while the study runs (or will plan) a fidelity ladder, else ``full``."""
        if self.settings["search"] == "ladder" and not self.settings.get("ladder_fallback"):
            return "ladder"
        return "full"

    def _pruner_name(self) -> str:
        if self.search_mode() == "ladder":
            check_pruner_on_ladder(self.config.pruner, _OWNER)
            return "none"
        return self.config.pruner or "median"

    def _open_study(self) -> optuna.Study:
        config = self.config
        study = optuna.create_study(
            storage=self.storage,
            sampler=self._sampler(),
            pruner=make_pruner(self.pruner, self.n_trials),
            study_name=config.study_name,
            direction=config.direction,
            load_if_exists=True,
        )
        study.set_user_attr(SETTINGS_ATTR, self.settings)
        return study

    def _sampler(self) -> RangeAwareSampler:
        # A resumed study draws new numbers: the sampler seed mixes in the trials so far.
        seed = trial_seed(self.settings["seed"], 10**6 + self._existing_trials)
        sampler = make_sampler(self.config.sampler, seed, self._configurations_expected())
        self.sampler = sampler
        self._sync_lr_range()
        return sampler

    def _configurations_expected(self) -> int:
        """About how many configurations the budget buys (it sizes the sampler's start-up)."""
        n = self.n_trials
        request = self.settings.get("ladder_request")
        if self.search_mode() != "ladder" or not request:
            return n
        searched = max(1, n - len(self.space().baseline_params()) * self.config.baselines)
        return max(1, round(searched / cost_of(request["fidelities"], request["eta"])))

    def _use_ladder_view(self) -> None:
        """Once the ladder is planned, the sampler learns from one rung at a time."""
        if self.search is not None and self.search.planned:
            self.sampler.trial_view = self.search.learning_view

    def _sync_lr_range(self) -> None:
        """Tell the sampler the current lr_scale range (None until the script's LR is known)."""
        base_lr = self.settings.get("base_lr")
        if base_lr:
            low, high = self.space().lr_scale_bounds(base_lr)
            self.sampler.current[LR_PARAM] = FloatDistribution(low, high, log=True)

    def save_settings(self) -> None:
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
    def budget_status(self) -> tuple[float, str]:
        """How much of the budget is spent: ``(full runs of compute, "full runs")`` on the
        ladder, ``(finished trials, "trials")`` in a full search."""
        if self.search is not None:
            return self.search.compute_used(), "full runs"
        return float(self._counted), "trials"

    def confirm_plan(self) -> tuple[int, int]:
        """``(k, m)``: the top k configurations and the constant baseline on m fresh seeds."""
        stored = self.settings.get("confirm")
        if stored is not None:
            return int(stored[0]), int(stored[1])
        return confirmation.default_plan(self.n_trials, len(self._baselines()))

    def _baselines(self) -> list[str]:
        """The baseline trials this study runs (none before they are queued)."""
        if not self.settings.get("baselines_enqueued"):
            return []
        return [name for name, _ in self.space().baseline_params()]

    def _reserved_runs(self, trials: list[FrozenTrial]) -> int:
        """The full runs of the budget still kept for confirmation runs not started yet."""
        if self.extend_confirmation or self._reserve_released:
            return 0
        planned = confirmation.plan_runs(self.confirm_plan(),
                                         with_baseline="constant" in self._baselines())
        return max(0, planned - confirmation.started_confirmations(trials))

    # --- the study as stored now ------------------------------------------------------------
    def _read_trials(self) -> list[FrozenTrial]:
        """The study's trials, with those abandoned by a process that is gone failed and queued
        again (call it holding the lock)."""
        trials = self.study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if running:
            recovered = recover_abandoned_trials(self.study, self.storage, self.clock.now(),
                                                 running)
            if recovered:
                self.recovered.extend(recovered)
                trials = self.study.get_trials(deepcopy=False)
        return trials

    def _sync(self) -> list[FrozenTrial]:
        """Holding the lock: take the study's settings and trials as stored now (other
        processes running it may have placed the ladder, widened the LR range, raised the
        budget, started or ended trials)."""
        stored = self.study.user_attrs.get(SETTINGS_ATTR)
        if isinstance(stored, dict) and stored != self.settings:
            self.settings.clear()
            self.settings.update(stored)
            self._sync_lr_range()
            if self.search is not None and self.settings.get("ladder_fallback"):
                self._to_full_search(self.settings["ladder_fallback"])
        trials = self._read_trials()
        self._counted = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        self._running = sum(t.state == TrialState.RUNNING for t in trials)
        self._others_running = self._running - self.runner.busy()
        self._expected_reports = max(
            [self._expected_reports] + [len(t.intermediate_values) for t in trials
                                        if t.state == TrialState.COMPLETE]
        )
        if self.search is not None:
            planned = self.search.planned
            self.search.refresh(trials)
            if self.search.planned and not planned:
                self._use_ladder_view()
        self._reserve = self._reserved_runs(trials)
        return trials

    # --- running ------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        config = self.config
        deadline = time.monotonic() + config.timeout if config.timeout else math.inf
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
                    while (
                        stopping is None
                        and runner.busy() < runner.slots
                        and time.monotonic() < deadline
                    ):
                        job = self._next_job(busy)
                        if job is None:
                            break
                        self._start_trial(job)
                        busy += 1
                if runner.busy() == 0:
                    if stopping is None and self._others_running and (
                        time.monotonic() < deadline
                    ):
                        time.sleep(OTHERS_POLL_S)  # their trials may fail, or promote
                        continue
                    break
                idle = runner.busy() < runner.slots and self._others_running
                for control, outcome in self._wait(OTHERS_POLL_S * 5 if idle else None):
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

    def _wait(self, timeout: float | None) -> list[tuple[TrialControl, TrialOutcome]]:
        """The runner's finished trials; with ``timeout``, after at most that many seconds
        (runners that run trials in this process wait for the trial)."""
        if timeout is not None and getattr(self.runner, "waits_with_timeout", False):
            return self.runner.wait(timeout=timeout)
        return self.runner.wait()

    def _enqueue_baselines(self) -> None:
        """Queue the baselines once for the whole study (holding the lock)."""
        if self.config.baselines and not self.settings.get("baselines_enqueued"):
            for name, params in self.space().baseline_params():
                self.study.enqueue_trial(params, user_attrs={"baseline": name})
            self.settings["baselines_enqueued"] = True
            self.save_settings()
            self._sync()

    def _lost_storage(self, exc: StorageUnavailable) -> StorageUnavailable:
        """Stop this process's trials after the database went away, and say what happened."""
        running = self.runner.interrupt()
        self.storage.retry_s = min(self.storage.retry_s, 5.0)  # one last, short try
        left = []
        for control in running:
            self.heartbeat.remove(control.trial._trial_id)
            try:
                self.study.tell(control.trial, state=TrialState.FAIL)
                self._requeue(control.trial)
            except Exception:
                left.append(control.number)
        if len(left) == 1:
            what = (f" Trial {left[0]} was running: the study marks it failed and runs its "
                    "configuration again when it resumes.")
        elif left:
            what = (f" Trials {', '.join(map(str, left))} were running: the study marks them "
                    "failed and runs their configurations again when it resumes.")
        else:
            what = ""
        return StorageUnavailable(
            f"{exc} The study stopped; every result it recorded is kept.{what} Resume with the "
            "same command once the database server is back."
        )

    def _next_job(self, busy: int) -> Job | None:
        """The search's next run within the budget less the confirmation reserve; once the
        search has nothing left to run (and nothing runs), the confirmation runs. ``busy``:
        the study's running trials, every process's."""
        if not self.extend_confirmation:
            if self.search is not None:
                job = self.search.next_job(busy, self._reserve)
            elif self._counted + busy < self.n_trials - self._reserve:
                job = Job("full", None, 1.0)
            else:
                job = None
            if job is not None or busy:
                return job
        job = self._confirmation_job(busy)
        if job is None and self._reserve and not confirmation.candidates(
            self.study.get_trials(deepcopy=False), self.config.direction, 1
        )[0]:
            # nothing completed that could be confirmed: the reserve goes back to the search
            self._reserve_released = True
            self._reserve = 0
            return self._next_job(busy)
        return job

    def _confirmation_job(self, busy: int) -> Job | None:
        """Queue the confirmation runs still missing (as many as the budget buys), then run the
        oldest queued one."""
        plan = self.confirm_plan()
        trials = self.study.get_trials(deepcopy=False)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        if self.extend_confirmation:
            room = math.inf
        elif self.search is not None:
            room = math.floor(self.n_trials - self.search.compute_used() + 1e-9)
        else:
            room = self.n_trials - self._counted - busy
        room -= waiting
        seed = self.settings["seed"]
        for run in confirmation.pending(trials, self.config.direction, plan,
                                        lambda j: trial_seed(seed, confirmation.CONFIRM_SEED_BASE
                                                             + j)):
            if room < 1:
                break
            attrs: dict[str, Any] = {"confirms": run.origin, "confirm_round": run.round_,
                                     "seed": run.seed}
            if run.baseline is not None:
                attrs["baseline"] = run.baseline
            self.study.enqueue_trial(run.params, user_attrs=attrs)
            room -= 1
            waiting += 1
        if not waiting:
            return None
        if self.search is not None:
            self.search.refresh(self.study.get_trials(deepcopy=False))
            return self.search.next_job(busy) if not self.extend_confirmation else Job(
                "waiting", None, 1.0)
        if self.extend_confirmation or self._counted + busy < self.n_trials:
            return Job("waiting", None, 1.0)
        return None

    def _start_trial(self, job: Job) -> None:
        if job.kind == "promote":
            assert job.params is not None
            self.study.enqueue_trial(dict(job.params), user_attrs={
                "rung": job.rung, "fidelity": job.fidelity, "promoted_from": job.source,
            })
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
            trial = self.study.ask()
        self._starting = trial  # until a runner has it: Ctrl-C here must not leave it RUNNING
        fidelity = job.fidelity
        attrs = trial.user_attrs  # a queued trial carries what it is
        seed = trial_seed(self.settings["seed"], trial.number)
        if "confirms" in attrs and isinstance(attrs.get("seed"), int):
            seed = attrs["seed"]  # a confirmation round's seed, the same for every configuration
        if job.kind == "waiting":
            fidelity = float(attrs.get("fidelity", 1.0))
            job = Job("waiting", attrs.get("rung"), fidelity)
        # what the trial starts with, stored in one write
        start = {"heartbeat": self.heartbeat.now()}
        if job.kind == "new":
            start.update(rung=job.rung, fidelity=fidelity)
        control = TrialControl(
            trial,
            self.space(),
            seed=seed,
            owner=self.owner,
            prune_after=self._prune_after(),
            fidelity=fidelity,
            attrs=start,
        )
        self.heartbeat.add(trial._trial_id, beaten=True)
        if self.search is not None:
            self.search.started(job, self.search.planned_steps(job))
            if job.kind == "new" and job.rung == 0:
                control.rung = 0
                control.entry_rung = self._entry
        self.runner.start(control)
        self._starting = None
        if self.on_trial_start is not None:
            self.on_trial_start(control)

    def _prune_after(self) -> float:
        """Reports a trial makes before asking the pruner is worth a database read: none while
        no trial has completed, or in the grace period (the pruner would say no anyway)."""
        if self.pruner == "none" or self._expected_reports == 0:
            return math.inf
        return DEFAULT_GRACE * self._expected_reports

    def _entry(self, rung: int | None, metric_driven: bool) -> tuple[int, float] | None:
        """Where a new ladder run starting at ``rung`` should run once its family is known (see
        :meth:`LadderSearch.entry`); a move is decided holding the lock on a fresh read."""
        search = self.search
        if search is None or search.board is None or rung != 0:
            return None
        if search.board.ladder.entry_rung(metric_driven) == rung:
            return None
        with self.lock.held():
            self._sync()
            return search.entry(rung, metric_driven) if self.search is search else None

    def _tell(self, control: TrialControl, outcome: TrialOutcome) -> None:
        """Store how ``control`` ended (at once, whatever the other processes are doing)."""
        self.heartbeat.remove(control.trial._trial_id)
        if control.taken_over:  # another process failed it as abandoned meanwhile
            self._taken_over(control)
            return
        try:
            if outcome.state == TrialState.COMPLETE:
                self.study.tell(control.trial, outcome.value)
            else:
                self.study.tell(control.trial, state=outcome.state)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            if not self._taken_over(control):
                raise
            return
        if outcome.state == TrialState.COMPLETE:
            self._expected_reports = max(self._expected_reports, control.n_reports)
        if outcome.requeue and "requeued_from" not in control.trial.user_attrs:
            self._requeue(control.trial)

    def _taken_over(self, control: TrialControl) -> bool:
        """True (and a warning) when another process ended ``control``'s trial as abandoned."""
        stored = self.storage.get_trial(control.trial._trial_id)
        if not stored.state.is_finished():
            return False
        control.taken_over = True
        control.warnings.append(
            f"Trial {control.number} was marked abandoned by another process running this "
            "study (it had not heard from this one for a long time: was it suspended, or its "
            "database away?); its result here was not recorded, and its configuration runs "
            "again."
        )
        return True

    def _after_trial(self, control: TrialControl, outcome: TrialOutcome,
                     trials: list[FrozenTrial]) -> Exception | None:
        """Holding the lock on the fresh read ``trials``: learn from how ``control`` ended;
        returns the error that stops the study, if any."""
        if control.taken_over:
            self._report_warnings(control)
            return None
        self._learn_run_facts(control)
        if self.search is not None:
            self._plan_ladder(control, outcome)
        if "confirms" in control.trial.user_attrs:
            repeat = confirmation.identical_repeats(trials)
            if repeat is not None:
                control.warnings.append(confirmation.seeds_itself_message(*repeat))
        self._report_warnings(control)
        if self.on_trial_end is not None:
            self.on_trial_end(control, outcome)
        if outcome.fatal:
            return StudyStopped(f"Trial {control.number} failed: {outcome.error}")
        if outcome.requeue:  # not the configuration's failure (a shared GPU ran out of memory)
            return None
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
            limit = max(10, 2 * self._configurations_expected())
            if self._failures >= limit:
                return StudyStopped(
                    f"{self._failures} trials failed in this run, the last with:\n"
                    f"{outcome.error}\nFix the training code and run the study again."
                )
        if outcome.state == TrialState.COMPLETE or outcome.reason == SHORTENED:
            message = self._lr_edge(widen=True, trials=trials)
            if message:
                self.lr_edge = message
        return None

    def _report_warnings(self, control: TrialControl) -> None:
        for message in control.warnings:
            if message not in self.warnings:
                self.warnings.append(message)
                warnings.warn(message, AutolrWarning, stacklevel=3)

    def _learn_run_facts(self, control: TrialControl) -> None:
        """The script's own LR and run length, kept with the study once known."""
        changed = False
        spec = control.spec
        if spec is not None and not self.settings.get("base_lr"):
            self.settings["base_lr"] = spec.lr / control.trial.params[LR_PARAM]
            changed = True
            self._sync_lr_range()
        if control.declared_steps and not self.settings.get("total_steps"):
            self.settings["total_steps"] = control.declared_steps
            changed = True
        if changed:
            self.save_settings()

    def _plan_ladder(self, control: TrialControl, outcome: TrialOutcome) -> None:
        """Place the rungs on the first completed full run; or fall back to the full search."""
        search = self.search
        assert search is not None
        if search.planned or outcome.state != TrialState.COMPLETE or control.fidelity < 1:
            return
        assert control.declared_steps is not None
        message = search.plan_from(
            declared_steps=control.declared_steps, steps_taken=control.steps_taken,
            report_positions=control.report_positions,
        )
        self.save_settings()
        self.notes.append(message)
        if search.planned:
            self._use_ladder_view()
            return
        warnings.warn(message, AutolrWarning, stacklevel=3)
        self._to_full_search(message)

    def _to_full_search(self, message: str) -> None:
        """The full search from here on: n_trials counts finished runs, the default pruner."""
        if message not in self.notes:
            self.notes.append(message)
        self.search = None
        self.sampler.trial_view = None
        self.pruner = self.config.pruner or "median"
        self.study.pruner = make_pruner(self.pruner, self.n_trials)

    def _abandon_running(self, reason: str, *, requeue: bool) -> None:
        """Fail this process's running trials (and one being started) with ``reason``."""
        starting, self._starting = self._starting, None
        for control in self.runner.interrupt():
            trial = control.trial
            if trial is starting:
                starting = None
            self.heartbeat.remove(trial._trial_id)
            control.failed(reason, f"the study was {reason} while this trial ran")
            self._fail(trial, requeue=requeue)
        if starting is not None:
            self.heartbeat.remove(starting._trial_id)
            starting.set_user_attr("reason", reason)
            self._fail(starting, requeue=requeue)

    def _fail(self, trial: optuna.Trial, *, requeue: bool) -> None:
        self.study.tell(trial, state=TrialState.FAIL)
        if requeue:
            self._requeue(trial)

    def _requeue(self, trial: optuna.Trial) -> None:
        """Queue the ended ``trial``'s configuration again, when it has one (see
        :func:`~autolr.search.ladder.requeue_params`: a baseline stopped before its schedule was
        sampled is still that baseline)."""
        stored = self.storage.get_trial(trial._trial_id)
        params = requeue_params(stored)
        if params:
            self.study.enqueue_trial(params, user_attrs=requeue_attrs(stored))

    # --- the LR range ---------------------------------------------------------------------------
    def _lr_edge(self, *, widen: bool, trials: list[FrozenTrial] | None = None) -> str | None:
        """A message when the best trials sit at an edge of the LR range; with ``widen``, widens
        the range 10x on that side for the remaining trials unless the user fixed it. On the
        ladder the best trials are those of the rung the sampler learns from."""
        if trials is None:
            trials = self.study.get_trials(deepcopy=False)
        if self.search is not None:
            trials = self.search.learning_view(list(trials))
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
        self.save_settings()
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


# --- confirming an existing study beyond its budget -------------------------------------------


def confirmation_config(
    storage: str, study_name: str, top: Any = None, seeds: Any = None, *, owner: str = _OWNER
) -> StudyConfig:
    """The config that confirms (or extends the confirmation of) a stored study: the top
    ``top`` configurations and the constant baseline on ``seeds`` fresh seeds. Defaults: the
    study's own number of configurations (3 when it confirmed none) and one seed more than it
    has. Nothing stored changes when the study cannot be confirmed."""
    if top is not None:
        top = _validation.number("top", owner, top, low=1, integer=True)
    if seeds is not None:
        seeds = _validation.number("seeds", owner, seeds, low=1, integer=True)
    backend = open_storage(storage, write=True)
    try:
        study = optuna.load_study(study_name=study_name, storage=backend)
    except KeyError:
        raise ConfigError(f"No study named {study_name!r} in {storage}. Check --study.") from None
    settings = study.user_attrs.get(SETTINGS_ATTR)
    if not isinstance(settings, dict):
        raise ConfigError(
            f"Study {study_name!r} was not written by autolr tune, so autolr cannot tell how to "
            "re-run its configurations."
        )
    trials = study.get_trials(deepcopy=False)
    direction = study.direction.name.lower()
    if not confirmation.candidates(trials, direction, 1)[0]:
        raise ConfigError(
            f"Study {study_name!r} has no complete full-length trial to confirm yet. Run "
            "autolr tune on it first; nothing was changed."
        )
    stored = settings.get("confirm")
    if stored is None:  # the default plan the study ran with
        baselines = sum("baseline" in t.user_attrs and not confirmation.is_confirmation(t)
                        and "requeued_from" not in t.user_attrs for t in trials)
        stored = confirmation.default_plan(int(settings.get("n_trials") or 0), baselines)
    k = top if top is not None else (int(stored[0]) or confirmation.MAX_TOP)
    m = seeds if seeds is not None else int(stored[1]) + 1
    return make_config(
        n_trials=int(settings.get("n_trials") or len(trials)), direction=direction,
        families=settings["families"], warmup=settings["warmup"], storage=storage,
        study_name=study_name, baselines=False, confirm=(k, m), owner=owner,
    )


def run_confirmation(config: StudyConfig, runner: Any, **hooks: Any) -> TuneResult:
    """Run ``config``'s confirmation runs, beyond the study's budget (the user asked)."""
    study_run = StudyRun(config, runner, **hooks)
    study_run.extend_confirmation = True
    return study_run.run()


def confirm(
    fn: Callable[[], Any],
    *,
    study_name: str,
    storage: str,
    top: int | None = None,
    seeds: int | None = None,
) -> TuneResult:
    """Re-run a stored study's top ``top`` configurations and the constant baseline on
    ``seeds`` fresh seeds with ``fn``, beyond the study's budget (``autolr confirm`` for a
    study tuned from Python). The result's winner is the best mean."""
    if not callable(fn):
        raise _validation.fail("fn", "confirm", "must be a zero-argument callable", fn)
    config = confirmation_config(storage, study_name, top, seeds, owner="confirm")
    return run_confirmation(config, InProcessRunner(fn))
