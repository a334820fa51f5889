"""Faults injected into real ``autolr tune`` runs: the study must end with its exact budget, no
trial left RUNNING, every finished trial's value unchanged and no "database is locked".

Workers killed at random moments across 30 trials, the parent killed and the same command run
again, Ctrl-C, two terminals on one SQLite study, a trial that hangs, a worker that hits a memory
limit (set with ``resource.setrlimit`` inside the trial, never by exhausting the machine).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

# 30 scheduler steps, a report every 5; the options make a trial slow, hang or hit a memory
# limit when its peak LR is high (above 0.3; the baselines run at the script's 0.1).
SCRIPT = textwrap.dedent(
    """
    import argparse, math, os, resource, time
    import torch
    import autolr

    parser = argparse.ArgumentParser()
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--hang-high", action="store_true")
    parser.add_argument("--memory-high", action="store_true")
    args = parser.parse_args()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=30)
    peak = scheduler.base_lrs[0]
    if args.hang_high and peak > 0.3:
        time.sleep(3600)
    if args.memory_high and peak > 0.3:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (in_use + 256 * 2**20, hard))
        try:
            hog = bytearray(2**31)  # more than the limit leaves: MemoryError
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    for i in range(30):
        optimizer.step()
        scheduler.step()
        time.sleep(args.sleep)
        if i % 5 == 4:
            autolr.report(abs(math.log(peak / 0.1)) + 1 / (i + 1), step=i // 5)
    """
)
FULL = ["--search", "full", "--pruner", "none", "--confirm", "0"]
# every test here runs ``autolr tune`` in subprocesses for seconds: handed out first under xdist
pytestmark = pytest.mark.slow


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.py"
    path.write_text(SCRIPT)
    return path


def _command(toy: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "autolr", "tune", str(toy), *args]


def _trials(db: Path, name: str = "toy") -> list[optuna.trial.FrozenTrial]:
    if not db.exists():
        return []
    try:
        return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").get_trials()
    except KeyError:  # the study is not created yet
        return []


def _states(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as connection:
            return [s for (s,) in connection.execute("select state from trials")]
    except sqlite3.OperationalError:  # the database or its tables do not exist yet
        return []


def _wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the study"
        time.sleep(0.1)


def _workers_of(toy: Path) -> list[int]:
    listed = subprocess.run(["pgrep", "-f", f"autolr.trials.worker_main .*{toy}"],
                            capture_output=True, text=True)
    return [int(pid) for pid in listed.stdout.split()]


def _finished_count(trials: list[optuna.trial.FrozenTrial]) -> int:
    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)


def _no_lock_errors(*texts: str) -> None:
    for text in texts:
        assert "database is locked" not in text


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace")
                     for p in (tmp_path / "studies").rglob("*.log"))


def test_workers_killed_at_random_moments_across_30_trials(toy, tmp_path, tally):
    """Workers SIGKILLed at random moments (4 to 6 of them, each one another worker start) while
    30 trials run on two workers: exactly 30 finish, each killed trial failed as "worker died"
    with the signal named, no finished trial changed, no "database is locked"."""
    db = tmp_path / "studies" / "toy.db"
    process = subprocess.Popen(_command(toy, "--trials", "30", "--workers", "2", "--seed", "4",
                                        *FULL, "--", "--sleep", "0.01"),
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    kills: list[int] = []
    seen: dict[int, tuple[str, float | None]] = {}
    rng = random.Random(0)

    def killer() -> None:
        # the first three trials must run: the same error three times at the start stops a study
        _wait_for(lambda: _states(db).count("COMPLETE") >= 3 or process.poll() is not None)
        while process.poll() is None and len(kills) < 6:
            time.sleep(rng.uniform(0.2, 1.2))
            seen.update(tally.snapshot(_trials(db)))
            workers = _workers_of(toy)
            if workers and process.poll() is None:
                victim = rng.choice(workers)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=killer)
    thread.start()
    output, _ = process.communicate(timeout=300)
    thread.join(timeout=60)
    tally.fault(len(kills))
    assert process.returncode == 0, output
    assert len(kills) >= 4, "the run ended before the faults could be injected"
    trials = _trials(db)
    assert _finished_count(trials) == 30
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs["reason"] == "worker died" for t in failed)
    assert all("SIGKILL" in t.user_attrs["error"] for t in failed), [
        (t.number, t.user_attrs["error"]) for t in failed if "SIGKILL" not in t.user_attrs["error"]]
    tally.check_kept(seen, trials)
    _no_lock_errors(output, _logs(tmp_path))
    tally.survived(len(kills))


def test_the_parent_killed_then_the_same_command_completes(toy, tmp_path, tally):
    """``autolr tune`` SIGKILLed mid-trial: its workers exit with it, and the same command
    recovers the abandoned trial, queues it again and completes the budget, keeping every
    finished trial."""
    db = tmp_path / "studies" / "toy.db"
    command = _command(toy, "--trials", "6", "--seed", "1", *FULL, "--", "--sleep", "0.02")
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for(lambda: "COMPLETE" in _states(db) and "RUNNING" in _states(db))
    process.kill()  # SIGKILL: nothing of autolr's runs after this
    process.wait()
    # read after the kill, which then follows the check at once: a trial is still running
    # (reading the study first gave a loaded machine time to end it and start none)
    before = tally.snapshot(_trials(db))
    tally.fault()
    _wait_for(lambda: not _workers_of(toy), timeout=20)  # the workers exit with their parent
    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Recovered abandoned trial(s)" in rerun.stdout
    trials = _trials(db)
    assert _finished_count(trials) == 6
    abandoned = [t for t in trials if t.user_attrs.get("reason") == "abandoned"]
    assert abandoned and all(
        any(r.user_attrs.get("requeued_from") == t.number for r in trials) for t in abandoned
    )
    tally.check_kept(before, trials)
    _no_lock_errors(rerun.stdout, rerun.stderr)
    tally.survived()


def test_ctrl_c_then_the_same_command_completes(toy, tmp_path, tally):
    """Ctrl-C mid-trial: exit 130 with the resume hint and no trial left RUNNING; the same
    command completes the budget, keeping every finished trial."""
    db = tmp_path / "studies" / "toy.db"
    command = _command(toy, "--trials", "6", "--seed", "2", *FULL, "--", "--sleep", "0.02")
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: "COMPLETE" in _states(db) and "RUNNING" in _states(db))
    before = tally.snapshot(_trials(db))
    process.send_signal(signal.SIGINT)
    tally.fault()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Traceback" not in output and "Resume with the same command" in output
    assert not [t for t in _trials(db) if t.state == TrialState.RUNNING]
    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    trials = _trials(db)
    assert _finished_count(trials) == 6
    tally.check_kept(before, trials)
    tally.survived()


def test_two_terminals_on_one_sqlite_study(toy, tmp_path, tally):
    """Two ``autolr tune`` processes started together on one SQLite study (two terminals):
    exactly the target, each trial run once, no "database is locked"."""
    db = tmp_path / "studies" / "toy.db"
    command = _command(toy, "--trials", "16", "--seed", "0", *FULL, "--", "--sleep",
                       "0.005")
    processes = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    tally.fault()
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output
    trials = _trials(db)
    assert _finished_count(trials) == 16
    assert not [t for t in trials if t.state != TrialState.COMPLETE]
    assert len({t.user_attrs["owner"] for t in trials}) == 2
    tally.check_kept({}, trials)
    _no_lock_errors(*outputs)
    tally.survived()


def test_a_trial_that_hangs_is_stopped_by_the_trial_timeout(toy, tmp_path, tally):
    """A trial that hangs (a high LR) is stopped at --trial-timeout and failed as "timeout"; the
    study replaces its worker and finishes its 6 trials. The limit leaves the other trials room
    on a loaded machine (a worker's first trial imports the script's modules, a second or more
    under load); the LR range gives this seed one hang, each one the limit plus a worker start.
    """
    db = tmp_path / "studies" / "toy.db"
    result = subprocess.run(
        _command(toy, "--trials", "6", "--seed", "3", "--lr", "0.03:0.5", "--trial-timeout", "5",
                 *FULL, "--", "--hang-high"),
        cwd=tmp_path, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    trials = _trials(db)
    hung = [t for t in trials if t.user_attrs.get("reason") == "timeout"]
    tally.fault(len(hung))
    assert hung, "no trial drew a high LR; change the seed"
    assert all("--trial-timeout=5 s" in t.user_attrs["error"] for t in hung)
    assert _finished_count(trials) == 6
    tally.check_kept({}, trials)
    _no_lock_errors(result.stdout, result.stderr)
    tally.survived(len(hung))


def test_a_slow_worker_start_up_is_not_the_trials_time(toy, tmp_path, tally):
    """--trial-timeout counts from when the worker is ready: a worker that takes longer than the
    limit to start (here 6 s more than a limit of 4 s, through a sitecustomize that only workers
    run) still trains its trials, where counting its start-up failed every trial a loaded machine
    gave it. The limit leaves a trial of the toy (a fraction of a second alone) room on a machine
    loaded by the rest of the suite."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, time\nif os.environ.get('AUTOLR_TORCH_THREADS'):\n    time.sleep(10)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        _command(toy, "--trials", "3", "--seed", "0", "--trial-timeout", "4", *FULL),
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )
    tally.fault()
    assert result.returncode == 0, result.stdout + result.stderr
    trials = _trials(tmp_path / "studies" / "toy.db")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [
        t.user_attrs.get("error") for t in trials]
    tally.survived()


def test_a_worker_that_hits_a_memory_limit_fails_its_trial_only(toy, tmp_path, tally):
    db = tmp_path / "studies" / "toy.db"
    result = subprocess.run(
        _command(toy, "--trials", "8", "--seed", "3", "--lr", "0.01:1", *FULL, "--",
                 "--memory-high"),
        cwd=tmp_path, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    trials = _trials(db)
    limited = [t for t in trials if t.state == TrialState.FAIL]
    tally.fault(len(limited))
    assert limited, "no trial drew a high LR; change the seed"
    assert all(t.user_attrs["reason"] == "out of memory" for t in limited)
    assert all("MemoryError" in t.user_attrs["error"] for t in limited)
    assert _finished_count(trials) == 8
    tally.check_kept({}, trials)
    tally.survived(len(limited))
