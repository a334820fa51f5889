"""What ``autolr show`` prints, and the study summary ``autolr tune`` ends with.

The study's counts, its fidelity ladder, its best trials as a table, the confirmed winner against
the baseline, and the best schedule; or the same as strict JSON. Every text that comes from the
database is printed as itself (:func:`autolr.reports.untrusted.terminal_text`), never as rich
markup or terminal escape codes: a study may hold anything another process wrote. Heavy modules
(optuna, rich) are imported inside the functions, so ``autolr --help`` stays fast.
"""

from __future__ import annotations

from typing import Any


def show_json(study: Any, trials: list[Any], top: int) -> str:
    """``autolr show --json``: the study's counts, ladder, confirmations and ``top`` best rows,
    as strict JSON text. ``study``: a :class:`~autolr.reports.stored.StudyView`, ``trials`` its
    trials."""
    import dataclasses
    import json

    from autolr.reports.untrusted import json_ready
    from autolr.result import count_states
    from autolr.search.confirmation import confirmed

    summary = ladder_summary(study, trials)
    ladder = None
    if summary is not None:
        ladder = {
            **summary.ladder.to_dict(),
            "rungs": [dataclasses.asdict(r) for r in summary.rungs],
            "configurations": summary.configurations, "steps_used": summary.steps_used,
            "budget_runs": summary.budget_runs, "runs_used": summary.runs_used,
        }
    confirmations = [{"trial": c.number, **c.to_dict()}
                     for c in confirmed(trials)]
    shown = {"study": study.study_name, "counts": count_states(study, trials),
             "ladder": ladder, "confirmed": confirmations,
             "top": trial_rows(study, top, trials)}
    from autolr.trials.first_run import SCRIPT_RUN_ATTR

    first = study.user_attrs.get(SCRIPT_RUN_ATTR)
    if isinstance(first, dict):  # --metric: the script as it is (without its LR curve)
        shown["script_as_it_is"] = {k: first.get(k) for k in ("steps", "lr", "value", "metric")}
    # strict JSON: NaN and infinities (which Python would write bare) become null
    return json.dumps(json_ready(shown), indent=2, allow_nan=False)


def print_show(console: Any, study: Any, trials: list[Any], top: int) -> None:
    """``autolr show``: the summary, why the ladder was not used, an LR-edge warning, and the
    best schedule (or why there is none to show). ``study``: a
    :class:`~autolr.reports.stored.StudyView`, ``trials`` its trials."""
    from autolr.errors import AutolrError
    from autolr.reports.untrusted import terminal_text
    from autolr.result import TuneResult
    from autolr.search.lr_edge import lr_edge_warning
    from autolr.study.config import SETTINGS_ATTR

    print_summary(console, study, top)
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


def trial_rows(study: Any, top: int, trials: list[Any]) -> list[dict[str, Any]]:
    """The best complete full-fidelity trials: the configurations confirmed on fresh seeds
    first, by their mean (the winner first), then the others by their value. Confirmation runs
    are folded into the trial they confirm. Each field has its documented type or is None,
    whatever the database holds (``trials``: checked by :mod:`autolr.reports.untrusted`)."""
    from collections.abc import Mapping

    from optuna.trial import TrialState

    from autolr.reports.untrusted import is_number, is_whole
    from autolr.search.confirmation import confirmed

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
            "confirmed": mean_text(means[trial.number]) if trial.number in means else None,
            "family": None if family is None else str(family),
            "lr": lr if is_number(lr) else None,
            "warmup": warmup if is_whole(warmup) else None,
            "total": total if is_whole(total) else None,
            "params": ({str(k): v for k, v in params.items()} if isinstance(params, Mapping)
                       else {}),
            "baseline": None if baseline is None else str(baseline),
        })
    return rows


def mean_text(confirmed: Any) -> str:
    """``0.0863±0.0078 (2)``: a configuration's mean, spread and seeds, for a table cell."""
    return f"{confirmed.mean:.4g}±{confirmed.std:.1g} ({len(confirmed.values)})"


def print_summary(console: Any, study: Any, top: int) -> None:
    """The study's counts, its ladder, its best trials and its winner. ``study``: an
    ``optuna.Study``, or the :class:`~autolr.reports.stored.StudyView` of one (its trials read
    once); every text from the database is printed as itself, never as markup or escape
    codes."""
    from autolr.reports.stored import view_of
    from autolr.reports.untrusted import terminal_text
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
    summary = ladder_summary(study, trials)
    if summary is not None:
        for line in summary.lines():
            console.print(terminal_text(line), highlight=False, markup=False)
    rows = trial_rows(study, top, trials)
    if not rows:
        console.print("No complete trial yet.")
        return
    print_trial_table(console, rows)
    for line in winner_lines(study, trials):
        console.print(line, highlight=False, markup=False)


# the trial table's layouts, widest first: (show the rank, show the warmup, parameters in the
# table); the first whose natural width fits the terminal is printed
_LAYOUTS = ((True, True, True), (False, True, True), (False, False, True), (False, False, False))


def print_trial_table(console: Any, rows: list[dict[str, Any]]) -> None:
    """The best trials as a table that never cuts the value, the mean ± std, the family or the
    peak LR. On a narrow terminal it drops the rank, then the warmup, then moves the parameters
    under the table, one line per trial, and where even that is too wide it prints one line per
    trial. Into a file or a pipe (a job's log, ``tee``) it is printed at its full width,
    whatever the terminal's (``rows``: :func:`trial_rows`)."""
    from rich.measure import Measurement

    unbounded = console.options.update_width(10_000)

    def natural_width(table: Any) -> int:
        return Measurement.get(console, unbounded, table).maximum

    if not console.is_terminal:
        table = _trial_table(rows, *_LAYOUTS[0])
        width = console.width
        console.width = max(natural_width(table), width)
        try:
            console.print(table)
        finally:
            console.width = width
        return
    for layout in _LAYOUTS:
        table = _trial_table(rows, *layout)
        if natural_width(table) <= console.width:
            console.print(table)
            break
    else:
        console.print(f"Top {len(rows)} trials:", highlight=False)
        for row in rows:
            console.print("  " + _row_line(row), highlight=False, markup=False)
        return
    if not layout[2]:
        for row in rows:
            params = _params_text(row)
            if params:
                console.print(f"  trial {row['trial']}: {params}", highlight=False,
                              markup=False)


