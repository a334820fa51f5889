"""``search="lr_first"``: a line search on the peak LR with linear decay to zero, then shapes at
that LR (the portfolio first), all decided from the study's trials so a resumed study goes on."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from optuna.trial import TrialState

import autolr
from autolr.search import lr_first

TOTAL = 30
BEST_SCALE = 6.0  # the peak LR (x the script's 0.1) this 'training' likes best


def train() -> None:
    """30 steps; the last report is best at a peak LR of 0.6, and a little better for a
    decaying schedule than for a constant one."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=TOTAL)
    peak = scheduler.base_lrs[0]
    lrs = []
    for i in range(1, TOTAL + 1):
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
        if i % 3 == 0:
            decayed = lrs[-1] < 0.5 * peak
            value = abs(math.log10(peak / (0.1 * BEST_SCALE))) + (0.0 if decayed else 0.05)
            autolr.report(value + 1.0 / i, step=i // 3)


def tune(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        return autolr.tune(train, seed=5, search="lr_first", **kwargs)


@pytest.fixture(autouse=True)
def portfolio():
    lr_first.set_shape_portfolio([
        {"params": {"family": "cosine", "cosine.min_ratio": 0.0, "warmup": 0.05},
         "lr_factor": 0.8},
    ])
    yield
    lr_first.set_shape_portfolio(None)


def line(trials):
    return [t for t in trials if t.user_attrs.get("lr_search") is True]


def test_the_line_search_steps_up_until_worse_then_refines_once(tmp_path):
    result = tune(n_trials=16, pruner="none", confirm=0)
    trials = result.study.trials
    scales = [round(t.params["lr_scale"], 3) for t in line(trials)]
    # from the linear baseline at 1x: 3.16x, 10x (worse than 3.16x? no: 6x sits between), ...
    assert scales[:2] == [3.162, 10.0]
    assert scales[2] == pytest.approx(10 ** 0.75, abs=1e-3)  # halfway to the better neighbour
    assert len(scales) == 3  # refined once: the neighbours are now 0.25 decades away
    assert all(t.params["family"] == "linear" and t.params["linear.end_ratio"] == 0.0
               and t.params["warmup"] == 0.0 for t in line(trials))
    shapes = [t for t in trials if "shape_search" in t.user_attrs]
    first = shapes[0]
    assert first.user_attrs["shape_search"] == "portfolio 0"
    assert first.params["family"] == "cosine"
    assert first.params["lr_scale"] == pytest.approx(10 ** 0.75 * 0.8)
    sampled = shapes[1:]
    assert sampled and all(t.user_attrs["shape_search"] == "sampled" for t in sampled)
    for t in sampled:  # near the line search's LR
        assert abs(math.log10(t.params["lr_scale"]) - 0.75) <= lr_first.SHAPE_LR_DECADES + 1e-9
    assert result.best_spec.lr == pytest.approx(0.1 * 10 ** 0.75, rel=0.3)


def test_the_line_search_goes_down_when_the_script_lr_is_too_high():
    global BEST_SCALE
    old, BEST_SCALE = BEST_SCALE, 0.2
    try:
        result = tune(n_trials=14, pruner="none", confirm=0)
    finally:
        BEST_SCALE = old
    scales = [t.params["lr_scale"] for t in line(result.study.trials)]
    assert scales[0] == pytest.approx(10 ** 0.5)  # up first: worse than the script's LR
    assert scales[1] == pytest.approx(10 ** -0.5)  # then down
    assert min(scales) == pytest.approx(0.1, rel=1e-6)  # the range's edge ends it
    assert result.best_spec.lr < 0.1 * 0.5


def test_a_resumed_study_continues_the_same_line_search(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    whole = tune(n_trials=12, pruner="none", confirm=0)
    tune(n_trials=4, pruner="none", confirm=0, storage=storage, study_name="s")  # 1 line run
    resumed = tune(n_trials=12, storage=storage, study_name="s")
    assert [round(t.params["lr_scale"], 6) for t in line(resumed.study.trials)] == [
        round(t.params["lr_scale"], 6) for t in line(whole.study.trials)]


@pytest.mark.parametrize("stop_at_report", [0, 4])  # before its schedule, part-way through
def test_a_line_run_interrupted_then_resumed_continues_the_same_line_search(
        tmp_path, stop_at_report):
    """Ctrl-C during a line-search run fails it and queues it again; the same command then runs
    that copy as the line search's run (not as a failure, and not once more)."""
    storage = f"sqlite:///{tmp_path}/s.db"
    whole = tune(n_trials=12, pruner="none", confirm=0)
    runs = {"n": 0}

    def interrupted() -> None:
        runs["n"] += 1
        if runs["n"] != 5:  # the line search's second run (x10)
            train()
            return
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        if stop_at_report:
            autolr.scheduler(optimizer, total_steps=TOTAL)
            for i in range(stop_at_report):
                autolr.report(1.0, step=i)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        autolr.tune(interrupted, seed=5, search="lr_first", n_trials=12, pruner="none",
                    confirm=0, storage=storage, study_name="s")
    resumed = tune(n_trials=12, pruner="none", confirm=0, storage=storage, study_name="s")
    trials = resumed.study.trials
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert len(stopped) == 1 and stopped[0].user_attrs.get("lr_search") is True
    copy = next(t for t in trials if t.user_attrs.get("requeued_from") == stopped[0].number)
    assert copy.state == TrialState.COMPLETE and copy.user_attrs.get("lr_search") is True
    finished = [round(t.params["lr_scale"], 6) for t in line(trials)
                if t.state == TrialState.COMPLETE]
    assert finished == [round(t.params["lr_scale"], 6) for t in line(whole.study.trials)]


def test_a_failed_or_diverged_line_run_counts_as_worse():
    def diverging() -> None:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=TOTAL)
        peak = scheduler.base_lrs[0]
        for i in range(1, TOTAL + 1):
            optimizer.step()
            scheduler.step()
            if i % 3 == 0:
                autolr.report(math.nan if peak > 0.2 else 1.0 / (peak * i), step=i // 3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        result = autolr.tune(diverging, seed=1, search="lr_first", n_trials=10, pruner="none",
                             confirm=0)
    runs = line(result.study.trials)
    assert runs[0].params["lr_scale"] == pytest.approx(10 ** 0.5)  # 0.316: diverges
    assert runs[0].state != TrialState.COMPLETE or not math.isfinite(runs[0].value)
    # then down from the script's LR, which stays the best; one refining run toward the side
    # that did not diverge
    assert runs[1].params["lr_scale"] == pytest.approx(10 ** -0.5)
    assert runs[2].params["lr_scale"] == pytest.approx(10 ** -0.25)
    assert len(runs) == 3


@pytest.mark.parametrize(("families", "shape"), [
    (["linear", "cosine", "constant"], "linear"),
    (["cosine", "constant"], "cosine"),
])
def test_the_line_search_uses_linear_decay_or_else_cosine(families, shape):
    result = tune(n_trials=8, pruner="none", confirm=0, families=families)
    runs = line(result.study.trials)
    assert runs and {t.params["family"] for t in runs} == {shape}


@pytest.mark.parametrize("kwargs", [{"families": ["constant", "step"]}, {"lr": (0.01, 1.0)}])
def test_without_linear_or_cosine_or_with_a_fixed_lr_range_it_is_the_full_search(kwargs):
    result = tune(n_trials=6, pruner="none", confirm=0, **kwargs)
    assert not line(result.study.trials)
    assert not [t for t in result.study.trials if "shape_search" in t.user_attrs]


@pytest.mark.parametrize(("shapes", "pattern"), [
    ([{"lr_factor": 1.0}], "must hold a 'params' mapping that names a 'family'"),
    ([{"params": {"family": "cosine"}, "lr_factor": 0}], "'lr_factor' > 0"),
    ([{"params": {"family": "cosine"}, "lr_factor": "fast"}], "'lr_factor' > 0"),
    (["cosine"], "names a 'family'"),
])
def test_a_bad_shape_portfolio_names_the_rule_the_value_and_the_fix(shapes, pattern):
    with pytest.raises(autolr.ConfigError, match=pattern) as caught:
        lr_first.set_shape_portfolio(shapes)
    assert "Got" in str(caught.value) and '"lr_factor": 0.8' in str(caught.value)
