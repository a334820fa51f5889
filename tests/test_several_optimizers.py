"""One schedule over several optimizers (a GAN's generator and discriminator):
``autolr.scheduler([opt_g, opt_d], ...)`` in plain runs and under tuning, ``spec.build`` and the
exported ``build_scheduler([opt_g, opt_d])``."""

from __future__ import annotations

import io

import pytest
import torch
from exported_module import load_module

import autolr
from autolr import ConfigError, ScheduleSpec
from autolr.exporting.export import export

STEPS = 60


class TinyGan:
    """A generator and a discriminator with their own optimizers and LRs: Adam at 2e-4 for the
    generator; SGD for the discriminator, two param groups at 1e-3 and 5e-4."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.generator = torch.nn.Linear(2, 2)
        self.discriminator = torch.nn.Linear(2, 1)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=2e-4)
        self.opt_d = torch.optim.SGD(
            [{"params": [self.discriminator.weight], "lr": 1e-3},
             {"params": [self.discriminator.bias], "lr": 5e-4}], momentum=0.5,
        )
        self.ratios = [1.0, 1e-3 / 2e-4, 5e-4 / 2e-4]  # each group's LR / the generator's

    def lrs(self) -> list[float]:
        return [group["lr"] for opt in (self.opt_g, self.opt_d) for group in opt.param_groups]

    def train_step(self) -> float:
        real = torch.randn(8, 2) + 2.0
        fake = self.generator(torch.randn(8, 2))
        loss_d = torch.nn.functional.softplus(self.discriminator(fake.detach())).mean() + \
            torch.nn.functional.softplus(-self.discriminator(real)).mean()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        loss_g = torch.nn.functional.softplus(-self.discriminator(fake)).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return loss_d.item()


def train_gan(scheduler_for, steps: int = STEPS, report_every: int = 5, reports=None):
    """The GAN loop: ``scheduler_for(gan)`` makes the scheduler; every group's LR in effect at
    each step comes back (and the scheduler). ``reports``: step -> the value to report."""
    gan = TinyGan()
    scheduler = scheduler_for(gan)
    seen = []
    for step in range(steps):
        seen.append(gan.lrs())
        gan.train_step()
        scheduler.step()
        if step % report_every == report_every - 1:
            value = 1.0 if reports is None else reports[step]
            autolr.report(value, step=step // report_every)
    return gan, scheduler, seen


def assert_one_multiplier(seen: list[list[float]], expected: list[float], ratios: list[float]):
    """Every group of every optimizer at its ratio of the first group's expected LR."""
    for step, (lrs, lr) in enumerate(zip(seen, expected, strict=True)):
        assert lrs == pytest.approx([lr * ratio for ratio in ratios], rel=1e-12, abs=0), step


# --- plain runs ---------------------------------------------------------------------------------
def test_a_gan_follows_one_schedule_from_autolr_schedule(monkeypatch, tmp_path):
    spec = ScheduleSpec("cosine", {"min_ratio": 0.1}, lr=1e-3, total_steps=STEPS,
                        warmup_steps=6)
    path = tmp_path / "best.json"
    path.write_text(spec.to_json())
    monkeypatch.setenv("AUTOLR_SCHEDULE", str(path))
    gan, scheduler, seen = train_gan(
        lambda gan: autolr.scheduler([gan.opt_g, gan.opt_d], total_steps=STEPS))
    # the generator's group gets the schedule's LR; the discriminator's keep their ratio to it
    assert seen[6] == pytest.approx([1e-3, 5e-3, 2.5e-3], rel=1e-12)
    assert_one_multiplier(seen, spec.lrs(), gan.ratios)
    assert scheduler.last_epoch == STEPS
    assert scheduler.get_last_lr() == pytest.approx(gan.lrs(), rel=1e-12)
    assert len(scheduler.get_last_lr()) == 3  # every group of every optimizer, in order


def test_a_plain_run_without_a_schedule_keeps_every_lr(monkeypatch):
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    _, _, seen = train_gan(lambda gan: autolr.scheduler((gan.opt_g, gan.opt_d), total_steps=10),
                           steps=10)
    assert all(lrs == [2e-4, 1e-3, 5e-4] for lrs in seen)


def test_a_gan_with_the_plateau_family_cuts_every_optimizer_together(monkeypatch):
    monkeypatch.delenv("AUTOLR_SCHEDULE", raising=False)
    spec = ScheduleSpec("plateau", {"patience": 0, "factor": 0.5}, lr=2e-4, total_steps=STEPS,
                        warmup_steps=3)
    reports = {step: 1.0 for step in range(4, STEPS, 5)}  # stuck: cut after every report
    gan, _, seen = train_gan(
        lambda gan: autolr.scheduler([gan.opt_g, gan.opt_d], total_steps=STEPS, default=spec),
        reports=reports)
    # the report made after step i reaches the scheduler at the next step: LR of step i + 2
    expected = spec.lrs({step + 1: value for step, value in reports.items()})
    assert min(expected) < spec.lr / 100
    assert_one_multiplier(seen, expected, gan.ratios)


