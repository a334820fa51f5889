"""The ``autolr`` command: thin — parse, call the library, print.

Usage errors exit 2 with a message; other errors a user can cause exit 1 with a message that says
what was wrong and how to fix it. ``--debug`` shows the traceback too. Ctrl-C during ``tune``
exits 130 after leaving the study consistent.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from autolr.errors import AutolrError, AutolrWarning, ConfigError

EXIT_INTERRUPTED = 130


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
            if _Context.debug:
                traceback.print_exc()
            _fail(str(exc))


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


# --- option parsing helpers ---------------------------------------------------------------------


def _parse_lr(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    low, sep, high = value.partition(":")
    try:
        if not sep:
            raise ValueError
        bounds = (float(low), float(high))
    except ValueError:
        raise click.BadParameter(
            f"must be MIN:MAX, two peak LRs such as 1e-4:1e-1. Got {value!r}.", param_hint="--lr"
        ) from None
    if not (0 < bounds[0] < bounds[1]) or not all(map(_finite, bounds)):
        raise click.BadParameter(
            f"must be MIN:MAX with 0 < MIN < MAX. Got {value!r}; swap or fix the bounds.",
            param_hint="--lr",
        )
    return bounds


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def _parse_families(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from autolr._validation import closest
    from autolr.schedules.registry import families

    names = [f.strip() for f in value.split(",") if f.strip()]
    if not names:
        raise click.BadParameter("must name at least one family.", param_hint="--families")
    known = families()
    for name in names:
        if name not in known:
            close = closest(name, known)
            hint = f" Did you mean {close!r}?" if close else ""
            raise click.BadParameter(
                f"unknown family {name!r}.{hint} Known families: {', '.join(known)} "
                "(`autolr families` describes them).",
                param_hint="--families",
            )
    return names


def _parse_ladder(value: str | None) -> list[float] | None:
    """``1/9,1/3,1`` (fractions or decimals) as numbers; their rules are checked by the tuner."""
    if value is None:
        return None
    fidelities = []
    for item in (part.strip() for part in value.split(",")):
        try:
            top, sep, bottom = item.partition("/")
            fidelities.append(float(top) / float(bottom) if sep else float(item))
        except (ValueError, ZeroDivisionError):
            raise click.BadParameter(
                f"must be fractions of the run separated by commas, such as 1/9,1/3,1. Got "
                f"{value!r}; {item!r} is not a number or a fraction.", param_hint="--ladder",
            ) from None
    return fidelities


def _parse_confirm(value: str | None) -> tuple[int, int] | None:
    """``K:M`` (or ``0``) as numbers; the tuner checks their rules."""
    if value is None:
        return None
    if value.strip() == "0":
        return (0, 0)
    top, sep, seeds = value.partition(":")
    try:
        if not sep:
            raise ValueError
        plan = (int(top), int(seeds))
    except ValueError:
        raise click.BadParameter(
            f"must be K:M, the top K configurations on M fresh seeds (such as 2:1), or 0 for "
            f"none. Got {value!r}.", param_hint="--confirm",
        ) from None
    if min(plan) < 0:
        raise click.BadParameter(
            f"K and M must be whole numbers >= 0. Got {value!r}.", param_hint="--confirm",
        )
    return plan


def _parse_gpus(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [g.strip() for g in value.split(",") if g.strip()]
    if not ids or not all(g.isdigit() for g in ids):
        raise click.BadParameter(
            f"must be GPU ids separated by commas, such as 0,1. Got {value!r}.", param_hint="--gpus"
        )
    return ids


def _check_script(script: str) -> Path:
    path = Path(script)
    if not path.exists():
        raise click.UsageError(f"The script {script!r} does not exist. Check the path.")
    if not path.is_file():
        raise click.UsageError(f"{script!r} is a folder, not a training script.")
    try:
        source = path.read_bytes()
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}"
        line = (exc.text or "").rstrip("\n")
        caret = " " * max((exc.offset or 1) - 1, 0) + "^"
        raise ConfigError(
            f"The script has a syntax error, so no trial was started.\n  {where}\n    {line}\n"
            f"    {caret}\n{exc.msg}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the script {script!r}: {exc}") from None
    return path


# --- tune -----------------------------------------------------------------------------------------


@main.command()
@click.argument("script", type=str)
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None,
              help="The study's budget: the compute of N full-length runs, baselines included "
                   "(with --search full: N finished trials); default 20 for a new study, its "
                   "own for a stored one. The same command resumes toward it.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop starting trials after this many seconds.")
@click.option("--direction", type=click.Choice(["minimize", "maximize"]), default=None,
              help="Whether lower or higher reported values are better (default minimize).")
@click.option("--families", default=None, metavar="A,B",
              help="Families to search (default: every built-in one). See `autolr families`.")
@click.option("--lr", "lr_range", default=None, metavar="MIN:MAX",
              help="Peak-LR range (default: 0.1x-10x the script's own LR, widened at the edges).")
@click.option("--no-warmup", is_flag=True, default=None, help="Do not search a warmup.")
@click.option("--search", type=click.Choice(["ladder", "full"]), default=None,
              help="ladder (default for a new study): successive halving over runs that follow "
                   "their whole schedule in a fraction of the steps; full: every run at full "
                   "length, stopped early by --pruner. A resumed study keeps its own.")
@click.option("--ladder", "ladder", default=None, metavar="F,F,1",
              help="The ladder's rungs as fractions of the run (default 1/9,1/3,1); each moves "
                   "to the nearest step where the script reports.")
@click.option("--eta", type=click.IntRange(min=2), default=None,
              help="The ladder's reduction factor: the best 1/eta of a rung go on (default 3).")
@click.option("--pruner", type=click.Choice(["median", "percentile", "hyperband", "sha", "none"]),
              default=None, help="With --search full: how hopeless trials are stopped early "
                                 "(default median).")
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
                   "0 turns it off (default: about a sixth of the budget).")
@click.option("--seed-arg", "seed_arg", default=None, metavar="OPTION",
              help="Pass each trial's seed to the script as this option (e.g. --seed), "
                   "replacing one given after --.")
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
) -> None:
    """Run a study on SCRIPT (a training script using autolr.scheduler and autolr.report).

    Arguments after `--` are passed to the script. Running the same command again resumes the
    study toward --trials; at the end the best schedule is written to studies/<study>/. A study
    keeps its settings (direction, families, search, pruner, script arguments...): another
    machine joins it with `autolr tune SCRIPT --storage URL --study NAME` alone.
    """
    from autolr.storage import default_storage_url
    from autolr.study_files import artefact_dir, safe_file_name

    path = _check_script(script)
    family_list = _parse_families(families)
    bounds = _parse_lr(lr_range)
    fidelities = _parse_ladder(ladder)
    gpu_list = _parse_gpus(gpus)
    name = study_name or path.stem
    url = storage or default_storage_url(safe_file_name(name))

    from autolr.tuner import make_config

    config = make_config(
        n_trials=n_trials, direction=direction, families=family_list, lr=bounds,
        warmup=None if no_warmup is None else not no_warmup, pruner=pruner, sampler=sampler,
        seed=seed, storage=url, study_name=name, baselines=not no_baselines, timeout=timeout,
        search=search, ladder=fidelities, eta=eta, confirm=_parse_confirm(confirm),
        seed_arg=seed_arg, script=str(path.resolve()),
        script_args=list(script_args) if script_args else None, owner="autolr tune",
    )
    if gpu_list is None:
        from autolr.workers import visible_gpus

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
    command = " ".join(shlex.quote(a) for a in ["autolr", *sys.argv[1:]])
    _run_tune(config, path, worker_count, gpu_list, trial_timeout, isolate, out_dir, command,
              trials_per_gpu=trials_per_gpu or 1)


def _search_line(study_run: Any) -> str:
    """How the study searches, in one line."""
    settings = study_run.settings
    if study_run.search is None:
        why = " (the fidelity ladder could not be used)" if settings.get("ladder_fallback") else ""
        return f"Search: full{why}, every run at full length, pruner {study_run.pruner}."
    if study_run.search.ladder is not None:
        return f"Search: fidelity ladder, {study_run.search.ladder.describe()}."
    request = settings["ladder_request"]
    rungs = ", ".join(f"{f:.3g}" for f in request["fidelities"])
    return (f"Search: fidelity ladder, rungs {rungs} of the run, eta {request['eta']}; they are "
            "placed where the script reports once its first full run completes.")


def _run_tune(config: Any, path: Path, worker_count: int, gpu_list: list[str],
              trial_timeout: float | None, isolate: bool, out_dir: Path, command: str, *,
              confirm_only: bool = False, trials_per_gpu: int = 1) -> None:
    import optuna
    from rich.console import Console

    from autolr.progress import TuneProgress
    from autolr.tuner import StudyRun

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # autolr prints its own progress
    from autolr.workers import WorkerPool

    console = Console(stderr=False)
    from autolr.storage import display_url
    from autolr.storage_retry import StorageUnavailable

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
    console.print(_search_line(study_run), highlight=False, markup=False)
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
    _print_summary(console, result.study, top=5)
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
    console.print(
        f"Run your script with it: AUTOLR_SCHEDULE={shlex.quote(str(json_path))} python {args}",
        highlight=False, markup=False, soft_wrap=True,
    )


# --- show / export / report ---------------------------------------------------------------------


def _trial_rows(study: Any, top: int, trials: list[Any]) -> list[dict[str, Any]]:
    """The best complete full-fidelity trials: the configurations confirmed on fresh seeds
    first, by their mean (the winner first), then the others by their value. Confirmation runs
    are folded into the trial they confirm. Each field has its documented type or is None,
    whatever the database holds (``trials``: checked by :mod:`autolr.reports.untrusted`)."""
    from collections.abc import Mapping

    from optuna.trial import TrialState

    from autolr.confirmation import confirmed
    from autolr.reports.untrusted import is_number, is_whole

    means = {c.number: c for c in confirmed(trials)}
    complete = [t for t in trials if t.state == TrialState.COMPLETE
                and "confirms" not in t.user_attrs and t.user_attrs.get("fidelity", 1.0) == 1.0]
    sign = -1.0 if study.direction.name.lower() == "maximize" else 1.0
    complete.sort(key=lambda t: (t.number not in means,
                                 sign * (means[t.number].mean if t.number in means else t.value)))
    rows = []
    for rank, trial in enumerate(complete[:top], 1):
        attrs = trial.user_attrs
        spec = attrs.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        family = spec.get("family")
        if not isinstance(family, str):
            family = trial.params.get("family")
        params = spec.get("params")
        lr, warmup, total = attrs.get("lr"), spec.get("warmup_steps"), spec.get("total_steps")
        baseline = attrs.get("baseline")
        rows.append({
            "rank": rank,
            "trial": trial.number,
            "value": trial.value,
            "confirmed": _mean_text(means[trial.number]) if trial.number in means else None,
            "family": None if family is None else str(family),
            "lr": lr if is_number(lr) else None,
            "warmup": warmup if is_whole(warmup) else None,
            "total": total if is_whole(total) else None,
            "params": ({str(k): v for k, v in params.items()} if isinstance(params, Mapping)
                       else {}),
            "baseline": None if baseline is None else str(baseline),
        })
    return rows


def _mean_text(confirmed: Any) -> str:
    """``0.0863±0.0078 (2)``: a configuration's mean, spread and seeds, for a table cell."""
    return f"{confirmed.mean:.4g}±{confirmed.std:.1g} ({len(confirmed.values)})"


