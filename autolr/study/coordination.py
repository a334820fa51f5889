"""Several processes on one study: who decides, who is alive, whose trials were abandoned.

Any number of ``autolr tune`` processes (on one machine or many) may run one study in one
database. They agree without talking to each other:

* **One decision at a time.** Every decision that reads the study and then changes it (enqueue
  the baselines, start a trial within the budget, promote a configuration, queue confirmation
  runs, place the ladder, widen the LR range, fail an abandoned trial) happens while holding
  the study's :class:`StudyLock`: a PostgreSQL advisory lock (``pg_advisory_lock``, released by
  the server if the process dies) or, for SQLite (one machine), an ``flock`` on the file
  ``<database>.lock`` next to it. The decision re-reads the trials under the lock, so a trial
  started elsewhere counts against the budget before this process starts another.
* **Heartbeats.** While a process runs a trial it records the database server's clock on it
  every :data:`HEARTBEAT_S` seconds (user attribute ``heartbeat``), from a background thread,
  whatever the training script does.
* **Abandoned trials.** A RUNNING trial is abandoned when the process recorded as its ``owner``
  is gone from this machine, or, for another machine, when its heartbeat is older than
  :data:`STALE_AFTER_S` by the server's clock (so machines' clocks need not agree). It is failed
  (reason ``abandoned``) and its configuration queued again once, by whichever process sees it
  first; the others then run it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from autolr.search.ladder import requeue_attrs, requeue_params
from autolr.study.storage import sqlite_path
from autolr.study.storage_retry import RetryingStorage, with_retries

HEARTBEAT_S = 30.0
# A trial of another machine counts as abandoned after this long without a heartbeat (seconds).
STALE_AFTER_S = 300.0
# A trial written before heartbeats existed (or by another tool) counts as abandoned after this.
LEGACY_STALE_S = 6 * 3600.0


# --- who owns a RUNNING trial -------------------------------------------------------------

def process_owner() -> str:
    """``host:pid:start`` naming this process, stored on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this machine; None when it ran elsewhere."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start in ("?", _start_time(pid))


# --- the database server's clock ----------------------------------------------------------

class ServerClock:
    """Seconds since the epoch by the database server's clock (this machine's for SQLite and
    in-memory studies), so that heartbeats from machines whose clocks differ compare."""

    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        self._engine = None
        if isinstance(storage, RetryingStorage) and storage.engine.dialect.name == "postgresql":
            self._engine = storage.engine
        self._offset = 0.0
        self.sync()

    def sync(self) -> None:
        """Measure the server's clock against this machine's (one query; kept when it fails)."""
        if self._engine is None:
            return
        import sqlalchemy

        try:
            with self._engine.connect() as connection:
                server = connection.execute(
                    sqlalchemy.text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
                ).scalar_one()
            self._offset = float(server) - time.time()
        except Exception:  # the server is away: the last offset serves
            pass

    def now(self) -> float:
        return time.time() + self._offset


# --- one decision at a time ---------------------------------------------------------------

class StudyLock:
    """The lock every decision on study ``name`` in ``storage`` is taken under (see the module
    docstring). Re-entrant within a process."""

    def __init__(self, storage: optuna.storages.BaseStorage, url: str | None, name: str) -> None:
        self._local = threading.RLock()
        self._depth = 0
        self._file: Any = None
        self._path: Path | None = None
        self._engine = None
        self._connection: Any = None
        self._storage = storage
        self._key = int.from_bytes(
            hashlib.sha256(f"autolr-study:{name}".encode()).digest()[:8], "big", signed=True
        )
        path = sqlite_path(url) if url else None
        if path is not None:
            self._path = path.with_name(path.name + ".lock")
        elif isinstance(storage, RetryingStorage) and storage.engine.dialect.name == "postgresql":
            import sqlalchemy
            from sqlalchemy.pool import NullPool

            self._engine = sqlalchemy.create_engine(storage.engine.url, poolclass=NullPool)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        if self._path is not None:
            import fcntl

            self._file = open(self._path, "a+b")  # noqa: SIM115 - held until _release
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        elif self._engine is not None:
            assert isinstance(self._storage, RetryingStorage)
            self._connection = with_retries(self._advisory_lock, self._storage.where,
                                            self._storage.retry_s)

    def _advisory_lock(self) -> Any:
        import sqlalchemy

        assert self._engine is not None
        connection = self._engine.connect()
        try:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"),
                               {"key": self._key})
            connection.commit()
        except Exception:
            connection.close()
            raise
        return connection

    def _release(self) -> None:
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            import sqlalchemy

            with contextlib.suppress(Exception):  # a lost connection released it already
                self._connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self._key})
                self._connection.commit()
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


