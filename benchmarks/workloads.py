"""The benchmark workloads: one training function per workload, usable by every method.

Each :class:`Workload` trains from scratch with

- ``schedule``: ``"autolr"`` (the study's trial schedule, through ``autolr.scheduler`` /
  ``autolr.report``: only valid inside ``autolr.tune``), an :class:`autolr.ScheduleSpec` (its
  own peak LR), a function of the optimizer returning the scheduler to step once per optimizer
  step (an exported file's ``build_scheduler``), or ``None`` (no scheduler: Schedule-Free
  AdamW);
- ``optimizer``: ``"default"`` (the script's own optimizer, created at ``lr``) or
  ``"schedulefree"`` (``schedulefree.AdamWScheduleFree`` at ``lr``, with the package's
  recommended linear warmup, ``optimizer.train()``/``optimizer.eval()`` around evaluation);
- ``report(value, step)``: called after every evaluation (may raise to prune the run);
- ``meter``: a :class:`StepMeter` that counts every optimizer step (pruned runs included) and the
  seconds spent inside the training function.

and returns the last validation metric (lower is better for every workload).

The workloads, at CPU-sized settings:

``digits``  the MLP of ``examples/digits_mlp.py`` (SGD + momentum, cross-entropy), 8 epochs;
            hand schedule: constant LR (what the script does run plainly).
``char``    the character transformer of ``examples/char_transformer.py`` (AdamW, gradient
            clipping), a smaller model and 400 steps; hand schedule: the script's own default,
            5% linear warmup then cosine to zero.
``friedman`` an MLP regressor on scikit-learn's synthetic Friedman #1 problem (Adam, MSE on a
            standardised target), 25 epochs; hand schedule: step decay, x0.1 at 50% and 75% of the
            run (torch ``MultiStepLR``, the usual recipe with Adam).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from harness.files import EXAMPLES
from torch import nn

import autolr

if str(EXAMPLES) not in sys.path:  # the example scripts the workloads import by name
    sys.path.insert(0, str(EXAMPLES))

Report = Callable[[float, int], None]
SCHEDULEFREE_WARMUP = 0.05  # fraction of the run: schedulefree's README recommends a warmup


@dataclass
class StepMeter:
    """Optimizer steps and seconds spent in training functions (summed over runs)."""

    steps: int = 0
    runs: int = 0
    train_seconds: float = 0.0


@dataclass
class _LastReport:
    """The metric source of a plateau schedule outside a study (``(count, last value)``)."""

    count: int = 0
    value: float | None = None

    def __call__(self) -> tuple[int, float | None]:
        return self.count, self.value


@dataclass(frozen=True)
class Settings:
    """The size of a workload's runs (full or quick)."""

    digits_epochs: int = 8
    friedman_epochs: int = 25
    char_steps: int = 400
    char_eval_every: int = 40
    char_model: tuple[int, int, int, int, int] = (48, 2, 4, 48, 32)  # d, layers, heads, ctx, batch

    @classmethod
    def named(cls, size: str) -> Settings:
        """``cpu`` (the default benchmark), ``gpu`` (larger runs for --device cuda) or ``quick``
        (a smoke run of a few seconds)."""
        if size == "cpu":
            return cls()
        if size == "gpu":
            return cls(digits_epochs=8, friedman_epochs=25, char_steps=1000,
                       char_eval_every=100, char_model=(128, 4, 4, 128, 64))
        if size == "quick":
            return cls(digits_epochs=2, friedman_epochs=2, char_steps=20, char_eval_every=10,
                       char_model=(16, 1, 2, 16, 8))
        raise ValueError(f"unknown size {size!r}: cpu, gpu or quick")


