"""The fidelity ladder: rungs placed on reports, shortened runs, ASHA promotions, the budget,
resume, the winner, and every bad ladder option."""

from __future__ import annotations

import math
import warnings

import optuna
import pytest
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import autolr
from autolr.errors import ConfigError
from autolr.search.ladder import (
    MIN_RUNG_STEPS,
    SHORTENED,
    Ladder,
    LadderBoard,
    learning_trials,
    plan_ladder,
)

TOTAL = 90  # the toy's scheduler steps
EVERY = 10  # it reports every EVERY steps


def toy(total: int = TOTAL, every: int = EVERY, *, record: list | None = None,
        nan_when=None, base_lr: float = 0.1, short_is_better: bool = False):
    """A deterministic 'training' whose value falls with the steps taken (rises, with
    ``short_is_better``) and is best when the LR ends near 0.01: annealing wins. ``record``
    collects (lrs applied, reports) per run."""

    def train():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
        scheduler = autolr.scheduler(optimizer, total_steps=total)
        lrs, reports = [], []
        if record is not None:
            record.append((lrs, reports))
        for i in range(1, total + 1):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            if i % every == 0 or i == total:
                value = (i / 900 if short_is_better else 5.0 / i)
                value += abs(math.log(lrs[-1] / 0.01)) / 10
                if nan_when is not None and nan_when(max(lrs), i):
                    value = float("nan")
                reports.append(i)
                autolr.report(value, step=i // every)

    return train


def quiet_tune(fn, **kwargs):
    kwargs.setdefault("search", "ladder")  # the ladder, not the default strategy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        return autolr.tune(fn, **kwargs)


def spent(study: optuna.Study) -> int:
    return sum(t.user_attrs.get("steps", 0) for t in study.trials)


# --- placing the rungs -----------------------------------------------------------------------
def test_rungs_move_to_the_nearest_report_and_keep_their_order():
    ladder, why = plan_ladder((1 / 9, 1 / 3, 1), 3, 184, range(23, 185, 23))
    assert why == ""
    assert ladder.steps == (23, 69, 184)
    assert ladder.fidelities == (23 / 184, 69 / 184, 1.0)
    assert any("moved to 23 steps" in note for note in ladder.notes)
    assert ladder.cost() == pytest.approx(23 / 184 + 69 / 184 / 3 + 1 / 9)


def test_a_rung_under_the_minimum_or_far_from_any_report_is_dropped():
    # 1/9 of 45 is 5 steps, under the minimum and too far from it; 1/3 is 15, a report
    ladder, _ = plan_ladder((1 / 9, 1 / 3), 3, 45, range(5, 46, 5))
    assert ladder.steps == (15, 45)
    assert any(f"under the {MIN_RUNG_STEPS}-step minimum" in n for n in ladder.notes)
    # a script that reports near the end only: 1/9 and 1/3 have no report near them
    ladder, why = plan_ladder((1 / 9, 1 / 3), 3, 900, [800, 900])
    assert ladder is None and "reports nowhere near" in why


@pytest.mark.parametrize(
    ("total", "reports", "pattern"),
    [
        (500, [500], "reports only at the end of its run"),
        (12, range(1, 13), "total_steps=12 is too small"),
    ],
)
def test_a_script_that_cannot_honour_any_rung_gets_the_reason(total, reports, pattern):
    ladder, why = plan_ladder((1 / 9, 1 / 3, 1), 3, total, reports)
    assert ladder is None
    assert pattern in why


def test_shortened_spec_compresses_every_phase_and_scales_report_counts():
    spec = autolr.ScheduleSpec("multistep", {"milestones": [0.5, 0.75]}, lr=0.1,
                               total_steps=900, warmup_steps=90)
    short = spec.shortened(1 / 9)
    assert short == spec.with_total_steps(100)
    assert short.warmup_steps == 10
    plateau = autolr.ScheduleSpec("plateau", {"patience": 5, "cooldown": 2}, lr=0.1,
                                  total_steps=90)
    assert plateau.shortened(1 / 3).params["patience"] == 2  # round(5 / 3)
    assert plateau.shortened(1 / 3).params["cooldown"] == 1
    assert plateau.shortened(1 / 3).total_steps == 30
    with pytest.raises(ConfigError, match="'fidelity' parameter of ScheduleSpec.shortened"):
        spec.shortened(0)


# --- a shortened run --------------------------------------------------------------------------
def test_a_shortened_run_follows_its_compressed_schedule_and_stops_at_the_rung():
    runs: list = []
    result = quiet_tune(toy(record=runs), n_trials=6, seed=0)
    study = result.study
    settings = study.user_attrs["autolr"]
    assert settings["search"] == "ladder"
    assert settings["ladder"]["steps"] == [10, 30, 90]
    shortened = [t for t in study.trials if t.user_attrs.get("reason") == SHORTENED]
    assert shortened, "the ladder ran no shortened run"
    for trial in study.trials:
        lrs, reports = runs[trial.number]
        fidelity = trial.user_attrs.get("fidelity", 1.0)
        steps = round(fidelity * TOTAL)
        assert trial.user_attrs["steps"] == steps == len(lrs)
        full = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        if fidelity < 1:
            assert trial.state == TrialState.PRUNED
            assert full.total_steps == steps
            # the configuration at full length, compressed: the same LRs at every step
            base = _full_spec(trial, result)
            assert lrs == pytest.approx(base.with_total_steps(steps).lrs(), rel=1e-12)
            assert reports[-1] == min(r for r in range(EVERY, TOTAL + 1, EVERY) if r >= steps)
            assert trial.value == trial.intermediate_values[max(trial.intermediate_values)]
            assert "step_mismatch" not in trial.user_attrs
        else:
            assert trial.state == TrialState.COMPLETE
            assert lrs == pytest.approx(full.lrs(), rel=1e-12)


def _full_spec(trial, result) -> autolr.ScheduleSpec:
    """The trial's configuration at the script's full length."""
    space = autolr.tuner.SearchSpace(
        families=tuple(result.study.user_attrs["autolr"]["families"]),
        lr_scale=(1e-9, 1e9), warmup=True, direction="minimize",
    )
    fixed = optuna.trial.FixedTrial(trial.params)
    return space.sample(fixed, 0.1, TOTAL)


def test_the_divergence_guard_is_on_at_every_rung():
    result = quiet_tune(toy(nan_when=lambda lr, step: lr > 0.3), n_trials=8, seed=1, confirm=0)
    diverged = [t for t in result.study.trials if t.user_attrs.get("reason") == "diverged"]
    assert diverged
    assert any(t.user_attrs.get("fidelity", 1.0) < 1 for t in diverged)
    board = LadderBoard(Ladder.from_dict(result.study.user_attrs["autolr"]["ladder"]),
                        "minimize", result.study.trials)
    assert not board.promoted & {t.number for t in diverged}


def test_plateau_starts_at_the_lowest_rung_with_enough_reports_to_cut():
    result = quiet_tune(toy(), n_trials=12, seed=3, families=["plateau", "cosine"])
    study = result.study
    ladder = Ladder.from_dict(study.user_attrs["autolr"]["ladder"])
    assert ladder.reports == (1, 3, 9)
    assert ladder.entry_rung(metric_driven=True) == 1 and ladder.entry_rung(False) == 0
    plateau = [t for t in study.trials if t.params.get("family") == "plateau"
               and "rung" in t.user_attrs]
    assert plateau
    for trial in plateau:
        assert trial.user_attrs["rung"] >= 1, "a one-report plateau run is a constant LR"
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        assert trial.user_attrs["steps"] == spec.total_steps == ladder.steps[
            trial.user_attrs["rung"]]
    assert any(t.user_attrs.get("entered_from") == 0 for t in plateau)
    assert spent(study) <= 12 * TOTAL


# --- ASHA's rule --------------------------------------------------------------------------------
LADDER = Ladder(fidelities=(1 / 9, 1 / 3, 1.0), steps=(10, 30, 90), eta=3,
                requested=(1 / 9, 1 / 3, 1.0))


def _result(number: int, rung: int, value: float, *, promoted_from=None, state=None,
            reason=SHORTENED):
    attrs = {"rung": rung, "fidelity": LADDER.fidelities[rung], "steps": LADDER.steps[rung],
             "reason": reason if rung < LADDER.top else "complete"}
    if promoted_from is not None:
        attrs["promoted_from"] = promoted_from
    state = state or (TrialState.COMPLETE if rung == LADDER.top else TrialState.PRUNED)
    trial = create_trial(
        state=state, value=value if state != TrialState.FAIL else None,
        params={"x": float(number % 7)}, distributions={"x": FloatDistribution(0, 10)},
        user_attrs=attrs, intermediate_values={0: value} if state != TrialState.FAIL else {},
    )
    trial.number = number
    return trial


def test_asha_promotes_the_best_third_of_a_rung_so_far_highest_rung_first():
    trials = [_result(0, 0, 3.0), _result(1, 0, 1.0)]
    board = LadderBoard(LADDER, "minimize", trials)
    assert board.promotable(0) is None  # 2 results: floor(2/3) = 0 may go on
    trials.append(_result(2, 0, 2.0))
    board.rebuild(trials)
    job = board.next_job(budget_steps=10_000)
    assert (job.kind, job.rung, job.source) == ("promote", 1, 1)
    assert job.params == trials[1].params
    board.started(job, 30)
    # the promoted configuration is not promoted twice; the next best is not in the top third
    assert board.promotable(0) is None
    # three results at rung 1, the best is promoted to the top before any rung-0 promotion
    trials += [_result(3, 0, 0.5), _result(4, 0, 0.7), _result(5, 0, 0.9)]
    trials += [_result(6, 1, 0.4, promoted_from=1), _result(7, 1, 0.2, promoted_from=3),
               _result(8, 1, 0.3, promoted_from=4)]
    board.rebuild(trials)
    job = board.next_job(budget_steps=10_000)
    assert (job.kind, job.rung, job.source) == ("promote", 2, 7)


def test_asha_ranks_by_direction_and_never_promotes_diverged_or_failed_runs():
    trials = [
        _result(0, 0, 9.0, reason="diverged"),
        _result(1, 0, 0.0, state=TrialState.FAIL, reason="failed"),
        _result(2, 0, 1.0), _result(3, 0, 2.0), _result(4, 0, 3.0), _result(5, 0, 0.5),
    ]
    for trial in trials[1:2]:
        trial.user_attrs["reason"] = "failed"
    maximize = LadderBoard(LADDER, "maximize", trials)
    assert [t.number for _, t in maximize.results[0]][:2] == [4, 3]
    assert maximize.promotable(0).number == 4
    minimize = LadderBoard(LADDER, "minimize", trials)
    assert minimize.promotable(0).number == 5
    assert 0 not in [t.number for _, t in minimize.results[0]][:4]  # diverged: the worst


def test_new_configurations_stop_at_the_plan_and_what_is_left_goes_to_the_top():
    board = LadderBoard(LADDER, "minimize", [])
    budget = 3 * 90  # three full runs: cost per configuration is 1/9 + 1/9 + 1/9 = 1/3 run
    assert board.plan(budget) == (9, 0)
    jobs = []
    while (job := board.next_job(budget)) is not None:
        jobs.append(job)
        board.started(job, LADDER.steps[job.rung])
    # started together, before any result: the plan's nine configurations and nothing more
    assert [j.kind for j in jobs] == ["new"] * 9
    assert board.used_steps == 90


def test_the_learning_view_shows_one_rung_as_complete_trials():
    trials = [_result(i, 0, float(i)) for i in range(4)] + [_result(4, 2, 0.1)]
    view = learning_trials(LADDER, trials, 0)
    assert [t.number for t in view] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in view)
    assert [t.value for t in view] == [0.0, 1.0, 2.0, 3.0]
    assert [t.number for t in learning_trials(LADDER, trials, 2)] == [4]


