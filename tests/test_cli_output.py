"""Where the commands' output goes: a closed pipe, a narrow terminal, a log file; and the message
``autolr tune`` ends with when something it did not foresee stops it."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
import torch
from click.testing import CliRunner
from optuna.trial import TrialState
from rich.console import Console

import autolr
from autolr.cli import main
from autolr.cli.output import EXIT_CLOSED_PIPE
from autolr.cli.show import print_summary

TOTAL, EVERY = 30, 6


def noisy_train() -> None:
    """A 'training' whose value depends on the peak LR (best near 0.03, below the script's 0.1)
    and on the seed."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=TOTAL)
    peak = scheduler.base_lrs[0]
    noise = float(torch.rand(1)) * 0.01
    for i in range(1, TOTAL + 1):
        optimizer.step()
        scheduler.step()
        if i % EVERY == 0:
            autolr.report(1.0 / i + abs(math.log(peak / 0.03)) / 10 + noise, step=i // EVERY)


@pytest.fixture(scope="module")
def confirmed_db(tmp_path_factory) -> Path:
    """A stored study of 14 full runs whose top configurations were confirmed on 2 seeds."""
    db = tmp_path_factory.mktemp("study") / "studies" / "toy.db"
    db.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        autolr.tune(noisy_train, n_trials=14, seed=0, search="full", pruner="none",
                    confirm=(2, 2),
                    storage=f"sqlite:///{db}", study_name="toy")
    return db


def _stored(db: Path) -> list[tuple]:
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{db}")
    return [(t.number, t.state, t.value, t.params, t.user_attrs) for t in study.get_trials()]


def _run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``autolr ARGS`` with its standard output a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "autolr", *args], cwd=cwd, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [["show"], ["show", "--json"], ["families"], ["studies"]])
def test_a_closed_pipe_ends_the_command_quietly_with_141(args, confirmed_db):
    # `autolr show | head`: the reader stops early; like cat or git, the command ends as a shell
    # reports SIGPIPE, says nothing, and changes nothing stored
    before = _stored(confirmed_db)
    run = _run_into_closed_pipe(args, confirmed_db.parent.parent)
    assert run.returncode == EXIT_CLOSED_PIPE == 141
    assert run.stderr == ""
    assert _stored(confirmed_db) == before


def test_a_broken_connection_that_is_not_the_output_is_an_error_with_a_message(monkeypatch):
    # EPIPE from anything but the output (a worker's connection, a database socket) is not
    # a reader that went away: it gets its message and status 1, not silence
    def broken(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("autolr.schedules.registry.family_info", broken)
    result = CliRunner().invoke(main, ["families"])
    assert result.exit_code == 1
    assert "BrokenPipeError" in result.output and "--debug" in result.output


def test_tune_stopped_by_an_unforeseen_error_says_so_and_how_to_resume(tmp_path, monkeypatch):
    script = tmp_path / "toy.py"
    script.write_text(
        "import torch, autolr\n"
        "opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)\n"
        "sched = autolr.scheduler(opt, total_steps=6)\n"
        "for i in range(6):\n"
        "    opt.step(); sched.step()\n"
        "    autolr.report(1.0 / (i + 1), step=i)\n"
    )
    from autolr.trials.workers import WorkerPool

    serve = WorkerPool._serve
    served = []

    def fails_on_the_fourth_message(self, slot):
        served.append(slot)
        if len(served) == 4:
            raise RuntimeError("an error autolr did not foresee")
        return serve(self, slot)

    monkeypatch.setattr(WorkerPool, "_serve", fails_on_the_fourth_message)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["tune", str(script), "--trials", "3", "--search", "full",
                                       "--confirm", "0"])
    assert result.exit_code == 1
    assert "stopped on an unexpected error: RuntimeError: an error autolr did not foresee" in (
        result.output)
    assert "Resume with the same command:\n  autolr" in result.output
    assert "Traceback" not in result.output
    trials = optuna.load_study(study_name="toy",
                               storage="sqlite:///studies/toy.db").get_trials()
    assert trials and not [t for t in trials if t.state == TrialState.RUNNING]
    stopped = [t for t in trials if t.user_attrs.get("reason") == "stopped"]
    assert stopped and all(t.state == TrialState.FAIL for t in stopped)
    requeued = [t.user_attrs["requeued_from"] for t in trials
                if t.state == TrialState.WAITING and "requeued_from" in t.user_attrs]
    assert requeued == [t.number for t in stopped]


# --- narrow terminals and log files --------------------------------------------------------------
def _summary(db: Path, *, width: int, terminal: bool) -> str:
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{db}")
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None,
                      soft_wrap=not terminal)
    print_summary(console, study, top=5)
    return out.getvalue()


def _essential_cells(db: Path) -> list[str]:
    """What every row must show whole: its value, mean ± std, family and peak LR."""
    from autolr.cli.show import trial_rows
    from autolr.reports.stored import StudyView, open_study

    study = StudyView(open_study("toy", f"sqlite:///{db}"))
    cells = []
    for row in trial_rows(study, 5, study.get_trials(deepcopy=False)):
        cells += [f"{row['value']:.4g}", row["family"], f"{row['lr']:.4g}"]
        if row["confirmed"]:
            cells.append(row["confirmed"])
    return cells


def test_an_80_column_terminal_shows_the_essential_columns_whole(confirmed_db):
    text = _summary(confirmed_db, width=80, terminal=True)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for cell in _essential_cells(confirmed_db):
        assert re.search(rf"(^|[\s│,#(]){re.escape(cell)}([\s│,]|$)", text, re.M), (cell, text)
    assert "mean±std (n)" in text and "peak LR" in text  # still a table


@pytest.mark.parametrize("width", [60, 40])
def test_narrower_terminals_fold_the_rest_but_never_cut(confirmed_db, width):
    text = _summary(confirmed_db, width=width, terminal=True)
    assert "…" not in text
    flat = " ".join(text.split())
    for cell in _essential_cells(confirmed_db):
        assert cell in flat, (cell, text)


def test_output_into_a_log_file_is_never_cut_or_broken(confirmed_db):
    # a job's log (SLURM, tee) is not a terminal: rich would lay it out at 80 columns
    text = _summary(confirmed_db, width=80, terminal=False)
    assert "…" not in text
    for cell in _essential_cells(confirmed_db):
        assert cell in text
    winner = [line for line in text.splitlines() if line.startswith("Winner")]
    assert len(winner) == 1 and winner[0].endswith(").")  # one line, not wrapped mid-phrase
    versus = [line for line in text.splitlines() if "against the constant baseline" in line]
    assert len(versus) == 1 and versus[0].endswith(".")


def test_the_command_lays_out_piped_output_for_a_log(confirmed_db):
    run = subprocess.run([sys.executable, "-m", "autolr", "show"], cwd=confirmed_db.parent.parent,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "50"})
    assert run.returncode == 0, run.stderr
    assert "…" not in run.stdout
    assert "parameters" in run.stdout  # the whole table, at its own width
    for cell in _essential_cells(confirmed_db):
        assert cell in run.stdout
