"""Data preparation: hand-built studies in, plain records out, compared by equality."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from optuna.distributions import FloatDistribution
from report_studies import FAMILIES, make_study, make_trial, small_study

from autolr.reports import curve_data, data
from autolr.reports.data import (
    Bar,
    BaselineResult,
    Counts,
    Curve,
    FailureReason,
    FamilyRow,
    History,
    Importance,
    Leaderboard,
    LearningCurves,
    LrCurves,
    ReportData,
    Summary,
    Timeline,
    TopTrial,
    Winner,
    get_report_data,
)
from autolr.search.lr_edge import edge_message

SETTINGS = {
    "version": 1, "families": FAMILIES, "warmup": True, "seed": 1, "lr": None,
    "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "base_lr": 0.1,
}
NO_TRIALS = (
    "This study has no trials yet. Run `autolr tune` on it, then make the report again."
)


def test_empty_study_gives_empty_records_and_says_so():
    study = make_study(name="empty")
    assert get_report_data(study) == ReportData(
        summary=Summary(
            study_name="empty", direction="minimize", counts=Counts(), best=None, baselines=(),
            steps_spent=0, steps_unpruned=0, step_unit="step", lr_edge=None, lr_range=None,
            failures=(), step_mismatches=(), notes=(NO_TRIALS,),
        ),
        families=(),
        lr_curves=LrCurves((), (), "step"),
        learning_curves=LearningCurves((), "minimize", False),
        leaderboard=Leaderboard((), "minimize"),
        top_trials=(),
        history=History((), (), (), (), "minimize"),
        importance=Importance(
            (), "Parameter importance needs at least 5 complete trials; this study has 0."
        ),
        timeline=Timeline((), (), None),
    )


def test_one_trial_study():
    study = make_study([make_trial(
        "cosine", params={"min_ratio": 0.0}, lr_scale=2.0, total_steps=4, warmup_steps=1,
        reports={0: 0.9, 1: 0.5}, start_s=5.0, duration_s=3.0, worker="cuda:0", seed=11,
    )], name="one", settings=SETTINGS)
    got = get_report_data(study)
    cosine = (0.2 * 0.5, 0.2 * 1.0, 0.2 * (1 + math.cos(math.pi / 3)) / 2,
              0.2 * (1 + math.cos(2 * math.pi / 3)) / 2)
    assert got.summary == Summary(
        study_name="one", direction="minimize",
        counts=Counts(total=1, complete=1),
        best=Winner(
            number=0, value=0.5, family="cosine",
            summary="Cosine annealing from the peak to min_ratio * peak over the run.",
            formula="min_ratio + (1 - min_ratio) * (1 + cos(pi * step / total_steps)) / 2",
            description=(
                "cosine schedule with min_ratio = 0; peak LR 0.2 (2× the script's own LR 0.1), "
                "reached after a linear warmup over the first 1 of 4 batch steps (25%)."
            ),
            params=(("min_ratio", "0"),), peak_lr=0.2, base_lr=0.1, warmup_steps=1,
            total_steps=4, step_unit="batch", seed=11, baseline=None,
        ),
        baselines=(), steps_spent=4, steps_unpruned=4, step_unit="batch", lr_edge=None,
        lr_range="0.1× to 10× the script's own LR (0.01 to 1)", failures=(),
        step_mismatches=(),
        notes=("Only one trial completed: the comparisons below need more. Resume the study "
               "with more trials.",),
        search="full",  # settings without "search": a study from before the ladder
    )
    assert got.families == ("cosine",)
    recorded = Curve(number=0, family="cosine", outcome="complete", value=0.5,
                     steps=(0, 1, 2, 3), values=(0.2,) * 4, best=True)
    assert got.lr_curves == LrCurves(top=(recorded,), versus=(recorded,), step_unit="batch")
    assert got.learning_curves == LearningCurves(
        (Curve(0, "cosine", "complete", 0.5, (0, 1), (0.9, 0.5), best=True),),
        "minimize", False,
    )
    assert got.leaderboard == Leaderboard(
        (FamilyRow("cosine", 1, 0, 0, 0.5, 0, 0.5, (0.5,), (0,)),), "minimize"
    )
    assert got.top_trials == (
        TopTrial(0, "cosine", 0.5, 0.2, 1, (("min_ratio", "0"),), None),
    )
    assert got.history == History((0,), (0.5,), ("cosine",), (0.5,), "minimize")
    assert got.importance.params == ()
    assert got.timeline == Timeline(
        (Bar(0, "cuda:0", "cosine", "complete", 0.0, 3.0),), ("cuda:0",),
        "2024-05-01T12:00:05",
    )
    # without a recorded LR curve the LR comes from the spec's closed form
    planned = curve_data._lr_curve(
        make_study([make_trial("cosine", params={"min_ratio": 0.0}, lr_scale=2.0,
                               total_steps=4, warmup_steps=1, lr_curve=False)]).trials[0],
        prefer_planned=False,
    )
    assert planned is not None and planned.planned
    assert planned.steps == (0, 1, 2, 3)
    assert planned.values == pytest.approx(cosine)


def test_all_failed_study_says_there_is_no_winner():
    oom = "Traceback (most recent call last):\n  ...\ntorch.OutOfMemoryError: CUDA out of memory."
    study = make_study([
        make_trial("step", state="failed", reason="out of memory", error=oom, start_s=0,
                   duration_s=2, steps=10),
        make_trial("cosine", state="failed", reason="failed", error="ValueError: bad\nmore",
                   start_s=2, duration_s=2, steps=0),
        make_trial("cosine", state="failed", reason="out of memory", error=oom, start_s=4,
                   duration_s=2, steps=5),
    ], name="broken", settings=SETTINGS)
    got = get_report_data(study)
    failures = (
        FailureReason("out of memory", 2, "torch.OutOfMemoryError: CUDA out of memory."),
        FailureReason("failed", 1, "ValueError: bad"),
    )
    assert got.summary == Summary(
        study_name="broken", direction="minimize", counts=Counts(total=3, failed=3), best=None,
        baselines=(), steps_spent=15, steps_unpruned=15, step_unit="batch", lr_edge=None,
        lr_range="0.1× to 10× the script's own LR (0.01 to 1)", failures=failures,
        step_mismatches=(),
        notes=("All 3 trials failed, so there is no best schedule. Most common failure: out of "
               "memory: torch.OutOfMemoryError: CUDA out of memory.",),
        search="full",
    )
    assert got.families == ("step", "cosine")
    assert got.lr_curves == LrCurves((), (), "batch")
    assert got.learning_curves == LearningCurves((), "minimize", False)
    assert got.leaderboard == Leaderboard((
        FamilyRow("step", 0, 0, 1, None, None, None, (), ()),
        FamilyRow("cosine", 0, 0, 2, None, None, None, (), ()),
    ), "minimize")
    assert got.top_trials == ()
    assert got.history == History((), (), (), (), "minimize")
    assert got.importance == Importance(
        (), "Parameter importance needs at least 5 complete trials; this study has 0."
    )
    assert got.timeline == Timeline((
        Bar(0, "main", "step", "failed", 0.0, 2.0),
        Bar(1, "main", "cosine", "failed", 2.0, 2.0),
        Bar(2, "main", "cosine", "failed", 4.0, 2.0),
    ), ("main",), "2024-05-01T12:00:00")


def test_small_study_summary():
    s = data.get_summary(small_study())
    assert s.counts == Counts(total=6, complete=3, pruned=1, diverged=1, failed=1)
    assert s.best is not None and (s.best.number, s.best.family, s.best.value) == (3, "step", 0.15)
    assert s.best.description == (
        "step schedule with every = 0.3, gamma = 0.1; peak LR 0.3 (3× the script's own LR 0.1), "
        "reached after a linear warmup over the first 10 of 100 batch steps (10%)."
    )
    assert s.best.formula == "gamma ** floor(step / round(every * total_steps))"
    assert s.baselines == (
        BaselineResult("constant", 0, "complete", 0.6),
        BaselineResult("cosine", 1, "complete", 0.35),
        BaselineResult("linear", 2, "pruned", 0.9),
    )
    # complete: 3 x 100; pruned (2 reports): 20, else 100; diverged (1 report): 10, else 100;
    # failed (4 reports by default): 40, counted as spent either way
    assert (s.steps_spent, s.steps_unpruned) == (370, 540)
    assert s.failures == (
        FailureReason("out of memory", 1, "CUDA out of memory. Tried to allocate 2 GiB"),
    )
    assert s.notes == ()
    assert s.lr_edge is None


def test_small_study_curves_and_leaderboard():
    got = get_report_data(small_study())
    assert [(c.number, c.outcome, c.best) for c in got.learning_curves.curves] == [
        (0, "complete", False), (1, "complete", False), (2, "pruned", False),
        (3, "complete", True), (4, "diverged", False),
    ]
    assert got.learning_curves.curves[2] == Curve(
        2, "linear", "pruned", 0.9, (0, 1), (1.2, 0.9), baseline="linear"
    )
    # the winner (recorded) against each baseline's whole planned schedule
    versus = got.lr_curves.versus
    assert [(c.number, c.baseline, c.planned) for c in versus] == [
        (3, None, False), (0, "constant", True), (1, "cosine", True), (2, "linear", True),
    ]
    assert versus[3].steps == tuple(range(100))
    assert versus[3].values == pytest.approx(tuple(0.1 * (1 - i / 100) for i in range(100)))
    assert [c.number for c in got.lr_curves.top] == [3, 1, 0]
    assert got.families == ("constant", "step", "cosine", "linear")
    assert got.leaderboard == Leaderboard((
        FamilyRow("step", 1, 0, 0, 0.15, 3, 0.15, (0.15,), (3,)),
        FamilyRow("cosine", 1, 1, 1, 0.35, 1, 0.35, (0.35,), (1,)),
        FamilyRow("constant", 1, 0, 0, 0.6, 0, 0.6, (0.6,), (0,)),
        FamilyRow("linear", 0, 1, 0, None, None, None, (), ()),
    ), "minimize")
    assert got.top_trials == (
        TopTrial(3, "step", 0.15, pytest.approx(0.3), 10, (("every", "0.3"), ("gamma", "0.1")),
                 None),
        TopTrial(1, "cosine", 0.35, 0.1, 0, (("min_ratio", "0"),), "cosine"),
        TopTrial(0, "constant", 0.6, 0.1, 0, (), "constant"),
    )
    assert got.history == History(
        (0, 1, 3), (0.6, 0.35, 0.15), ("constant", "cosine", "step"), (0.6, 0.35, 0.15),
        "minimize",
    )
    assert got.timeline.workers == ("cpu0", "cpu1")
    assert [(b.number, b.worker, b.outcome, b.start_s) for b in got.timeline.bars] == [
        (0, "cpu0", "complete", 0.0), (1, "cpu1", "complete", 0.0),
        (2, "cpu0", "pruned", 10.0), (3, "cpu1", "complete", 10.0),
        (4, "cpu0", "diverged", 20.0), (5, "cpu1", "failed", 20.0),
    ]


def test_maximize_ranks_the_highest_first():
    study = make_study([
        make_trial("constant", reports={0: 0.5, 1: 0.7}),
        make_trial("cosine", params={"min_ratio": 0.1}, reports={0: 0.6, 1: 0.9}),
        make_trial("cosine", params={"min_ratio": 0.2}, reports={0: 0.6, 1: 0.8}),
    ], direction="maximize")
    got = get_report_data(study)
    assert got.summary.best is not None and got.summary.best.number == 1
    assert got.summary.best.description == (
        "cosine schedule with min_ratio = 0.1; peak LR 0.1 (1× the script's own LR 0.1), over "
        "100 batch steps with no warmup."
    )
    assert [r.family for r in got.leaderboard.rows] == ["cosine", "constant"]
    assert got.leaderboard.rows[0].median_value == pytest.approx(0.85)
    assert got.history.best_so_far == (0.7, 0.9, 0.9)
    assert [t.number for t in got.top_trials] == [1, 2, 0]


def test_learning_curves_are_thinned_first_and_last_kept():
    long = {s: 1.0 / (s + 1) for s in range(1000)}
    study = make_study([make_trial("constant", reports=long)])
    curves = data.get_learning_curves(study)
    (curve,) = curves.curves
    assert curves.downsampled
    assert len(curve.steps) == data.MAX_LEARNING_POINTS
    assert (curve.steps[0], curve.steps[-1]) == (0, 999)
    assert curve.values[-1] == pytest.approx(1 / 1000)
    assert list(curve.steps) == sorted(set(curve.steps))


def test_learning_points_stay_within_budget():
    trials = [make_trial("constant", reports={s: 1.0 for s in range(200)}) for _ in range(600)]
    curves = data.learning_curves("minimize", make_study(trials).trials)
    total = sum(len(c.steps) for c in curves.curves)
    assert total <= data.LEARNING_POINTS_BUDGET
    assert all(len(c.steps) == data.LEARNING_POINTS_BUDGET // 600 for c in curves.curves)


def test_non_finite_reports_and_odd_attributes_are_tolerated():
    weird = make_trial("cosine", params={"min_ratio": 0.1}, reports={0: 1.0, 1: math.inf},
                       value=0.5, extra_attrs={"steps": "many", "lr_curve": {"steps": [1]},
                                               "spec": {"family": "cosine", "lr": -1}})
    study = make_study([weird])
    got = get_report_data(study)
    assert got.learning_curves.curves[0].steps == (0,)
    assert got.summary.steps_spent == 0
    best = got.summary.best
    assert best is not None and best.formula == "" and best.params == (("min_ratio", "0.1"),)
    assert got.lr_curves.top == ()


def test_unregistered_family_is_reported_by_name():
    trial = make_trial("mine", families=["mine"], params={"alpha": 0.5})
    got = get_report_data(make_study([trial]))
    best = got.summary.best
    assert best is not None
    assert best.summary == "The family 'mine' is not registered in this process."
    assert best.family == "mine" and best.params == (("alpha", "0.5"),)
    assert got.families == ("mine",)
    assert got.lr_curves.top[0].planned is False  # recorded curve still shown


def test_step_costs_count_pruned_trials_at_their_full_horizon():
    trials = make_study([
        make_trial("constant", total_steps=50, steps=50),
        make_trial("constant", state="pruned", total_steps=50, steps=5),
        make_trial("constant", state="pruned", reason="diverged", total_steps=50, steps=1),
        make_trial("constant", state="failed", total_steps=50, steps=7),
    ]).trials
    assert data.step_costs(trials) == (63, 157)


def test_running_trial_ends_at_the_latest_known_time():
    study = make_study([
        make_trial("constant", start_s=0, duration_s=30),
        make_trial("constant", state="running", start_s=10),
    ])
    got = data.get_timeline(study)
    assert got.bars[1] == Bar(1, "main", "constant", "running", 10.0, 20.0)
    assert data.get_summary(study).notes == (
        "Only one trial completed: the comparisons below need more. Resume the study with "
        "more trials.",
        "1 trial(s) were still running when this report was made.",
    )


def test_step_mismatch_messages_are_collected_once():
    message = "The training code called scheduler.step() 10 times, but ..."
    study = make_study([make_trial("constant", extra_attrs={"step_mismatch": message})
                        for _ in range(3)])
    assert data.get_summary(study).step_mismatches == (message,)


@pytest.mark.parametrize(
    ("scales", "fixed"),
    [
        ([9.5, 9.0, 8.8, 1.0, 0.5, 0.3], None),  # high edge
        ([0.11, 0.12, 0.2, 1.0, 2.0, 3.0], None),  # low edge
        ([1.0, 2.0, 0.5, 3.0, 0.3, 4.0], None),  # middle: no warning
        ([0.1, 0.105, 0.2, 1.0, 2.0, 3.0], [0.01, 1.0]),  # fixed absolute range
        ([9.5, 9.0, 8.8, 1.0, 0.5], None),  # too few complete trials
    ],
)
def test_lr_edge_matches_the_tuner(scales, fixed):
    """The report's LR-edge warning is the tuner's own check, on the final range."""
    settings = {**SETTINGS, "lr": fixed}
    trials = [
        make_trial("constant", lr_scale=scale, reports={0: 1.0, 1: 0.1 * (i + 1)})
        for i, scale in enumerate(scales)
    ]
    study = make_study(trials, settings=settings)
    # what the study loop calls once the search is done (autolr.search.lr_range.LRRange.at_edge)
    expected = edge_message("minimize", dict(settings), study.get_trials(), widen=False)
    got = data.get_summary(study).lr_edge
    if expected is None:
        assert got is None
    else:
        assert got is not None and got.startswith(expected.split(" Widen")[0])
        if fixed:
            assert got == expected
    if scales[0] == 9.5 and len(scales) == 6:
        assert got is not None and "high edge" in got


def test_lr_edge_advice_after_the_last_widening():
    settings = {**SETTINGS, "lr_scale": [0.1, 1000.0], "widened": 2}
    trials = [make_trial("constant", lr_scale=scale, reports={0: 1.0, 1: 0.1 * (i + 1)},
                         families=FAMILIES)
              for i, scale in enumerate([9.9, 9.8, 9.7, 1.0, 0.5, 0.3])]
    for trial in trials:  # the widened range: lr_scale up to 1000
        trial.distributions["lr_scale"] = FloatDistribution(0.1, 1000.0, log=True)
        trial.params["lr_scale"] *= 100
    got = data.get_summary(make_study(trials, settings=settings)).lr_edge
    assert got == (
        "The best trials sit at the high edge of the peak-LR range searched (best: 0.99); the "
        "best LR may lie above it. autolr already widened the range 2 times; give a wider --lr "
        "(lr=...) and resume the study to look further."
    )


def test_lr_range_text_mentions_widening_and_fixed_ranges():
    assert data.lr_range_text({**SETTINGS, "lr_scale": [0.1, 100.0], "widened": 1}) == (
        "0.1× to 100× the script's own LR (0.01 to 10), widened once during the study"
    )
    assert data.lr_range_text({**SETTINGS, "lr": [0.01, 0.5]}) == (
        "0.1× to 5× the script's own LR (0.01 to 0.5), fixed by the user"
    )
    assert data.lr_range_text({}) is None


def test_importance_with_enough_trials_and_a_note_without():
    trials = [
        make_trial("cosine", params={"min_ratio": 0.02 * i}, lr_scale=0.2 + i,
                   reports={0: 1.0, 1: 1.0 / (i + 1)})
        for i in range(8)
    ]
    got = data.get_importance(make_study(trials))
    assert got.note is None
    assert {name for name, _ in got.params} <= {"family", "lr_scale", "cosine.min_ratio"}
    assert sum(v for _, v in got.params) == pytest.approx(1.0)
    few = data.get_importance(make_study(trials[:4]))
    assert few == Importance(
        (), "Parameter importance needs at least 5 complete trials; this study has 4."
    )


def test_importance_failure_becomes_a_note(monkeypatch):
    import optuna.importance

    def broken(study):
        raise RuntimeError("no luck\nsecond line")

    monkeypatch.setattr(optuna.importance, "get_param_importances", broken)
    study = make_study([make_trial("constant", reports={0: float(i)}) for i in range(6)])
    assert data.get_importance(study) == Importance(
        (), "Optuna could not compute parameter importances (RuntimeError: no luck)."
    )


def test_importance_ties_are_ordered_by_name(monkeypatch):
    """The same study gives the same report: Optuna returns tied importances in an order that
    changes from one process to the next."""
    import optuna.importance

    def tied(study):
        return {"family": 0.4, "cosine.min_ratio": 0.2, "lr_scale": 0.4, "warmup_frac": 0.0}

    monkeypatch.setattr(optuna.importance, "get_param_importances", tied)
    study = make_study([make_trial("constant", reports={0: float(i)}) for i in range(6)])
    assert [name for name, _ in data.get_importance(study).params] == [
        "family", "lr_scale", "cosine.min_ratio", "warmup_frac"]


def test_timeline_origin_is_the_first_start():
    study = make_study([make_trial("constant", start_s=100), make_trial("constant", start_s=40)])
    got = data.get_timeline(study)
    assert got.origin == (dt.datetime(2024, 5, 1, 12, 0, 40)).isoformat()
    assert [b.start_s for b in got.bars] == [60.0, 0.0]
