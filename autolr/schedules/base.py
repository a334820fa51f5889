"""What a schedule family is: a closed-form multiplier, its parameters and its search space.

A family is a pure function ``factor(step, total_steps, **params) -> float`` that returns the
multiplier of the peak LR in effect after ``step`` calls of ``scheduler.step()`` (``step`` counts
from 0; ``total_steps`` is the number of calls over the whole run). Positions and lengths among the
parameters are fractions of ``total_steps``, so a schedule tuned on a 10-epoch run transfers to a
100-epoch one. Training, previews, reports and export all evaluate that one function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from autolr import _validation

ParamKind = Literal["float", "int", "bool", "choice", "floats"]


@dataclass(frozen=True)
class Param:
    """One parameter of a family.

    ``low``/``high`` (with ``low_open``/``high_open``) bound the values a spec may hold. ``search``
    is what the study samples: ``(low, high, log)`` for numbers, the tuple of values tried for
    ``bool``/``choice``, or ``None`` where the family's own space function decides (or the
    parameter stays at its default). ``floats`` parameters are lists whose items obey the bounds.
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    search: tuple[Any, ...] | None = None
    unit: str = ""

    def validate(self, family: str, value: Any) -> Any:
        """Return ``value`` normalised to this parameter's type, or raise a clear error."""
        owner = f"the '{family}' family"
        if self.kind == "bool":
            return _validation.boolean(self.name, owner, value)
        if self.kind == "choice":
            return _validation.one_of(self.name, owner, value, self.choices)
        if self.kind == "floats":
            if isinstance(value, (str, bytes, Mapping, set, frozenset)) or not hasattr(
                value, "__iter__"
            ):
                raise _validation.fail(self.name, owner, "must be a list of numbers", value)
            items = list(value)
            if not items:
                raise _validation.fail(self.name, owner, "must hold at least one number", value)
            return [
                self._number(family, f"{self.name}[{i}]", item) for i, item in enumerate(items)
            ]
        return self._number(family, self.name, value)

    def _number(self, family: str, name: str, value: Any) -> float | int:
        return _validation.number(
            name,
            f"the '{family}' family",
            value,
            low=self.low,
            high=self.high,
            low_open=self.low_open,
            high_open=self.high_open,
            integer=self.kind == "int",
        )

    def describe(self) -> dict[str, Any]:
        """A plain record for ``autolr.family_info`` and ``autolr families``."""
        record: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "doc": self.doc,
        }
        if self.unit:
            record["unit"] = self.unit
        if self.kind == "choice":
            record["choices"] = list(self.choices)
        elif self.kind != "bool":
            left = "(" if self.low_open or self.low is None else "["
            right = ")" if self.high_open or self.high is None else "]"
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            record["allowed"] = f"{left}{low}, {high}{right}"
        if self.search is not None and self.kind in ("bool", "choice"):
            record["search"] = {"choices": list(self.search)}
        elif self.search is not None:
            low, high, log = self.search
            record["search"] = {"low": low, "high": high, "log": log}
        return record


SpaceFn = Callable[[Any], dict[str, Any]]
FactorFn = Callable[..., float]


@dataclass(frozen=True)
class Family:
    """A registered schedule family: a frozen record, looked up by name in the registry."""

    name: str
    factor: FactorFn
    params: tuple[Param, ...]
    space: SpaceFn
    summary: str
    formula: str
    torch_equivalent: str | None = None
    check: Callable[[dict[str, Any]], None] | None = None
    builtin: bool = True
    metric_driven: bool = False
    helpers: tuple[Callable[..., Any], ...] = field(default=())
    space_note: str = ""  # the search space in words, where a custom space function samples it

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def defaults(self) -> dict[str, Any]:
        return {p.name: _copy(p.default) for p in self.params}

    def normalise(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Fill defaults, reject unknown names, validate each value and the family's own rules."""
        params = dict(params or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known), key=repr)
        if unknown:
            raise _validation.fail(
                "params", f"the '{self.name}' family", "must name only the family's parameters",
                unknown[0] if len(unknown) == 1 else unknown, self._unknown_fix(unknown),
            )
        result = self.defaults()
        for name, value in params.items():
            result[name] = known[name].validate(self.name, value)
        if self.check is not None:
            self.check(result)
        return result

    def _unknown_fix(self, unknown: list[Any]) -> str:
        """What to write instead of the unknown parameter names."""
        allowed = ", ".join(repr(n) for n in self.param_names) or "none"
        takes = f"The '{self.name}' family takes: {allowed}."
        prefix = f"{self.name}."
        hints = []
        for name in unknown:
            if not isinstance(name, str):
                continue
            if name.startswith(prefix) and name[len(prefix):] in self.param_names:
                hints.append(
                    f"Write {name[len(prefix):]!r} instead of {name!r}: parameters go without "
                    "the family prefix."
                )
            else:
                close = _validation.closest(name, list(self.param_names))
                if close:
                    hints.append(f"Did you mean {close!r} instead of {name!r}?")
        return " ".join([*hints, takes])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "formula": self.formula,
            "torch_equivalent": self.torch_equivalent,
            "metric_driven": self.metric_driven,
            "builtin": self.builtin,
            "params": [p.describe() for p in self.params],
            "shortened": self.shortened_note(),
            **({"search": self.space_note} if self.space_note else {}),
        }

    def shortened_note(self) -> str:
        """How a run shortened to a fraction f of its steps (the fidelity ladder) follows this
        family, in words."""
        counted = [p.name for p in self.params if p.unit == "reports"]
        if counted:
            names = " and ".join(counted)
            entry = ("; on the fidelity ladder its configurations start at the lowest rung "
                     "whose runs make at least 3 reports (full length when none does): with "
                     "fewer it could never cut and would run as a constant LR"
                     if self.metric_driven else "")
            return (f"in a run shortened to a fraction f of its steps, {names} (counted in "
                    "reports, which such a run makes f times as many of) are scaled to "
                    f"round(f x value); the rest of the schedule is compressed with the "
                    f"run{entry}")
        return "in a run shortened to a fraction f of its steps, the whole schedule is " \
            "compressed into them (its positions are fractions of the run)"


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


class PrefixedTrial:
    """Wraps an Optuna trial so a family's space names its parameters ``<family>.<param>``.

    A family's space function calls ``trial.suggest_float("gamma", ...)``; the study stores
    ``"step.gamma"``. Parameter names that carry their family never collide across families, which
    keeps TPE's grouped, conditional search space clean.
    """

    def __init__(self, trial: Any, family: str) -> None:
        self._trial = trial
        self._prefix = f"{family}."

    def _name(self, name: str) -> str:
        return name if name.startswith(self._prefix) else self._prefix + name

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> float:
        return self._trial.suggest_float(self._name(name), low, high, **kwargs)

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> int:
        return self._trial.suggest_int(self._name(name), low, high, **kwargs)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._trial.suggest_categorical(self._name(name), choices)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def space_from_params(params: tuple[Param, ...]) -> SpaceFn:
    """The default search space: every parameter with a ``search`` range, sampled as declared."""

    def space(trial: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for p in params:
            if p.search is None:
                continue
            if p.kind in ("bool", "choice"):
                values[p.name] = trial.suggest_categorical(p.name, list(p.search))
            else:
                low, high, log = p.search
                if p.kind == "int":
                    values[p.name] = trial.suggest_int(p.name, int(low), int(high), log=log)
                else:
                    values[p.name] = trial.suggest_float(p.name, low, high, log=log)
        return values

    return space
