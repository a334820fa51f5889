"""The summary section of the report page and the table of configurations confirmed on fresh
seeds: the warnings, the stat cards, the winner (with its figures on fresh seeds where it was
confirmed), the baselines and the failed trials.

Every string from the study's database is escaped with :func:`autolr.reports.html_text.e`.
"""

from __future__ import annotations

from collections.abc import Sequence

from autolr.reports.data import (
    BaselineResult,
    ConfirmedConfig,
    Counts,
    FailureReason,
    LadderInfo,
    PairedDifference,
    Summary,
    Winner,
)
from autolr.reports.html_parts import section, stat_card
from autolr.reports.html_text import count, e, num


def summary_section(s: Summary, ladder: LadderInfo | None = None) -> str:
    """The summary section: the study's notes and warnings, its stat cards, the winner, the
    baselines and why trials failed."""
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
    return section("summary", "Summary", "".join(parts))


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
        cards.append(stat_card("Best mean", e(num(s.best.value)), detail))
        lr = f"peak LR {num(s.best.peak_lr, 4)}" if s.best.peak_lr is not None else ""
        cards.append(stat_card("Winning family", e(s.best.family), e(lr)))
    elif s.best is not None:
        run = "full-fidelity trial" if ladder is not None else "trial"
        cards.append(stat_card("Best value", e(num(s.best.value)),
                                f"{run} #{s.best.number} · {e(s.direction)}"))
        lr = f"peak LR {num(s.best.peak_lr, 4)}" if s.best.peak_lr is not None else ""
        cards.append(stat_card("Winning family", e(s.best.family), e(lr)))
    else:
        cards.append(stat_card("Best value", "—", "no complete trial"))
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
    cards.append(stat_card("Trials", count(c.total), pills))
    unit = {"batch": "batch steps", "epoch": "epochs"}.get(s.step_unit, "scheduler steps")
    if ladder is not None:
        budget = f" of a budget of {count(ladder.budget_runs)}" if ladder.budget_runs else ""
        detail = f"full runs{budget} ({count(ladder.steps_used)} scheduler steps)"
        if ladder.full_search_steps:
            share = ladder.steps_used / ladder.full_search_steps
            detail += (f"; a full search of the same {count(ladder.configurations)} "
                       f"configurations: {ladder.full_search_runs:.1f} full runs, the ladder "
                       f"used <strong>{share:.0%}</strong>")
        cards.append(stat_card("Compute spent", f"{ladder.runs_used:.1f}",
                                f'{detail} · <a href="#ladder">the ladder</a>'))
    elif s.steps_unpruned:
        saved = 1 - s.steps_spent / s.steps_unpruned
        detail = (f"of {count(s.steps_unpruned)} {unit} unpruned: pruning saved "
                  f"<strong>{saved:.0%}</strong>")
        cards.append(stat_card("Training spent", count(s.steps_spent), detail))
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
    if p.verdict == "too few seeds":
        return '<span class="pill noise">1 shared seed: too few to tell</span>'
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
            f"<tr><td>{e(b.name)}</td>"
            f"<td>{'first run' if b.number is None else f'#{b.number}'}</td>"
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
    if any(b.number is None for b in results):
        caption += (" First, the script as it is: its first run (one seed), its own schedule "
                    "untouched (autolr tune --metric); unlike the others it was not chosen "
                    "from, so the winner may not beat it.")
    return (
        f'<div class="card"><h3>Baselines</h3><p class="caption">{caption}</p>'
        '<table class="data"><thead><tr><th>baseline</th><th>trial</th><th>ended</th>'
        '<th class="num">value</th>'
        + ('<th class="num">mean ± std (seeds)</th>' if confirmed else "")
        + '<th class="num">winner vs it</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def confirmed_table(s: Summary) -> str:
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
        "its standard error, which the paired differences give from 2 shared seeds on; with "
        "one, it is too few to tell (autolr confirm --seeds 3 runs more).</p>"
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
