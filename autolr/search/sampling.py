"""Samplers by name, adapted to what LR studies need from Optuna's.

Three adaptations, all in :class:`RangeAwareSampler`, which delegates everything else:

- Optuna's TPE takes each parameter's range from the first trials that used it, so a range
  widened later would never be sampled beyond its old bounds; the sampler is handed the current
  range of the parameters autolr widens.
- Optuna's samplers ignore failed trials, so a script that crashes at high LRs would be sent
  there again and again. The sampler sees trials that failed in the training code (not those
  interrupted or abandoned) as constant-liar "running" trials: they count as bad outcomes.
- A fidelity ladder's runs are not on one scale: ``trial_view`` (set by the study) chooses the
  trials the sampler learns from (one rung's results, see
  :func:`autolr.search.ladder.learning_trials`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

SAMPLERS = ("tpe", "random")


# Failures that say something about the sampled schedule (not about the machine or the user).
INFORMATIVE_FAILURES = ("failed", "out of memory", "worker died", "timeout")


class _FailuresAsBad:
    """A view of a study, for one sampling call, in which informative failed trials look
    RUNNING to the sampler.

    The trials are read from the storage once per view: a sampler asks for them once per
    parameter group, and nothing changes while it samples. ``trial_view``, when given, then
    chooses (and may re-present) the trials the sampler sees.
    """

    def __init__(self, study: optuna.Study, trial_view: TrialView | None = None) -> None:
        self._study = study
        self._trial_view = trial_view
        self._trials: list[FrozenTrial] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _all_trials(self) -> list[FrozenTrial]:
        if self._trials is None:
            trials = []
            for trial in self._study._get_trials(deepcopy=False, states=None, use_cache=False):
                if (
                    trial.state == TrialState.FAIL
                    and trial.user_attrs.get("reason") in INFORMATIVE_FAILURES
                    and trial.params
                ):
                    trial = copy.copy(trial)
                    trial.state = TrialState.RUNNING
                trials.append(trial)
            self._trials = self._trial_view(trials) if self._trial_view else trials
        return self._trials

    def _get_trials(
        self, deepcopy: bool = True, states: Any = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        trials = [t for t in self._all_trials() if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials


TrialView = Callable[[list[FrozenTrial]], list[FrozenTrial]]


class RangeAwareSampler(BaseSampler):
    """Delegates to ``inner``; ``current`` overrides the distributions of named parameters;
    ``trial_view`` chooses the trials it learns from."""

    def __init__(self, inner: BaseSampler) -> None:
        self.inner = inner
        self.current: dict[str, BaseDistribution] = {}
        self.trial_view: TrialView | None = None
        self._last_view: tuple[int, _FailuresAsBad] | None = None

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        space = self.inner.infer_relative_search_space(study, trial)
        # Grouped TPE samples from its own per-group copies of the ranges: update those too.
        group = getattr(self.inner, "_search_space_group", None)
        for sub_space in getattr(group, "search_spaces", ()):
            for name, distribution in self.current.items():
                if name in sub_space:
                    sub_space[name] = distribution
        return {name: self.current.get(name, dist) for name, dist in space.items()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.inner.sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view = self._view(study, trial)
        return self.inner.sample_independent(view, trial, param_name, param_distribution)

    def _view(self, study: optuna.Study, trial: FrozenTrial) -> Any:
        """One view of the study per trial being sampled: its parameters are sampled from the
        same history, read once."""
        if self._last_view is None or self._last_view[0] != trial._trial_id:
            self._last_view = (trial._trial_id, _FailuresAsBad(study, self.trial_view))
        return self._last_view[1]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Any,
    ) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def make_sampler(name: str, seed: int, n_trials: int) -> RangeAwareSampler:
    """``tpe``: multivariate, grouped, constant-liar TPE, set explicitly (Optuna 5 changed the
    defaults); ``random``: uniform random search. Both seeded."""
    if name == "random":
        return RangeAwareSampler(optuna.samplers.RandomSampler(seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        inner = optuna.samplers.TPESampler(
            multivariate=True,
            group=True,
            constant_liar=True,
            seed=seed,
            n_startup_trials=max(4, min(10, n_trials // 3)),
        )
    return RangeAwareSampler(inner)
