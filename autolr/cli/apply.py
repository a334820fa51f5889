"""``autolr run``: the script run once, unmodified, with a schedule applied through torch's
optimizer hooks (:mod:`autolr.capture`), for the long final run of a script tuned with
``autolr tune --metric``.

The schedule is a file written by ``autolr export`` (``--schedule``), else the winner of the
study (``--study``, default: the study named after the script). ``--total-steps`` stretches it to
another length as ``export --total-steps`` does. The script runs in this process, seeded with
``--seed`` when given (passed to it as ``--seed-arg``'s option too).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from autolr.errors import AutolrWarning


def load_spec(schedule: str | None, study_name: str | None, storage: str | None,
              script: Path) -> tuple[Any, list[str] | None, str]:
    """The schedule to apply, the study's script arguments (None without a study), and where
    the schedule came from."""
    from autolr.schedules.spec import load_schedule

    if schedule is not None:
        return load_schedule(schedule), None, schedule
    from autolr.reports.stored import StudyView, open_study
    from autolr.result import TuneResult

    study = StudyView(open_study(study_name or script.stem, storage))
    result = TuneResult(study)  # type: ignore[arg-type]
    from autolr.study.config import SETTINGS_ATTR

    settings = study.user_attrs.get(SETTINGS_ATTR) or {}
    args = settings.get("script_args")
    return result.best_spec, list(args) if args is not None else None, \
        f"the winner of study {study.study_name!r}"


def run_with_schedule(script: Path, args: list[str], spec: Any, *, seed: int | None,
                      seed_arg: str | None, metric: str | None, metric_regex: str | None,
                      echo: Any) -> int:
    """Run ``script`` once with ``spec`` applied; returns the optimizer steps it took."""
    import warnings

    from autolr.capture.metric_lines import MetricReader
    from autolr.trials.captured import applied_run
    from autolr.trials.runners import seed_everything
    from autolr.trials.worker_main import run_script

    reader = MetricReader(metric, metric_regex) if (metric or metric_regex) else None
    if spec.metric_driven and reader is None:
        message = (f"The schedule is {spec.family}, which cuts the LR when the metric stops "
                   "improving; without --metric NAME (or --metric-regex) it reads no metric and "
                   "never cuts. Pass the metric the script prints.")
        warnings.warn(message, AutolrWarning, stacklevel=2)
        echo(f"Warning: {message}")
    if seed is not None:
        seed_everything(seed)
        if seed_arg:
            from autolr.trials.workers import with_seed_arg

            args = with_seed_arg(args, seed_arg, seed)
    sys.argv = [str(script), *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    hooks = applied_run(spec, lambda: run_script(str(script)), reader)
    if hooks.steps != spec.total_steps:
        ran = "past its end" if hooks.steps > spec.total_steps else "only part of it"
        message = (f"The schedule was made for {spec.total_steps} optimizer steps; this run took "
                   f"{hooks.steps}, so it ran {ran}. Run again with --total-steps "
                   f"{hooks.steps} to stretch it to this length.")
        warnings.warn(message, AutolrWarning, stacklevel=2)
        echo(f"Warning: {message}")
    return hooks.steps
