"""Every storage backend keeps studies the same way: resume, recovery, plain-Optuna readability.

PostgreSQL runs as the session's throwaway cluster (``postgres_cluster`` in conftest.py), a fresh
database per test; those tests are skipped, with the reason, where the cluster cannot run.
"""

from __future__ import annotations

import socket

import optuna
import pytest
import torch
from optuna.trial import TrialState
from postgres_cluster import PostgresCluster

import autolr
from autolr.study import coordination
from autolr.study import storage as autolr_storage


def _toy() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=6)
    peak = scheduler.base_lrs[0]
    for step in range(6):
        optimizer.step()
        scheduler.step()
        if step % 2 == 1:
            autolr.report(abs(peak - 0.1) + 1 / (step + 1), step=step // 2)


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


def test_postgres_cluster_restarts_with_its_data(postgres_cluster: PostgresCluster, postgres_url):
    """Other tests stop the server mid-study and start it again: the same URL, the same study."""
    import psycopg

    autolr.tune(_toy, n_trials=2, storage=postgres_url, study_name="restart", seed=0)
    port = postgres_cluster.port
    postgres_cluster.stop()
    assert not postgres_cluster.is_running()
    with pytest.raises(psycopg.OperationalError):
        postgres_cluster.connect().close()

    postgres_cluster.start()
    assert postgres_cluster.port == port
    study = optuna.load_study(study_name="restart", storage=postgres_url)
    assert len(_finished(study)) == 2


def test_running_trials_of_live_processes_are_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path}/live.db"
    autolr.tune(_toy, n_trials=1, storage=url, study_name="live", seed=0)
    study = optuna.load_study(study_name="live", storage=url)
    running = study.ask()
    running.set_user_attr("owner", coordination.process_owner())  # this process: alive
    elsewhere = study.ask()
    elsewhere.set_user_attr("owner", "another-host:1:?")  # another machine, recently started
    recovered = coordination.recover_abandoned_trials(study, autolr_storage.open_storage(url))
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
