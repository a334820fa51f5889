"""The contract every schedule family keeps, built-in or user-defined.

For each family, with a non-trivial spec: the JSON round trip is exact; the torch scheduler that
``spec.build`` returns follows ``spec.lrs()`` on a real optimizer; a state dict saved mid-run and
loaded into a fresh scheduler (and optimizer) continues identically; the exported Python file,
run where autolr cannot be imported, gives the same LRs; warmup rises steadily to where the
family starts; no LR exceeds the peak.

The plateau family is driven by a fixed metric sequence: ``reports[i]`` is the value reported
during optimizer step ``i``, given to the scheduler as ``scheduler.step(metric)``.
"""

from __future__ import annotations

import ast
import io
import json
import math
import random
import subprocess
import sys
import zlib

import pytest
import torch

import autolr
from autolr import ScheduleSpec
from autolr.exporting.export import export, render_python
from autolr.schedules import get_family

TOTAL_STEPS = 96
USER_FAMILY = "contract_test_sawtooth"


def contract_sawtooth_factor(step, total_steps, teeth=3, floor=0.2, smooth=False, tilt="down"):
    """Sawtooth decay: ``teeth`` ramps from the peak to ``floor`` (a test family)."""
    length = max(1, total_steps // teeth)
    position = (step % length) / length
    if tilt == "up":
        position = 1.0 - position
    if smooth:
        position = 0.5 - 0.5 * math.cos(math.pi * position)
    return 1.0 - (1.0 - floor) * position


def _user_space(trial):
    return {"teeth": trial.suggest_int("teeth", 1, 5)}


# family -> (params, warmup_steps); a family missing here is tested with its defaults.
EXAMPLES = {
    "constant": ({}, 5),
    "step": ({"every": 0.2, "gamma": 0.5}, 0),
    "multistep": ({"milestones": [0.3, 0.7], "gammas": [0.5, 0.2]}, 3),
    "exponential": ({"decay_rate": 0.05, "decay_steps": 0.5, "staircase": True}, 0),
    "cosine": ({"min_ratio": 0.05}, 10),
    "cosine_restarts": ({"period": 0.2, "mult": 2, "min_ratio": 0.01}, 0),
    "linear": ({"end_ratio": 0.1}, 7),
    "polynomial": ({"power": 1.5}, 0),
    "onecycle": ({"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0,
                  "anneal": "linear"}, 4),
    "cyclic": ({"period": 0.3, "up": 0.4, "base_ratio": 0.05, "mode": "exp_range",
                "end_scale": 0.2}, 0),
    "wsd": ({"decay": 0.3, "shape": "1-sqrt", "min_ratio": 0.02}, 12),
    "rex": ({}, 4),
    "inverse_sqrt": ({"timescale": 0.1}, 8),
    "plateau": ({"patience": 1, "factor": 0.5, "threshold": 0.01, "cooldown": 1,
                 "min_ratio": 0.05}, 6),
    USER_FAMILY: ({"teeth": 4, "floor": 0.1, "smooth": True, "tilt": "up"}, 9),
}
# extra cases: (id, family, params, warmup_steps)
EXTRA = [("plateau-no-warmup", "plateau", {"patience": 0, "factor": 0.3, "mode": "min"}, 0)]

CASES = [(name, name, *EXAMPLES.get(name, ({}, 5))) for name in autolr.families(builtin=True)]
CASES += [(USER_FAMILY, USER_FAMILY, *EXAMPLES[USER_FAMILY]), *EXTRA]
IDS = [case[0] for case in CASES]

METRICS = [1.0, 0.8, 0.7, 0.7, 0.7, 0.69, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6,
           0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4]
# reported during steps 3, 7, 11, ... (every 4 steps, as if evaluating every 4th batch)
PLATEAU_REPORTS = dict(zip(range(3, TOTAL_STEPS, 4), METRICS))


@pytest.fixture(scope="module", autouse=True)
def user_family():
    """The user-defined family exists for this module's tests only."""
    autolr.register_family(USER_FAMILY, contract_sawtooth_factor, _user_space)
    yield USER_FAMILY
    autolr.unregister_family(USER_FAMILY)


def make_spec(case_id: str) -> ScheduleSpec:
    _, family, params, warmup = CASES[IDS.index(case_id)]
    return ScheduleSpec(family, params, lr=0.3, total_steps=TOTAL_STEPS, warmup_steps=warmup,
                        step_unit="batch")


def reports_for(spec: ScheduleSpec) -> dict[int, float] | None:
    return PLATEAU_REPORTS if spec.metric_driven else None


def make_optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    """Two param groups, the second at twice the first's LR."""
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr},
              {"params": [torch.zeros(2, requires_grad=True)], "lr": 2 * lr}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def build(spec: ScheduleSpec, optimizer: torch.optim.Optimizer):
    # metric_source: no autolr.report in these tests; metrics come through step(metric)
    return spec.build(optimizer, metric_source=lambda: (0, None))


def run(spec, scheduler, optimizer, start: int, stop: int) -> tuple[list[float], list[float]]:
    """Step from ``start`` to ``stop``; the LRs of both groups in effect at each step."""
    reports = reports_for(spec) or {}
    first, second = [], []
    for step in range(start, stop):
        first.append(optimizer.param_groups[0]["lr"])
        second.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        if step in reports:
            scheduler.step(reports[step])
        else:
            scheduler.step()
    return first, second


@pytest.mark.parametrize("case_id", IDS)
def test_json_round_trip(case_id):
    spec = make_spec(case_id)
    again = ScheduleSpec.from_json(spec.to_json(study="contract", seed=1))
    assert again == spec
    assert again.to_json() == spec.to_json()
    assert again.lrs(reports_for(spec)) == spec.lrs(reports_for(spec))


