"""Reports of studies that confirmed their top configurations on fresh seeds: the winner by its
mean (not the luckiest run), the paired difference to the constant baseline and its noise mark,
confirmation runs folded into the trials they repeat, and studies without confirmations as
before."""

from __future__ import annotations

import json
import re

import pytest
from plotly.offline import get_plotlyjs
from report_studies import (
    FAMILIES,
    confirmation_trial,
    confirmed_study,
    ladder_study,
    make_study,
    make_trial,
    small_study,
)

from autolr.reports import write_report
from autolr.reports.data import (
    BaselineResult,
    ConfirmedConfig,
    Counts,
    FamilyRow,
    History,
    PairedDifference,
    SingleRun,
    TopTrial,
    Winner,
    get_report_data,
)
from autolr.reports.html import render_page
from autolr.result import TuneResult

EVIL = "<script>alert(1)</script>"
COSINE = ConfirmedConfig(
    number=3, family="cosine", baseline=None, trials=(3, 6, 9), seeds=(12, 101, 102),
    rounds=(None, 0, 1), values=(0.16, 0.15, 0.17), mean=pytest.approx(0.16),
    std=pytest.approx(0.01), text="0.16 ± 0.01 (3 seeds)",
    versus_constant=PairedDifference(
        difference=pytest.approx(-0.44), standard_error=pytest.approx(0.03), seeds=2,
        within_noise=False,
        text="-0.44 ± 0.03 against the constant baseline on the same 2 seeds (beyond noise)",
        verdict="beyond noise",
    ),
    winner=True,
)
STEP = ConfirmedConfig(
    number=2, family="step", baseline=None, trials=(2, 5, 8), seeds=(11, 101, 102),
    rounds=(None, 0, 1), values=(0.10, 0.34, 0.30), mean=pytest.approx(0.74 / 3),
    std=pytest.approx(0.128582, abs=1e-6), text="0.246667 ± 0.13 (3 seeds)",
    versus_constant=PairedDifference(
        difference=pytest.approx(-0.28), standard_error=pytest.approx(0.0, abs=1e-12), seeds=2,
        within_noise=False,
        text="-0.28 ± 0 against the constant baseline on the same 2 seeds (beyond noise)",
        verdict="beyond noise",
    ),
)
CONSTANT = ConfirmedConfig(
    number=0, family="constant", baseline="constant", trials=(0, 7, 10), seeds=(1, 101, 102),
    rounds=(None, 0, 1), values=(0.60, 0.62, 0.58), mean=pytest.approx(0.6),
    std=pytest.approx(0.02), text="0.6 ± 0.02 (3 seeds)", versus_constant=None,
)


def without_plotly_js(page: str) -> str:
    js = get_plotlyjs()
    assert page.count(js) == 1
    return page.replace(js, "")


def figure_count(page: str) -> int:
    return int(re.search(r'<body data-plots="(\d+)">', page).group(1))  # type: ignore[union-attr]