# --- the study ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n_trials", [4, 6, 12])
def test_the_budget_holds_and_the_winner_is_full_fidelity(n_trials, tmp_path):
    result = quiet_tune(toy(), n_trials=n_trials, seed=2)
    study = result.study
    assert spent(study) <= n_trials * TOTAL
    assert spent(study) >= (n_trials - 1) * TOTAL  # the budget is spent, not left over
    assert study.best_trial.state == TrialState.COMPLETE
    assert study.best_trial.user_attrs.get("fidelity", 1.0) == 1.0
    assert result.best_spec.total_steps == TOTAL
    result.export(str(tmp_path / "best.json"), "json")
    exported = autolr.load_schedule(tmp_path / "best.json")
    assert exported.total_steps == TOTAL
    summary = result.ladder
    assert summary.steps_used == spent(study)
    ladder_runs = [t for t in study.trials if "confirms" not in t.user_attrs]
    assert sum(r.runs for r in summary.rungs) == len(ladder_runs)  # confirmations apart


def test_a_shortened_run_with_a_better_value_is_never_the_winner():
    result = quiet_tune(toy(short_is_better=True), n_trials=8, seed=2)
    study = result.study
    shortened = [t for t in study.trials if t.user_attrs.get("reason") == SHORTENED]
    assert min(t.value for t in shortened) < study.best_value
    assert study.best_trial.user_attrs.get("fidelity", 1.0) == 1.0
    assert result.best_value == study.best_value
    assert result.found_by()["trial"] == study.best_trial.number


