"""Reports of fidelity-ladder studies: the ladder record, shortened runs as their own outcome,
full-fidelity winners only, fallback and old studies, and escaping of the ladder's notes.

(Named apart from ``tests/test_ladder.py``: the test folders are not packages.)"""

from __future__ import annotations

import json
import re

import pytest
from report_studies import (
    FAMILIES,
    LADDER,
    LADDER_SETTINGS,
    ladder_study,
    make_study,
    make_trial,
    rung_trial,
    small_study,
)

from autolr.reports import data
from autolr.reports.data import (
    Counts,
    LadderInfo,
    LadderRun,
    LadderRung,
    Promotion,
    get_report_data,
)
from autolr.reports.figures import ladder_figure, learning_curves_figure
from autolr.reports.html import render_page

EVIL = "<script>alert(1)</script>"


def figure_count(page: str) -> int:
    return int(re.search(r'<body data-plots="(\d+)">', page).group(1))  # type: ignore[union-attr]


def figures(page: str) -> dict[str, dict]:
    """The page's figures by plot id, decoded."""
    blocks = re.findall(r'<script type="application/json" data-figure="([^"]+)">(.*?)</script>',
                        page, re.S)
    return {key: json.loads(body) for key, body in blocks}


def segments(trace: dict) -> list[tuple[tuple, tuple]]:
    """The (x, y) pairs of each line segment of a trace drawn as one polyline with gaps."""
    out, xs, ys = [], [], []
    for x, y in zip([*trace["x"], None], [*trace["y"], None]):
        if x is None:
            if xs:
                out.append((tuple(xs), tuple(ys)))
            xs, ys = [], []
        else:
            xs.append(x)
            ys.append(y)
    return out


def run(number, rung, family, outcome, value, promoted_from=None, baseline=None):
    return LadderRun(number, rung, family, outcome, value, promoted_from, baseline)


# --- the record ---------------------------------------------------------------------------------
def test_ladder_record():
    got = data.get_ladder(ladder_study())
    assert got == LadderInfo(
        description="10, 30 and 100 steps (0.1, 0.3, 1 of the run), eta 3",
        eta=3,
        requested=(1 / 9, 1 / 3, 1.0),
        notes=tuple(LADDER["notes"]),
        rungs=(
            LadderRung(0, 0.1, 10, runs=7, promoted=2, best_value=0.3, best_number=2),
            LadderRung(1, 0.3, 30, runs=2, promoted=1, best_value=0.1, best_number=8),
            LadderRung(2, 1.0, 100, runs=3, promoted=0, best_value=0.2, best_number=10),
        ),
        configurations=10,
        steps_used=427,  # the running run counts the 10 steps it is planned to take
        total_steps=100,
        budget_runs=6,
        full_search_steps=1000,
        runs=(
            run(0, 2, "constant", "complete", 0.6, baseline="constant"),
            run(1, 2, "cosine", "complete", 0.35, baseline="cosine"),
            run(2, 0, "cosine", "shortened", 0.3),
            run(3, 0, "step", "shortened", 0.5),
            run(4, 0, "linear", "shortened", 0.4),
            run(5, 0, "cosine", "diverged", None),
            run(6, 0, "constant", "shortened", 0.45),
            run(7, 0, "linear", "shortened", 0.7),
            run(8, 1, "cosine", "shortened", 0.1, promoted_from=2),
            run(9, 1, "linear", "shortened", 0.25, promoted_from=4),
            run(10, 2, "cosine", "complete", 0.2, promoted_from=8),
            run(11, 0, "step", "failed", None),
        ),
        promotions=(
            Promotion(2, 8, 1, "cosine", 0.3, 0.1),
            Promotion(4, 9, 1, "linear", 0.4, 0.25),
            Promotion(8, 10, 2, "cosine", 0.1, 0.2),
        ),
        winner=10,
        direction="minimize",
    )
    assert got.runs_used == pytest.approx(4.27)
    assert got.full_search_runs == pytest.approx(10.0)
    assert get_report_data(ladder_study()).ladder == got