def _print_summary(console: Any, study: Any, top: int) -> None:
    """The study's counts, its ladder, its best trials and its winner. ``study``: an
    ``optuna.Study``, or the :class:`~autolr.reports.stored.StudyView` of one (its trials read
    once); every text from the database is printed as itself, never as markup or escape
    codes."""
    from rich.table import Table
    from rich.text import Text

    from autolr.reports.stored import view_of
    from autolr.reports.untrusted import MAX_TEXT, terminal_text
    from autolr.result import count_states

    study = view_of(study)
    trials = study.get_trials(deepcopy=False)  # one read serves the whole summary
    counts = count_states(study, trials)
    console.print(
        f"Study [bold]{terminal_text(study.study_name, markup=True)}[/] "
        f"({study.direction.name.lower()}): {counts['complete']} complete"
        + (f", {counts['shortened']} shortened" if counts["shortened"] else "")
        + f", {counts['pruned']} pruned, {counts['failed']} failed"
        + (f", {counts['running']} running" if counts["running"] else ""),
        highlight=False,
    )
    summary = _ladder_summary(study, trials)
    if summary is not None:
        for line in summary.lines():
            console.print(terminal_text(line), highlight=False, markup=False)
    rows = _trial_rows(study, top, trials)
    if not rows:
        console.print("No complete trial yet.")
        return
    table = Table(title=f"Top {len(rows)} trials", title_justify="left")
    confirmed = any(row["confirmed"] for row in rows)  # the column only where it says something
    columns = ("rank", "trial", "value", *(("mean±std (n)",) if confirmed else ()), "family",
               "peak LR", "warmup", "parameters")
    for column in columns:
        table.add_column(column, justify="right" if column in ("rank", "trial") else "left")
    for row in rows:
        params = ", ".join(f"{terminal_text(k, MAX_TEXT)}={terminal_text(_short(v), MAX_TEXT)}"
                           for k, v in row["params"].items())
        family = terminal_text(row["family"] or "?", MAX_TEXT) + (
            " (baseline)" if row["baseline"] else "")
        warmup = f"{row['warmup']}/{row['total'] or '?'}" if row["warmup"] else "-"
        seeds = (row["confirmed"] or "-",) if confirmed else ()
        cells = (str(row["rank"]), str(row["trial"]), f"{row['value']:.4g}", *seeds, family,
                 f"{row['lr']:.4g}" if row["lr"] else "?", warmup, params)
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    for line in _winner_lines(study, trials):
        console.print(line, highlight=False, markup=False)


