"""A throwaway PostgreSQL cluster for the tests: one per session, a fresh database per test.

Why a real server: Optuna's RDB storage behaves differently on PostgreSQL than on SQLite
(concurrent connections, a server that can go away mid-study), and only a real server shows that.
Why this shape:

- The server refuses to run as root, so where we are root every server command runs as the
  ``postgres`` system user through ``runuser -u postgres --``; as ``postgres`` itself it runs
  directly. Everything lives in one temporary folder owned by ``postgres``.
- ``initdb`` is the slow part (about a second), so a cluster is initialised once and each test gets
  its own empty database from :meth:`PostgresCluster.create_database` instead.
- It listens on TCP at 127.0.0.1 only (nothing outside the machine can reach it), with its Unix
  socket inside the temporary folder so it never clashes with a system server's socket.
- Durability is traded for speed (``fsync=off``): the data only has to survive a server stop, not
  a machine crash. Commits stay synchronous, so an immediate stop loses no committed transaction.
- :meth:`PostgresCluster.stop` is an immediate (crash-like) stop by default, so a test can pull the
  server away mid-study; :meth:`PostgresCluster.start` brings it back on the same port with the
  same data, so the same URLs work again.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import psycopg

SERVER_USER = "postgres"
HOST = "127.0.0.1"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
COMMAND_TIMEOUT_S = 120
# Settings for a fast, private test server; written to a file the data folder's config includes.
SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "'16MB'",
    "max_connections": "100",
    "max_wal_size": "'256MB'",
    "log_min_messages": "warning",
}
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_counter = itertools.count()


class PostgresUnavailable(RuntimeError):
    """The cluster cannot be created here; the message says why (the tests skip with it)."""


def unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot run on this machine, or None when it can.

    Checked before anything is created so that the tests skip with a reason instead of failing.
    """
    missing = [tool for tool in SERVER_BINARIES if shutil.which(tool) is None]
    if missing:
        return f"PostgreSQL server binaries are not on PATH: {', '.join(missing)}"
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        return f"there is no {SERVER_USER!r} system user to run the PostgreSQL server as"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return f"runuser is not installed (needed to run the server as {SERVER_USER!r})"
    elif pwd.getpwuid(os.geteuid()).pw_name != SERVER_USER:
        return (f"the PostgreSQL server refuses root and must run as {SERVER_USER!r}: "
                f"we are neither root (to switch to it) nor {SERVER_USER!r}")
    try:
        import psycopg  # noqa: F401  (psycopg 3; psycopg2 is a different package)
    except ImportError as exc:
        return f"the PostgreSQL driver psycopg (version 3) is not importable: {exc}"
    return None


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1.

    Created (``initdb``) and started by the constructor; :meth:`remove` stops it and deletes the
    folder. Usable as a context manager, which calls :meth:`remove` on exit.
    """

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise PostgresUnavailable(reason)
        self._as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="autolr-pg-"))
        self.data_dir = self.folder / "data"
        self.socket_dir = self.folder / "socket"
        self.log_file = self.folder / "server.log"
        self.port = 0
        try:
            self.socket_dir.mkdir()
            if self._as_root:
                shutil.chown(self.folder, SERVER_USER, SERVER_USER)
                shutil.chown(self.socket_dir, SERVER_USER, SERVER_USER)
            self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SERVER_USER,
                      "-E", "UTF8", "--locale=C", "--no-sync")
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude 'autolr_test.conf'\n")
            self._start_on_a_free_port()
        except BaseException:
            self.remove()
            raise

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (a no-op when it runs), on the same port and data as before.

        Waits (``pg_ctl -w``) until it accepts connections. After an immediate stop the server
        first replays its write-ahead log, which takes a fraction of a second here.
        """
        if self.is_running():
            return
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                           "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start on {HOST}:{self.port} (pg_ctl exit status "
                f"{result.returncode}): {result.stdout}{result.stderr}\n"
                f"server log:\n{self.log_tail()}"
            )

    def stop(self, mode: Literal["immediate", "fast", "smart"] = "immediate") -> None:
        """Stop the server (a no-op when it is not running), by default the way a crash would.

        ``immediate`` kills it without a shutdown checkpoint and ``fast`` disconnects the clients
        and shuts down cleanly; both cut off the connections of a running study at once. Committed
        data survives either, so :meth:`start` brings back the same databases.
        """
        if not self.is_running():
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        """Whether the server process is up (``pg_ctl status``)."""
        if not self.data_dir.exists():
            return False
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def remove(self) -> None:
        """Stop the server and delete the folder with every database in it; safe to call twice."""
        if self.data_dir.exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop",
                      check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.remove()

    # -- databases ----------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database``, for the psycopg (3) driver."""
        return f"postgresql+psycopg://{SERVER_USER}@{HOST}:{self.port}/{database}"

    def connect(self, database: str = "postgres", *,
                autocommit: bool = False) -> psycopg.Connection:
        """A direct psycopg connection to ``database``, for checks below Optuna's level."""
        import psycopg

        return psycopg.connect(host=HOST, port=self.port, user=SERVER_USER, dbname=database,
                               autocommit=autocommit, connect_timeout=10)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (by default with a name no other call gets); its URL.

        Each test gets its own database so that studies of one test never meet another's, without
        paying for a new cluster.
        """
        from psycopg import sql

        if name is None:
            name = f"test_{next(_counter)}_{uuid.uuid4().hex[:8]}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"database names here are lower-case identifiers, not {name!r}")
        # CREATE DATABASE cannot run inside a transaction, hence autocommit.
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    # -- helpers ------------------------------------------------------------------------------

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _start_on_a_free_port(self, attempts: int = 3) -> None:
        """Pick a free port and start there; another port if one was taken in the meantime."""
        for attempt in range(attempts):
            self.port = free_port()
            self._write_settings()
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == attempts - 1 or "could not bind" not in self.log_tail():
                    raise

    def _write_settings(self) -> None:
        """(Re)write the included settings file: the port, the socket folder and SETTINGS."""
        settings = {**SETTINGS, "port": str(self.port),
                    "unix_socket_directories": f"'{self.socket_dir}'"}
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (self.data_dir / "autolr_test.conf").write_text(text)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server command as the ``postgres`` user (through runuser when we are root).

        It runs in the cluster's folder: the server user may not be allowed into our working
        directory. With ``check``, a failure raises with the command's output.
        """
        command = ["runuser", "-u", SERVER_USER, "--", *args] if self._as_root else list(args)
        result = subprocess.run(command, cwd=self.folder, capture_output=True, text=True,
                                timeout=COMMAND_TIMEOUT_S, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed with exit status {result.returncode}:"
                               f"\n{result.stdout}{result.stderr}")
        return result