def test_ladder_record_maximize_ranks_the_highest():
    study = make_study([
        make_trial("constant", baseline="constant", reports={0: 0.5}),
        rung_trial("cosine", 0, {0: 0.6}, params={"min_ratio": 0.1}),
        rung_trial("cosine", 0, {0: 0.8}, params={"min_ratio": 0.2}),
        rung_trial("cosine", 1, {0: 0.7}, params={"min_ratio": 0.2}, promoted_from=2),
    ], direction="maximize", settings=LADDER_SETTINGS)
    got = data.get_ladder(study)
    assert got is not None
    assert [(r.rung, r.runs, r.promoted, r.best_value, r.best_number) for r in got.rungs] == [
        (0, 2, 1, 0.8, 2), (1, 1, 0, 0.7, 3), (2, 1, 0, 0.5, 0),
    ]
    assert got.winner == 0


def test_no_ladder_record_for_full_unplanned_or_corrupt_studies():
    assert data.get_ladder(small_study()) is None  # settings without "search": old, full
    full = {**LADDER_SETTINGS, "search": "full", "ladder": None}
    assert data.get_ladder(make_study([make_trial("cosine")], settings=full)) is None
    unplanned = {**LADDER_SETTINGS, "ladder": None}
    assert data.get_ladder(make_study([make_trial("cosine")], settings=unplanned)) is None
    corrupt = {**LADDER_SETTINGS, "ladder": {"fidelities": "x"}}
    got = get_report_data(make_study([make_trial("cosine")], settings=corrupt))
    assert got.ladder is None and got.learning_curves.rungs == ()


# --- shortened runs ----------------------------------------------------------------------------
def test_shortened_runs_are_their_own_outcome():
    got = get_report_data(ladder_study())
    assert got.summary.counts == Counts(total=13, complete=3, shortened=7, pruned=0, diverged=1,
                                        failed=1, running=1)
    assert got.summary.search == "ladder"
    assert [(b.number, b.outcome, b.rung) for b in got.timeline.bars][:4] == [
        (0, "complete", 2), (1, "complete", 2), (2, "shortened", 0), (3, "shortened", 0),
    ]
    rows = {r.family: (r.complete, r.shortened, r.pruned, r.failed) for r in got.leaderboard.rows}
    assert rows == {"constant": (1, 1, 0, 0), "step": (0, 1, 0, 1), "cosine": (2, 2, 1, 0),
                    "linear": (0, 3, 0, 0)}
    curves = {c.number: (c.outcome, c.rung) for c in got.learning_curves.curves}
    assert curves[2] == ("shortened", 0) and curves[8] == ("shortened", 1)
    assert curves[10] == ("complete", 2) and curves[0] == ("complete", 2)
    assert got.learning_curves.rungs == (
        "rung 0 (10 steps, 0.1 of the run)", "rung 1 (30 steps, 0.3 of the run)",
        "rung 2 (full runs, 100 steps)",
    )
    page = render_page(got)
    assert '<span class="pill shortened">7 shortened</span>' in page
    assert '<span class="pill pruned">0 pruned</span>' in page
    assert "<th class=\"num\">shortened</th>" in page  # the family table counts them apart
    assert "None of the" not in page and "pruning saved" not in page


def test_a_study_of_shortened_runs_only_says_no_full_run_completed():
    study = make_study([
        rung_trial("cosine", 0, {0: 0.3}, params={"min_ratio": 0.1}),
        rung_trial("cosine", 0, {0: 0.4}, params={"min_ratio": 0.2}),
    ], settings=LADDER_SETTINGS)
    got = get_report_data(study)
    assert got.summary.best is None and got.top_trials == () and got.history.numbers == ()
    assert got.summary.notes == (
        "No full-fidelity run has completed yet, so there is no best schedule: the 2 shortened "
        "runs of the fidelity ladder ran compressed schedules, and only a full-length run can "
        "win.",
    )
    assert got.importance.note == (
        "Parameter importance needs at least 5 complete trials; this study has 0. (Its 2 "
        "shortened runs do not count: their values are on another scale.)"
    )


