"""The ``autolr`` command: thin — parse, call the library, print.

Usage errors exit 2 with a message; other errors a user can cause exit 1 with a message that says
what was wrong and how to fix it. ``--debug`` shows the traceback too. Ctrl-C during ``tune``
exits 130 after leaving the study consistent.

This module is the commands, their options and their wiring: option values are parsed by
:mod:`autolr.cli.options`, a study is run by :mod:`autolr.cli.run` and printed by
:mod:`autolr.cli.show`.
"""

from __future__ import annotations

import errno
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from autolr.cli.options import (
    check_script,
    parse_capture,
    parse_confirm,
    parse_families,
    parse_gpus,
    parse_ladder,
    parse_lr,
)
from autolr.cli.output import closed_output, end_quietly_on_closed_pipe, output_console
from autolr.cli.run import EXIT_INTERRUPTED as EXIT_INTERRUPTED  # still autolr.cli's
from autolr.cli.run import run_tune
from autolr.cli.show import print_show, short, show_json
from autolr.errors import AutolrError, ConfigError


class _Context:
    debug = False


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class AutolrGroup(click.Group):
    """Turns autolr's own errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AutolrError as exc:
            if closed_output():
                end_quietly_on_closed_pipe()
            if _Context.debug:
                traceback.print_exc()
            _fail(str(exc))
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            if closed_output():  # `autolr show | head`: the reader has what it wanted
                end_quietly_on_closed_pipe()
            # a broken connection of autolr's own (click would end it silently with status 1)
            if _Context.debug:
                traceback.print_exc()
            _fail(f"{type(exc).__name__}: {exc} (--debug shows where)")


@click.group(cls=AutolrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="autolr")
def main(debug: bool) -> None:
    """Find the learning-rate schedule for a PyTorch training script.

    \b
    autolr tune train.py --trials 40     run (or resume) a study
    autolr show                          trials and the best schedule
    autolr export -o best_schedule.py    the winner as code that needs only torch
    autolr report                        the study as one HTML page
    autolr families                      every schedule family and its search space
    """
    _Context.debug = debug


# --- tune -----------------------------------------------------------------------------------------


@main.command()
@click.argument("script", type=str)
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None,
              help="The study's budget: the compute of N full-length runs, baselines included "
                   "(with --search lr_first or full: N finished trials); default 20 for a new "
                   "study, its own for a stored one. The same command resumes toward it.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop starting trials after this many seconds.")
@click.option("--direction", type=click.Choice(["minimize", "maximize"]), default=None,
              help="Whether lower or higher reported values are better (default minimize).")
@click.option("--families", default=None, metavar="A,B",
              help="Families to search (default: every built-in one). See `autolr families`.")
@click.option("--lr", "lr_range", default=None, metavar="MIN:MAX",
              help="Peak-LR range (default: 0.1x-10x the script's own LR, widened at the edges).")
@click.option("--no-warmup", is_flag=True, default=None, help="Do not search a warmup.")
@click.option("--search", type=click.Choice(["lr_first", "full", "ladder"]), default=None,
              help="lr_first (default for a new study): a line search on the peak LR with "
                   "linear decay, then shapes near that LR; full: every family sampled from the "
                   "start (both: every run at full length, stopped early by --pruner); ladder: "
                   "successive halving over runs that follow their whole schedule in a fraction "
                   "of the steps. A resumed study keeps its own.")
@click.option("--ladder", "ladder", default=None, metavar="F,F,1",
              help="The ladder's rungs as fractions of the run (default 1/9,1/3,1); each moves "
                   "to the nearest step where the script reports.")
@click.option("--eta", type=click.IntRange(min=2), default=None,
              help="The ladder's reduction factor: the best 1/eta of a rung go on (default 3).")
@click.option("--pruner", type=click.Choice(["median", "percentile", "hyperband", "sha", "none"]),
              default=None, help="With --search lr_first or full: how hopeless trials are "
                                 "stopped early (default median).")
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default=None,
              help="How trials are chosen (default tpe).")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=None,
              help="Study seed; each trial's seed derives from it and the trial number.")
@click.option("--study", "study_name", default=None,
              help="Study name (default: the script's file name without .py).")
@click.option("--storage", default=None, metavar="URL",
              help="SQLAlchemy URL (default: sqlite:///studies/<study>.db here).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per GPU, else one).")
@click.option("--gpus", default=None, metavar="0,1",
              help="GPUs to use, one worker each (default: every visible GPU).")
@click.option("--trials-per-gpu", "trials_per_gpu", type=click.IntRange(min=1), default=None,
              help="Run K trials at once on each GPU (K workers share it, each seeing only its "
                   "GPU); drops by itself when a shared GPU runs out of memory. Default 1.")
@click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop and fail a trial that runs longer than this many seconds.")
@click.option("--isolate", is_flag=True,
              help="A fresh process per trial, for scripts that leak state between runs.")
@click.option("--no-baselines", is_flag=True,
              help="Skip the baseline trials (constant, cosine, linear at the script's LR).")
@click.option("--confirm", "confirm", default=None, metavar="K:M",
              help="Re-run the top K configurations and the constant baseline on M fresh seeds "
                   "once the search is done, inside --trials; the winner is the best mean. "
                   "0 turns it off (default: about a sixth of the budget; from --trials 20 on, "
                   "the top 3 on 2 fresh seeds).")
@click.option("--seed-arg", "seed_arg", default=None, metavar="OPTION",
              help="Pass each trial's seed to the script as this option (e.g. --seed), "
                   "replacing one given after --.")
@click.option("--metric", default=None, metavar="NAME",
              help="For a script without autolr calls: the metric it prints (NAME followed by "
                   "a number, e.g. val_loss=0.12); its LR is set through torch's optimizer "
                   "hooks.")
@click.option("--metric-regex", "metric_regex", default=None, metavar="REGEX",
              help="As --metric, for any other format: a regex with one group, the number.")
@click.option("--total-steps", "total_steps", type=click.IntRange(min=1), default=None,
              help="With --metric: a run's length in optimizer steps (default: measured by the "
                   "study's first run, the script as it is).")
def tune(
    script: str,
    script_args: tuple[str, ...],
    n_trials: int | None,
    timeout: float | None,
    direction: str | None,
    families: str | None,
    lr_range: str | None,
    no_warmup: bool | None,
    search: str | None,
    ladder: str | None,
    eta: int | None,
    pruner: str | None,
    sampler: str | None,
    seed: int | None,
    study_name: str | None,
    storage: str | None,
    workers: int | None,
    gpus: str | None,
    trials_per_gpu: int | None,
    trial_timeout: float | None,
    isolate: bool,
    no_baselines: bool,
    confirm: str | None,
    seed_arg: str | None,
    metric: str | None,
    metric_regex: str | None,
    total_steps: int | None,
) -> None:
    """Run a study on SCRIPT (a training script using autolr.scheduler and autolr.report, or
    any PyTorch script with --metric NAME).

    Arguments after `--` are passed to the script. Running the same command again resumes the
    study toward --trials; at the end the best schedule is written to studies/<study>/. A study
    keeps its settings (direction, families, search, pruner, script arguments...): another
    machine joins it with `autolr tune SCRIPT --storage URL --study NAME` alone.
    """
    from autolr.study.files import artefact_dir, safe_file_name
    from autolr.study.storage import default_storage_url

    path = check_script(script)
    family_list = parse_families(families)
    bounds = parse_lr(lr_range)
    fidelities = parse_ladder(ladder)
    gpu_list = parse_gpus(gpus)
    name = study_name or path.stem
    url = storage or default_storage_url(safe_file_name(name))

    from autolr.study.config import make_config

    config = make_config(
        n_trials=n_trials, direction=direction, families=family_list, lr=bounds,
        warmup=None if no_warmup is None else not no_warmup, pruner=pruner, sampler=sampler,
        seed=seed, storage=url, study_name=name, baselines=not no_baselines, timeout=timeout,
        search=search, ladder=fidelities, eta=eta, confirm=parse_confirm(confirm),
        seed_arg=seed_arg, script=str(path.resolve()),
        script_args=list(script_args) if script_args else None,
        capture=parse_capture(metric, metric_regex, total_steps), owner="autolr tune",
    )
    if gpu_list is None:
        from autolr.trials.workers import visible_gpus

        gpu_list = visible_gpus()
    if trials_per_gpu is not None:
        if workers is not None:
            raise click.UsageError(
                "--workers and --trials-per-gpu both set how many trials run at once; give one."
            )
        if not gpu_list:
            raise ConfigError(
                f"--trials-per-gpu {trials_per_gpu} shares GPUs between trials, but this "
                "machine has no GPU visible (CUDA_VISIBLE_DEVICES, drivers). Use --workers N "
                "for N trials at once on the CPU."
            )
    worker_count = workers or len(gpu_list) * (trials_per_gpu or 1) or 1
    out_dir = artefact_dir(name)
    run_tune(config, path, worker_count, gpu_list, trial_timeout, isolate, out_dir,
             trials_per_gpu=trials_per_gpu or 1)


# --- show / export / report ---------------------------------------------------------------------


def _study_options(function: Any) -> Any:
    function = click.option("--storage", default=None, metavar="URL",
                            help="SQLAlchemy URL (default: sqlite:///studies/<study>.db).")(function)
    return click.option("--study", "study_name", default=None,
                        help="Study name (default: the only study in ./studies).")(function)


@main.command()
@_study_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best trials to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def show(study_name: str | None, storage: str | None, top: int, as_json: bool) -> None:
    """Trials and the best schedule of a study, as a table."""
    from autolr.reports.stored import StudyView, open_study

    study = StudyView(open_study(study_name, storage))  # its trials read once, checked
    trials = study.get_trials(deepcopy=False)
    if as_json:
        click.echo(show_json(study, trials, top))
        return
    print_show(output_console(), study, trials, top)


@main.command()
@_study_options
@click.option("--format", "fmt", type=click.Choice(["python", "json"]), default="python",
              show_default=True, help="Standalone Python (needs only torch) or JSON.")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Where to write (default: studies/<study>/best_schedule.<py|json>, with "
                   "--total-steps N best_schedule_N_steps.<py|json>; - for standard output).")
@click.option("--force", is_flag=True, help="Replace an existing file autolr did not write.")
@click.option("--total-steps", "total_steps", type=click.IntRange(min=1), default=None,
              metavar="N",
              help="Write the schedule for a run of N scheduler.step() calls (default: the "
                   "length it was tuned at); every phase, warmup included, keeps its fraction "
                   "of the run.")
def export(study_name: str | None, storage: str | None, fmt: str, output: str | None,
           force: bool, total_steps: int | None) -> None:
    """Write a study's best schedule as code or JSON (--total-steps N: for a run of N steps)."""
    import math

    from autolr.exporting.export import export as write_export
    from autolr.exporting.export import render_json, render_python
    from autolr.reports.stored import StudyView, open_study
    from autolr.result import TuneResult
    from autolr.study.files import artefact_dir

    study = StudyView(open_study(study_name, storage))  # its trials read once, checked
    result = TuneResult(study)  # type: ignore[arg-type]  # a StudyView answers as the study
    spec = result.best_spec
    facts = result.found_by()
    value = facts.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"The best trial of study {study.study_name!r}, #{facts['trial']}, has the "
            f"objective value {value!r}; an exported schedule records its winner's value, which "
            "must be a finite number. An infinite objective is a broken metric (a loss that "
            "overflowed), not a good schedule: fix what the script passes to autolr.report and "
            "tune again, or export another trial's schedule from Python with "
            "autolr.export(autolr.ScheduleSpec.from_json(trial.user_attrs['spec']), PATH)."
        )
    if output == "-":
        render = render_python if fmt == "python" else render_json
        click.echo(render(spec, found_by=facts, total_steps=total_steps), nl=False)
        return
    if output is None:
        suffix = "py" if fmt == "python" else "json"
        # a file for another length sits beside the tuned one, never in its place
        length = f"_{total_steps}_steps" if total_steps is not None else ""
        output = str(artefact_dir(study.study_name) / f"best_schedule{length}.{suffix}")
    written = write_export(spec, output, fmt, found_by=facts, overwrite=force,
                           total_steps=total_steps)
    click.echo(f"Wrote {written}")


