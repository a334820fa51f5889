"""``autolr tune SCRIPT --metric NAME`` and ``autolr run`` end to end on scripts that never
import autolr: every trial's LR follows its schedule, the first run observes the script, bad
input is told what to do."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from autolr import ScheduleSpec, export
from tests.capture.test_step_hooks import reference
from tests.cli_in_process import autolr_in_process as read_back

STEPLR = textwrap.dedent(
    """
    import argparse, torch
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    w = torch.nn.Parameter(torch.zeros(4))
    optimizer = torch.optim.SGD([w], lr=0.1)
    own = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for epoch in range(args.epochs):
        for _ in range(8):
            optimizer.zero_grad()
            ((w - 3.0) ** 2).sum().backward()
            optimizer.step()
        own.step()
        noise = 0.01 * float(torch.rand(1))
        print(f"epoch {epoch} train_loss=0.0 val_loss={float(((w - 3) ** 2).sum()) + noise:.6f}")
    """
)


def in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``autolr ARGS`` run in this process from ``cwd``, without the interpreter and torch
    start-up of a subprocess: ``tune`` (its first run and trials still run in their own
    processes) and ``run`` (the script run here, as that command runs it in its own); the
    ``sys.argv`` and ``sys.path`` that ``run`` sets for the script are put back. Its result
    shaped like :func:`read_back`'s."""
    argv, path = sys.argv[:], sys.path[:]
    try:
        return read_back(*args, cwd=cwd)
    finally:
        sys.argv[:], sys.path[:] = argv, path


def assert_curves_follow_their_schedules(study: optuna.Study) -> int:
    """Every trial that ran: its recorded LR at each recorded step equals its schedule's."""
    checked = 0
    for trial in study.trials:
        curve = trial.user_attrs.get("lr_curve")
        if not curve or "spec" not in trial.user_attrs:
            continue
        spec = ScheduleSpec.from_json(trial.user_attrs["spec"])
        want = reference(spec, max(curve["steps"]) + 1)
        got = dict(zip(curve["steps"], curve["lrs"], strict=True))
        assert [got[s] for s in curve["steps"]] == pytest.approx(
            [want[s] for s in curve["steps"]], rel=1e-6), trial.number
        checked += 1
    return checked


