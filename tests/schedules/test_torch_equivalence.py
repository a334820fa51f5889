"""Every family with a torch equivalent follows that torch scheduler at every optimizer step.

For each setting three traces must agree: ``spec.lrs()`` (the closed form), the scheduler from
``spec.build(optimizer)`` on a real ``torch.optim.SGD`` and the torch scheduler named in the
family's ``torch_equivalent``. A trace is the LR in effect at optimizer step ``i``: the first param
group's ``lr`` read before the ``i``-th ``scheduler.step()`` call.

The closed form and autolr's scheduler agree exactly (``LambdaLR`` multiplies the same base LR by
the same multiplier). Torch's schedulers mostly use recursive ("chainable") updates that multiply
the previous LR by a ratio, so their values drift from the closed form by accumulated rounding;
that drift is bounded here by 1e-9 of the peak LR, at every step.

Families without a torch equivalent get checks of their documented closed forms.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as sched

import autolr
from autolr import ScheduleSpec
from autolr.schedules import get_family

REL_TOL = 1e-9
LR = 0.1


# --- helpers ---------------------------------------------------------------------------------
def _optimizer(lr: float = 0.5, groups: Sequence[float] = ()) -> torch.optim.SGD:
    """An SGD optimizer with one group at ``lr`` (plus a group per extra LR in ``groups``)."""
    param_groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}]
    param_groups += [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": g} for g in groups]
    return torch.optim.SGD(param_groups, lr=lr)


def _trace(
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    total_steps: int,
    step: Callable[[int], None] | None = None,
    group: int = 0,
) -> list[float]:
    """The LR of ``group`` in effect at each optimizer step, stepping the scheduler after each."""
    lrs = []
    for i in range(total_steps):
        lrs.append(optimizer.param_groups[group]["lr"])
        optimizer.step()
        if step is None:
            scheduler.step()
        else:
            step(i)
    return lrs


def _built_trace(spec: ScheduleSpec) -> list[float]:
    optimizer = _optimizer(0.7)  # not the spec's LR: build() must write the peak LR itself
    return _trace(optimizer, spec.build(optimizer), spec.total_steps)


def torch_equivalent(spec: ScheduleSpec, optimizer: torch.optim.Optimizer) -> Any:
    """The torch scheduler that each family's ``torch_equivalent`` names, for ``spec``."""
    p, T, lr = spec.params, spec.total_steps, spec.lr
    family = spec.family
    if family == "constant":
        return sched.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if family == "step":
        return sched.StepLR(optimizer, step_size=max(1, round(p["every"] * T)), gamma=p["gamma"])
    if family == "multistep":
        assert len(set(p["gammas"])) == 1, "MultiStepLR needs equal gammas"
        milestones = [round(m * T) for m in p["milestones"]]
        return sched.MultiStepLR(optimizer, milestones=milestones, gamma=p["gammas"][0])
    if family == "exponential":
        assert not p["staircase"], "ExponentialLR has no staircase"
        gamma = p["decay_rate"] ** (1 / (p["decay_steps"] * T))
        return sched.ExponentialLR(optimizer, gamma=gamma)
    if family == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=T, eta_min=p["min_ratio"] * lr)
    if family == "cosine_restarts":
        return sched.CosineAnnealingWarmRestarts(
            optimizer, T_0=max(1, round(p["period"] * T)), T_mult=p["mult"],
            eta_min=p["min_ratio"] * lr,
        )
    if family == "linear":
        return sched.LinearLR(
            optimizer, start_factor=1.0, end_factor=p["end_ratio"], total_iters=T
        )
    if family == "polynomial":
        return sched.PolynomialLR(optimizer, total_iters=T, power=p["power"])
    if family == "onecycle":
        return sched.OneCycleLR(
            optimizer, max_lr=lr, total_steps=T, pct_start=p["pct_start"],
            div_factor=p["div_factor"], final_div_factor=p["final_div_factor"],
            anneal_strategy=p["anneal"], cycle_momentum=False, three_phase=False,
        )
    if family == "cyclic":
        # the family's own step sizes: whole steps, at least one up and one down
        cycle = max(2, round(p["period"] * T))
        up = min(cycle - 1, max(1, round(p["up"] * cycle)))
        return sched.CyclicLR(
            optimizer, base_lr=p["base_ratio"] * lr, max_lr=lr, step_size_up=up,
            step_size_down=cycle - up, mode=p["mode"], gamma=p["end_scale"] ** (1 / T),
            cycle_momentum=False,
        )
    raise AssertionError(f"no torch equivalent for {family!r}")