@main.command(name="run", context_settings={"ignore_unknown_options": True})
@click.argument("script", type=str)
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@_study_options
@click.option("--schedule", default=None, metavar="FILE",
              help="A schedule written by autolr export --format json (default: the study's "
                   "winner).")
@click.option("--total-steps", "total_steps", type=click.IntRange(min=1), default=None,
              metavar="N", help="Stretch the schedule to a run of N optimizer steps.")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=None,
              help="Seed random, NumPy and torch first (and pass it as --seed-arg's option).")
@click.option("--seed-arg", "seed_arg", default=None, metavar="OPTION",
              help="The script's option for its seed (default: the study's).")
@click.option("--metric", default=None, metavar="NAME",
              help="The metric the script prints, for a plateau schedule to follow.")
@click.option("--metric-regex", "metric_regex", default=None, metavar="REGEX",
              help="As --metric, a regex with one group, the number.")
def run_command(script: str, script_args: tuple[str, ...], study_name: str | None,
                storage: str | None, schedule: str | None, total_steps: int | None,
                seed: int | None, seed_arg: str | None, metric: str | None,
                metric_regex: str | None) -> None:
    """Run SCRIPT once, unmodified, with a schedule set through torch's optimizer hooks.

    Arguments after `--` are passed to the script (default: the study's).
    """
    from autolr.cli.apply import load_spec, run_with_schedule

    path = check_script(script)
    parse_capture(metric, metric_regex, None)  # both at once is refused
    spec, stored_args, source = load_spec(schedule, study_name, storage, path)
    if total_steps is not None and total_steps != spec.total_steps:
        spec = spec.with_total_steps(total_steps)
    args = list(script_args) if script_args else (stored_args or [])
    click.echo(f"autolr run: {path.name} with {spec.family} at peak LR {spec.lr:.4g} over "
               f"{spec.total_steps} optimizer steps ({source}).", err=True)
    run_with_schedule(path, args, spec, seed=seed, seed_arg=seed_arg, metric=metric,
                      metric_regex=metric_regex, echo=lambda text: click.echo(text, err=True))


