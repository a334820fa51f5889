"""Write a :class:`~autolr.ScheduleSpec` as a standalone Python file or as JSON.

The Python file needs nothing but ``math`` and ``torch``: it holds the schedule's numbers as named
constants, the family's ``factor`` function and autolr's warmup copied verbatim from their source
(so the exported schedule cannot drift from the tuned one), a callable multiplier for ``LambdaLR``
and ``build_scheduler(optimizer, total_steps=None)``, which also takes another run length (every
phase, warmup included, scaled as :meth:`ScheduleSpec.with_total_steps` does) and a list of
optimizers. The plateau family exports torch's ``ReduceLROnPlateau``. ``export(...,
total_steps=N)`` writes the file for a run of N steps.

This module checks what goes in, picks the renderer and writes the files:
:mod:`autolr.exporting.python` renders the Python module of a closed-form family,
:mod:`autolr.exporting.plateau` that of the plateau family, both from the text they share in
:mod:`autolr.exporting.text`, and :mod:`autolr.exporting.source` copies functions into it. Only
validated values reach the generated code: exact ``int``/``float``/``bool`` values written
with ``repr``, short words from a family's validated choices and registered family names. Free
text (summaries, ``found_by`` facts) goes into the docstring and comments, escaped.

Files are written atomically, and never over a file autolr did not write unless asked.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autolr import _validation
from autolr._files import write_atomic
from autolr.errors import ConfigError, ExportError
from autolr.schedules.registry import get_family
from autolr.schedules.spec import FORMAT, ScheduleSpec

FORMATS = ("python", "json")
_OWNER = "export"

# The first line of every Python file autolr writes (PYTHON_MARKER, in autolr.exporting.text) marks
# it as replaceable. JSON has no comments: the format field, second line of every export, marks
# it instead.
JSON_MARKER = f'"format": "{FORMAT}"'
_MARKER_LINES = 5

_FAMILY_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FACT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_ \-]{0,63}")


# --- public API ------------------------------------------------------------------------------
def export(
    spec: ScheduleSpec,
    path: str | os.PathLike[str],
    format: str = "python",
    *,
    found_by: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    total_steps: int | None = None,
) -> Path:
    """Write ``spec`` to ``path`` as standalone Python (``format="python"``) or JSON.

    Args:
        spec: the schedule, e.g. ``result.best_spec``.
        path: the file to write; missing parent folders are created.
        format: ``"python"`` for a file that needs only torch and defines
            ``build_scheduler(optimizer, total_steps=None)``, or ``"json"`` for
            ``autolr.load_schedule`` / ``AUTOLR_SCHEDULE``.
        found_by: plain facts about where the schedule came from (study, trial, objective value,
            seed, date), shown in the Python docstring and stored under ``"found_by"`` in JSON.
        overwrite: replace ``path`` even if autolr did not write it. Files autolr wrote earlier
            are replaced without it.
        total_steps: write the schedule for a run of this many ``scheduler.step()`` calls
            instead of the length it was tuned at (``None``): ``spec.with_total_steps(N)``, every
            phase, warmup included, at its fraction of the run. The file's constants then say N;
            its docstring and the facts (``tuned_total_steps``, ``tuned_warmup_steps``) say the
            tuned length, from which the Python file scales any other length.

    Returns:
        The path written.

    Raises:
        ConfigError: a bad argument, or ``path`` holds a file autolr did not write.
        ExportError: the schedule cannot be written as standalone code (a user-defined family
            whose factor does not stand alone); the message says what to change.
    """
    _validation.one_of("format", _OWNER, format, FORMATS)
    _validation.boolean("overwrite", _OWNER, overwrite)
    target = _target(path)
    # Render first: a spec that cannot be exported leaves the disk untouched.
    if format == "python":
        text = render_python(spec, found_by, module_name=target.stem, total_steps=total_steps)
    else:
        text = render_json(spec, found_by, total_steps=total_steps)
    _check_target(target, overwrite)
    write_atomic(target, text, "the schedule")
    return target


def render_json(
    spec: ScheduleSpec,
    found_by: Mapping[str, Any] | None = None,
    *,
    total_steps: int | None = None,
) -> str:
    """The spec as JSON text, as :func:`export` writes it (``found_by`` under ``"found_by"``);
    ``total_steps`` as in :func:`export`."""
    tuned = _checked_spec(spec)
    spec, facts = _at_length(tuned, _checked_facts(found_by), total_steps)
    return spec.to_json(**facts) + "\n"


def render_python(
    spec: ScheduleSpec,
    found_by: Mapping[str, Any] | None = None,
    *,
    module_name: str | None = None,
    total_steps: int | None = None,
) -> str:
    """The standalone Python module :func:`export` writes for ``spec``.

    ``module_name`` is the name the usage example imports from (the file's stem);
    ``total_steps`` as in :func:`export`.
    """
    from autolr.exporting.text import is_plain_name

    tuned = _checked_spec(spec)
    spec, facts = _at_length(tuned, _checked_facts(found_by), total_steps)
    family = get_family(spec.family)
    module = module_name if is_plain_name(module_name) else "best_schedule"
    # Rescaled to another length, the module also holds the tuned one to scale other lengths from.
    rescaled_from = None if spec is tuned else tuned
    if family.metric_driven:
        from autolr.exporting.plateau import render_plateau

        return render_plateau(spec, family, facts, module, rescaled_from)
    from autolr.exporting.python import render_closed_form

    return render_closed_form(spec, family, facts, module, rescaled_from)


# --- checks on what goes into the code --------------------------------------------------------
def _at_length(
    spec: ScheduleSpec, facts: dict[str, Any], total_steps: Any
) -> tuple[ScheduleSpec, dict[str, Any]]:
    """``spec`` and ``facts`` for a run of ``total_steps`` steps (``spec`` itself for ``None``
    or its own length); the facts then record the tuned length."""
    if total_steps is None:
        return spec, facts
    total = _validation.number("total_steps", _OWNER, total_steps, low=1, integer=True)
    if total == spec.total_steps:
        return spec, facts
    facts = {**facts, "tuned_total_steps": spec.total_steps,
             "tuned_warmup_steps": spec.warmup_steps}
    return spec.with_total_steps(total), facts


def _checked_spec(spec: Any) -> ScheduleSpec:
    """Validate ``spec`` again from its fields: a spec changed after construction (its params
    dict is mutable) or built from a hostile file is rejected before anything is written."""
    if not isinstance(spec, ScheduleSpec):
        raise _validation.fail("spec", _OWNER, "must be an autolr.ScheduleSpec", spec,
                               "Build one with autolr.ScheduleSpec(...) or autolr.load_schedule.")
    if not isinstance(spec.family, str) or not _FAMILY_NAME.fullmatch(spec.family):
        raise _validation.fail("family", "ScheduleSpec", "must be a registered family name",
                               spec.family)
    params = spec.params
    if isinstance(params, Mapping):
        params = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in params.items()}
    fresh = ScheduleSpec(
        family=spec.family,
        params=params,
        lr=spec.lr,
        total_steps=spec.total_steps,
        warmup_steps=spec.warmup_steps,
        step_unit=spec.step_unit,
    )
    for name, kind in (("lr", float), ("total_steps", int), ("warmup_steps", int),
                       ("step_unit", str)):
        value = getattr(fresh, name)
        if type(value) is not kind:
            raise ExportError(
                f"The spec's {name} is a {type(value).__name__}, not a plain {kind.__name__}; "
                "only plain values are written into an exported schedule."
            )
    return fresh


_FACTS_FIX = (
    "Give plain facts (such as study='x', trial=3, value=0.12), dicts of them one level down, "
    "or leave the fact out."
)


def _checked_facts(found_by: Any, *, nested: bool = True) -> dict[str, Any]:
    """Plain facts only: short keys; str, int (at most 100 digits), finite float, bool or None
    values, and (one level down, such as ``confirmed = {mean, std, seeds}``) dicts of those."""
    if found_by is None:
        return {}
    if not isinstance(found_by, Mapping):
        raise _validation.fail("found_by", _OWNER, "must be a dict of plain facts", found_by,
                               _FACTS_FIX)
    facts: dict[str, Any] = {}
    for key, value in found_by.items():
        if nested and isinstance(value, Mapping) and isinstance(key, str) and _FACT_KEY.fullmatch(
            key
        ):
            facts[key] = _checked_facts(value, nested=False)
            continue
        if not isinstance(key, str) or not _FACT_KEY.fullmatch(key):
            raise _validation.fail(
                "found_by", _OWNER, "must have short names (letters, digits, '_', '-', spaces; "
                "at most 64) as keys", key, "Rename the fact, or leave it out.",
            )
        plain = value is None or isinstance(value, (str, bool))
        if isinstance(value, int) and not isinstance(value, bool):
            plain = abs(value) < 10**100  # longer ones Python will not even print
        if isinstance(value, float):
            plain = math.isfinite(value)
        if not plain:
            shown = value
            if isinstance(value, int):  # too long to print in full (or at all, past 4300)
                shown = f"<an int of {int(value.bit_length() * math.log10(2)) + 1} digits>"
            raise _validation.fail(
                "found_by", _OWNER, "must hold plain facts: str, int (at most 100 digits), "
                "finite float, bool or None", {key: shown}, _FACTS_FIX,
            )
        facts[key] = value
    return facts



# --- writing ----------------------------------------------------------------------------------
def _target(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise _validation.fail("path", _OWNER, "must be a file path", path)
    return Path(os.fspath(path)).expanduser()


def _written_by_autolr(path: Path) -> bool:
    # Imported here, as the renderers are: ``import autolr`` imports this module, and stays light.
    from autolr.exporting.text import PYTHON_MARKER

    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    lines = head.decode("utf-8", errors="replace").splitlines()[:_MARKER_LINES]
    return any(
        line.startswith(PYTHON_MARKER) or line.strip().startswith(JSON_MARKER) for line in lines
    )


def _check_target(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise ConfigError(
            f"The 'path' parameter of export must be a file, but {str(target)!r} is a folder. "
            f"Give a file path, such as {str(target / 'best_schedule.py')!r}."
        )
    if overwrite or not (target.exists() or target.is_symlink()):
        return
    if not _written_by_autolr(target):
        raise ConfigError(
            f"{str(target)!r} already exists and autolr did not write it, so export leaves it "
            "untouched. Pass overwrite=True (on the command line: --force) to replace it, or "
            "choose another path."
        )


__all__ = ["FORMATS", "export", "render_json", "render_python"]
