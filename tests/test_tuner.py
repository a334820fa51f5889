"""autolr.tune on real training: search quality, determinism, resume, failures, bad arguments."""

from __future__ import annotations

import math
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

import autolr
from autolr.errors import ConfigError, StudyStopped


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_finds_a_schedule_better_than_constant_and_is_reproducible(digits_train):
    results = [autolr.tune(digits_train, n_trials=16, seed=7) for _ in range(2)]
    first, second = results
    constant = next(t for t in first.study.trials if t.user_attrs.get("baseline") == "constant")
    assert constant.state == TrialState.COMPLETE
    assert first.best_value < constant.value
    assert first.best_spec == second.best_spec
    assert first.best_value == second.best_value
    assert [t.params for t in first.study.trials] == [t.params for t in second.study.trials]
    # the best schedule drives a real optimizer exactly as recorded
    spec = first.best_spec
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = spec.build(optimizer)
    seen = []
    for _ in range(spec.total_steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    if not spec.metric_driven:
        assert seen == spec.lrs()


def test_baselines_run_first_at_the_scripts_lr(digits_train):
    result = autolr.tune(digits_train, n_trials=4, seed=1, pruner="none")
    trials = result.study.trials
    assert [t.user_attrs.get("baseline") for t in trials[:3]] == ["constant", "cosine", "linear"]
    for trial in trials[:3]:
        assert trial.params["lr_scale"] == 1.0
        assert trial.user_attrs["lr"] == pytest.approx(0.05)
    assert trials[3].user_attrs.get("baseline") is None


def test_ctrl_c_before_a_baselines_schedule_is_sampled_keeps_the_baseline(
        digits_train, tmp_path, monkeypatch):
    """Ctrl-C between a queued baseline's start and its first sampled parameter: the
    baseline is queued again whole (its configuration was fixed when it was queued), so the
    resumed study still runs every baseline."""
    import autolr.tuner as tuner_module

    storage = f"sqlite:///{tmp_path}/study.db"
    real = tuner_module.TrialControl

    def interrupted_at_cosine(trial, *args, **kwargs):
        if trial.user_attrs.get("baseline") == "cosine":
            assert trial.params == {}  # nothing sampled yet
            raise KeyboardInterrupt
        return real(trial, *args, **kwargs)

    monkeypatch.setattr(tuner_module, "TrialControl", interrupted_at_cosine)
    with pytest.raises(KeyboardInterrupt):
        autolr.tune(digits_train, n_trials=5, storage=storage, study_name="s", seed=1,
                    pruner="none", search="full")
    monkeypatch.setattr(tuner_module, "TrialControl", real)
    result = autolr.tune(digits_train, n_trials=5, storage=storage, study_name="s", seed=1,
                         pruner="none", search="full")
    trials = result.study.trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.user_attrs.get("baseline") for t in failed] == ["cosine"]
    assert failed[0].user_attrs["reason"] == "interrupted"
    ran = {t.user_attrs.get("baseline"): t for t in _finished(result.study)}
    assert {"constant", "cosine", "linear"} <= set(ran)
    assert ran["cosine"].user_attrs["requeued_from"] == failed[0].number
    assert ran["cosine"].params["family"] == "cosine"
    assert ran["cosine"].params["lr_scale"] == 1.0
    assert len(_finished(result.study)) == 5


def test_resume_reaches_the_total_and_keeps_earlier_trials(digits_train, tmp_path):
    storage = f"sqlite:///{tmp_path}/sub/study.db"  # the folder is created
    first = autolr.tune(digits_train, n_trials=5, storage=storage, study_name="s", seed=3,
                        search="full")
    before = [(t.number, t.params, t.value, t.state) for t in first.study.trials]
    second = autolr.tune(digits_train, n_trials=8, storage=storage, study_name="s", seed=3)
    assert len(_finished(second.study)) == 8
    after = [(t.number, t.params, t.value, t.state) for t in second.study.trials[:5]]
    assert after == before
    # running it again with the target reached runs nothing
    third = autolr.tune(digits_train, n_trials=8, storage=storage, study_name="s")
    assert len(third.study.trials) == len(second.study.trials)