def _assert_close(actual: Sequence[float], expected: Sequence[float], peak: float) -> None:
    assert len(actual) == len(expected)
    worst = max((abs(a - e) for a, e in zip(actual, expected)), default=0.0)
    if worst > REL_TOL * peak:
        step = next(i for i, (a, e) in enumerate(zip(actual, expected))
                    if abs(a - e) > REL_TOL * peak)
        raise AssertionError(
            f"LRs differ by {worst:.3g} (> {REL_TOL:g} * peak {peak:g}); first at step {step}: "
            f"{actual[step]!r} != {expected[step]!r}"
        )


def _check(family: str, case: dict[str, Any]) -> None:
    """Closed form == autolr's scheduler exactly; == the torch scheduler within the tolerance."""
    params = {k: v for k, v in case.items() if k not in ("T", "lr")}
    spec = ScheduleSpec(family, params, lr=case.get("lr", LR), total_steps=case["T"])
    closed = spec.lrs()
    assert len(closed) == spec.total_steps
    assert _built_trace(spec) == closed, "spec.build() must follow spec.lrs() exactly"
    optimizer = _optimizer(spec.lr)
    expected = _trace(optimizer, torch_equivalent(spec, optimizer), spec.total_steps)
    _assert_close(closed, expected, spec.lr)


def _cases(**grid: Sequence[Any]) -> list[dict[str, Any]]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def _id(case: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in case.items())


SMALL = (1, 7, 100)  # every parameter grid runs at these; a part of it at 1000 steps as well
LONG = {"T": (1000,), "lr": (2.5,)}


# --- step ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, every=(0.05, 0.3, 0.5, 1.0), gamma=(0.1, 0.7))
    + _cases(**LONG, every=(0.05, 0.3), gamma=(0.1, 0.7)),
    ids=_id,
)
def test_step_matches_steplr(case: dict[str, Any]) -> None:
    _check("step", case)


# --- multistep -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(
        T=SMALL,
        milestones=([0.5, 0.75], [0.3, 0.6, 0.9], [0.01, 0.5], [0.2]),
        gamma=(0.1, 0.5),
    )
    + _cases(**LONG, milestones=([0.5, 0.75], [0.3, 0.6, 0.9]), gamma=(0.1,)),
    ids=_id,
)
def test_multistep_matches_multisteplr(case: dict[str, Any]) -> None:
    case = dict(case)
    case["gammas"] = [case.pop("gamma")] * len(case["milestones"])
    _check("multistep", case)


def test_multistep_default_stages() -> None:
    spec = ScheduleSpec("multistep", {}, lr=1.0, total_steps=100)
    lrs = spec.lrs()
    assert lrs[:50] == [1.0] * 50
    assert lrs[50:75] == pytest.approx([0.1] * 25, rel=1e-15)
    assert lrs[75:] == pytest.approx([0.01] * 25, rel=1e-15)


def test_multistep_unequal_gammas_multiply() -> None:
    spec = ScheduleSpec(
        "multistep", {"milestones": [0.25, 0.5], "gammas": [0.5, 0.2]}, lr=1.0, total_steps=8
    )
    assert spec.lrs() == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1]


# --- exponential -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, decay_rate=(0.001, 0.1, 0.9), decay_steps=(0.25, 1.0, 3.0))
    + _cases(**LONG, decay_rate=(0.001, 0.9), decay_steps=(0.25, 3.0)),
    ids=_id,
)
def test_exponential_matches_exponentiallr(case: dict[str, Any]) -> None:
    _check("exponential", case)


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("T", [1, 7, 100, 1000])
@pytest.mark.parametrize("rate,steps", [(0.1, 1.0), (0.5, 0.25), (0.01, 0.3), (0.9, 2.0)])
def test_exponential_formula_is_exact(staircase: bool, T: int, rate: float, steps: float) -> None:
    lr = 0.3
    spec = ScheduleSpec(
        "exponential", {"decay_rate": rate, "decay_steps": steps, "staircase": staircase},
        lr=lr, total_steps=T,
    )
    expected = []
    for i in range(T):
        exponent = i / (steps * T)
        if staircase:
            exponent = math.floor(exponent)
        expected.append(lr * rate**exponent)
    assert spec.lrs() == expected
    assert _built_trace(spec) == expected