def _winner_lines(study: Any, trials: list[Any]) -> list[str]:
    """The confirmed winner in words: its mean over its seeds, against the baseline."""
    from autolr import confirmation

    every = confirmation.confirmed(trials)
    best = confirmation.winner(trials, study.direction.name.lower())
    if best is None:
        return []
    lines = [f"Winner (best mean over fresh seeds): trial {best.number}, {best.text()}."]
    comparison = confirmation.against_baseline(best, every)
    if comparison is not None:
        lines.append(f"  {comparison.text()}.")
    luckiest = study.best_trial
    if luckiest.number != best.number:
        lines.append(f"  (The single best run, trial {luckiest.number} at "
                     f"{luckiest.value:.6g}, was a luckier draw.)")
    return lines


def _ladder_summary(study: Any, trials: list[Any]) -> Any:
    from autolr.ladder import summarize
    from autolr.reports.untrusted import clean_settings
    from autolr.study_config import SETTINGS_ATTR

    settings = clean_settings(study.user_attrs.get(SETTINGS_ATTR))
    return summarize(settings, trials, study.direction.name.lower())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


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
    from rich.console import Console

    from autolr.lr_edge import lr_edge_warning
    from autolr.reports.stored import StudyView, open_study
    from autolr.reports.untrusted import json_ready, terminal_text
    from autolr.result import TuneResult, count_states
    from autolr.study_config import SETTINGS_ATTR

    study = StudyView(open_study(study_name, storage))  # its trials read once, checked
    trials = study.get_trials(deepcopy=False)
    if as_json:
        summary = _ladder_summary(study, trials)
        ladder = None
        if summary is not None:
            ladder = {
                **summary.ladder.to_dict(),
                "rungs": [dataclasses.asdict(r) for r in summary.rungs],
                "configurations": summary.configurations, "steps_used": summary.steps_used,
                "budget_runs": summary.budget_runs, "runs_used": summary.runs_used,
            }
        from autolr.confirmation import confirmed

        confirmations = [{"trial": c.number, **c.to_dict()}
                         for c in confirmed(trials)]
        shown = {"study": study.study_name, "counts": count_states(study, trials),
                 "ladder": ladder, "confirmed": confirmations,
                 "top": _trial_rows(study, top, trials)}
        # strict JSON: NaN and infinities (which Python would write bare) become null
        click.echo(json.dumps(json_ready(shown), indent=2, allow_nan=False))
        return
    console = Console()
    _print_summary(console, study, top)
    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    if settings.get("ladder_fallback"):
        console.print(f"Search: full. {terminal_text(settings['ladder_fallback'])}",
                      highlight=False, markup=False)
    edge = lr_edge_warning(study.direction.name.lower(), settings, trials)
    if edge:
        console.print(f"[yellow]LR edge:[/] {terminal_text(edge, markup=True)}", highlight=False)
    result = TuneResult(study)  # type: ignore[arg-type]  # a StudyView answers as the study
    try:
        result.best_trial  # noqa: B018 - raises when no trial completed: nothing to show
    except AutolrError:
        return
    try:
        spec = result.best_spec
    except AutolrError as exc:  # a schedule autolr cannot read: say so, do not end in a trace
        console.print(f"Best schedule: none to show. {terminal_text(exc)}", highlight=False,
                      markup=False)
        return
    console.print(f"Best schedule: {spec.to_json()}", highlight=False, markup=False)


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

    from autolr.export import export as write_export
    from autolr.export import render_json, render_python
    from autolr.reports.stored import StudyView, open_study
    from autolr.result import TuneResult
    from autolr.study_files import artefact_dir

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
    from autolr.study_files import artefact_dir, load_study, resolve_study
    from autolr.tuner import SETTINGS_ATTR, confirmation_config

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
    from autolr.workers import visible_gpus

    gpu_list = visible_gpus()
    worker_count = workers or (len(gpu_list) if gpu_list else 1)
    command = " ".join(shlex.quote(a) for a in ["autolr", *sys.argv[1:]])
    _run_tune(config, path, worker_count, gpu_list, None, False, artefact_dir(name), command,
              confirm_only=True)


