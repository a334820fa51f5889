"""``AutolrCallback`` with the real Hugging Face Trainer, on ``examples/hf_tiny_lm.py`` (a tiny
GPT-2 built from a config, a character vocabulary, CPU, nothing downloaded).

Under ``autolr tune`` every trial's Trainer follows the trial's schedule over its own
``max_steps``, not its ``lr_scheduler_type``; a plain run keeps the Trainer's scheduler; the
winner re-run with ``AUTOLR_SCHEDULE`` and ``AUTOLR_SEED`` gives the study's value again; a wrong
metric name is refused with the metrics that exist; gradient accumulation steps the schedule
once per optimizer step. The subprocesses (the study, a plain run) start together in a module
fixture, so that their start-up (torch and transformers imports) overlaps the in-process tests.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from subprocess_runs import finish, kill_unfinished

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import optuna
from optuna.trial import TrialState

import autolr
from autolr.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hf_tiny_lm.py"
TIMEOUT_S = 300
STEPS = 30
# The Trainer's own scheduler: a warmup from 0, then constant, unlike every trial's schedule.
TRAINER_SCHEDULE = ["--lr-scheduler-type", "constant_with_warmup", "--warmup-steps", "10"]
SCRIPT_ARGS = ["--max-steps", str(STEPS), "--eval-steps", "10", "--cpu", *TRAINER_SCHEDULE]
FAMILIES = "constant,cosine,linear,step,wsd"  # closed forms: spec.lrs() is the whole curve
TRIALS = 4
FINAL = re.compile(r"^final eval_loss (\S+)$", re.MULTILINE)
EVAL_LINE = re.compile(r"^step (\d+)/(\d+) .* lr (\S+)$", re.MULTILINE)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOLR_SCHEDULE", "AUTOLR_SEED")}
    # One torch thread: the worker of the study keeps within OMP_NUM_THREADS, and a re-run
    # that gives the study's value again trains with as many threads as the worker did.
    threads = "1"
    env.update(PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               **extra)
    return env


def _start(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env=_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    return finish(proc, TIMEOUT_S)[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """``autolr tune`` on the example (a full search of four trials, one worker) and a plain
    run, started together when the module's first test starts."""
    study_dir = tmp_path_factory.mktemp("study")
    plain_dir = tmp_path_factory.mktemp("plain")
    procs = {
        "tune": (_start([sys.executable, "-m", "autolr", "tune", str(EXAMPLE), "--trials",
                         str(TRIALS), "--search", "full", "--confirm", "0", "--pruner", "none",
                         "--families", FAMILIES, "--workers", "1", "--seed", "0", "--",
                         *SCRIPT_ARGS], study_dir), study_dir),
        "plain": (_start([sys.executable, str(EXAMPLE), "--max-steps", "20", "--cpu"],
                         plain_dir), plain_dir),
    }
    yield procs
    kill_unfinished(proc for proc, _ in procs.values())


@pytest.fixture(scope="module")
def example() -> Any:
    """The example as a module, to build its Trainer in this process."""
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import hf_tiny_lm
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    return hf_tiny_lm


@pytest.fixture()
def plain(monkeypatch, runs) -> None:
    """A plain run in this process: no schedule file, no seed from the environment."""
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    monkeypatch.delenv("AUTOLR_SEED", raising=False)


def _trainer_lrs(name: str, lr: float, steps: int, warmup: int) -> list[float]:
    """The LR the Trainer's own ``lr_scheduler_type`` gives each of ``steps`` optimizer steps."""
    import torch
    from transformers import get_scheduler

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=steps)
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


def _logged_lrs(trainer: Any) -> list[float]:
    """The ``learning_rate`` the Trainer logged at each step (``--logging-steps 1``)."""
    return [entry["learning_rate"] for entry in trainer.state.log_history
            if "learning_rate" in entry]


# --- in this process -------------------------------------------------------------------------
def test_a_plain_run_keeps_the_trainers_scheduler(example, plain, tmp_path):
    args = example.parse_args(["--max-steps", "12", "--eval-steps", "6", "--logging-steps", "1",
                               "--cpu", "--lr-scheduler-type", "cosine", "--warmup-steps", "3"])
    trainer, callback = example.build_trainer(args, str(tmp_path))
    trainer.train()
    assert callback.scheduler is None
    assert type(trainer.lr_scheduler).__module__.startswith("torch.")  # the Trainer's LambdaLR
    assert _logged_lrs(trainer) == pytest.approx(_trainer_lrs("cosine", args.lr, 12, 3))
    assert [step for step, _ in callback.reports] == [6, 12]
    assert all(math.isfinite(value) for _, value in callback.reports)


def test_gradient_accumulation_steps_the_schedule_once_per_optimizer_step(example, plain,
                                                                           tmp_path):
    argv = ["--epochs", "2", "--batch-size", "8", "--grad-accum", "3", "--logging-steps", "1",
            "--cpu", *TRAINER_SCHEDULE]
    args = example.parse_args(argv)
    batches = math.ceil(len(example.datasets(args.seq_len)[0]) / args.batch_size)
    expected_steps = 2 * math.ceil(batches / 3)  # optimizer steps, not micro-batches
    assert batches % 3  # an epoch ends with a shorter accumulation: still one step
    trainers = []

    def train() -> float:
        trainer, callback = example.build_trainer(example.parse_args(argv), str(tmp_path))
        trainer.train()
        trainers.append(trainer)
        return callback.reports[-1][1]

    result = autolr.tune(train, n_trials=2, search="full", confirm=0, pruner="none", seed=0,
                         families=["cosine", "linear"])
    trials = result.study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [
        t.user_attrs.get("error") for t in trials
    ]
    for trial, trainer in zip(trials, trainers):
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        assert trainer.state.max_steps == expected_steps == spec.total_steps
        assert trial.user_attrs["steps"] == expected_steps
        assert "step_mismatch" not in trial.user_attrs
        assert trial.user_attrs["lr_curve"]["lrs"][:expected_steps] == pytest.approx(spec.lrs())
        # The Trainer logs the LR it really used: autolr's, step by step.
        assert _logged_lrs(trainer) == pytest.approx(spec.lrs())


