"""Tune short, train long: an exported schedule runs over another length exactly as
``ScheduleSpec.with_total_steps`` does, for every family, with and without warmup; and
``autolr export --total-steps N`` (``autolr.export(..., total_steps=N)``) writes the file for N."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from exported_module import load_module

import autolr
from autolr import ConfigError, ScheduleSpec
from autolr.cli import main
from autolr.exporting.export import export, render_json

TUNED_STEPS = 40
# lengths: 4x; 25 and 35 put a 4-step warmup at 2.5 and 3.5 steps (round-half-to-even: 2 and 4)
LENGTHS = [4 * TUNED_STEPS, 25, 35, 1]
USER_FAMILY = "transfer_test_sawtooth"



def transfer_sawtooth_factor(step, total_steps, teeth=3, floor=0.2):
    """Sawtooth decay: ``teeth`` ramps from the peak to ``floor`` (a test family)."""
    length = max(1, total_steps // teeth)
    return 1.0 - (1.0 - floor) * (step % length) / length


def _user_space(trial):
    return {"teeth": trial.suggest_int("teeth", 1, 5)}


# family -> params, chosen so that each family's positions and lengths matter; others: defaults
PARAMS = {
    "step": {"every": 0.2, "gamma": 0.5},
    "multistep": {"milestones": [0.3, 0.7], "gammas": [0.5, 0.2]},
    "exponential": {"decay_rate": 0.05, "decay_steps": 0.5, "staircase": True},
    "cosine": {"min_ratio": 0.05},
    "cosine_restarts": {"period": 0.2, "mult": 2, "min_ratio": 0.01},
    "onecycle": {"pct_start": 0.25, "anneal": "linear"},
    "cyclic": {"period": 0.3, "up": 0.4, "base_ratio": 0.05, "mode": "exp_range"},
    "wsd": {"decay": 0.3, "shape": "1-sqrt", "min_ratio": 0.02},
    "inverse_sqrt": {"timescale": 0.1},
    "plateau": {"patience": 1, "factor": 0.5, "threshold": 0.01, "cooldown": 1,
                "min_ratio": 0.05},
    USER_FAMILY: {"teeth": 4, "floor": 0.1},
}
FAMILIES = [*autolr.families(builtin=True), USER_FAMILY]


@pytest.fixture(scope="module", autouse=True)
def user_family():
    autolr.register_family(USER_FAMILY, transfer_sawtooth_factor, _user_space)
    yield USER_FAMILY
    autolr.unregister_family(USER_FAMILY)


def make_spec(family: str, warmup: int, total_steps: int = TUNED_STEPS) -> ScheduleSpec:
    return ScheduleSpec(family, PARAMS.get(family, {}), lr=0.3, total_steps=total_steps,
                        warmup_steps=warmup, step_unit="batch")


def reports_for(spec: ScheduleSpec, total_steps: int) -> dict[int, float] | None:
    """Plateau only: a metric every 3 steps that improves, then stalls (so the LR is cut)."""
    if not spec.metric_driven:
        return None
    values = [1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    return {step: values[i % len(values)] - 0.1 * (i // len(values))
            for i, step in enumerate(range(2, total_steps, 3))}


def make_optimizer() -> torch.optim.Optimizer:
    """Two param groups, the second at a quarter of the first's LR."""
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": 1.0},
              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.25}]
    return torch.optim.SGD(groups, lr=1.0)


def step_autolr(spec: ScheduleSpec, reports) -> list[float]:
    """Every group's LR at each step of ``spec.build`` on a real optimizer (both groups of
    step 0, then of step 1, ...)."""
    optimizer = make_optimizer()
    scheduler = spec.build(optimizer, metric_source=lambda: (0, None))
    seen = []
    for step in range(spec.total_steps):
        seen += [group["lr"] for group in optimizer.param_groups]
        optimizer.step()
        if reports and step in reports:
            scheduler.step(reports[step])
        else:
            scheduler.step()
    return seen


def step_exported(module, total_steps: int | None, reports) -> list[float]:
    """Every group's LR at each step of the exported file's schedulers, stepped as its
    docstring says (the plateau family: a warmup scheduler, then the metric per evaluation)."""
    optimizer = make_optimizer()
    scheduler = module.build_scheduler(optimizer, total_steps=total_steps)
    length, warmup_steps = module.run_length(total_steps)
    warmup = None
    if reports is not None and hasattr(module, "build_warmup"):
        warmup = module.build_warmup(optimizer, total_steps=total_steps)
    seen = []
    for step in range(length):
        seen += [group["lr"] for group in optimizer.param_groups]
        optimizer.step()
        if reports is None:
            scheduler.step()
            continue
        if warmup is not None and step < warmup_steps:
            warmup.step()
        if step in reports and step >= warmup_steps:
            scheduler.step(reports[step])
    return seen