def test_step_costs_count_shortened_runs_as_they_ran():
    """A shortened run was not pruned to save steps: its planned length is its rung's."""
    trials = make_study([
        make_trial("constant", total_steps=100, steps=100),
        # shortened, its spec giving the full run's length: still no "saving"
        make_trial("constant", state="pruned", reason="shortened", total_steps=100, steps=10,
                   extra_attrs={"fidelity": 0.1, "rung": 0}),
        # diverged at rung 1: it would have run its rung's 30 steps, not the full 100
        make_trial("constant", state="pruned", reason="diverged", total_steps=100, steps=5,
                   extra_attrs={"fidelity": 0.3, "rung": 1}),
        # pruned full run (a full search)
        make_trial("constant", state="pruned", total_steps=100, steps=20),
    ]).trials
    assert data.step_costs(trials, total_steps=100) == (135, 100 + 10 + 30 + 100)
    assert data.step_costs(trials) == (135, 100 + 10 + 100 + 100)  # no ladder: spec lengths
    summary = data.get_summary(ladder_study())
    assert (summary.steps_spent, summary.steps_unpruned) == (417, 424)  # only #5 diverged


# --- the winner is full fidelity ------------------------------------------------------------------
def test_the_winner_is_full_fidelity_even_when_a_shortened_run_is_better():
    study = ladder_study()
    got = get_report_data(study)
    assert study.best_trial.number == 10  # Optuna agrees: the shortened #8 (0.10) is PRUNED
    best = got.summary.best
    assert best is not None and (best.number, best.value) == (10, 0.2)
    assert best.lineage == ((2, 0, 0.3), (8, 1, 0.1))
    assert [t.number for t in got.top_trials] == [10, 1, 0]
    assert [c.number for c in got.lr_curves.top] == [10, 1, 0]
    assert got.lr_curves.versus[0].number == 10
    assert got.history.numbers == (0, 1, 10)
    assert [(r.family, r.best_number, r.values) for r in got.leaderboard.rows] == [
        ("cosine", 10, (0.35, 0.2)), ("constant", 0, (0.6,)), ("step", None, ()),
        ("linear", None, ()),
    ]
    assert [c.number for c in got.learning_curves.curves if c.best] == [10]
    assert got.ladder is not None and got.ladder.winner == 10
    page = render_page(got)
    assert "The winner: trial #10, cosine" in page
    assert "#2 at rung 0 (0.3) → #8 at rung 1 (0.1) → #10 in full" in page
    assert "full-fidelity trial #10" in page


def test_a_complete_trial_below_full_fidelity_never_wins():
    """Defensive: the contract keeps shortened runs PRUNED; a COMPLETE one still cannot win."""
    study = make_study([
        make_trial("constant", reports={0: 0.5}),
        make_trial("cosine", reports={0: 0.1}, params={"min_ratio": 0.1},
                   extra_attrs={"fidelity": 0.1, "rung": 0}),
    ])
    got = get_report_data(study)
    assert got.summary.best is not None and got.summary.best.number == 0
    assert [t.number for t in got.top_trials] == [0]


# --- figures ------------------------------------------------------------------------------------
def test_ladder_figure_draws_promotions_as_lines():
    info = data.get_ladder(ladder_study())
    assert info is not None
    fig = ladder_figure(info, ("constant", "step", "cosine", "linear")).to_plotly_json()
    lines = [t for t in fig["data"] if t.get("mode") == "lines"]
    drawn = {(ys[0], ys[1]): xs for t in lines for xs, ys in segments(t)}
    assert set(drawn) == {(0.3, 0.1), (0.4, 0.25), (0.1, 0.2)}
    # from the source's rung to the next one (x: the rung, nudged sideways per run)
    for (low, _), xs in drawn.items():
        rung = {0.3: 0, 0.4: 0, 0.1: 1}[low]
        assert round(xs[0]) == rung and round(xs[1]) == rung + 1
    assert all(t["line"]["width"] <= 1 for t in lines)
    colors = {t["line"]["color"] for t in lines}
    assert len(colors) == 2  # cosine and linear, each in its family's colour
    marks = [t for t in fig["data"] if t.get("mode") == "markers" and t["x"] != (None,)
             and t["x"] != [None]]
    values = sorted(y for t in marks if not t["name"].startswith("winner") for y in t["y"])
    assert values == sorted([0.6, 0.35, 0.3, 0.5, 0.4, 0.45, 0.7, 0.1, 0.25, 0.2])
    (star,) = [t for t in marks if t["name"].startswith("winner")]
    assert list(star["y"]) == [0.2] and star["name"] == "winner: #10 cosine"
    assert list(fig["layout"]["xaxis"]["ticktext"]) == [
        "rung 0<br>0.1 of the run · 10 steps", "rung 1<br>0.3 of the run · 30 steps",
        "rung 2<br>full runs · 100 steps",
    ]