def test_exponential_staircase_drops_in_whole_steps() -> None:
    spec = ScheduleSpec(
        "exponential", {"decay_rate": 0.5, "decay_steps": 0.25, "staircase": True},
        lr=1.0, total_steps=100,
    )
    assert sorted(set(spec.lrs()), reverse=True) == [1.0, 0.5, 0.25, 0.125]
    assert spec.lrs()[24] == 1.0 and spec.lrs()[25] == 0.5


# --- cosine ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, min_ratio=(0.0, 0.1, 0.5, 1.0)) + _cases(**LONG, min_ratio=(0.0, 0.1)),
    ids=_id,
)
def test_cosine_matches_cosineannealinglr(case: dict[str, Any]) -> None:
    _check("cosine", case)


# --- cosine_restarts -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, period=(0.1, 0.25, 0.5, 1.0), mult=(1, 2, 3), min_ratio=(0.0, 0.2))
    + _cases(**LONG, period=(0.1, 0.25), mult=(1, 2), min_ratio=(0.2,)),
    ids=_id,
)
def test_cosine_restarts_matches_warm_restarts(case: dict[str, Any]) -> None:
    _check("cosine_restarts", case)


def _restarts(lrs: Sequence[float]) -> int:
    return sum(1 for a, b in zip(lrs, lrs[1:]) if b > a)


def test_cosine_restarts_defaults_restart_within_horizon() -> None:
    # below 6 steps a cycle rounds to one step: the LR stays at the peak (as torch's T_0=1 does)
    for T in [*range(6, 300), 1000, 5000]:
        lrs = ScheduleSpec("cosine_restarts", {}, lr=1.0, total_steps=T).lrs()
        assert _restarts(lrs) >= 1, T
        assert max(lrs) == 1.0 and min(lrs) < 1.0


# --- linear ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, end_ratio=(0.0, 0.1, 0.5, 1.0)) + _cases(**LONG, end_ratio=(0.0, 0.1)),
    ids=_id,
)
def test_linear_matches_linearlr(case: dict[str, Any]) -> None:
    _check("linear", case)


# --- polynomial ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(T=SMALL, power=(0.5, 1.0, 2.0, 3.7)) + _cases(**LONG, power=(0.5, 3.7)),
    ids=_id,
)
def test_polynomial_matches_polynomiallr(case: dict[str, Any]) -> None:
    _check("polynomial", case)


# --- onecycle --------------------------------------------------------------------------------
_ONECYCLE = [
    case
    for case in _cases(
        T=SMALL,
        pct_start=(0.1, 0.2, 0.3, 0.5, 0.9),
        div_factor=(5.0, 25.0),
        final_div_factor=(10.0, 1e4),
        anneal=("cos", "linear"),
    )
    + _cases(
        **LONG, pct_start=(0.3, 0.9), div_factor=(25.0,), final_div_factor=(1e4,),
        anneal=("cos", "linear"),
    )
    # torch divides by zero where the rise ends on step 0 (pct_start * T == 1)
    if float(case["pct_start"] * case["T"]) - 1 != 0
]


@pytest.mark.parametrize("case", _ONECYCLE, ids=_id)
def test_onecycle_matches_onecyclelr(case: dict[str, Any]) -> None:
    _check("onecycle", case)


@pytest.mark.parametrize("T", [4, 10, 20])
def test_onecycle_without_room_to_rise_starts_at_the_peak(T: int) -> None:
    # pct_start * T == 1: torch's OneCycleLR divides by zero; autolr starts at the peak.
    spec = ScheduleSpec("onecycle", {"pct_start": 1 / T}, lr=1.0, total_steps=T)
    lrs = spec.lrs()
    assert lrs[0] == 1.0
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] == pytest.approx(1.0 / 25.0 / 1e4, rel=1e-12)


