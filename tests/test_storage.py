"""Every storage backend keeps studies the same way: resume, recovery, plain-Optuna readability.

PostgreSQL runs as a throwaway cluster of the ``postgres`` user on a Unix socket in a temporary
folder; the test is skipped where the server or the permission to switch users is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

import autolr
from autolr import storage as autolr_storage


def _toy() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=6)
    peak = scheduler.base_lrs[0]
    for step in range(6):
        optimizer.step()
        scheduler.step()
        if step % 2 == 1:
            autolr.report(abs(peak - 0.1) + 1 / (step + 1), step=step // 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not all(shutil.which(tool) for tool in ("initdb", "pg_ctl", "runuser")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) or runuser are not installed")
    if os.geteuid() != 0:
        pytest.skip("starting a throwaway PostgreSQL cluster needs root (to run as 'postgres')")
    pytest.importorskip("psycopg2", reason="psycopg2 is needed for PostgreSQL URLs")
    folder = Path(tempfile.mkdtemp(prefix="autolr-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = _free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, timeout=120)

    as_postgres("initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    as_postgres("pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                f"-k {folder} -p {port} -c listen_addresses=''", "start")
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={folder}&port={port}"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/studies/s.db"
    return request.getfixturevalue("postgres_url")


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_in_memory_study_runs_without_storage():
    result = autolr.tune(_toy, n_trials=4, seed=0)
    assert isinstance(result.study._storage, optuna.storages.InMemoryStorage)
    assert len(_finished(result.study)) == 4


def test_storage_contract(storage_url, request):
    name = f"contract_{request.node.callspec.id}"
    first = autolr.tune(_toy, n_trials=3, storage=storage_url, study_name=name, seed=1)
    before = [(t.number, t.params, t.value) for t in first.study.trials]

    # a trial left RUNNING by a process that is gone
    study = optuna.load_study(study_name=name, storage=storage_url)
    zombie = study.ask()
    zombie.suggest_categorical("family", autolr.families(builtin=True))
    zombie.set_user_attr("owner", f"{socket.gethostname()}:999999999:?")

    resumed = autolr.tune(_toy, n_trials=5, storage=storage_url, study_name=name, seed=1)
    trials = resumed.study.trials
    assert [(t.number, t.params, t.value) for t in trials[:3]] == before
    assert trials[zombie.number].state == TrialState.FAIL
    assert trials[zombie.number].user_attrs["reason"] == "abandoned"
    assert len(_finished(resumed.study)) == 5
    requeued = [t for t in trials if t.user_attrs.get("requeued_from") == zombie.number]
    assert len(requeued) == 1
    assert requeued[0].params["family"] == trials[zombie.number].params["family"]
    assert not [t for t in trials if t.state == TrialState.RUNNING]

    plain = optuna.load_study(study_name=name, storage=storage_url)
    for trial in _finished(plain):
        assert autolr.ScheduleSpec.from_json(trial.user_attrs["spec"]).family
        assert trial.user_attrs["reason"] in ("complete", "pruned", "diverged")


def test_running_trials_of_live_processes_are_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path}/live.db"
    autolr.tune(_toy, n_trials=1, storage=url, study_name="live", seed=0)
    study = optuna.load_study(study_name="live", storage=url)
    running = study.ask()
    running.set_user_attr("owner", autolr_storage.process_owner())  # this process: alive
    elsewhere = study.ask()
    elsewhere.set_user_attr("owner", "another-host:1:?")  # another machine, recently started
    recovered = autolr_storage.recover_abandoned_trials(study, autolr_storage.open_storage(url))
    assert recovered == []


def test_sqlite_files_use_wal_and_their_folder_is_created(tmp_path):
    url = f"sqlite:///{tmp_path}/a/b/c.db"
    autolr_storage.open_storage(url)
    import sqlite3

    with sqlite3.connect(tmp_path / "a" / "b" / "c.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("studies/x.db", "must be a database URL"),
        ("nosuchdb://user@host/db", "Cannot open the storage"),
    ],
)
def test_bad_storage_urls_are_explained(url, message):
    with pytest.raises(autolr.ConfigError, match=message):
        autolr_storage.open_storage(url)


def test_default_storage_is_under_studies(tmp_path):
    url = autolr_storage.default_storage_url("digits", tmp_path)
    assert url == f"sqlite:///{tmp_path.as_posix()}/studies/digits.db"
