"""A study's storage that rides out a database server going away for a while.

Every call Optuna (and autolr) makes on a study's storage goes through :class:`RetryingStorage`:
a call that fails because the connection to the server is lost (the server restarted, a network
blip, a failover) is tried again with backoff (1, 2, 4 ... 15 s between tries) for up to
``retry_s`` seconds (default :data:`DEFAULT_RETRY_S`; ``AUTOLR_STORAGE_RETRY_S`` sets it, up to
:data:`MAX_RETRY_S`).
When the server is still gone after that, :class:`StorageUnavailable` says where the server was
and since when; the study stops cleanly and resumes with the same command once it is back. Any
other error (a bad value, a finished trial) is raised at once, as Optuna raises it.

Optuna reads a study through a cache in front of its database storage (it keeps finished trials
and reads only new or running ones); :func:`cached` is the one place that asks Optuna for it.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.storages import BaseStorage

from autolr.errors import AutolrError

DEFAULT_RETRY_S = 120.0
# At most this long: a process that waits longer could find its running trials failed as
# abandoned by another machine (after autolr.study.coordination.STALE_AFTER_S without a heartbeat).
MAX_RETRY_S = 240.0
RETRY_ENV = "AUTOLR_STORAGE_RETRY_S"
MAX_PAUSE_S = 15.0


class StorageUnavailable(AutolrError):
    """The study's database could not be reached, even after retrying."""


def retry_seconds() -> float:
    """How long a lost connection is retried (seconds): ``AUTOLR_STORAGE_RETRY_S`` or 120, at
    most 240."""
    text = os.environ.get(RETRY_ENV)
    if text is None:
        return DEFAULT_RETRY_S
    try:
        value = float(text)
    except ValueError:
        raise StorageUnavailable(
            f"{RETRY_ENV} must be a number of seconds, such as 120. Got {text!r}."
        ) from None
    return min(max(0.0, value), MAX_RETRY_S)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _sqlite_error(exc: BaseException) -> str | None:
    """The message of the SQLite error underneath ``exc``, if there is one."""
    import sqlite3

    for item in _chain(exc):
        for error in (item, getattr(item, "orig", None)):  # SQLAlchemy keeps the driver's
            if isinstance(error, sqlite3.Error):
                return str(error)
    return None


