"""The examples: each runs plainly (a subprocess), each script runs under ``autolr.tune`` with the
trial's schedule applied, ``AUTOLR_SCHEDULE`` steers a plain run, and the CIFAR example falls
back to FakeData when CIFAR-10 cannot be had. CPU, offline, tiny settings.

The subprocesses start together (a module fixture) so that their interpreter and torch start-up
overlap with the in-process tests; the tests reading their output come last.
"""

from __future__ import annotations

import math
import os
import re
import runpy
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.trial import TrialState
from subprocess_runs import finish, kill_unfinished

import autolr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT_S = 180

CIFAR_ARGS = ["--fake-data", "--epochs", "1", "--train-size", "16", "--val-size", "8",
              "--batch-size", "8", "--image-size", "16", "--device", "cpu"]
CHAR_STEPS = 12
CHAR_ARGS = ["--steps", str(CHAR_STEPS), "--eval-every", "6", "--eval-batches", "1",
             "--d-model", "16", "--heads", "2", "--layers", "1", "--seq-len", "16",
             "--batch-size", "4", "--device", "cpu"]
PLAIN_RUNS = {
    "cifar_resnet": CIFAR_ARGS,
    "char_transformer": CHAR_ARGS,
    "api": ["--trials", "3"],
}
LR_LINE = re.compile(r"lr ([0-9.e+-]+)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AUTOLR_SCHEDULE"}
    env.update(AUTOLR_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **extra)
    return env


@pytest.fixture(scope="module", autouse=True)
def plain_runs(tmp_path_factory) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """Every example started plainly, each in its own empty working directory, when the module's
    first test starts; the tests that check them come last."""
    procs = {}
    for name, args in PLAIN_RUNS.items():
        cwd = tmp_path_factory.mktemp(name)
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=cwd, env=_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        procs[name] = (proc, cwd)
    yield procs
    kill_unfinished(proc for proc, _ in procs.values())


def _finish(proc: subprocess.Popen) -> tuple[str, str]:
    return finish(proc, TIMEOUT_S)


@pytest.fixture()
def script_argv(monkeypatch):
    """Run an example in this process as ``__main__`` with ``args`` (on one CPU thread: the
    subprocesses run alongside, and oversubscribed torch threads slow every run many times)."""
    import torch

    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    monkeypatch.setenv("AUTOLR_OFFLINE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(name: str, args: list[str]) -> None:
        path = EXAMPLES / f"{name}.py"
        monkeypatch.setattr(sys, "argv", [str(path), *args])
        runpy.run_path(str(path), run_name="__main__")

    yield run
    torch.set_num_threads(threads)


def _lrs_printed(out: str) -> list[float]:
    return [float(m.group(1)) for m in LR_LINE.finditer(out)]


# --- under tuning ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "args"),
    [("cifar_resnet", CIFAR_ARGS), ("char_transformer", CHAR_ARGS)],
    ids=["cifar_resnet", "char_transformer"],
)
def test_example_runs_under_tune_with_the_trial_schedule(script_argv, name, args, capsys):
    result = autolr.tune(lambda: script_argv(name, args), n_trials=3, seed=0, pruner="none",
                         study_name=name)
    trials = result.study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [
        t.user_attrs.get("error") for t in trials
    ]
    families = set()
    for trial in trials:
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        families.add(spec.family)
        assert trial.user_attrs["steps"] == spec.total_steps
        assert "step_mismatch" not in trial.user_attrs
        # The LR the optimizer really had, step by step, is the trial's schedule.
        curve = trial.user_attrs["lr_curve"]
        expected = [spec.lr * spec.multiplier(step) for step in curve["steps"]]
        assert curve["lrs"] == pytest.approx(expected, rel=1e-9)
    assert len(families) == 3  # the baselines: constant, cosine, linear
    assert result.best_spec.total_steps == trials[0].user_attrs["steps"]


