"""Where studies live: resolving ``--study`` / ``--storage`` and the artefact folder.

Defaults: the study is named after the script; its database is ``studies/<study>.db`` under the
working directory; its artefacts (best schedule, report, worker logs) go to ``studies/<study>/``.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from autolr.errors import ConfigError
from autolr.study.storage import default_storage_url, open_storage, sqlite_path

STUDIES_DIR = "studies"


def artefact_dir(study_name: str, root: Path | None = None) -> Path:
    return (root or Path.cwd()) / STUDIES_DIR / safe_file_name(study_name)


def safe_file_name(name: str) -> str:
    """A file-system-safe version of a study name (letters, digits, '-', '_', '.')."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "study"


def local_study_databases(root: Path | None = None) -> list[Path]:
    folder = (root or Path.cwd()) / STUDIES_DIR
    return sorted(folder.glob("*.db")) if folder.is_dir() else []


def resolve_study(study: str | None, storage: str | None) -> tuple[str, str]:
    """The (study name, storage URL) that ``show``/``export``/``report`` should read.

    Raises a ConfigError that lists what exists when the choice is missing or ambiguous.
    """
    if storage is not None:
        names = study_names(storage)
        if study is None:
            if len(names) == 1:
                return names[0], storage
            if not names:
                raise ConfigError(f"The storage {storage!r} holds no study yet.")
            raise ConfigError(
                f"The storage {storage!r} holds several studies: {', '.join(names)}. "
                "Choose one with --study NAME."
            )
        if study not in names:
            raise ConfigError(
                f"No study named {study!r} in {storage!r}. Studies there: "
                f"{', '.join(names) or 'none'}."
            )
        return study, storage
    local = local_study_databases()
    if study is None:
        if len(local) == 1:
            study = local[0].stem
        elif not local:
            raise ConfigError(
                f"No study found in ./{STUDIES_DIR}/. Run `autolr tune SCRIPT` first, or point "
                "to a study with --study NAME --storage URL."
            )
        else:
            raise ConfigError(
                f"Several studies in ./{STUDIES_DIR}/: {', '.join(p.stem for p in local)}. "
                "Choose one with --study NAME."
            )
    url = default_storage_url(safe_file_name(study))
    path = sqlite_path(url)
    if path is None or not path.exists():
        raise ConfigError(
            f"No study named {study!r}: {STUDIES_DIR}/{safe_file_name(study)}.db does not exist. "
            f"Studies here: {', '.join(p.stem for p in local) or 'none'}. Pass --storage URL if "
            "it lives elsewhere."
        )
    if study not in study_names(url):
        raise ConfigError(f"The database {url!r} holds no study named {study!r}.")
    return study, url


def study_names(storage_url: str) -> list[str]:
    path = sqlite_path(storage_url)
    if path is not None and not path.exists():
        raise ConfigError(f"No study database at {str(path)!r}. Check the --storage URL.")
    return optuna.get_all_study_names(open_storage(storage_url))


def load_study(study: str | None, storage: str | None) -> optuna.Study:
    name, url = resolve_study(study, storage)
    return optuna.load_study(study_name=name, storage=open_storage(url))