def test_learning_curves_mark_the_rung_each_run_reached():
    got = get_report_data(ladder_study())
    fig = learning_curves_figure(got.learning_curves, got.families).to_plotly_json()
    dotted = [t for t in fig["data"] if t.get("line", {}).get("dash") == "dot"]
    assert dotted and all(t["hovertemplate"].startswith("trial #%{customdata}, shortened")
                          for t in dotted)
    ends = {t["name"]: sorted(t["customdata"]) for t in fig["data"]
            if t.get("mode") == "markers" and t.get("customdata") is not None
            and t["name"].startswith("shortened")}
    assert ends == {
        "shortened: ended at rung 0 (10 steps, 0.1 of the run)": [2, 3, 4, 6, 7],
        "shortened: ended at rung 1 (30 steps, 0.3 of the run)": [8, 9],
    }


# --- the page -----------------------------------------------------------------------------------
def test_ladder_section_on_the_page():
    page = render_page(get_report_data(ladder_study()))
    assert '<section id="ladder"><h2>Fidelity ladder</h2>' in page
    assert '<a href="#ladder">Fidelity ladder</a>' in page
    assert figure_count(page) == 7  # six as for any study (importance: a note) + the ladder
    assert "plot-ladder" in figures(page)
    rows = re.findall(r"<tr>(<td class=\"num\">\d</td>.*?)</tr>", page)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    assert ["0", "0.1", "10", "7", "2", "0.3", "#2"] in cells
    assert ["1", "0.3", "30", "2", "1", "0.1", "#8"] in cells
    assert ["2", "1", "100", "3", "—", "0.2", "#10"] in cells
    assert "10, 30 and 100 steps (0.1, 0.3, 1 of the run), eta 3" in page
    assert "rung 0.111 (11 steps) moved to 10 steps, where the script reports" in page
    assert "of a budget of 6 full runs (427 scheduler steps" in page
    assert "used <strong>43%</strong>" in page  # 427 of a full search's 1,000 steps
    assert ">Compute spent<" in page


def test_fallback_study_says_why_and_has_no_ladder_section():
    reason = ("The fidelity ladder cannot be used: the script reports only at the end of its "
              f"run {EVIL}.")
    settings = {**LADDER_SETTINGS, "ladder": None, "ladder_fallback": reason}
    study = make_study([make_trial("cosine"), make_trial("constant", state="pruned",
                                                         reports={0: 2.0})], settings=settings)
    got = get_report_data(study)
    assert got.ladder is None
    assert got.summary.notes[0] == (
        f"{reason} The study ran the full search instead (every run at full length)."
    )
    page = render_page(got)
    assert 'id="ladder"' not in page and "#ladder" not in page
    assert EVIL not in page
    assert "run &lt;script&gt;alert(1)&lt;/script&gt;. The study ran the full search" in page
    assert figure_count(page) == 6


def test_unplanned_ladder_says_so():
    settings = {**LADDER_SETTINGS, "ladder": None}
    got = data.get_summary(make_study([make_trial("cosine", state="running")],
                                      settings=settings))
    assert got.notes[0] == (
        "The fidelity ladder is not planned yet: its rungs are placed where the script reports, "
        "once the first full run completes."
    )


def test_old_full_study_renders_without_a_ladder_section():
    got = get_report_data(small_study())
    assert got.ladder is None and got.summary.search == "full"
    assert got.learning_curves.rungs == () and all(c.rung is None
                                                   for c in got.learning_curves.curves)
    page = render_page(got)
    assert 'id="ladder"' not in page and "Fidelity ladder" not in page
    assert "shortened" not in page.replace(".pill.shortened", "")
    assert figure_count(page) == 6
    assert "pruning saved <strong>31%</strong>" in page