def test_more_configurations_than_trials_and_better_than_the_baselines():
    result = quiet_tune(toy(), n_trials=12, seed=3)
    study = result.study
    configurations = {repr(sorted(t.params.items())) for t in study.trials}
    assert len(configurations) > 12
    baselines = [t.value for t in study.trials if t.user_attrs.get("baseline")]
    assert result.best_value < min(baselines)
    # each promotion repeats its source's parameters one rung higher
    by_number = {t.number: t for t in study.trials}
    promoted = [t for t in study.trials if "promoted_from" in t.user_attrs]
    assert promoted
    for trial in promoted:
        source = by_number[trial.user_attrs["promoted_from"]]
        assert source.params == trial.params
        assert trial.user_attrs["rung"] == source.user_attrs["rung"] + 1


def test_resume_in_the_middle_of_the_ladder_continues_it(tmp_path):
    storage = f"sqlite:///{tmp_path}/ladder.db"
    first = quiet_tune(toy(), n_trials=5, storage=storage, study_name="l", seed=4)
    before = [(t.number, t.params, t.value, t.state) for t in first.study.trials]
    first_spent, first_numbers = spent(first.study), {t.number for t in first.study.trials}
    ladder = first.study.user_attrs["autolr"]["ladder"]
    second = quiet_tune(toy(), n_trials=10, storage=storage, study_name="l")
    study = second.study
    assert [(t.number, t.params, t.value, t.state) for t in study.trials[: len(before)]] == before
    assert study.user_attrs["autolr"]["ladder"] == ladder
    assert first_spent <= 5 * TOTAL < spent(study) <= 10 * TOTAL
    # the second call adds configurations and promotes each configuration at most once
    later = study.trials[len(before):]
    assert any(t.user_attrs.get("rung") == 0 for t in later)
    sources = [t.user_attrs["promoted_from"] for t in study.trials
               if "promoted_from" in t.user_attrs]
    assert len(sources) == len(set(sources)) and not set(sources) - set(range(len(study.trials)))
    assert first_numbers < {t.number for t in study.trials}
    again = quiet_tune(toy(), n_trials=10, storage=storage, study_name="l")
    assert len(again.study.trials) == len(study.trials)


