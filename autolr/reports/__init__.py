"""Study reports: one self-contained HTML page that shows why the winning schedule won.

``write_report`` is what ``autolr.write_report`` and ``autolr report`` call. The package is
``autolr.reports`` (plural) on purpose: a subpackage named ``autolr.report`` would replace the
``autolr.report(value, step)`` function as an attribute of ``autolr`` as soon as it was imported.

Importing this package is light; plotly loads only when a page is drawn. Data preparation
(:mod:`autolr.reports.data`, pure and tested by equality) is kept apart from drawing
(:mod:`autolr.reports.figures`) and the page (:mod:`autolr.reports.html`). The study is read
once (:mod:`autolr.reports.stored`, which ``autolr show`` and ``export`` use too) and every value
autolr reads from it is checked first (:mod:`autolr.reports.untrusted`): the database is not
trusted to hold what autolr wrote.

May import ``autolr.study``, ``autolr.search``, ``autolr.schedules`` and the base modules; never
the loop, the trials' runtime or the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autolr._files import write_atomic
from autolr.errors import ConfigError

REPORT_FILE = "report.html"
_OWNER = "write_report"


def write_report(
    study_name: str | None = None,
    storage: str | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    study: Any = None,
) -> Path:
    """Write a study's HTML report and return its path.

    Give either a loaded ``study`` (an ``optuna.Study``) or ``study_name`` with ``storage`` (a
    database URL; default ``sqlite:///studies/<study_name>.db`` under the working directory).
    ``output`` is the file to write (a folder gets ``report.html`` inside it); by default
    ``studies/<study>/report.html`` under the working directory. Folders are created and the
    file is replaced atomically. The page opens offline: plotly.js is embedded.
    """
    study = _study(study_name, storage, study)
    target = _target(output, study.study_name)
    from autolr.reports.data import get_report_data
    from autolr.reports.html import render_page

    page = render_page(get_report_data(study))
    write_atomic(target, page, "the report")
    return target


def default_output(study_name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/studies/<study>/report.html`` (root: the working directory), beside the study's
    other artefacts; the study name is made safe as a folder name, so it cannot point outside
    ``studies/``."""
    from autolr.study.files import artefact_dir

    return artefact_dir(study_name, Path(root) if root is not None else None) / REPORT_FILE


def _study(study_name: Any, storage: Any, study: Any) -> Any:
    import optuna

    if study is not None:
        if not isinstance(study, optuna.Study):
            raise ConfigError(
                f"The 'study' parameter of {_OWNER} must be an optuna.Study. "
                f"Got {type(study).__name__} instead."
            )
        if study_name is not None or storage is not None:
            raise ConfigError(
                f"{_OWNER} takes either a loaded study (study=...) or study_name and storage, "
                "not both. Drop study_name/storage, or drop study."
            )
        return study
    if not isinstance(study_name, str) or not study_name:
        raise ConfigError(
            f"The 'study_name' parameter of {_OWNER} must name a study. Got {study_name!r} "
            "instead; pass study_name='...' (and storage=...) or study=<optuna.Study>."
        )
    from autolr.study.storage import default_storage_url, open_storage, sqlite_path

    url = storage if storage is not None else default_storage_url(study_name)
    if not isinstance(url, str):
        raise ConfigError(
            f"The 'storage' parameter of {_OWNER} must be a database URL string. "
            f"Got {type(url).__name__} instead."
        )
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise ConfigError(
            f"No study database at {str(path)!r}, so there is no study {study_name!r} to report. "
            "Run `autolr tune` first, or give the database with --storage (storage=...)."
        )
    opened = open_storage(url)
    try:
        return optuna.load_study(study_name=study_name, storage=opened)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(opened))
        listed = ", ".join(repr(n) for n in names) if names else "none"
        raise ConfigError(
            f"The storage {url!r} holds no study named {study_name!r}. Studies there: "
            f"{listed}."
        ) from None


def _target(output: Any, study_name: str) -> Path:
    if output is None:
        return default_output(study_name)
    if not isinstance(output, (str, os.PathLike)) or not os.fspath(output):
        raise ConfigError(
            f"The 'output' parameter of {_OWNER} must be a file path. Got {output!r} instead."
        )
    target = Path(os.fspath(output)).expanduser()
    if target.is_dir():
        target = target / REPORT_FILE
    return target


__all__ = ["default_output", "write_report"]
