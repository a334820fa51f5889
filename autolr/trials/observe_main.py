"""The study's first run under ``--metric``: the script as it is, observed.

``python -m autolr.trials.observe_main OUT CAPTURE SEED SCRIPT [ARGS...]`` runs SCRIPT once in
this process with its own schedule untouched (seeded with SEED, as a trial is), and writes to
OUT (JSON): the optimizer steps it took, the LR it set for each, the values of the metric read
from its output (CAPTURE: ``{"metric": ..., "regex": ...}`` as JSON) with their steps, the names
it printed numbers for, and the error it ended on, if any. The parent
(:mod:`autolr.trials.first_run`) keeps them in the study.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from autolr.capture.metric_lines import MetricReader
from autolr.capture.step_hooks import StepHooks
from autolr.errors import ConfigError
from autolr.trials.captured import CapturedRun
from autolr.trials.runners import describe_exception, seed_everything
from autolr.trials.worker_main import run_script


def observe(capture: dict[str, Any], seed: int, script: str, args: list[str]) -> dict[str, Any]:
    """Run ``script`` once as it is and return what was observed."""
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    hooks = StepHooks()
    run = CapturedRun(MetricReader(capture.get("metric"), capture.get("regex")), hooks,
                      collect_names=True)
    error = refused = None
    seed_everything(seed)
    try:
        run.run(lambda: run_script(script))
    except ConfigError as exc:  # a script --metric cannot tune: the rule, no traceback
        refused = str(exc)
    except Exception as exc:  # the parent reports it with the run's output
        error = describe_exception(exc)[0]
    return {"steps": hooks.steps, "lrs": hooks.lrs, "reports": run.reports,
            "names": run.names, "error": error, "refused": refused}


def main(argv: list[str]) -> None:
    out, capture, seed, script, *args = argv
    found = observe(json.loads(capture), int(seed), script, args)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(found, handle)


if __name__ == "__main__":
    main(sys.argv[1:])
