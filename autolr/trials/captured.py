"""One run of a script under ``--metric`` in this process: the step hooks set (or observe) its
LR, the output taps read its metric.

Used three ways: a study's trial in a worker (:func:`trial_run`: the schedule comes from the
study, each value read is a report the study may answer with a stop), the study's first run of
the script as it is (``python -m autolr.trials.observe_main``: nothing applied, everything
recorded), and ``autolr run`` (:func:`applied_run`: a fixed schedule).

A value is read from a line at the head optimizer's step count then. A line that repeats the
last value read (a progress bar redrawing its postfix) is not read again.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from autolr.capture.metric_lines import MetricReader, named_numbers
from autolr.capture.output_tap import OutputTap
from autolr.capture.step_hooks import StepHooks
from autolr.errors import ConfigError
from autolr.schedules.spec import ScheduleSpec
from autolr.trials import runtime

MAX_NAMES = 200  # distinct names followed by numbers kept for the "metric never appears" message
NEVER_STEPPED = (
    "The script never stepped a torch optimizer, so autolr tune --metric had no step to set "
    "the LR at. Only optimizers whose step() runs (torch.optim and subclasses of "
    "torch.optim.Optimizer) can be tuned this way; a script that updates its weights itself is "
    "out of reach. Check that the script trains with the arguments given after --."
)


def _taps() -> list[OutputTap]:
    """The taps on ``sys.stdout`` and ``sys.stderr``, installed once per process (a logging
    handler made in one trial keeps the stream it found, so the taps stay between runs)."""
    taps = []
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, OutputTap):
            stream = OutputTap(stream, lambda line: None)
            setattr(sys, name, stream)
        taps.append(stream)
    return taps


class CapturedRun:
    """The reading side of one run: ``reports`` read so far ``(step, value)``, the ``names``
    printed with numbers (when ``collect_names``). ``report(value, step)`` hears each value; an
    exception it raises (the study's stop) is raised from the next optimizer step."""

    def __init__(self, reader: MetricReader | None, hooks: StepHooks,
                 report: Callable[[float, int], None] | None = None, *,
                 collect_names: bool = False) -> None:
        self.reader = reader
        self.hooks = hooks
        self.report = report
        self.collect_names = collect_names
        self.reports: list[tuple[int, float]] = []
        self.names: dict[str, int] = {}

    def on_line(self, line: str) -> None:
        if self.collect_names:
            for name in named_numbers(line):
                if name in self.names or len(self.names) < MAX_NAMES:
                    self.names[name] = self.names.get(name, 0) + 1
        value = self.reader.value(line) if self.reader is not None else None
        if value is None:
            return
        if self.reports and (self.reports[-1][1] == value
                             or (math.isnan(value) and math.isnan(self.reports[-1][1]))):
            return
        step = self.hooks.steps
        self.reports.append((step, value))
        runtime.note_report(value)
        if self.report is None:
            return
        try:
            self.report(value, step)
        except BaseException as exc:  # the study's stop: raised at the next step
            if self.hooks.stop is None:
                self.hooks.stop = exc

    def run(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (the script) with the hooks installed and the output read."""
        taps = _taps()
        for tap in taps:
            tap.on_line = self.on_line
            tap.active = True
        runtime.begin_capture(self.reader.label if self.reader is not None else "")
        try:
            with self.hooks:
                fn()
        finally:
            for tap in taps:
                tap.flush_line()
                tap.active = False
            runtime.end_capture()
        if self.hooks.head is None:
            raise ConfigError(NEVER_STEPPED)


def trial_run(session: Any, capture: dict[str, Any], run_script: Callable[[], None]) -> None:
    """Run the script as a study's trial: the schedule is asked of ``session`` at the head's
    first step, for the study's length (``capture["total_steps"]``) and the script's LR (the
    study's measure, else the optimizer's), and every value read is reported to it."""
    total = int(capture["total_steps"])
    hooks = StepHooks(lambda script_lr: session.make_schedule(script_lr, total),
                      script_lr=capture.get("script_lr"), on_lr=session.on_scheduler_step)
    reader = MetricReader(capture.get("metric"), capture.get("regex"))
    CapturedRun(reader, hooks, session.on_report).run(run_script)


def applied_run(spec: ScheduleSpec, run_script: Callable[[], None],
                reader: MetricReader | None = None) -> StepHooks:
    """Run the script once with ``spec`` applied (``autolr run``); values read from its output
    (``reader``) feed a plateau schedule. Returns the hooks (their step count)."""
    hooks = StepHooks(lambda script_lr: spec)
    CapturedRun(reader, hooks).run(run_script)
    return hooks
