"""Storage URLs, their defaults, robust SQLite settings and recovery of trials left RUNNING.

A study lives in any SQLAlchemy URL Optuna accepts. SQLite is the default
(``sqlite:///studies/<study>.db`` under the working directory); its folder is created, the file is
checked to be a database before anything touches it, and it runs in WAL mode with a busy timeout
so readers (``autolr show``, reports) never block the study.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from autolr.errors import ConfigError
from autolr.ladder import requeue_attrs

SQLITE_PREFIX = "sqlite:///"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 60
# A RUNNING trial owned by another machine counts as abandoned after this long without a report.
STALE_AFTER_S = 6 * 3600


def default_storage_url(study_name: str, root: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<root>/studies/<study>.db``, root being the working directory by default."""
    folder = Path(root) if root is not None else Path.cwd()
    return f"{SQLITE_PREFIX}{(folder / 'studies' / f'{study_name}.db').as_posix()}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url[len(SQLITE_PREFIX):].split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return Path(path)


def open_storage(url: str | None) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url`` (None: in memory), with every failure explained."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"The 'storage' parameter must be a database URL such as "
            f"'sqlite:///studies/x.db' or 'postgresql://user@host/db'. Got {url!r} instead."
        )
    path = sqlite_path(url)
    engine_kwargs: dict[str, Any] = {}
    if path is not None:
        _prepare_sqlite_file(path)
        engine_kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        engine_kwargs["pool_pre_ping"] = True
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"The storage {url!r} needs a database driver that is not installed ({exc}). "
            "Install it, e.g. `pip install psycopg2-binary` for PostgreSQL."
        ) from exc
    except Exception as exc:  # sqlalchemy/optuna raise many kinds; the message is what matters
        raise ConfigError(
            f"Cannot open the storage {url!r}: {type(exc).__name__}: {_first_line(exc)}. "
            "Check the URL, that the database server is running, and your permissions."
        ) from exc
    if path is not None:
        _tune_sqlite_connections(storage)
    return storage


def _tune_sqlite_connections(storage: optuna.storages.RDBStorage) -> None:
    """WAL with synchronous=NORMAL: each commit stays safe if the process dies, without an fsync
    per write (a trial writes a dozen small records)."""
    from sqlalchemy import event

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def _prepare_sqlite_file(path: Path) -> None:
    """Create the folder, refuse a file that is not SQLite (left untouched), enable WAL."""
    if path.exists():
        if path.is_dir():
            raise ConfigError(
                f"The storage path {str(path)!r} is a folder, not a database file. "
                "Give a file path such as sqlite:///studies/x.db."
            )
        try:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise ConfigError(f"Cannot read the storage file {str(path)!r}: {exc}.") from exc
        if header and header != SQLITE_MAGIC:
            raise ConfigError(
                f"The storage file {str(path)!r} exists but is not a SQLite database; autolr "
                "left it untouched. Give another path with --storage (or storage=...), or move "
                "the file away."
            )
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the folder {str(path.parent)!r} for the study database: "
                f"{exc.strerror or exc}. Choose a writable location with --storage "
                "(or storage=...)."
            ) from exc
        if not os.access(path.parent, os.W_OK):
            raise ConfigError(
                f"The folder {str(path.parent)!r} is not writable, so the study database cannot "
                "be created there. Choose a writable location with --storage (or storage=...)."
            )
    try:
        with sqlite3.connect(path, timeout=BUSY_TIMEOUT_S) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"Cannot open the study database {str(path)!r}: {exc}.") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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


def _owner_alive(owner: str) -> bool | None:
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


def recover_abandoned_trials(
    study: optuna.Study, storage: optuna.storages.BaseStorage
) -> list[int]:
    """Fail the trials left RUNNING by a process that died, and re-enqueue their parameters once.

    A trial is abandoned when the process that ran it (recorded as ``owner``) is gone from this
    machine, or, for another machine, when it has not reported for ``STALE_AFTER_S``. Returns
    the numbers of the trials failed.
    """
    recovered = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get("owner")
        alive = _owner_alive(owner) if isinstance(owner, str) else None
        if alive is None:
            heartbeat = trial.user_attrs.get("heartbeat")
            started = trial.datetime_start.timestamp() if trial.datetime_start else now
            last = heartbeat if isinstance(heartbeat, (int, float)) else started
            if owner is not None and now - last < STALE_AFTER_S:
                continue
        elif alive:
            continue
        storage.set_trial_user_attr(trial._trial_id, "reason", "abandoned")
        storage.set_trial_user_attr(
            trial._trial_id, "error", "the process running this trial stopped without ending it"
        )
        study.tell(trial.number, state=TrialState.FAIL)
        if "requeued_from" not in trial.user_attrs and trial.params:
            study.enqueue_trial(dict(trial.params), user_attrs=requeue_attrs(trial))
        recovered.append(trial.number)
    return recovered
