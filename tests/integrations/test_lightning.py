"""AutolrCallback in real Lightning Trainers, on the CPU, offline, in seconds.

The bundled example (``examples/lightning_digits.py``, whose module configures its own StepLR) is
tuned with ``autolr tune`` and run plainly, in subprocesses started together when the module's
first test starts (a module fixture), so that their interpreter, torch and Lightning start-up
overlap with the in-process tests; the tests reading their output come last. In process: the swap
under ``autolr.tune`` with both ``lightning`` and ``pytorch_lightning``, ``AUTOLR_SCHEDULE``,
several optimizers, the sanity check, and the errors a user can cause.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState
from subprocess_runs import finish, kill_unfinished
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import autolr
from autolr.errors import AutolrWarning, ConfigError, ConfigTypeError
from autolr.trials import runtime

pytest.importorskip("lightning")

from autolr.integrations.lightning import AutolrCallback

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lightning_digits.py"
TIMEOUT_S = 300
EPOCHS = 2
BATCHES = math.ceil(int(0.8 * 1797) / 64)  # the example's training batches per epoch
EXAMPLE_STEPS = EPOCHS * BATCHES  # its trainer.estimated_stepping_batches
STEP_GAMMA = 0.7  # the example's own StepLR, per epoch
TRIALS = 4
# Families with a closed form (the plateau family's LRs depend on the reports)
FAMILIES = "step,exponential,cosine,linear"
# what a CPU worker of autolr tune trains with: it keeps within the OMP_NUM_THREADS of _env
WORKER_THREADS = 1
FINAL = re.compile(r"final val_loss (\S+)  lr (\S+)")
SCHEDULER = re.compile(r"scheduler (\w+)  optimizer steps (\d+) of (\d+)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOLR_SCHEDULE", "AUTOLR_SEED")}
    env.update({"AUTOLR_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                "OMP_NUM_THREADS": str(WORKER_THREADS), **extra})
    return env


@pytest.fixture(scope="module", autouse=True)
def runs(tmp_path_factory) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """``autolr tune`` on the example, and the example run plainly, each in its own empty
    working directory, started when the module's first test starts."""
    commands = {
        "tune": [sys.executable, "-m", "autolr", "tune", str(EXAMPLE), "--trials", str(TRIALS),
                 "--search", "full", "--confirm", "0", "--pruner", "none", "--workers", "1",
                 "--seed", "0", "--families", FAMILIES, "--", "--epochs", str(EPOCHS)],
        "plain": [sys.executable, str(EXAMPLE), "--epochs", str(EPOCHS)],
    }
    procs = {}
    for name, command in commands.items():
        cwd = tmp_path_factory.mktemp(f"lightning_{name}")
        procs[name] = (subprocess.Popen(command, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True), cwd)
    yield procs
    kill_unfinished(proc for proc, _ in procs.values())


def _finish(proc: subprocess.Popen) -> tuple[str, str]:
    return finish(proc, TIMEOUT_S)


def _expected_lrs(spec: autolr.ScheduleSpec, steps: list[int]) -> list[float]:
    """The LR the spec gives after each of ``steps`` scheduler steps: ``spec.lrs()`` inside the
    run, and the closed form for the step after the last one (the LR left after training)."""
    lrs = spec.lrs()
    return [lrs[s] if s < len(lrs) else spec.lr * spec.multiplier(s) for s in steps]


# --- a tiny regression module, in either Lightning package ------------------------------------
def _module_class(pl: Any, *, optimizers: int = 1, schedulers: int | None = None) -> type:
    """A LightningModule (of package ``pl``) with its own StepLR for its first ``schedulers``
    optimizers (default: each); with several optimizers it uses manual optimization (the second
    at half the first one's LR) and steps its schedulers once per batch."""

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)
            self.automatic_optimization = optimizers == 1
            self.sanity_validations = 0

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            if self.automatic_optimization:
                return loss
            for optimizer in self.optimizers():
                optimizer.zero_grad()
            self.manual_backward(loss)
            for optimizer in self.optimizers():
                optimizer.step()
            schedulers = self.lr_schedulers() or []
            for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
                scheduler.step()
            return None

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.sanity_validations += self.trainer.sanity_checking
            self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self) -> Any:
            made = [torch.optim.SGD(self.parameters(), lr=0.1 / (i + 1))
                    for i in range(optimizers)]
            own = optimizers if schedulers is None else schedulers
            steps = [torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5)
                     for o in made[:own]]
            return (made, steps) if steps else made

    return Tiny


def _loader(n: int = 40, batch_size: int = 8) -> DataLoader:
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=batch_size)


