"""The standalone Python module exported for a closed-form family (internal to
:mod:`autolr.export`).

The module needs nothing but ``math`` and ``torch``. It holds the schedule's numbers as named
constants, the family's ``factor`` and autolr's warmup copied verbatim from their source
(:mod:`autolr.exporting.source`), a callable multiplier for ``LambdaLR``,
``build_scheduler(optimizer, total_steps=None)`` and ``lrs(total_steps=None)``. It runs over
another length on request (``run_length``: the rule of :meth:`ScheduleSpec.with_total_steps`)
and drives a list of optimizers with one schedule (``Schedulers``). The text every export
shares, and the rule for what may reach its code, come from :mod:`autolr.exporting.text`; the
plateau family has its own renderer, :mod:`autolr.exporting.plateau`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from autolr.errors import ExportError
from autolr.exporting.source import BUILTIN_NAMES, function_source
from autolr.exporting.text import (
    MODULE_NAMES,
    UNIT_WORDS,
    Constant,
    constant_lines,
    constants_block,
    docstring,
    facts_block,
    finish,
    header,
    imports,
    length_paragraphs,
    one_or_all,
    paragraph,
    param_constants,
    param_sentence,
    several_paragraph,
    shared_code,
    title,
    usage,
)
from autolr.schedules.base import Family
from autolr.schedules.spec import ScheduleSpec
from autolr.schedules.warmup import warmed_up


def render_closed_form(
    spec: ScheduleSpec, family: Family, facts: dict[str, Any], module: str,
    tuned: ScheduleSpec | None,
) -> str:
    """The module for ``spec`` of the closed-form ``family`` (checked), imported in its usage
    example as ``module``; ``tuned`` as in :func:`autolr.exporting.export.render_python`."""
    factor = function_source(
        family.factor, f"The factor of family {family.name!r}", f"{family.name}_factor"
    )
    warmup = function_source(warmed_up, "autolr's warmup", "warmed_up")
    constants = param_constants(spec, family)
    _check_factor_name(factor.name, family, constants)

    params_lines = _params_dict(constants)
    call = f"warmed_up({factor.name}, step, self.total_steps, self.warmup_steps, self.params)"
    call_lines = (
        [f"        return {call}"]
        if len(call) <= 84
        else ["        return warmed_up(", f"            {call[len('warmed_up('):-1]}", "        )"]
    )
    one, many = UNIT_WORDS[spec.step_unit]
    after = "the epoch's optimizer steps" if spec.step_unit == "epoch" else "optimizer.step()"
    doc = [
        title(spec),
        "",
        paragraph(family.summary),
        "",
        "    LR(step) = PEAK_LR * multiplier(step)",
        paragraph(f"multiplier(step) = {' '.join(family.formula.split())}", indent="    "),
        "",
        paragraph(param_sentence(constants)),
        "",
        paragraph(_warmup_sentence(spec, family)),
        "",
        paragraph(
            f"One step is one {one}: call scheduler.step() once per {one}, after "
            f"{after}, TOTAL_STEPS ({spec.total_steps}) times in all."
        ),
        "",
        *length_paragraphs(spec, tuned, "build_scheduler(optimizer, total_steps=N) and lrs(N)"),
        "",
        *usage(module, "build_scheduler", _closed_form_loop(spec.step_unit, many)),
        "",
        paragraph(
            "build_scheduler gives the first param group PEAK_LR and keeps the other groups' LR "
            "ratios to it. It returns a torch LambdaLR over a callable object, so state_dict() "
            "and load_state_dict() save and resume the schedule exactly. lrs() lists the LR of "
            "every step."
        ),
        "",
        several_paragraph("step()"),
        "",
        facts_block(facts)
        + paragraph(
            f"Needs only torch. {factor.name} and warmed_up are copied unchanged from the code "
            "that ran during tuning, so this file reproduces the tuned schedule exactly."
        ),
    ]
    parts = [
        *header(),
        *docstring(doc),
        "",
        *imports(set(factor.modules | warmup.modules)),
        "",
        *constants_block(spec, tuned),
        "",
        f"# {family.name} parameters" if constants else f"# {family.name} has no parameters",
        *constant_lines(constants),
        "",
        "",
        factor.text.rstrip(),
        "",
        "",
        warmup.text.rstrip(),
        "",
        "",
        *shared_code(tuned),
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
        *one_or_all("torch.optim.lr_scheduler.LambdaLR(each, LRMultiplier(total_steps))"),
        "",
        "",
        "def lrs(total_steps=None):",
        '    """The first param group\'s LR in effect at each step of the run: TOTAL_STEPS steps,',
        '    or total_steps."""',
        "    multiplier = LRMultiplier(total_steps)",
        "    return [PEAK_LR * multiplier(step) for step in range(multiplier.total_steps)]",
    ]
    return finish(parts)


def _params_dict(constants: list[Constant]) -> list[str]:
    """``self.params = {...}`` in LRMultiplier, one line when it fits."""
    items = [
        f'"{c.param}": ' + (f"list({c.const})" if c.literal.startswith("[") else c.const)
        for c in constants
    ]
    one_line = "        self.params = {" + ", ".join(items) + "}"
    if len(one_line) <= 100:
        return [one_line]
    return ["        self.params = {", *(f"            {item}," for item in items), "        }"]


def _check_factor_name(name: str, family: Family, constants: list[Constant]) -> None:
    """Refuse a factor whose name the module already uses (or a builtin): the copied
    function would replace it."""
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


def _warmup_sentence(spec: ScheduleSpec, family: Family) -> str:
    """The docstring's account of the warmup, and what LR it reaches."""
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


def _closed_form_loop(unit: str, many: str) -> list[str]:
    """The usage example's training loop: one scheduler.step() per ``unit``."""
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
        f"        scheduler.step()  # once per {UNIT_WORDS[unit][0]}, after optimizer.step()",
    ]