def test_database_reads_with_plain_optuna(digits_train, tmp_path):
    storage = f"sqlite:///{tmp_path}/plain.db"
    autolr.tune(digits_train, n_trials=4, storage=storage, study_name="plain", seed=0)
    study = optuna.load_study(study_name="plain", storage=storage)
    for trial in study.trials:
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        assert spec.family == trial.params["family"]
        assert trial.user_attrs["reason"] in ("complete", "pruned", "diverged")
        assert isinstance(trial.user_attrs["seed"], int)
        assert trial.user_attrs["steps"] == spec.total_steps or trial.state != TrialState.COMPLETE
        curve = trial.user_attrs["lr_curve"]
        assert len(curve["steps"]) == len(curve["lrs"]) <= 512
        assert trial.user_attrs["wall_time_s"] > 0


def test_seeds_derive_from_study_seed_and_trial_number(digits_train):
    a = autolr.tune(digits_train, n_trials=3, seed=11, pruner="none")
    b = autolr.tune(digits_train, n_trials=3, seed=12, pruner="none")
    seeds_a = [t.user_attrs["seed"] for t in a.study.trials]
    assert len(set(seeds_a)) == 3
    assert seeds_a == [autolr.tuner.trial_seed(11, n) for n in range(3)]
    assert seeds_a != [t.user_attrs["seed"] for t in b.study.trials]


def _toy(fail_when=None, nan_when=None, steps=None):
    """A tiny 'training' whose loss falls with the LR; misbehaves on demand."""

    def train():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=20)
        lr = scheduler.base_lrs[0]  # the trial's peak LR
        if fail_when is not None and fail_when(lr):
            raise RuntimeError(f"boom at lr {lr:.3g}")
        for i in range(steps if steps is not None else 20):
            optimizer.step()
            scheduler.step()
            if i % 5 == 4:
                value = 1.0 / (1 + i) + abs(math.log(lr / 0.1))
                if nan_when is not None and nan_when(lr):
                    value = float("nan")
                autolr.report(value, step=i // 5)

    return train


def test_nan_is_pruned_as_diverged_and_the_study_goes_on():
    result = autolr.tune(_toy(nan_when=lambda lr: lr > 0.2), n_trials=12, seed=0, search="full")
    reasons = {t.user_attrs["reason"] for t in result.study.trials}
    diverged = [t for t in result.study.trials if t.user_attrs["reason"] == "diverged"]
    assert diverged and all(t.state == TrialState.PRUNED for t in diverged)
    assert "non-finite" in diverged[0].user_attrs["error"]
    assert "complete" in reasons
    assert len(_finished(result.study)) == 12


def test_a_loss_far_above_the_first_report_is_diverged():
    def exploding():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=3)
        for step, value in enumerate([1.0, 2.0, 50.0]):
            autolr.report(value, step=step)

    result = autolr.tune(exploding, n_trials=1, baselines=False, seed=0)
    trial = result.study.trials[0]
    assert trial.user_attrs["reason"] == "diverged"
    assert "far above the first report" in trial.user_attrs["error"]


def test_an_exception_fails_its_trial_and_the_study_goes_on():
    result = autolr.tune(_toy(fail_when=lambda lr: lr > 0.4), n_trials=10, seed=2,
                         search="full")
    failed = [t for t in result.study.trials if t.state == TrialState.FAIL]
    assert failed
    assert all("RuntimeError: boom at lr" in t.user_attrs["error"] for t in failed)
    assert all("Traceback" in t.user_attrs["error"] for t in failed)
    assert len(_finished(result.study)) == 10
    assert result.best_spec.lr <= 0.4


def test_the_same_exception_three_times_stops_the_study():
    def typo():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=3)
        raise NameError("name 'lossss' is not defined")

    with pytest.raises(StudyStopped, match="first 3 trials failed with the same error") as info:
        autolr.tune(typo, n_trials=50, seed=0)
    assert "lossss" in str(info.value)


