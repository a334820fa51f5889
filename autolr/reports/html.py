"""The report page: one self-contained HTML file, plotly.js embedded once, opens offline.

Every string from the study's database is escaped with :func:`html.escape` before it reaches the
page; figures travel as JSON in ``<script type="application/json">`` elements with ``<``, ``>``
and ``&`` written as ``\\u003c``-style escapes, so no database text can close a script element.
A small script draws the figures, records any JavaScript error in ``#js-errors`` (and counts them
in ``<body data-errors>``), and sets ``<body data-plots-drawn="N">`` once all of them are drawn.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autolr.reports.data import (
    BaselineResult,
    ConfirmedConfig,
    Counts,
    FailureReason,
    LadderInfo,
    Leaderboard,
    PairedDifference,
    ReportData,
    Summary,
    TopTrial,
    Winner,
)


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def safe_json(text: str) -> str:
    """JSON that can sit inside a <script> element: no ``<``, ``>`` or ``&`` left raw, and the
    two line separators JavaScript once rejected escaped."""
    return (
        text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def num(value: float | None, digits: int = 5) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def count(value: int) -> str:
    return f"{value:,}"


@dataclass(frozen=True)
class Plot:
    """One figure on the page, or the note that replaces it."""

    id: str
    title: str
    caption: str
    figure_json: str | None  # plotly figure JSON; None: show ``note`` instead
    note: str = ""


# --- figures ------------------------------------------------------------------------------------
def build_plots(data: ReportData) -> dict[str, Plot]:
    """The page's figures, drawn with plotly (imported here, never at ``import autolr``)."""
    from autolr.reports import figures as f

    fams = data.families
    summary = data.summary
    ladder = data.ladder
    full = "full-fidelity " if ladder is not None else ""
    confirmed = bool(summary.confirmed)
    folded = (" Confirmation runs are left out: they repeat trials on fresh seeds (see "
              "Confirmed on fresh seeds)." if summary.counts.confirmation else "")
    plots: dict[str, Plot] = {}

    def add(key: str, title: str, caption: str, draw: Callable[[], object] | None,
            note: str = "") -> None:
        figure_json = draw().to_json() if draw is not None else None  # type: ignore[attr-defined]
        plots[key] = Plot(f"plot-{key}", title, caption, figure_json, note)

    lr = data.lr_curves
    add("lr-top", "LR of the best trials",
        f"The learning rate in effect at each scheduler step for the best complete {full}"
        "trials; the winner is the thickest line."
        + (" Configurations confirmed on fresh seeds come first, with their mean."
           if confirmed else ""),
        (lambda: f.lr_top_figure(lr, fams)) if lr.top else None,
        "No complete trial recorded a learning-rate curve.")
    versus_note = "There is no winner to compare yet."
    if lr.versus and len(lr.versus) == 1:
        caption = ("The winner's schedule over the whole run. The study ran no baseline "
                   "trials to compare it with.")
    else:
        caption = ("The winner's schedule against the baselines (the script's own LR held "
                   "constant, cosine and linear to zero), each over its whole run; the legend "
                   "gives each one's objective"
                   + (", the mean over its seeds where it was confirmed on fresh seeds."
                      if confirmed else "."))
    add("lr-versus", "Winner against the baselines", caption,
        (lambda: f.lr_versus_figure(lr, fams)) if lr.versus else None, versus_note)
    curves = data.learning_curves
    add("learning", "Reported value of every trial",
        "The value each trial reported against its step, coloured by family. Pruned trials "
        "are faded, with a × where they were stopped (☆ where the divergence guard stopped "
        "them); the best trial is black." + (
            " Shortened runs of the fidelity ladder are dotted, with a mark at their last "
            "report, one symbol per rung; their values come from compressed schedules and are "
            "not comparable with the full runs'." if curves.rungs else "") + (
            " Long curves are thinned for drawing." if curves.downsampled else ""),
        (lambda: f.learning_curves_figure(curves, fams)) if curves.curves else None,
        "No trial reported a value yet.")
    board = data.leaderboard
    add("families", "Objective by family",
        f"Every complete {full}trial's objective, per family, best family first." + folded,
        (lambda: f.leaderboard_figure(board, fams)) if any(r.values for r in board.rows)
        else None, "No trial completed, so there is nothing to compare.")
    hist = data.history
    add("history", "Optimization history",
        f"Each complete {full}trial's objective in the order the trials ran, and the best so "
        "far." + folded,
        (lambda: f.history_figure(hist, fams)) if hist.numbers else None,
        "No trial completed yet.")
    imp = data.importance
    add("importance", "Parameter importance",
        "How much each searched parameter explains the difference between good and bad "
        "trials (Optuna's PED-ANOVA, which handles parameters that only some families have)."
        + (f" The {f.MAX_IMPORTANCES} most important of {len(imp.params)} are shown."
           if len(imp.params) > f.MAX_IMPORTANCES else ""),
        (lambda: f.importance_figure(imp)) if imp.params else None,
        imp.note or "No importances.")
    line = data.timeline
    add("timeline", "Timeline",
        "When each trial ran and on which worker, coloured by how it ended.",
        (lambda: f.timeline_figure(line)) if line.bars else None,
        "No trial has started yet.")
    if ladder is not None:
        add("ladder", "Runs by rung",
            "Every finished run at its rung and its value there; each promotion is a thin line "
            "from a run to its repeat one rung up (same parameters, run again from the start). "
            "Filled circles are full runs, open circles shortened ones, diamonds the baselines; "
            "the star is the winner. Runs that diverged or failed have no value and no mark.",
            (lambda: f.ladder_figure(ladder, fams))
            if any(r.value is not None for r in ladder.runs) else None,
            "No run has a value at any rung yet.")
    if summary.counts.total == 0:
        for key, plot in plots.items():
            plots[key] = Plot(plot.id, plot.title, plot.caption, None,
                              "This study has no trials yet.")
    return plots