def test_a_wrong_metric_name_lists_the_metrics_there_are(example, plain, tmp_path):
    args = example.parse_args(["--max-steps", "4", "--eval-steps", "2", "--cpu"])
    trainer, _ = example.build_trainer(args, str(tmp_path), metric="eval_accuracy")
    with pytest.raises(ConfigError) as caught:
        trainer.train()
    message = str(caught.value)
    assert "The 'metric' parameter of AutolrCallback must name a metric" in message
    assert "Got 'eval_accuracy' instead" in message
    assert "'eval_loss'" in message and "'eval_runtime'" in message
    assert "compute_metrics" in message
    assert trainer.state.global_step == 2  # refused at the first evaluation, not at the end

    trainer, _ = example.build_trainer(args, str(tmp_path), metric="eval_los")
    with pytest.raises(ConfigError, match="Did you mean 'eval_loss'"):
        trainer.train()


def test_a_metric_that_is_not_a_name_is_refused():
    from autolr.integrations.transformers import AutolrCallback

    with pytest.raises(ConfigError, match="The 'metric' parameter of AutolrCallback"):
        AutolrCallback(metric="")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), text=True,
                          capture_output=True, timeout=TIMEOUT_S)


def test_importing_autolr_does_not_import_transformers_and_a_missing_one_says_how(runs):
    done = _python("import sys, autolr, autolr.trials.runtime, autolr.integrations; "
                   "assert 'transformers' not in sys.modules, 'imported'")
    assert done.returncode == 0, done.stderr
    done = _python("import sys; sys.modules['transformers'] = None; "
                   "import autolr.integrations.transformers")
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr
    assert "pip install 'autolr[transformers]'" in done.stderr


# --- the subprocesses ------------------------------------------------------------------------
def test_the_plain_example_runs_with_the_trainers_linear_schedule(runs):
    out = _finish(runs["plain"][0])
    assert math.isfinite(float(FINAL.search(out)[1]))
    lines = EVAL_LINE.findall(out)
    assert [int(step) for step, _, _ in lines] == [13, 20]  # after each epoch, and at the end
    # The LR after each evaluated step: the Trainer's linear decay from --lr (3e-3) to zero.
    assert [float(lr) for _, _, lr in lines] == pytest.approx(
        [3e-3 * (20 - int(step)) / 20 for step, _, _ in lines], rel=1e-5, abs=1e-12
    )


@pytest.fixture(scope="module")
def study(runs) -> tuple[optuna.Study, Path]:
    out = _finish(runs["tune"][0])
    cwd = runs["tune"][1]
    assert f"{TRIALS} complete" in out, out
    storage = f"sqlite:///{cwd / 'studies' / 'hf_tiny_lm.db'}"
    return optuna.load_study(study_name="hf_tiny_lm", storage=storage), cwd


def test_every_trial_follows_its_own_schedule_over_the_trainers_steps(study):
    loaded, _ = study
    trials = loaded.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * TRIALS
    trainer_lrs = _trainer_lrs("constant_with_warmup", 3e-3, STEPS, 10)
    families = set()
    for trial in trials:
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        families.add(spec.family)
        assert spec.total_steps == STEPS == trial.user_attrs["steps"]  # the Trainer's max_steps
        assert "step_mismatch" not in trial.user_attrs
        curve = trial.user_attrs["lr_curve"]
        assert curve["steps"] == list(range(STEPS + 1))  # and the LR after the last step
        assert curve["lrs"][:STEPS] == pytest.approx(spec.lrs(), rel=1e-12)
        assert curve["lrs"][:STEPS] != pytest.approx(trainer_lrs)
        assert trial.intermediate_values and sorted(trial.intermediate_values) == [10, 20, 30]
        assert trial.value == trial.intermediate_values[30]  # the last evaluation's eval_loss
    assert {"constant", "cosine", "linear"} <= families


def test_the_winner_re_run_plainly_gives_its_value_again(study, tmp_path):
    loaded, cwd = study
    best = loaded.best_trial
    schedule = cwd / "studies" / "hf_tiny_lm" / "best_schedule.json"
    spec = autolr.load_schedule(schedule)
    assert spec == autolr.ScheduleSpec.from_json(best.user_attrs["spec"])
    proc = _start([sys.executable, str(EXAMPLE), *SCRIPT_ARGS], tmp_path,
                  AUTOLR_SCHEDULE=str(schedule), AUTOLR_SEED=str(best.user_attrs["seed"]))
    out = _finish(proc)
    assert float(FINAL.search(out)[1]) == best.value
    lines = EVAL_LINE.findall(out)
    assert [int(step) for step, _, _ in lines] == [10, 20, 30]
    assert [float(lr) for _, _, lr in lines] == pytest.approx(
        [spec.lr * spec.multiplier(int(step)) for step, _, _ in lines], rel=1e-5, abs=1e-12
    )