def section(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert found, key
    return found.group(1)


# --- the records --------------------------------------------------------------------------------
def test_the_winner_is_the_best_mean_not_the_luckiest_run():
    study = confirmed_study()
    assert study.best_trial.number == 2  # the single luckiest run (0.10) ...
    assert TuneResult(study).best_trial.number == 3  # ... is not the tuner's winner
    got = get_report_data(study)
    s = got.summary
    assert s.counts == Counts(total=11, complete=5, confirmation=6)
    assert s.best == Winner(
        number=3, value=pytest.approx(0.16), family="cosine",
        summary="Cosine annealing from the peak to min_ratio * peak over the run.",
        formula="min_ratio + (1 - min_ratio) * (1 + cos(pi * step / total_steps)) / 2",
        description=("cosine schedule with min_ratio = 0.1; peak LR 0.1 (1× the script's own "
                     "LR 0.1), over 100 batch steps with no warmup."),
        params=(("min_ratio", "0.1"),), peak_lr=0.1, base_lr=0.1, warmup_steps=0,
        total_steps=100, step_unit="batch", seed=12, baseline=None,
        confirmed=COSINE, best_single_run=SingleRun(number=2, value=0.10),
    )
    assert s.best.value == TuneResult(study).best_value
    assert s.confirmed == (COSINE, STEP, CONSTANT)  # the best mean first
    # the constant baseline is its first run with its confirmed figures, not a confirmation run
    assert s.baselines == (
        BaselineResult("constant", 0, "complete", 0.60, CONSTANT),
        BaselineResult("cosine", 1, "complete", 0.45),
    )
    assert s.steps_spent == 11 * 100


def test_confirmation_runs_are_folded_into_the_trials_they_repeat():
    got = get_report_data(confirmed_study())
    # confirmed configurations first by their mean, then the others by their own value
    assert got.top_trials == (
        TopTrial(3, "cosine", 0.16, 0.1, 0, (("min_ratio", "0.1"),), None, COSINE),
        TopTrial(2, "step", 0.10, pytest.approx(0.3), 0, (("every", "0.3"), ("gamma", "0.1")),
                 None, STEP),
        TopTrial(0, "constant", 0.60, 0.1, 0, (), "constant", CONSTANT),
        TopTrial(4, "linear", 0.30, 0.1, 0, (("end_ratio", "0.1"),), None),
        TopTrial(1, "cosine", 0.45, 0.1, 0, (("min_ratio", "0"),), "cosine"),
    )
    assert got.history == History(
        (0, 1, 2, 3, 4), (0.60, 0.45, 0.10, 0.16, 0.30),
        ("constant", "cosine", "step", "cosine", "linear"), (0.60, 0.45, 0.10, 0.10, 0.10),
        "minimize",
    )
    assert got.leaderboard.rows == (
        FamilyRow("cosine", 2, 0, 0, pytest.approx(0.16), 3, pytest.approx(0.305), (0.45, 0.16),
                  (1, 3), confirmations=2, best_seeds=3),
        FamilyRow("step", 1, 0, 0, pytest.approx(0.74 / 3), 2, 0.10, (0.10,), (2,),
                  confirmations=2, best_seeds=3),
        FamilyRow("constant", 1, 0, 0, pytest.approx(0.6), 0, 0.60, (0.60,), (0,),
                  confirmations=2, best_seeds=3),
        FamilyRow("linear", 1, 0, 0, 0.30, 4, 0.30, (0.30,), (4,)),
    )
    # the LR curves: the winner first with its mean; each baseline once, its first run
    assert [(c.number, c.best, c.seeds) for c in got.lr_curves.top] == [
        (3, True, 3), (2, False, 3), (0, False, 3), (4, False, 1), (1, False, 1),
    ]
    assert [(c.number, c.baseline, c.value, c.seeds) for c in got.lr_curves.versus] == [
        (3, None, pytest.approx(0.16), 3), (0, "constant", pytest.approx(0.6), 3),
        (1, "cosine", 0.45, 1),
    ]
    assert [c.number for c in got.learning_curves.curves if c.best] == [3]
    # importance needs 5 complete trials: the 6 confirmation runs do not count
    assert got.importance.note is None


def test_one_shared_seed_is_too_few_to_tell_in_the_report_and_the_summary():
    # round 0 only: the winner and the constant baseline share one confirmation seed, so their
    # paired difference has no standard error, whatever each one's own spread
    import optuna

    from autolr.cli.show import winner_lines

    one_round = optuna.create_study(study_name="one-round")
    one_round.set_user_attr("autolr", confirmed_study().user_attrs.get("autolr"))
    one_round.add_trials(confirmed_study().get_trials()[:8])
    summary = get_report_data(one_round).summary
    paired = summary.best.confirmed.versus_constant
    assert paired.seeds == 1 and paired.standard_error is None
    assert paired.verdict == "too few seeds"
    page = render_page(get_report_data(one_round))
    assert "1 shared seed: too few to tell" in section(page, "summary")
    assert "beyond noise</span>" not in page and "within noise</span>" not in page
    lines = winner_lines(one_round, one_round.get_trials())
    assert any("1 shared seed: too few to tell; autolr confirm --seeds 3" in line
               for line in lines), lines
    assert not any("noise" in line for line in lines)


def test_the_difference_to_the_baseline_within_noise_is_marked():
    # the constant baseline's confirmations straddle the winner's: -0.01 ± 0.02
    noisy = get_report_data(confirmed_study(constant=(0.18, 0.14, 0.20))).summary
    assert noisy.best is not None and noisy.best.number == 3
    assert noisy.best.confirmed is not None
    assert noisy.best.confirmed.versus_constant == PairedDifference(
        difference=pytest.approx(-0.01), standard_error=pytest.approx(0.02), seeds=2,
        within_noise=True,
        text="-0.01 ± 0.02 against the constant baseline on the same 2 seeds (within noise)",
        verdict="within noise",
    )
    page = render_page(get_report_data(confirmed_study(constant=(0.18, 0.14, 0.20))))
    summary = section(page, "summary")
    assert ('<span class="pill noise">within noise</span> -0.01 ± 0.02 against the constant '
            "baseline on the same 2 seeds (within noise).") in summary
    table = section(page, "confirmed")
    assert "-0.01 ± 0.02 on 2 seeds <span class=\"pill noise\">within noise</span>" in table
    clear = render_page(get_report_data(confirmed_study()))
    assert '<span class="pill beyond">beyond noise</span> -0.44 ± 0.03' in section(clear,
                                                                                   "summary")
    assert "within noise</span>" not in clear


def test_the_luckiest_run_can_be_a_confirmation_run():
    study = confirmed_study()
    study.add_trial(confirmation_trial("step", 2, 1, 0.05, params={"every": 0.3, "gamma": 0.1},
                                       lr_scale=3.0, extra_attrs={"requeued_from": 8}))
    best = get_report_data(study).summary.best
    assert best is not None and best.number == 3
    assert best.best_single_run == SingleRun(number=11, value=0.05, confirms=2)
    page = render_page(get_report_data(study))
    assert ("Best single run: #11 at 0.05 (a confirmation run of #2, a luckier draw not taken: "
            "the winner is the best mean).") in page


def test_confirmation_runs_that_did_not_complete_count_by_how_they_ended():
    study = confirmed_study()
    study.add_trial(confirmation_trial("linear", 4, 0, 0.3, params={"end_ratio": 0.1},
                                       state="failed", error="RuntimeError: boom"))
    study.add_trial(confirmation_trial("linear", 4, 1, 0.3, params={"end_ratio": 0.1},
                                       state="running"))
    got = get_report_data(study)
    assert got.summary.counts == Counts(total=13, complete=5, failed=1, running=1,
                                        confirmation=6)
    assert [c.number for c in got.summary.confirmed] == [3, 2, 0]  # #4 not confirmed
    assert got.leaderboard.rows[-1] == FamilyRow("linear", 1, 0, 0, 0.30, 4, 0.30, (0.30,),
                                                 (4,), confirmations=2)


def test_a_ladder_study_leaves_confirmation_runs_out_of_the_ladder():
    plain = get_report_data(ladder_study()).ladder
    study = ladder_study()
    cos1 = {"min_ratio": 0.1}
    study.add_trial(confirmation_trial("cosine", 10, 0, 0.22, params=cos1, start_s=50))
    study.add_trial(confirmation_trial("constant", 0, 0, 0.61, baseline="constant", start_s=60))
    got = get_report_data(study)
    assert got.ladder is not None and plain is not None
    assert got.ladder.rungs == plain.rungs and got.ladder.runs == plain.runs
    assert got.ladder.winner == 10
    assert got.ladder.steps_used == plain.steps_used + 200  # they spent compute
    assert got.summary.counts.confirmation == 2
    assert got.summary.best is not None and got.summary.best.value == pytest.approx(0.21)
    page = render_page(got)
    assert "Confirmation runs are not runs of the ladder" in section(page, "ladder")


# --- the page ------------------------------------------------------------------------------------
def test_confirmed_page_shows_the_mean_the_seeds_and_the_single_best_run(tmp_path):
    page = write_report(study=confirmed_study(), output=tmp_path / "r.html").read_text("utf-8")
    assert '<a href="#confirmed">Confirmed</a>' in page
    summary = section(page, "summary")
    assert '<div class="label">Best mean</div><div class="value">0.16</div>' in summary
    assert "best single run: #2 at 0.1" in summary
    assert ('<span class="pill confirmation">confirmation runs: 6</span>') in summary
    assert "<tr><th>confirmation runs</th><td>6</td></tr>" in summary
    assert "<tr><th>seeds</th><td>12 (first run), 101, 102</td></tr>" in summary
    assert ("Confirmed on fresh seeds: <strong>0.16 ± 0.01 (3 seeds)</strong>, the best mean of "
            "the 3 configurations re-run") in summary
    assert "Best single run: #2 at 0.1 (a luckier draw not taken" in summary
    assert '<td class="num">0.6 ± 0.02 (3 seeds)</td><td class="num">-73.3%</td>' in summary
    table = section(page, "confirmed")
    assert table.count("<tr") == 4  # the head and three configurations
    assert re.search(r'<tr class="winner-row"><td class="num">#3</td><td><strong>cosine</strong>'
                     r' <span class="pill winner">winner</span>', table)
    assert 'fresh seed 1<br><span class="small">seed 101</span>' in table
    assert 'fresh seed 2<br><span class="small">seed 102</span>' in table
    assert '0.34<br><span class="small">#5</span>' in table
    assert "the baseline itself" in table
    trials = section(page, "trials")
    assert "<th class=\"num\">mean ± std (seeds)</th>" in trials
    assert trials.count("<tr>") == 1 + 5  # each configuration once
    assert "Confirmation runs are folded into the trial they repeat." in trials
    assert '<th class="num">confirmation runs</th>' in section(page, "families")
    assert figure_count(page) == 7  # no plot added


def test_a_study_without_confirmations_renders_as_before():
    for study in (small_study(), ladder_study()):
        got = get_report_data(study)
        assert got.summary.confirmed == () and got.summary.counts.confirmation == 0
        assert got.summary.best is not None
        assert got.summary.best.confirmed is None and got.summary.best.best_single_run is None
        assert all(b.confirmed is None for b in got.summary.baselines)
        assert all(t.confirmed is None for t in got.top_trials)
        assert all(c.seeds == 1 for c in got.lr_curves.versus + got.lr_curves.top)
        page = render_page(got)
        body = re.sub(r"<style>.*?</style>", "", without_plotly_js(page), flags=re.S)
        assert 'id="confirmed"' not in body and "#confirmed" not in body
        for absent in ("confirmation", "mean ± std", "seeds", "Best mean", "noise"):
            assert absent not in body, absent
        assert ">Best value</div>" in body
        assert "the winner is never worse than these on the measured objective." in body
        assert f"<tr><th>seed</th><td>{got.summary.best.seed}</td></tr>" in body


def test_hostile_strings_in_a_confirmed_study_are_escaped(tmp_path):
    evil_family = '<img src=x onerror="alert(2)">'
    study = confirmed_study(EVIL, families=[evil_family, *FAMILIES])
    study.add_trial(make_trial("cosine", families=[evil_family, *FAMILIES], state="failed",
                               reason="<marquee>r</marquee>", error="ValueError: </script><h1>x",
                               extra_attrs={"confirms": 3, "confirm_round": 1}))
    got = get_report_data(study)
    assert [c.family for c in got.summary.confirmed] == ["cosine", evil_family, "constant"]
    page = write_report(study=study, output=tmp_path / "r.html").read_text("utf-8")
    rest = without_plotly_js(page)
    for raw in (EVIL, "<img", "<marquee", "<h1>x"):
        assert raw not in rest, raw
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in section(rest, "confirmed")
    assert rest.count("<script") == figure_count(page) + 3
    assert rest.count("</script>") == figure_count(page) + 3
    blocks = re.findall(r'<script type="application/json" data-figure="[^"]+">(.*?)</script>',
                        rest, re.S)
    assert blocks and all("<" not in b for b in blocks)
    assert "&lt;img src=x" in json.dumps([json.loads(b) for b in blocks])


def test_a_confirmation_whose_trial_is_missing_is_not_a_configuration():
    study = make_study([
        make_trial("cosine", params={"min_ratio": 0.1}, reports={0: 1.0, 1: 0.2}),
        make_trial("cosine", params={"min_ratio": 0.1}, reports={0: 1.0, 1: 0.1},
                   extra_attrs={"confirms": 99, "confirm_round": 0}),
    ])
    got = get_report_data(study)
    assert got.summary.confirmed == ()
    assert got.summary.best is not None and got.summary.best.number == 0
    assert got.summary.best.confirmed is None
    assert [t.number for t in got.top_trials] == [0]
    assert got.summary.counts == Counts(total=2, complete=1, confirmation=1)
