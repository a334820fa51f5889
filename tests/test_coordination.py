"""The pieces several processes on one study rely on: the study lock, heartbeats, abandoned
trials, retrying a lost database connection, and the one private Optuna API autolr uses."""

from __future__ import annotations

import socket
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import exc as sa_exc

from autolr.errors import ConfigError
from autolr.study import coordination, storage_retry
from autolr.study.storage import display_url, open_storage, server_of, with_driver
from autolr.study.storage_retry import RetryingStorage, StorageUnavailable, with_retries


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/c.db"
    return request.getfixturevalue("postgres_url")


# --- the study lock ---------------------------------------------------------------------------

def test_the_study_lock_holds_off_other_holders(url):
    """Two holders (two processes' locks; here two objects, each with its own file or
    connection) never hold one study's lock at once; another study's lock is independent."""
    storage = open_storage(url)
    first = coordination.StudyLock(storage, url, "s")
    second = coordination.StudyLock(open_storage(url), url, "s")
    other = coordination.StudyLock(open_storage(url), url, "t")
    got = threading.Event()

    def take() -> None:
        with second.held():
            got.set()

    with first.held():
        with first.held():  # re-entrant within a process
            pass
        thread = threading.Thread(target=take)
        thread.start()
        time.sleep(0.5)
        assert not got.is_set(), "the second holder got the lock while the first held it"
        if url.startswith("postgresql"):
            with other.held():  # another study: not blocked
                pass
    thread.join(timeout=10)
    assert got.is_set()
    for lock in (first, second, other):
        lock.close()


# --- abandoned trials -------------------------------------------------------------------------

def _running(study: optuna.Study, **attrs) -> optuna.Trial:
    trial = study.ask()
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return trial


