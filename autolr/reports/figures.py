"""Plotly figures of a study report, one function per figure: record -> ``go.Figure``.

The records come from :mod:`autolr.reports.data`. Strings from the study's database (family and
worker names, reasons) go through :func:`text` before they reach plotly, which renders a few HTML
tags in labels: escaped, they show as written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import plotly.graph_objects as go

from autolr.reports.data import (
    Curve,
    History,
    Importance,
    LadderInfo,
    LadderRun,
    Leaderboard,
    LearningCurves,
    LrCurves,
    Timeline,
)

FONT = ("-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
        "sans-serif")
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
)
OUTCOME_COLORS = {
    "complete": "#2ca02c",
    "shortened": "#80cbc4",
    "pruned": "#9e9e9e",
    "diverged": "#ff7f0e",
    "failed": "#d62728",
    "running": "#1f77b4",
    "waiting": "#bdbdbd",
}
BASELINE_DASH = ("dash", "dot", "dashdot", "longdash")
RUNG_SYMBOLS = ("circle-open", "square-open", "diamond-open", "triangle-up-open", "pentagon-open",
                "hexagon-open")
HEIGHT = 440
LEGEND_BELOW = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.2, "yanchor": "top"}
MAX_IMPORTANCES = 15
CONFIG = {"displaylogo": False, "responsive": True,
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def text(value: object) -> str:
    """A database string made safe for plotly labels (which render some HTML)."""
    return html.escape(str(value), quote=False)


def family_colors(families: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(families)}


def _layout(fig: go.Figure, *, x: str, y: str, height: int = HEIGHT, **extra: object) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 20, "t": 40, "b": 56},
        font={"family": FONT, "size": 13, "color": "#1f2933"},
        hoverlabel={"font": {"family": FONT}},
        legend={"bgcolor": "rgba(255,255,255,0.85)", "borderwidth": 0},
        **extra,
    )
    fig.update_xaxes(title_text=x, zeroline=False, gridcolor="#eceff1")
    fig.update_yaxes(title_text=y, zeroline=False, gridcolor="#eceff1")
    return fig


def _steps_title(unit: str) -> str:
    return {"batch": "scheduler step (per batch)", "epoch": "scheduler step (per epoch)"}.get(
        unit, "scheduler step"
    )


def _value_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _figure_text(curve: Curve) -> str:
    """A curve's objective; a confirmed configuration's mean over its seeds."""
    if curve.seeds > 1:
        return f"mean {_value_text(curve.value)} over {curve.seeds} seeds"
    return _value_text(curve.value)


def _curve_name(curve: Curve) -> str:
    who = f"baseline {curve.baseline}" if curve.baseline else f"#{curve.number} {curve.family}"
    state = "" if curve.outcome == "complete" else f", {curve.outcome}"
    return text(f"{who} ({_figure_text(curve)}{state})")


def _log_axis(values: Sequence[float]) -> bool:
    """A log axis suits positive values spread over more than a factor of 30."""
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and bool(values) and max(values) / min(positive) > 30


def _maybe_log(fig: go.Figure, values: Sequence[float]) -> None:
    """A log y axis, ticked at 1-2-5 steps, when the values span a wide range."""
    if not _log_axis(values):
        return
    low, high = min(values), max(values)
    ticks = [
        m * 10.0**k
        for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
        if low / 1.5 <= m * 10.0**k <= high * 1.5
    ]
    fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:.3g}" for t in ticks])


def _crowd_opacity(n: int, alone: float = 0.85) -> float:
    """Line opacity that keeps ``n`` overlapping lines readable."""
    return alone if n <= 40 else max(0.12, alone * math.sqrt(40 / n))


# --- LR curves -----------------------------------------------------------------------------------
def lr_top_figure(info: LrCurves, families: Sequence[str]) -> go.Figure:
    """The LR in effect against step for the best few trials; the winner drawn boldest."""
    colors = family_colors(families)
    fig = go.Figure()
    seen: dict[str, int] = {}
    styles = []
    for curve in info.top:  # same-family curves differ by dash
        k = seen[curve.family] = seen.get(curve.family, -1) + 1
        styles.append("solid" if k == 0 else BASELINE_DASH[(k - 1) % len(BASELINE_DASH)])
    for curve, dash in reversed(list(zip(info.top, styles))):  # the winner last, on top
        fig.add_trace(go.Scatter(
            x=curve.steps, y=curve.values, mode="lines", name=_curve_name(curve),
            line={"color": colors.get(curve.family, "#555"), "width": 3.5 if curve.best else 1.8,
                  "dash": dash},
            opacity=1.0 if curve.best else 0.8, customdata=[curve.number] * len(curve.steps),
            hovertemplate="trial #%{customdata}<br>step %{x}<br>LR %{y:.4g}<extra></extra>",
        ))
    fig = _layout(fig, x=_steps_title(info.step_unit), y="learning rate", height=480)
    fig.update_layout(legend={**LEGEND_BELOW, "traceorder": "reversed"})
    fig.update_yaxes(rangemode="tozero")
    return fig


def lr_versus_figure(info: LrCurves, families: Sequence[str]) -> go.Figure:
    """The winner's LR against each baseline's schedule over the whole run."""
    colors = family_colors(families)
    fig = go.Figure()
    dash = 0
    for curve in info.versus:
        if curve.best:
            line = {"color": colors.get(curve.family, "#111"), "width": 3.5}
            name = text(f"winner #{curve.number} {curve.family} ({_figure_text(curve)})")
        else:
            line = {"color": "#52606d", "width": 2, "dash": BASELINE_DASH[dash % 4]}
            dash += 1
            name = _curve_name(curve)
        fig.add_trace(go.Scatter(
            x=curve.steps, y=curve.values, mode="lines", name=name, line=line,
            hovertemplate="step %{x}<br>LR %{y:.4g}<extra>%{fullData.name}</extra>",
        ))
    fig = _layout(fig, x=_steps_title(info.step_unit), y="learning rate", height=480)
    fig.update_layout(legend=LEGEND_BELOW)
    fig.update_yaxes(rangemode="tozero")
    return fig


# --- learning curves ---------------------------------------------------------------------------
def _joined(curves: Sequence[Curve]) -> tuple[list, list, list]:
    """Curves as one polyline with gaps (None) between them: one trace for many trials."""
    xs: list = []
    ys: list = []
    ids: list = []
    for curve in curves:
        if xs:
            xs.append(None)
            ys.append(None)
            ids.append(None)
        xs.extend(curve.steps)
        ys.extend(curve.values)
        ids.extend([curve.number] * len(curve.steps))
    return xs, ys, ids


def _rung_name(info: LearningCurves, rung: int | None) -> str:
    if rung is None:
        return ""
    return info.rungs[rung] if 0 <= rung < len(info.rungs) else f"rung {rung}"


def learning_curves_figure(info: LearningCurves, families: Sequence[str]) -> go.Figure:
    """Every trial's reported value against step, coloured by family; pruned and diverged
    trials faded, with a mark where they stopped; shortened runs of the fidelity ladder
    dotted, with a mark (one symbol per rung) at their last report; the best trial in black on
    top."""
    colors = family_colors(families)
    fig = go.Figure()
    hover = "trial #%{customdata}<br>step %{x}<br>value %{y:.4g}<extra>%{fullData.name}</extra>"
    short_hover = ("trial #%{customdata}, shortened<br>step %{x}<br>value %{y:.4g}"
                   "<extra>%{fullData.name}</extra>")
    stopped = [c for c in info.curves if c.outcome in ("pruned", "diverged")]
    shortened = [c for c in info.curves if c.outcome == "shortened"]
    opacity = _crowd_opacity(len(info.curves))
    for family in families:
        mine = [c for c in info.curves if c.family == family]
        done = [c for c in mine if c.outcome not in ("pruned", "diverged", "shortened")]
        cut = [c for c in mine if c.outcome in ("pruned", "diverged")]
        short = [c for c in mine if c.outcome == "shortened"]
        color = colors[family]
        if mine:  # a legend entry at full strength; the faint lines themselves stay out of it
            fig.add_trace(go.Scatter(
                x=[None], y=[None], mode="lines", name=text(family), legendgroup=text(family),
                line={"color": color, "width": 2.5}, hoverinfo="skip",
            ))
        for group, style in ((done, "done"), (cut, "cut"), (short, "short")):
            if not group:
                continue
            xs, ys, ids = _joined(group)
            line = {"color": color, "width": {"done": 1.6, "cut": 1.0, "short": 1.2}[style]}
            if style == "short":
                line["dash"] = "dot"
            fig.add_trace(go.Scatter(
                x=xs, y=ys, customdata=ids, mode="lines", connectgaps=False,
                name=text(family), legendgroup=text(family), showlegend=False, line=line,
                opacity={"done": opacity, "cut": opacity * 0.4, "short": opacity * 0.7}[style],
                hovertemplate=short_hover if style == "short" else hover,
            ))
    for rung in [*sorted({c.rung for c in shortened if c.rung is not None}), None]:
        ends = [c for c in shortened if c.rung == rung]
        if not ends:
            continue
        where = _rung_name(info, rung) or "a lower rung"
        symbol = RUNG_SYMBOLS[(rung or 0) % len(RUNG_SYMBOLS)]
        fig.add_trace(go.Scatter(  # the legend entry, in a neutral colour
            x=[None], y=[None], mode="markers", name=text(f"shortened: ended at {where}"),
            legendgroup=f"rung-{rung}", hoverinfo="skip",
            marker={"symbol": symbol, "size": 8, "color": "#52606d",
                    "line": {"width": 1.5, "color": "#52606d"}},
        ))
        fig.add_trace(go.Scatter(
            x=[c.steps[-1] for c in ends], y=[c.values[-1] for c in ends],
            customdata=[c.number for c in ends], mode="markers", showlegend=False,
            name=text(f"shortened: ended at {where}"), legendgroup=f"rung-{rung}",
            marker={"symbol": symbol,
                    "size": 8 if len(ends) <= 100 else 6,
                    "color": [colors.get(c.family, "#555") for c in ends],
                    "line": {"width": 1.5, "color": [colors.get(c.family, "#555") for c in ends]}},
            opacity=0.8 if len(ends) <= 100 else 0.45,
            hovertemplate=(f"trial #%{{customdata}} ended at {text(where)}"
                           "<br>step %{x}<br>value %{y:.4g}<extra></extra>"),
        ))
    for kind, symbol in (("pruned", "x-thin-open"), ("diverged", "star-triangle-up-open")):
        ends = [c for c in stopped if c.outcome == kind]
        if not ends:
            continue
        fig.add_trace(go.Scatter(
            x=[c.steps[-1] for c in ends], y=[c.values[-1] for c in ends],
            customdata=[c.number for c in ends], mode="markers",
            name=f"{kind} here", legendgroup=kind,
            marker={"symbol": symbol, "size": 8 if len(ends) <= 100 else 6,
                    "color": [colors[c.family] for c in ends],
                    "line": {"width": 1.5, "color": [colors[c.family] for c in ends]}},
            opacity=0.75 if len(ends) <= 100 else 0.4,
            hovertemplate=f"trial #%{{customdata}} {kind} at step %{{x}}"
                          "<br>value %{y:.4g}<extra></extra>",
        ))
    for curve in info.curves:
        if curve.best:
            fig.add_trace(go.Scatter(
                x=curve.steps, y=curve.values, mode="lines+markers",
                name=text(f"best: #{curve.number} {curve.family}"),
                line={"color": "#111", "width": 3}, marker={"size": 5},
                customdata=[curve.number] * len(curve.steps), hovertemplate=hover,
            ))
    values = [v for c in info.curves for v in c.values]
    fig = _layout(fig, x="step given to autolr.report", y="reported value", height=520)
    _maybe_log(fig, values)
    steps = [s for c in info.curves for s in c.steps]
    if steps and all(float(s).is_integer() for s in steps) and max(steps) - min(steps) <= 12:
        fig.update_xaxes(dtick=1)
    return fig


# --- families -----------------------------------------------------------------------------------
def leaderboard_figure(info: Leaderboard, families: Sequence[str]) -> go.Figure:
    """The objective of every complete trial per family (box and points), best family first."""
    colors = family_colors(families)
    fig = go.Figure()
    rows = [r for r in info.rows if r.values]
    for row in rows:
        fig.add_trace(go.Box(
            y=row.values, x=[text(row.family)] * len(row.values), name=text(row.family),
            customdata=row.numbers, boxpoints="all", jitter=0.4, pointpos=0,
            marker={"color": colors.get(row.family, "#555"), "size": 6, "opacity": 0.75},
            line={"color": colors.get(row.family, "#555"), "width": 1.5},
            fillcolor="rgba(0,0,0,0)", showlegend=False,
            hovertemplate="trial #%{customdata}<br>value %{y:.4g}<extra>%{x}</extra>",
        ))
    values = [v for r in rows for v in r.values]
    better = "lower" if info.direction == "minimize" else "higher"
    fig = _layout(fig, x="family (best first)", y=f"objective ({better} is better)")
    fig.update_xaxes(categoryorder="array", categoryarray=[text(r.family) for r in rows])
    _maybe_log(fig, values)
    return fig


# --- history, importance, timeline ---------------------------------------------------------------
def history_figure(info: History, families: Sequence[str]) -> go.Figure:
    """Each complete trial's objective in order, coloured by family, and the best so far."""
    colors = family_colors(families)
    size = 7 if len(info.numbers) <= 200 else 5
    fig = go.Figure()
    for family in families:
        idx = [i for i, f in enumerate(info.families) if f == family]
        if not idx:
            continue
        fig.add_trace(go.Scatter(
            x=[info.numbers[i] for i in idx], y=[info.values[i] for i in idx], mode="markers",
            name=text(family), marker={"color": colors[family], "size": size, "opacity": 0.75},
            hovertemplate="trial #%{x}<br>value %{y:.4g}<extra>%{fullData.name}</extra>",
        ))
    fig.add_trace(go.Scatter(
        x=info.numbers, y=info.best_so_far, mode="lines", name="best so far",
        line={"color": "#111", "width": 2.5, "shape": "hv"},
        hovertemplate="after trial #%{x}<br>best %{y:.4g}<extra></extra>",
    ))
    fig = _layout(fig, x="trial", y="objective")
    _maybe_log(fig, info.values)
    return fig


