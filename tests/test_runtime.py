"""autolr.scheduler / autolr.report outside a study, and their misuse inside one."""

from __future__ import annotations

import pytest
import torch

import autolr
from autolr.errors import ConfigError, StudyStopped
from autolr.trials import runtime


def _optimizer(lr: float = 0.1, groups: int = 1) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * (i + 1)}
              for i in range(groups)]
    return torch.optim.SGD(params, lr=lr)


def _run(scheduler, optimizer, steps: int) -> list[float]:
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_plain_run_keeps_the_optimizer_lr(monkeypatch):
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    optimizer = _optimizer(0.3, groups=2)
    scheduler = autolr.scheduler(optimizer, total_steps=5)
    assert _run(scheduler, optimizer, 5) == [0.3] * 5
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.6)
    autolr.report(1.0, step=0)  # does nothing harmful outside a study


def test_plain_run_follows_autolr_schedule_file(monkeypatch, tmp_path):
    spec = autolr.ScheduleSpec("cosine", lr=0.2, total_steps=10, warmup_steps=2)
    path = tmp_path / "best.json"
    path.write_text(spec.to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    optimizer = _optimizer(0.01, groups=2)
    scheduler = autolr.scheduler(optimizer, total_steps=10)
    assert _run(scheduler, optimizer, 10) == spec.lrs()
    # the second group keeps its ratio (2x) to the first
    assert optimizer.param_groups[1]["lr"] == pytest.approx(2 * optimizer.param_groups[0]["lr"])


def test_schedule_file_for_another_horizon_is_stretched_with_a_warning(monkeypatch, tmp_path):
    spec = autolr.ScheduleSpec("step", {"every": 0.5, "gamma": 0.1}, lr=0.2, total_steps=10)
    path = tmp_path / "best.json"
    path.write_text(spec.to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    optimizer = _optimizer()
    with pytest.warns(autolr.AutolrWarning, match="total_steps=10.*total_steps=100"):
        scheduler = autolr.scheduler(optimizer, total_steps=100)
    lrs = _run(scheduler, optimizer, 100)
    assert lrs[49] == pytest.approx(0.2) and lrs[50] == pytest.approx(0.02)


def test_missing_schedule_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="nope.json"):
        autolr.scheduler(_optimizer(), total_steps=10)


def test_default_family_and_spec(monkeypatch):
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    optimizer = _optimizer(0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=10, default="linear")
    assert _run(scheduler, optimizer, 10) == pytest.approx([0.1 * (1 - i / 10) for i in range(10)])
    spec = autolr.ScheduleSpec("cosine", lr=0.5, total_steps=10)
    optimizer = _optimizer(0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=10, default=spec)
    assert _run(scheduler, optimizer, 10) == spec.lrs()
    with pytest.raises(ConfigError, match="'default' parameter of autolr.scheduler"):
        autolr.scheduler(_optimizer(), total_steps=10, default=3)


def test_plateau_reads_reported_values_without_arguments(monkeypatch):
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    spec = autolr.ScheduleSpec("plateau", {"patience": 0, "factor": 0.5}, lr=1.0, total_steps=30)
    optimizer = _optimizer(1.0)
    scheduler = autolr.scheduler(optimizer, total_steps=30, default=spec)
    reports = {}
    seen = []
    for i in range(30):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if i % 5 == 4:  # an "epoch" of 5 steps, the loss stuck at 1.0
            autolr.report(1.0, step=i // 5)
            reports[i] = 1.0
        scheduler.step()
    assert seen == spec.lrs(reports)
    assert seen[-1] < 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total_steps": 0}, "'total_steps' parameter of autolr.scheduler must be >= 1. Got 0"),
        ({"total_steps": 2.5}, "must be an integer. Got 2.5"),
        ({"total_steps": "10"}, "must be an integer"),
    ],
)
def test_scheduler_rejects_bad_total_steps(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        autolr.scheduler(_optimizer(), **kwargs)


def test_scheduler_rejects_a_non_optimizer():
    with pytest.raises(ConfigError, match="'optimizer' parameter of autolr.scheduler"):
        autolr.scheduler(object(), total_steps=10)


@pytest.mark.parametrize(
    ("value", "step", "match"),
    [
        ("1.0", 0, "'value' parameter of autolr.report must be a number"),
        (torch.ones(3), 0, "must be a single number"),
        (1.0, -1, "'step' parameter of autolr.report must be >= 0"),
    ],
)
def test_report_rejects_bad_values(value, step, match):
    with pytest.raises((ValueError, TypeError), match=match):
        autolr.report(value, step=step)


def test_report_accepts_tensors_and_numpy():
    import numpy as np

    autolr.report(torch.tensor(0.5), step=0)
    autolr.report(np.float32(0.25), step=1)
    assert runtime.last_report()[1] == 0.25


def test_misuse_inside_a_trial_is_explained():
    def twice():
        optimizer = _optimizer()
        autolr.scheduler(optimizer, total_steps=4)
        autolr.scheduler(optimizer, total_steps=4)

    def report_first():
        autolr.report(1.0, step=0)

    for fn, message in ((twice, "called twice"), (report_first, "before autolr.scheduler")):
        # the same error in the first three trials stops the study, with the error in the message
        with pytest.raises(StudyStopped, match=message):
            autolr.tune(fn, n_trials=3, baselines=False, seed=0)