def is_sqlite_locked(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is SQLite's "database is locked": another
    connection holds the file for now."""
    message = _sqlite_error(exc)
    return message is not None and "locked" in message


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a lost or refused database connection, or a
    SQLite database locked by another process: something that passes, as opposed to a refused
    statement or a damaged file."""
    from sqlalchemy import exc as sa_exc

    sqlite_message = _sqlite_error(exc)
    if sqlite_message is not None:
        return "locked" in sqlite_message
    for current in _chain(exc):
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        module = type(current).__module__ or ""
        if module.startswith(("psycopg", "psycopg2")) and type(current).__name__ in (
            "OperationalError", "InterfaceError"
        ):
            return True
    return False


def explained(exc: BaseException, where: str) -> AutolrError | None:
    """What a user should read for a database error that retrying cannot help (a read-only
    or damaged SQLite file), or None to let ``exc`` through as it is."""
    message = _sqlite_error(exc)
    if message is None:
        return None
    if "readonly" in message or "read-only" in message:
        return StorageUnavailable(
            f"The study's database {where} is read-only ({message}), and this command writes "
            "to it. Make the file and its folder writable, or copy it somewhere writable and "
            "pass --storage sqlite:///COPY."
        )
    if "malformed" in message or "not a database" in message:
        return StorageUnavailable(
            f"The study's database {where} is damaged ({message}); autolr left it as it is. "
            "Restore it from a backup, or save what is readable with sqlite3 FILE '.recover'."
        )
    return None


def with_retries(
    call: Callable[[], Any], where: str, retry_s: float, *,
    pause: Callable[[float], None] = time.sleep,
) -> Any:
    """``call()``, tried again with backoff while it fails for a lost connection."""
    waited = 0.0  # seconds paused so far (the calls themselves fail fast, or time out)
    delay = 1.0
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_connection_error(exc):
                explanation = explained(exc, where)
                if explanation is not None:
                    raise explanation from exc
                raise
            if waited + delay > retry_s:
                if _sqlite_error(exc) is not None:
                    raise StorageUnavailable(
                        f"The study's database {where} stayed locked by another process for "
                        f"{retry_s:g} s ({root_line(exc)}). Is something holding it open (a "
                        "sqlite3 shell in a transaction, a backup)? Close it and run the "
                        "command again."
                    ) from exc
                raise StorageUnavailable(
                    f"Lost the connection to the study's database {where} and it did not come "
                    f"back within {retry_s:g} s ({type(exc).__name__}: {root_line(exc)})."
                ) from exc
            pause(delay)
            waited += delay
            delay = min(delay * 2, MAX_PAUSE_S)


def root_line(exc: BaseException) -> str:
    """The first line of what went wrong underneath (the driver's words, not a wrapper's)."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = str(root).strip().splitlines()
    return text[0] if text else type(root).__name__


def cached(storage: optuna.storages.RDBStorage) -> BaseStorage:
    """Optuna's read cache in front of ``storage`` (what ``optuna.create_study`` would use)."""
    return optuna.storages.get_storage(storage)


def _write_user_attrs(rdb: optuna.storages.RDBStorage, trial_id: int,
                      attrs: Mapping[str, Any]) -> None:
    """``attrs`` on a running trial in one database transaction: one commit where Optuna's public
    ``set_trial_user_attr`` commits each (in SQLite, about 0.7 ms a commit: the nine attributes
    a trial ends with took 7 ms one by one, 0.4 ms together). It uses Optuna's database storage
    internals (its session helper and its per-attribute upsert), checked by a test."""
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(rdb.scoped_session, True) as session:
        for key, value in attrs.items():
            rdb._set_trial_attr_without_commit(
                session, models.TrialUserAttributeModel, trial_id, key, value
            )


def batched_writes_available(storage: BaseStorage) -> bool:
    """Whether :func:`set_user_attrs` writes in one transaction on ``storage`` (an autolr-opened
    database whose Optuna still has the internals it uses)."""
    if not isinstance(storage, RetryingStorage):
        return False
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:
        return False
    return (callable(_create_scoped_session)
            and hasattr(models, "TrialUserAttributeModel")
            and callable(getattr(storage.rdb, "_set_trial_attr_without_commit", None))
            and type(storage._inner).__name__ == "_CachedStorage")  # which keeps no user attrs


def set_user_attrs(trial: optuna.Trial, attrs: Mapping[str, Any]) -> None:
    """Set several user attributes of a running trial, as ``trial.set_user_attr`` does for each,
    in one transaction where the storage allows (:func:`batched_writes_available`), retried as
    one call on a lost connection (the writes are upserts: a retry repeats them harmlessly)."""
    if not attrs:
        return
    storage = trial.storage
    if not batched_writes_available(storage):
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    assert isinstance(storage, RetryingStorage)
    attrs = dict(attrs)
    for value in attrs.values():  # what Optuna's own call would refuse, refused before writing
        json.dumps(value)
    with_retries(lambda: _write_user_attrs(storage.rdb, trial._trial_id, attrs), storage.where,
                 storage.retry_s)
    trial._cached_frozen_trial.user_attrs.update(attrs)  # as trial.set_user_attr keeps it


class RetryingStorage(BaseStorage):
    """``inner`` with every call retried while the database connection is lost (see the module
    docstring). ``where`` names the server in messages (host and port, never a password)."""

    def __init__(self, inner: BaseStorage, rdb: optuna.storages.RDBStorage, where: str,
                 retry_s: float | None = None) -> None:
        self._inner = inner
        self.rdb = rdb  # the database storage itself: its engine, its URL
        self.where = where
        self.retry_s = retry_seconds() if retry_s is None else retry_s

    @property
    def engine(self) -> Any:
        return self.rdb.engine

    def __getattr__(self, name: str) -> Any:  # what Optuna's cache adds beyond BaseStorage
        if name.startswith("__") or name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        method = getattr(self._inner, name)
        return with_retries(lambda: method(*args, **kwargs), self.where, self.retry_s)


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: RetryingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = f"``{name}`` of the wrapped storage, retried on a lost connection."
    return method


for _name, _ in inspect.getmembers(BaseStorage, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(RetryingStorage, _name, _delegate(_name))
RetryingStorage.__abstractmethods__ = frozenset()