# --- heartbeats ---------------------------------------------------------------------------

class Heartbeat:
    """Records the server's clock on this process's running trials every ``interval`` seconds
    from a daemon thread; a beat that cannot be written (the server is away) is skipped."""

    def __init__(self, storage: optuna.storages.BaseStorage, clock: ServerClock,
                 interval: float = HEARTBEAT_S) -> None:
        self.storage = storage
        self.clock = clock
        self.interval = interval
        self._trials: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """The server's clock now: the value of a beat (seconds since the epoch)."""
        return self.clock.now()

    def add(self, trial_id: int, *, beaten: bool = False) -> None:
        """Beat for ``trial_id`` now (the caller holds the study lock; ``beaten``: the caller
        has just stored the trial's ``heartbeat``, from :meth:`now`) and from now on."""
        if not beaten:
            self.storage.set_trial_user_attr(trial_id, "heartbeat", self.clock.now())
        with self._lock:
            self._trials.add(trial_id)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="autolr-heartbeat",
                                            daemon=True)
            self._thread.start()

    def remove(self, trial_id: int) -> None:
        with self._lock:
            self._trials.discard(trial_id)

    def _run(self) -> None:
        inner = getattr(self.storage, "_inner", self.storage)  # no retrying: the next beat will
        while not self._stop.wait(self.interval):
            self.clock.sync()
            with self._lock:
                trials = list(self._trials)
            for trial_id in trials:
                with contextlib.suppress(Exception):  # finished meanwhile, or the server away
                    inner.set_trial_user_attr(trial_id, "heartbeat", self.clock.now())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# --- abandoned trials ---------------------------------------------------------------------

def abandoned(trial: optuna.trial.FrozenTrial, now: float) -> bool:
    """Whether the RUNNING ``trial`` was left by a process that is gone (see the module
    docstring); ``now`` is the server's clock."""
    owner = trial.user_attrs.get("owner")
    if not isinstance(owner, str):
        return True  # started by something that never claimed it
    alive = owner_alive(owner)
    if alive is not None:
        return not alive
    heartbeat = trial.user_attrs.get("heartbeat")
    if isinstance(heartbeat, (int, float)) and not isinstance(heartbeat, bool):
        return now - heartbeat > STALE_AFTER_S
    started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
    return time.time() - started > LEGACY_STALE_S


def recover_abandoned_trials(
    study: optuna.Study, storage: optuna.storages.BaseStorage, now: float | None = None,
    trials: list[optuna.trial.FrozenTrial] | None = None,
) -> list[int]:
    """Fail the trials left RUNNING by a process that is gone, and queue their parameters
    again once. Call it holding the study lock. Returns the numbers of the trials failed."""
    if now is None:
        now = time.time()
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    recovered = []
    for trial in trials:
        if trial.state != TrialState.RUNNING or not abandoned(trial, now):
            continue
        storage.set_trial_user_attr(trial._trial_id, "reason", "abandoned")
        storage.set_trial_user_attr(
            trial._trial_id, "error", "the process running this trial stopped without ending it"
        )
        study.tell(trial.number, state=TrialState.FAIL)
        params = requeue_params(trial)
        if "requeued_from" not in trial.user_attrs and params:
            study.enqueue_trial(params, user_attrs=requeue_attrs(trial))
        recovered.append(trial.number)
    return recovered


def read_trials(study: optuna.Study, storage: Any,
                clock: ServerClock) -> tuple[list[Any], list[int]]:
    """The study's trials, with those abandoned by a process that is gone failed and queued
    again, and the numbers of those recovered (call it holding the study's lock)."""
    trials = study.get_trials(deepcopy=False)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    recovered = recover_abandoned_trials(study, storage, clock.now(), running) if running else []
    if recovered:
        trials = study.get_trials(deepcopy=False)
    return trials, recovered