def test_spec_build_takes_a_list_and_its_state_dict_resumes_exactly(monkeypatch):
    spec = ScheduleSpec("onecycle", lr=0.01, total_steps=STEPS, warmup_steps=5)
    _, _, reference = train_gan(lambda gan: spec.build([gan.opt_g, gan.opt_d]))

    gan = TinyGan()
    scheduler = spec.build([gan.opt_g, gan.opt_d])
    for _ in range(23):
        gan.train_step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save({"scheduler": scheduler.state_dict(), "g": gan.opt_g.state_dict(),
                "d": gan.opt_d.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain data only

    fresh = TinyGan()
    resumed = spec.build([fresh.opt_g, fresh.opt_d])
    fresh.opt_g.load_state_dict(saved["g"])
    fresh.opt_d.load_state_dict(saved["d"])
    resumed.load_state_dict(saved["scheduler"])
    assert resumed.last_epoch == 23
    rest = []
    for _ in range(23, STEPS):
        rest.append(fresh.lrs())
        fresh.train_step()
        resumed.step()
    assert [lr for lrs in rest for lr in lrs] == pytest.approx(
        [lr for lrs in reference[23:] for lr in lrs], rel=1e-12, abs=0)

    with pytest.raises(ConfigError, match="drives 2 optimizers.*Got 1 schedulers' states"):
        resumed.load_state_dict({"schedulers": saved["scheduler"]["schedulers"][:1]})


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda gan: [], "must be a torch optimizer, or a list of them. Got \\[\\] instead"),
        (lambda gan: (), "must be a torch optimizer, or a list of them. Got \\(\\) instead"),
        (lambda gan: [gan.opt_g, gan.generator],
         "must hold only torch optimizers, but item 1 of the list is not one. Got Linear"),
        (lambda gan: [gan.opt_g, gan.opt_d, gan.opt_g],
         "must hold each optimizer once. Got the same Adam as items 0 and 2: it would be "
         "stepped twice"),
    ],
    ids=["empty-list", "empty-tuple", "not-an-optimizer", "twice"],
)
def test_a_bad_list_of_optimizers_is_explained(make, match):
    gan = TinyGan()
    for call, owner in ((lambda: autolr.scheduler(make(gan), total_steps=10),
                         "autolr.scheduler"),
                        (lambda: ScheduleSpec("cosine", lr=0.1, total_steps=10).build(make(gan)),
                         "ScheduleSpec.build")):
        with pytest.raises(ConfigError, match=f"'optimizer' parameter of {owner} {match}"):
            call()
    assert gan.lrs() == [2e-4, 1e-3, 5e-4]  # nothing changed


# --- under tuning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["wsd", "plateau"])
def test_a_trial_drives_both_optimizers_and_records_the_first(family):
    seen_by_trial = []

    def train():
        gan, _, seen = train_gan(
            lambda gan: autolr.scheduler([gan.opt_g, gan.opt_d], total_steps=STEPS),
            reports={step: 1.0 for step in range(STEPS)})  # stuck: the plateau family cuts
        seen_by_trial.append((gan.ratios, seen))

    # peak LRs >= 0.01: no plateau cut is small enough for torch's eps to skip it in one group
    result = autolr.tune(train, n_trials=2, families=[family], lr=(0.01, 0.1), baselines=False,
                         search="full", pruner="none", confirm=0, seed=0)
    trials = result.study.trials
    assert len(trials) == len(seen_by_trial) == 2
    for trial, (ratios, seen) in zip(trials, seen_by_trial, strict=True):
        spec = ScheduleSpec.from_json(trial.user_attrs["spec"])
        assert spec.family == family
        first = [lrs[0] for lrs in seen]
        if family == "wsd":
            assert first == pytest.approx(spec.lrs(), rel=1e-12, abs=0)
        assert_one_multiplier(seen, first, ratios)
        assert seen[spec.warmup_steps][0] == pytest.approx(spec.lr)  # the study's peak LR
        # the recorded LR curve is the first optimizer's first group's
        curve = trial.user_attrs["lr_curve"]
        assert curve["lrs"][:STEPS] == pytest.approx(first, rel=1e-12, abs=0)
        assert trial.user_attrs["steps"] == STEPS
        if family == "plateau":
            assert min(first) < spec.lr  # it did cut, both optimizers together


def test_a_second_scheduler_in_a_trial_points_to_the_list_form():
    def twice():
        gan = TinyGan()
        autolr.scheduler(gan.opt_g, total_steps=4)
        autolr.scheduler(gan.opt_d, total_steps=4)

    with pytest.raises(autolr.StudyStopped, match=r"autolr.scheduler\(\[optimizer_g, "):
        autolr.tune(twice, n_trials=3, baselines=False, seed=0)


