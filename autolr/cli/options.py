"""The ``autolr`` command's option values: each turns one command-line string into a value.

A wrong value is a usage error (``click.BadParameter``/``click.UsageError``, exit 2) that names
the option, says what it must look like and echoes what was given, so the message alone is
enough to fix the command. The rules that need the study (a ladder's order, a confirmation plan
inside the budget) are left to the tuner; here only the shape of the text is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from autolr.errors import ConfigError


def parse_lr(value: str | None) -> tuple[float, float] | None:
    """``--lr MIN:MAX`` as the two peak-LR bounds, with ``0 < MIN < MAX``, both finite."""
    if value is None:
        return None
    low, sep, high = value.partition(":")
    try:
        if not sep:
            raise ValueError
        bounds = (float(low), float(high))
    except ValueError:
        raise click.BadParameter(
            f"must be MIN:MAX, two peak LRs such as 1e-4:1e-1. Got {value!r}.", param_hint="--lr"
        ) from None
    if not (0 < bounds[0] < bounds[1]) or not all(map(_finite, bounds)):
        raise click.BadParameter(
            f"must be MIN:MAX with 0 < MIN < MAX. Got {value!r}; swap or fix the bounds.",
            param_hint="--lr",
        )
    return bounds


def _finite(x: float) -> bool:
    """Neither NaN nor an infinity (``float()`` accepts ``nan`` and ``inf`` as text)."""
    return x == x and x not in (float("inf"), float("-inf"))


def parse_families(value: str | None) -> list[str] | None:
    """``--families A,B`` as registered family names; an unknown one is named, with the
    closest known name as a hint."""
    if value is None:
        return None
    from autolr._validation import closest
    from autolr.schedules.registry import families

    names = [f.strip() for f in value.split(",") if f.strip()]
    if not names:
        raise click.BadParameter("must name at least one family.", param_hint="--families")
    known = families()
    for name in names:
        if name not in known:
            close = closest(name, known)
            hint = f" Did you mean {close!r}?" if close else ""
            raise click.BadParameter(
                f"unknown family {name!r}.{hint} Known families: {', '.join(known)} "
                "(`autolr families` describes them).",
                param_hint="--families",
            )
    return names


def parse_ladder(value: str | None) -> list[float] | None:
    """``1/9,1/3,1`` (fractions or decimals) as numbers; their rules are checked by the tuner."""
    if value is None:
        return None
    fidelities = []
    for item in (part.strip() for part in value.split(",")):
        try:
            top, sep, bottom = item.partition("/")
            fidelities.append(float(top) / float(bottom) if sep else float(item))
        except (ValueError, ZeroDivisionError):
            raise click.BadParameter(
                f"must be fractions of the run separated by commas, such as 1/9,1/3,1. Got "
                f"{value!r}; {item!r} is not a number or a fraction.", param_hint="--ladder",
            ) from None
    return fidelities


def parse_confirm(value: str | None) -> tuple[int, int] | None:
    """``K:M`` (or ``0``) as numbers; the tuner checks their rules."""
    if value is None:
        return None
    if value.strip() == "0":
        return (0, 0)
    top, sep, seeds = value.partition(":")
    try:
        if not sep:
            raise ValueError
        plan = (int(top), int(seeds))
    except ValueError:
        raise click.BadParameter(
            f"must be K:M, the top K configurations on M fresh seeds (such as 2:1), or 0 for "
            f"none. Got {value!r}.", param_hint="--confirm",
        ) from None
    if min(plan) < 0:
        raise click.BadParameter(
            f"K and M must be whole numbers >= 0. Got {value!r}.", param_hint="--confirm",
        )
    return plan


def parse_gpus(value: str | None) -> list[str] | None:
    """``--gpus 0,1`` as GPU ids (kept as text: they become ``CUDA_VISIBLE_DEVICES``)."""
    if value is None:
        return None
    ids = [g.strip() for g in value.split(",") if g.strip()]
    if not ids or not all(g.isdigit() for g in ids):
        raise click.BadParameter(
            f"must be GPU ids separated by commas, such as 0,1. Got {value!r}.", param_hint="--gpus"
        )
    return ids


def check_script(script: str) -> Path:
    """The training script's path, once it is a readable file that compiles: a missing file is
    a usage error, and a syntax error is shown (file, line, caret) before any worker starts,
    rather than as every trial failing."""
    path = Path(script)
    if not path.exists():
        raise click.UsageError(f"The script {script!r} does not exist. Check the path.")
    if not path.is_file():
        raise click.UsageError(f"{script!r} is a folder, not a training script.")
    try:
        source = path.read_bytes()
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}"
        line = (exc.text or "").rstrip("\n")
        caret = " " * max((exc.offset or 1) - 1, 0) + "^"
        raise ConfigError(
            f"The script has a syntax error, so no trial was started.\n  {where}\n    {line}\n"
            f"    {caret}\n{exc.msg}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the script {script!r}: {exc}") from None
    return path


def parse_capture(metric: str | None, regex: str | None,
                  total_steps: int | None) -> dict[str, Any] | None:
    """``--metric`` / ``--metric-regex`` / ``--total-steps`` as the study's capture settings
    (None: the script calls autolr itself)."""
    if metric is not None and regex is not None:
        raise click.UsageError(
            f"--metric {metric} and --metric-regex {regex!r} both say how to read the metric; "
            "give one (--metric-regex for a format --metric does not read)."
        )
    if metric is None and regex is None:
        if total_steps is not None:
            raise click.UsageError(
                f"--total-steps {total_steps} gives a run's length for --metric; a script that "
                "calls autolr.scheduler gives it there (total_steps=...). Add --metric NAME, or "
                "drop --total-steps."
            )
        return None
    return {"metric": metric, "regex": regex, "total_steps": total_steps}