def importance_figure(info: Importance) -> go.Figure:
    """Parameter importances as horizontal bars, the most important on top."""
    shown = info.params[:MAX_IMPORTANCES]
    names = [text(name) for name, _ in reversed(shown)]
    values = [value for _, value in reversed(shown)]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker={"color": "#3182bd"},
        text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    height = max(260, 60 + 26 * len(names))
    fig = _layout(fig, x="importance (PED-ANOVA, sums to 1)", y="", height=height)
    fig.update_xaxes(range=[0, max(values, default=1.0) * 1.15])
    fig.update_yaxes(automargin=True)
    return fig


def _time_unit(span_s: float) -> tuple[str, float]:
    if span_s >= 3 * 3600:
        return "hours", 3600.0
    if span_s >= 180:
        return "minutes", 60.0
    return "seconds", 1.0


def timeline_figure(info: Timeline) -> go.Figure:
    """Each trial as a bar from its start to its end, one row per worker, coloured by outcome."""
    span = max((b.start_s + b.duration_s for b in info.bars), default=0.0)
    unit, scale = _time_unit(span)
    fig = go.Figure()
    for kind, color in OUTCOME_COLORS.items():
        bars = [b for b in info.bars if b.outcome == kind]
        if not bars:
            continue
        fig.add_trace(go.Bar(
            base=[b.start_s / scale for b in bars],
            x=[max(b.duration_s / scale, span / scale / 2000) for b in bars],
            y=[text(b.worker) for b in bars], orientation="h", name=kind,
            marker={"color": color,
                    "line": {"color": "white", "width": 0.5 if len(info.bars) <= 200 else 0}},
            customdata=[[b.number, text(b.family), b.duration_s,
                         "" if b.rung is None else f", rung {b.rung}"] for b in bars],
            hovertemplate=("trial #%{customdata[0]} (%{customdata[1]}%{customdata[3]})<br>"
                           "%{customdata[2]:.1f} s on %{y}<extra>" + kind + "</extra>"),
        ))
    rows = len(info.workers)
    fig = _layout(fig, x=f"{unit} since the first trial started", y="worker",
                  height=max(240, 120 + 44 * rows), barmode="overlay", bargap=0.35)
    fig.update_yaxes(categoryorder="array", categoryarray=[text(w) for w in info.workers][::-1],
                     type="category")
    if math.isfinite(span) and span > 0:
        fig.update_xaxes(range=[0, span / scale * 1.01])
    return fig


