"""Storage URLs, their defaults, drivers, robust SQLite settings and clear connection errors.

A study lives in any SQLAlchemy URL Optuna accepts, PostgreSQL for several machines. SQLite is
the default (``sqlite:///studies/<study>.db`` under the working directory); its folder is
created, the file is checked to be a database before anything touches it, and it runs in WAL mode
with a busy timeout so readers (``autolr show``, reports) never block the study.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from autolr.errors import ConfigError
from autolr.study.storage_retry import (
    RetryingStorage,
    cached,
    is_connection_error,
    is_sqlite_locked,
    root_line,
)

SQLITE_PREFIX = "sqlite:///"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 60
# Opening a SQLite file several processes open at once: SQLite answers "database is locked"
# at once, without waiting out the busy timeout, where waiting could deadlock (two
# connections upgrading their locks together). The open is tried again, pausing from
# OPEN_FIRST_PAUSE_S up to OPEN_MAX_PAUSE_S, for BUSY_TIMEOUT_S of pauses in all.
OPEN_FIRST_PAUSE_S = 0.05
OPEN_MAX_PAUSE_S = 2.0
# pg_advisory_lock key held while Optuna creates its tables in a new PostgreSQL database
SCHEMA_LOCK_KEY = 0x6175746F6C72  # "autolr"
SCHEMA_ATTEMPTS = 5


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


def open_storage(url: str | None, *, write: bool = False) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url`` (None: in memory), with every failure explained.

    A database storage comes back as a :class:`~autolr.study.storage_retry.RetryingStorage`: calls
    that lose the connection are retried for a while. Several processes may open one new
    PostgreSQL database at the same moment: the first creates Optuna's tables while the others
    wait for it (a lock of the server's), so none of them fails on the half-made schema.
    """
    if url is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"The 'storage' parameter must be a database URL such as "
            f"'sqlite:///studies/x.db' or 'postgresql+psycopg://user@host/db'. Got {url!r} "
            "instead."
        )
    path = sqlite_path(url)
    if path is not None:
        return _while_locked(lambda: _open_sqlite(url, path, write=write), path)
    url = with_driver(url)
    return _open_database(url, {"pool_pre_ping": True}, None)


def _open_sqlite(url: str, path: Path, *, write: bool) -> RetryingStorage:
    """The storage for a SQLite file, prepared (WAL), or read as an immutable file when this
    process cannot write it."""
    writable = _prepare_sqlite_file(path)
    if not writable and write:
        raise ConfigError(
            f"The study database {str(path)!r} is read-only here, and autolr tune writes "
            "every trial to it. Make it (and its folder) writable, or copy it somewhere "
            "writable and pass --storage sqlite:///COPY. autolr show, export and report "
            "read it as it is."
        )
    if not writable:  # nobody can write it: read it as an immutable file
        url = f"sqlite:///file:{path.as_posix()}?mode=ro&immutable=1&uri=true"
    storage = _open_database(url, {"connect_args": {"timeout": BUSY_TIMEOUT_S}}, path)
    if writable:
        _tune_sqlite_connections(storage.rdb)
    return storage


def _while_locked(open_once: Callable[[], RetryingStorage], path: Path) -> RetryingStorage:
    """``open_once()``, tried again while the SQLite file at ``path`` is locked by another
    process opening it (see OPEN_FIRST_PAUSE_S)."""
    waited = 0.0  # seconds paused so far
    delay = OPEN_FIRST_PAUSE_S
    while True:
        try:
            return open_once()
        except Exception as exc:
            if not is_sqlite_locked(exc):
                if isinstance(exc, ConfigError):
                    raise
                raise damaged_sqlite(path, exc) from exc
            if waited >= BUSY_TIMEOUT_S:
                raise ConfigError(
                    f"The study database {str(path)!r} stayed locked by another process for "
                    f"{BUSY_TIMEOUT_S:g} s ({root_line(exc)}). Is something holding it open (a "
                    "sqlite3 shell in a transaction, a backup)? Close it and run the command "
                    "again."
                ) from exc
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, OPEN_MAX_PAUSE_S)


