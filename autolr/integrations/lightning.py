"""Lightning: :class:`AutolrCallback` gives a ``Trainer`` the trial's LR schedule.

A Lightning script owns no training loop to put ``autolr.scheduler`` and ``autolr.report`` in,
so this callback makes both calls for it::

    import lightning as L
    from autolr.integrations.lightning import AutolrCallback

    trainer = L.Trainer(max_epochs=10, callbacks=[AutolrCallback(monitor="val_loss")])
    trainer.fit(model)

- Under ``autolr tune`` it replaces the LR scheduler the module configured (in
  ``configure_optimizers``) with the trial's schedule over ``trainer.estimated_stepping_batches``
  optimizer steps, stepped after every optimizer step, and reports
  ``trainer.callback_metrics[monitor]`` after each validation (never during the sanity check).
- Run plainly it leaves the module's own scheduler in place, or, when ``AUTOLR_SCHEDULE`` names
  a schedule file (``studies/<study>/best_schedule.json``), applies that schedule the same way.

It works with the ``lightning`` package (``import lightning as L``, ``lightning.pytorch``) and
with ``pytorch_lightning``, 2.x: the callback is an instance of the ``Callback`` of the package
the script imported, and the scheduler's configuration (``LRSchedulerConfig``) comes from the
package the ``Trainer`` belongs to. ``import autolr`` never imports Lightning; this module only
looks for it (a missing one gets the pip command), and the callback uses the package the script
has already imported.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import math
import os
import sys
from typing import Any

from autolr import _validation
from autolr.errors import ConfigError, ConfigTypeError
from autolr.trials import runtime

# The import name of each Lightning package, and the distribution that installs it.
PACKAGES = {"lightning.pytorch": "lightning", "pytorch_lightning": "pytorch-lightning"}
INSTALL = "pip install 'autolr[lightning]'"
_OWNER = "AutolrCallback"

_log = logging.getLogger(__name__)


class LightningMissing(ConfigError, ImportError):
    """No Lightning 2.x is installed: an :class:`~autolr.ConfigError` (autolr's CLI prints it as
    a message) that is also an ``ImportError``, as ``except ImportError`` around an optional
    import expects."""


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _missing(found: list[str], cause: BaseException | None = None) -> LightningMissing:
    have = f" (found {', '.join(found)})" if found else ""
    why = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return LightningMissing(
        "autolr.integrations.lightning needs Lightning 2.x, the 'lightning' or the "
        f"'pytorch_lightning' package, and neither is installed{have}{why}. Install it: "
        f"{INSTALL}"
    )


def _installed() -> list[str]:
    """The import names of the installed Lightning 2.x packages, found without importing them
    (Lightning takes seconds to import, and importing a second package redirects the first's
    log messages, so only the package a script uses is ever imported)."""
    found: list[str] = []
    too_old: list[str] = []
    for name, distribution in PACKAGES.items():
        try:
            if importlib.util.find_spec(name.split(".")[0]) is None:
                continue
        except (ImportError, ValueError):
            continue
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = None  # importable without metadata (a source checkout): let it try
        if version is not None and _major(version) < 2:
            too_old.append(f"{distribution} {version}")
            continue
        found.append(name)
    if not found:
        raise _missing(too_old)
    return found


_INSTALLED = _installed()
_CLASSES: dict[tuple[type, tuple[str, ...]], type] = {}


def _packages_in_use() -> tuple[str, ...]:
    """The Lightning packages the script has imported (its ``Trainer`` comes from one of them);
    the first installed one when it has imported neither yet."""
    loaded = tuple(name for name in _INSTALLED if name in sys.modules)
    return loaded or (_INSTALLED[0],)


def _concrete(cls: type, packages: tuple[str, ...]) -> type:
    """``cls`` made a subclass of each package's ``Callback`` too (made once, then cached)."""
    key = (cls, packages)
    made = _CLASSES.get(key)
    if made is None:
        try:
            bases = tuple(importlib.import_module(name).Callback for name in packages)
        except ImportError as exc:
            raise _missing([], exc) from exc
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                     "_origin": cls}
        made = type(cls.__name__, (cls, *bases), namespace)
        _CLASSES[key] = made
    return made


def _rebuild(cls: type, packages: tuple[str, ...], state: dict[str, Any]) -> Any:
    """Unpickle an :class:`AutolrCallback` (a spawned process, a deep copy of the Trainer)."""
    callback = object.__new__(_concrete(cls, packages))
    callback.__dict__.update(state)
    return callback