def test_hostile_ladder_notes_and_names_are_escaped():
    evil_family = '<img src=x onerror="alert(2)">'
    ladder = {**LADDER, "notes": [EVIL, "</script><h1>x</h1>"]}
    settings = {**LADDER_SETTINGS, "ladder": ladder, "families": [*FAMILIES, evil_family]}
    fams = [*FAMILIES, evil_family]
    study = make_study([
        make_trial(evil_family, families=fams, baseline="<b>base</b>", reports={0: 0.5}),
        rung_trial(evil_family, 0, {0: 0.3}, families=fams, worker="<i>w</i>"),
        rung_trial(evil_family, 1, {0: 0.2}, families=fams, promoted_from=1),
    ], name=EVIL, settings=settings)
    page = render_page(get_report_data(study))
    from plotly.offline import get_plotlyjs

    rest = page.replace(get_plotlyjs(), "")
    for raw in (EVIL, "<h1>x", "<img", "<b>base", "<i>w"):
        assert raw not in rest, raw
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in rest
    assert "<li>&lt;/script&gt;&lt;h1&gt;x&lt;/h1&gt;</li>" in rest
    assert rest.count("<script") == figure_count(page) + 3
    ladder_json = json.dumps(figures(rest)["plot-ladder"])
    assert "&lt;img src=x onerror=\\\"alert(2)\\\"&gt;" in ladder_json
    assert "<img" not in ladder_json


# --- a real ladder study -------------------------------------------------------------------------
@pytest.mark.slow
def test_report_of_a_real_ladder_study(digits_module, tmp_path, capsys):
    """The report reads what ``autolr.tune`` writes: the ladder's rungs, shortened runs, the
    confirmation runs folded into the trials they repeat, and the tuner's own winner."""
    import optuna

    import autolr
    from autolr.result import TuneResult
    from autolr.search.ladder import summarize

    storage = f"sqlite:///{tmp_path / 'lad.db'}"
    autolr.tune(lambda: digits_module.train(epochs=8), n_trials=12, seed=0, storage=storage,
                study_name="lad", search="ladder")
    capsys.readouterr()
    study = optuna.load_study(study_name="lad", storage=storage)
    got = get_report_data(study)
    assert got.ladder is not None and got.summary.search == "ladder"
    shortened = [t for t in study.trials if t.user_attrs.get("reason") == "shortened"]
    assert shortened and got.summary.counts.shortened == len(shortened)
    result = TuneResult(study)
    assert got.summary.best is not None and got.summary.best.number == result.best_trial.number
    assert got.summary.best.value == result.best_value
    repeats = [t for t in study.trials if "confirms" in t.user_attrs]
    full = {t.number for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
            and t not in repeats}
    assert repeats and got.summary.counts.confirmation == len(repeats)
    assert {t.number for t in got.top_trials} <= full
    assert set(got.history.numbers) <= full
    assert [c.number for c in got.summary.confirmed if c.winner] == [result.best_trial.number]
    search = [t for t in study.trials if t not in repeats]
    expected = summarize(study.user_attrs["autolr"], search, "minimize")
    assert expected is not None
    assert [(r.rung, r.steps, r.runs, r.promoted, r.best_value) for r in got.ladder.rungs] == [
        (r.rung, r.steps, r.runs, r.promoted, r.best) for r in expected.rungs
    ]
    every = summarize(study.user_attrs["autolr"], study.trials, "minimize")
    assert every is not None and got.ladder.steps_used == every.steps_used
    assert all(p.source_value is not None for p in got.ladder.promotions)
    if not any(data.outcome(t) in ("pruned", "diverged") for t in study.trials):
        # shortened runs ran their planned length: nothing was "saved" by pruning
        assert got.summary.steps_unpruned == got.summary.steps_spent
    page = autolr.write_report(study=study, output=tmp_path / "report.html").read_text("utf-8")
    assert '<section id="ladder">' in page and figure_count(page) >= 7
    assert '<section id="confirmed">' in page
    assert f"confirmation runs: {len(repeats)}" in page