def test_an_interrupted_run_is_queued_again_at_its_rung(tmp_path):
    calls = {"n": 0}
    inner = toy()

    def interrupted_once():
        calls["n"] += 1
        if calls["n"] != 7:  # trial 6: the first promotion, after three rung-0 results
            return inner()
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=TOTAL)
        raise KeyboardInterrupt

    storage = f"sqlite:///{tmp_path}/i.db"
    with pytest.raises(KeyboardInterrupt):
        quiet_tune(interrupted_once, n_trials=6, storage=storage, study_name="i", seed=5)
    study = optuna.load_study(study_name="i", storage=storage)
    stopped = next(t for t in study.trials if t.user_attrs.get("reason") == "interrupted")
    assert stopped.user_attrs["rung"] == 1 and "promoted_from" in stopped.user_attrs
    queued = next(t for t in study.trials if t.user_attrs.get("requeued_from") == stopped.number)
    for key in ("rung", "fidelity", "promoted_from"):
        assert queued.user_attrs.get(key) == stopped.user_attrs.get(key)
    result = quiet_tune(toy(), n_trials=6, storage=storage, study_name="i")
    assert result.study.trials[queued.number].state != TrialState.WAITING
    assert spent(result.study) <= 6 * TOTAL


def test_a_study_from_the_earlier_version_loads_and_resumes_as_a_full_search(tmp_path):
    storage = f"sqlite:///{tmp_path}/old.db"
    quiet_tune(toy(), n_trials=3, storage=storage, study_name="old", seed=6, search="full")
    study = optuna.load_study(study_name="old", storage=storage)
    settings = dict(study.user_attrs["autolr"])  # what the earlier version wrote
    for key in ("search", "ladder_request", "ladder", "n_trials", "total_steps"):
        settings.pop(key, None)
    settings["version"] = 1
    study.set_user_attr("autolr", settings)
    result = quiet_tune(toy(), n_trials=5, storage=storage, study_name="old", search=None)
    finished = [t for t in result.study.trials if t.state.is_finished()]
    assert len(finished) == 5
    assert not any("fidelity" in t.user_attrs for t in finished)
    assert result.ladder is None
    with pytest.raises(ConfigError, match="created with search='full'"):
        quiet_tune(toy(), n_trials=6, storage=storage, study_name="old", search="ladder")