def test_trials_of_gone_processes_are_failed_and_queued_again_once(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    storage = open_storage(url)
    study = optuna.create_study(storage=storage, study_name="a")
    now = 1_000_000.0
    here = socket.gethostname()
    alive = _running(study, owner=coordination.process_owner())
    dead_here = _running(study, owner=f"{here}:{2**22 + 12345}:1")
    fresh_elsewhere = _running(study, owner="node-7:42:1", heartbeat=now - 10)
    stale_elsewhere = _running(study, owner="node-7:43:1",
                               heartbeat=now - coordination.STALE_AFTER_S - 1)
    unclaimed = _running(study)
    for trial in (dead_here, stale_elsewhere):
        trial.suggest_float("x", 0, 1)
    recovered = coordination.recover_abandoned_trials(study, storage, now)
    assert sorted(recovered) == sorted([dead_here.number, stale_elsewhere.number,
                                        unclaimed.number])
    states = {t.number: t.state for t in study.get_trials()}
    assert states[alive.number] == states[fresh_elsewhere.number] == TrialState.RUNNING
    waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert sorted(t.user_attrs["requeued_from"] for t in waiting) == sorted(
        [dead_here.number, stale_elsewhere.number])
    again = study.ask()  # a requeued run that is abandoned too is not queued a second time
    again.set_user_attr("owner", f"{here}:{2**22 + 12346}:1")
    coordination.recover_abandoned_trials(study, storage, now)
    assert len([t for t in study.get_trials() if t.state == TrialState.WAITING]) == 1


def test_a_queued_run_abandoned_before_its_first_parameter_is_queued_again_whole(tmp_path):
    """A baseline (or a promotion, a confirmation) whose process died right after it started:
    nothing was sampled yet, and it is still queued again with the configuration it was
    queued with."""
    storage = open_storage(f"sqlite:///{tmp_path}/a.db")
    study = optuna.create_study(storage=storage, study_name="a")
    baseline = {"family": "cosine", "lr_scale": 1.0, "warmup_frac": 0.0}
    study.enqueue_trial(baseline, user_attrs={"baseline": "cosine"})
    started = study.ask()
    started.set_user_attr("owner", f"{socket.gethostname()}:{2**22 + 12345}:1")  # gone
    assert started.params == {}
    assert coordination.recover_abandoned_trials(study, storage) == [started.number]
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1
    assert waiting[0].system_attrs["fixed_params"] == baseline
    assert waiting[0].user_attrs == {"baseline": "cosine", "requeued_from": started.number}


def test_heartbeats_are_written_while_a_trial_runs(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path}/h.db")
    study = optuna.create_study(storage=storage, study_name="h")
    trial = study.ask()
    beat = coordination.Heartbeat(storage, coordination.ServerClock(storage), interval=0.05)
    beat.add(trial._trial_id)
    first = storage.get_trial(trial._trial_id).user_attrs["heartbeat"]
    deadline = time.monotonic() + 10  # a loaded machine may run the thread late
    while time.monotonic() < deadline:
        time.sleep(0.1)
        later = storage.get_trial(trial._trial_id).user_attrs["heartbeat"]
        if later > first:
            break
    assert later > first
    beat.remove(trial._trial_id)
    beat.stop()


def test_the_server_clock_is_postgresql_s(postgres_url):
    clock = coordination.ServerClock(open_storage(postgres_url))
    assert abs(clock.now() - time.time()) < 5  # the same machine here


# --- a lost connection ------------------------------------------------------------------------

def _lost() -> Exception:
    return sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def test_a_lost_connection_is_retried_with_backoff_then_named():
    pauses: list[float] = []
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise _lost()
        return "ok"

    assert with_retries(flaky, "at db:5432", 60, pause=pauses.append) == "ok"
    assert pauses == [1.0, 2.0]

    def gone() -> None:
        raise optuna.exceptions.StorageInternalError("commit failed") from _lost()

    pauses.clear()
    with pytest.raises(StorageUnavailable, match="at db:5432 and it did not come back within "
                                                 "20 s"):
        with_retries(gone, "at db:5432", 20, pause=pauses.append)
    assert sum(pauses) <= 20 and pauses[-1] <= storage_retry.MAX_PAUSE_S

    def refused_statement() -> None:
        raise ValueError("not a connection problem")

    with pytest.raises(ValueError):
        with_retries(refused_statement, "at db:5432", 60, pause=pauses.append)


def _locked() -> sa_exc.OperationalError:
    import sqlite3

    driver = sqlite3.OperationalError("database is locked")
    try:  # raised as SQLAlchemy raises it: the driver's error as its cause
        raise sa_exc.OperationalError("PRAGMA", {}, driver) from driver
    except sa_exc.OperationalError as exc:
        return exc


def test_a_sqlite_file_locked_while_another_process_opens_it_is_opened(tmp_path, monkeypatch):
    """Two ``autolr tune`` started together on a new SQLite file: SQLite may answer "database
    is locked" at once (it does not wait where waiting could deadlock); the open is tried
    again instead of failing the command."""
    calls = {"n": 0}

    class Contended(optuna.storages.RDBStorage):
        def __init__(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] <= 2:
                raise _locked()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", Contended)
    storage = open_storage(f"sqlite:///{tmp_path}/new.db", write=True)
    optuna.create_study(study_name="s", storage=storage).optimize(lambda t: 1.0, n_trials=1)
    assert calls["n"] == 3
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 1


def test_a_sqlite_file_that_stays_locked_on_open_is_named(tmp_path, monkeypatch):
    import autolr.study.storage as autolr_storage

    class Locked(optuna.storages.RDBStorage):
        def __init__(self, *args, **kwargs):
            raise _locked()

    monkeypatch.setattr(optuna.storages, "RDBStorage", Locked)
    monkeypatch.setattr(autolr_storage, "BUSY_TIMEOUT_S", 0.3)
    with pytest.raises(ConfigError, match=r"new.db' stayed locked by another process for 0.3 s "
                                          r"\(database is locked\)\. Is something holding it"):
        open_storage(f"sqlite:///{tmp_path}/new.db", write=True)


def test_the_retry_window_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(storage_retry.RETRY_ENV, "7")
    assert storage_retry.retry_seconds() == 7
    monkeypatch.setenv(storage_retry.RETRY_ENV, "100000")
    assert storage_retry.retry_seconds() == storage_retry.MAX_RETRY_S
    monkeypatch.setenv(storage_retry.RETRY_ENV, "soon")
    with pytest.raises(StorageUnavailable, match="must be a number of seconds"):
        storage_retry.retry_seconds()


def test_optuna_read_cache_is_kept_in_front_of_the_database(tmp_path):
    """The one private Optuna API autolr relies on: ``optuna.storages.get_storage`` putting its
    read cache in front of an RDBStorage. This fails loudly when Optuna changes it."""
    storage = open_storage(f"sqlite:///{tmp_path}/p.db")
    assert isinstance(storage, RetryingStorage)
    assert type(storage._inner).__name__ == "_CachedStorage"
    assert storage._inner is not storage.rdb
    study = optuna.create_study(storage=storage, study_name="p")
    assert study._storage is storage  # not wrapped again: every call is retried
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert len(optuna.load_study(study_name="p", storage=storage).trials) == 3


def test_several_trial_attributes_are_written_in_one_transaction(tmp_path):
    """Optuna's database internals behind ``storage_retry.set_user_attrs`` (its session helper,
    its per-attribute upsert): this fails loudly when Optuna changes them."""
    import sqlalchemy

    storage = open_storage(f"sqlite:///{tmp_path}/a.db", write=True)
    assert storage_retry.batched_writes_available(storage)
    study = optuna.create_study(storage=storage, study_name="a")
    trial = study.ask()
    commits: list[int] = []
    sqlalchemy.event.listen(storage.rdb.engine, "commit", lambda conn: commits.append(1))
    attrs = {"reason": "complete", "steps": 30, "lr_curve": [0.1, 0.05], "spec": {"lr": 0.1}}
    storage_retry.set_user_attrs(trial, attrs)
    assert len(commits) == 1
    assert trial.user_attrs == attrs
    assert study.trials[0].user_attrs == attrs  # through Optuna's read cache
    storage_retry.set_user_attrs(trial, {"steps": 31})  # an upsert, as set_user_attr does
    assert optuna.load_study(study_name="a", storage=open_storage(
        f"sqlite:///{tmp_path}/a.db")).trials[0].user_attrs == {**attrs, "steps": 31}
    with pytest.raises(TypeError):  # refused before anything is written
        storage_retry.set_user_attrs(trial, {"fine": 1, "bad": object()})
    assert "fine" not in study.trials[0].user_attrs
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage_retry.set_user_attrs(trial, {"late": 1})


# --- URLs ---------------------------------------------------------------------------------------

def test_postgresql_urls_get_the_installed_driver(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    installed: set[str] = {"psycopg"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real("os") if name in installed else None)
    assert with_driver("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert with_driver("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    installed.add("psycopg2")
    assert with_driver("postgresql://u@h/db") == "postgresql://u@h/db"
    assert with_driver("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    installed.clear()
    with pytest.raises(ConfigError, match=r"pip install 'autolr\[postgres\]'"):
        with_driver("postgresql://u@h/db")


def test_urls_in_messages_never_show_a_password():
    url = "postgresql+psycopg://ana:hunter2@db.lab:6543/studies"
    assert "hunter2" not in display_url(url)
    assert server_of(url) == "at db.lab:6543 (database 'studies')"
    assert server_of("postgresql+psycopg://ana@/studies?host=/run/pg") == \
        "at /run/pg:5432 (database 'studies')"


def test_a_missing_database_is_told_apart_from_a_missing_server(postgres_url):
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(ConfigError, match="answers, but database \"no_such_database\" does not "
                                          "exist"):
        open_storage(missing)


def test_many_processes_creating_one_new_postgresql_database_at_once(postgres_url):
    """The first creates Optuna's tables, the others wait for it (none fails on the half-made
    schema, as Optuna alone does)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_open_and_create, [postgres_url] * 4)
    assert results == ["ok"] * 4


def _open_and_create(url: str) -> str:
    storage = open_storage(url)
    optuna.create_study(storage=storage, study_name="race", load_if_exists=True)
    return "ok"


def test_a_server_that_is_not_running_is_named_with_its_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConfigError, match=f"Cannot connect to the database server at "
                                          f"127.0.0.1:{port}"):
        open_storage(f"postgresql+psycopg://u:pw@127.0.0.1:{port}/x")


def test_a_trial_failed_by_another_process_meanwhile_is_not_written_over(tmp_path):
    """A process suspended past the heartbeat limit finds its trial failed as abandoned by
    another machine: it stops that trial, stores nothing over it, says so, and goes on."""
    import warnings

    import torch

    import autolr

    url = f"sqlite:///{tmp_path}/t.db"
    done = {"taken": False}

    def train() -> None:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=6)
        for step in range(6):
            optimizer.step()
            scheduler.step()
            if step == 2 and not done["taken"]:
                done["taken"] = True  # "another machine" fails this running trial
                other = optuna.load_study(study_name="t", storage=url)
                (running,) = other.get_trials(states=(TrialState.RUNNING,))
                other.tell(running.number, state=TrialState.FAIL)
            autolr.report(1.0 / (step + 1) + scheduler.base_lrs[0], step=step)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = autolr.tune(train, n_trials=4, storage=url, study_name="t", search="full",
                             confirm=0, seed=0)
    assert any("was marked abandoned by another process" in str(w.message) for w in caught)
    trials = result.study.get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert "reason" not in failed.user_attrs, "nothing was written over the other's verdict"