@pytest.mark.parametrize("case_id", IDS)
def test_built_scheduler_follows_lrs(case_id):
    spec = make_spec(case_id)
    expected = spec.lrs(reports_for(spec))
    optimizer = make_optimizer()
    scheduler = build(spec, optimizer)
    first, second = run(spec, scheduler, optimizer, 0, spec.total_steps)
    assert first == pytest.approx(expected, rel=1e-12, abs=0)
    assert second == pytest.approx([2 * lr for lr in expected], rel=1e-12, abs=0)
    if spec.metric_driven:
        assert min(expected) < spec.lr  # the metric sequence does cut the LR


@pytest.mark.parametrize("case_id", IDS)
def test_state_dict_resumes_exactly(case_id):
    spec = make_spec(case_id)
    full_optimizer = make_optimizer()
    reference, _ = run(spec, build(spec, full_optimizer), full_optimizer, 0, spec.total_steps)

    cut = random.Random(zlib.crc32(case_id.encode())).randrange(1, spec.total_steps)
    optimizer = make_optimizer()
    scheduler = build(spec, optimizer)
    run(spec, scheduler, optimizer, 0, cut)
    buffer = io.BytesIO()
    torch.save({"scheduler": scheduler.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain data only

    fresh_optimizer = make_optimizer(lr=5.0)
    fresh = build(spec, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved["optimizer"])
    fresh.load_state_dict(saved["scheduler"])
    rest, _ = run(spec, fresh, fresh_optimizer, cut, spec.total_steps)
    assert rest == pytest.approx(reference[cut:], rel=1e-12, abs=0)


@pytest.mark.parametrize("case_id", IDS)
def test_warmup_rises_steadily_to_where_the_family_starts(case_id):
    spec = make_spec(case_id)
    if spec.warmup_steps == 0:
        spec = spec.replace(warmup_steps=10)
    warmup = spec.warmup_steps
    lrs = spec.lrs(reports_for(spec))
    rising = lrs[: warmup + 1]
    assert all(a < b for a, b in zip(rising, rising[1:]))
    factor = get_family(spec.family).factor
    start = spec.lr * factor(0, spec.total_steps - warmup, **spec.params)
    assert lrs[warmup] == pytest.approx(start, rel=1e-12)
    assert lrs[0] == pytest.approx(start / (warmup + 1), rel=1e-12)


@pytest.mark.parametrize("case_id", IDS)
def test_no_lr_exceeds_the_peak(case_id):
    spec = make_spec(case_id)
    lrs = spec.lrs(reports_for(spec))
    assert len(lrs) == spec.total_steps
    assert all(0.0 <= lr <= spec.lr * (1 + 1e-12) for lr in lrs)


@pytest.mark.parametrize("case_id", IDS)
def test_exported_source_imports_only_math_and_torch(case_id):
    tree = ast.parse(render_python(make_spec(case_id)))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module)
    assert modules <= {"__future__", "math", "torch"}
    assert "torch" in modules


_SUBPROCESS = r"""
import sys
sys.modules["autolr"] = None  # an exported file must not need autolr
import importlib.util, json
import torch

try:
    import autolr  # noqa: F401
    blocked = False
except ImportError:
    blocked = True
out = {"_autolr_blocked": blocked}
for case in json.load(open("cases.json")):
    loader = importlib.util.spec_from_file_location(case["module"], case["path"])
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    if case["reports"] is None:
        lrs = module.lrs()
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = module.build_scheduler(optimizer)
        stepped = []
        for _ in range(module.TOTAL_STEPS):
            stepped.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    else:  # plateau: lrs(reports) steps the exported schedulers on a real optimizer
        lrs = module.lrs({int(k): v for k, v in case["reports"].items()})
        stepped = lrs
    out[case["id"]] = {"lrs": lrs, "stepped": stepped}
print(json.dumps(out))
"""


@pytest.fixture(scope="module", autouse=True)
def exported_process(tmp_path_factory, user_family):
    """Export every case to a file and start ONE subprocess, where autolr is unavailable, that
    runs them all. It starts with the module's first test and runs alongside the others (torch
    takes seconds to import); ``exported_lrs`` collects its output."""
    folder = tmp_path_factory.mktemp("exported")
    cases = []
    for number, case_id in enumerate(IDS):
        spec = make_spec(case_id)
        path = export(spec, folder / f"schedule_{number}.py",
                      found_by={"study": "contract", "case": case_id})
        reports = reports_for(spec)
        cases.append({"id": case_id, "module": f"schedule_{number}", "path": str(path),
                      "reports": None if reports is None else {str(k): v
                                                               for k, v in reports.items()}})
    (folder / "cases.json").write_text(json.dumps(cases))
    process = subprocess.Popen([sys.executable, "-c", _SUBPROCESS], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def exported_lrs(exported_process):
    stdout, stderr = exported_process.communicate(timeout=120)
    assert exported_process.returncode == 0, stderr
    out = json.loads(stdout)
    assert out.pop("_autolr_blocked") is True
    return out


@pytest.mark.parametrize("case_id", IDS)
def test_exported_module_gives_the_same_lrs_without_autolr(case_id, exported_lrs):
    spec = make_spec(case_id)
    expected = spec.lrs(reports_for(spec))
    assert exported_lrs[case_id]["lrs"] == pytest.approx(expected, rel=1e-12, abs=0)
    assert exported_lrs[case_id]["stepped"] == pytest.approx(expected, rel=1e-12, abs=0)