def test_onecycle_reaches_the_peak_and_ends_far_below() -> None:
    spec = ScheduleSpec("onecycle", {}, lr=1.0, total_steps=1000)
    lrs = spec.lrs()
    assert lrs[0] == pytest.approx(1 / 25)
    assert max(lrs) == pytest.approx(1.0, abs=1e-12)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4, rel=1e-12)


# --- cyclic ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    _cases(
        T=SMALL,
        period=(0.1, 0.25, 0.5),
        up=(0.1, 0.5, 0.9),
        base_ratio=(0.0, 0.1),
        mode=("triangular", "triangular2", "exp_range"),
        end_scale=(0.05,),
    )
    + _cases(
        **LONG, period=(0.1,), up=(0.3,), base_ratio=(0.1,),
        mode=("triangular", "triangular2", "exp_range"), end_scale=(0.5,),
    ),
    ids=_id,
)
def test_cyclic_matches_cycliclr(case: dict[str, Any]) -> None:
    _check("cyclic", case)


def test_cyclic_defaults_give_at_least_two_cycles() -> None:
    for T in [*range(4, 300), 1000, 5000]:
        lrs = ScheduleSpec("cyclic", {}, lr=1.0, total_steps=T).lrs()
        peaks = [i for i, lr in enumerate(lrs) if lr == pytest.approx(1.0, abs=1e-12)]
        assert len(peaks) >= 2, T  # the peak is reached in at least two cycles
        assert all(min(lrs[a:b]) == pytest.approx(0.1) for a, b in zip(peaks, peaks[1:])), T
        assert max(lrs) == pytest.approx(1.0) and min(lrs) == pytest.approx(0.1)


def test_cyclic_triangular2_halves_each_cycle() -> None:
    spec = ScheduleSpec(
        "cyclic", {"mode": "triangular2", "base_ratio": 0.0, "period": 0.25}, lr=1.0,
        total_steps=40,
    )
    lrs = spec.lrs()
    assert [max(lrs[c * 10:(c + 1) * 10]) for c in range(4)] == [1.0, 0.5, 0.25, 0.125]


@pytest.mark.parametrize("lr", [1e-4, 0.1, 7.0])
@pytest.mark.parametrize(
    "family",
    ["constant", "step", "multistep", "exponential", "cosine", "cosine_restarts", "linear",
     "polynomial", "onecycle", "cyclic"],
)
def test_defaults_match_torch_at_any_peak_lr(family: str, lr: float) -> None:
    _check(family, {"T": 100, "lr": lr})


# --- plateau ---------------------------------------------------------------------------------
def _metrics(kind: str, T: int, every: int, seed: int) -> list[float | None]:
    """A metric reported at the end of every ``every`` optimizer steps (None elsewhere)."""
    rng = random.Random(seed)
    values: list[float | None] = [None] * T
    level = 1.0
    for i in range(every - 1, T, every):
        if kind == "improving_then_flat":
            level = max(0.2, level * 0.9)
            value = level
        elif kind == "noisy":
            level *= 0.98
            value = level * (1.0 + 0.2 * rng.random())
        else:  # "rising": better in max mode
            level += rng.choice([0.0, 0.0, 0.01, 1e-6])
            value = level
        values[i] = value
    return values


_PLATEAU = [
    *_cases(
        T=(7, 100),
        every=(1, 3),
        kind=("improving_then_flat", "noisy", "rising"),
        mode=("min", "max"),
        patience=(0, 2),
        cooldown=(0, 1),
    ),
    *_cases(
        T=(1000,),
        every=(1, 50),
        kind=("noisy",),
        mode=("min", "max"),
        patience=(1,),
        cooldown=(2,),
    ),
]


