"""The study's side of ``--metric``: its first run (the script as it is), kept in the study.

Under ``autolr tune SCRIPT --metric NAME`` the study first runs the script once untouched
(:mod:`autolr.trials.observe_main`, in a process of its own, seeded as a trial is). That run
gives the length of a run in optimizer steps (unless ``--total-steps`` says it), the script's
LR (the peak of what it set: the reference of the study's LR range), the script's own LR curve,
and the value of its own schedule, the baseline the winner is compared with. It is stored once
in the study's user attribute ``script_run``, so a resumed study, or another machine, never runs
it again. A metric that never appears, a script that never steps an optimizer, or a first run
that fails stops the study there, with what the output showed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from autolr.capture.metric_lines import closest_names
from autolr.errors import AutolrError
from autolr.trials.captured import NEVER_STEPPED

SCRIPT_RUN_ATTR = "script_run"
FIRST_RUN_SEED = 3 * 10**6  # the first run trains on trial_seed(study seed, FIRST_RUN_SEED)
SHOWN_NAMES = 8
TAIL_LINES = 15


def stored(study: Any) -> dict[str, Any] | None:
    """The first run's record kept in ``study``, or None."""
    found = study.user_attrs.get(SCRIPT_RUN_ATTR)
    return found if isinstance(found, dict) else None


def observe(script: str, args: list[str], capture: dict[str, Any], seed: int,
            env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run the script once as it is and return its record (see the module docstring); its
    output goes to ``log_path``. Raises :class:`AutolrError` when it cannot be tuned so."""
    from autolr.trials.control import downsample

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, open(log_path, "a", encoding="utf-8") as log:
        out = Path(folder) / "run.json"
        log.write("--- the script as it is (its own schedule), observed\n")
        log.flush()
        code = subprocess.call(
            [sys.executable, "-m", "autolr.trials.observe_main", str(out),
             json.dumps(capture), str(seed), script, *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        )
        found = json.loads(out.read_text()) if out.exists() else None
    tail = _tail(log_path)
    if found is not None and found.get("refused"):
        raise AutolrError(f"{found['refused']}\nThe script's output: {log_path}")
    if found is None or found.get("error"):
        why = found["error"] if found else f"it ended with status {code} before finishing"
        raise AutolrError(
            f"The study's first run, the script as it is (to measure its length, LR and "
            f"value), failed: {why}\nIts last output ({log_path}):\n{tail}\nFix the script or "
            "its arguments (after --) and run the same command again."
        )
    if not found["steps"]:
        raise AutolrError(f"{NEVER_STEPPED}\nIts last output ({log_path}):\n{tail}")
    label = capture.get("regex") or capture.get("metric")
    if not found["reports"]:
        raise AutolrError(no_metric_message(label, bool(capture.get("regex")), found["names"],
                                            log_path))
    lrs = found["lrs"]
    return {
        "steps": found["steps"], "lr": max(lrs), "lr_curve": downsample(lrs),
        "value": found["reports"][-1][1], "reports": len(found["reports"]),
        "report_steps": [step for step, _ in found["reports"]][:512], "seed": seed,
        "metric": label,
    }


def no_metric_message(label: str, is_regex: bool, names: dict[str, int], log_path: Path) -> str:
    """The metric never appeared: the rule, and the names the output did show, closest first."""
    what = f"--metric-regex {label!r} matched" if is_regex else (
        f"--metric {label} appeared (the name followed by a number, as in {label}=0.12, "
        f"{label}: 0.12 or '{label}': 0.12)")
    shown = closest_names(label, names)[:SHOWN_NAMES]
    seen = (f"Names the output shows followed by a number, closest first: {', '.join(shown)}."
            if shown else "The output shows no name followed by a number.")
    return (
        f"The study stopped after the script's first run: no line of its output (stdout or "
        f"stderr) in which {what}. {seen} Give --metric the name the script prints with its "
        f"validation value, or --metric-regex with one group around the number. The run's "
        f"output: {log_path}"
    )


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def run_length(capture: dict[str, Any], record: dict[str, Any] | None) -> int:
    """A trial's length in optimizer steps: ``--total-steps``, else the first run's."""
    if capture.get("total_steps"):
        return int(capture["total_steps"])
    assert record is not None
    return int(record["steps"])


def prepare(study_run: Any, pool: Any, script: str, console: Any, log_path: Path) -> dict[str, Any]:
    """What every trial of a ``--metric`` study runs with (``pool.capture``): the first run is
    made and kept in the study unless it is there already (or ``--total-steps`` makes it
    unneeded)."""
    from autolr.search.seeds import trial_seed
    from autolr.trials.workers import with_seed_arg

    settings = study_run.settings
    capture = settings["capture"]
    record = stored(study_run.study)
    if record is None and not capture.get("total_steps"):
        seed = trial_seed(settings["seed"], FIRST_RUN_SEED)
        args = list(pool.script_args)
        if pool.seed_arg:
            args = with_seed_arg(args, pool.seed_arg, seed)
        console.print("First run: the script as it is, its own schedule untouched, to measure "
                      f"its length, its LR and its value (output: {log_path}) ...",
                      highlight=False, markup=False)
        found = observe(script, args, capture, seed, pool.first_env(), log_path)
        with study_run.lock.held():  # another machine may have kept its own meanwhile
            record = stored(study_run.study)
            if record is None:
                study_run.study.set_user_attr(SCRIPT_RUN_ATTR, found)
                record = found
    if record is not None:
        console.print(describe(record), highlight=False, markup=False)
    return {"metric": capture.get("metric"), "regex": capture.get("regex"),
            "total_steps": run_length(capture, record),
            "script_lr": record["lr"] if record is not None else None}


def describe(record: dict[str, Any]) -> str:
    """The first run in a line."""
    return (f"The script as it is: {record['steps']} optimizer steps, its LR peaks at "
            f"{record['lr']:.4g}, {record['metric']} = {record['value']:.6g} (its own schedule, "
            "the baseline to beat).")