def _trainer(pl: Any, callback: AutolrCallback, **kwargs: Any) -> Any:
    settings = dict(max_epochs=2, accelerator="cpu", devices=1, logger=False,
                    enable_progress_bar=False, enable_checkpointing=False,
                    enable_model_summary=False)
    settings.update(kwargs)
    return pl.Trainer(callbacks=[callback], **settings)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch) -> Iterator[None]:
    """No schedule file or seed from the environment; Lightning's notes and advice silenced
    (pytest restores the warning filters after each test, this fixture the log levels)."""
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    monkeypatch.delenv("AUTOLR_SEED", raising=False)
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "pytorch_lightning")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


PACKAGES = [
    pytest.param("lightning.pytorch", 1, id="lightning"),
    pytest.param("lightning.pytorch", 2, id="lightning-accumulate-2"),
    pytest.param("pytorch_lightning", 1, id="pytorch_lightning"),
]


# --- under autolr.tune, in process -------------------------------------------------------------
@pytest.mark.parametrize(("package", "accumulate"), PACKAGES)
def test_trials_follow_their_schedule_over_the_estimated_steps(package, accumulate):
    pl = pytest.importorskip(package)
    module_class = _module_class(pl)
    seen: list[dict[str, Any]] = []

    def train() -> None:
        callback = AutolrCallback(monitor="val_loss")
        trainer = _trainer(pl, callback, accumulate_grad_batches=accumulate)
        model = module_class()
        trainer.fit(model, _loader(), _loader())
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        seen.append({"estimated": trainer.estimated_stepping_batches,
                     "global_step": trainer.global_step, "configs": trainer.lr_scheduler_configs,
                     "is_callback": isinstance(callback, pl.Callback),
                     "sanity": model.sanity_validations, "scheduler": scheduler})

    result = autolr.tune(train, n_trials=3, search="full", pruner="none", confirm=0, seed=0)
    trials = result.study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [
        t.user_attrs.get("error") for t in trials
    ]
    for trial, run in zip(trials, seen):
        assert run["is_callback"]
        assert run["sanity"] > 0  # the sanity check ran, and reported nothing:
        assert sorted(trial.intermediate_values) == [0, 1]
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        # 5 batches a epoch: 5 optimizer steps, or 3 when two batches make one step
        assert run["estimated"] == run["global_step"] == 2 * math.ceil(5 / accumulate)
        assert trial.user_attrs["steps"] == spec.total_steps == run["estimated"]
        assert "step_mismatch" not in trial.user_attrs
        assert len(run["configs"]) == 1 and run["configs"][0].interval == "step"
        assert type(run["configs"][0]).__module__.startswith(package)
        assert type(run["scheduler"]).__name__ != "StepLR"
        curve = trial.user_attrs["lr_curve"]
        assert curve["lrs"] == pytest.approx(_expected_lrs(spec, curve["steps"]), rel=1e-9)


def test_no_value_is_reported_during_the_sanity_check(monkeypatch):
    pl = pytest.importorskip("lightning.pytorch")
    reports: list[tuple[int, bool, int]] = []
    trainer_box: list[Any] = []

    def record(value: Any, step: int) -> None:
        trainer = trainer_box[0]
        reports.append((step, trainer.sanity_checking, trainer.global_step))

    monkeypatch.setattr(runtime, "report", record)
    trainer = _trainer(pl, AutolrCallback(monitor="val_loss"), max_epochs=3,
                       num_sanity_val_steps=2)
    trainer_box.append(trainer)
    model = _module_class(pl)()
    trainer.fit(model, _loader(), _loader())
    assert model.sanity_validations > 0
    assert reports == [(0, False, 5), (1, False, 10), (2, False, 15)]


# --- plain runs, in process --------------------------------------------------------------------
def test_plain_run_keeps_the_module_scheduler():
    pl = pytest.importorskip("lightning.pytorch")
    trainer = _trainer(pl, AutolrCallback(monitor="val_loss"))
    trainer.fit(_module_class(pl)(), _loader(), _loader())
    (config,) = trainer.lr_scheduler_configs
    assert type(config.scheduler).__name__ == "StepLR" and config.interval == "epoch"
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)