# --- AUTOLR_SCHEDULE -----------------------------------------------------------------------
def test_plain_run_follows_autolr_schedule(script_argv, monkeypatch, tmp_path, capsys):
    spec = autolr.ScheduleSpec("step", lr=0.02, total_steps=CHAR_STEPS, params={"gamma": 0.1})
    path = tmp_path / "schedule.json"
    path.write_text(spec.to_json())
    default = autolr.ScheduleSpec("cosine", lr=1e-3, total_steps=CHAR_STEPS, warmup_steps=1)
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    script_argv("char_transformer", CHAR_ARGS)
    printed = _lrs_printed(capsys.readouterr().out)
    expected = [spec.lr * spec.multiplier(step) for step in (6, 12)]
    assert printed == pytest.approx(expected, rel=1e-5)
    assert printed != pytest.approx([default.lr * default.multiplier(s) for s in (6, 12)])


# --- CIFAR-10 unavailable ------------------------------------------------------------------
def _no_download(*args, **kwargs):
    pytest.fail("the example tried to download CIFAR-10 in offline mode")


def _failing_download(*args, **kwargs):
    raise urllib.error.URLError("no network in this test")


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "download-fails"])
def test_cifar_falls_back_to_fake_data_with_one_clear_line(
    script_argv, monkeypatch, tmp_path, capsys, offline
):
    import torchvision.datasets.cifar

    if not offline:
        monkeypatch.delenv("AUTOLR_OFFLINE")
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive",
                        _no_download if offline else _failing_download)
    empty = tmp_path / "data"
    empty.mkdir()
    args = [a for a in CIFAR_ARGS if a != "--fake-data"] + ["--data-dir", str(empty)]
    script_argv("cifar_resnet", args)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "CIFAR-10 is unavailable" in lines[0]
    assert "falling back to FakeData" in lines[0] and "--fake-data" in lines[0]
    assert ("offline mode is on" if offline else "no network in this test") in lines[0]
    assert "FakeData: 16 train / 8 validation images" in captured.out
    assert "epoch 1/1" in captured.out


# --- plain runs ------------------------------------------------------------------------------
def test_cifar_runs_plainly_on_fake_data(plain_runs):
    out, _ = _finish(plain_runs["cifar_resnet"][0])
    assert "FakeData: 16 train / 8 validation images, 2 batches per epoch, device cpu" in out
    assert re.search(r"epoch 1/1  val_loss \d+\.\d+  accuracy", out)
    assert _lrs_printed(out) == [0.1]  # no schedule given: the optimizer's LR, constant


def test_char_transformer_runs_plainly_with_its_default_schedule(plain_runs):
    out, _ = _finish(plain_runs["char_transformer"][0])
    losses = [float(v) for v in re.findall(r"val_loss (\d+\.\d+) nats/char", out)]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    # The plain default: 5% warmup (1 step of 12), then cosine from --lr (1e-3) to zero.
    default = autolr.ScheduleSpec("cosine", lr=1e-3, total_steps=CHAR_STEPS, warmup_steps=1)
    expected = [default.lr * default.multiplier(step) for step in (6, 12)]
    assert _lrs_printed(out) == pytest.approx(expected, rel=1e-5)


def test_api_example_tunes_exports_and_reproduces(plain_runs):
    proc, cwd = plain_runs["api"]
    out, _ = _finish(proc)
    counts = re.search(r"study 'api': (\d+) complete, (\d+) pruned, 0 failed", out)
    assert counts is not None and int(counts[1]) + int(counts[2]) == 3, out
    assert "best schedule: ScheduleSpec(" in out
    exported = cwd / "studies" / "api" / "best_schedule.py"
    assert exported.is_file() and (cwd / "studies" / "api.db").is_file()
    assert autolr.load_schedule(exported.with_suffix(".json")).total_steps > 0
    # Retraining with the best trial's seed and schedule repeats the study's value exactly.
    m = re.search(r"gives val_loss (\S+), \S+ build_scheduler\(optimizer\) (\S+) "
                  r"\(the study measured (\S+)\)", out)
    assert m is not None, out
    assert m.group(1) == m.group(2) == m.group(3)
