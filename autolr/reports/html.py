"""The report page: one self-contained HTML file, plotly.js embedded once, opens offline.

Every string from the study's database is escaped with :func:`html.escape` before it reaches the
page; figures travel as JSON in ``<script type="application/json">`` elements with ``<``, ``>``
and ``&`` written as ``\\u003c``-style escapes, so no database text can close a script element.
A small script draws the figures, records any JavaScript error in ``#js-errors`` (and counts them
in ``<body data-errors>``), and sets ``<body data-plots-drawn="N">`` once all of them are drawn.

This module builds the figures and lays out the page; the parts live in their own modules:
:mod:`autolr.reports.html_text` (escaping and number formatting), :mod:`autolr.reports.html_parts`
(figures, sections, cards), :mod:`autolr.reports.html_summary` (the summary and the confirmed
table), :mod:`autolr.reports.html_tables` (families, ladder, best trials) and
:mod:`autolr.reports.page_assets` (the page's CSS and scripts).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from autolr.reports.data import ReportData, Summary
from autolr.reports.html_parts import Plot, plot_figure, plot_grid, section
from autolr.reports.html_summary import confirmed_table, summary_section
from autolr.reports.html_tables import family_table, ladder_content, top_table
from autolr.reports.html_text import count, e, num, safe_json
from autolr.reports.page_assets import CSS, DRAW_JS, ERROR_JS, draw_js

# names other modules and tests import from here, whichever module now defines them
__all__ = [
    "CSS",
    "DRAW_JS",
    "ERROR_JS",
    "Plot",
    "build_plots",
    "count",
    "e",
    "num",
    "render_page",
    "safe_json",
]


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
        from autolr._version import __version__ as version
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
        summary_section(s, data.ladder),
        *([section("confirmed", "Confirmed on fresh seeds", confirmed_table(s))]
          if s.confirmed else []),
        section("schedules", "Learning-rate schedules",
                plot_grid(plots["lr-top"], plots["lr-versus"])),
        section("curves", "Learning curves", plot_figure(plots["learning"])),
        section("families", "Family leaderboard",
                plot_figure(plots["families"]) + family_table(data.leaderboard)),
        section("trials", "Best trials",
                top_table(data.top_trials, s.direction, data.ladder is not None)),
        *([section("ladder", "Fidelity ladder",
                   ladder_content(data.ladder, plots["ladder"], s.counts.confirmation))]
          if data.ladder is not None else []),
        section("search", "The search",
                plot_figure(plots["history"])
                + plot_grid(plots["importance"], plots["timeline"])),
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
<script>{draw_js(CONFIG)}</script>
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