# --- the fidelity ladder -------------------------------------------------------------------------
LADDER_SYMBOLS = {"complete": "circle", "shortened": "circle-open", "pruned": "x-thin-open"}


def _jitter(number: int) -> float:
    """A fixed sideways offset per run, so that runs at one rung do not hide each other."""
    return ((number * 0.6180339887) % 1.0 - 0.5) * 0.36


def ladder_figure(info: LadderInfo, families: Sequence[str]) -> go.Figure:
    """Every finished run at its rung (x: the rung, y: its value there), and every promotion as
    a thin line from the source run's value to the promoted run's value one rung up, coloured
    by family; the winner starred."""
    colors = family_colors(families)
    fig = go.Figure()
    by_number = {r.number: r for r in info.runs}
    x_of = {r.number: r.rung + _jitter(r.number) for r in info.runs}
    crowd = len(info.runs)
    for family in families:
        xs: list = []
        ys: list = []
        for p in info.promotions:
            if p.family != family or p.source_value is None or p.target_value is None:
                continue
            if p.source not in x_of or p.target not in x_of:
                continue
            xs += [x_of[p.source], x_of[p.target], None]
            ys += [p.source_value, p.target_value, None]
        if xs:
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", name=text(family), legendgroup=text(family),
                showlegend=False, hoverinfo="skip", connectgaps=False,
                line={"color": colors.get(family, "#555"), "width": 1},
                opacity=0.55 if len(info.promotions) <= 200 else 0.3,
            ))
    promoted_to: dict[int, int] = {p.source: p.target for p in info.promotions}
    for family in families:
        mine = [r for r in info.runs if r.family == family and r.value is not None]
        if not mine:
            continue
        fig.add_trace(go.Scatter(  # the legend entry: the family's colour, one plain symbol
            x=[None], y=[None], mode="markers", name=text(family), legendgroup=text(family),
            marker={"color": colors.get(family, "#555"), "symbol": "circle", "size": 9},
            hoverinfo="skip",
        ))
        fig.add_trace(go.Scatter(
            x=[x_of[r.number] for r in mine], y=[r.value for r in mine], mode="markers",
            name=text(family), legendgroup=text(family), showlegend=False,
            marker={"color": colors.get(family, "#555"),
                    "symbol": [_ladder_symbol(r) for r in mine],
                    "size": 8 if crowd <= 300 else 5,
                    "line": {"width": 1.5, "color": colors.get(family, "#555")}},
            opacity=0.85 if crowd <= 300 else 0.5,
            customdata=[[r.number, _run_words(r, by_number, promoted_to)] for r in mine],
            hovertemplate=("trial #%{customdata[0]}<br>value %{y:.4g}<br>%{customdata[1]}"
                           "<extra>%{fullData.name}</extra>"),
        ))
    shown = {_ladder_symbol(r) for r in info.runs if r.value is not None}
    for symbol, words in (("circle", "full run"), ("circle-open", "shortened run"),
                          ("diamond", "baseline"), ("x-thin-open", "pruned run")):
        if symbol in shown:  # what the symbols mean, in grey
            fig.add_trace(go.Scatter(
                x=[None], y=[None], mode="markers", name=words, legendgroup="symbols",
                marker={"symbol": symbol, "size": 9, "color": "#9aa5b1",
                        "line": {"width": 1.5, "color": "#9aa5b1"}},
                hoverinfo="skip",
            ))
    best = by_number.get(info.winner) if info.winner is not None else None
    if best is not None and best.value is not None:
        fig.add_trace(go.Scatter(
            x=[x_of[best.number]], y=[best.value], mode="markers",
            name=text(f"winner: #{best.number} {best.family}"),
            marker={"symbol": "star", "size": 15, "color": "#111",
                    "line": {"width": 1, "color": "white"}},
            hovertemplate=f"winner: trial #{best.number}<br>value %{{y:.4g}}<extra></extra>",
        ))
    top = len(info.rungs) - 1
    ticks = [
        f"rung {r.rung}<br>{'full runs' if r.rung == top else f'{r.fidelity:.3g} of the run'}"
        f" · {r.steps:,} steps"
        for r in info.rungs
    ]
    better = "lower" if info.direction == "minimize" else "higher"
    fig = _layout(fig, x="rung", y=f"value at the rung ({better} is better)", height=500)
    fig.update_xaxes(tickvals=list(range(len(info.rungs))), ticktext=ticks,
                     range=[-0.5, top + 0.5], showgrid=False)
    fig.update_layout(legend=LEGEND_BELOW)
    _maybe_log(fig, [r.value for r in info.runs if r.value is not None])
    return fig


def _ladder_symbol(run: LadderRun) -> str:
    if run.baseline is not None:
        return "diamond"
    return LADDER_SYMBOLS.get(run.outcome, "circle-open")


def _run_words(run: LadderRun, runs: dict[int, LadderRun], promoted_to: dict[int, int]) -> str:
    """A run's place on the ladder, for its hover label (escaped for plotly)."""
    words = [f"rung {run.rung}, {run.outcome}"]
    if run.baseline is not None:
        words.append(f"the {run.baseline} baseline")
    if run.promoted_from is not None:
        words.append(f"repeats #{run.promoted_from}")
    if run.number in promoted_to:
        words.append(f"promoted to #{promoted_to[run.number]}")
    return text(" · ".join(words))


__all__ = [
    "CONFIG",
    "family_colors",
    "history_figure",
    "importance_figure",
    "ladder_figure",
    "leaderboard_figure",
    "learning_curves_figure",
    "lr_top_figure",
    "lr_versus_figure",
    "text",
    "timeline_figure",
]
