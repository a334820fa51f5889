"""Seeds that reach the script, and the top configurations confirmed on fresh seeds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

import autolr
from autolr.errors import ConfigError
from autolr.result import TuneResult
from autolr.search import confirmation
from tests.cli_in_process import autolr_in_process as _refused

TOTAL = 90
EVERY = 10


def noisy_toy(seen: list | None = None):
    """A 'training' whose value depends on the schedule and on torch's random state (the seed):
    repeats on other seeds differ. ``seen`` collects ``autolr.seed()`` of each run."""

    def train():
        if seen is not None:
            seen.append(autolr.seed())
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=TOTAL)
        noise = float(torch.rand(1)) * 0.01
        for i in range(1, TOTAL + 1):
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            if i % EVERY == 0:
                autolr.report(5.0 / i + abs(math.log(lr / 0.01)) / 10 + noise, step=i // EVERY)

    return train


def quiet(fn, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autolr.AutolrWarning)
        return autolr.tune(fn, **kwargs)


def confirmations(study):
    return [t for t in study.trials if "confirms" in t.user_attrs]


def spent(study) -> int:
    return sum(t.user_attrs.get("steps", 0) for t in study.trials)


# --- autolr.seed -----------------------------------------------------------------------------
def test_autolr_seed_is_the_trials_seed_under_tuning(monkeypatch):
    seen: list = []
    result = quiet(noisy_toy(seen), n_trials=4, seed=3, search="full", confirm=0)
    assert seen == [t.user_attrs["seed"] for t in result.study.trials]
    assert len(set(seen)) == len(seen)


def test_autolr_seed_run_plainly(monkeypatch):
    monkeypatch.delenv("AUTOLR_SEED", raising=False)
    assert autolr.seed() is None
    assert autolr.seed(default=7) == 7
    monkeypatch.setenv("AUTOLR_SEED", "1234")
    assert autolr.seed(default=7) == 1234
    monkeypatch.setenv("AUTOLR_SEED", "many")
    with pytest.raises(ConfigError, match="AUTOLR_SEED environment variable must be a seed.*"
                                          "Got 'many'"):
        autolr.seed()
    with pytest.raises(ConfigError, match="'default' parameter of autolr.seed must be >= 0"):
        autolr.seed(default=-1)


# --- the plan and the budget ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_trials", "plan"),
    [(4, (0, 0)), (6, (0, 0)), (8, (1, 1)), (12, (2, 1)), (19, (3, 1)), (20, (3, 2)),
     (36, (3, 2)), (60, (3, 2))],
)
def test_the_default_plan_is_a_sixth_of_the_budget_and_the_top_three_on_two_seeds_from_20(
        n_trials, plan):
    assert confirmation.default_plan(n_trials, 3) == plan
    share = max(3, math.ceil(n_trials / 6)) if n_trials < 20 else (n_trials - 3) // 2
    assert confirmation.plan_runs(plan) <= share


def test_the_readme_study_confirms_its_top_two_on_one_fresh_seed_inside_the_budget():
    result = quiet(noisy_toy(), n_trials=12, seed=0)
    study = result.study
    runs = confirmations(study)
    assert len(runs) == 3
    assert spent(study) <= 12 * TOTAL
    origins = {t.user_attrs["confirms"] for t in runs}
    constant = next(t for t in study.trials if t.user_attrs.get("baseline") == "constant"
                    and "confirms" not in t.user_attrs)
    assert constant.number in origins
    # one fresh seed, the same for every configuration, never a search trial's seed
    seeds = {t.user_attrs["seed"] for t in runs}
    assert len(seeds) == 1
    assert not seeds & {t.user_attrs["seed"] for t in study.trials if t not in runs}
    for run in runs:
        origin = study.trials[run.user_attrs["confirms"]]
        assert run.params == origin.params
        assert run.state == TrialState.COMPLETE and run.user_attrs.get("fidelity", 1.0) == 1.0
    assert result.confirmed_winner is not None
    assert result.best_value == pytest.approx(result.confirmed_winner.mean)


def test_the_full_search_confirms_inside_its_trials_too():
    result = quiet(noisy_toy(), n_trials=12, seed=1, search="full", confirm=(2, 1))
    study = result.study
    assert len([t for t in study.trials if t.state.is_finished()]) == 12
    assert len(confirmations(study)) == 3
    assert all(t.number > max(c.user_attrs["confirms"] for c in confirmations(study))
               for t in confirmations(study))


def test_confirm_zero_turns_it_off_and_the_search_spends_the_budget():
    result = quiet(noisy_toy(), n_trials=12, seed=0, confirm=0, search="ladder")
    assert not confirmations(result.study)
    assert result.confirmed_winner is None
    assert result.best_trial.number == result.study.best_trial.number
    assert spent(result.study) > 11 * TOTAL


def _trial(number, value, *, x, confirms=None, seed=0, round_=None, baseline=None):
    attrs = {"seed": seed, "spec": {"family": "constant", "params": {}, "lr": 0.1,
                                    "total_steps": 10, "warmup_steps": 0}}
    if confirms is not None:
        attrs.update(confirms=confirms, confirm_round=round_)
    if baseline:
        attrs["baseline"] = baseline
    trial = create_trial(state=TrialState.COMPLETE, value=value, params={"x": x},
                         distributions={"x": CategoricalDistribution(["a", "b", "c"])},
                         user_attrs=attrs)
    return trial


def test_the_winner_is_the_best_mean_not_the_luckiest_run():
    study = optuna.create_study()
    for trial in [
        _trial(0, 0.30, x="c", baseline="constant", seed=1),
        _trial(1, 0.10, x="a", seed=2),  # the luckiest single run...
        _trial(2, 0.12, x="b", seed=3),
        _trial(3, 0.50, x="a", confirms=1, seed=9, round_=0),  # ...does not repeat
        _trial(4, 0.13, x="b", confirms=2, seed=9, round_=0),
        _trial(5, 0.31, x="c", confirms=0, seed=9, round_=0, baseline="constant"),
    ]:
        study.add_trial(trial)
    result = TuneResult(study)
    assert study.best_trial.number == 1
    assert result.best_trial.number == 2
    assert result.best_value == pytest.approx(0.125)
    winner = result.confirmed_winner
    assert winner.values == (0.12, 0.13) and winner.seeds == (3, 9)
    assert winner.text() == "0.125 ± 0.0071 (2 seeds)"
    comparison = result.against_baseline()
    assert comparison.difference == pytest.approx(0.13 - 0.31)
    # one shared seed gives a difference but no spread of differences: nothing is called
    assert comparison.seeds == 1 and comparison.standard_error is None
    assert comparison.verdict == "too few seeds"
    assert comparison.text() == ("-0.18 against the constant baseline on 1 shared seed: too few "
                                 "to tell; autolr confirm --seeds 3 runs more")
    assert "noise" not in comparison.text()
    facts = result.found_by()
    assert facts["trial"] == 2
    assert facts["confirmed"] == {"mean": pytest.approx(0.125), "std": pytest.approx(0.00707,
                                  rel=1e-3), "seeds": 2}


def test_a_difference_smaller_than_twice_its_error_is_within_noise():
    best = confirmation.Confirmed(1, (0.10, 0.14, 0.12), (1, 2, 3), (None, 0, 1), None)
    constant = confirmation.Confirmed(0, (0.13, 0.11, 0.15), (4, 2, 3), (None, 0, 1), "constant")
    comparison = confirmation.against_baseline(best, [best, constant])
    assert comparison.seeds == 2
    assert comparison.difference == pytest.approx(0.0)
    assert comparison.within_noise
    assert "within noise" in comparison.text()


def test_the_exports_record_the_confirmed_figures(tmp_path):
    result = quiet(noisy_toy(), n_trials=12, seed=0)
    result.export(str(tmp_path / "best.json"), "json")
    result.export(str(tmp_path / "best.py"), "python")
    data = json.loads((tmp_path / "best.json").read_text())
    winner = result.confirmed_winner
    assert data["found_by"]["confirmed"] == {"mean": winner.mean, "std": winner.std,
                                             "seeds": len(winner.values)}
    assert data["found_by"]["trial"] == winner.number
    assert f"confirmed: mean={winner.mean!r}" in (tmp_path / "best.py").read_text()


def test_resume_in_the_middle_of_a_confirmation_finishes_it(tmp_path):
    storage = f"sqlite:///{tmp_path}/c.db"
    calls = {"n": 0}
    inner = noisy_toy()

    def interrupted_in_confirmation():
        calls["n"] += 1
        if autolr.seed() == _round_seed(storage) and calls["n"] > 0:
            calls["n"] = -10**6  # once
            raise KeyboardInterrupt
        inner()

    with pytest.raises(KeyboardInterrupt):
        quiet(interrupted_in_confirmation, n_trials=12, storage=storage, study_name="c", seed=0)
    study = optuna.load_study(study_name="c", storage=storage)
    stopped = [t for t in confirmations(study) if t.user_attrs.get("reason") == "interrupted"]
    assert len(stopped) == 1
    result = quiet(noisy_toy(), n_trials=12, storage=storage, study_name="c")
    runs = [t for t in confirmations(result.study) if t.state == TrialState.COMPLETE]
    assert sorted((t.user_attrs["confirms"], t.user_attrs["confirm_round"]) for t in runs) == \
        sorted({(t.user_attrs["confirms"], t.user_attrs["confirm_round"]) for t in runs})
    assert len(runs) == 3
    assert {t.user_attrs["seed"] for t in runs} == {_round_seed(storage)}
    assert spent(result.study) <= 12 * TOTAL


def _round_seed(storage: str) -> int:
    study = optuna.load_study(study_name="c", storage=storage)
    return autolr.tuner.trial_seed(study.user_attrs["autolr"]["seed"],
                                   confirmation.CONFIRM_SEED_BASE)


def test_a_script_that_seeds_itself_is_found_out():
    def seeds_itself():
        torch.manual_seed(42)  # a fixed --seed default, undoing autolr's seeding
        noisy_toy()()

    result = quiet(seeds_itself, n_trials=12, seed=0)
    assert any("the script seeds itself" in w and "--seed-arg" in w and "autolr.seed()" in w
               for w in result.warnings)


def test_autolr_confirm_from_python_extends_a_study_beyond_its_budget(tmp_path):
    storage = f"sqlite:///{tmp_path}/e.db"
    first = quiet(noisy_toy(), n_trials=12, storage=storage, study_name="e", seed=2)
    before = len(first.study.trials)
    result = autolr.confirm(noisy_toy(), study_name="e", storage=storage, seeds=2)
    runs = confirmations(result.study)
    assert len(runs) == 6  # the top two and the constant baseline, on two fresh seeds each
    assert len(result.study.trials) == before + 3
    assert len({t.user_attrs["seed"] for t in runs}) == 2
    assert all(len(c.values) == 3 for c in result.confirmed)


@pytest.mark.parametrize(
    ("confirm", "pattern"),
    [((-1, 1), r"'confirm' parameter of tune must be \(k, m\)"),
     ((1.5, 1), r"'confirm' .*whole numbers >= 0"), ("2:1", r"'confirm' .*Got '2:1'"),
     ((1, 2, 3), r"'confirm' parameter of tune")],
)
def test_bad_confirm_values_are_refused(confirm, pattern):
    with pytest.raises(ConfigError, match=pattern):
        autolr.tune(noisy_toy(), n_trials=3, confirm=confirm)


def test_confirming_a_study_without_a_complete_trial_changes_nothing(tmp_path):
    storage = f"sqlite:///{tmp_path}/n.db"

    def always_nan():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        autolr.scheduler(optimizer, total_steps=2)
        autolr.report(float("nan"), step=0)

    quiet(always_nan, n_trials=2, storage=storage, study_name="n", seed=0)
    study = optuna.load_study(study_name="n", storage=storage)
    before = (len(study.trials), study.user_attrs)
    with pytest.raises(ConfigError, match="no complete full-length trial to confirm"):
        autolr.confirm(always_nan, study_name="n", storage=storage)
    study = optuna.load_study(study_name="n", storage=storage)
    assert (len(study.trials), study.user_attrs) == before


# --- the command line ---------------------------------------------------------------------------
SEEDED = textwrap.dedent(
    """
    import argparse, math, pathlib
    import torch
    import autolr

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--log", default="seeds.txt")
    args = parser.parse_args()
    torch.manual_seed(args.seed)  # the script seeds itself from its own option
    with open(args.log, "a") as log:
        log.write(f"{args.seed}\\n")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=40)
    noise = float(torch.rand(1)) * 0.01
    for i in range(1, 41):
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step(); scheduler.step()
        if i % 10 == 0:
            autolr.report(5 / i + abs(math.log(lr / 0.01)) / 10 + noise, step=i // 10)
    """
)


def _autolr(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autolr", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)




@pytest.mark.slow
def test_seed_arg_passes_each_trials_seed_and_replaces_the_given_one(tmp_path):
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    result = _autolr("tune", str(script), "--trials", "12", "--seed", "0", "--seed-arg",
                     "--seed", "--", "--seed", "5", "--log", "seeds.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    seen = [int(line) for line in (tmp_path / "seeds.txt").read_text().split()]
    study = optuna.load_study(study_name="seeded", storage=f"sqlite:///{tmp_path}/studies/"
                              "seeded.db")
    assert seen == [t.user_attrs["seed"] for t in study.trials]
    assert 5 not in seen
    assert "seeds itself" not in result.stdout
    assert "Winner (best mean over fresh seeds)" in result.stdout
    # confirm more seeds from the shell, beyond the budget
    more = _autolr("confirm", "--seeds", "2", cwd=tmp_path)
    assert more.returncode == 0, more.stderr + more.stdout
    study = optuna.load_study(study_name="seeded", storage=f"sqlite:///{tmp_path}/studies/"
                              "seeded.db")
    assert len(confirmations(study)) == 6
    exported = json.loads((tmp_path / "studies" / "seeded" / "best_schedule.json").read_text())
    assert exported["found_by"]["confirmed"]["seeds"] == 3


def test_without_seed_arg_a_self_seeding_script_gets_the_warning(tmp_path):
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    result = _autolr("tune", str(script), "--trials", "12", "--seed", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the script seeds itself" in " ".join(result.stdout.split())


def test_a_seed_arg_the_script_rejects_stops_at_the_first_trial(tmp_path):
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    result = _autolr("tune", str(script), "--trials", "12", "--seed-arg", "--random-seed",
                     cwd=tmp_path)
    assert result.returncode == 1
    assert "does not take the option --random-seed" in result.stderr
    assert "Traceback" not in result.stderr
    study = optuna.load_study(study_name="seeded", storage=f"sqlite:///{tmp_path}/studies/"
                              "seeded.db")
    assert len(study.trials) >= 1 and study.trials[0].state == TrialState.FAIL


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [(["--confirm", "-1:1"], 2, "K and M must be whole numbers >= 0"),
     (["--confirm", "two"], 2, "must be K:M"),
     (["--confirm", "1.5:1"], 2, "must be K:M"),
     (["--seed-arg", "seed"], 1, "'seed_arg' parameter of autolr tune must be the script's "
                                 "option")],
)
def test_bad_confirmation_options_get_a_message(tmp_path, args, code, message):
    script = tmp_path / "seeded.py"
    script.write_text(SEEDED)
    result = _refused("tune", str(script), "--trials", "3", *args, cwd=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_autolr_confirm_on_a_study_tuned_from_python_says_what_to_do(tmp_path):
    quiet(noisy_toy(), n_trials=4, seed=0, storage=f"sqlite:///{tmp_path}/studies/p.db",
          study_name="p")
    result = _refused("confirm", "--study", "p", cwd=tmp_path)
    assert result.returncode == 1
    assert "autolr.confirm(train" in result.stderr


@pytest.mark.parametrize(("option", "given", "passed"), [
    ("--seed", ["--epochs", "3", "--seed", "1"], ["--epochs", "3", "--seed", "42"]),
    ("--seed", ["--seed=1", "--epochs=3"], ["--epochs=3", "--seed", "42"]),
    ("--seed=", ["--seed=1", "--epochs=3"], ["--epochs=3", "--seed=42"]),
    ("--seed=", ["--seed", "1"], ["--seed=42"]),
    ("seed=", ["trainer.max_epochs=3", "seed=1"], ["trainer.max_epochs=3", "seed=42"]),
])
def test_seed_arg_as_two_arguments_or_one_key_value(option, given, passed):
    from autolr.trials.workers import with_seed_arg

    assert with_seed_arg(given, option, 42) == passed
