"""How ``autolr show``, ``autolr show --json`` and ``autolr report`` scale to a 1,500-trial study.

Goals on this project's 2-core CPU machine: ``autolr show`` under 2 s and ``autolr report`` under
5 s, each the whole CLI process (``python -m autolr``, start-up and imports included), median of
3 runs.

The study is a realistic fidelity-ladder study, made quickly:

1. a few real trials: ``autolr.tune`` on a trivial training function (600 scheduler steps, a
   report every 20), seed 0, in memory. They give the study's settings (the planned ladder) and
   the exact user attributes autolr records for a baseline, a shortened run, a promotion, a full
   run and a confirmation run;
2. the rest made from them: configurations drawn from autolr's own search space
   (:class:`autolr.search.space.SearchSpace` with Optuna's random sampler), each at rung 0, a third
   of them promoted to rung 1 and a ninth to the full runs of rung 2, with values from a smooth
   function of the peak LR plus noise; some runs diverge or fail (with a traceback), the top two
   configurations and the constant baseline are confirmed on two fresh seeds. Every run's
   ``spec`` and ``lr_curve`` are computed from its schedule, as in a real study;
3. written into SQLite in one bulk insert through Optuna's own tables (``study.add_trials``
   takes about 40 s for 1,500 trials here, one ORM round trip per attribute), then read back
   through Optuna and checked.

``tests/reliability/test_scale.py`` builds the same study with :func:`build_study`.

    python benchmarks/scale.py                       # 1,500 trials, 3 runs each
                                                     #   -> results/scale.json and scale.md
    python benchmarks/scale.py --trials 300 --repeats 1 --output-dir /tmp/scale   # a smoke run
    # before/after: the same commands with an older tree's autolr package too
    mkdir /tmp/before && git archive HEAD | tar -x -C /tmp/before
    python benchmarks/scale.py --before /tmp/before
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import cli  # noqa: E402
from harness.files import RESULTS, write_json, write_text  # noqa: E402
from harness.meta import git_commit, machine, versions  # noqa: E402
from scale_report import markdown  # noqa: E402

STUDY = "scale"
TOTAL_STEPS = 600  # scheduler steps of a full run of the trivial training function
REPORT_EVERY = 20  # steps between reports: 30 reports in a full run
WORKERS = 4
GOALS_S = {"show": 2.0, "show --json": 2.0, "report": 5.0}
T0 = dt.datetime(2025, 3, 1, 9, 0, 0)
ERROR = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 41, in <module>\n'
    "    loss = model(x).sub(y).pow(2).mean()\n"
    "RuntimeError: The size of tensor a (64) must match the size of tensor b (32) at non-singleton "
    "dimension 1"
)


# --- 1. real trials ---------------------------------------------------------------------------
def train() -> None:
    """A trivial training function: noisy least squares on one weight vector, stepping the
    scheduler once per step and reporting every REPORT_EVERY steps."""
    import torch

    import autolr

    w = torch.nn.Parameter(torch.zeros(8))
    target = torch.linspace(-1.0, 1.0, 8)
    optimizer = torch.optim.SGD([w], lr=0.05)
    scheduler = autolr.scheduler(optimizer, total_steps=TOTAL_STEPS)
    for step in range(TOTAL_STEPS):
        optimizer.zero_grad()
        noise = 0.3 * torch.randn(8)
        loss = (w - target - noise).pow(2).mean()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % REPORT_EVERY == 0:
            autolr.report(float((w.detach() - target).pow(2).mean()), step=step // REPORT_EVERY)


def real_study(n_trials: int = 8) -> Any:
    """A small real ladder study of :func:`train` in memory (baselines, shortened runs,
    promotions, a full run, a confirmation)."""
    import optuna
    import torch

    import autolr

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return autolr.tune(train, n_trials=n_trials, seed=0, confirm=(2, 1), search="ladder").study
    finally:
        torch.set_num_threads(threads)


# --- 2. the rest, made from them --------------------------------------------------------------
@dataclass
class Made:
    """What :func:`synthesize` made, for the checks: trials by how they end."""

    trials: list[Any] = field(default_factory=list)
    complete: int = 0  # COMPLETE full-fidelity runs, confirmation runs included
    confirmation: int = 0  # of those, confirmation runs
    shortened: int = 0
    pruned: int = 0  # diverged runs (the divergence guard prunes them)
    failed: int = 0
    baselines: int = 0
    configurations: int = 0  # distinct configurations (the baselines included)

    @property
    def total(self) -> int:
        return len(self.trials)


def _templates(study: Any) -> dict[str, Any]:
    """One real trial of each kind, for the attributes they carry."""
    kinds: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if "confirms" in attrs:
            kinds.setdefault("confirmation", trial)
        elif "baseline" in attrs:
            kinds.setdefault("baseline", trial)
        elif attrs.get("reason") == "shortened":
            kinds.setdefault("promoted" if "promoted_from" in attrs else "shortened", trial)
        elif trial.state.name == "COMPLETE":
            kinds.setdefault("full", trial)
    kinds.setdefault("promoted", kinds["shortened"])
    kinds.setdefault("full", kinds["promoted"])
    kinds.setdefault("confirmation", kinds["full"])
    return kinds


def _quality(params: dict[str, Any], constant: float, rng: random.Random) -> float:
    """A full run's loss, relative to the constant baseline's: best near 1.5x the script's LR
    (a little better than the baseline), worse with a long warmup, plus noise."""
    scale = params["lr_scale"]
    shape = 0.7 + 0.8 * math.log(scale / 1.5) ** 2 + 2.0 * params.get("warmup", 0.0)
    return constant * shape * (1.0 + rng.gauss(0.0, 0.05))


def _curve(final: float, reports: int, rng: random.Random) -> dict[int, float]:
    """Reports falling to ``final``."""
    return {k: final * (1.0 + 3.0 / (k + 1)) * (1.0 + rng.gauss(0.0, 0.01))
            for k in range(reports)}


def synthesize(real: Any, n: int = 1500, seed: int = 0) -> tuple[Made, dict[str, Any]]:
    """``n`` trials shaped like ``real``'s (its baselines first), and its settings."""
    import optuna
    from optuna.trial import TrialState

    from autolr.schedules.spec import ScheduleSpec
    from autolr.search.ladder import planned_ladder
    from autolr.search.space import SearchSpace
    from autolr.study.config import SETTINGS_ATTR
    from autolr.trials.control import downsample

    settings = dict(real.user_attrs[SETTINGS_ATTR])
    ladder = planned_ladder(settings)
    assert ladder is not None, "the real study did not plan its ladder"
    kinds = _templates(real)
    base_lr = float(settings["base_lr"])
    rng = random.Random(seed)
    made = Made()
    space = SearchSpace(tuple(settings["families"]), tuple(settings["lr_scale"]),
                        bool(settings["warmup"]), "minimize")
    sampler_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    clock = [0.0]

    def add(kind: str, state: TrialState, spec: ScheduleSpec, params: dict[str, Any],
            distributions: dict[str, Any], value: float | None, *, steps: int, reports: int,
            extra: dict[str, Any], seconds: float) -> Any:
        attrs = {k: v for k, v in kinds[kind].user_attrs.items()
                 if k not in ("promoted_from", "confirms", "confirm_round", "baseline", "rung",
                              "fidelity", "error", "entered_from")}
        number = len(made.trials)
        lrs = spec.lrs()[:steps]
        attrs.update({
            "spec": spec.replace(step_unit="batch").to_dict(), "lr": spec.lr, "base_lr": base_lr,
            "seed": rng.randrange(2**31), "steps": steps, "reports": reports,
            "wall_time_s": round(seconds, 3), "worker": f"main-{number % WORKERS}",
            "lr_curve": downsample(lrs),
            "report_lrs": {str(k): lrs[min(steps, (k + 1) * REPORT_EVERY) - 1]
                           for k in range(reports)} if lrs else {},
            **extra,
        })
        intermediate = _curve(value, reports, rng) if value is not None and reports else {}
        if intermediate:
            intermediate[reports - 1] = value
        trial = optuna.trial.create_trial(
            state=state, value=value, params=params, distributions=distributions,
            user_attrs=attrs, intermediate_values=intermediate,
        )
        start = T0 + dt.timedelta(seconds=clock[0] / WORKERS)
        clock[0] += seconds
        trial.number = number
        trial.datetime_start = start
        trial.datetime_complete = start + dt.timedelta(seconds=seconds)
        made.trials.append(trial)
        return trial

    # the real baselines, unchanged but for their numbers
    baselines = [t for t in real.get_trials(deepcopy=False)
                 if "baseline" in t.user_attrs and "confirms" not in t.user_attrs]
    for trial in baselines:
        copy = optuna.trial.create_trial(
            state=trial.state, value=trial.value, params=trial.params,
            distributions=trial.distributions, user_attrs=dict(trial.user_attrs),
            intermediate_values=trial.intermediate_values,
        )
        copy.number = len(made.trials)
        copy.datetime_start = T0 + dt.timedelta(seconds=clock[0] / WORKERS)
        clock[0] += 10.0
        copy.datetime_complete = copy.datetime_start + dt.timedelta(seconds=10.0)
        made.trials.append(copy)
        made.complete += copy.state == TrialState.COMPLETE
        made.baselines += 1
    made.configurations = len(baselines)
    constant_value = next(float(t.value) for t in baselines
                          if t.user_attrs.get("baseline") == "constant")
    reports_at = [max(1, s // REPORT_EVERY) for s in ladder.steps]
    full_runs: list[tuple[float, Any]] = []
    i = 0
    while len(made.trials) < n - 6:  # room for the confirmations
        ask = sampler_study.ask()
        spec = space.sample(ask, base_lr, TOTAL_STEPS)
        params, dists = dict(ask.params), dict(ask.distributions)
        quality = _quality(params, constant_value, rng)
        made.configurations += 1
        source = None
        for rung, fidelity in enumerate(ladder.fidelities):
            if len(made.trials) >= n - 6:
                break
            if rung == 1 and i % ladder.eta:
                break
            if rung == 2 and i % ladder.eta**2:
                break
            run = spec if rung == ladder.top else spec.shortened(fidelity)
            steps, reports = ladder.steps[rung], reports_at[rung]
            extra: dict[str, Any] = {"rung": rung, "fidelity": fidelity}
            if source is not None:
                extra["promoted_from"] = source.number
            seconds = 0.05 * steps
            if rung == 0 and i % 41 == 7:  # failed in the training code, a few steps in
                add("shortened", TrialState.FAIL, run, params, dists, None, steps=3, reports=0,
                    extra={**extra, "reason": "failed", "error": ERROR}, seconds=0.3)
                made.failed += 1
                break
            if rung == 0 and i % 23 == 5:  # diverged at its second report
                first = quality * 3.0
                add("shortened", TrialState.PRUNED, run, params, dists, first, steps=40,
                    reports=1, extra={**extra, "reason": "diverged",
                                      "error": f"reported {first * 40:.4g}, far above the first "
                                               f"report {first:.4g}"}, seconds=1.0)
                made.pruned += 1
                break
            if rung < ladder.top:
                value = quality * (1.0 + 2.0 * (1.0 - fidelity)) * (1.0 + rng.gauss(0.0, 0.05))
                template = "promoted" if source is not None else "shortened"
                source = add(template, TrialState.PRUNED, run, params, dists, value,
                             steps=steps, reports=reports,
                             extra={**extra, "reason": "shortened",
                                    "error": f"ended at its rung after {steps} of "
                                             f"{TOTAL_STEPS} steps (fidelity {fidelity:.3g})"},
                             seconds=seconds)
                made.shortened += 1
            else:
                trial = add("full", TrialState.COMPLETE, run, params, dists, quality,
                            steps=steps, reports=reports, extra={**extra, "reason": "complete"},
                            seconds=seconds)
                made.complete += 1
                full_runs.append((quality, trial))
        i += 1
    # the top two configurations and the constant baseline, on two fresh seeds
    constant = next(t for t in made.trials if t.user_attrs.get("baseline") == "constant")
    top = [t for _, t in sorted(full_runs, key=lambda vt: vt[0])[:2]]
    for round_ in range(2):
        round_seed = 7_000_000 + round_
        for origin in [*top, constant]:
            if len(made.trials) >= n:
                break
            spec = ScheduleSpec.from_json(origin.user_attrs["spec"])
            value = float(origin.value) * (1.0 + rng.gauss(0.0, 0.05))
            extra = {"confirms": origin.number, "confirm_round": round_, "reason": "complete",
                     "seed": round_seed}
            if "baseline" in origin.user_attrs:
                extra["baseline"] = origin.user_attrs["baseline"]
            add("confirmation", TrialState.COMPLETE, spec, dict(origin.params),
                        dict(origin.distributions), value, steps=spec.total_steps,
                        reports=reports_at[-1], extra=extra, seconds=0.05 * spec.total_steps)
            made.complete += 1
            made.confirmation += 1
    used = sum(t.user_attrs.get("steps", 0) for t in made.trials)
    settings["n_trials"] = math.ceil(used / TOTAL_STEPS)  # the budget these runs spent
    settings["confirm"] = [2, 2]
    return made, settings


# --- 3. into SQLite, quickly ------------------------------------------------------------------
def write_study(url: str, name: str, settings: dict[str, Any], trials: list[Any]) -> Any:
    """Create study ``name`` at ``url`` with ``settings`` and ``trials`` (numbered in order),
    inserting the trials' rows through Optuna's own tables in one transaction; the study is
    read back through Optuna and checked."""
    import optuna
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    from autolr.study.config import SETTINGS_ATTR

    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    study.set_user_attr(SETTINGS_ATTR, settings)

    def utc(moment: dt.datetime | None) -> dt.datetime | None:  # Optuna stores naive UTC
        return None if moment is None else moment.astimezone(dt.timezone.utc).replace(tzinfo=None)

    rows: dict[Any, list[dict[str, Any]]] = {
        models.TrialModel: [], models.TrialValueModel: [], models.TrialParamModel: [],
        models.TrialUserAttributeModel: [], models.TrialIntermediateValueModel: [],
    }
    with storage.engine.begin() as connection:
        first = connection.execute(
            models.TrialModel.__table__.select().with_only_columns(
                models.TrialModel.__table__.c.trial_id)
        ).fetchall()
        next_id = 1 + max((row[0] for row in first), default=0)
        for number, trial in enumerate(trials):
            trial_id = next_id + number
            rows[models.TrialModel].append({
                "trial_id": trial_id, "number": number, "study_id": study._study_id,
                "state": trial.state, "datetime_start": utc(trial.datetime_start),
                "datetime_complete": utc(trial.datetime_complete),
            })
            if trial.value is not None:
                stored, kind = models.TrialValueModel.value_to_stored_repr(trial.value)
                rows[models.TrialValueModel].append({"trial_id": trial_id, "objective": 0,
                                                     "value": stored, "value_type": kind})
            for param, value in trial.params.items():
                distribution = trial.distributions[param]
                rows[models.TrialParamModel].append({
                    "trial_id": trial_id, "param_name": param,
                    "param_value": distribution.to_internal_repr(value),
                    "distribution_json": distribution_to_json(distribution),
                })
            for key, value in trial.user_attrs.items():
                rows[models.TrialUserAttributeModel].append(
                    {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)})
            for step, value in trial.intermediate_values.items():
                model = models.TrialIntermediateValueModel
                stored, kind = model.intermediate_value_to_stored_repr(value)
                rows[model].append({"trial_id": trial_id, "step": step,
                                    "intermediate_value": stored,
                                    "intermediate_value_type": kind})
        for model, values in rows.items():
            if values:
                connection.execute(model.__table__.insert(), values)
    storage.engine.dispose()
    loaded = optuna.load_study(study_name=name, storage=url)
    stored = loaded.get_trials(deepcopy=False)
    assert len(stored) == len(trials), (len(stored), len(trials))
    assert [t.state for t in stored] == [t.state for t in trials]
    assert all(a.user_attrs == b.user_attrs for a, b in zip(stored, trials))
    assert sum(t.state == TrialState.COMPLETE for t in stored) == sum(
        t.state == TrialState.COMPLETE for t in trials)
    return loaded


def build_study(url: str, n: int = 1500, seed: int = 0, name: str = STUDY) -> Made:
    """The benchmark's study of ``n`` trials at ``url`` (a new SQLite file), as ``name``."""
    made, settings = synthesize(real_study(), n, seed)
    write_study(url, name, settings, made.trials)
    return made


# --- timing the commands ----------------------------------------------------------------------
def time_command(args: list[str], cwd: Path, repeats: int,
                 source: Path | None = None) -> dict[str, Any]:
    """Seconds for ``python -m autolr ARGS`` as a fresh process (start-up and imports included),
    ``repeats`` times: each run and the median. ``source``: run the autolr package found there
    instead of the installed one."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autolr", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
        runs.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"autolr {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return {"runs_s": [round(r, 3) for r in runs], "median_s": round(statistics.median(runs), 3)}


def startup_s(cwd: Path, repeats: int) -> float:
    """The median time of ``python -m autolr --version``: the process and its imports alone."""
    return time_command(["--version"], cwd, repeats)["median_s"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: study size, repeats, seed, output folder, an older tree to compare."""
    parser = cli.make_parser(__doc__, paragraph=True)
    parser.add_argument("--trials", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    cli.add_seed(parser)
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--before", type=Path, default=None, metavar="DIR",
                        help="also time the commands with the autolr package in DIR, an older "
                             "tree (git archive COMMIT | tar -x -C DIR), for a before/after")
    parser.add_argument("--before-label", default=None, metavar="TEXT",
                        help="what the --before tree is, for the results")
    return parser.parse_args(argv)


def time_commands(args: argparse.Namespace, commands: dict[str, list[str]],
                  work: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Each command ``args.repeats`` times: its runs, median, goal and whether it was met; and
    with ``--before`` the older tree's runs of the same commands (seconds)."""
    timings: dict[str, Any] = {}
    before: dict[str, Any] | None = None
    if args.before is not None:
        label = args.before_label or f"the autolr package in {args.before}"
        before = {"source": label, "commands": {}}
    for name, command in commands.items():
        # with --before, the two trees alternate run by run: a machine whose load changes
        # (other work on its two cores) weighs on both alike
        runs: list[float] = []
        was: list[float] = []
        for _ in range(args.repeats):
            runs += time_command(command, work, 1)["runs_s"]
            if before is not None:
                was += time_command(command, work, 1, source=args.before)["runs_s"]
        timing = {"runs_s": runs, "median_s": round(statistics.median(runs), 3),
                  "goal_s": GOALS_S[name]}
        timing["met"] = timing["median_s"] < GOALS_S[name]
        timings[name] = timing
        print(f"autolr {name}: {runs} -> median {timing['median_s']:.2f} s "
              f"(goal < {GOALS_S[name]:g} s)")
        if before is not None:
            before["commands"][name] = {"runs_s": was,
                                        "median_s": round(statistics.median(was), 3)}
            print(f"  before: {was} -> median {statistics.median(was):.2f} s")
    return timings, before


def main(argv: list[str] | None = None) -> int:
    """Build the study, time the commands, and write ``scale.json`` and ``scale.md``."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "studies" / f"{STUDY}.db"
        db.parent.mkdir()
        url = f"sqlite:///{db}"
        start = time.perf_counter()
        made = build_study(url, args.trials, args.seed)
        print(f"built {made.total} trials in {time.perf_counter() - start:.1f} s")
        study_args = ["--study", STUDY, "--storage", url]
        commands = {
            "show": ["show", *study_args],
            "show --json": ["show", "--json", *study_args],
            "report": ["report", *study_args, "-o", str(work / "report.html")],
        }
        load_before = os.getloadavg()[0]
        timings, before = time_commands(args, commands, work)
        load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        result = {
            "date": dt.date.today().isoformat(),
            "machine": machine("cpu"),
            "versions": versions(),
            "commit": git_commit(),
            "command": "python benchmarks/scale.py"
                       + (f" --trials {args.trials}" if args.trials != 1500 else "")
                       + (" --before DIR" if args.before is not None else ""),
            "repeats": args.repeats,
            "load_average_1min": load,  # at the start and the end of the timings
            "startup_s": startup_s(work, args.repeats),
            "study": {
                "trials": made.total, "complete": made.complete,
                "confirmation": made.confirmation, "shortened": made.shortened,
                "pruned": made.pruned, "failed": made.failed,
                "configurations": made.configurations,
                "db_mb": db.stat().st_size / 2**20,
                "report_mb": (work / "report.html").stat().st_size / 2**20,
            },
            "commands": timings,
            **({"before": before} if before is not None else {}),
        }
    write_json(args.output_dir / "scale.json", result, indent=2)
    write_text(args.output_dir / "scale.md", markdown(result))
    print(f"wrote {args.output_dir / 'scale.json'} and scale.md")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
