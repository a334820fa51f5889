"""The autolr command end to end: real scripts in worker processes, resume, Ctrl-C, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

import autolr
from autolr.cli import main
from tests.cli_in_process import autolr_in_process as _read_back

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits_mlp.py"

TOY = textwrap.dedent(
    """
    import math, sys, time
    import torch
    import autolr

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=20)
    peak = scheduler.base_lrs[0]
    if "--crash-high" in sys.argv and peak > 0.3:
        raise SystemExit(f"lr {peak:.3g} is too high for me")
    if "--die-high" in sys.argv and peak > 0.3:
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    for i in range(20):
        optimizer.step()
        scheduler.step()
        if "--slow" in sys.argv:  # 1 s a trial: long enough to be caught (and cut) mid-run
            time.sleep(0.05)
        if i % 5 == 4:
            autolr.report(abs(math.log(peak / 0.1)) + 1 / (i + 1), step=i // 5)
    """
)


def _autolr(*args: str, cwd: Path, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autolr", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, **kwargs,
    )


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    script = tmp_path / "toy.py"
    script.write_text(TOY)
    return script


def _trials(db: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=f"sqlite:///{db}").trials


def _finished(trials) -> list:
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def _steps(trials) -> int:
    """The scheduler steps a study trained, every run included."""
    return sum(t.user_attrs.get("steps", 0) for t in trials)


@pytest.mark.slow
def test_tune_the_digits_example_end_to_end(tmp_path):
    result = _autolr("tune", str(DIGITS), "--trials", "5", "--seed", "0", "--search", "ladder",
                     "--", "--epochs", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    db = tmp_path / "studies" / "digits_mlp.db"
    assert db.exists()
    trials = _trials(db, "digits_mlp")
    # the fidelity ladder: more configurations than full runs, within 5 full runs of compute
    total = 3 * 23
    assert 4 * total < _steps(trials) <= 5 * total
    shortened = [t for t in trials if t.user_attrs.get("reason") == "shortened"]
    assert shortened and all(t.user_attrs["steps"] == 23 for t in shortened)
    for trial in shortened:  # the worker applied the compressed schedule, step by step
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        assert spec.total_steps == 23
        assert trial.user_attrs["lr_curve"]["lrs"][:23] == pytest.approx(spec.lrs(), rel=1e-12)
    assert "Fidelity ladder: 23 and 69 steps" in result.stdout
    assert "compute: " in result.stdout and "of 5 full runs" in result.stdout
    best_py = tmp_path / "studies" / "digits_mlp" / "best_schedule.py"
    best_json = tmp_path / "studies" / "digits_mlp" / "best_schedule.json"
    assert best_py.exists() and best_json.exists()
    assert str(best_json) in result.stdout.replace("\n", "")
    # Optuna's own command reads the study
    optuna_cli = shutil.which("optuna")
    if optuna_cli:
        listed = subprocess.run(
            [optuna_cli, "trials", "--storage", f"sqlite:///{db}", "--study-name", "digits_mlp",
             "-f", "json"], capture_output=True, text=True, timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == len(trials)
    # the exported file runs where autolr cannot be imported
    check = textwrap.dedent(
        f"""
        import sys
        sys.modules["autolr"] = None
        import importlib.util, torch
        spec = importlib.util.spec_from_file_location("best", {str(best_py)!r})
        best = importlib.util.module_from_spec(spec); spec.loader.exec_module(best)
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
        scheduler = best.build_scheduler(optimizer)
        for _ in range(best.TOTAL_STEPS):
            optimizer.step(); scheduler.step()
        print("ok", best.TOTAL_STEPS)
        """
    )
    ran = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("ok")
    # show, export, studies and report read it back
    shown = _read_back("show", cwd=tmp_path)
    assert shown.returncode == 0
    assert "digits_mlp" in shown.stdout and "Best schedule" in shown.stdout
    assert "shortened" in shown.stdout and "rung 0 (0.333)" in shown.stdout
    as_json = json.loads(_read_back("show", "--json", cwd=tmp_path).stdout)
    assert as_json["ladder"]["steps"] == [23, 69]
    assert as_json["ladder"]["steps_used"] == _steps(trials)
    exported = _read_back("export", "--format", "json", "-o", "-", cwd=tmp_path)
    assert exported.returncode == 0
    assert json.loads(exported.stdout)["family"]
    listed = _read_back("studies", cwd=tmp_path)
    assert listed.returncode == 0 and "digits_mlp" in listed.stdout
    reported = _read_back("report", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    page = tmp_path / "studies" / "digits_mlp" / "report.html"
    assert page.exists() and "digits_mlp" in page.read_text()


@pytest.fixture(scope="module")
def default_search(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``autolr tune`` on the digits example with the default search (7 trials, 2 epochs, no
    confirmation), run once for the tests that each check a different thing about it: its
    result and the folder it ran in."""
    cwd = tmp_path_factory.mktemp("default_search")
    result = _autolr("tune", str(DIGITS), "--trials", "7", "--seed", "0", "--confirm", "0",
                     "--", "--epochs", "2", cwd=cwd)
    assert result.returncode == 0, result.stderr + result.stdout
    return result, cwd


@pytest.mark.slow
def test_the_default_search_finds_the_lr_first_on_the_digits_example(default_search):
    result, cwd = default_search
    assert "Search: lr_first, the peak LR first" in result.stdout
    trials = _trials(cwd / "studies" / "digits_mlp.db", "digits_mlp")
    line = [t for t in trials if t.user_attrs.get("lr_search") is True]
    assert line and all(t.params["family"] == "linear" for t in line)
    assert line[0].params["lr_scale"] == pytest.approx(10 ** 0.5)  # x3.16 up from the script's
    for trial in trials:  # every run at full length, its LR curve its schedule's
        if trial.state == TrialState.COMPLETE:
            spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
            assert spec.total_steps == 2 * 23
            assert trial.user_attrs["lr_curve"]["lrs"][:46] == pytest.approx(spec.lrs(), rel=1e-12)


@pytest.mark.slow
def test_the_winner_reproduces_its_value_when_run_plainly(default_search):
    """The study's winner (its best full run), run plainly with AUTOLR_SCHEDULE and its seed,
    prints the value the study recorded for it."""
    _, cwd = default_search
    trials = _trials(cwd / "studies" / "digits_mlp.db", "digits_mlp")
    best = min((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    env = {**os.environ,
           "AUTOLR_SCHEDULE": str(cwd / "studies" / "digits_mlp" / "best_schedule.json")}
    plain = subprocess.run(
        [sys.executable, str(DIGITS), "--epochs", "2", "--seed", str(best.user_attrs["seed"])],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=120,
    )
    assert plain.returncode == 0, plain.stderr
    last = plain.stdout.strip().splitlines()[-1]
    assert f"val_loss {best.value:.4f}" in last


@pytest.mark.slow
def test_two_workers_run_side_by_side_without_locking(toy, tmp_path):
    result = _autolr("tune", str(toy), "--trials", "10", "--workers", "2", "--seed", "0",
                     "--search", "ladder", "--", "--slow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "database is locked" not in result.stderr + result.stdout
    trials = _trials(tmp_path / "studies" / "toy.db", "toy")
    # the budget of 10 full runs (20 steps each) holds across both workers
    assert 9 * 20 <= _steps(trials) <= 10 * 20
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert {t.user_attrs["worker"] for t in trials} == {"cpu0", "cpu1"}
    sources = [t.user_attrs["promoted_from"] for t in trials if "promoted_from" in t.user_attrs]
    assert sources and len(sources) == len(set(sources))
    # side by side: some trial started before another ended
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--crash-high", "--die-high"])
def test_trials_that_crash_fail_with_the_reason_and_the_study_goes_on(toy, tmp_path, flag):
    """A trial whose script exits with an error, or whose worker is SIGKILLed, fails with the
    reason (the script's message; "worker died" and the signal) and the study still finishes
    its 6 trials. The LR range makes 2 of the seed's draws crash (above 0.3), not the first
    three in a row: each death is another worker start, so no more than needed."""
    result = _autolr("tune", str(toy), "--trials", "6", "--seed", "3", "--lr", "0.03:0.5",
                     "--no-baselines", "--search", "full", "--", flag, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    trials = _trials(tmp_path / "studies" / "toy.db", "toy")
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed, "some sampled LRs exceed 0.3"
    for trial in failed:
        if flag == "--crash-high":
            assert "too high for me" in trial.user_attrs["error"]
        else:
            assert trial.user_attrs["reason"] == "worker died"
            assert "SIGKILL" in trial.user_attrs["error"]
    assert len(_finished(trials)) == 6


@pytest.mark.slow
def test_ctrl_c_leaves_a_consistent_study_that_the_same_command_completes(toy, tmp_path):
    args = [sys.executable, "-m", "autolr", "tune", str(toy), "--trials", "6", "--seed", "0",
            "--", "--slow"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    db = tmp_path / "studies" / "toy.db"
    deadline = time.time() + 120
    while True:  # wait until a trial has finished and the next one is training on its schedule
        assert process.poll() is None and time.time() < deadline
        try:
            with sqlite3.connect(db) as connection:
                states = [s for (s,) in connection.execute("select state from trials")]
                training = connection.execute(
                    "select count(*) from trials join trial_user_attributes using (trial_id) "
                    "where state = 'RUNNING' and key = 'spec'").fetchone()[0]
        except sqlite3.OperationalError:  # the database or its tables do not exist yet
            states, training = [], 0
        if "COMPLETE" in states and training:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Resume with the same command" in output and "Traceback" not in output
    trials = _trials(db, "toy")
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    interrupted = [t for t in trials if t.user_attrs.get("reason") == "interrupted"]
    assert interrupted
    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    trials = _trials(db, "toy")
    assert 5 * 20 <= _steps(trials) <= 6 * 20  # the budget, the interrupted steps included
    requeued = [t for t in trials if t.user_attrs.get("requeued_from") == interrupted[0].number]
    assert requeued and requeued[0].params == interrupted[0].params
    for key in ("rung", "fidelity", "promoted_from", "baseline"):
        assert requeued[0].user_attrs.get(key) == interrupted[0].user_attrs.get(key)


def test_a_script_without_autolr_calls_stops_with_the_lines_to_add(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("import torch\nprint('training without autolr')\n")
    result = _autolr("tune", str(script), "--trials", "5", cwd=tmp_path)
    assert result.returncode == 1
    assert "never called autolr.scheduler" in result.stderr
    assert "scheduler = autolr.scheduler(optimizer, total_steps=" in result.stderr
    assert "Traceback (most recent call last):\n  File" not in result.stderr.split("Error:")[0]


def test_a_syntax_error_is_reported_once_before_any_trial(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import autolr\ndef train(:\n    pass\n")
    result = _autolr("tune", str(script), "--trials", "5", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("syntax error") == 1
    assert "line 2" in result.stderr
    assert not (tmp_path / "studies").exists()


# --- bad input, in process (fast) ------------------------------------------------------------


def _invoke(args: list[str], cwd: Path) -> tuple[int, str]:
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tune", "missing.py"], 2, "The script 'missing.py' does not exist"),
        (["tune", "{toy}", "--families", "cosin"], 2, "unknown family 'cosin'. Did you mean "
                                                       "'cosine'?"),
        (["tune", "{toy}", "--lr", "1:0"], 2, "0 < MIN < MAX. Got '1:0'"),
        (["tune", "{toy}", "--lr", "fast"], 2, "must be MIN:MAX"),
        (["tune", "{toy}", "--trials", "0"], 2, "Invalid value for '--trials'"),
        (["tune", "{toy}", "--pruner", "medain"], 2, "Invalid value for '--pruner'"),
        (["tune", "{toy}", "--gpus", "a,b"], 2, "must be GPU ids"),
        (["tune", "{toy}", "--ladder", "1/0,1"], 2, "'1/0' is not a number or a fraction"),
        (["tune", "{toy}", "--ladder", "tenth"], 2, "such as 1/9,1/3,1"),
        (["tune", "{toy}", "--ladder", "1/3,1/9"], 1, "in increasing order"),
        (["tune", "{toy}", "--ladder", "0,1/3"], 1, "0.0 is not a fraction in (0, 1]"),
        (["tune", "{toy}", "--ladder", "1/3,2"], 1, "2.0 is not a fraction in (0, 1]"),
        (["tune", "{toy}", "--eta", "1"], 2, "Invalid value for '--eta'"),
        (["tune", "{toy}", "--search", "full", "--eta", "3"], 1, "applies to search='ladder'"),
        (["tune", "{toy}", "--search", "ladder", "--pruner", "median"], 1,
         "applies to search='lr_first' or 'full' only"),
        (["tune", "{toy}", "--eta", "3", "--pruner", "hyperband"], 1, "--search full"),
        (["tune", "{toy}", "--storage", "sqlite:////proc/no/x.db"], 1, "Cannot create the folder"),
        (["tune", "{toy}", "--storage", "sqlite:///{notes}"], 1, "not a SQLite database"),
        (["show", "--study", "nosuch"], 1, "No study named 'nosuch'"),
        (["show"], 1, "No study found in ./studies/"),
        (["export", "--study", "nosuch"], 1, "No study named 'nosuch'"),
        (["families", "cosin"], 1, "Did you mean 'cosine'?"),
    ],
)
def test_bad_input_gets_a_message_and_an_exit_code_without_traceback(
    toy, tmp_path, args, code, message
):
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"not a database")
    args = [a.format(toy=toy, notes=notes) for a in args]
    exit_code, output = _invoke(args, tmp_path)
    assert exit_code == code, output
    assert message in output
    assert "Traceback" not in output
    assert notes.read_bytes() == b"not a database"


def test_debug_shows_the_traceback(tmp_path):
    exit_code, output = _invoke(["--debug", "show", "--study", "nosuch"], tmp_path)
    assert exit_code == 1 and "Traceback" in output


def test_families_lists_every_family(tmp_path):
    import autolr

    exit_code, output = _invoke(["families", "--json"], tmp_path)
    assert exit_code == 0
    assert [f["name"] for f in json.loads(output)] == autolr.families()
    exit_code, output = _invoke(["families", "cosine"], tmp_path)
    assert exit_code == 0 and "CosineAnnealingLR" in output


def test_every_command_has_help(tmp_path):
    for command in ("tune", "show", "export", "report", "families", "studies"):
        exit_code, output = _invoke([command, "--help"], tmp_path)
        assert exit_code == 0 and "Usage:" in output


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_two_trials_on_the_gpu(toy, tmp_path):
    gpu_script = tmp_path / "gpu.py"
    gpu_script.write_text(TOY.replace("torch.zeros(1)", "torch.zeros(1, device='cuda')"))
    result = _autolr("tune", str(gpu_script), "--trials", "2", "--gpus", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = _trials(tmp_path / "studies" / "gpu.db", "gpu")
    assert len(_finished(trials)) == 2
    assert {t.user_attrs["worker"] for t in trials} == {"cuda:0"}


def test_workers_end_when_the_study_process_is_killed(toy, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "autolr", "tune", str(toy), "--trials", "50", "--", "--slow"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    db = tmp_path / "studies" / "toy.db"
    deadline = time.time() + 120
    while True:
        assert process.poll() is None and time.time() < deadline
        try:
            with sqlite3.connect(db) as connection:
                if connection.execute("select count(*) from trials").fetchone()[0]:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.2)

    def workers() -> list[str]:
        listed = subprocess.run(["pgrep", "-f", f"autolr.trials.worker_main .*{toy}"],
                                capture_output=True, text=True)
        return listed.stdout.split()

    while not workers():  # the trial row comes just before its worker
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.1)
    process.kill()
    process.wait()
    deadline = time.time() + 20
    while workers() and time.time() < deadline:
        time.sleep(0.5)
    assert not workers(), "a worker outlived the study process"


@pytest.mark.slow
def test_isolate_runs_each_trial_in_a_fresh_process(tmp_path):
    script = tmp_path / "pids.py"
    script.write_text(TOY + "\nimport os\nwith open('pids.txt', 'a') as f:\n"
                            "    f.write(f'{os.getpid()}\\n')\n")
    # the study process runs in this one (the trials run in its worker processes all the same),
    # and two trials tell one process from a fresh one each: three torch start-ups fewer
    for flags, expected in (([], 1), (["--isolate"], 2)):
        (tmp_path / "pids.txt").unlink(missing_ok=True)
        code, output = _invoke(["tune", str(script), "--trials", "2", "--study", f"p{expected}",
                                "--pruner", "none", *flags], tmp_path)
        assert code == 0, output
        pids = (tmp_path / "pids.txt").read_text().split()
        assert len(pids) == 2 and len(set(pids)) == expected
        assert str(os.getpid()) not in pids, "the trials ran in worker processes"


@pytest.mark.slow
def test_a_trial_past_its_timeout_is_stopped_and_failed(toy, tmp_path):
    result = _autolr("tune", str(toy), "--trials", "3", "--trial-timeout", "0.5", "--", "--slow",
                     cwd=tmp_path)
    assert result.returncode == 1  # the same failure three times stops the study
    assert "--trial-timeout=0.5" in result.stderr
    trials = _trials(tmp_path / "studies" / "toy.db", "toy")
    assert [t.user_attrs["reason"] for t in trials] == ["timeout"] * 3
    assert all(t.state == TrialState.FAIL for t in trials)