@pytest.fixture(scope="module")
def steplr_study(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``autolr tune train.py --metric val_loss`` on the StepLR script (7 trials), run once for
    the tests that each check a different thing about it: its result and its folder (the script
    and ``studies/``). A test that changes the study works on a copy of the folder."""
    tmp_path = tmp_path_factory.mktemp("steplr")
    (tmp_path / "train.py").write_text(STEPLR)
    ran = in_process("tune", "train.py", "--metric", "val_loss", "--trials", "7",
                     "--seed-arg", "--seed", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran, tmp_path


def test_a_script_with_its_own_steplr_is_tuned_and_run_with_a_trials_schedule(steplr_study):
    ran, tmp_path = steplr_study
    assert "The script as it is: 32 optimizer steps, its LR peaks at 0.1" in ran.stdout
    assert "The script's own schedule (its first run, as it is, 1 seed)" in ran.stdout
    assert "autolr run train.py" in ran.stdout
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{tmp_path}/studies/train.db")
    first = study.user_attrs["script_run"]
    assert first["steps"] == 32 and first["reports"] == 4
    assert first["lr_curve"]["lrs"][:4] == [0.1] * 4 and min(first["lr_curve"]["lrs"]) == 0.05
    assert assert_curves_follow_their_schedules(study) >= 5
    shown = json.loads(read_back("show", "--json", cwd=tmp_path).stdout)
    assert shown["script_as_it_is"]["steps"] == 32 and shown["script_as_it_is"]["lr"] == 0.1
    report = read_back("report", "-o", "report.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text()
    assert "the script as it is (its own schedule)" in page  # the baselines' table
    assert "baseline the script as it is" in page  # its LR curve beside the winner's
    # autolr run with a trial's schedule and seed gives that trial's value
    trial = next(t for t in study.trials if t.value is not None and "confirms" not in t.user_attrs)
    schedule = tmp_path / "trial.json"
    export(ScheduleSpec.from_json(trial.user_attrs["spec"]), str(schedule), "json")
    again = in_process("run", "train.py", "--schedule", str(schedule), "--seed",
                       str(trial.user_attrs["seed"]), "--seed-arg", "--seed", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    last = re.findall(r"val_loss=([\d.]+)", again.stdout)[-1]
    assert float(last) == pytest.approx(trial.value, abs=1e-6)


LADDER = textwrap.dedent(
    """
    import argparse, torch
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    w = torch.nn.Parameter(torch.zeros(4))
    optimizer = torch.optim.Adam([w], lr=0.05)
    for step in range(90):
        for group in optimizer.param_groups:  # a GPT-style loop sets its own LR each step
            group["lr"] = 0.05 * min(1.0, (step + 1) / 10)
        optimizer.zero_grad()
        ((w - 3.0) ** 2).sum().backward()
        optimizer.step()
        if step % 5 == 4:
            print({"step": step, "val_loss": float(((w - 3) ** 2).sum()) + 1e-3 * step})
    """
)


def test_the_ladder_shortens_runs_of_a_gpt_style_loop(tmp_path):
    (tmp_path / "train.py").write_text(LADDER)
    ran = in_process("tune", "train.py", "--metric", "val_loss", "--trials", "6", "--search",
                     "ladder", "--seed-arg", "--seed", "--seed", "2", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{tmp_path}/studies/train.db")
    shortened = [t for t in study.trials if t.user_attrs.get("reason") == "shortened"]
    assert shortened and all(t.user_attrs["steps"] < 90 for t in shortened)
    assert assert_curves_follow_their_schedules(study) >= 4


@pytest.mark.parametrize(("script", "options", "said"), [
    (STEPLR, ["--metric", "val_acc"],
     ["no line of its output", "closest first: val_loss, train_loss"]),
    ("print('val_loss=0.5')\n", ["--metric", "val_loss"], ["never stepped a torch optimizer"]),
    ("import autolr, torch\nopt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1)\n"
     "autolr.report(0.5, step=0)\n", ["--metric", "val_loss"],
     ["The script calls autolr.report", "own autolr calls win"]),
    (STEPLR, ["--metric-regex", r"val_loss=\S+"], ["exactly one group", "--metric-regex"]),
    (STEPLR, ["--metric", "val_loss", "--metric-regex", r"val_loss=(\S+)"], ["give one"]),
])
def test_bad_input_stops_with_the_rule_and_no_traceback(tmp_path, script, options, said):
    (tmp_path / "train.py").write_text(script)
    ran = in_process("tune", "train.py", *options, "--trials", "4", cwd=tmp_path)
    text = ran.stdout + ran.stderr
    assert ran.returncode != 0
    for words in said:
        assert words in text, text
    assert "Traceback" not in text
    db = tmp_path / "studies" / "train.db"
    if db.exists():  # a study the first run refused keeps no trial and no first run
        study = optuna.load_study(study_name="train", storage=f"sqlite:///{db}")
        assert not study.trials and "script_run" not in study.user_attrs


def test_a_resumed_study_keeps_its_first_run_and_its_metric(steplr_study, tmp_path):
    """The StepLR study (7 trials under --metric val_loss), resumed in a copy of its folder
    without --metric to 8 trials, keeps its first run; a different --metric is refused."""
    _, tuned = steplr_study
    tmp_path = tmp_path / "copy"
    shutil.copytree(tuned, tmp_path)
    again = in_process("tune", "train.py", "--trials", "8", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "First run" not in again.stdout and "The script as it is: 32" in again.stdout
    other = in_process("tune", "train.py", "--metric", "train_loss", "--trials", "5",
                       cwd=tmp_path)
    assert other.returncode != 0 and "created with --metric val_loss" in other.stdout + other.stderr
    log = json.loads(json.dumps(optuna.load_study(
        study_name="train", storage=f"sqlite:///{tmp_path}/studies/train.db").user_attrs))
    assert log["script_run"]["metric"] == "val_loss"


def test_the_unmodified_example_is_tuned_then_run_with_its_winner(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "plain_digits.py"
    ran = in_process("tune", str(example), "--metric", "val_loss", "--trials", "4",
                     "--seed-arg", "--seed", "--", "--epochs", "2", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "The script as it is: 46 optimizer steps, its LR peaks at 0.05" in ran.stdout
    assert (tmp_path / "studies" / "plain_digits" / "best_schedule.json").exists()
    # the study's winner, stretched to a longer run
    longer = in_process("run", str(example), "--total-steps", "69", "--seed", "1", "--",
                        "--epochs", "3", cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr
    assert "over 69 optimizer steps (the winner of study 'plain_digits')" in longer.stderr
    assert longer.stdout.count("val_loss") == 3 and "Warning" not in longer.stderr


def test_a_script_whose_length_changes_between_runs_is_warned_with_both_numbers(tmp_path):
    varying = STEPLR.replace("for _ in range(8):", "for _ in range(8 + args.seed % 3):")
    (tmp_path / "train.py").write_text(varying)
    ran = in_process("tune", "train.py", "--metric", "val_loss", "--trials", "4", "--seed-arg",
                     "--seed", "--confirm", "0", "--seed", "0", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    text = re.sub(r"\s+", " ", ran.stdout)  # the console wraps long lines
    first = re.search(r"The script as it is: (\d+) optimizer steps", text).group(1)
    warned = re.findall(r"This run took (\d+) optimizer steps; the study's schedules are made "
                        r"for (\d+)", text)
    assert warned and all(made == first and took != first for took, made in warned)