@main.command(name="report")
@_study_options
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Where to write (default: studies/<study>/report.html).")
def report_command(study_name: str | None, storage: str | None, output: str | None) -> None:
    """Write the study as one self-contained HTML page (opens offline)."""
    from autolr.reports import write_report
    from autolr.reports.stored import open_study

    study = open_study(study_name, storage)
    path = write_report(study=study, output=output)
    click.echo(f"Wrote {path}")


@main.command(name="confirm")
@_study_options
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Configurations to confirm (default: the study's own number, 3 if none).")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Fresh seeds per configuration (default: one more than the study has).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per GPU, else one).")
def confirm_command(study_name: str | None, storage: str | None, top: int | None,
                    seeds: int | None, workers: int | None) -> None:
    """Re-run a study's top configurations and the constant baseline on fresh seeds, beyond
    its budget; the winner becomes the best mean and the exports are written again."""
    from autolr.api import confirmation_config
    from autolr.study.config import SETTINGS_ATTR
    from autolr.study.files import artefact_dir, load_study, resolve_study

    name, url = resolve_study(study_name, storage)
    settings = load_study(name, url).user_attrs.get(SETTINGS_ATTR) or {}
    config = confirmation_config(url, name, top, seeds, owner="autolr confirm")
    script = settings.get("script")
    if not script:
        raise ConfigError(
            f"Study {name!r} was tuned from Python (autolr.tune), so autolr confirm does not "
            "know its training script. Call autolr.confirm(train, study_name=..., storage=...) "
            "from Python instead."
        )
    path = Path(script)
    if not path.is_file():
        raise ConfigError(
            f"Study {name!r} was tuned with the script {script!r}, which is not there any more. "
            "Put it back (or run autolr tune on its new path with --study and --storage)."
        )
    from autolr.trials.workers import visible_gpus

    gpu_list = visible_gpus()
    worker_count = workers or (len(gpu_list) if gpu_list else 1)
    run_tune(config, path, worker_count, gpu_list, None, False, artefact_dir(name),
             confirm_only=True)


# --- families / studies -----------------------------------------------------------------------


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def families(name: str | None, as_json: bool) -> None:
    """Every schedule family with its parameters and search space (or one family in detail)."""
    from rich.table import Table
    from rich.text import Text

    from autolr.schedules.registry import families as family_names
    from autolr.schedules.registry import family_info

    infos = [family_info(name)] if name else [family_info(n) for n in family_names()]
    if as_json:
        click.echo(json.dumps(infos if name is None else infos[0], indent=2))
        return
    console = output_console()
    table = Table(title="Schedule families", title_justify="left", show_lines=name is not None)
    table.add_column("family", style="bold")
    table.add_column("what it does")
    table.add_column("parameters (default; searched range)")
    for info in infos:
        params = []
        for p in info["params"]:
            search = p.get("search")
            if search is None:
                searched = "see 'searched'" if info.get("search") else "not searched"
            elif "choices" in search:
                searched = "/".join(map(str, search["choices"]))
            else:
                searched = f"{search['low']:g}-{search['high']:g}{' log' if search['log'] else ''}"
            params.append(f"{p['name']}={short(p['default'])} ({searched})")
        what = info["summary"]
        if info.get("search"):
            what += f"\nsearched: {info['search']}"
        if name:
            what += f"\nformula: {info['formula']}\nshortened: {info['shortened']}"
            if info["torch_equivalent"]:
                what += f"\ntorch: {info['torch_equivalent']}"
        table.add_row(Text(info["name"]), Text(what), Text("\n".join(params) or "-"))
    console.print(table)
    if not name:
        console.print("Every family also takes a peak LR and an optional linear warmup. On the "
                      "fidelity ladder a shortened run follows its whole schedule compressed "
                      "into its steps; plateau's patience and cooldown, counted in reports, "
                      "are scaled with it, and plateau starts at the lowest rung with 3 "
                      "reports. `autolr families NAME` shows one in detail.")


@main.command()
@click.option("--storage", default=None, metavar="URL",
              help="SQLAlchemy URL (default: every studies/*.db here).")
def studies(storage: str | None) -> None:
    """List the studies in a storage, with their trial counts and best values."""
    import optuna
    from rich.table import Table

    from autolr.study.files import local_study_databases
    from autolr.study.storage import open_storage

    urls = [storage] if storage else [f"sqlite:///{p}" for p in local_study_databases()]
    if not urls:
        raise ConfigError("No study databases in ./studies. Run `autolr tune SCRIPT` first, or "
                          "pass --storage URL.")
    table = Table(title="Studies", title_justify="left")
    for column in ("study", "storage", "direction", "trials", "best"):
        table.add_column(column)
    for url in urls:
        if storage:
            from autolr.study.files import study_names

            study_names(url)  # a clear error for a missing file
        for summary in optuna.get_all_study_summaries(open_storage(url)):
            best = summary.best_trial.value if summary.best_trial else None
            table.add_row(summary.study_name, url, summary.direction.name.lower(),
                          str(summary.n_trials), "-" if best is None else f"{best:.6g}")
    output_console().print(table)