@pytest.mark.parametrize("case", _PLATEAU, ids=_id)
@pytest.mark.parametrize(
    "rule",
    [
        {"factor": 0.5, "threshold": 1e-4, "threshold_mode": "rel", "min_ratio": 0.0},
        {"factor": 0.1, "threshold": 0.005, "threshold_mode": "abs", "min_ratio": 0.05},
    ],
    ids=["rel", "abs-floor"],
)
def test_plateau_matches_reducelronplateau(case: dict[str, Any], rule: dict[str, Any]) -> None:
    T = case["T"]
    reports = _metrics(case["kind"], T, case["every"], seed=T + case["every"])
    params = {
        **rule, "mode": case["mode"], "patience": case["patience"], "cooldown": case["cooldown"]
    }
    spec = ScheduleSpec("plateau", params, lr=LR, total_steps=T)

    # torch: the metric goes to ReduceLROnPlateau when it is reported, at the end of a step.
    optimizer = _optimizer(LR)
    rop = sched.ReduceLROnPlateau(
        optimizer, mode=case["mode"], factor=rule["factor"], patience=case["patience"],
        threshold=rule["threshold"], threshold_mode=rule["threshold_mode"],
        cooldown=case["cooldown"], min_lr=rule["min_ratio"] * LR,
    )

    def step_rop(i: int) -> None:
        if reports[i] is not None:
            rop.step(reports[i])

    expected = _trace(optimizer, rop, T, step_rop)

    # autolr: the scheduler steps every optimizer step and takes the metric when there is one.
    closed = spec.lrs(reports)
    assert closed == spec.lrs({i: v for i, v in enumerate(reports) if v is not None})
    optimizer = _optimizer(0.7)
    built = spec.build(optimizer, metric_source=lambda: (0, None))
    direct = _trace(optimizer, built, T, lambda i: built.step(reports[i]))

    # ... or reads it from the metric source, as autolr.report feeds it in a script.
    state = {"count": 0, "value": None}
    optimizer = _optimizer(0.7)
    sourced = spec.build(optimizer, metric_source=lambda: (state["count"], state["value"]))

    def step_sourced(i: int) -> None:
        if reports[i] is not None:
            state["count"] += 1
            state["value"] = reports[i]
        sourced.step()

    from_source = _trace(optimizer, sourced, T, step_sourced)

    assert closed == expected
    assert direct == expected
    assert from_source == expected
    if case["kind"] == "improving_then_flat" and case["mode"] == "min" and T == 100:
        assert min(expected) < LR  # the setting exercises at least one cut


def test_plateau_without_reports_never_cuts() -> None:
    spec = ScheduleSpec("plateau", {"patience": 0}, lr=LR, total_steps=50)
    assert spec.lrs() == [LR] * 50
    optimizer = _optimizer(0.7)
    assert _trace(optimizer, spec.build(optimizer, metric_source=lambda: (0, None)), 50) == (
        [LR] * 50
    )


def test_plateau_with_warmup_ignores_reports_during_warmup() -> None:
    T, warmup = 30, 5
    reports = [1.0] * T  # never improves after the first: patience 0 cuts at every report
    spec = ScheduleSpec(
        "plateau", {"patience": 0, "factor": 0.5}, lr=1.0, total_steps=T, warmup_steps=warmup
    )
    closed = spec.lrs(reports)
    assert closed[:warmup] == [(i + 1) / (warmup + 1) for i in range(warmup)]
    # first report after warmup sets the best; the next one cuts
    assert closed[warmup] == 1.0 and closed[warmup + 1] == 1.0
    assert closed[warmup + 2] == 0.5
    optimizer = _optimizer(0.7)
    built = spec.build(optimizer, metric_source=lambda: (0, None))
    assert _trace(optimizer, built, T, lambda i: built.step(reports[i])) == closed


# --- families without a torch equivalent ------------------------------------------------------
def _factor(name: str) -> Callable[..., float]:
    return get_family(name).factor


def test_constant_is_the_peak_everywhere() -> None:
    for T in (1, 7, 1000):
        spec = ScheduleSpec("constant", {}, lr=0.3, total_steps=T)
        assert spec.lrs() == [0.3] * T
        assert _built_trace(spec) == [0.3] * T
        optimizer = _optimizer(0.3)
        torch_constant = _trace(optimizer, torch_equivalent(spec, optimizer), T)
        assert torch_constant == [0.3] * T


