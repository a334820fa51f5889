"""The tables of the report page: the family leaderboard, the fidelity ladder (its compute, its
rungs, how they were placed, and its figure) and the best trials.

Every string from the study's database is escaped with :func:`autolr.reports.html_text.e`.
"""

from __future__ import annotations

from collections.abc import Sequence

from autolr.reports.data import LadderInfo, Leaderboard, TopTrial
from autolr.reports.html_parts import Plot, plot_figure, stat_card
from autolr.reports.html_text import count, e, num


def family_table(board: Leaderboard) -> str:
    """Each family's best and median objective and how its trials ended; "" for no family."""
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


def ladder_content(info: LadderInfo, plot: Plot, confirmations: int = 0) -> str:
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
        stat_card("Configurations tried", count(info.configurations),
                   f"{count(len(info.runs))} finished runs over {len(info.rungs)} rungs"),
        stat_card("Compute spent", f"{info.runs_used:.1f}",
                   f"{budget} ({count(info.steps_used)} scheduler steps, "
                   f"{count(info.total_steps)} a full run)"),
    ]
    if info.full_search_steps:
        share = info.steps_used / info.full_search_steps
        cards.append(stat_card(
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
        f"{placement}</div>{plot_figure(plot)}"
    )


def top_table(top: Sequence[TopTrial], direction: str, ladder: bool = False) -> str:
    """The best trials, ranked, with their schedules' peak LR, warmup and parameters."""
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
