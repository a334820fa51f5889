"""The registry of schedule families: built-ins and the ones users register."""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Callable
from typing import Any

from autolr import _validation
from autolr.errors import ConfigError
from autolr.schedules.base import FactorFn, Family, Param, SpaceFn

_FAMILIES: dict[str, Family] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def add(family: Family) -> Family:
    """Register a family record (the built-in ones, when first needed)."""
    if family.name in _FAMILIES:
        raise ConfigError(
            f"A schedule family named {family.name!r} is already registered. "
            "Pick another name for yours; autolr.families() lists the names in use."
        )
    _FAMILIES[family.name] = family
    return family


def families(*, builtin: bool | None = None) -> list[str]:
    """The registered family names, built-ins first in catalogue order.

    ``builtin=True`` lists only autolr's own families, ``False`` only user-defined ones.
    """
    _load_builtins()
    return [n for n, f in _FAMILIES.items() if builtin is None or f.builtin == builtin]


def get_family(name: Any, owner: str = "ScheduleSpec", param: str = "family") -> Family:
    """The family registered as ``name``; an unknown name gets an error listing the known ones."""
    _load_builtins()
    if not isinstance(name, str) or name not in _FAMILIES:
        _validation.one_of(param, owner, name, list(_FAMILIES))
    return _FAMILIES[name]


def family_info(name: str) -> dict[str, Any]:
    """Describe a family: summary, formula, torch equivalent, each parameter's default and range."""
    return get_family(name, owner="family_info", param="name").describe()


def register_family(
    name: str,
    factor: FactorFn,
    space: SpaceFn,
    *,
    summary: str | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Make a user's schedule formula searchable, reportable and exportable like the built-ins.

    ``factor(step, total_steps, **params) -> float`` returns the multiplier of the peak LR after
    ``step`` calls of ``scheduler.step()`` (``0 <= step < total_steps``). Every parameter after
    ``step`` and ``total_steps`` must have a default: it is the value used when a spec omits it,
    and its type (float, int, bool or str) is the type a spec must give. ``space(trial)`` samples
    the parameters with ``trial.suggest_*`` and returns them as a dict; autolr stores each name
    with the family prefix (``"<name>.<param>"``).

    Write ``factor`` as a plain ``def`` that uses only its arguments, ``math`` and builtins: it is
    copied verbatim into exported schedules.
    """
    _load_builtins()
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        raise _validation.fail(
            "name", "register_family",
            "must be lower-case letters, digits and underscores, starting with a letter", name,
        )
    if name in _FAMILIES:
        raise ConfigError(
            f"The 'name' parameter of register_family must not name a registered family. "
            f"Got {name!r}, which is already registered. Pick another name."
        )
    if not callable(factor):
        raise _validation.fail("factor", "register_family", "must be callable", factor)
    if not callable(space):
        raise _validation.fail("space", "register_family", "must be callable", space)
    params = _params_from_signature(name, factor)
    add(
        Family(
            name=name,
            factor=factor,
            params=params,
            space=space,
            summary=summary or (inspect.getdoc(factor) or f"user-defined family {name!r}"),
            formula=f"{getattr(factor, '__name__', 'factor')}(step, total_steps, ...)",
            check=check,
            builtin=False,
        )
    )


def unregister_family(name: str) -> None:
    """Remove a user-defined family (built-ins cannot be removed)."""
    family = get_family(name, owner="unregister_family", param="name")
    if family.builtin:
        raise ConfigError(f"The built-in family {name!r} cannot be unregistered.")
    del _FAMILIES[name]


_KINDS = {float: "float", int: "int", bool: "bool", str: "choice"}


def _params_from_signature(name: str, factor: FactorFn) -> tuple[Param, ...]:
    try:
        signature = inspect.signature(factor)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"The factor of family {name!r} has no readable signature: {exc}"
        ) from exc
    names = list(signature.parameters)
    if len(names) < 2:
        raise ConfigError(
            f"The factor of family {name!r} must take (step, total_steps, **params). "
            f"Got parameters {names} instead."
        )
    params: list[Param] = []
    for p in list(signature.parameters.values())[2:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ConfigError(
                f"The factor of family {name!r} must name each parameter; got *{p.name}. "
                "Write each parameter with a default instead."
            )
        if p.default is p.empty:
            raise ConfigError(
                f"Parameter {p.name!r} of the factor of family {name!r} has no default. "
                "Give every parameter after (step, total_steps) a default value."
            )
        kind = _KINDS.get(type(p.default))
        if kind is None:
            raise ConfigError(
                f"Parameter {p.name!r} of family {name!r} has default {p.default!r}; defaults must "
                "be a float, int, bool or str."
            )
        params.append(
            Param(
                p.name,
                kind,  # type: ignore[arg-type]
                p.default,
                "user-defined",
                choices=(p.default,) if kind == "choice" else (),
            )
        )
    if any(p.kind == "choice" for p in params):
        # A str parameter accepts any identifier-like string; validate loosely.
        params = [_loose_choice(p) if p.kind == "choice" else p for p in params]
    return tuple(params)


class _AnyWord(tuple):
    """A choices set that accepts any short word (for user families with str parameters)."""

    rule = "must be a word of 1 to 64 letters, digits, '_' or '-'"

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", value) is not None


def _loose_choice(p: Param) -> Param:
    return Param(p.name, "choice", p.default, p.doc, choices=_AnyWord((p.default,)))


_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from autolr.schedules.builtin import FAMILIES

        for family in FAMILIES:
            add(family)