@dataclass
class Workload:
    """A training problem with a fixed data split and model; see the module docstring."""

    name: str
    title: str
    base_lr: float  # the script's own LR (the reference of autolr's LR range)
    sf_lr_range: tuple[float, float]  # Schedule-Free AdamW peak-LR search range
    settings: Settings
    device: str = "cpu"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # --- per-workload pieces (overridden; class attributes, not fields) ------------------
    total_steps = 0  # optimizer steps of one run (set by each workload from the settings)
    hand_name = ""
    optimizer_name = ""

    def __post_init__(self) -> None:
        self._setup()

    def _setup(self) -> None:
        """Derive the run length from the settings."""
        raise NotImplementedError

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        """The script's own schedule at peak LR ``lr``."""
        raise NotImplementedError

    def warmup_steps(self) -> int:
        """The warmup the script's own recipe uses (kept by the linear/cosine baselines)."""
        return 0

    def _data(self) -> Any:
        raise NotImplementedError

    def _model(self) -> nn.Module:
        raise NotImplementedError

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _batches(self, data: Any) -> Iterator[tuple[Any, bool, int]]:
        """``(batch, evaluate_after, report_step)`` for each of ``total_steps`` steps."""
        raise NotImplementedError

    def _loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def _evaluate(self, model: nn.Module, data: Any) -> float:
        raise NotImplementedError

    def _clip(self, model: nn.Module) -> None:
        return None

    def _weight_decay(self) -> float:
        return 0.0

    # --- the one training function ---------------------------------------------------------
    def _shuffled_epochs(self, x: Any, y: Any) -> Iterator[tuple[Any, bool, int]]:
        """``(batch, last batch of the epoch?, epoch)`` over reshuffled (x, y) each epoch."""
        for epoch in range(self.epochs):
            order = torch.randperm(len(x)).to(self.device)
            for i in range(self.batches_per_epoch):
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                yield (x[idx], y[idx]), i == self.batches_per_epoch - 1, epoch

    def data(self) -> Any:
        if "data" not in self._cache:
            self._cache["data"] = self._data()
        return self._cache["data"]

    def train(
        self,
        schedule: str | autolr.ScheduleSpec | Callable[[Any], Any] | None,
        lr: float | None = None,
        seed: int | None = None,
        *,
        optimizer: str = "default",
        report: Report | None = None,
        meter: StepMeter | None = None,
    ) -> float:
        """Train from scratch; returns the last validation metric (see the module docstring)."""
        start = time.perf_counter()
        meter = meter if meter is not None else StepMeter()
        meter.runs += 1
        try:
            return self._train(schedule, lr, seed, optimizer, report, meter)
        finally:
            meter.train_seconds += time.perf_counter() - start

    def _train(
        self,
        schedule: str | autolr.ScheduleSpec | Callable[[Any], Any] | None,
        lr: float | None,
        seed: int | None,
        optimizer_kind: str,
        report: Report | None,
        meter: StepMeter,
    ) -> float:
        if seed is not None:
            torch.manual_seed(seed)
        data = self.data()
        model = self._model().to(self.device)
        if isinstance(schedule, autolr.ScheduleSpec) and lr is None:
            lr = schedule.lr
        lr = self.base_lr if lr is None else lr
        schedule_free = optimizer_kind == "schedulefree"
        if schedule_free:
            import schedulefree

            opt: Any = schedulefree.AdamWScheduleFree(
                model.parameters(), lr=lr, betas=(0.9, 0.999),
                weight_decay=self._weight_decay(),
                warmup_steps=round(SCHEDULEFREE_WARMUP * self.total_steps),
            )
            opt.train()
        elif optimizer_kind == "default":
            opt = self._optimizer(model, lr)
        else:
            raise ValueError(
                f"optimizer must be 'default' or 'schedulefree', got {optimizer_kind!r}"
            )

        last = _LastReport()
        if schedule == "autolr":
            if schedule_free:
                raise ValueError("Schedule-Free AdamW runs without an LR schedule")
            scheduler: Any = autolr.scheduler(opt, total_steps=self.total_steps)
            report = autolr.report
        elif isinstance(schedule, autolr.ScheduleSpec):
            if schedule.total_steps != self.total_steps:
                schedule = schedule.with_total_steps(self.total_steps)
            if schedule.lr != lr:
                schedule = schedule.replace(lr=lr)
            scheduler = schedule.build(opt, metric_source=last)
        elif schedule is None:
            scheduler = None
        elif callable(schedule):
            scheduler = schedule(opt)
        else:
            raise ValueError(f"unknown schedule {schedule!r}")

        value = math.nan
        model.train()
        for batch, evaluate_after, report_step in self._batches(data):
            loss = self._loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            self._clip(model)
            opt.step()
            meter.steps += 1
            if scheduler is not None:
                scheduler.step()
            if evaluate_after:
                if schedule_free:
                    opt.eval()
                model.eval()
                with torch.no_grad():
                    value = self._evaluate(model, data)
                model.train()
                if schedule_free:
                    opt.train()
                if math.isfinite(value):
                    last.count += 1
                    last.value = value
                if report is not None:
                    report(value, report_step)
        return value


class SupervisedWorkload(Workload):
    """A workload whose data is ``(x_train, y_train, x_val, y_val)``, trained on the training
    set reshuffled each epoch and measured on the validation set with one ``criterion``
    (``criterion(model(x), y)``, lower is better), e.g. ``nn.functional.cross_entropy``."""

    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def _batches(self, data: Any) -> Iterator[tuple[Any, bool, int]]:
        return self._shuffled_epochs(data[0], data[1])

    def _loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        return self.criterion(model(x), y)

    def _evaluate(self, model: nn.Module, data: Any) -> float:
        return self.criterion(model(data[2]), data[3]).item()


# --- digits ------------------------------------------------------------------------------------


class Digits(SupervisedWorkload):
    """examples/digits_mlp.py: 64-64-10 MLP, SGD(momentum 0.9) at 0.05, batch 64."""

    batch_size = 64
    hand_name = "constant (the script, run plainly)"
    optimizer_name = "SGD, momentum 0.9"
    criterion = staticmethod(nn.functional.cross_entropy)

    def _setup(self) -> None:
        self.epochs = self.settings.digits_epochs
        self.batches_per_epoch = math.ceil(1437 / self.batch_size)
        self.total_steps = self.epochs * self.batches_per_epoch

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("constant", lr=lr, total_steps=self.total_steps)

    def _data(self) -> Any:
        import digits_mlp

        return tuple(t.to(self.device) for t in digits_mlp.load_data())

    def _model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def _batches(self, data: Any) -> Iterator[tuple[Any, bool, int]]:
        assert math.ceil(len(data[0]) / self.batch_size) == self.batches_per_epoch
        return super()._batches(data)


