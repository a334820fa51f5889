"""The standalone Python module that :func:`autolr.export.render_python` writes (internal to
:mod:`autolr.export`).

The module needs nothing but ``math`` and ``torch``. It holds the schedule's numbers as named
constants, the family's ``factor`` and autolr's warmup copied verbatim from their source
(:mod:`autolr.export_source`), a callable multiplier for ``LambdaLR``,
``build_scheduler(optimizer, total_steps=None)`` and ``lrs(total_steps=None)``; the plateau
family exports torch's ``ReduceLROnPlateau`` with a separate warmup
(:mod:`autolr.export_plateau`). Every export runs over another length on request
(``run_length``: the rule of :meth:`ScheduleSpec.with_total_steps`) and drives
a list of optimizers with one schedule (``Schedulers``).

Only validated values reach the code: exact ``int``/``float``/``bool`` values written with
``repr``, short words from a family's validated choices and registered family names. Free text
(summaries, ``found_by`` facts) goes into the docstring and comments, escaped.
"""

from __future__ import annotations

import ast
import contextlib
import keyword
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autolr.errors import ExportError
from autolr.export import PYTHON_MARKER
from autolr.export_source import ALLOWED_MODULES, BUILTIN_NAMES, function_source
from autolr.schedules.base import Family
from autolr.schedules.spec import ScheduleSpec
from autolr.schedules.warmup import warmed_up

# Names the exported module defines or imports itself; a user factor or parameter must not take
# them.
MODULE_NAMES = frozenset({
    "annotations", "math", "torch", "PEAK_LR", "TOTAL_STEPS", "WARMUP_STEPS", "STEP_UNIT",
    "TUNED_TOTAL_STEPS", "TUNED_WARMUP_STEPS", "warmed_up", "LRMultiplier", "WarmupMultiplier",
    "Schedulers", "build_scheduler", "build_warmup", "lrs", "run_length", "_set_peak_lr",
    "_optimizers", "_plateau",
})
_WORD = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def render(
    spec: ScheduleSpec,
    family: Family,
    facts: dict[str, Any],
    module: str,
    tuned: ScheduleSpec | None = None,
) -> str:
    """The module for ``spec`` (checked), imported in its usage example as ``module``.

    ``tuned`` is the schedule as tuned when ``spec`` is it rescaled to another run length (its
    ``with_total_steps``); other lengths then scale from the tuned one, as autolr does.
    """
    if family.metric_driven:
        from autolr.export_plateau import render_plateau

        return render_plateau(spec, family, facts, module, tuned)
    return _render_closed_form(spec, family, facts, module, tuned)


def literal(value: Any, what: str) -> str:
    """Python source for a validated value: only exact bool/int/float/str and lists of them."""
    kind = type(value)
    if kind is bool:
        return "True" if value else "False"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is str and _WORD.fullmatch(value):
        return f'"{value}"'  # a short word: no quote or backslash to escape
    if kind in (list, tuple):
        return "[" + ", ".join(literal(item, what) for item in value) + "]"
    raise ExportError(
        f"{what} is {value!r} ({kind.__name__}); only plain numbers, True/False and short words "
        "(letters, digits, '_', '-') can be written into an exported schedule."
    )


