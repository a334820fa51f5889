"""Hugging Face ``Trainer`` support: one callback makes a Trainer script tunable by autolr.

::

    from autolr.integrations.transformers import AutolrCallback

    trainer = Trainer(model, args, train_dataset=..., eval_dataset=...,
                      callbacks=[AutolrCallback(metric="eval_loss")])
    trainer.train()

Under ``autolr tune`` the Trainer follows the trial's schedule over its own number of optimizer
steps (``state.max_steps``, from ``max_steps`` or from ``num_train_epochs``, gradient accumulation
included), whatever ``lr_scheduler_type`` says, and ``metric`` is reported to the study after
each evaluation the Trainer makes during training (``eval_strategy="steps"`` or ``"epoch"``),
with ``step`` = the Trainer's global step. Run plainly, the Trainer keeps its own scheduler,
unless the ``AUTOLR_SCHEDULE`` environment variable names a schedule file, which is then
followed (stretched to the run's length when it was made for another). Seed the Trainer from
:func:`autolr.seed` (``TrainingArguments(seed=autolr.seed(default=42))``): the Trainer seeds
itself from ``args.seed``, which would otherwise undo the trial's own seed.

How the Trainer is made to follow autolr's schedule
---------------------------------------------------
A callback cannot give the Trainer a scheduler through any public route: ``optimizers=(opt,
scheduler)`` needs the optimizer before the Trainer has created it, and callbacks are documented
as read-only observers that receive the optimizer and the scheduler but not the Trainer. What
has been stable in every Trainer with callbacks (transformers 4 and 5) is the protocol around
them: the Trainer creates its optimizer and its scheduler, then fires ``on_train_begin`` from its
own training loop, passing ``optimizer`` and ``lr_scheduler`` (its ``callback_handler``'s
references to ``trainer.optimizer`` and ``trainer.lr_scheduler``); after each optimizer step it
calls ``self.lr_scheduler.step()``, reading the attribute anew each time.

So in ``on_train_begin`` this callback builds ``autolr.scheduler(optimizer,
total_steps=state.max_steps)`` on the optimizer it is given and *replaces the scheduler object
the Trainer holds*: ``trainer.lr_scheduler`` and ``trainer.callback_handler.lr_scheduler``. The
Trainer is the caller of ``on_train_begin``: it is found on the call stack as the object whose
``callback_handler`` holds this very callback and whose ``lr_scheduler`` is the very scheduler
the event passed (if no such object is found, or it is a DeepSpeed run, whose engine steps its
own scheduler, the callback raises rather than let the run silently ignore the schedule). From
then on everything the Trainer does with its scheduler uses autolr's: one ``step()`` per
optimizer step (not per micro-batch under gradient accumulation), the ``learning_rate`` it logs,
the scheduler state in its checkpoints. The Trainer's own scheduler, created a moment earlier,
is dropped before it ever stepped; autolr's writes the trial's peak LR into the optimizer
(keeping the param groups' LR ratios) and takes over. ``reduce_lr_on_plateau`` and ``greedy``
stop mattering as well, since the Trainer special-cases them only by the type of the scheduler
it holds. A resumed run (``resume_from_checkpoint``) fast-forwards autolr's scheduler to the
resumed global step. An optimizer step that a mixed-precision loss scaler skips is not stepped
by the Trainer, and autolr then warns that the step count differs from ``total_steps``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import warnings
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # transformers is an optional dependency
    raise ModuleNotFoundError(
        "autolr.integrations.transformers needs the transformers package (its Trainer also "
        f"needs accelerate): {exc}. Install both: pip install 'autolr[transformers]'",
        name="transformers",
    ) from exc
if importlib.util.find_spec("accelerate") is None:
    raise ModuleNotFoundError(
        "autolr.integrations.transformers needs accelerate, which the transformers Trainer "
        "uses, and it is not installed. Install it: pip install 'autolr[transformers]'",
        name="accelerate",
    )

from autolr import _validation
from autolr.errors import AutolrError, AutolrWarning
from autolr.trials import runtime

__all__ = ["AutolrCallback"]

_OWNER = "AutolrCallback"
_STACK_DEPTH = 25  # frames searched for the Trainer that fired on_train_begin


class AutolrCallback(TrainerCallback):
    """Applies autolr's schedule to a Hugging Face ``Trainer`` and reports ``metric`` to it.

    Args:
        metric: the key, in the metrics of the Trainer's evaluations, of the value the study
            optimises, e.g. ``"eval_loss"`` or ``"eval_accuracy"`` (the keys carry the
            ``eval_`` prefix; an evaluation set passed as a dict by name ``val`` gives
            ``"eval_val_loss"``). Whether lower or higher is better is the study's
            ``--direction``. The first evaluation round that lacks it raises a
            :class:`~autolr.ConfigError` listing the keys it had.

    Attributes:
        scheduler: autolr's scheduler while it replaces the Trainer's (under tuning, or with
            ``AUTOLR_SCHEDULE``); None when the Trainer keeps its own.
        reports: the ``(global step, value)`` pairs reported, in order, for the last training
            run.
    """

    def __init__(self, metric: str = "eval_loss") -> None:
        if not isinstance(metric, str) or not metric.strip():
            raise _validation.fail(
                "metric", _OWNER, "must be the name of an evaluation metric, such as 'eval_loss'",
                metric,
            )
        self.metric = metric
        self.scheduler: Any = None
        self.reports: list[tuple[int, float]] = []
        self._training = False
        self._found = False  # the metric appeared in some evaluation of this run
        self._round_keys: list[str] | None = None  # keys of the evaluation round under way

    # --- the schedule ----------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Replace the Trainer's scheduler with autolr's, when there is a schedule to follow."""
        self.reports = []
        self.scheduler = None
        self._training, self._found, self._round_keys = True, False, None
        if runtime.in_trial() and _strategy(getattr(args, "eval_strategy", None)) == "no":
            warnings.warn(
                "The Trainer's eval_strategy is 'no', so it never evaluates during training and "
                f"AutolrCallback has no {self.metric!r} to report to the study. Pass "
                "TrainingArguments(eval_strategy='epoch') (or 'steps', with eval_steps) and an "
                "eval_dataset.",
                AutolrWarning,
                stacklevel=2,
            )
        if not runtime.in_trial() and not os.environ.get(runtime.SCHEDULE_ENV):
            return  # a plain run without a schedule file: the Trainer's own scheduler stays
        held = kwargs.get("lr_scheduler")
        trainer = self._calling_trainer(held)
        scheduler = runtime.scheduler(kwargs["optimizer"], total_steps=state.max_steps)
        if state.global_step:  # resumed from a checkpoint: catch up with the steps already made
            with warnings.catch_warnings():  # "step() before optimizer.step()": intended here
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(state.global_step):
                    scheduler.step()
        trainer.lr_scheduler = scheduler
        trainer.callback_handler.lr_scheduler = scheduler
        self.scheduler = scheduler

    def _calling_trainer(self, held: Any) -> Any:
        """The Trainer that fired ``on_train_begin``: the caller on the stack whose
        ``callback_handler`` holds this callback and whose ``lr_scheduler`` is ``held``."""
        frame = inspect.currentframe()
        try:
            for _ in range(_STACK_DEPTH):
                if frame is None:
                    break
                owner = frame.f_locals.get("self")
                handler = getattr(owner, "callback_handler", None)
                callbacks = getattr(handler, "callbacks", ())
                if any(cb is self for cb in callbacks):
                    if getattr(owner, "lr_scheduler", None) is not held:
                        break
                    if getattr(owner, "is_deepspeed_enabled", False):
                        raise AutolrError(
                            "AutolrCallback cannot apply autolr's schedule to a DeepSpeed run: "
                            "the DeepSpeed engine steps its own scheduler. Train without "
                            "DeepSpeed (or with FSDP) to tune the schedule."
                        )
                    return owner
                frame = frame.f_back
        finally:
            del frame
        raise AutolrError(
            "AutolrCallback could not find the Trainer that started training, so it cannot make "
            "it follow autolr's schedule (this version of transformers fires on_train_begin "
            "differently, or the callback's on_train_begin was called by other code). Report it "
            "with your transformers version; meanwhile call autolr.scheduler(trainer.optimizer, "
            "total_steps=trainer.state.max_steps) from a Trainer subclass's create_scheduler."
        )

    # --- the metric ----------------------------------------------------------------------
    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Report ``metric`` from an evaluation made during training."""
        if not self._training:
            return  # trainer.evaluate() before or after train(): not part of the run
        metrics = metrics or {}
        if self._round_keys is None:
            self._round_keys = []
        self._round_keys.extend(k for k in metrics if k not in self._round_keys)
        if self.metric not in metrics:
            return
        self._found = True
        value = metrics[self.metric]
        step = int(state.global_step)
        if self.reports:
            step = max(step, self.reports[-1][0])
        try:
            runtime.report(value, step=step)  # may raise autolr.TrialPruned: let it propagate
        finally:
            self.reports.append((step, _as_float(value)))

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()
        self._training = False

    def _end_round(self) -> None:
        """After an evaluation round (one ``on_evaluate`` per evaluation set): the metric must
        have appeared in it, or earlier in the run."""
        keys, self._round_keys = self._round_keys, None
        if keys is None or self._found:
            return
        self._training = False
        close = _validation.closest(self.metric, keys)
        hint = f"Did you mean {close!r}? " if close else ""
        raise _validation.fail(
            "metric", _OWNER,
            "must name a metric that the Trainer's evaluation returns",
            self.metric,
            f"The evaluation returned {', '.join(repr(k) for k in keys) or 'no metrics'}. "
            f"{hint}Pass one of them, or return {self.metric!r} from compute_metrics "
            "(evaluation metrics carry the 'eval_' prefix).",
        )


def _as_float(value: Any) -> Any:
    """``value`` as a float when it is a number (a NumPy scalar, a one-element tensor)."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return value


def _strategy(value: Any) -> str:
    """An ``IntervalStrategy`` (or its string) as its plain value: "no", "steps", "epoch"."""
    return str(getattr(value, "value", value))
