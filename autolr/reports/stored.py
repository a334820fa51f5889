"""A stored study for ``autolr show``, ``export`` and ``report``: found cheaply, its trials read
once, and quickly.

Three costs dominated these commands on a 1,500-trial SQLite study (``benchmarks/scale.py``):
resolving the study's name (:func:`autolr.study.files.study_names` lists the studies with
Optuna's study summaries, which read and deep-copy every trial of every study), reading the
trials through Optuna's ORM (about 1.4 s for 1,500 trials: 90,000 ORM objects), and reading them
again for each part of the output. So:

- :func:`open_study` loads a study named by ``--study`` (or the only one there) without listing
  summaries; whenever the name is missing, ambiguous or wrong it defers to
  :func:`autolr.study.files.load_study`, whose messages list what exists;
- :func:`read_trials` reads every trial of a database study with one SQLAlchemy Core query per
  table of Optuna's schema (5x faster), into the same :class:`optuna.trial.FrozenTrial` objects
  Optuna builds (``tests/reliability/test_scale.py`` compares them); any other storage, or an
  Optuna whose tables differ, is read through ``study.get_trials``;
- :class:`StudyView` holds the trials read once, checked (:mod:`autolr.reports.untrusted`), for
  everything that asks a study for its trials.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autolr.errors import AutolrError, ConfigError
from autolr.reports.untrusted import clean_settings, clean_trials
from autolr.study.config import SETTINGS_ATTR


# --- finding the study -------------------------------------------------------------------------
def open_study(study_name: str | None, storage: str | None) -> optuna.Study:
    """The study ``show``, ``export`` and ``report`` read: ``study_name`` in ``storage`` (default
    ``sqlite:///studies/<study>.db``), or the only study there when no name is given."""
    from autolr.study.files import load_study, local_study_databases, safe_file_name
    from autolr.study.storage import default_storage_url, open_storage, sqlite_path

    name, url = study_name, storage
    if url is None:
        if name is None:
            local = local_study_databases()
            if len(local) != 1:
                return load_study(study_name, storage)  # none or several: its message
            name = local[0].stem
        url = default_storage_url(safe_file_name(name))
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return load_study(study_name, storage)  # no database there: its message
    opened = open_storage(url)
    if name is None:
        names = optuna.study.get_all_study_names(opened)
        if len(names) != 1:
            return load_study(study_name, storage)
        name = names[0]
    try:
        return optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        return load_study(study_name, storage)  # no such study: its message lists the others


# --- reading the trials ------------------------------------------------------------------------
def _database(study: optuna.Study) -> optuna.storages.RDBStorage | None:
    """The database storage behind ``study`` (through autolr's retries and Optuna's cache), or
    None for any other storage."""
    storage = getattr(study, "_storage", None)
    rdb = getattr(storage, "rdb", None)  # autolr's RetryingStorage
    if rdb is None:
        rdb = getattr(storage, "_backend", storage)  # Optuna's cache
    return rdb if isinstance(rdb, optuna.storages.RDBStorage) else None


def _local(moment: _dt.datetime | None) -> _dt.datetime | None:
    """Optuna's stored naive UTC as the naive local time its trials carry."""
    if moment is None:
        return None
    return moment.replace(tzinfo=_dt.timezone.utc).astimezone().replace(tzinfo=None)


def _json(text: str, trial_id: int, key: str, table: str) -> Any:
    """A stored attribute's value; a row that is not JSON (Optuna writes only JSON there) means
    a database changed outside Optuna, said with the row to fix."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        shown = repr(text) if len(str(text)) <= 80 else repr(str(text)[:77]) + "..."
        raise ConfigError(
            f"The attribute {key!r} of the trial with trial_id {trial_id} is not JSON ({exc}): "
            f"{shown}. Optuna stores every attribute as JSON, so the study's database was "
            "changed outside Optuna. Restore it from a backup, or make that row of the table "
            f"{table} valid JSON (or delete it)."
        ) from None


def _read_tables(rdb: optuna.storages.RDBStorage, study_id: int) -> list[FrozenTrial]:
    """Every trial of ``study_id``, by trial id, as Optuna's RDBStorage builds them
    (``_build_frozen_trial_from_trial_model``), from one query per table."""
    import sqlalchemy as sa
    from optuna.distributions import json_to_distribution
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    values = models.TrialValueModel.__table__
    params = models.TrialParamModel.__table__
    user = models.TrialUserAttributeModel.__table__
    system = models.TrialSystemAttributeModel.__table__
    reports = models.TrialIntermediateValueModel.__table__
    to_value = models.TrialValueModel.stored_repr_to_value
    to_report = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
    with rdb.engine.connect() as connection:
        rows = connection.execute(
            sa.select(trials.c.trial_id, trials.c.number, trials.c.state,
                      trials.c.datetime_start, trials.c.datetime_complete)
            .where(trials.c.study_id == study_id).order_by(trials.c.trial_id)
        ).all()
        if not rows:
            return []
        # the trials read above, not one created since
        ids = (sa.select(trials.c.trial_id)
               .where(trials.c.study_id == study_id, trials.c.trial_id <= rows[-1][0])
               .scalar_subquery())

        def select(table: Any, *columns: str, order: str | None = None) -> Any:
            query = sa.select(*(table.c[name] for name in columns)).where(
                table.c.trial_id.in_(ids))
            if order is not None:
                query = query.order_by(table.c[order])
            return connection.execute(query)

        objective: dict[int, dict[int, float]] = {}
        for trial_id, index, value, kind in select(values, "trial_id", "objective", "value",
                                                   "value_type"):
            objective.setdefault(trial_id, {})[index] = to_value(value, kind)
        distributions: dict[str, Any] = {}  # each distinct JSON parsed once
        found: dict[int, list[tuple[str, Any, float]]] = {}
        for trial_id, name, value, text in select(params, "trial_id", "param_name",
                                                  "param_value", "distribution_json",
                                                  order="param_id"):
            distribution = distributions.get(text)
            if distribution is None:
                distribution = distributions[text] = json_to_distribution(text)
            found.setdefault(trial_id, []).append((name, distribution, value))
        attrs: dict[int, dict[str, Any]] = {}
        for trial_id, key, text in select(user, "trial_id", "key", "value_json"):
            attrs.setdefault(trial_id, {})[key] = _json(text, trial_id, key, user.name)
        system_attrs: dict[int, dict[str, Any]] = {}
        for trial_id, key, text in select(system, "trial_id", "key", "value_json"):
            system_attrs.setdefault(trial_id, {})[key] = _json(text, trial_id, key, user.name)
        intermediate: dict[int, dict[int, float]] = {}
        for trial_id, step, value, kind in select(reports, "trial_id", "step",
                                                  "intermediate_value",
                                                  "intermediate_value_type"):
            intermediate.setdefault(trial_id, {})[step] = to_report(value, kind)
    result = []
    for trial_id, number, state, start, complete in rows:
        by_objective = objective.get(trial_id)
        mine = found.get(trial_id, ())
        result.append(FrozenTrial(
            number=number, state=state, value=None,
            values=[by_objective[i] for i in range(len(by_objective))] if by_objective else None,
            datetime_start=_local(start), datetime_complete=_local(complete),
            params={name: d.to_external_repr(v) for name, d, v in mine},
            distributions={name: d for name, d, _ in mine},
            user_attrs=attrs.get(trial_id, {}), system_attrs=system_attrs.get(trial_id, {}),
            intermediate_values=intermediate.get(trial_id, {}), trial_id=trial_id,
        ))
    return result


def read_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Every trial of ``study``, in Optuna's order, read once: straight from the tables of a
    database storage (retried like every other call while the connection is lost), else (or when
    the tables are not the ones this Optuna version is known to have) ``study.get_trials``."""
    rdb = _database(study)
    if rdb is not None:
        import sqlalchemy.exc

        storage = getattr(study, "_storage", None)
        try:
            def read() -> list[FrozenTrial]:
                return _read_tables(rdb, rdb.get_study_id_from_name(study.study_name))

            where, retry_s = getattr(storage, "where", None), getattr(storage, "retry_s", None)
            if where is not None and retry_s is not None:
                from autolr.study.storage_retry import with_retries

                return with_retries(read, where, retry_s)
            return read()
        except (ImportError, AttributeError, KeyError, TypeError,
                sqlalchemy.exc.NoSuchColumnError, sqlalchemy.exc.ProgrammingError,
                sqlalchemy.exc.OperationalError):
            pass  # another Optuna's schema (or a database it explains better): its own reader
    return study.get_trials(deepcopy=False)


# --- the study, read once ----------------------------------------------------------------------
class StudyView:
    """``study`` with its trials read once and checked (:func:`clean_trials`), and its autolr
    settings checked (:func:`clean_settings`): what the summaries, :class:`autolr.TuneResult`
    and the reports ask of a study, answered without reading the trials again. Anything else is
    the study's own."""

    def __init__(self, study: optuna.Study, trials: Sequence[FrozenTrial] | None = None) -> None:
        if len(study.directions) != 1:
            raise AutolrError(
                f"autolr reads single-objective studies; study {study.study_name!r} has "
                f"{len(study.directions)} objectives. Use Optuna's own tools "
                "(optuna.visualization) for it."
            )
        self.study = study
        raw = read_trials(study) if trials is None else list(trials)
        self._trials = clean_trials(raw)
        self._by_number = {t.number: t for t in self._trials}
        attrs = dict(study.user_attrs)
        if SETTINGS_ATTR in attrs:
            attrs[SETTINGS_ATTR] = clean_settings(attrs[SETTINGS_ATTR])
        self.user_attrs = attrs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("study", "_trials", "_by_number"):
            raise AttributeError(name)
        return getattr(self.study, name)

    def get_trials(self, deepcopy: bool = False,
                   states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        trials = self._trials if states is None else [t for t in self._trials
                                                      if t.state in states]
        return [copy.deepcopy(t) for t in trials] if deepcopy else list(trials)

    @property
    def trials(self) -> list[FrozenTrial]:
        return list(self._trials)

    @property
    def best_trial(self) -> FrozenTrial:
        """Optuna's best trial (one query), as checked here."""
        best = self.study.best_trial
        return self._by_number.get(best.number, best)


def view_of(study: Any) -> StudyView:
    """``study`` as a :class:`StudyView` (itself when it is one)."""
    return study if isinstance(study, StudyView) else StudyView(study)


__all__ = ["StudyView", "open_study", "read_trials", "view_of"]