# --- page ---------------------------------------------------------------------------------------
def render_page(
    data: ReportData, *, generated: str | None = None, version: str | None = None
) -> str:
    """The whole page as a string."""
    from plotly.offline import get_plotlyjs

    from autolr.reports.figures import CONFIG

    plots = build_plots(data)
    drawn = [p for p in plots.values() if p.figure_json is not None]
    generated = generated or _dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    if version is None:
        from autolr import __version__ as version
    s = data.summary
    title = f"autolr report: {s.study_name}"
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    figure_data = "\n".join(
        f'<script type="application/json" data-figure="{p.id}">{safe_json(p.figure_json)}</script>'
        for p in drawn if p.figure_json is not None
    )
    body = "\n".join([
        _header(s, generated, version),
        '<main class="wrap">',
        _nav(data.ladder is not None, bool(s.confirmed)),
        _summary_section(s, data.ladder),
        *([_section("confirmed", "Confirmed on fresh seeds", _confirmed_table(s))]
          if s.confirmed else []),
        _section("schedules", "Learning-rate schedules",
                 _grid(plots["lr-top"], plots["lr-versus"])),
        _section("curves", "Learning curves", _plot(plots["learning"])),
        _section("families", "Family leaderboard",
                 _plot(plots["families"]) + _family_table(data.leaderboard)),
        _section("trials", "Best trials",
                 _top_table(data.top_trials, s.direction, data.ladder is not None)),
        *([_section("ladder", "Fidelity ladder",
                    _ladder(data.ladder, plots["ladder"], s.counts.confirmation))]
          if data.ladder is not None else []),
        _section("search", "The search",
                 _plot(plots["history"]) + _grid(plots["importance"], plots["timeline"])),
        "</main>",
        f'<footer class="wrap">Made by autolr {e(version)} on {e(generated)}. '
        "This page works offline; hover a plot for values, drag to zoom, double-click to "
        "reset.</footer>",
    ])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="autolr {e(version)}">
