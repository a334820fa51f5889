"""Recording how a trial ended when it did not end on its own: failed, queued again, or found
taken over by another process.

A trial this process stops (Ctrl-C, an error, a lost database) is failed and its configuration
queued again, so that the same command resumes the study without losing it; a trial another
process already failed as abandoned (this one was silent too long) is left as that process
recorded it.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from autolr.search.ladder import requeue_attrs, requeue_params


def requeue(study: optuna.Study, storage: Any, trial: optuna.Trial) -> None:
    """Queue the ended ``trial``'s configuration again, when it has one (see
    :func:`~autolr.search.ladder.requeue_params`: a baseline stopped before its schedule was
    sampled is still that baseline)."""
    stored = storage.get_trial(trial._trial_id)
    params = requeue_params(stored)
    if params:
        study.enqueue_trial(params, user_attrs=requeue_attrs(stored))


def fail(study: optuna.Study, storage: Any, trial: optuna.Trial, *, requeue_it: bool) -> None:
    """Fail ``trial`` and, with ``requeue_it``, queue its configuration again."""
    study.tell(trial, state=TrialState.FAIL)
    if requeue_it:
        requeue(study, storage, trial)


def taken_over(storage: Any, control: Any) -> bool:
    """True (and a warning on ``control``) when another process already ended ``control``'s
    trial as abandoned."""
    stored = storage.get_trial(control.trial._trial_id)
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


def abandon(study: optuna.Study, storage: Any, heartbeat: Any, running: list[Any],
            starting: optuna.Trial | None, reason: str, *, requeue_them: bool) -> None:
    """Fail the trials of ``running`` (their controls, already stopped) and the trial being
    started, if any, with ``reason``; with ``requeue_them``, queue their configurations again."""
    for control in running:
        trial = control.trial
        if trial is starting:
            starting = None
        heartbeat.remove(trial._trial_id)
        control.failed(reason, f"the study was {reason} while this trial ran")
        fail(study, storage, trial, requeue_it=requeue_them)
    if starting is not None:
        heartbeat.remove(starting._trial_id)
        starting.set_user_attr("reason", reason)
        fail(study, storage, starting, requeue_it=requeue_them)


def lost_storage(exc: Exception, study: optuna.Study, storage: Any, heartbeat: Any,
                 running: list[Any]) -> Any:
    """After the database went away: fail and queue again the ``running`` trials where the
    database still answers, and the error that says what happened and how to resume."""
    from autolr.study.storage_retry import StorageUnavailable

    left = []
    for control in running:
        heartbeat.remove(control.trial._trial_id)
        try:
            fail(study, storage, control.trial, requeue_it=True)
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