def is_plain_name(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


# --- text in docstrings and comments ----------------------------------------------------------
def _doc(text: Any) -> str:
    """Free text made safe inside a triple-quoted docstring."""
    text = str(text).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _comment(text: Any) -> str:
    """Free text made safe on one comment line."""
    text = " ".join(str(text).split())
    return "".join(c for c in text if c.isprintable())


def _paragraph(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=indent * 2,
                         break_long_words=False, break_on_hyphens=False)


_UNIT_WORDS = {
    "batch": ("batch", "batches"),
    "epoch": ("epoch", "epochs"),
    "step": ("training step", "training steps"),
}


def _facts_block(facts: dict[str, Any]) -> str:
    if not facts:
        return ""
    lines = ["Found by autolr:"]

    def shown(value: Any) -> str:
        if isinstance(value, Mapping):
            return ", ".join(f"{k}={shown(v)}" for k, v in value.items())
        return repr(value) if isinstance(value, float) else str(value)

    for key, value in facts.items():
        lines.append(f"    {_comment(key)}: {_comment(shown(value))}")
    return "\n".join(lines) + "\n\n"


def _docstring(lines: list[str]) -> list[str]:
    """The module docstring: all of its text is escaped, so nothing in it can end it early."""
    return ['"""' + _doc("\n".join(lines)), '"""']


def _header() -> list[str]:
    from autolr import __version__

    return [
        f"{PYTHON_MARKER} {__version__} (autolr export). autolr replaces this file when it",
        "# exports to this path again: to edit it by hand, save it under another name first.",
    ]


def _title(spec: ScheduleSpec) -> str:
    many = _UNIT_WORDS[spec.step_unit][1]
    return (
        f"Learning-rate schedule found by autolr: {spec.family}, peak LR {spec.lr!r}, "
        f"{spec.total_steps} {many}."
    )


def _length_paragraphs(spec: ScheduleSpec, tuned: ScheduleSpec | None, calls: str) -> list[str]:
    """Where the run length comes from, and how to run the schedule over another one."""
    lines = []
    if tuned is not None:
        many = _UNIT_WORDS[spec.step_unit][1]
        lines += [
            _paragraph(
                f"Tuned over {tuned.total_steps} {many} (warmup {tuned.warmup_steps}), rescaled "
                f"to {spec.total_steps} (warmup {spec.warmup_steps}) by autolr export "
                "--total-steps: every phase keeps its fraction of the run. Other lengths scale "
                "from the tuned one, TUNED_TOTAL_STEPS."
            ),
            "",
        ]
    lines.append(
        _paragraph(
            f"Another run length N: {calls} follow the same schedule over N steps, every phase, "
            "warmup included, at its fraction of the run (as autolr's "
            "ScheduleSpec.with_total_steps(N))."
        )
    )
    return lines


def _several_paragraph(step: str) -> str:
    return _paragraph(
        "Several optimizers (a GAN's generator and discriminator): build_scheduler([opt_g, "
        "opt_d]) drives them all with this one schedule, each param group keeping its LR ratio "
        f"to the first optimizer's first group (which gets PEAK_LR). Its {step} steps them all; "
        "get_last_lr() lists every group's LR, the first optimizer's first; state_dict() and "
        "load_state_dict() cover all of them."
    )


def _constants_block(spec: ScheduleSpec, tuned: ScheduleSpec | None) -> list[str]:
    lines = [
        f"PEAK_LR = {literal(spec.lr, 'lr')}",
        f"TOTAL_STEPS = {literal(spec.total_steps, 'total_steps')}"
        "  # scheduler.step() calls in the whole run",
        f"WARMUP_STEPS = {literal(spec.warmup_steps, 'warmup_steps')}",
        f"STEP_UNIT = {literal(spec.step_unit, 'step_unit')}  # what one scheduler.step() is",
    ]
    if tuned is not None:
        lines += [
            f"TUNED_TOTAL_STEPS = {literal(tuned.total_steps, 'total_steps')}"
            "  # the run length the schedule was tuned at",
            f"TUNED_WARMUP_STEPS = {literal(tuned.warmup_steps, 'warmup_steps')}",
        ]
    return lines


@dataclass(frozen=True)
class _Constant:
    const: str  # MIN_RATIO
    param: str  # min_ratio
    literal: str
    doc: str


def _param_constants(spec: ScheduleSpec, family: Family) -> list[_Constant]:
    constants = []
    taken = set(MODULE_NAMES)
    for param in family.params:
        name = param.name
        if not is_plain_name(name):
            raise ExportError(f"Parameter {name!r} of family {family.name!r} is not a Python name.")
        const = name.upper()
        if const in taken:
            raise ExportError(
                f"Parameter {name!r} of family {family.name!r} would become the constant {const}, "
                f"a name the exported file already uses. Rename the parameter in the family's "
                "factor function."
            )
        taken.add(const)
        value = spec.params[name]
        if isinstance(value, str) and param.kind == "choice" and value not in param.choices:
            raise ExportError(f"Parameter {name!r} of family {family.name!r} is {value!r}, not "
                              "one of its choices.")
        text = literal(value, f"Parameter {name!r} of family {family.name!r}")
        doc = "" if param.doc == "user-defined" else _comment(param.doc)
        constants.append(_Constant(const, name, text, doc))
    return constants


def _constant_lines(constants: list[_Constant]) -> list[str]:
    lines = []
    for c in constants:
        line = f"{c.const} = {c.literal}"
        if c.doc and len(line) + len(c.doc) + 4 <= 100:
            lines.append(f"{line}  # {c.doc}")
        else:
            if c.doc:
                lines.append(f"# {c.doc}")
            lines.append(line)
    return lines


def _imports(modules: set[str]) -> list[str]:
    lines = ["from __future__ import annotations", ""]
    if "math" in modules:
        lines += ["import math", ""]
    lines.append("import torch")
    return lines


# --- code every export shares -------------------------------------------------------------------
_RUN_LENGTH = '''
def run_length(total_steps=None):
    """(total_steps, warmup_steps) of a run of total_steps scheduler.step() calls; None for
    TOTAL_STEPS. The schedule keeps its shape: every phase, warmup included, keeps its fraction
    of the run."""
    if total_steps is None:
        return TOTAL_STEPS, WARMUP_STEPS
    if isinstance(total_steps, bool) or not isinstance(total_steps, int):
        raise TypeError(
            "total_steps must be an int, the scheduler.step() calls in the whole run (or None "
            f"for TOTAL_STEPS = {TOTAL_STEPS}); got {total_steps!r}. Pass a whole number, such "
            "as int(total_steps)."
        )
    if total_steps < 1:
        raise ValueError(
            "total_steps must be at least 1, the scheduler.step() calls in the whole run; got "
            f"{total_steps}. Pass the number of times the run calls scheduler.step()."
        )
    warmup_steps = round(TUNED_WARMUP_STEPS * total_steps / TUNED_TOTAL_STEPS)
    return total_steps, min(warmup_steps, total_steps - 1)
'''

_OPTIMIZERS = '''
def _optimizers(optimizer):
    """[optimizer], or the optimizers of a list or tuple, each checked."""
    several = isinstance(optimizer, (list, tuple))
    optimizers = list(optimizer) if several else [optimizer]
    if not optimizers:
        raise ValueError(
            "optimizer must be a torch optimizer or a list of them; got an empty "
            f"{type(optimizer).__name__}. Pass at least one optimizer."
        )
    for i, item in enumerate(optimizers):
        where = f"item {i} of the list" if several else "optimizer"
        if not getattr(item, "param_groups", None):
            raise TypeError(
                f"optimizer must be a torch optimizer or a list of them; {where} is {item!r}. "
                "Pass the torch.optim optimizers the training loop steps."
            )
        if any(item is other for other in optimizers[:i]):
            raise ValueError(
                f"optimizer must hold each optimizer once; {where} is already in the list, so "
                "each step would step it twice. Pass each optimizer once."
            )
    return optimizers


def _set_peak_lr(optimizers):
    """Give the first optimizer's first param group PEAK_LR; every other group, of every
    optimizer, keeps its LR ratio to that group."""
    group = optimizers[0].param_groups[0]
    first = group.get("initial_lr", group["lr"])
    if not first > 0:
        raise ValueError(
            f"The optimizer's first param group must have an LR > 0 to scale the groups from; "
            f"got {first!r}. Create the optimizer with lr > 0."
        )
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            own = group.get("initial_lr", group["lr"])
            group["lr"] = PEAK_LR * (own / first)
            group.pop("initial_lr", None)
'''

_SCHEDULERS = '''
class Schedulers:
    """One scheduler per optimizer, stepped together: what build_scheduler returns for a list
    of optimizers. step(), get_last_lr(), state_dict() and load_state_dict() work as on one
    torch scheduler."""

    def __init__(self, schedulers):
        self.schedulers = schedulers

    @property
    def last_epoch(self):
        return self.schedulers[0].last_epoch

    def step(self, *metric):
        for scheduler in self.schedulers:
            scheduler.step(*metric)

    def get_last_lr(self):
        """Every param group's LR, the first optimizer's groups first."""
        return [lr for scheduler in self.schedulers for lr in scheduler.get_last_lr()]

    def state_dict(self):
        return {"schedulers": [scheduler.state_dict() for scheduler in self.schedulers]}

    def load_state_dict(self, state_dict):
        states = state_dict["schedulers"]
        if len(states) != len(self.schedulers):
            raise ValueError(
                f"The state_dict holds {len(states)} schedulers; this one has "
                f"{len(self.schedulers)}. Load it into a scheduler built over the same "
                "optimizers, in the same order."
            )
        for scheduler, state in zip(self.schedulers, states):
            scheduler.load_state_dict(state)
'''


def _shared_code(tuned: ScheduleSpec | None) -> list[str]:
    """run_length, _optimizers, _set_peak_lr and Schedulers, as lines of the module."""
    run_length = _RUN_LENGTH
    if tuned is None:  # the tuned length is TOTAL_STEPS itself
        run_length = run_length.replace("TUNED_", "")
    return [run_length.strip(), "", "", _OPTIMIZERS.strip(), "", "", _SCHEDULERS.strip()]


def _one_or_all(call: str) -> list[str]:
    """The end of a build function: ``call`` for each optimizer, one scheduler or Schedulers."""
    one_line = f"    schedulers = [{call} for each in optimizers]"
    lines = [one_line] if len(one_line) <= 100 else [
        "    schedulers = [", f"        {call}", "        for each in optimizers", "    ]"
    ]
    return [
        *lines,
        "    if isinstance(optimizer, (list, tuple)):",
        "        return Schedulers(schedulers)",
        "    return schedulers[0]",
    ]


# --- closed-form families ---------------------------------------------------------------------
def _render_closed_form(
    spec: ScheduleSpec, family: Family, facts: dict[str, Any], module: str,
    tuned: ScheduleSpec | None,
) -> str:
    factor = function_source(
        family.factor, f"The factor of family {family.name!r}", f"{family.name}_factor"
    )
    warmup = function_source(warmed_up, "autolr's warmup", "warmed_up")
    constants = _param_constants(spec, family)
    _check_factor_name(factor.name, family, constants)

    params_lines = _params_dict(constants)
    call = f"warmed_up({factor.name}, step, self.total_steps, self.warmup_steps, self.params)"
    call_lines = (
        [f"        return {call}"]
        if len(call) <= 84
        else ["        return warmed_up(", f"            {call[len('warmed_up('):-1]}", "        )"]
    )
    one, many = _UNIT_WORDS[spec.step_unit]
    after = "the epoch's optimizer steps" if spec.step_unit == "epoch" else "optimizer.step()"
    doc = [
        _title(spec),
        "",
        _paragraph(family.summary),
        "",
        "    LR(step) = PEAK_LR * multiplier(step)",
        _paragraph(f"multiplier(step) = {' '.join(family.formula.split())}", indent="    "),
        "",
        _paragraph(_param_sentence(constants)),
        "",
        _paragraph(_warmup_sentence(spec, family)),
        "",
        _paragraph(
            f"One step is one {one}: call scheduler.step() once per {one}, after "
            f"{after}, TOTAL_STEPS ({spec.total_steps}) times in all."
        ),
        "",
        *_length_paragraphs(spec, tuned, "build_scheduler(optimizer, total_steps=N) and lrs(N)"),
        "",
        *_usage(module, "build_scheduler", _closed_form_loop(spec.step_unit, many)),
        "",
        _paragraph(
            "build_scheduler gives the first param group PEAK_LR and keeps the other groups' LR "
            "ratios to it. It returns a torch LambdaLR over a callable object, so state_dict() "
            "and load_state_dict() save and resume the schedule exactly. lrs() lists the LR of "
            "every step."
        ),
        "",
        _several_paragraph("step()"),
        "",
        _facts_block(facts)
        + _paragraph(
            f"Needs only torch. {factor.name} and warmed_up are copied unchanged from the code "
            "that ran during tuning, so this file reproduces the tuned schedule exactly."
        ),
    ]
    parts = [
        *_header(),
        *_docstring(doc),
        "",
        *_imports(set(factor.modules | warmup.modules)),
        "",
        *_constants_block(spec, tuned),
        "",
        f"# {family.name} parameters" if constants else f"# {family.name} has no parameters",
        *_constant_lines(constants),
        "",
        "",
        factor.text.rstrip(),
        "",
        "",
        warmup.text.rstrip(),
        "",
        "",
        *_shared_code(tuned),
        "",
        "",
        "class LRMultiplier:",
        '    """The multiplier of PEAK_LR after `step` scheduler steps, for LambdaLR, in a run',
        "    of total_steps steps (None: TOTAL_STEPS).",
        "",
        "    A callable object holding plain data (not a lambda), so the scheduler's state_dict()",
        '    saves it and load_state_dict() resumes exactly."""',
        "",
        "    def __init__(self, total_steps=None):",
        "        self.total_steps, self.warmup_steps = run_length(total_steps)",
        *params_lines,
        "",
        "    def __call__(self, step):",
        *call_lines,
        "",
        "",
        "def build_scheduler(optimizer, total_steps=None):",
        '    """The LR scheduler: call scheduler.step() once per step, after optimizer.step().',
        "",
        "    optimizer: a torch optimizer, or a list of them, all following this one schedule.",
        "    total_steps: the scheduler.step() calls of the whole run, for a run of another length",
        '    than TOTAL_STEPS (every phase scales with it); None for TOTAL_STEPS."""',
        "    optimizers = _optimizers(optimizer)",
        "    run_length(total_steps)  # checked before the optimizers change",
        "    _set_peak_lr(optimizers)",
        *_one_or_all("torch.optim.lr_scheduler.LambdaLR(each, LRMultiplier(total_steps))"),
        "",
        "",
        "def lrs(total_steps=None):",
        '    """The first param group\'s LR in effect at each step of the run: TOTAL_STEPS steps,',
        '    or total_steps."""',
        "    multiplier = LRMultiplier(total_steps)",
        "    return [PEAK_LR * multiplier(step) for step in range(multiplier.total_steps)]",
    ]
    return _finish(parts)


def _params_dict(constants: list[_Constant]) -> list[str]:
    """``self.params = {...}`` in LRMultiplier, one line when it fits."""
    items = [
        f'"{c.param}": ' + (f"list({c.const})" if c.literal.startswith("[") else c.const)
        for c in constants
    ]
    one_line = "        self.params = {" + ", ".join(items) + "}"
    if len(one_line) <= 100:
        return [one_line]
    return ["        self.params = {", *(f"            {item}," for item in items), "        }"]


def _check_factor_name(name: str, family: Family, constants: list[_Constant]) -> None:
    clash = (
        name in MODULE_NAMES
        or name in {c.const for c in constants}
        or name in BUILTIN_NAMES
        or name.startswith("__")
    )
    if clash:
        raise ExportError(
            f"The factor of family {family.name!r} is named {name!r}, a name the exported file "
            f"uses itself (or a builtin). Rename the function, e.g. to {family.name}_factor, and "
            "register it again."
        )


def _param_sentence(constants: list[_Constant]) -> str:
    if not constants:
        return "The family has no parameters."
    shown = ", ".join(f"{c.param} = {c.literal}" for c in constants)
    return f"With {shown} (the constants below)."


def _warmup_sentence(spec: ScheduleSpec, family: Family) -> str:
    warmup, total = spec.warmup_steps, spec.total_steps
    if warmup == 0:
        return (
            f"No warmup: step and total_steps in the formula are the scheduler's own "
            f"(total_steps = {total})."
        )
    target = "the family's first LR"
    with contextlib.suppress(Exception):  # a user factor may fail here; the text stays general
        start = spec.multiplier(warmup)
        target = "PEAK_LR" if start == 1.0 else f"the family's first LR ({spec.lr * start:.6g})"
    return (
        f"Warmup: for the first {warmup} steps the LR rises linearly, PEAK_LR * multiplier(0) * "
        f"(step + 1) / {warmup + 1}, reaching {target} at step {warmup}; {family.name} then runs "
        f"over the remaining {total - warmup} steps, its step and total_steps counted from the "
        "end of the warmup."
    )


def _usage(module: str, names: str, loop: list[str]) -> list[str]:
    """The docstring's usage example: the import, the optimizer, the scheduler, the loop."""
    return [
        "Usage::",
        "",
        f"    from {module} import {names}",
        "",
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # any lr > 0",
        "    scheduler = build_scheduler(optimizer)",
        *loop,
    ]


def _closed_form_loop(unit: str, many: str) -> list[str]:
    if unit == "epoch":
        return [
            "    for epoch in range(TOTAL_STEPS):",
            "        for x, y in train_loader:",
            "            ...  # forward, backward",
            "            optimizer.step()",
            "        scheduler.step()  # once per epoch, after the epoch's optimizer steps",
        ]
    return [
        f"    for x, y in batches:  # TOTAL_STEPS {many} over the whole run",
        "        ...  # forward, backward",
        "        optimizer.step()",
        f"        scheduler.step()  # once per {_UNIT_WORDS[unit][0]}, after optimizer.step()",
    ]


# --- plateau ----------------------------------------------------------------------------------
# --- assembling and checking the module -------------------------------------------------------
def _finish(parts: list[str]) -> str:
    text = "\n".join(parts).rstrip() + "\n"
    _check_module(text)
    return text


def _check_module(text: str) -> None:
    """Last line of defence: the module parses and imports only math and torch."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:  # pragma: no cover - a bug in the renderer
        raise ExportError(f"autolr generated invalid Python ({exc}); please report this.") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name.partition(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [(node.module or "").partition(".")[0]]
        else:
            continue
        for module in modules:
            if module not in (*ALLOWED_MODULES, "__future__"):
                raise ExportError(
                    f"The exported schedule would import {module!r}; exports may import only "
                    "math and torch."
                )