<title>{e(title)}</title>
<style>{CSS}</style>
<script>{ERROR_JS}</script>
</head>
<body data-plots="{len(drawn)}">
<pre id="js-errors" hidden></pre>
{body}
<script>{plotly_js}</script>
{figure_data}
<script>{_draw_js(CONFIG)}</script>
</body>
</html>
"""


def _header(s: Summary, generated: str, version: str) -> str:
    c = s.counts
    goal = "lower is better" if s.direction == "minimize" else "higher is better"
    return (
        '<header class="top"><div class="wrap">'
        '<div class="brand">autolr · study report</div>'
        f'<h1 class="study-name">{e(s.study_name)}</h1>'
        f'<p class="meta">{e(s.direction)} the reported value ({goal}) · '
        f"{count(c.total)} trial{'s' if c.total != 1 else ''} · made {e(generated)}</p>"
        "</div></header>"
    )


def _nav(ladder: bool = False, confirmed: bool = False) -> str:
    links = [("summary", "Summary"), *([("confirmed", "Confirmed")] if confirmed else []),
             ("schedules", "LR schedules"), ("curves", "Learning curves"),
             ("families", "Families"), ("trials", "Best trials"),
             *([("ladder", "Fidelity ladder")] if ladder else []), ("search", "The search")]
    return '<nav class="toc">' + "".join(
        f'<a href="#{key}">{label}</a>' for key, label in links
    ) + "</nav>"


def _section(key: str, title: str, content: str) -> str:
    return f'<section id="{key}"><h2>{e(title)}</h2>{content}</section>'


def _plot(plot: Plot) -> str:
    head = f"<h3>{e(plot.title)}</h3><p class=\"caption\">{e(plot.caption)}</p>"
    if plot.figure_json is None:
        inner = f'<div class="empty">{e(plot.note)}</div>'
    else:
        inner = f'<div class="plot-area" id="{plot.id}"></div>'
    return f'<figure class="card plot">{head}{inner}</figure>'


def _grid(*plots: Plot) -> str:
    return '<div class="grid2">' + "".join(_plot(p) for p in plots) + "</div>"


# --- summary -----------------------------------------------------------------------------------
def _summary_section(s: Summary, ladder: LadderInfo | None = None) -> str:
    parts = []
    for note in s.notes:
        parts.append(f'<div class="alert info">{e(note)}</div>')
    if s.lr_edge:
        parts.append(f'<div class="alert warn"><strong>LR at the edge.</strong> {e(s.lr_edge)}'
                     "</div>")
    for message in s.step_mismatches[:3]:
        parts.append(f'<div class="alert warn"><strong>Step count.</strong> {e(message)}</div>')
    if len(s.step_mismatches) > 3:
        parts.append(f'<div class="alert warn">…and {len(s.step_mismatches) - 3} other step '
                     "count warnings.</div>")
    if s.counts.total:
        parts.append(_cards(s, ladder))
    if s.best is not None:
        parts.append(_winner(s.best, s))
    if s.baselines:
        parts.append(_baselines(s.baselines, s))
    if s.failures:
        parts.append(_failures(s.failures))
    return _section("summary", "Summary", "".join(parts))


def _card(label: str, value: str, detail: str) -> str:
    return (f'<div class="card stat"><div class="label">{label}</div>'
            f'<div class="value">{value}</div><div class="detail">{detail}</div></div>')


def _cards(s: Summary, ladder: LadderInfo | None = None) -> str:
    c: Counts = s.counts
    cards = []
    if s.best is not None and s.best.confirmed is not None:
        mine = s.best.confirmed
        single = s.best.best_single_run
        detail = (f"± {mine.std:.2g} over {len(mine.values)} seeds · trial #{mine.number} · "
                  f"{e(s.direction)}")
        if single is not None:
            detail += f"<br>best single run: #{single.number} at {e(num(single.value))}"
        cards.append(_card("Best mean", e(num(s.best.value)), detail))
        lr = f"peak LR {num(s.best.peak_lr, 4)}" if s.best.peak_lr is not None else ""
        cards.append(_card("Winning family", e(s.best.family), e(lr)))
    elif s.best is not None:
        run = "full-fidelity trial" if ladder is not None else "trial"
        cards.append(_card("Best value", e(num(s.best.value)),
                           f"{run} #{s.best.number} · {e(s.direction)}"))
        lr = f"peak LR {num(s.best.peak_lr, 4)}" if s.best.peak_lr is not None else ""
        cards.append(_card("Winning family", e(s.best.family), e(lr)))
    else:
        cards.append(_card("Best value", "—", "no complete trial"))
    pills = " ".join(
        f'<span class="pill {kind}">{count(n)} {kind}</span>'
        for kind, n in (("complete", c.complete), ("shortened", c.shortened),
                        ("pruned", c.pruned), ("diverged", c.diverged), ("failed", c.failed),
                        ("running", c.running), ("waiting", c.waiting))
        if n or kind in ("complete", "pruned", "diverged", "failed")
        or (kind == "shortened" and s.search == "ladder")
    )
    if c.confirmation:
        pills += (f' <span class="pill confirmation">confirmation runs: '
                  f"{count(c.confirmation)}</span>")
    cards.append(_card("Trials", count(c.total), pills))
    unit = {"batch": "batch steps", "epoch": "epochs"}.get(s.step_unit, "scheduler steps")
    if ladder is not None:
        budget = f" of a budget of {count(ladder.budget_runs)}" if ladder.budget_runs else ""
        detail = f"full runs{budget} ({count(ladder.steps_used)} scheduler steps)"
        if ladder.full_search_steps:
            share = ladder.steps_used / ladder.full_search_steps
            detail += (f"; a full search of the same {count(ladder.configurations)} "
                       f"configurations: {ladder.full_search_runs:.1f} full runs, the ladder "
                       f"used <strong>{share:.0%}</strong>")
        cards.append(_card("Compute spent", f"{ladder.runs_used:.1f}",
                           f'{detail} · <a href="#ladder">the ladder</a>'))
    elif s.steps_unpruned:
        saved = 1 - s.steps_spent / s.steps_unpruned
        detail = (f"of {count(s.steps_unpruned)} {unit} unpruned: pruning saved "
                  f"<strong>{saved:.0%}</strong>")
        cards.append(_card("Training spent", count(s.steps_spent), detail))
    return '<div class="stats">' + "".join(cards) + "</div>"


def _winner(w: Winner, s: Summary) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in w.params)
    facts = []
    if w.peak_lr is not None:
        facts.append(("peak LR", num(w.peak_lr, 6)))
    if w.base_lr is not None:
        facts.append(("script's own LR", num(w.base_lr, 6)))
    if w.warmup_steps is not None:
        facts.append(("warmup steps", count(w.warmup_steps)))
    if w.total_steps is not None:
        facts.append(("total steps", f"{count(w.total_steps)} ({w.step_unit})"))
    if w.confirmed is not None:
        seeds = [f"{seed} (first run)" if r is None else str(seed)
                 for seed, r in zip(w.confirmed.seeds, w.confirmed.rounds)]
        facts.append(("seeds", ", ".join(seeds)))
        facts.append(("confirmation runs", count(s.counts.confirmation)))
    elif w.seed is not None:
        facts.append(("seed", str(w.seed)))
    if w.lineage:
        steps = [f"#{n} at rung {r} ({num(v, 4)})" for n, r, v in w.lineage]
        facts.append(("climbed the ladder", " → ".join([*steps, f"#{w.number} in full"])))
    if s.lr_range:
        facts.append(("LR range searched", s.lr_range))
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    baseline = (f' <span class="pill complete">the {e(w.baseline)} baseline</span>'
                if w.baseline else "")
    formula = ""
    if w.formula:
        formula = (
            '<div class="formula"><div>lr(step) = peak_lr × multiplier(step)</div>'
            f"<div>multiplier(step) = {e(w.formula)}</div></div>"
        )
        if w.warmup_steps:
            formula += ('<p class="small">During the warmup the LR rises linearly to the peak; '
                        "the formula then runs over the remaining steps.</p>")
    return (
        '<div class="card winner">'
        f"<h3>The winner: trial #{w.number}, {e(w.family)}{baseline}</h3>"
        + (_confirmed_winner(w, s) if w.confirmed is not None else "")
        + f'<p class="lead">{e(w.description)}</p>'
        f'<p class="small">{e(w.summary)}</p>'
        f"{formula}"
        '<div class="grid2 tight">'
        + (f'<table class="kv"><caption>Parameters</caption>{rows}</table>' if rows else
           '<p class="small">This family has no parameters.</p>')
        + f'<table class="kv"><caption>Run</caption>{fact_rows}</table>'
        "</div></div>"
    )


def _confirmed_winner(w: Winner, s: Summary) -> str:
    """The winner's figures on fresh seeds, its paired difference to the constant baseline and
    the single luckiest run, which was not taken."""
    mine = w.confirmed
    assert mine is not None
    others = len(s.confirmed)
    parts = [
        f'<p class="lead">Confirmed on fresh seeds: <strong>{e(mine.text)}</strong>, the best '
        f"mean of the {others} configuration{'s' if others != 1 else ''} re-run "
        '(<a href="#confirmed">all of them</a>).</p>'
    ]
    if mine.versus_constant is not None:
        parts.append(f'<p class="versus">{_noise_pill(mine.versus_constant)} '
                     f"{e(mine.versus_constant.text)}.</p>")
    single = w.best_single_run
    if single is not None:
        if single.number == mine.number:
            whose = "the winner's own first run"
        elif single.confirms == mine.number:
            whose = f"a confirmation run of the winner (#{mine.number})"
        elif single.confirms is not None:
            whose = (f"a confirmation run of #{single.confirms}, a luckier draw not taken: the "
                     "winner is the best mean")
        else:
            whose = "a luckier draw not taken: the winner is the best mean over fresh seeds"
        parts.append(f'<p class="small">Best single run: #{single.number} at '
                     f"{e(num(single.value))} ({e(whose)}).</p>")
    return "".join(parts)


def _noise_pill(p: PairedDifference) -> str:
    if p.within_noise:
        return '<span class="pill noise">within noise</span>'
    return '<span class="pill beyond">beyond noise</span>'


def _baselines(results: Sequence[BaselineResult], s: Summary) -> str:
    best = s.best.value if s.best is not None else None
    confirmed = any(b.confirmed is not None for b in results)
    rows = []
    for b in results:
        figure = b.confirmed.mean if b.confirmed is not None else b.value
        versus = ""
        if best is not None and figure is not None and b.outcome == "complete" and figure:
            change = (best - figure) / abs(figure)
            versus = f"{change:+.1%}"
        state = b.outcome if b.outcome != "complete" else "complete"
        shown = num(b.value)
        if b.outcome != "complete" and b.value is not None:
            shown += " (last report)"
        mean = ""
        if confirmed:
            mean = f'<td class="num">{e(b.confirmed.text) if b.confirmed else "—"}</td>'
        rows.append(
            f"<tr><td>{e(b.name)}</td><td>#{b.number}</td>"
            f'<td><span class="pill {e(state)}">{e(state)}</span></td>'
            f'<td class="num">{e(shown)}</td>{mean}<td class="num">{e(versus)}</td></tr>'
        )
    if confirmed:
        caption = (
            "The script's own LR held constant, and cosine and linear decay to zero from it. "
            "Where a baseline was confirmed on fresh seeds, the winner's mean is compared with "
            "its mean (the paired difference on the same seeds is in the winner's card), else "
            "with its single run."
        )
    else:
        caption = (
            "The script's own LR held constant, and cosine and linear decay to zero from it: "
            "the winner is never worse than these on the measured objective."
        )
    return (
        f'<div class="card"><h3>Baselines</h3><p class="caption">{caption}</p>'
        '<table class="data"><thead><tr><th>baseline</th><th>trial</th><th>ended</th>'
        '<th class="num">value</th>'
        + ('<th class="num">mean ± std (seeds)</th>' if confirmed else "")
        + '<th class="num">winner vs it</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _confirmed_table(s: Summary) -> str:
    """Each configuration re-run on fresh seeds: its value on every seed (a column per
    confirmation round, the same seed for every configuration), its mean and its paired
    difference to the constant baseline; the winner marked."""
    configs: Sequence[ConfirmedConfig] = s.confirmed
    round_seeds: dict[int, int] = {}
    for c in configs:
        for seed, r in zip(c.seeds, c.rounds):
            if r is not None:
                round_seeds.setdefault(r, seed)
    rounds = sorted(round_seeds)
    head = "".join(f'<th class="num">fresh seed {r + 1}<br><span class="small">seed '
                   f"{round_seeds[r]}</span></th>" for r in rounds)
    rows = []
    for c in configs:
        cells = {r: (n, v) for n, r, v in zip(c.trials, c.rounds, c.values)}
        first = cells.get(None)
        first_cell = "—" if first is None else (
            f'{e(num(first[1]))}<br><span class="small">seed {c.seeds[0]}</span>')
        per_seed = "".join(
            f'<td class="num">{e(num(cells[r][1]))}<br><span class="small">#{cells[r][0]}'
            "</span></td>" if r in cells else '<td class="num">—</td>'
            for r in rounds
        )
        tags = ""
        if c.winner:
            tags += ' <span class="pill winner">winner</span>'
        if c.baseline:
            tags += f' <span class="pill complete">{e(c.baseline)} baseline</span>'
        if c.baseline == "constant":
            versus = '<span class="small">the baseline itself</span>'
        elif c.versus_constant is None:
            versus = "—"
        else:
            p = c.versus_constant
            error = f" ± {p.standard_error:.2g}" if p.standard_error is not None else ""
            versus = (f"{p.difference:+.4g}{e(error)} on {p.seeds} "
                      f"seed{'s' if p.seeds != 1 else ''} {_noise_pill(p)}")
        row = '<tr class="winner-row">' if c.winner else "<tr>"
        rows.append(
            f'{row}<td class="num">#{c.number}</td>'
            f"<td><strong>{e(c.family)}</strong>{tags}</td>"
            f'<td class="num">{first_cell}</td>{per_seed}'
            f'<td class="num"><strong>{e(c.text)}</strong></td><td>{versus}</td></tr>'
        )
    better = "lowest" if s.direction == "minimize" else "highest"
    return (
        '<div class="card"><p class="caption">When the search was done, its top '
        "configurations and the constant baseline were trained again on fresh seeds, the same "
        "seeds for every configuration, so that their differences are paired. The winner is the "
        f"configuration with the {better} mean over all its seeds, not the single luckiest run. "
        "A difference to the constant baseline is within noise when it is smaller than twice "
        "its standard error.</p>"
        '<table class="data"><thead><tr><th class="num">trial</th><th>family</th>'
        f'<th class="num">first run</th>{head}<th class="num">mean ± std (seeds)</th>'
        "<th>against the constant baseline (same seeds)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _failures(failures: Sequence[FailureReason]) -> str:
    rows = "".join(
        f'<tr><td>{e(f.reason)}</td><td class="num">{count(f.count)}</td>'
        f"<td><code>{e(f.example)}</code></td></tr>" for f in failures
    )
    return (
        '<div class="card"><h3>Failed trials</h3>'
        '<table class="data"><thead><tr><th>reason</th><th class="num">trials</th>'
        f"<th>example error</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


# --- tables -------------------------------------------------------------------------------------
def _family_table(board: Leaderboard) -> str:
    if not board.rows:
        return ""
    short = any(r.shortened for r in board.rows)
    repeats = any(r.confirmations for r in board.rows)
    rows = "".join(
        f"<tr><td><strong>{e(r.family)}</strong></td>"
        f'<td class="num">{e(num(r.best_value))}'
        + (f'<br><span class="small">mean of {r.best_seeds} seeds</span>'
           if r.best_seeds > 1 else "")
        + "</td>"
        f'<td class="num">{"#" + str(r.best_number) if r.best_number is not None else "—"}</td>'
        f'<td class="num">{e(num(r.median_value))}</td>'
        f'<td class="num">{r.complete}</td>'
        + (f'<td class="num">{r.shortened}</td>' if short else "")
        + f'<td class="num">{r.pruned}</td><td class="num">{r.failed}</td>'
        + (f'<td class="num">{r.confirmations}</td>' if repeats else "")
        + "</tr>"
        for r in board.rows
    )
    notes = []
    if short:
        notes.append("Best and median are over the complete full-fidelity trials; shortened "
                     "runs are counted, not ranked.")
    if repeats:
        notes.append("Confirmation runs repeat a trial on a fresh seed: they are counted apart, "
                     "not ranked (their values are in Confirmed on fresh seeds). A family's best "
                     "is the mean over its seeds where its best configuration was confirmed; "
                     "median and the figure are over single runs.")
    caption = f'<p class="caption">{" ".join(notes)}</p>' if notes else ""
    return (
        f'<div class="card">{caption}<table class="data"><thead><tr><th>family</th>'
        '<th class="num">best</th><th class="num">trial</th><th class="num">median</th>'
        '<th class="num">complete</th>'
        + ('<th class="num">shortened</th>' if short else "")
        + '<th class="num">pruned</th><th class="num">failed</th>'
        + ('<th class="num">confirmation runs</th>' if repeats else "")
        + f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _ladder(info: LadderInfo, plot: Plot, confirmations: int = 0) -> str:
    """The fidelity ladder: what it is, its compute, its rungs, how they were placed, and the
    figure of every run by rung."""
    top = len(info.rungs) - 1
    intro = (
        f'<p class="caption">This study searched with the fidelity ladder: {e(info.description)}.'
        " Each new configuration starts at the lowest rung, its whole schedule compressed into "
        f"that rung's steps; the best 1/{info.eta} of each rung are run again from the start at "
        "the next rung, with the same parameters. Only full-fidelity runs (the top rung and "
        "the baselines) can be the winner: a shortened run's value is a lower-fidelity number."
        "</p>"
    )
    budget = f"of a budget of {count(info.budget_runs)} full runs" if info.budget_runs else (
        "full runs")
    cards = [
        _card("Configurations tried", count(info.configurations),
              f"{count(len(info.runs))} finished runs over {len(info.rungs)} rungs"),
        _card("Compute spent", f"{info.runs_used:.1f}",
              f"{budget} ({count(info.steps_used)} scheduler steps, {count(info.total_steps)} "
              "a full run)"),
    ]
    if info.full_search_steps:
        share = info.steps_used / info.full_search_steps
        cards.append(_card(
            "Against a full search", f"{share:.0%}",
            f"of the {info.full_search_runs:.1f} full runs that training each of the "
            f"{count(info.configurations)} configurations at full length would cost"))
    rows = []
    for r in info.rungs:
        promoted = "—" if r.rung == top else count(r.promoted)
        trial = f"#{r.best_number}" if r.best_number is not None else "—"
        rows.append(
            f'<tr><td class="num">{r.rung}</td><td class="num">{r.fidelity:.3g}</td>'
            f'<td class="num">{count(r.steps)}</td><td class="num">{count(r.runs)}</td>'
            f'<td class="num">{promoted}</td><td class="num">{e(num(r.best_value))}</td>'
            f'<td class="num">{trial}</td></tr>'
        )
    table = (
        '<table class="data"><thead><tr><th class="num">rung</th><th class="num">fidelity</th>'
        '<th class="num">steps</th><th class="num">runs</th><th class="num">promoted</th>'
        '<th class="num">best value</th><th class="num">trial</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="small">Runs: the finished results at each rung (the baselines stand on the '
        "top rung); promoted: those run again one rung up. Below the top the best value is a "
        "shortened run's and cannot be compared with a full run's."
        + (" Confirmation runs are not runs of the ladder: they are left out here and in the "
           "figure, and counted in the compute spent." if confirmations else "")
        + "</p>"
    )
    requested = ", ".join(f"{f:.3g}" for f in info.requested)
    placed = ", ".join(f"{r.fidelity:.3g}" for r in info.rungs)
    notes = "".join(f"<li>{e(n)}</li>" for n in info.notes)
    placement = (
        '<h3>How the rungs were placed</h3>'
        f'<p class="small">Requested rungs {e(requested)} of the run; placed at {e(placed)}, where '
        "the script reports (a shortened run ends at the first report at or after its rung's "
        "steps).</p>" + (f'<ul class="notes">{notes}</ul>' if notes else
                         '<p class="small">No rung had to move.</p>')
    )
    return (
        f'<div class="card">{intro}<div class="stats">{"".join(cards)}</div>{table}'
        f"{placement}</div>{_plot(plot)}"
    )


def _top_table(top: Sequence[TopTrial], direction: str, ladder: bool = False) -> str:
    if not top:
        return '<div class="card empty">No trial completed yet.</div>'
    confirmed = any(t.confirmed is not None for t in top)
    rows = []
    for rank, t in enumerate(top, 1):
        params = ", ".join(f"{k} = {v}" for k, v in t.params) or "—"
        tag = f' <span class="pill complete">{e(t.baseline)} baseline</span>' if t.baseline else ""
        if t.confirmed is not None and t.confirmed.winner:
            tag += ' <span class="pill winner">winner</span>'
        mean = ""
        if confirmed:
            mean = f'<td class="num">{e(t.confirmed.text) if t.confirmed else "—"}</td>'
        rows.append(
            f'<tr><td class="num">{rank}</td><td class="num">#{t.number}</td>'
            f"<td><strong>{e(t.family)}</strong>{tag}</td>"
            f'<td class="num">{e(num(t.value))}</td>{mean}'
            f'<td class="num">{e(num(t.peak_lr, 4))}</td>'
            f'<td class="num">{"—" if t.warmup_steps is None else count(t.warmup_steps)}</td>'
            f'<td class="params">{e(params)}</td></tr>'
        )
    better = "lowest" if direction == "minimize" else "highest"
    which = ("complete full-fidelity trials (shortened runs of the ladder are not ranked)"
             if ladder else "complete trials")
    order = ""
    if confirmed:
        order = (" The configurations confirmed on fresh seeds come first, by their mean over "
                 "all their seeds; value is each trial's own run. Confirmation runs are folded "
                 "into the trial they repeat.")
    return (
        f'<div class="card"><p class="caption">The {which} with the {better} '
        f"objective.{order}</p>"
        '<table class="data"><thead><tr><th class="num">rank</th><th class="num">trial</th>'
        '<th>family</th><th class="num">value</th>'
        + ('<th class="num">mean ± std (seeds)</th>' if confirmed else "")
        + '<th class="num">peak LR</th>'
        '<th class="num">warmup</th><th>parameters</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# --- scripts and style --------------------------------------------------------------------------
ERROR_JS = """
(function () {
  function record(message) {
    var box = document.getElementById('js-errors');
    var body = document.body;
    if (box) { box.textContent += message + '\\n'; }
    if (body) {
      var seen = Number(body.getAttribute('data-errors') || 0);
      body.setAttribute('data-errors', String(seen + 1));
    }
  }
  window.autolrRecordError = record;
  window.addEventListener('error', function (event) {
    var where = event.filename ? ' at ' + event.filename + ':' + event.lineno : '';
    record('error: ' + (event.message || event.type) + where);
  }, true);
  window.addEventListener('unhandledrejection', function (event) {
    var reason = event.reason && event.reason.message ? event.reason.message : event.reason;
    record('unhandled rejection: ' + String(reason));
  });
  var original = console.error;
  console.error = function () {
    record('console.error: ' + Array.prototype.join.call(arguments, ' '));
    if (original) { original.apply(console, arguments); }
  };
})();
"""


def _draw_js(config: dict) -> str:
    return DRAW_JS.replace("CONFIG_JSON", safe_json(json.dumps(config)))


DRAW_JS = """
(function () {
  var config = CONFIG_JSON;
  var nodes = document.querySelectorAll('script[type="application/json"][data-figure]');
  var jobs = [];
  if (typeof Plotly === 'undefined') {
    window.autolrRecordError('plotly.js did not load');
    return;
  }
  for (var i = 0; i < nodes.length; i++) {
    try {
      var figure = JSON.parse(nodes[i].textContent);
      var target = document.getElementById(nodes[i].getAttribute('data-figure'));
      jobs.push(Plotly.newPlot(target, figure.data, figure.layout, config));
    } catch (err) {
      window.autolrRecordError('drawing ' + nodes[i].getAttribute('data-figure') + ': ' + err);
    }
  }
  Promise.all(jobs).then(function () {
    document.body.setAttribute('data-plots-drawn', String(jobs.length));
  }, function (err) {
    window.autolrRecordError('drawing failed: ' + err);
  });
})();
"""


CSS = """
:root {
  --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #ffffff;
  --accent: #2f6fb3; --good: #2e7d32; --warn-bg: #fff8e1; --warn: #a15c00;
  --info-bg: #e8f1fb; --info: #1c4f8a;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
        Arial, sans-serif;
}
.wrap { max-width: 1320px; margin: 0 auto; padding: 0 28px; }
header.top { background: #1f2933; color: #fff; padding: 26px 0 22px; }
header.top .brand { font-size: 13px; letter-spacing: .08em; text-transform: uppercase;
  color: #9aa5b1; }
header.top h1 { margin: 4px 0 6px; font-size: 30px; font-weight: 650; word-break: break-word; }
header.top .meta { margin: 0; color: #cbd2d9; }
nav.toc { position: sticky; top: 0; z-index: 10; display: flex; flex-wrap: wrap; gap: 4px;
  background: rgba(245,247,250,.94); backdrop-filter: blur(4px); padding: 10px 0;
  border-bottom: 1px solid var(--line); margin-bottom: 8px; }
nav.toc a { color: var(--accent); text-decoration: none; padding: 4px 10px; border-radius: 6px;
  font-size: 14px; }
nav.toc a:hover { background: #e1ebf7; }
section { padding-top: 14px; }
h2 { font-size: 21px; margin: 18px 0 12px; padding-bottom: 6px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 4px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; margin: 0 0 16px; box-shadow: 0 1px 2px rgba(31,41,51,.04); }
.caption, .small { color: var(--muted); margin: 0 0 10px; font-size: 14px; }
.lead { font-size: 16px; margin: 6px 0 6px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 16px;
  margin-bottom: 16px; }
.stats .card { margin: 0; }
.stat .label { color: var(--muted); font-size: 13px; text-transform: uppercase;
  letter-spacing: .05em; }
.stat .value { font-size: 28px; font-weight: 650; margin: 2px 0; word-break: break-word;
  font-variant-numeric: tabular-nums; }
.stat .detail { color: var(--muted); font-size: 14px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12.5px;
  background: #eef0f3; color: var(--ink); margin: 2px 2px 0 0; white-space: nowrap; }
.pill.complete { background: #e6f4ea; color: #1e6b30; }
.pill.shortened { background: #e0f2f1; color: #00695c; }
.pill.pruned { background: #eef0f3; color: #52606d; }
.pill.diverged { background: #fff1e0; color: #a15c00; }
.pill.failed { background: #fdecea; color: #b3261e; }
.pill.running { background: #e8f1fb; color: #1c4f8a; }
.pill.confirmation { background: #ede7f6; color: #4527a0; }
.pill.winner { background: #1f2933; color: #fff; }
.pill.noise { background: #fff8e1; color: #8a5300; }
.pill.beyond { background: #e6f4ea; color: #1e6b30; }
tr.winner-row { background: #f4f8fd; }
p.versus { margin: 0 0 8px; }
.alert { border-radius: 8px; padding: 10px 14px; margin: 0 0 12px; border: 1px solid; }
.alert.warn { background: var(--warn-bg); color: #5f3b00; border-color: #f3d98b; }
.alert.info { background: var(--info-bg); color: var(--info); border-color: #c3d9f2; }
.winner h3 { font-size: 18px; }
.formula { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px;
  background: #f3f5f8; border-left: 3px solid var(--accent); padding: 8px 12px; margin: 10px 0;
  border-radius: 4px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
  word-break: break-word; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.grid2.tight { gap: 24px; margin-top: 8px; align-items: start;
  grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
.grid2 > .card { margin: 0 0 16px; min-width: 0; }
figure.plot { margin: 0 0 16px; min-width: 0; }
.plot-area { width: 100%; min-height: 240px; }
.empty { color: var(--muted); background: #fafbfc; border: 1px dashed #cbd2d9; border-radius: 8px;
  padding: 28px; text-align: center; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
table caption { text-align: left; font-weight: 600; color: var(--muted); font-size: 13px;
  text-transform: uppercase; letter-spacing: .05em; padding-bottom: 4px; }
table.data th, table.data td { padding: 7px 10px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.data thead th { color: var(--muted); font-weight: 600; font-size: 13px;
  border-bottom: 2px solid var(--line); }
table.data tbody tr:hover { background: #f8fafc; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 4px 12px 4px 0;
  width: 45%; vertical-align: top; }
table.kv td { padding: 4px 0; word-break: break-word; vertical-align: top; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.params { color: #3e4c59; font-size: 13px; }
ul.notes { margin: 4px 0 0; padding-left: 20px; color: var(--muted); font-size: 14px; }
.stat a { color: var(--accent); }
footer { color: var(--muted); font-size: 13px; padding: 24px 28px 40px; }
@media (max-width: 700px) { .grid2 { grid-template-columns: 1fr; } .wrap { padding: 0 14px; } }
"""
