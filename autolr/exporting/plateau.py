"""The standalone Python module exported for the plateau family (internal to
:mod:`autolr.export`): torch's ``ReduceLROnPlateau`` at the tuned settings, with autolr's warmup
as a separate scheduler, over the tuned run length or another one (``run_length``), for one
optimizer or several. The text every export shares comes from :mod:`autolr.exporting.text`.
"""

from __future__ import annotations

from typing import Any

from autolr.errors import ExportError
from autolr.exporting.text import (
    UNIT_WORDS,
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


def render_plateau(
    spec: ScheduleSpec, family: Family, facts: dict[str, Any], module: str,
    tuned: ScheduleSpec | None,
) -> str:
    """The module for ``spec`` of the plateau ``family`` (checked), imported in its usage
    example as ``module``; ``tuned`` as in :func:`autolr.exporting.export.render_python`."""
    constants = param_constants(spec, family)
    expected = {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                "min_ratio"}
    if {c.param for c in constants} != expected:  # pragma: no cover - guards a registry change
        raise ExportError(f"The metric-driven family {family.name!r} has parameters autolr "
                          "cannot export as ReduceLROnPlateau.")
    warmup = spec.warmup_steps
    # A warmup of the tuned run may round to none at this length, but not at a longer one.
    has_warmup = (tuned or spec).warmup_steps > 0
    one, many = UNIT_WORDS[spec.step_unit]
    names = "build_scheduler, build_warmup" if has_warmup else "build_scheduler"
    warmup_text, length_call = _plateau_warmup_text(warmup, has_warmup)
    doc = [
        title(spec),
        "",
        paragraph(family.summary),
        "",
        paragraph(
            "This is torch's ReduceLROnPlateau: once more than PATIENCE evaluations in a row fail "
            "to beat the best metric by THRESHOLD (relative or absolute: THRESHOLD_MODE), the LR "
            "is multiplied by FACTOR, never going below MIN_RATIO times the group's peak LR; the "
            "next COOLDOWN evaluations after a cut are not counted. MODE 'min' means lower "
            "metrics are better, 'max' higher."
        ),
        "",
        paragraph(param_sentence(constants)),
        "",
        paragraph(warmup_text),
        "",
        paragraph(
            f"One step is one {one}; the run has TOTAL_STEPS = {spec.total_steps} {many}. The "
            "plateau scheduler is stepped with the metric once per evaluation, not once per step."
        ),
        "",
        *length_paragraphs(spec, tuned, length_call),
        "",
        *usage(module, names, _plateau_loop(spec.step_unit, has_warmup)),
        "",
        paragraph(
            "build_scheduler gives the first param group PEAK_LR and keeps the other groups' LR "
            "ratios to it. Save and restore the schedulers with state_dict() and "
            "load_state_dict(). lrs(reports) runs this loop and lists the LR of every step."
        ),
        "",
        several_paragraph("step(metric)"),
        "",
        facts_block(facts) + "Needs only torch.",
    ]
    parts = [
        *header(),
        *docstring(doc),
        "",
        *imports(set()),
        "",
        *constants_block(spec, tuned),
        "",
        f"# {family.name} parameters (torch ReduceLROnPlateau)",
        *constant_lines(constants),
        "",
        "",
        *shared_code(tuned),
        "",
        "",
        "def _plateau(optimizer):",
        "    return torch.optim.lr_scheduler.ReduceLROnPlateau(",
        "        optimizer,",
        "        mode=MODE,",
        "        factor=FACTOR,",
        "        patience=PATIENCE,",
        "        threshold=THRESHOLD,",
        "        threshold_mode=THRESHOLD_MODE,",
        "        cooldown=COOLDOWN,",
        '        min_lr=[MIN_RATIO * group["lr"] for group in optimizer.param_groups],',
        "        eps=1e-08,",
        "    )",
        "",
        "",
        "def build_scheduler(optimizer, total_steps=None):",
        '    """torch ReduceLROnPlateau: call scheduler.step(metric) once per evaluation.',
        "",
        "    optimizer: a torch optimizer, or a list of them, all following this one schedule.",
        "    total_steps is taken as by every exported schedule, and checked; the plateau rule",
        '    counts evaluations, not steps, so the run length changes nothing here."""',
        "    optimizers = _optimizers(optimizer)",
        "    run_length(total_steps)  # checked before the optimizers change",
        "    _set_peak_lr(optimizers)",
        *one_or_all("_plateau(each)"),
    ]
    if has_warmup:
        parts += [
            "",
            "",
            "class WarmupMultiplier:",
            '    """The multiplier of PEAK_LR after `step` warmup steps, for LambdaLR, in a run',
            "    of total_steps steps (None: TOTAL_STEPS).",
            "",
            "    A callable object holding plain data (not a lambda), so the scheduler's "
            "state_dict()",
            '    saves it and load_state_dict() resumes exactly."""',
            "",
            "    def __init__(self, total_steps=None):",
            "        self.warmup_steps = run_length(total_steps)[1]",
            "",
            "    def __call__(self, step):",
            "        return min(step + 1, self.warmup_steps + 1) / (self.warmup_steps + 1)",
            "",
            "",
            "def build_warmup(optimizer, total_steps=None):",
            '    """The warmup scheduler; create it after build_scheduler(optimizer) and call its',
            "    step() after optimizer.step() for the first WARMUP_STEPS steps only (for a run of",
            '    total_steps steps: the first run_length(total_steps)[1])."""',
            "    optimizers = _optimizers(optimizer)",
            *one_or_all(
                "torch.optim.lr_scheduler.LambdaLR(each, WarmupMultiplier(total_steps))"
            ),
        ]
    parts += [
        "",
        "",
        "def lrs(reports=None, total_steps=None):",
        '    """The first param group\'s LR in effect at each step of the run: TOTAL_STEPS steps,',
        "    or total_steps.",
        "",
        "    reports[i] is the metric evaluated after step i: a dict, or a list with None where",
        "    nothing was evaluated. Without reports the LR never drops.",
        '    """',
        "    total_steps, warmup_steps = run_length(total_steps)"
        if has_warmup else "    total_steps = run_length(total_steps)[0]",
        "    if reports is None:",
        "        reports = {}",
        "    elif not isinstance(reports, dict):",
        "        reports = {i: value for i, value in enumerate(reports) if value is not None}",
        "    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=PEAK_LR)",
        "    scheduler = build_scheduler(optimizer)",
    ]
    if has_warmup:
        parts.append("    warmup = build_warmup(optimizer, total_steps)")
    parts += [
        "    result = []",
        "    for step in range(total_steps):",
        '        result.append(optimizer.param_groups[0]["lr"])',
        "        optimizer.step()",
    ]
    if has_warmup:
        parts += [
            "        if step < warmup_steps:",
            "            warmup.step()",
            "        if step in reports and step >= warmup_steps:",
            "            scheduler.step(reports[step])",
        ]
    else:
        parts += [
            "        if step in reports:",
            "            scheduler.step(reports[step])",
        ]
    parts.append("    return result")
    return finish(parts)


def _plateau_warmup_text(warmup: int, has_warmup: bool) -> tuple[str, str]:
    """The warmup paragraph, and the calls that run the schedule over N steps."""
    if not has_warmup:
        return "No warmup.", "lrs(reports, total_steps=N)"
    calls = ("build_warmup(optimizer, total_steps=N) (stepped for the first run_length(N)[1] "
             "steps) and lrs(reports, total_steps=N)")
    if not warmup:
        return (
            "No warmup at this length: the tuned run's warmup rounds to none here. "
            "build_warmup(optimizer, total_steps=N) gives the warmup of a longer run.",
            calls,
        )
    return (
        f"Warmup: for the first {warmup} steps the LR rises linearly, PEAK_LR * (step + 1) / "
        f"{warmup + 1}, reaching PEAK_LR at step {warmup}, through the separate scheduler "
        "build_warmup returns; evaluations made before step WARMUP_STEPS do not count.",
        calls,
    )


def _plateau_loop(unit: str, warmup: bool) -> list[str]:
    """The usage example's training loop: the warmup, then a scheduler.step(metric) per
    evaluation."""
    lines = []
    if warmup:
        lines.append("    warmup = build_warmup(optimizer)  # after build_scheduler")
    if unit == "epoch":
        lines += [
            "    for step in range(TOTAL_STEPS):  # one step per epoch",
            "        train_one_epoch(model, optimizer)  # ends with optimizer.step()",
        ]
    else:
        lines += [
            "    for step in range(TOTAL_STEPS):  # one step per batch",
            "        ...  # forward, backward",
            "        optimizer.step()",
        ]
    if warmup:
        lines += [
            "        if step < WARMUP_STEPS:",
            "            warmup.step()  # the first WARMUP_STEPS steps only",
            "        if time_to_evaluate(step):",
            "            metric = evaluate(model)",
            "            if step >= WARMUP_STEPS:",
            "                scheduler.step(metric)  # once per evaluation, after the warmup",
        ]
    else:
        lines += [
            "        if time_to_evaluate(step):",
            "            scheduler.step(evaluate(model))  # once per evaluation",
        ]
    return lines