def test_missing_report_stops_at_once_with_the_line_to_add():
    def no_report():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=3)

    with pytest.raises(StudyStopped, match=r"autolr.report\(val_loss, step=epoch\)"):
        autolr.tune(no_report, n_trials=5, seed=0)


def test_step_count_mismatch_warns_with_both_numbers():
    with pytest.warns(UserWarning, match=r"scheduler.step\(\) 10 times.*total_steps=20"):
        result = autolr.tune(_toy(steps=10), n_trials=2, seed=0, pruner="none")
    trial = result.study.trials[0]
    assert "10 times" in trial.user_attrs["step_mismatch"]
    assert result.warnings and "per epoch" in result.warnings[0]


def test_lr_edge_is_reported_and_the_range_widened():
    def wants_high_lr():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
        scheduler = autolr.scheduler(optimizer, total_steps=4)
        lr = optimizer.param_groups[0]["lr"]
        for _ in range(4):
            optimizer.step()
            scheduler.step()
        autolr.report(1.0 / lr, step=0)  # higher is always better

    result = autolr.tune(wants_high_lr, n_trials=25, seed=0, families=["constant"],
                         warmup=False, pruner="none")
    assert result.lr_edge is not None and "high edge" in result.lr_edge
    settings = result.study.user_attrs["autolr"]
    assert settings["lr_scale"][1] > 10  # widened beyond the default 10x
    assert max(t.params["lr_scale"] for t in result.study.trials) > 10

    fixed = autolr.tune(wants_high_lr, n_trials=12, seed=0, families=["constant"],
                        warmup=False, pruner="none", lr=(1e-3, 0.02), confirm=0)
    assert "Widen --lr" in fixed.lr_edge
    assert max(t.user_attrs["lr"] for t in fixed.study.trials[1:]) <= 0.02


@pytest.mark.parametrize("pruner", ["median", "percentile", "hyperband", "sha", "none"])
def test_every_pruner_runs_a_study(pruner):
    def noisy():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=10)
        lr = optimizer.param_groups[0]["lr"]
        for step in range(10):
            optimizer.step()
            scheduler.step()
            autolr.report(abs(math.log(lr / 0.1)) + 1 / (step + 1), step=step)

    result = autolr.tune(noisy, n_trials=14, pruner=pruner, seed=0, warmup=False,
                         search="full")
    assert len(_finished(result.study)) == 14
    pruned = [t for t in result.study.trials if t.state == TrialState.PRUNED]
    if pruner == "none":
        assert not pruned
    for trial in pruned:  # the grace period: never on the first reports
        assert len(trial.intermediate_values) >= 3


_KILL_SCRIPT = textwrap.dedent(
    """
    import pathlib, sys, time
    import torch, autolr

    marker = pathlib.Path(sys.argv[2])
    calls = []

    def train():
        calls.append(1)
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=4)
        for step in range(4):
            optimizer.step(); scheduler.step()
            autolr.report(1.0 / (step + 1), step=step)
            if len(calls) == 3 and sys.argv[3] == "hang":
                marker.touch()
                time.sleep(600)

    autolr.tune(train, n_trials=6, storage=sys.argv[1], study_name="kill", seed=0)
    """
)


