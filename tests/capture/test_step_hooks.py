"""The LR set through torch's optimizer hooks: every step of every group follows the schedule,
whatever the script does to its LR; steps are real optimizer steps."""

from __future__ import annotations

import contextlib

import pytest
import torch

from autolr import ScheduleSpec
from autolr.capture.metric_lines import MetricReader
from autolr.capture.step_hooks import StepHooks
from autolr.errors import ConfigError, TrialPruned
from autolr.trials.captured import CapturedRun, applied_run


class Recording(torch.optim.SGD):
    """SGD that records every group's LR in effect at each of its steps."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[list[float]] = []

    def step(self, closure=None):
        self.seen.append([float(g["lr"]) for g in self.param_groups])
        return super().step(closure)


def reference(spec: ScheduleSpec, steps: int) -> list[float]:
    """The schedule's LR at each step, from the scheduler autolr.scheduler would build."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = spec.build(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def loss_of(params):
    return sum(((p - 1.0) ** 2).sum() for p in params)


SPEC = ScheduleSpec("cosine", lr=0.05, total_steps=24, warmup_steps=4)


def test_a_scripts_own_steplr_is_overridden_for_every_step():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = Recording([w], lr=0.1)

    def script():
        own = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        for _epoch in range(4):
            for _ in range(6):
                opt.zero_grad()
                loss_of([w]).backward()
                opt.step()
            own.step()
            print(f"val_loss={float(loss_of([w]).detach()):.4f}")

    hooks = applied_run(SPEC, script, MetricReader("val_loss"))
    assert hooks.steps == 24
    assert [s[0] for s in opt.seen] == pytest.approx(reference(SPEC, 24))
    # the script's own scheduler ran as it liked between steps: its value is back after each
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)


def test_a_gpt_style_loop_that_writes_the_lr_every_step_is_overridden():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = Recording([w], lr=6e-4)

    def script():
        for it in range(24):
            for group in opt.param_groups:
                group["lr"] = 6e-4 * min(1.0, (it + 1) / 10)  # its own warmup
            opt.zero_grad()
            loss_of([w]).backward()
            opt.step()

    applied_run(SPEC, script)
    assert [s[0] for s in opt.seen] == pytest.approx(reference(SPEC, 24))


def test_two_optimizers_keep_each_groups_ratio_and_accumulation_counts_real_steps():
    body, head, critic = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    gen = Recording([{"params": [body]}, {"params": [head], "lr": 1e-2}], lr=1e-3)
    disc = Recording([critic], lr=5e-4)

    def script():
        for batch in range(48):  # two batches accumulated per step
            loss_of([body, head, critic]).backward()
            if batch % 2 == 1:
                disc.step()
                gen.step()
                gen.zero_grad()
                disc.zero_grad()

    hooks = applied_run(SPEC, script)
    assert hooks.steps == 24
    # the first optimizer to step is the head: its first group follows the schedule
    want = reference(SPEC, 24)
    assert [s[0] for s in disc.seen] == pytest.approx(want)
    assert [s[0] for s in gen.seen] == pytest.approx([2 * lr for lr in want])
    assert [s[1] for s in gen.seen] == pytest.approx([20 * lr for lr in want])


def test_a_step_a_grad_scaler_skips_is_not_a_step():
    w = torch.nn.Parameter(torch.ones(2))
    opt = Recording([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu")

    def script():
        for i in range(5):
            opt.zero_grad()
            scale = float("inf") if i == 2 else 1.0
            scaler.scale((w * scale).sum()).backward()
            scaler.step(opt)
            scaler.update()

    hooks = applied_run(ScheduleSpec("linear", lr=0.1, total_steps=4), script)
    assert hooks.steps == 4 and len(opt.seen) == 4


def test_observing_changes_nothing_and_records_the_scripts_lr_and_reports():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=0.2)
    hooks = StepHooks()
    run = CapturedRun(MetricReader("val_loss"), hooks, collect_names=True)

    def script():
        own = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.1)
        for epoch in range(2):
            for _ in range(5):
                opt.zero_grad()
                loss_of([w]).backward()
                opt.step()
                own.step()
            print(f"epoch={epoch} train_loss=1.0 val_loss={0.5 - epoch / 10}")

    run.run(script)
    assert hooks.steps == 10
    assert hooks.lrs == pytest.approx([0.2] * 5 + [0.02] * 5)
    assert run.reports == [(5, 0.5), (10, 0.4)]
    assert {"epoch", "train_loss", "val_loss"} <= set(run.names)


def test_a_stop_decided_at_a_report_is_raised_from_the_next_optimizer_step():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=0.1)
    taken = []

    def decide(value, step):
        if step >= 6:
            raise TrialPruned("pruned at step 6", reason="pruned")

    run = CapturedRun(MetricReader("loss"), StepHooks(), decide)

    def script():
        for i in range(20):
            opt.zero_grad()
            loss_of([w]).backward()
            opt.step()
            taken.append(i)
            # a script that swallows what its print raises cannot keep the trial going
            with contextlib.suppress(Exception):
                print(f"loss={1 / (i + 1)}")

    with pytest.raises(TrialPruned):
        run.run(script)
    assert len(taken) == 6


def test_a_script_that_never_steps_an_optimizer_is_told_so():
    with pytest.raises(ConfigError, match="never stepped a torch optimizer"):
        applied_run(SPEC, lambda: print("val_loss=1"))


def test_the_scripts_own_autolr_calls_are_refused_under_metric():
    import autolr

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    run = CapturedRun(MetricReader("val_loss"), StepHooks())
    with pytest.raises(ConfigError, match="The script's own autolr calls win"):
        run.run(lambda: autolr.scheduler(opt, total_steps=10))


def test_the_output_still_reaches_the_stream(capsys):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)

    def script():
        opt.zero_grad()
        loss_of([w]).backward()
        opt.step()
        print("val_loss=0.25", end="")  # a line left open is read at the end

    run = CapturedRun(MetricReader("val_loss"), StepHooks())
    run.run(script)
    assert run.reports == [(1, 0.25)]
    assert "val_loss=0.25" in capsys.readouterr().out


def test_a_script_running_as_several_processes_is_refused(monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 4)
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)

    def script():
        opt.zero_grad()
        loss_of([w]).backward()
        opt.step()

    with pytest.raises(ConfigError, match="world size 4"):
        applied_run(SPEC, script)