def test_a_script_that_reports_once_runs_the_full_search_and_says_why():
    def once():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=200)
        for _ in range(200):
            optimizer.step()
            scheduler.step()
        autolr.report(abs(math.log(optimizer.param_groups[0]["lr"] / 0.05)), step=0)

    with pytest.warns(autolr.AutolrWarning, match="reports only at the end of its run"):
        result = autolr.tune(once, n_trials=5, seed=0, search="ladder")
    settings = result.study.user_attrs["autolr"]
    assert "reports only at the end" in settings["ladder_fallback"]
    assert len([t for t in result.study.trials if t.state.is_finished()]) == 5
    assert any("runs the full search" in note for note in result.notes)


def test_a_user_family_compresses_like_the_built_in_ones():
    def ramp_factor(step, total_steps, floor=0.1):
        return max(floor, 1 - step / total_steps)

    autolr.register_family(
        "ramp_test", factor=ramp_factor,
        space=lambda trial: {"floor": trial.suggest_float("floor", 0.0, 0.3)},
    )
    try:
        runs: list = []
        result = quiet_tune(toy(record=runs), n_trials=5, seed=7, families=["ramp_test"],
                            warmup=False)
        for trial in result.study.trials:
            spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
            assert runs[trial.number][0] == pytest.approx(spec.lrs(), rel=1e-12)
        assert any(t.user_attrs.get("reason") == SHORTENED for t in result.study.trials)
    finally:
        autolr.unregister_family("ramp_test")


# --- bad ladder options ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"ladder": [0.5, 0.2]}, r"'ladder' parameter of tune must be fidelities in \(0, 1\], in "
                                 r"increasing order.*Got \[0.5, 0.2\].*Sort them"),
        ({"ladder": [0.0, 0.5]}, r"'ladder' .*0.0 is not a fraction in \(0, 1\]"),
        ({"ladder": [0.3, 1.5]}, r"'ladder' .*1.5 is not a fraction"),
        ({"ladder": [0.2, 0.2, 1]}, r"'ladder' .*Sort them and drop repeats"),
        ({"ladder": "1/9"}, r"'ladder' parameter of tune must be fidelities"),
        ({"ladder": []}, r"'ladder' parameter of tune must be fidelities"),
        ({"eta": 1}, r"'eta' parameter of tune must be >= 2. Got 1"),
        ({"eta": 2.5}, r"'eta' parameter of tune must be an integer"),
        ({"search": "asha"}, r"'search' .* one of \{'ladder', 'full', 'lr_first'\}. Got 'asha'"),
        ({"search": "full", "eta": 3}, r"'eta' parameter of tune applies to search='ladder'"),
        ({"search": "full", "ladder": [0.5]}, r"'ladder' parameter of tune applies to "),
        ({"search": "ladder", "pruner": "median"}, r"'pruner' parameter of tune applies to "
                                                   r"search='lr_first' or 'full' only"),
        ({"eta": 3, "pruner": "hyperband"}, r"'pruner' parameter of tune applies to "
                                            r"search='lr_first' or 'full'"),
    ],
)
def test_bad_ladder_options_name_the_rule_and_the_value(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        autolr.tune(toy(), n_trials=3, **kwargs)


def test_resuming_with_another_ladder_is_refused(tmp_path):
    storage = f"sqlite:///{tmp_path}/r.db"
    quiet_tune(toy(), n_trials=3, storage=storage, study_name="r", seed=0)
    with pytest.raises(ConfigError, match="cannot be resumed with eta=4"):
        quiet_tune(toy(), n_trials=4, storage=storage, study_name="r", eta=4)
    with pytest.raises(ConfigError, match="cannot be resumed with search='full'"):
        quiet_tune(toy(), n_trials=4, storage=storage, study_name="r", search="full")