def _package_of(trainer: Any) -> str:
    """The Lightning package the ``trainer`` comes from (a subclass of its ``Trainer`` too)."""
    for klass in type(trainer).__mro__:
        where = klass.__module__
        for name in _INSTALLED:
            if where == name or where.startswith(name + "."):
                return name
    raise ConfigTypeError(
        f"{_OWNER} runs inside a Lightning Trainer (lightning.pytorch or pytorch_lightning 2.x, "
        f"as installed: {', '.join(_INSTALLED)}). Got a {type(trainer).__module__}."
        f"{type(trainer).__qualname__} instead; pass the callback to L.Trainer(callbacks=[...])."
    )


class AutolrCallback:
    """Run a ``Trainer`` on the trial's LR schedule and report ``monitor`` to the study.

    Args:
        monitor: the metric the study optimises, as the module logs it during validation
            (``self.log("val_loss", loss)`` in ``validation_step``); its value in
            ``trainer.callback_metrics`` after each validation is reported. A name that is
            missing there stops training at the first validation end, with the names that are.

    What it does, and when:

    - ``on_fit_start`` (the optimizers and the module's schedulers exist by then): under a
      trial, or with ``AUTOLR_SCHEDULE`` set, the scheduler configured for the optimizer is
      replaced by ``autolr.scheduler(optimizer, total_steps=trainer.estimated_stepping_batches)``
      with ``interval="step"``, so Lightning steps it after every optimizer step (not during
      gradient accumulation), and the optimizer's LR is set to the schedule's peak. A module
      without a scheduler gets one. Run plainly without ``AUTOLR_SCHEDULE``, nothing is changed.
    - ``on_validation_end``: while fitting and not sanity checking, ``autolr.report(value,
      step=n)`` with ``n`` the count of validations so far (0, 1, ...: never decreasing, also
      with several validations per epoch). Under tuning this may end the trial
      (:class:`autolr.TrialPruned`), which Lightning lets through after its teardown.

    A module that configures several optimizers (manual optimization, a GAN) has all of them
    follow the one schedule, as ``autolr.scheduler([opt_g, opt_d], ...)`` does: each param
    group at its LR ratio to the first optimizer's first group. With manual optimization
    Lightning steps no scheduler: the module steps ``self.lr_schedulers()`` itself, and gets
    autolr's scheduler for each optimizer where it got its own; optimizers it configured no
    scheduler for are stepped along with the first scheduler it steps.

    ``total_steps`` is the length of the schedule applied in the current fit (None while the
    module's own scheduler runs). The instance is also an instance of the ``Callback`` of the
    Lightning package the script has imported (``lightning`` or ``pytorch_lightning``; both, if
    it has imported both), chosen when it is created: nothing else is imported.
    """

    _origin: type  # the class the concrete one was made from (see _concrete)
    _packages: tuple[str, ...] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        packages = _packages_in_use()
        callback = object.__new__(_concrete(vars(cls).get("_origin", cls), packages))
        callback._packages = packages
        return callback

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self)._origin, self._packages, dict(self.__dict__)))

    def __init__(self, monitor: str) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise ConfigTypeError(
                f"The 'monitor' parameter of {_OWNER} must be a metric name, a string such as "
                f"'val_loss'. Got {monitor!r} instead."
            )
        if not monitor:
            raise _validation.fail("monitor", _OWNER, "must be a metric name such as 'val_loss'",
                                   monitor)
        self.monitor = monitor
        self.validations = 0  # reports made in the current fit
        self.total_steps: int | None = None  # the schedule's steps, when one was applied

    def __repr__(self) -> str:
        return f"{_OWNER}(monitor={self.monitor!r})"

    # --- the schedule ------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Put autolr's scheduler in the place of the module's: the optimizers and schedulers
        exist from here on, and Lightning has not stepped or restored any of them yet."""
        self.validations = 0
        self.total_steps = None
        if not runtime.in_trial() and not os.environ.get(runtime.SCHEDULE_ENV):
            return  # a plain run: the module's own scheduler, untouched
        self._apply_schedule(trainer)

    def _apply_schedule(self, trainer: Any) -> None:
        """Replace the optimizers' scheduler configurations with ones stepping autolr's
        schedulers every optimizer step (as Lightning's own LR finder swaps in its scheduler).

        Several optimizers (manual optimization) follow one schedule, each param group at its
        LR ratio to the first optimizer's first group: each optimizer's configured scheduler is
        replaced by its autolr scheduler, where the module steps it; optimizers without one are
        stepped along with the first that has one (or the first optimizer)."""
        name = _package_of(trainer)
        optimizers = list(trainer.optimizers)
        if not optimizers:
            raise ConfigError(
                f"{_OWNER} must have an optimizer to schedule, but the module's "
                "configure_optimizers returned none. Return the optimizer (and, optionally, its "
                "scheduler) from configure_optimizers."
            )
        total_steps = _total_steps(trainer)
        configs = list(trainer.strategy.lr_scheduler_configs)
        owned = [[j for j, c in enumerate(configs) if getattr(c.scheduler, "optimizer", None)
                  is optimizer] for optimizer in optimizers]
        with_own = [i for i, mine in enumerate(owned) if mine]
        lead = with_own[0] if with_own else 0
        units = {i: [i] for i in with_own} or {0: [0]}
        units[lead] += [i for i in range(len(optimizers)) if i not in units]
        if len(optimizers) == 1:
            parts = [runtime.scheduler(optimizers[0], total_steps=total_steps)]
        else:
            parts = runtime.scheduler(optimizers, total_steps=total_steps).parts(
                list(units.values()))
        config_type = importlib.import_module(f"{name}.utilities.types").LRSchedulerConfig
        replaced = sorted({type(configs[j].scheduler).__name__ for mine in owned for j in mine})
        gone: set[int] = set()
        for i, part in zip(units, parts, strict=True):
            mine = owned[i]
            config = config_type(
                part,
                name=configs[mine[0]].name if mine else None,  # LearningRateMonitor's key stays
                interval="step",
                frequency=1,
            )
            if mine:  # in the place of the module's own, so self.lr_schedulers() keeps its order
                configs[mine[0]] = config
                gone.update(mine[1:])
            else:
                configs.append(config)
        trainer.strategy.lr_scheduler_configs = [c for j, c in enumerate(configs)
                                                 if j not in gone]
        self.total_steps = total_steps
        _log.info(
            "autolr: %d optimizer(s) over %d optimizer steps, in place of %s",
            len(optimizers), total_steps, ", ".join(replaced) or "no scheduler",
        )

    # --- the reports -------------------------------------------------------------------------
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Report the monitored metric once the validation's metrics are reduced (where
        ``EarlyStopping`` reads them too); the sanity check's values, from an untrained model
        and a few batches, are no result."""
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            raise self._missing_monitor(trainer, metrics)
        step = self.validations
        self.validations += 1
        runtime.report(metrics[self.monitor], step=step)

    def _missing_monitor(self, trainer: Any, metrics: Any) -> ConfigError:
        names = sorted(str(key) for key in metrics)
        where = f"after validation {self.validations + 1} (epoch {trainer.current_epoch})"
        if names:
            listing = ", ".join(repr(n) for n in names)
            close = _validation.closest(self.monitor, names)
            guess = f" Did you mean {close!r}?" if close else ""
            fix = (
                f"The metrics logged {where} are: {listing}.{guess} Pass one of them as "
                f"monitor=, or log {self.monitor!r} with self.log({self.monitor!r}, value) in "
                "validation_step."
            )
        else:
            fix = (
                f"No metric at all was logged {where}: log it with self.log({self.monitor!r}, "
                "value) in validation_step."
            )
        return _validation.fail(
            "monitor", _OWNER,
            "must name a metric the module logs during validation (a key of "
            "trainer.callback_metrics)",
            self.monitor, fix,
        )


def _total_steps(trainer: Any) -> int:
    """The optimizer steps of the whole fit, as Lightning estimates them (epochs, batches,
    ``limit_train_batches``, ``max_steps`` and gradient accumulation all counted)."""
    estimated = trainer.estimated_stepping_batches
    if not math.isfinite(estimated):
        raise ConfigError(
            f"{_OWNER} must know how many optimizer steps the fit takes, but "
            f"trainer.estimated_stepping_batches is {estimated} (max_epochs=-1 without max_steps, "
            "or an iterable dataset of unknown length). Give the Trainer max_epochs or max_steps."
        )
    steps = int(estimated)
    if steps < 1:
        raise ConfigError(
            f"{_OWNER} must schedule at least one optimizer step, but "
            f"trainer.estimated_stepping_batches is {estimated}. Give the Trainer a training "
            "dataloader with batches, and max_epochs or max_steps of 1 or more."
        )
    return steps


__all__ = ["INSTALL", "PACKAGES", "AutolrCallback", "LightningMissing"]
