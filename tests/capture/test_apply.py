"""``autolr run``'s warnings, in this process: a run whose length is not the schedule's, and a
plateau schedule run without a metric to follow."""

from __future__ import annotations

import textwrap

import pytest

from autolr import ScheduleSpec
from autolr.cli.apply import run_with_schedule
from autolr.errors import AutolrWarning

SCRIPT = textwrap.dedent(
    """
    import sys, torch
    w = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([w], lr=0.1)
    for step in range(int(sys.argv[1])):
        optimizer.zero_grad()
        ((w - 1) ** 2).sum().backward()
        optimizer.step()
        if step % 5 == 4:
            print(f"val_loss={float(((w - 1) ** 2).sum()):.6f}")
    """
)


def run(tmp_path, steps: int, spec: ScheduleSpec, **options) -> tuple[int, list[str]]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    said: list[str] = []
    settings = {"seed": None, "seed_arg": None, "metric": None, "metric_regex": None, **options}
    taken = run_with_schedule(script, [str(steps)], spec, echo=said.append, **settings)
    return taken, said


def test_a_run_of_the_schedules_length_says_nothing(tmp_path):
    taken, said = run(tmp_path, 20, ScheduleSpec("cosine", lr=0.05, total_steps=20))
    assert taken == 20 and said == []


def test_a_run_of_another_length_is_told_the_length_to_stretch_to(tmp_path):
    with pytest.warns(AutolrWarning, match="Run again with --total-steps 30"):
        taken, said = run(tmp_path, 30, ScheduleSpec("cosine", lr=0.05, total_steps=20))
    assert taken == 30 and "ran past its end" in said[0]


def test_a_plateau_schedule_without_a_metric_is_warned_and_with_one_it_reads_it(tmp_path):
    plateau = ScheduleSpec("plateau", lr=0.05, total_steps=20)
    with pytest.warns(AutolrWarning, match="without --metric NAME"):
        run(tmp_path, 20, plateau)
    taken, said = run(tmp_path, 20, plateau, metric="val_loss")
    assert taken == 20 and said == []