@pytest.mark.parametrize("shape", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("decay,min_ratio", [(0.2, 0.0), (0.5, 0.1), (1.0, 0.0), (0.05, 0.3)])
@pytest.mark.parametrize("T", [1, 7, 100, 1000])
def test_wsd_closed_form(shape: str, decay: float, min_ratio: float, T: int) -> None:
    spec = ScheduleSpec(
        "wsd", {"decay": decay, "shape": shape, "min_ratio": min_ratio}, lr=1.0, total_steps=T
    )
    lrs = spec.lrs()
    assert _built_trace(spec) == lrs
    decay_steps = max(1, round(decay * T))
    start = T - decay_steps
    assert lrs[:start] == [1.0] * start  # stable phase at the peak
    assert lrs[start] == 1.0  # the decay starts from the peak
    shapes = {
        "linear": lambda p: 1 - p,
        "cosine": lambda p: (1 + math.cos(math.pi * p)) / 2,
        "1-sqrt": lambda p: 1 - math.sqrt(p),
    }
    for i in range(start, T):
        p = (i - start) / decay_steps
        assert lrs[i] == pytest.approx(min_ratio + (1 - min_ratio) * shapes[shape](p), abs=1e-15)
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))  # never rises
    if decay_steps > 1:
        assert all(b < a for a, b in zip(lrs[start:], lrs[start + 1:]))  # strictly falls
    # the decay ends at min_ratio when the run ends (one step past the last optimizer step)
    factor = _factor("wsd")
    assert factor(T, T, decay=decay, shape=shape, min_ratio=min_ratio) == pytest.approx(
        min_ratio, abs=1e-15
    )


@pytest.mark.parametrize("T", [1, 7, 100, 1000])
def test_rex_closed_form(T: int) -> None:
    spec = ScheduleSpec("rex", {}, lr=1.0, total_steps=T)
    lrs = spec.lrs()
    assert _built_trace(spec) == lrs
    assert lrs[0] == 1.0
    for i, lr in enumerate(lrs):
        z = i / T
        assert lr == pytest.approx((1 - z) / (0.5 + 0.5 * (1 - z)), abs=1e-15)
        assert lr >= 1 - z  # stays above the linear decay
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    factor = _factor("rex")
    assert factor(T, T) == 0.0
    assert factor(T / 2, T) == pytest.approx(2 / 3, rel=1e-15)


@pytest.mark.parametrize("timescale", [0.005, 0.05, 0.5])
@pytest.mark.parametrize("T", [1, 7, 100, 1000])
def test_inverse_sqrt_closed_form(timescale: float, T: int) -> None:
    spec = ScheduleSpec("inverse_sqrt", {"timescale": timescale}, lr=1.0, total_steps=T)
    lrs = spec.lrs()
    assert _built_trace(spec) == lrs
    assert lrs[0] == 1.0
    for i, lr in enumerate(lrs):
        assert lr == pytest.approx(1 / math.sqrt(1 + i / (timescale * T)), abs=1e-15)
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    # documented: the LR halves after 3 timescales
    factor = _factor("inverse_sqrt")
    assert factor(3 * timescale * T, T, timescale=timescale) == pytest.approx(0.5, rel=1e-12)


# --- the built schedulers --------------------------------------------------------------------
_EVERY_CLOSED_FORM = [
    ("constant", {}), ("step", {}), ("multistep", {}), ("exponential", {}), ("cosine", {}),
    ("cosine_restarts", {"mult": 2}), ("linear", {"end_ratio": 0.1}), ("polynomial", {}),
    ("onecycle", {}), ("cyclic", {"mode": "exp_range"}), ("wsd", {"shape": "cosine"}),
    ("rex", {}), ("inverse_sqrt", {}),
]
_FAMILY_IDS = [family for family, _ in _EVERY_CLOSED_FORM]


@pytest.mark.parametrize("family,params", _EVERY_CLOSED_FORM, ids=_FAMILY_IDS)
def test_every_closed_form_family_is_covered(family: str, params: dict[str, Any]) -> None:
    from autolr import families

    assert {f for f, _ in _EVERY_CLOSED_FORM} | {"plateau"} == set(families(builtin=True))
    spec = ScheduleSpec(family, params, lr=0.2, total_steps=60, warmup_steps=6)
    assert _built_trace(spec) == spec.lrs()