@pytest.fixture(scope="module")
def exported(tmp_path_factory, user_family):
    """One exported file per (family, warmup), at the tuned length."""
    folder = tmp_path_factory.mktemp("transfer")
    modules = {}
    for family in FAMILIES:
        for warmup in (0, 4):
            path = export(make_spec(family, warmup), folder / f"{family}_{warmup}_schedule.py")
            modules[family, warmup] = load_module(path)
    return modules


# --- the exported file over another length -------------------------------------------------------
@pytest.mark.parametrize("warmup", [0, 4], ids=["no-warmup", "warmup"])
@pytest.mark.parametrize("family", FAMILIES)
def test_exported_file_at_another_length_equals_with_total_steps(exported, family, warmup):
    spec = make_spec(family, warmup)
    module = exported[family, warmup]
    for length in LENGTHS:
        target = spec.with_total_steps(length)
        reports = reports_for(spec, length)
        expected = target.lrs(reports)
        assert module.run_length(length) == (length, target.warmup_steps)
        listed = module.lrs(reports, total_steps=length) if reports is not None \
            else module.lrs(length)
        assert listed == pytest.approx(expected, rel=1e-12, abs=0), length
        # stepped on a real optimizer with two groups, against autolr's own scheduler
        ours = step_exported(module, length, reports)
        theirs = step_autolr(target, reports)
        assert len(ours) == 2 * length
        assert ours == pytest.approx(theirs, rel=1e-12, abs=0), length
        assert ours[::2] == pytest.approx(expected, rel=1e-12, abs=0), length
        assert ours[1::2] == pytest.approx([lr / 4 for lr in expected], rel=1e-12, abs=0)
        if reports is not None and length == 4 * TUNED_STEPS:
            assert min(expected) < spec.lr  # the plateau schedule does cut
    # None keeps the tuned length
    assert module.run_length() == (TUNED_STEPS, warmup)
    reports = reports_for(spec, TUNED_STEPS)
    assert step_exported(module, None, reports) == pytest.approx(
        step_autolr(spec, reports), rel=1e-12, abs=0)


def test_the_warmup_keeps_its_fraction_of_the_run(exported):
    module = exported["cosine", 4]
    lrs = module.lrs(4 * TUNED_STEPS)
    # a 4-step warmup of 40 steps is 16 steps of 160: rising through step 16, then decaying
    assert all(a < b for a, b in zip(lrs[:17], lrs[1:17]))
    assert lrs[16] == pytest.approx(module.PEAK_LR, rel=1e-12)
    assert lrs[17] < lrs[16]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, "total_steps must be at least 1.*got 0"),
        (-5, ValueError, "at least 1.*got -5"),
        (2.5, TypeError, "total_steps must be an int.*got 2.5"),
        (100.0, TypeError, "must be an int.*got 100.0"),
        (True, TypeError, "must be an int.*got True"),
        ("100", TypeError, "must be an int.*got '100'"),
    ],
)
@pytest.mark.parametrize("family", ["cosine", "plateau"])
def test_exported_file_rejects_a_bad_length(exported, family, value, error, match):
    module = exported[family, 4]
    optimizer = make_optimizer()
    with pytest.raises(error, match=match):
        module.build_scheduler(optimizer, total_steps=value)
    assert [group["lr"] for group in optimizer.param_groups] == [1.0, 0.25]  # left untouched
    with pytest.raises(error, match=match):
        module.lrs(total_steps=value) if family == "plateau" else module.lrs(value)
    if family == "plateau":
        with pytest.raises(error, match=match):
            module.build_warmup(optimizer, total_steps=value)


def test_a_state_dict_saved_at_another_length_resumes_there(exported):
    module = exported["wsd", 4]
    length = 4 * TUNED_STEPS
    expected = module.lrs(length)
    optimizer = make_optimizer()
    scheduler = module.build_scheduler(optimizer, total_steps=length)
    for _ in range(70):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh_optimizer = make_optimizer()
    fresh = module.build_scheduler(fresh_optimizer)  # the tuned length, until the state loads
    fresh_optimizer.load_state_dict(optimizer.state_dict())
    fresh.load_state_dict(state)
    rest = []
    for _ in range(70, length):
        rest.append(fresh_optimizer.param_groups[0]["lr"])
        fresh_optimizer.step()
        fresh.step()
    assert rest == pytest.approx(expected[70:], rel=1e-12, abs=0)


# --- writing the file for another length ---------------------------------------------------------
@pytest.mark.parametrize("family", ["cosine", "plateau", USER_FAMILY])
def test_export_with_total_steps_writes_the_file_for_that_length(tmp_path, family):
    # 20 of 200 warmup steps: at 333 steps 33.3 -> 33, at 1000 steps 100. Rescaled twice
    # (200 -> 333 -> 1000) the warmup would be 99: other lengths scale from the tuned one.
    spec = make_spec(family, 20, total_steps=200)
    path = export(spec, tmp_path / "long_schedule.py", found_by={"study": "s"}, total_steps=333)
    module = load_module(path)
    assert (module.TOTAL_STEPS, module.WARMUP_STEPS) == (333, 33)
    assert (module.TUNED_TOTAL_STEPS, module.TUNED_WARMUP_STEPS) == (200, 20)
    for length, target in ((None, spec.with_total_steps(333)), (1000, spec.with_total_steps(1000)),
                           (200, spec)):
        reports = reports_for(spec, target.total_steps)
        assert module.run_length(length) == (target.total_steps, target.warmup_steps)
        assert step_exported(module, length, reports) == pytest.approx(
            step_autolr(target, reports), rel=1e-12, abs=0)
    assert module.run_length(1000)[1] == 100
    doc = " ".join(module.__doc__.split())
    assert "333 batches" in doc
    assert "Tuned over 200 batches (warmup 20), rescaled to 333 (warmup 33)" in doc
    assert "tuned_total_steps: 200" in doc and "study: s" in doc