def test_plain_run_follows_autolr_schedule(monkeypatch, tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    spec = autolr.ScheduleSpec("linear", lr=0.2, total_steps=10, warmup_steps=2)
    path = tmp_path / "schedule.json"
    path.write_text(spec.to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    lrs: list[float] = []

    class Watch(pl.Callback):
        def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer = pl.Trainer(callbacks=[AutolrCallback(monitor="val_loss"), Watch()], max_epochs=2,
                         accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(_module_class(pl)(), _loader(), _loader())
    assert lrs == pytest.approx(spec.lrs(), rel=1e-12)
    (config,) = trainer.lr_scheduler_configs
    assert type(config.scheduler).__name__ == "ScheduledLR" and config.interval == "step"


@pytest.mark.parametrize("own", [2, 1, 0], ids=["both-own", "first-own", "none-own"])
def test_several_optimizers_follow_one_schedule(monkeypatch, tmp_path, own):
    """A GAN-like module with two optimizers (manual optimization) and its own StepLR for
    ``own`` of them: both optimizers follow the schedule, the second at its LR ratio to the
    first; optimizers without their own scheduler are stepped along with the first one."""
    pl = pytest.importorskip("lightning.pytorch")
    spec = autolr.ScheduleSpec("cosine", lr=0.3, total_steps=10)
    path = tmp_path / "schedule.json"
    path.write_text(spec.to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    trainer = _trainer(pl, AutolrCallback(monitor="val_loss"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutolrWarning)
        trainer.fit(_module_class(pl, optimizers=2, schedulers=own)(), _loader(), _loader())
    configs = trainer.lr_scheduler_configs
    assert len(configs) == max(own, 1)  # self.lr_schedulers() keeps its shape
    if own == 2:
        assert [c.scheduler.optimizer for c in configs] == trainer.optimizers
    # the module stepped its schedulers once per batch: 10 steps; the second optimizer's LR is
    # 0.05, half the first one's 0.1, and keeps that ratio to the schedule's peak
    first, second = (o.param_groups[0]["lr"] for o in trainer.optimizers)
    assert first == pytest.approx(spec.lr * spec.multiplier(10))
    assert second == pytest.approx(0.5 * spec.lr * spec.multiplier(10))


def test_several_optimizers_under_tune_record_the_first_ones_curve():
    pl = pytest.importorskip("lightning.pytorch")

    def train() -> None:
        trainer = _trainer(pl, AutolrCallback(monitor="val_loss"))
        trainer.fit(_module_class(pl, optimizers=2)(), _loader(), _loader())
        first, second = (o.param_groups[0]["lr"] for o in trainer.optimizers)
        assert second == pytest.approx(0.5 * first)

    result = autolr.tune(train, n_trials=2, seed=0, search="full", pruner="none", confirm=0,
                         families=["cosine", "linear"])
    for trial in result.study.get_trials():
        assert trial.state == TrialState.COMPLETE, trial.user_attrs.get("error")
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        curve = trial.user_attrs["lr_curve"]
        assert curve["lrs"] == pytest.approx(_expected_lrs(spec, curve["steps"]), rel=1e-9)


# --- errors a user can cause -------------------------------------------------------------------
def test_a_monitor_that_is_never_logged_lists_the_metrics_at_the_first_validation_end():
    pl = pytest.importorskip("lightning.pytorch")
    trainer = _trainer(pl, AutolrCallback(monitor="val_los"), max_epochs=3)
    with pytest.raises(ConfigError) as caught:
        trainer.fit(_module_class(pl)(), _loader(), _loader())
    message = str(caught.value)
    assert message.startswith("The 'monitor' parameter of AutolrCallback must name a metric "
                              "the module logs during validation")
    assert "Got 'val_los' instead." in message
    assert "after validation 1 (epoch 0) are: 'train_loss', 'val_loss'." in message
    assert "Did you mean 'val_loss'?" in message
    assert "self.log('val_los', value) in validation_step" in message
    assert trainer.global_step == 5  # after the first epoch, not in the sanity check


@pytest.mark.parametrize(("monitor", "error"), [("", ConfigError), (3, ConfigTypeError)])
def test_monitor_must_be_a_name(monitor, error):
    with pytest.raises(error, match="'monitor' parameter of AutolrCallback"):
        AutolrCallback(monitor=monitor)


def test_an_endless_fit_cannot_be_scheduled(monkeypatch, tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    path = tmp_path / "schedule.json"
    path.write_text(autolr.ScheduleSpec("cosine", lr=0.1, total_steps=10).to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    trainer = _trainer(pl, AutolrCallback(monitor="val_loss"), max_epochs=-1)
    with pytest.raises(ConfigError, match="estimated_stepping_batches is inf.*max_steps"):
        trainer.fit(_module_class(pl)(), _loader(), _loader())


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_importing_autolr_and_the_integration_imports_no_lightning():
    done = _python("""
        import sys
        import autolr, autolr.integrations, autolr.trials.runtime
        import autolr.integrations.lightning
        print(sorted(m for m in sys.modules if "lightning" in m.split(".")[0]))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]"]


@pytest.mark.parametrize("package", ["lightning.pytorch", "pytorch_lightning"])
def test_the_callback_belongs_to_the_package_the_script_imported(monkeypatch, package):
    """Only the package in use: importing the other would also redirect its log messages."""
    pl = pytest.importorskip(package)
    other = next(name for name in ("lightning.pytorch", "pytorch_lightning") if name != package)
    monkeypatch.delitem(sys.modules, other, raising=False)  # as if never imported
    callback = AutolrCallback(monitor="val_loss")
    assert isinstance(callback, pl.Callback) and isinstance(callback, AutolrCallback)
    assert [k.__module__.split(".")[0] for k in type(callback).__mro__[2:-1]] == [
        package.split(".")[0]]
    copied = pickle.loads(pickle.dumps(callback))  # spawned processes, deep copies
    assert type(copied) is type(callback) and copied.monitor == "val_loss"


def test_missing_lightning_gets_the_pip_command():
    done = _python("""
        import sys
        sys.modules["lightning"] = sys.modules["pytorch_lightning"] = None  # not installed
        import autolr
        try:
            import autolr.integrations.lightning
        except ImportError as exc:
            print(isinstance(exc, autolr.ConfigError), exc)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True autolr.integrations.lightning needs Lightning 2.x")
    assert "Install it: pip install 'autolr[lightning]'" in done.stdout


# --- the example, in subprocesses (started by the module fixture) ------------------------------
def test_example_runs_plainly_with_its_own_step_lr(runs):
    out, _ = _finish(runs["plain"][0])
    assert re.findall(r"epoch (\d)/2  val_loss \d+\.\d+", out) == ["1", "2"]
    assert SCHEDULER.search(out).groups() == ("StepLR", str(EXAMPLE_STEPS), str(EXAMPLE_STEPS))
    lr = float(FINAL.search(out).group(2))
    assert lr == pytest.approx(0.05 * STEP_GAMMA**EPOCHS)


def test_tune_follows_each_trial_schedule_and_the_winner_reproduces(runs):
    proc, cwd = runs["tune"]
    out, _ = _finish(proc)
    assert f"{TRIALS} complete, 0 pruned, 0 failed" in out, out
    storage = f"sqlite:///{cwd / 'studies' / 'lightning_digits.db'}"
    study = optuna.load_study(study_name="lightning_digits", storage=storage)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * TRIALS
    for trial in trials:
        spec = autolr.ScheduleSpec.from_json(trial.user_attrs["spec"])
        # every optimizer step stepped the trial's scheduler, over estimated_stepping_batches
        assert trial.user_attrs["steps"] == spec.total_steps == EXAMPLE_STEPS
        assert "step_mismatch" not in trial.user_attrs
        curve = trial.user_attrs["lr_curve"]
        assert curve["steps"] == list(range(EXAMPLE_STEPS + 1))
        assert curve["lrs"] == pytest.approx(_expected_lrs(spec, curve["steps"]), rel=1e-9)
        # one report per epoch, none from the sanity check
        assert sorted(trial.intermediate_values) == list(range(EPOCHS))
        assert trial.user_attrs["reports"] == EPOCHS
    log = (cwd / "studies" / "lightning_digits" / "logs" / "worker-0.log").read_text()
    ran = [m.groups() for m in SCHEDULER.finditer(log)]
    assert ran == [("ScheduledLR", str(EXAMPLE_STEPS), str(EXAMPLE_STEPS))] * TRIALS

    # The winner, re-run plainly with its schedule and seed (and the worker's thread count),
    # reports exactly the study's value.
    best = study.best_trial
    schedule = cwd / "studies" / "lightning_digits" / "best_schedule.json"
    found_by = json.loads(schedule.read_text())["found_by"]
    assert (found_by["trial"], found_by["seed"]) == (best.number, best.user_attrs["seed"])
    threads = str(WORKER_THREADS)
    again = subprocess.run(
        [sys.executable, str(EXAMPLE), "--epochs", str(EPOCHS)], cwd=cwd, capture_output=True,
        text=True, timeout=TIMEOUT_S, check=False,
        env=_env(AUTOLR_SCHEDULE=str(schedule), AUTOLR_SEED=str(found_by["seed"]),
                 OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads),
    )
    assert again.returncode == 0, again.stderr
    assert SCHEDULER.search(again.stdout).group(1) == "ScheduledLR"
    value, lr = (float(v) for v in FINAL.search(again.stdout).groups())
    assert value == best.value
    spec = autolr.ScheduleSpec.from_json(best.user_attrs["spec"])
    assert lr == pytest.approx(spec.lr * spec.multiplier(EXAMPLE_STEPS), rel=1e-12)
