"""The workloads of the schedule tables: the three of :mod:`workloads` and three more.

Between them they cover what a tabulated benchmark of LR schedules needs (issue #19):

=========  ==========================================  ============  =======  ============  =====
workload   model, data                                 optimizer     steps    metric        sched
=========  ==========================================  ============  =======  ============  =====
digits     64-64-10 MLP, sklearn digits                SGD mom. 0.9  184      val. CE       step
friedman   10-64-64-1 MLP, make_friedman1              Adam          1,250    val. MSE      step
char       character transformer (table size)          AdamW, clip   200      val. nats     step
logreg     softmax regression (convex), 40 features    SGD, wd 1e-4  4,000    val. CE       step
cnn        2-conv CNN on the 8x8 digits images         Adadelta      230      val. accuracy epoch
cancer     30-32-1 MLP, sklearn breast cancer          RMSprop       130      val. log-loss step
=========  ==========================================  ============  =======  ============  =====

``cnn`` steps its scheduler once per epoch (10 scheduler steps for 230 optimizer steps), as
PyTorch's MNIST example does with Adadelta and ``StepLR(gamma=0.7)``, and reports an accuracy
(higher is better). Every other workload steps per optimizer step and reports a loss.

Each table workload says how it trains one configuration for the table: a
:class:`autolr.ScheduleSpec` over ``length`` scheduler steps, ended at the first report at or
after ``length`` (a shortened run as the fidelity ladder runs it), on one seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from workloads import Char, Digits, Friedman, Settings, SupervisedWorkload, _LastReport

import autolr

# The table size of the character model: a smaller model and 200 steps keep a table of 500
# configurations, three seeds and three lengths within about half an hour on two cores.
TABLE_SETTINGS = Settings(char_steps=200, char_eval_every=20, char_model=(32, 1, 2, 32, 16))
TABLE_WORKLOADS = ("digits", "friedman", "char", "logreg", "cnn", "cancer")
# Scored once, at the end; nothing learned from the tables is tuned on them.
HELD_OUT = ("cnn", "cancer")
DIVERGED = 1e3  # a loss this many times the first report counts as diverged (autolr's guard)


@dataclass
class RunRecord:
    """One tabulated run: its reports (scheduler step, value), what it cost."""

    reports: list[tuple[int, float]]
    steps: int  # scheduler steps taken
    optimizer_steps: int
    startup_s: float  # from the call to the first optimizer step (data, model, optimizer)
    step_s: float  # mean seconds per optimizer step, evaluation included


class TableWorkload:
    """How a workload trains for the table (mixed into each workload class)."""

    direction = "minimize"
    per_epoch = False  # the scheduler steps once per epoch instead of once per optimizer step
    metric = ""

    def scheduler_steps(self: Any) -> int:
        """``total_steps`` as the script gives it to ``autolr.scheduler``."""
        return self.epochs if self.per_epoch else self.total_steps

    def table_run(self: Any, spec: autolr.ScheduleSpec, seed: int) -> RunRecord:
        """Train ``spec`` (its own ``total_steps`` are the run's length in scheduler steps),
        ended at the first report at or after that length, or at a diverged report."""
        start = time.perf_counter()
        torch.manual_seed(seed)
        data = self.data()
        model = self._model().to(self.device)
        opt = self._optimizer(model, spec.lr)
        last = _LastReport()
        scheduler = spec.build(opt, metric_source=last)
        length = spec.total_steps
        reports: list[tuple[int, float]] = []
        sched_steps = opt_steps = 0
        first_step_at = None
        first_value = None
        model.train()
        for batch, evaluate_after, _ in self._batches(data):
            loss = self._loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            self._clip(model)
            if first_step_at is None:
                first_step_at = time.perf_counter()
            opt.step()
            opt_steps += 1
            if not self.per_epoch:
                scheduler.step()
                sched_steps += 1
            if not evaluate_after:
                continue
            model.eval()
            with torch.no_grad():
                value = float(self._evaluate(model, data))
            model.train()
            if math.isfinite(value):
                last.count += 1
                last.value = value
            if self.per_epoch:  # after the evaluation, as such scripts do (plateau reads it)
                scheduler.step()
                sched_steps += 1
            reports.append((sched_steps, value))
            if first_value is None:
                first_value = value
            diverged = not math.isfinite(value) or (
                self.direction == "minimize" and first_value > 0
                and value > DIVERGED * first_value)
            if sched_steps >= length or diverged:
                break
        end = time.perf_counter()
        first_step_at = first_step_at or end
        return RunRecord(reports, sched_steps, opt_steps, first_step_at - start,
                         (end - first_step_at) / max(1, opt_steps))


class TableDigits(TableWorkload, Digits):
    metric = "validation cross-entropy"


class TableFriedman(TableWorkload, Friedman):
    metric = "validation MSE, standardised target"


class TableChar(TableWorkload, Char):
    metric = "validation loss, nats/char"


class Logreg(TableWorkload, SupervisedWorkload):
    """Softmax regression (convex) on ``make_classification(6000, 40 features, 24 informative,
    5 classes, class_sep 0.8, flip_y 0.05)`` split 4,800/1,200, plain SGD with weight decay
    1e-4 at 0.01, batch 24, 20 epochs (4,000 steps); validation cross-entropy after each epoch.
    The script's own schedule: constant."""

    batch_size = 24
    n_train = 4800
    hand_name = "constant"
    optimizer_name = "SGD, weight decay 1e-4"
    metric = "validation cross-entropy"
    criterion = staticmethod(nn.functional.cross_entropy)

    def _setup(self) -> None:
        self.epochs = 20
        self.batches_per_epoch = self.n_train // self.batch_size
        self.total_steps = self.epochs * self.batches_per_epoch

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("constant", lr=lr, total_steps=self.total_steps)

    def _data(self) -> Any:
        from sklearn.datasets import make_classification

        x, y = make_classification(6000, n_features=40, n_informative=24, n_redundant=8,
                                   n_classes=5, class_sep=0.8, flip_y=0.05, random_state=0)
        x_t = torch.tensor(x, dtype=torch.float32)
        y_t = torch.tensor(y, dtype=torch.long)
        n = self.n_train
        return x_t[:n], y_t[:n], x_t[n:], y_t[n:]

    def _model(self) -> nn.Module:
        return nn.Linear(40, 5)

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=lr, weight_decay=1e-4)


