"""The functions a Python user calls: ``autolr.tune`` and ``autolr.confirm``.

Both validate their arguments into a :class:`~autolr.study.config.StudyConfig` and hand it to the
study loop (:mod:`autolr.tuner`) with a runner that trains in this process. ``confirm`` runs only
the confirmation phase (:mod:`autolr.search.confirmation_phase`), with no budget to keep to: the
user asked for these runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna

from autolr import _validation
from autolr.errors import ConfigError
from autolr.result import TuneResult
from autolr.search import confirmation
from autolr.study.config import SETTINGS_ATTR, StudyConfig, make_config
from autolr.study.storage import open_storage
from autolr.trials.runners import InProcessRunner
from autolr.tuner import StudyRun, run_study

_OWNER = "tune"


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
        pruner: for ``search="lr_first"`` or ``"full"``: ``"median"`` (the default),
            ``"percentile"``, ``"hyperband"``, ``"sha"`` or ``"none"``. A divergence guard
            (non-finite values, or a loss far above the first report) is always on, on every rung
            too.
        sampler: ``"tpe"`` (multivariate, grouped, constant liar) or ``"random"``.
        seed: the study seed; trial ``n``'s seed derives from it and ``n`` (recorded on the
            trial). Without one, a random seed is drawn and stored with the study.
        storage: a SQLAlchemy URL (``"sqlite:///studies/x.db"``); None keeps the study in memory.
        study_name: the study's name in the storage (default: ``fn``'s name).
        baselines: start with the script's own LR held constant, cosine and linear-to-zero at
            that LR, so the answer is never worse than those on the measured objective.
        timeout: stop starting new trials after this many seconds.
        search: the search strategy (:mod:`autolr.search.strategy`): ``"lr_first"`` (the
            default for a new study): a line search on the peak LR with linear decay to zero,
            then shapes near that LR (see :mod:`autolr.search.lr_first`); ``"full"``: every
            family sampled from the start; both run every trial at full length, stopped early by
            ``pruner``; ``"ladder"``: asynchronous successive halving over shortened runs that
            follow their whole schedule compressed (see :mod:`autolr.search.ladder`); or one
            registered with :func:`autolr.search.strategies.register_strategy`. A resumed study
            keeps its own.
        ladder: the rungs as fractions of the run (default ``(1/9, 1/3, 1)``); each moves to
            the nearest step where the script reports, and 1 is added when missing.
        eta: the ladder's reduction factor (default 3): the best ``1/eta`` of a rung go on.
        confirm: ``(k, m)``: when the search part of the budget is spent, re-run the top ``k``
            configurations and the constant baseline on ``m`` fresh seeds (the same seeds for
            each), inside ``n_trials``; the winner is the best mean (see
            :mod:`autolr.search.confirmation`). ``0`` turns it off; the default spends about a
            sixth of the budget, and from ``n_trials=20`` on the top 3 on 2 fresh seeds.
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