# --- families / studies -----------------------------------------------------------------------


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def families(name: str | None, as_json: bool) -> None:
    """Every schedule family with its parameters and search space (or one family in detail)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from autolr.schedules.registry import families as family_names
    from autolr.schedules.registry import family_info

    infos = [family_info(name)] if name else [family_info(n) for n in family_names()]
    if as_json:
        click.echo(json.dumps(infos if name is None else infos[0], indent=2))
        return
    console = Console()
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
            params.append(f"{p['name']}={_short(p['default'])} ({searched})")
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
    from rich.console import Console
    from rich.table import Table

    from autolr.storage import open_storage
    from autolr.study_files import local_study_databases

    urls = [storage] if storage else [f"sqlite:///{p}" for p in local_study_databases()]
    if not urls:
        raise ConfigError("No study databases in ./studies. Run `autolr tune SCRIPT` first, or "
                          "pass --storage URL.")
    table = Table(title="Studies", title_justify="left")
    for column in ("study", "storage", "direction", "trials", "best"):
        table.add_column(column)
    for url in urls:
        if storage:
            from autolr.study_files import study_names

            study_names(url)  # a clear error for a missing file
        for summary in optuna.get_all_study_summaries(open_storage(url)):
            best = summary.best_trial.value if summary.best_trial else None
            table.add_row(summary.study_name, url, summary.direction.name.lower(),
                          str(summary.n_trials), "-" if best is None else f"{best:.6g}")
    Console().print(table)
