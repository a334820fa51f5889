"""Samplers by name, adapted to what LR studies need from Optuna's.

Two adaptations, both in :class:`RangeAwareSampler`, which delegates everything else:

- Optuna's TPE takes each parameter's range from the first trials that used it, so a range
  widened later would never be sampled beyond its old bounds; the sampler is handed the current
  range of the parameters autolr widens.
- Optuna's samplers ignore failed trials, so a script that crashes at high LRs would be sent
  there again and again. The sampler sees trials that failed in the training code (not those
  interrupted or abandoned) as constant-liar "running" trials: they count as bad outcomes.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

SAMPLERS = ("tpe", "random")


# Failures that say something about the sampled schedule (not about the machine or the user).
INFORMATIVE_FAILURES = ("failed", "out of memory", "worker died", "timeout")


class _FailuresAsBad:
    """A view of a study in which informative failed trials look RUNNING to the sampler."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self, deepcopy: bool = True, states: Any = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        if states is None or TrialState.RUNNING not in states:
            return trials
        # Finished trials never change, so the cached copy is always right (and cheap).
        failed = self._study._get_trials(deepcopy=False, states=(TrialState.FAIL,), use_cache=True)
        for trial in failed:
            if trial.user_attrs.get("reason") in INFORMATIVE_FAILURES and trial.params:
                shown = copy.copy(trial)
                shown.state = TrialState.RUNNING
                trials = [*trials, shown]
        return trials


class RangeAwareSampler(BaseSampler):
    """Delegates to ``inner``; ``current`` overrides the distributions of named parameters."""

    def __init__(self, inner: BaseSampler) -> None:
        self.inner = inner
        self.current: dict[str, BaseDistribution] = {}

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
        view: Any = _FailuresAsBad(study)
        return self.inner.sample_relative(view, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view: Any = _FailuresAsBad(study)
        return self.inner.sample_independent(view, trial, param_name, param_distribution)

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