def _open_database(url: str, engine_kwargs: dict[str, Any],
                   path: Path | None) -> RetryingStorage:
    """Optuna's storage for ``url``, every failure but a locked SQLite file explained (that
    one is left to :func:`_while_locked`)."""
    where = server_of(url)
    try:
        rdb = _create_rdb(url, engine_kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"The storage {display_url(url)!r} needs a database driver that is not installed "
            f"({exc}). For PostgreSQL: pip install 'autolr[postgres]' (psycopg 3)."
        ) from exc
    except Exception as exc:  # sqlalchemy/optuna raise many kinds; the message is what matters
        reason = root_line(exc)
        if "optuna storage upgrade" in reason:
            raise ConfigError(
                f"The study database {where} was written by an older Optuna, whose tables this "
                f"Optuna ({optuna.__version__}) cannot use as they are. Upgrade them once (back "
                f"the database up first):\n  optuna storage upgrade --storage "
                f"{shlex.quote(display_url(url))}"
            ) from exc
        if path is not None:
            if is_sqlite_locked(exc):
                raise
            raise damaged_sqlite(path, exc) from exc
        if is_connection_error(exc) and "does not exist" in reason and "database" in reason:
            missing = reason.split("FATAL:")[-1].strip()
            raise ConfigError(
                f"The database server {where.removeprefix('at ')} answers, but {missing}. "
                "Create the database first (PostgreSQL: createdb NAME), or fix its name in "
                "--storage."
            ) from exc
        if is_connection_error(exc):
            raise ConfigError(
                f"Cannot connect to the database server {where}: {root_line(exc)}. Start the "
                "server (README, 'Several machines'), or fix the host, port, user or password "
                "in --storage."
            ) from exc
        raise ConfigError(
            f"Cannot open the storage {display_url(url)!r}: {type(exc).__name__}: "
            f"{root_line(exc)}. Check the URL, the database name and your permissions."
        ) from exc
    return RetryingStorage(cached(rdb), rdb, where)


def with_driver(url: str) -> str:
    """A ``postgresql://`` URL with the PostgreSQL driver that is installed: SQLAlchemy's
    default (psycopg2) when present, else psycopg 3 (``autolr[postgres]``)."""
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql://{rest}"
    if importlib.util.find_spec("psycopg") is not None:
        return f"postgresql+psycopg{sep}{rest}"
    raise ConfigError(
        f"The storage {display_url(url)!r} is a PostgreSQL database, but no PostgreSQL driver "
        "is installed. Install one: pip install 'autolr[postgres]' (psycopg 3)."
    )


def display_url(url: str | None) -> str:
    """``url`` with any password replaced by ``***``, for messages and summaries."""
    if url is None:
        return "memory"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: shown as given, minus user info
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def server_of(url: str) -> str:
    """Where a storage lives, in words: ``the SQLite file X`` or ``at HOST:PORT (database
    DB)``, for messages (never with a password)."""
    path = sqlite_path(url)
    if path is not None:
        return f"(the SQLite file {str(path)!r})"
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return display_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    default_port = {"postgresql": 5432, "mysql": 3306}.get(parsed.get_backend_name())
    port = parsed.port or parsed.query.get("port") or default_port
    place = f"{host}:{port}" if port else str(host)
    return f"at {place} (database {parsed.database!r})" if parsed.database else f"at {place}"


def _create_rdb(url: str, engine_kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    """Optuna's database storage, its tables created by one process at a time."""
    from sqlalchemy import exc as sa_exc

    if url.startswith(("postgresql", "postgres")):
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                key = {"key": SCHEMA_LOCK_KEY}
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), key)
                try:
                    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
        finally:
            engine.dispose()
    for attempt in range(SCHEMA_ATTEMPTS):  # other databases: another process won the race
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError) as exc:
            # another process created a table or a row first ("already exists", a unique key)
            lost_race = not isinstance(exc, sa_exc.OperationalError) or "already exists" in str(
                exc
            )
            if not lost_race or attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


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


def _prepare_sqlite_file(path: Path) -> bool:
    """Create the folder, refuse a file that is not SQLite or is damaged (left untouched),
    enable WAL. Returns False for a database this process may read but not write."""
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
    if path.exists() and not _writable(path):
        return False
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                # A file autolr did not write: check it before changing its journal mode (a
                # damaged file must be left exactly as it is).
                check = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed ({check})")
                connection.execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc):
            raise  # another process is opening it too: tried again by _while_locked
        raise damaged_sqlite(path, exc) from exc
    return True


def _writable(path: Path) -> bool:
    """Whether this process may write the database file and create files beside it (SQLite's
    journal), tried rather than inferred from permissions (root, immutable files)."""
    try:
        with path.open("r+b"):
            pass
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError:
        return False
    return True


def damaged_sqlite(path: Path, exc: BaseException) -> ConfigError:
    """The message for a SQLite file that cannot be read as a database."""
    reason = root_line(exc)
    if "malformed" in reason or "not a database" in reason:
        return ConfigError(
            f"The study database {str(path)!r} is damaged ({reason}); autolr left it as it is. "
            f"Restore it from a backup, or save what is readable with: sqlite3 {str(path)!r} "
            "'.recover' > recovered.sql (then sqlite3 new.db < recovered.sql and "
            "--storage sqlite:///new.db)."
        )
    return ConfigError(f"Cannot open the study database {str(path)!r}: {reason}.")