def _row_line(row: dict[str, Any]) -> str:
    """One trial in one line, for a terminal too narrow for any table."""
    from autolr.reports.untrusted import MAX_TEXT, terminal_text

    family = terminal_text(row["family"] or "?", MAX_TEXT)
    parts = [f"#{row['trial']}", f"{row['value']:.4g}"]
    if row["confirmed"]:
        parts.append(f"mean {row['confirmed']}")
    parts.append(family + (" (baseline)" if row["baseline"] else ""))
    parts.append(f"peak LR {row['lr']:.4g}" if row["lr"] else "peak LR ?")
    if row["warmup"]:
        parts.append(f"warmup {row['warmup']}/{row['total'] or '?'}")
    params = _params_text(row)
    return ", ".join(parts) + (f": {params}" if params else "")


def _params_text(row: dict[str, Any], separator: str = ", ") -> str:
    from autolr.reports.untrusted import MAX_TEXT, terminal_text

    return separator.join(f"{terminal_text(k, MAX_TEXT)}={terminal_text(short(v), MAX_TEXT)}"
                          for k, v in row["params"].items())


def _trial_table(rows: list[dict[str, Any]], rank: bool, warmup: bool, params: bool) -> Any:
    """One layout of the trial table, one parameter per line; the essential columns never wrap
    or cut (the family's " (baseline)" may go to a second line)."""
    from rich.table import Table
    from rich.text import Text

    from autolr.reports.untrusted import MAX_TEXT, terminal_text

    table = Table(title=f"Top {len(rows)} trials", title_justify="left")
    confirmed = any(row["confirmed"] for row in rows)  # the column only where it says something
    families = [terminal_text(row["family"] or "?", MAX_TEXT) for row in rows]
    if rank:
        table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("trial", justify="right", no_wrap=True)
    table.add_column("value", no_wrap=True)
    if confirmed:
        table.add_column("mean±std (n)", no_wrap=True)
    table.add_column("family", min_width=max(len(f) for f in families))
    table.add_column("peak LR", no_wrap=True)
    if warmup:
        table.add_column("warmup", no_wrap=True)
    if params:
        table.add_column("parameters", overflow="fold")
    for row, family in zip(rows, families):
        if row["baseline"]:
            family += " (baseline)"
        cells = [str(row["rank"])] if rank else []
        cells += [str(row["trial"]), f"{row['value']:.4g}"]
        if confirmed:
            cells.append(row["confirmed"] or "-")
        cells += [family, f"{row['lr']:.4g}" if row["lr"] else "?"]
        if warmup:
            cells.append(f"{row['warmup']}/{row['total'] or '?'}" if row["warmup"] else "-")
        if params:
            cells.append(_params_text(row, "\n"))
        table.add_row(*(Text(cell) for cell in cells))
    return table


def winner_lines(study: Any, trials: list[Any]) -> list[str]:
    """The confirmed winner in words: its mean over its seeds, against the baseline."""
    from autolr.search import confirmation

    every = confirmation.confirmed(trials)
    best = confirmation.winner(trials, study.direction.name.lower())
    if best is None:
        return own_schedule_lines(study, None)
    lines = [f"Winner (best mean over fresh seeds): trial {best.number}, {best.text()}."]
    comparison = confirmation.against_baseline(best, every)
    if comparison is not None:
        lines.append(f"  {comparison.text()}.")
    luckiest = study.best_trial
    if luckiest.number != best.number:
        lines.append(f"  (The single best run, trial {luckiest.number} at "
                     f"{luckiest.value:.6g}, was a luckier draw.)")
    return lines + own_schedule_lines(study, best.mean)


def own_schedule_lines(study: Any, winner_mean: float | None) -> list[str]:
    """Under ``--metric``: the script's own schedule (the study's first run) beside the winner,
    and, when the winner's mean does not beat it, the advice to keep it."""
    import math

    from autolr.trials.first_run import SCRIPT_RUN_ATTR

    record = study.user_attrs.get(SCRIPT_RUN_ATTR)
    value = record.get("value") if isinstance(record, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return []
    lines = [f"The script's own schedule (its first run, as it is, 1 seed): {value:.6g}."]
    if winner_mean is None:
        return lines
    maximize = study.direction.name.lower() == "maximize"
    beaten = winner_mean > value if maximize else winner_mean < value
    if not beaten:
        lines.append("  Nothing beat it after confirmation: keep the script's own schedule.")
    return lines


def ladder_summary(study: Any, trials: list[Any]) -> Any:
    """The fidelity ladder's rungs and compute, from the study's checked settings; None for a
    full search, or a ladder not planned yet."""
    from autolr.reports.untrusted import clean_settings
    from autolr.search.ladder import summarize
    from autolr.study.config import SETTINGS_ATTR

    settings = clean_settings(study.user_attrs.get(SETTINGS_ATTR))
    return summarize(settings, trials, study.direction.name.lower())


def short(value: Any) -> str:
    """A parameter value for a table cell: floats to 4 significant digits, lists item by
    item, anything else as its text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(short(v) for v in value) + "]"
    return str(value)