class Cnn(TableWorkload, SupervisedWorkload):
    """A small CNN on the 8x8 digits images (conv 1->8, conv 8->16, 3x3, ReLU, max-pool, linear
    to 10), Adadelta at 1.0, batch 64, 10 epochs, the scheduler stepped once per epoch (PyTorch's
    MNIST example: Adadelta with ``StepLR(step_size=1, gamma=0.7)``); validation accuracy after
    each epoch (higher is better)."""

    batch_size = 64
    direction = "maximize"
    per_epoch = True
    hand_name = "StepLR x0.7 every epoch (per epoch)"
    optimizer_name = "Adadelta"
    metric = "validation accuracy"
    criterion = staticmethod(nn.functional.cross_entropy)  # trained on; measured by accuracy

    def _setup(self) -> None:
        self.epochs = 10
        self.batches_per_epoch = math.ceil(1437 / self.batch_size)
        self.total_steps = self.epochs * self.batches_per_epoch

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        # StepLR(step_size=1, gamma=0.7) over 10 epochs: x0.7 after every tenth of the run
        return autolr.ScheduleSpec("step", {"every": 0.1, "gamma": 0.7}, lr=lr,
                                   total_steps=self.epochs)

    def _data(self) -> Any:
        import digits_mlp

        x_train, y_train, x_val, y_val = digits_mlp.load_data()
        return (x_train.view(-1, 1, 8, 8), y_train, x_val.view(-1, 1, 8, 8), y_val)

    def _model(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
        )

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adadelta(model.parameters(), lr=lr)

    def _evaluate(self, model: nn.Module, data: Any) -> float:
        logits = model(data[2])
        if not torch.isfinite(logits).all():
            return math.nan
        return (logits.argmax(1) == data[3]).float().mean().item()


class Cancer(TableWorkload, SupervisedWorkload):
    """A 30-32-1 MLP on scikit-learn's breast cancer data (standardised, split 400/169), RMSprop
    at 1e-3, batch 32, 10 epochs (130 steps, 13 per epoch); validation log-loss after each
    epoch. The script's own schedule: constant."""

    batch_size = 32
    n_train = 400
    hand_name = "constant"
    optimizer_name = "RMSprop"
    metric = "validation log-loss"
    criterion = staticmethod(nn.functional.binary_cross_entropy_with_logits)

    def _setup(self) -> None:
        self.epochs = 10
        self.batches_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.total_steps = self.epochs * self.batches_per_epoch

    def hand_schedule(self, lr: float) -> autolr.ScheduleSpec:
        return autolr.ScheduleSpec("constant", lr=lr, total_steps=self.total_steps)

    def _data(self) -> Any:
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        x_t = torch.tensor(x, dtype=torch.float32)[order]
        y_t = torch.tensor(y, dtype=torch.float32)[order].unsqueeze(1)
        n = self.n_train
        mean, std = x_t[:n].mean(0), x_t[:n].std(0)
        x_t = (x_t - mean) / std
        return x_t[:n], y_t[:n], x_t[n:], y_t[n:]

    def _model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 1))

    def _optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(model.parameters(), lr=lr)


_CLASSES: dict[str, tuple[type, str, float]] = {
    "digits": (TableDigits, "Digits MLP (examples/digits_mlp.py)", 0.05),
    "friedman": (TableFriedman, "Friedman #1 MLP regression", 5e-3),
    "char": (TableChar, "Character transformer LM, table size", 3e-3),
    "logreg": (Logreg, "Softmax regression, 40 features, 5 classes (convex)", 0.01),
    "cnn": (Cnn, "CNN on 8x8 digits, scheduler per epoch", 1.0),
    "cancer": (Cancer, "Breast-cancer MLP", 1e-3),
}


def make_table_workload(name: str) -> Any:
    """The table workload called ``name`` (one of :data:`TABLE_WORKLOADS`), made once per
    process."""
    if name not in _CLASSES:
        raise ValueError(f"unknown table workload {name!r}; known: {', '.join(TABLE_WORKLOADS)}")
    if name not in _MADE:
        cls, title, lr = _CLASSES[name]
        _MADE[name] = cls(name, title, lr, (lr / 10, lr * 10), TABLE_SETTINGS)
    return _MADE[name]


_MADE: dict[str, Any] = {}
