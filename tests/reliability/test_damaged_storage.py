"""Damaged or foreign storage: a clear message, a non-zero exit without a traceback, and the
user's file exactly as it was.

Truncated and corrupt SQLite files, a read-only database (read by ``show``, ``export`` and
``report``; ``tune`` says it cannot write), a database from an older Optuna schema (the message
gives the ``optuna storage upgrade`` command, which then works), a study written by another
Optuna program, and a database another process keeps locked for a while.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import optuna
import pytest

SCRIPT = textwrap.dedent(
    """
    import torch
    import autolr

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=12)
    for i in range(12):
        optimizer.step()
        scheduler.step()
        if i % 3 == 2:
            autolr.report(abs(scheduler.base_lrs[0] - 0.05) + 1 / (i + 1), step=i // 3)
    """
)
READERS = (["show"], ["show", "--json"], ["export", "-o", "-"], ["report", "-o", "r.html"])


def _autolr(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autolr", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def made_study(tmp_path_factory) -> Path:
    """A real study database written by autolr tune (copied by each test that damages it)."""
    folder = tmp_path_factory.mktemp("made")
    (folder / "train.py").write_text(SCRIPT)
    result = _autolr("tune", "train.py", "--trials", "4", "--search", "full", "--confirm", "0",
                     "--seed", "0", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "studies" / "train.db"


def _copy(made_study: Path, tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    target = tmp_path / "db" / "train.db"
    target.parent.mkdir()
    with sqlite3.connect(made_study) as source, sqlite3.connect(target) as copy:
        source.backup(copy)  # the WAL folded in: one self-contained file
    return target


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _every_command(url: str) -> list[list[str]]:
    return [[*reader, "--storage", url, "--study", "train"] for reader in READERS] + [
        ["tune", "train.py", "--storage", url, "--study", "train", "--trials", "6"]
    ]


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_database_is_named_and_left_as_it_is(made_study, tmp_path, tally, damage):
    path = _copy(made_study, tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        for i in range(4096, min(len(data), 6 * 4096)):
            data[i] = (data[i] * 7 + 13) % 256
    path.write_bytes(bytes(data))
    digest = _digest(path)
    for command in _every_command(f"sqlite:///{path}"):
        tally.bad_input()
        result = _autolr(*command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "is damaged" in result.stderr and ".recover" in result.stderr
        assert _digest(path) == digest, f"{command[0]} changed the damaged file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.db"]


def _make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        return
    for target in (path, path.parent):  # root writes through permissions: immutable instead
        done = subprocess.run(["chattr", "+i", str(target)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot make a file read-only for root here (chattr +i refused)")


def _make_writable(path: Path) -> None:
    if os.geteuid() != 0:
        path.parent.chmod(0o755)
        path.chmod(0o644)
        return
    for target in (path.parent, path):
        subprocess.run(["chattr", "-i", str(target)], capture_output=True)


def test_a_read_only_database_is_read_and_tune_says_it_cannot_write(made_study, tmp_path,
                                                                    tally):
    path = _copy(made_study, tmp_path)
    digest = _digest(path)
    url = f"sqlite:///{path}"
    _make_read_only(path)
    try:
        tally.bad_input()
        for command in _every_command(url)[:-1]:
            result = _autolr(*command, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
        assert "<html" in (tmp_path / "r.html").read_text()
        tuned = _autolr(*_every_command(url)[-1], cwd=tmp_path)
        assert tuned.returncode == 1 and "Traceback" not in tuned.stderr
        assert "is read-only here, and autolr tune writes every trial" in tuned.stderr
    finally:
        _make_writable(path)
    assert _digest(path) == digest


def test_an_older_optuna_schema_gets_the_upgrade_command(made_study, tmp_path, tally):
    path = _copy(made_study, tmp_path)
    with sqlite3.connect(path) as connection:  # what an Optuna 3.0 database says of itself
        connection.execute("update alembic_version set version_num = 'v3.0.0.d'")
    url = f"sqlite:///{path}"
    tally.bad_input()
    for command in (_every_command(url)[0], _every_command(url)[-1]):
        result = _autolr(*command, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"optuna storage upgrade --storage {url}" in result.stderr
    optuna_cli = shutil.which("optuna") or pytest.skip("the optuna command is not installed")
    upgraded = subprocess.run([optuna_cli, "storage", "upgrade", "--storage", url],
                              capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    assert _autolr(*_every_command(url)[0], cwd=tmp_path).returncode == 0


def test_a_study_written_by_another_optuna_program(tmp_path, tally):
    """``show`` and ``report`` read it; ``export`` and ``tune`` say what is missing."""
    url = f"sqlite:///{tmp_path}/theirs.db"
    study = optuna.create_study(storage=url, study_name="train", direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 3), n_trials=4)
    (tmp_path / "train.py").write_text(SCRIPT)
    tally.bad_input()
    shown = _autolr("show", "--storage", url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "4 complete" in shown.stdout
    assert _autolr("show", "--json", "--storage", url, cwd=tmp_path).returncode == 0
    reported = _autolr("report", "--storage", url, "-o", "r.html", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    exported = _autolr("export", "--storage", url, "-o", "-", cwd=tmp_path)
    assert exported.returncode == 1 and "Traceback" not in exported.stderr
    assert "not written by autolr tune" in exported.stderr
    tuned = _autolr("tune", "train.py", "--storage", url, "--study", "train", cwd=tmp_path)
    assert tuned.returncode == 1 and "Traceback" not in tuned.stderr
    assert len(optuna.load_study(study_name="train", storage=url).trials) == 4


def test_a_database_locked_for_a_while_by_another_process_is_waited_for(made_study, tmp_path,
                                                                       tally):
    """A second terminal holding the SQLite file locked (a sqlite3 shell mid-transaction):
    autolr waits for it instead of failing with "database is locked"."""
    path = _copy(made_study, tmp_path)
    url = f"sqlite:///{path}"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    release = threading.Timer(4.0, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    tally.fault()
    started = time.monotonic()
    result = _autolr("tune", "train.py", "--storage", url, "--study", "train", "--trials", "6",
                     cwd=tmp_path)
    release.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started >= 3.5 or "database is locked" not in result.stderr
    assert "database is locked" not in result.stdout + result.stderr
    trials = optuna.load_study(study_name="train", storage=url).get_trials()
    assert sum(t.state.is_finished() for t in trials) == 6
    tally.survived()