@pytest.mark.parametrize("family,params", _EVERY_CLOSED_FORM, ids=_FAMILY_IDS)
def test_multi_group_optimizer_keeps_lr_ratios(family: str, params: dict[str, Any]) -> None:
    T = 50
    spec = ScheduleSpec(family, params, lr=0.2, total_steps=T, warmup_steps=5)
    optimizer = _optimizer(0.7, groups=[0.07, 1.4])
    scheduler = spec.build(optimizer)
    expected = spec.lrs()
    start = get_family(family).factor(0, T - 5, **spec.params)
    assert expected[5] == 0.2 * start  # the family's first value, after the warmup
    for i in range(T):
        lrs = [g["lr"] for g in optimizer.param_groups]
        assert lrs[0] == expected[i]
        assert lrs[1] == pytest.approx(expected[i] * 0.1, rel=1e-14)
        assert lrs[2] == pytest.approx(expected[i] * 2.0, rel=1e-14)
        optimizer.step()
        scheduler.step()


def test_multi_group_plateau_keeps_lr_ratios() -> None:
    T = 40
    reports = [1.0 if i % 4 == 3 else None for i in range(T)]
    spec = ScheduleSpec("plateau", {"patience": 0, "factor": 0.5}, lr=0.2, total_steps=T,
                        warmup_steps=3)
    optimizer = _optimizer(0.7, groups=[0.07])
    scheduler = spec.build(optimizer, metric_source=lambda: (0, None))
    expected = spec.lrs(reports)
    assert min(expected) < 0.2
    for i in range(T):
        lrs = [g["lr"] for g in optimizer.param_groups]
        assert lrs[0] == expected[i]
        assert lrs[1] == pytest.approx(expected[i] * 0.1, rel=1e-14)
        optimizer.step()
        scheduler.step(reports[i])


def test_stepping_past_the_horizon_keeps_the_last_lr() -> None:
    spec = ScheduleSpec("linear", {}, lr=1.0, total_steps=10)
    optimizer = _optimizer()
    lrs = _trace(optimizer, spec.build(optimizer), 15)
    assert lrs[10:] == [lrs[9]] * 5
    assert spec.multiplier(12) == spec.multiplier(9)


def test_plateau_state_dict_resumes_exactly() -> None:
    T = 60
    reports = _metrics("noisy", T, 3, seed=1)
    spec = ScheduleSpec("plateau", {"patience": 1, "cooldown": 1}, lr=0.3, total_steps=T,
                        warmup_steps=4)
    expected = spec.lrs(reports)
    assert min(expected) < 0.3
    optimizer = _optimizer()
    scheduler = spec.build(optimizer, metric_source=lambda: (0, None))
    head = _trace(optimizer, scheduler, 29, lambda i: scheduler.step(reports[i]))
    state = scheduler.state_dict()

    resumed_optimizer = _optimizer()
    resumed = spec.build(resumed_optimizer, metric_source=lambda: (0, None))
    resumed.load_state_dict(state)
    resumed_optimizer.param_groups[0]["lr"] = optimizer.param_groups[0]["lr"]
    tail = _trace(resumed_optimizer, resumed, T - 29, lambda i: resumed.step(reports[29 + i]))
    assert head + tail == expected


def test_state_dict_resumes_exactly() -> None:
    spec = ScheduleSpec("cosine_restarts", {"mult": 2}, lr=0.3, total_steps=100, warmup_steps=10)
    optimizer = _optimizer()
    scheduler = spec.build(optimizer)
    _trace(optimizer, scheduler, 37)
    state = scheduler.state_dict()

    resumed_optimizer = _optimizer()
    resumed = spec.build(resumed_optimizer)
    resumed.load_state_dict(state)
    resumed_optimizer.param_groups[0]["lr"] = optimizer.param_groups[0]["lr"]
    assert _trace(resumed_optimizer, resumed, 63) == spec.lrs()[37:]


def test_plateau_follows_autolr_report_in_a_plain_run() -> None:
    """Without a metric source the scheduler reads ``autolr.report`` (no trial running)."""
    from autolr.trials import runtime

    assert not runtime.in_trial()
    T, per_epoch = 60, 6
    reports: list[float | None] = [None] * T
    for epoch, value in enumerate([1.0, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7]):
        reports[epoch * per_epoch + per_epoch - 1] = value
    spec = ScheduleSpec("plateau", {"patience": 1}, lr=0.2, total_steps=T)
    optimizer = _optimizer()
    scheduler = spec.build(optimizer)
    seen = []
    for i in range(T):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if reports[i] is not None:
            autolr.report(reports[i], step=i // per_epoch)
        scheduler.step()
    assert seen == spec.lrs(reports)
    assert seen[-1] < 0.2