def test_export_at_the_tuned_length_is_the_plain_export(tmp_path):
    spec = make_spec("cosine", 4)
    plain = export(spec, tmp_path / "a.py").read_text()
    same = export(spec, tmp_path / "a.py", total_steps=TUNED_STEPS).read_text()
    assert same == plain
    assert "TUNED_TOTAL_STEPS" not in plain


def test_json_export_with_total_steps(tmp_path):
    spec = make_spec("linear", 4)
    path = export(spec, tmp_path / "s.json", format="json", total_steps=400)
    assert autolr.load_schedule(path) == spec.with_total_steps(400)
    assert '"tuned_total_steps": 40' in render_json(spec, total_steps=400)


@pytest.mark.parametrize(
    ("value", "match"),
    [(0, "must be >= 1. Got 0"), (2.5, "must be an integer. Got 2.5"), (True, "must be an "
                                                                          "integer")],
)
def test_export_rejects_a_bad_total_steps_before_writing(tmp_path, value, match):
    message = f"'total_steps' parameter of export {match}"
    with pytest.raises((ConfigError, TypeError), match=message):
        export(make_spec("cosine", 4), tmp_path / "s.py", total_steps=value)
    assert not (tmp_path / "s.py").exists()


@pytest.fixture(scope="module")
def stored_study(tmp_path_factory):
    """A real (tiny) study in SQLite: three baselines on a quadratic, 30 steps each."""
    folder = tmp_path_factory.mktemp("study")
    url = f"sqlite:///{folder}/s.db"

    def train():
        weight = torch.nn.Parameter(torch.tensor([2.0]))
        optimizer = torch.optim.SGD([weight], lr=0.1)
        scheduler = autolr.scheduler(optimizer, total_steps=30)
        for step in range(30):
            loss = (weight**2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if step % 10 == 9:
                autolr.report(loss.item(), step=step)

    result = autolr.tune(train, n_trials=3, storage=url, study_name="s", seed=0, search="full",
                         pruner="none", confirm=0)
    return url, result.best_spec


def _cli(args: list[str]):
    return CliRunner().invoke(main, args, env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_cli_export_total_steps(tmp_path, stored_study):
    url, spec = stored_study
    out = tmp_path / "long.py"
    result = _cli(["export", "--study", "s", "--storage", url, "--total-steps", "120", "-o",
                   str(out)])
    assert result.exit_code == 0, result.output
    module = load_module(out)
    target = spec.with_total_steps(120)
    assert module.TOTAL_STEPS == 120
    assert target.warmup_steps == module.WARMUP_STEPS
    assert module.lrs() == pytest.approx(target.lrs(), rel=1e-12, abs=0)
    assert module.lrs(480) == pytest.approx(spec.with_total_steps(480).lrs(), rel=1e-12, abs=0)
    assert "rescaled to 120" in " ".join(module.__doc__.split())
    printed = _cli(["export", "--study", "s", "--storage", url, "--total-steps", "120",
                    "--format", "json", "-o", "-"])
    assert printed.exit_code == 0
    assert ScheduleSpec.from_json(printed.output) == target


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_cli_export_rejects_a_bad_total_steps(tmp_path, stored_study, value):
    url, _ = stored_study
    result = _cli(["export", "--study", "s", "--storage", url, "--total-steps", value, "-o",
                   str(tmp_path / "x.py")])
    assert result.exit_code == 2
    assert "Invalid value for '--total-steps'" in result.output and value in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.py").exists()



def test_cli_export_for_another_length_sits_beside_the_tuned_file(tmp_path, stored_study,
                                                                  monkeypatch):
    url, spec = stored_study
    monkeypatch.chdir(tmp_path)
    assert _cli(["export", "--study", "s", "--storage", url]).exit_code == 0
    tuned = next(tmp_path.glob("studies/*/best_schedule.py"))
    before = tuned.read_text()
    result = _cli(["export", "--study", "s", "--storage", url, "--total-steps", "90"])
    assert result.exit_code == 0, result.output
    longer = tuned.with_name("best_schedule_90_steps.py")
    assert str(longer) in " ".join(result.output.split()) or longer.name in result.output
    assert tuned.read_text() == before  # the tuned-length file is kept
    assert load_module(longer).lrs() == pytest.approx(spec.with_total_steps(90).lrs(), rel=1e-12)
