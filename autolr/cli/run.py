"""Running a study for ``autolr tune`` and ``autolr confirm``: the worker pool, the progress
display, Ctrl-C, and the summary and exported schedule at the end.

The commands in :mod:`autolr.cli` parse their options into a configuration; this module runs it.
Heavy modules (optuna, rich, the workers) are imported inside the functions, so
``autolr --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

from autolr.cli.output import closed_output, output_console
from autolr.cli.show import print_summary
from autolr.errors import AutolrError, AutolrWarning

EXIT_INTERRUPTED = 130
"""The exit status after Ctrl-C (128 + SIGINT, as shells report it), the study left consistent."""


def run_tune(config: Any, path: Path, worker_count: int, gpu_list: list[str],
             trial_timeout: float | None, isolate: bool, out_dir: Path, *,
             confirm_only: bool = False, trials_per_gpu: int = 1) -> None:
    """Run ``config`` on the script at ``path`` with ``worker_count`` workers over
    ``gpu_list``, showing progress, then print the summary and write the best schedule to
    ``out_dir``. The command line as given is printed as the way to resume after Ctrl-C
    (exit 130) or a lost storage. ``confirm_only``: run only the confirmation, beyond the
    budget (``autolr confirm``)."""
    import optuna

    from autolr.cli.progress import TuneProgress
    from autolr.tuner import StudyRun

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # autolr prints its own progress
    command = " ".join(shlex.quote(a) for a in ["autolr", *sys.argv[1:]])
    from autolr.trials.workers import WorkerPool

    console = output_console()
    from autolr.study.storage import display_url
    from autolr.study.storage_retry import StorageUnavailable

    pool = WorkerPool(path, workers=worker_count, gpus=gpu_list, trial_timeout=trial_timeout,
                      isolate=isolate, log_dir=out_dir / "logs", trials_per_gpu=trials_per_gpu)
    try:
        study_run = StudyRun(config, pool)
    except BaseException:
        pool.close()  # the workers started beside the study's opening; a refused study stops them
        raise
    config = study_run.config  # the study's own settings filled in
    study_run.extend_confirmation = confirm_only
    # the script's arguments and seed option as the study keeps them (another machine's)
    pool.script_args = list(study_run.settings.get("script_args") or [])
    pool.seed_arg = study_run.settings.get("seed_arg")
    spent, unit = study_run.budget_status()
    devices = ", ".join(pool.worker_names())
    shown = f"{spent:.1f} of {study_run.n_trials} full runs of compute spent" \
        if unit == "full runs" else f"{spent:.0f} of {study_run.n_trials} trials done"
    console.print(
        f"Study [bold]{config.study_name}[/] in {display_url(config.storage)}: {shown}; "
        f"workers: {devices}. Worker output: {out_dir / 'logs'}", highlight=False,
    )
    if pool.script_args:
        console.print(f"Script arguments: {' '.join(map(shlex.quote, pool.script_args))}",
                      highlight=False, markup=False)
    console.print(study_run.search.describe(), highlight=False, markup=False)
    if study_run.settings.get("capture"):  # autolr tune --metric: the script as it is, first
        from autolr.trials import first_run

        try:
            pool.capture = first_run.prepare(study_run, pool, str(path), console,
                                              out_dir / "logs" / "script-as-it-is.log")
        except BaseException:
            pool.close()
            raise
    if study_run.recovered:
        console.print(f"Recovered abandoned trial(s) {study_run.recovered}: marked failed, "
                      "parameters queued again.")
    progress = TuneProgress(console, pool, target=study_run.n_trials,
                            status=study_run.budget_status, direction=config.direction)
    study_run.on_trial_start = progress.trial_started
    study_run.on_trial_end = progress.trial_ended
    try:
        # autolr's warnings are printed with the summary, not as Python warnings mid-run
        with progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", AutolrWarning)
            result = study_run.run()
    except KeyboardInterrupt:
        spent, unit = study_run.budget_status()
        shown = f"{spent:.1f}" if unit == "full runs" else f"{spent:.0f}"
        console.print(
            f"\nInterrupted. The study is saved: {shown} of {study_run.n_trials} {unit} done; "
            "trials that were running are marked failed ('interrupted') and queued again.\n"
            f"Resume with the same command:\n  {command}",
            highlight=False, markup=False,
        )
        sys.exit(EXIT_INTERRUPTED)
    except StorageUnavailable as exc:
        raise AutolrError(f"{exc}\n  {command}") from exc
    except AutolrError:
        raise
    except Exception as exc:
        if closed_output():
            raise  # nobody reads the output any more: the command ends quietly (autolr.cli)
        raise AutolrError(
            f"autolr tune stopped on an unexpected error: {type(exc).__name__}: {exc}\n"
            "Every result it recorded is kept; trials that were running are marked failed "
            "('stopped') and queued again. --debug shows the traceback. Resume with the same "
            f"command:\n  {command}"
        ) from exc
    print_summary(console, result.study, top=5)
    for message in result.notes:  # the ladder itself is in the summary above
        if not message.startswith("Fidelity ladder:"):
            console.print(message, highlight=False, markup=False)
    for message in result.warnings:
        console.print(f"[yellow]Warning:[/] {message}", highlight=False)
    if result.lr_edge:
        console.print(f"[yellow]LR edge:[/] {result.lr_edge}", highlight=False)
    try:
        result.best_trial  # noqa: B018 - raises the explanation when nothing completed
    except AutolrError as exc:
        raise AutolrError(str(exc)) from None
    py_path = result.export(str(out_dir / "best_schedule.py"), "python")
    json_path = result.export(str(out_dir / "best_schedule.json"), "json")
    console.print(f"Best schedule written to:\n  {py_path}\n  {json_path}", highlight=False)
    args = " ".join(shlex.quote(a) for a in [str(path), *pool.script_args])
    how = (f"autolr run {args}" if pool.capture else
           f"AUTOLR_SCHEDULE={shlex.quote(str(json_path))} python {args}")
    console.print(f"Run your script with it: {how}", highlight=False, markup=False,
                  soft_wrap=True)
