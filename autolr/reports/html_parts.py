"""The building blocks of the report page: a figure (:class:`Plot`) and how it sits on the page,
a section with its heading, and a stat card.

Every section of the page is made of these, so they live apart from the sections themselves
(:mod:`autolr.reports.html_summary`, :mod:`autolr.reports.html_tables`) and from the page
skeleton (:mod:`autolr.reports.html`).
"""

from __future__ import annotations

from dataclasses import dataclass

from autolr.reports.html_text import e


@dataclass(frozen=True)
class Plot:
    """One figure on the page, or the note that replaces it."""

    id: str
    title: str
    caption: str
    figure_json: str | None  # plotly figure JSON; None: show ``note`` instead
    note: str = ""


def section(key: str, title: str, content: str) -> str:
    """A section of the page, its id the ``key`` the navigation links to."""
    return f'<section id="{key}"><h2>{e(title)}</h2>{content}</section>'


def plot_figure(plot: Plot) -> str:
    """A figure's card: its title and caption, and the element the drawing script fills (or
    the note shown instead)."""
    head = f"<h3>{e(plot.title)}</h3><p class=\"caption\">{e(plot.caption)}</p>"
    if plot.figure_json is None:
        inner = f'<div class="empty">{e(plot.note)}</div>'
    else:
        inner = f'<div class="plot-area" id="{plot.id}"></div>'
    return f'<figure class="card plot">{head}{inner}</figure>'


def plot_grid(*plots: Plot) -> str:
    """Figures side by side, as many to a row as the page is wide enough for."""
    return '<div class="grid2">' + "".join(plot_figure(p) for p in plots) + "</div>"


def stat_card(label: str, value: str, detail: str) -> str:
    """A card with one figure in large type; its arguments are HTML, escaped by the caller."""
    return (f'<div class="card stat"><div class="label">{label}</div>'
            f'<div class="value">{value}</div><div class="detail">{detail}</div></div>')