@pytest.mark.slow
def test_a_killed_study_recovers_its_running_trial(tmp_path, monkeypatch):
    script = tmp_path / "kill.py"
    script.write_text(_KILL_SCRIPT)
    storage = f"sqlite:///{tmp_path}/kill.db"
    marker = tmp_path / "hanging"
    process = subprocess.Popen([sys.executable, str(script), storage, str(marker), "hang"])
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert process.poll() is None, "the study ended before hanging"
            assert time.time() < deadline
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    study = optuna.load_study(study_name="kill", storage=storage)
    zombie = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert len(zombie) == 1
    # the same script again, in this process (another process than the killed one, without a
    # second interpreter and torch start-up)
    monkeypatch.setattr(sys, "argv", [str(script), storage, str(marker), "ok"])
    runpy.run_path(str(script), run_name="__main__")
    study = optuna.load_study(study_name="kill", storage=storage)
    recovered = study.trials[zombie[0].number]
    assert recovered.state == TrialState.FAIL
    assert recovered.user_attrs["reason"] == "abandoned"
    assert len(_finished(study)) == 6
    rerun = [t for t in study.trials if t.user_attrs.get("requeued_from") == recovered.number]
    assert len(rerun) == 1 and rerun[0].params == recovered.params
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_trials": 0}, r"'n_trials' parameter of tune must be >= 1. Got 0"),
        ({"n_trials": 2.5}, r"'n_trials' parameter of tune must be an integer. Got 2.5"),
        ({"direction": "min"}, r"'direction' parameter of tune must be one of \{'minimize', "
                               r"'maximize'\}. Got 'min' instead. Did you mean 'minimize'\?"),
        ({"pruner": "medain"}, r"'pruner' .* one of \{'median', 'percentile', 'hyperband', "
                               r"'sha', 'none'\}. Got 'medain'"),
        ({"sampler": "cmaes"}, r"'sampler' .* one of \{'tpe', 'random'\}. Got 'cmaes'"),
        ({"families": ["nosuch"]}, r"'families' .* one of \{'constant', 'step'.*\}. Got 'nosuch'"),
        ({"families": ["cosine", "cosine"]}, r"must not repeat a family"),
        ({"families": []}, r"must name at least one family"),
        ({"lr": (1.0, 0.1)}, r"'lr' .* low < high. Got \(1.0, 0.1\)"),
        ({"lr": (0.0, 0.1)}, r"'lr' .* must be > 0. Got 0.0"),
        ({"lr": 0.1}, r"'lr' .* \(low, high\) pair"),
        ({"warmup": "yes"}, r"'warmup' .* True or False. Got 'yes'"),
        ({"seed": -1}, r"'seed' .* Got -1"),
        ({"timeout": 0}, r"'timeout' .* > 0. Got 0"),
        ({"baselines": 1}, r"'baselines' .* True or False. Got 1"),
        ({"storage": 3}, r"'storage' .* database URL"),
        ({"storage": "studies/x.db"}, r"must be a database URL .* Got 'studies/x.db'"),
        ({"study_name": ""}, r"'study_name' .* non-empty"),
    ],
)
def test_bad_arguments_name_the_argument_value_and_rule(kwargs, pattern):
    arguments = {"n_trials": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=pattern):
        autolr.tune(_toy(), **arguments)


def test_a_non_callable_is_rejected():
    with pytest.raises(ConfigError, match="'fn' parameter of tune must be a zero-argument"):
        autolr.tune("train.py", n_trials=3)


def test_storage_that_is_not_a_database_is_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"my precious notes\n")
    with pytest.raises(ConfigError, match="not a SQLite database; autolr left it untouched"):
        autolr.tune(_toy(), n_trials=2, storage=f"sqlite:///{path}")
    assert path.read_bytes() == b"my precious notes\n"


def test_resuming_with_other_families_is_refused(tmp_path):
    storage = f"sqlite:///{tmp_path}/f.db"
    autolr.tune(_toy(), n_trials=2, storage=storage, study_name="f", families=["cosine"])
    with pytest.raises(ConfigError, match="cannot be resumed with families"):
        autolr.tune(_toy(), n_trials=4, storage=storage, study_name="f", families=["linear"])
    with pytest.raises(ConfigError, match="cannot be resumed with direction='maximize'"):
        autolr.tune(_toy(), n_trials=4, storage=storage, study_name="f", families=["cosine"],
                    direction="maximize")


def test_result_without_a_complete_trial_explains():
    def always_nan():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=2)
        autolr.report(float("nan"), step=0)

    result = autolr.tune(always_nan, n_trials=2, seed=0)
    with pytest.raises(autolr.AutolrError, match="No trial of study .* has completed"):
        result.best_spec  # noqa: B018


def test_tune_inside_a_trial_is_refused():
    def starts_a_study():
        autolr.tune(_toy(), n_trials=2)

    with pytest.raises(StudyStopped, match="autolr.tune was called inside a trial"):
        autolr.tune(starts_a_study, n_trials=3, seed=0)
