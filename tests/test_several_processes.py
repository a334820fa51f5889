"""Several ``autolr tune`` processes on one study, the way users run it on several machines.

Each process here stands in for a machine: started at the same moment on one study in an empty
database (PostgreSQL, and SQLite for processes on one machine), they must end with the budget
exactly, every trial run once, the baselines queued once, each promotion and confirmation run
once. A second "machine" joins with the study name alone and picks up the stored settings. The
PostgreSQL server going away mid-study stops the process cleanly, and the same command resumes.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from autolr.cli import main
from autolr.search.ladder import steps_used
from tests.cli_in_process import autolr_in_process as _refused

ROOT = Path(__file__).resolve().parents[1]
# every test here runs ``autolr tune`` in subprocesses for seconds: handed out first under xdist
pytestmark = pytest.mark.slow

# 30 scheduler steps, a report every 3, a little sleep so that the processes' trials overlap.
SCRIPT = textwrap.dedent(
    """
    import argparse, math, time
    import torch
    import autolr

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sleep", type=float, default=0.01)
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=args.steps)
    peak = scheduler.base_lrs[0]
    for i in range(args.steps):
        optimizer.step()
        scheduler.step()
        time.sleep(args.sleep)
        if i % 3 == 2:
            value = abs(math.log(peak / 0.1)) + 1 / (i + 1) + args.offset + args.seed * 1e-6
            autolr.report(value, step=i // 3)
    """
)


def _autolr_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "autolr", *args]


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(_autolr_command(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(_autolr_command(*args), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


@pytest.fixture()
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(params=["postgresql", "sqlite"])
def shared_storage(request, tmp_path: Path) -> str:
    """An empty database several processes share: PostgreSQL (several machines) or a SQLite
    file (several processes on one machine)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    return request.getfixturevalue("postgres_url")


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    from autolr.study.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()


def _read(*args: str) -> tuple[int, str]:
    """A read-only command (show, export, report, studies) run in this process: the same command
    as ``autolr ARGS``, without a second of interpreter start-up each; its exit status and
    standard output."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False,
                                env={"NO_COLOR": "1", "COLUMNS": "160"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout


def _started_together(count: int, args: list[str], cwd: Path,
                      env: dict[str, str] | None = None) -> list[tuple[int, str]]:
    processes = [_start(*args, cwd=cwd, env=env) for _ in range(count)]
    return [_finish(process) for process in processes]


def test_two_processes_started_together_run_exactly_the_budget(shared_storage, script,
                                                               tmp_path):
    """A full search: exactly --trials finished trials, each run by one process, the
    baselines queued once, every process's summary reads the whole study."""
    args = ["tune", str(script), "--storage", shared_storage, "--study", "s", "--trials", "9",
            "--search", "full", "--pruner", "none", "--confirm", "0", "--workers", "2",
            "--seed", "1"]
    results = _started_together(2, args, tmp_path)
    for code, output in results:
        assert code == 0, output
        assert "Traceback" not in output
    trials = _trials(shared_storage, "s")
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 9
    assert not [t for t in trials if t.state == TrialState.FAIL]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == 9
    owners = collections.Counter(t.user_attrs["owner"] for t in trials)
    assert len(owners) == 2, "both processes ran trials"
    baselines = [t.user_attrs["baseline"] for t in trials if "baseline" in t.user_attrs]
    assert sorted(baselines) == ["constant", "cosine", "linear"]
    # show, export, report and studies read the study the two processes wrote
    read = {}
    for command in (["show", "--json"], ["export", "-o", "-"],
                    ["report", "-o", str(tmp_path / "r.html")]):
        code, read[command[0]] = _read(*command, "--storage", shared_storage, "--study", "s")
        assert code == 0, read[command[0]]
    shown = json.loads(read["show"])
    assert shown["counts"]["complete"] == 9
    assert "def build_scheduler(" in read["export"]
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8")
    code, listed = _read("studies", "--storage", shared_storage)
    assert code == 0 and "s" in listed


def test_three_processes_share_one_ladder_and_its_confirmation(shared_storage, script,
                                                               tmp_path):
    """The default search (fidelity ladder and confirmation) from three processes at once:
    within the budget, each configuration promoted once, each confirmation run once."""
    budget = 12
    args = ["tune", str(script), "--storage", shared_storage, "--study", "l", "--trials",
            str(budget), "--seed-arg", "--seed", "--seed", "2"]
    for code, output in _started_together(3, args, tmp_path):
        assert code == 0, output
    trials = _trials(shared_storage, "l")
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    steps = sum(steps_used(t, 30) or 0 for t in trials)
    assert steps <= budget * 30
    promoted = [t.user_attrs["promoted_from"] for t in trials
                if "promoted_from" in t.user_attrs and "requeued_from" not in t.user_attrs]
    assert len(promoted) == len(set(promoted)), "a configuration was promoted twice"
    rounds = [(t.user_attrs["confirms"], t.user_attrs["confirm_round"]) for t in trials
              if "confirms" in t.user_attrs and "requeued_from" not in t.user_attrs]
    assert rounds, "the confirmation ran"
    assert len(rounds) == len(set(rounds)), "a confirmation run ran twice"
    baselines = [t for t in trials if "baseline" in t.user_attrs and "confirms" not in
                 t.user_attrs and "requeued_from" not in t.user_attrs]
    assert len(baselines) == 3


def test_a_second_machine_joins_with_the_study_name_alone(script, tmp_path):
    """The stored settings (direction, families, search, pruner, seed option, script
    arguments) are used by a process given only the script, the storage and the study; a flag
    that contradicts them is refused with the stored settings shown."""
    url = f"sqlite:///{tmp_path}/joined.db"
    first = _run("tune", str(script), "--storage", url, "--study", "j", "--trials", "3",
                 "--direction", "maximize", "--families", "cosine,linear", "--search", "full",
                 "--pruner", "none", "--sampler", "random", "--seed-arg", "--seed",
                 "--confirm", "0", "--", "--offset", "5", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    second = _run("tune", str(script), "--storage", url, "--study", "j", "--trials", "6",
                  cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Script arguments: --offset 5" in second.stdout
    trials = _trials(url, "j")
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 6
    assert {t.params["family"] for t in trials} <= {"cosine", "linear"}
    assert all(t.value >= 5 for t in trials), "every trial ran with --offset 5"
    study = optuna.load_study(study_name="j", storage=url)
    assert study.direction.name == "MAXIMIZE"
    # the refusals come before any trial: run in this process
    refused = _refused("tune", str(script), "--storage", url, "--study", "j", "--direction",
                       "minimize", cwd=tmp_path)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "created with direction='maximize'" in refused.stderr
    assert "--families cosine,linear" in refused.stderr and "-- --offset 5" in refused.stderr
    other_args = _refused("tune", str(script), "--storage", url, "--study", "j", "--",
                          "--offset", "1", cwd=tmp_path)
    assert other_args.returncode == 1
    assert "script_args=['--offset', '5']" in other_args.stderr
    other_pruner = _refused("tune", str(script), "--storage", url, "--study", "j",
                            "--pruner", "median", cwd=tmp_path)
    assert other_pruner.returncode == 1 and "created with pruner='none'" in other_pruner.stderr
    assert len(_trials(url, "j")) == 6, "a refused run changes nothing"


def test_the_server_stopping_mid_study_stops_cleanly_and_the_same_command_resumes(
    postgres_cluster, postgres_url, script, tmp_path
):
    """The PostgreSQL server stopped (as by a crash) mid-study: once its retries are spent the
    process exits 1 naming the server and the command to resume, without a traceback, and the
    same command then finishes the budget with no trial left RUNNING."""
    # a lost connection is retried for 1 s (once) before the process gives up: the retrying is
    # the same at any length, and each second of it is a second of the suite
    env = {**os.environ, "AUTOLR_STORAGE_RETRY_S": "1"}
    # 6 trials of about 0.9 s: the server stops after the second, with four still to run
    args = ["tune", str(script), "--storage", postgres_url, "--study", "o", "--trials", "6",
            "--search", "full", "--pruner", "none", "--confirm", "0", "--", "--sleep", "0.03"]
    process = _start(*args, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the study to be under way
        trials = _trials(postgres_url, "o") if _has_study(postgres_url, "o") else []
        if sum(t.state == TrialState.COMPLETE for t in trials) >= 2:
            break
        time.sleep(0.2)
    postgres_cluster.stop()
    code, output = _finish(process, timeout=120)
    assert code == 1, output
    assert "Traceback" not in output
    assert "Lost the connection to the study's database at 127.0.0.1:" in output
    assert "Resume with the same command once the database server is back" in output
    assert " ".join(args[:3]) in output, "the command to resume is shown"
    postgres_cluster.start()
    resumed = _run(*args, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    trials = _trials(postgres_url, "o")
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs.get("reason") in ("abandoned", "failed") for t in failed)


def _has_study(url: str, name: str) -> bool:
    from autolr.study.storage import open_storage

    try:
        return name in [s.study_name for s in optuna.get_all_study_summaries(open_storage(url))]
    except Exception:
        return False


def test_a_server_that_is_down_at_start_is_named(tmp_path, script):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://someone:secret@127.0.0.1:{port}/studies"
    result = _run("tune", str(script), "--storage", url, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Cannot connect to the database server at 127.0.0.1:{port}" in result.stderr
    assert "secret" not in result.stderr
    shown = _run("show", "--storage", url, cwd=tmp_path)
    assert shown.returncode == 1 and f"127.0.0.1:{port}" in shown.stderr


def test_trials_per_gpu_shares_each_gpu_between_workers(tmp_path):
    """On CPU, with a faked GPU list: K workers per GPU, each seeing only its own GPU."""
    seen = tmp_path / "seen"
    seen.mkdir()
    path = tmp_path / "gpu.py"
    path.write_text(SCRIPT + textwrap.dedent(
        f"""
        import os
        open(os.path.join({str(seen)!r}, f"{{os.getpid()}}-{{os.environ['CUDA_VISIBLE_DEVICES']}}"),
             "w").close()
        """
    ))
    result = _run("tune", str(path), "--gpus", "0,1", "--trials-per-gpu", "2", "--trials", "8",
                  "--search", "full", "--pruner", "none", "--confirm", "0", "--", "--sleep",
                  "0.02", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "workers: cuda:0/0, cuda:1/1, cuda:0/2, cuda:1/3" in result.stdout
    workers = collections.defaultdict(set)
    for name in os.listdir(seen):
        pid, gpu = name.split("-")
        workers[gpu].add(pid)
    assert set(workers) == {"0", "1"}, "each worker saw exactly one GPU"
    assert all(len(pids) == 2 for pids in workers.values()), "two workers shared each GPU"


def test_trials_per_gpu_needs_a_gpu_and_excludes_workers(tmp_path, script):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    no_gpu = _run("tune", str(script), "--trials-per-gpu", "2", cwd=tmp_path, env=env)
    assert no_gpu.returncode == 1
    assert "no GPU visible" in no_gpu.stderr and "--workers" in no_gpu.stderr
    both = _run("tune", str(script), "--gpus", "0", "--trials-per-gpu", "2", "--workers", "2",
                cwd=tmp_path)
    assert both.returncode == 2 and "give one" in both.stderr


OUT_OF_MEMORY = textwrap.dedent(
    """
    import os, time, glob
    import torch
    import autolr

    folder = os.environ["OOM_DIR"]
    gpu = os.environ["CUDA_VISIBLE_DEVICES"]
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=6)
    mine = os.path.join(folder, f"{gpu}-{os.getpid()}")
    open(mine, "w").close()
    try:
        time.sleep(0.5)
        if len(glob.glob(os.path.join(folder, f"{gpu}-*"))) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        for i in range(6):
            optimizer.step()
            scheduler.step()
            autolr.report(1.0 / (i + 1) + scheduler.base_lrs[0], step=i)
    finally:
        os.remove(mine)
    """
)


def test_a_shared_gpu_out_of_memory_drops_to_fewer_trials_per_gpu(tmp_path):
    """Trials sharing a GPU that run out of memory are recorded as such; the GPU then runs
    fewer at a time (said so) and their configurations run again, instead of failing trial
    after trial."""
    (tmp_path / "oom").mkdir()
    path = tmp_path / "oom.py"
    path.write_text(OUT_OF_MEMORY)
    env = {**os.environ, "OOM_DIR": str(tmp_path / "oom")}
    result = _run("tune", str(path), "--gpus", "0", "--trials-per-gpu", "3", "--trials", "5",
                  "--search", "full", "--pruner", "none", "--confirm", "0", "--no-baselines",
                  cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ran out of memory on GPU 0 while 3 trials shared it" in result.stdout
    assert "runs 1 trial at a time" in result.stdout
    trials = _trials(f"sqlite:///{tmp_path}/studies/oom.db", "oom")
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["reason"] == "out of memory" for t in failed)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 5
    requeued = [t for t in trials if "requeued_from" in t.user_attrs]
    assert len(requeued) >= 1
    last_failure = max(t.number for t in failed)
    later = [t for t in trials if t.number > last_failure]
    assert later and all(t.state == TrialState.COMPLETE for t in later)