# --- the exported file ----------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["cosine_restarts", "plateau"])
def test_exported_build_scheduler_takes_a_list(tmp_path, family):
    # patience 1: 11 cuts, each above ReduceLROnPlateau's eps (a smaller one would be skipped)
    params = {"patience": 1, "factor": 0.5} if family == "plateau" else {"period": 0.3}
    spec = ScheduleSpec(family, params, lr=3e-3, total_steps=STEPS, warmup_steps=4)
    module = load_module(export(spec, tmp_path / f"{family}_schedule.py"))
    length = 2 * STEPS
    reports = {step: 1.0 for step in range(4, length, 5)} if spec.metric_driven else None
    expected = spec.with_total_steps(length).lrs(reports)

    gan = TinyGan()
    optimizers = [gan.opt_g, gan.opt_d]
    scheduler = module.build_scheduler(optimizers, total_steps=length)
    warmup = module.build_warmup(optimizers, total_steps=length) if reports else None
    warmup_steps = module.run_length(length)[1]
    seen = []
    for step in range(length):
        seen.append(gan.lrs())
        gan.train_step()
        if reports is None:
            scheduler.step()
            continue
        if step < warmup_steps:
            warmup.step()
        if step in reports and step >= warmup_steps:
            scheduler.step(reports[step])
    assert_one_multiplier(seen, expected, gan.ratios)
    assert scheduler.get_last_lr() == pytest.approx(gan.lrs(), rel=1e-12)
    if reports is None:
        assert scheduler.last_epoch == length
        assert isinstance(module.build_scheduler(TinyGan().opt_g),
                          torch.optim.lr_scheduler.LambdaLR)
    else:
        assert min(expected) < spec.lr / 10


def test_exported_schedulers_state_dict_resumes_exactly(tmp_path):
    spec = ScheduleSpec("linear", {"end_ratio": 0.1}, lr=1e-3, total_steps=STEPS, warmup_steps=6)
    module = load_module(export(spec, tmp_path / "s.py"))
    gan = TinyGan()
    scheduler = module.build_scheduler((gan.opt_g, gan.opt_d))
    for _ in range(20):
        gan.train_step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh = TinyGan()
    resumed = module.build_scheduler([fresh.opt_g, fresh.opt_d])
    fresh.opt_g.load_state_dict(gan.opt_g.state_dict())
    fresh.opt_d.load_state_dict(gan.opt_d.state_dict())
    resumed.load_state_dict(state)
    rest = []
    for _ in range(20, STEPS):
        rest.append(fresh.lrs())
        fresh.train_step()
        resumed.step()
    assert_one_multiplier(rest, spec.lrs()[20:], fresh.ratios)
    with pytest.raises(ValueError, match="holds 1 schedulers; this one has 2"):
        resumed.load_state_dict({"schedulers": state["schedulers"][:1]})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda gan: [], ValueError, "got an empty list. Pass at least one optimizer"),
        (lambda gan: [gan.opt_g, "adam"], TypeError, "item 1 of the list is 'adam'"),
        (lambda gan: object(), TypeError, "optimizer is <object"),
        (lambda gan: (gan.opt_d, gan.opt_d), ValueError,
         "item 1 of the list is already in the list"),
    ],
    ids=["empty", "not-an-optimizer", "no-optimizer", "twice"],
)
def test_exported_build_scheduler_explains_a_bad_list(tmp_path, make, error, match):
    for family in ("cosine", "plateau"):
        spec = ScheduleSpec(family, lr=0.1, total_steps=10, warmup_steps=2)
        module = load_module(export(spec, tmp_path / f"{family}.py"))
        gan = TinyGan()
        with pytest.raises(error, match=match):
            module.build_scheduler(make(gan))
        assert gan.lrs() == [2e-4, 1e-3, 5e-4]  # nothing changed


def test_a_schedule_over_several_optimizers_cuts_into_parts_that_keep_the_multiplier():
    """What the Lightning callback does for a module that steps each optimizer's scheduler
    itself: parts stepped separately still follow the one multiplier."""
    spec = ScheduleSpec("linear", lr=0.2, total_steps=STEPS)
    optimizers = [torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
                  for lr in (0.1, 0.05, 0.01)]
    whole = spec.build(optimizers)
    with pytest.raises(ValueError, match="each of the 3 optimizers' indices once"):
        whole.parts([[0], [1]])
    first, rest = whole.parts([[0], [2, 1]])
    for _ in range(10):
        for optimizer in optimizers:
            optimizer.step()
        first.step()
        rest.step()
    peak = spec.lr * spec.multiplier(10)
    assert [o.param_groups[0]["lr"] for o in optimizers] == pytest.approx(
        [peak, peak / 2, peak / 10])