# --- friedman ----------------------------------------------------------------------------------


class Friedman(SupervisedWorkload):
    """MLP regression (10-64-64-1, ReLU) on make_friedman1(2000, noise=1) split 1600/400, Adam
    at 5e-3, batch 32; validation MSE on the standardised target (noise floor about 0.04)."""

    batch_size = 32
    n_train = 1600
    hand_name = "step decay x0.1 at 50% and 75%"
    optimizer_name = "Adam"
    criterion = staticmethod(nn.functional.mse_loss)

    def _setup(self) -> None:
        self.epochs = self.settings.friedman_epochs
        self.batches_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.total_steps = self.epochs * self.batches_per_epoch

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec(
            "multistep", {"milestones": [0.5, 0.75], "gammas": [0.1, 0.1]}, lr=lr,
            total_steps=self.total_steps,
        )

    def _data(self) -> Any:
        from sklearn.datasets import make_friedman1

        x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        x_t = torch.tensor(x, dtype=torch.float32)
        y_t = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
        mean, std = y_t[: self.n_train].mean(), y_t[: self.n_train].std()
        y_t = (y_t - mean) / std
        n = self.n_train
        return tuple(t.to(self.device) for t in (x_t[:n], y_t[:n], x_t[n:], y_t[n:]))

    def _model(self) -> nn.Module:
        return nn.Sequential(
            nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
        )

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=lr)


# --- char transformer --------------------------------------------------------------------------


class Char(Workload):
    """examples/char_transformer.py at CPU size (by default d_model 48, 2 layers, 4 heads,
    context 48, batch 32), AdamW(0.9, 0.95, wd 0.1) at 3e-3 (the script's 1e-3 suits its
    larger default model; this small one trains best near 1e-2, so 3e-3 keeps the optimum
    inside every method's 0.1x-10x LR range), clip 1.0; validation loss in nats/char over 4
    fixed batches of windows."""

    eval_batches = 4
    hand_name = "5% warmup + cosine to 0 (the script's default)"
    optimizer_name = "AdamW, clip 1.0"

    def _setup(self) -> None:
        (self.d_model, self.layers, self.heads, self.seq_len,
         self.batch_size) = self.settings.char_model
        self.total_steps = self.settings.char_steps
        self.eval_every = self.settings.char_eval_every

    def warmup_steps(self) -> int:
        import char_transformer

        return min(round(char_transformer.WARMUP_FRACTION * self.total_steps),
                   self.total_steps - 1)

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("cosine", lr=lr, total_steps=self.total_steps,
                                   warmup_steps=self.warmup_steps())

    def _data(self) -> Any:
        import char_transformer as ct

        text = ct.load_text()
        vocab = ct.Vocabulary(text)
        data = vocab.encode(text).to(self.device)
        cut = int(len(data) * (1 - ct.VAL_FRACTION))
        train, val = data[:cut], data[cut:]
        n_val = self.eval_batches * self.batch_size
        starts = torch.linspace(0, len(val) - self.seq_len - 2, n_val,
                                device=self.device).long()
        return train, val, starts, len(vocab)

    def _model(self) -> nn.Module:
        import char_transformer as ct

        return ct.CharTransformer(self.data()[3], self.d_model, self.layers, self.heads,
                                  self.seq_len)

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95),
                                 weight_decay=self._weight_decay())

    def _weight_decay(self) -> float:
        return 0.1

    def _clip(self, model: nn.Module) -> None:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)

    def _batches(self, data: Any) -> Iterator[tuple[Any, bool, int]]:
        import char_transformer as ct

        train = data[0]
        for step in range(1, self.total_steps + 1):
            starts = torch.randint(0, len(train) - self.seq_len - 1, (self.batch_size,),
                                   device=self.device)
            evaluate = step % self.eval_every == 0 or step == self.total_steps
            yield ct.batch(train, starts, self.seq_len), evaluate, step

    def _loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        inputs, targets = batch
        logits = model(inputs)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           targets.reshape(-1))

    def _evaluate(self, model: nn.Module, data: Any) -> float:
        import char_transformer as ct

        _, val, starts, _ = data
        return ct.evaluate(model, val, starts, self.seq_len, self.batch_size, amp=False)


WORKLOADS = ("digits", "char", "friedman")


def make_workload(name: str, settings: Settings, device: str = "cpu") -> Workload:
    """The workload called ``name`` (one of :data:`WORKLOADS`)."""
    if name == "digits":
        return Digits("digits", "Digits MLP (examples/digits_mlp.py)", 0.05, (1e-3, 1e-1),
                      settings, device)
    if name == "char":
        return Char("char", "Character transformer LM (examples/char_transformer.py)", 3e-3,
                    (3e-4, 3e-2), settings, device)
    if name == "friedman":
        return Friedman("friedman", "Friedman #1 MLP regression (Adam)", 5e-3, (5e-4, 5e-2),
                        settings, device)
    raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
