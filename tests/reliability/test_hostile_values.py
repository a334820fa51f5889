"""Hostile values in a study's database: ``autolr show``, ``show --json``, ``export`` and
``report`` print them as text, never as markup, code or escape sequences, and never crash.

Each study is built directly with Optuna, shaped like autolr's own (the user attributes
``autolr/trial_control.py`` records, the settings ``autolr/study_config.py`` keeps), then given
markup, quotes, backslashes, newlines, Python code, huge and non-finite numbers, very long text,
non-ASCII and control characters, missing fields and fields of the wrong type.
"""

from __future__ import annotations

import ast
import datetime as dt
import html.parser
import importlib.util
import json
import math
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

import autolr
from autolr.cli import main
from autolr.reports.stored import read_trials

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
CODE = "__import__('os').system('touch PWNED')"
MARKUP = "[red]markup[/red] [/] [link=file:///etc/passwd]x[/link]"
ESCAPES = "\x1b[31mred\x1b[0m\x1b]0;title\x07\x00\r\x08\u202egnp.exe"
# every kind at once: markup, quotes, backslashes, newlines, code, comments, control characters
EVIL = (f'{SCRIPT} </script> {IMG} {CODE} """ \'\'\' # c \\ \\" a\nb {MARKUP} {ESCAPES} '
        "é€😀 \u2028 &amp; <!--")
LONG = EVIL + "x" * 5000
# what must never reach a page, a terminal or a file as it is
RAW = ("<script>alert", "<img", "onerror=alert", "\x1b", "\x00", "\u202e")
T0 = dt.datetime(2025, 1, 1, 12, 0, 0)
FAMILIES = ["constant", "cosine", "linear", "step"]
EVIL_FAMILY = f"fam {EVIL}"  # a family choice of the study's categorical parameter
CHOICES = [*FAMILIES, EVIL_FAMILY]
LADDER = {"fidelities": [0.1, 1 / 3, 1.0], "steps": [10, 33, 100], "eta": 3,
          "requested": [1 / 9, 1 / 3, 1.0], "notes": [EVIL], "reports": [1, 3, 10]}


def settings(**changes: Any) -> dict[str, Any]:
    """The settings autolr keeps with a ladder study (user attribute ``autolr``)."""
    base = {
        "version": 2, "families": FAMILIES, "warmup": True, "seed": 1, "lr": None,
        "lr_scale": [0.1, 10.0], "widened": 0, "baselines_enqueued": True, "search": "ladder",
        "ladder_request": {"fidelities": [1 / 9, 1 / 3, 1.0], "eta": 3}, "ladder": LADDER,
        "n_trials": 20, "confirm": [1, 1], "seed_arg": None, "pruner": None, "sampler": "tpe",
        "script": "train.py", "script_args": None, "base_lr": 0.1, "total_steps": 100,
    }
    base.update(changes)
    return base


def trial(
    number: int, family: str = "cosine", *, value: float | None = 0.5,
    state: TrialState = TrialState.COMPLETE, params: dict[str, float] | None = None,
    choices: list[Any] | None = None, at_rung: int | None = None, **attrs: Any,
) -> FrozenTrial:
    """A trial as autolr records it (``at_rung``: a run of the fidelity ladder at that rung).
    ``attrs`` replace its user attributes; ``drop_<name>=True`` removes one."""
    family_params = {"min_ratio": 0.1} if family == "cosine" and params is None else params or {}
    steps = 100 if at_rung is None else LADDER["steps"][at_rung]
    spec = {"format": "autolr.schedule", "version": 1, "family": family,
            "params": dict(family_params), "lr": 0.1, "total_steps": steps,
            "warmup_steps": 5, "step_unit": "batch"}
    user = {
        "spec": spec, "lr": 0.1, "base_lr": 0.1, "seed": 1000 + number, "steps": steps,
        "reports": 4, "wall_time_s": 1.5, "worker": "cuda:0", "owner": "host:1:2",
        "reason": {TrialState.COMPLETE: "complete", TrialState.PRUNED: "shortened",
                   TrialState.FAIL: "failed"}.get(state, "complete"),
        "lr_curve": {"steps": [0, steps // 2, steps - 1], "lrs": [0.02, 0.1, 0.01]},
    }
    if at_rung is not None:
        user.update(rung=at_rung, fidelity=LADDER["fidelities"][at_rung])
    for key, new in attrs.items():
        if key.startswith("drop_"):
            user.pop(key[len("drop_"):], None)
        else:
            user[key] = new
    params_all: dict[str, Any] = {"family": family, "lr_scale": 1.0, "warmup": 0.05}
    dists: dict[str, Any] = {
        "family": CategoricalDistribution(choices or CHOICES),
        "lr_scale": FloatDistribution(0.1, 10.0, log=True),
        "warmup": FloatDistribution(0.0, 0.2),
    }
    for name, v in family_params.items():
        if isinstance(v, float):
            params_all[f"{family}.{name}"] = v
            dists[f"{family}.{name}"] = FloatDistribution(-1e308, 1e308)
    done = state in (TrialState.COMPLETE, TrialState.PRUNED)
    made = optuna.trial.create_trial(
        state=state, value=value if done else None, params=params_all, distributions=dists,
        user_attrs=user,
        intermediate_values={0: 1.0, 1: float("nan"), 2: float("inf"), 3: value or 0.3}
        if done else {},
    )
    if state != TrialState.WAITING:
        made.datetime_start = T0 + dt.timedelta(seconds=10 * number)
    if state.is_finished():
        made.datetime_complete = made.datetime_start + dt.timedelta(seconds=5)
    return made


def make_study(tmp_path: Path, trials: list[FrozenTrial], name: str = "hostile",
               study_settings: Any = "default", db: str = "hostile.db") -> str:
    """The study in a new SQLite file ``studies/<db>``; returns its URL."""
    url = f"sqlite:///{tmp_path / 'studies' / db}"
    (tmp_path / "studies").mkdir(exist_ok=True)
    study = optuna.create_study(study_name=name, storage=url)
    if study_settings == "default":
        study_settings = settings()
    if study_settings is not None:
        study.set_user_attr("autolr", study_settings)
    study.add_trials(trials)
    return url


def a_whole_study() -> list[FrozenTrial]:
    """Baselines, shortened runs, a promotion, a winner, a confirmation, failures: every kind of
    trial an autolr ladder study holds, hostile text wherever autolr keeps text."""
    return [
        trial(0, "constant", value=0.6, params={}, baseline="constant"),
        trial(1, "cosine", value=0.45, params={"min_ratio": 0.0}, baseline=EVIL, worker=EVIL,
              step_mismatch=LONG),
        trial(2, "cosine", state=TrialState.PRUNED, value=0.3, at_rung=0, worker=LONG,
              error=f"ended at its rung {EVIL}"),
        trial(3, EVIL_FAMILY, state=TrialState.PRUNED, value=0.2, at_rung=0, params={"p": 0.5}),
        trial(4, "cosine", state=TrialState.PRUNED, value=0.25, at_rung=1, promoted_from=2,
              ),
        trial(5, "cosine", value=0.1, at_rung=2, promoted_from=4),
        trial(6, "cosine", value=0.12, confirms=5, confirm_round=0, seed=77),
        trial(7, "constant", value=0.61, params={}, baseline="constant", confirms=0,
              confirm_round=0, seed=77),
        trial(8, "step", state=TrialState.FAIL, value=None, at_rung=0, reason=EVIL,
              error=f"Traceback (most recent call last):\nValueError: {LONG}"),
        trial(9, "linear", state=TrialState.PRUNED, value=40.0, at_rung=0, reason="diverged",
              error=EVIL),
    ]


def cli(*args: str, cwd: Path) -> tuple[int, str]:
    """``autolr ARGS`` in-process (colours off); an exception is a test failure, not a result."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False,
                                env={"NO_COLOR": "1", "FORCE_COLOR": None, "COLUMNS": "1000"})
    return result.exit_code, result.output


def study_args(url: str, name: str = "hostile") -> list[str]:
    return ["--study", name, "--storage", url]


def strict_json(text: str) -> Any:
    """JSON as the standard has it: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# --- show ----------------------------------------------------------------------------------
def test_show_prints_database_text_as_text(tmp_path, tally):
    name = f"study {EVIL}"[:300]
    url = make_study(tmp_path, a_whole_study(),
                     name=name, study_settings=settings(ladder_fallback=EVIL))
    tally.bad_input(12)
    code, out = cli("show", "--top", "20", *study_args(url, name), cwd=tmp_path)
    assert code == 0, out
    for raw in RAW[3:]:  # the terminal sees no escape sequence, NUL or bidi override
        assert raw not in out, repr(raw)
    assert "\r" not in out
    assert "\\x1b[31mred" in out and "\\u202e" in out  # shown, escaped
    assert MARKUP in out  # rich markup printed literally, not interpreted
    assert SCRIPT in out  # a terminal has no HTML: shown as it is
    assert "Study study <script>" in out
    assert "(baseline)" in out and "Winner (best mean over fresh seeds): trial 5" in out
    assert "Best schedule:" in out and '"family": "cosine"' in out


def test_show_json_is_strict_json_with_every_field_typed(tmp_path, tally):
    trials = [
        trial(0, value=float("inf"), lr=float("nan")),
        trial(1, value=-1e308, lr=10**400, seed=10**400),
        trial(2, value=1e308, lr=EVIL, spec={"family": 5, "params": EVIL, "warmup_steps": 1.5,
                                               "total_steps": EVIL}),
        trial(3, value=float("-inf"), baseline=7, spec=None),
        trial(4, value=0.2, spec=[1, 2]),
    ]
    url = make_study(tmp_path, trials, study_settings=settings(n_trials=EVIL, ladder=EVIL))
    tally.bad_input(14)
    code, out = cli("show", "--json", *study_args(url), cwd=tmp_path)
    assert code == 0, out
    shown = strict_json(out)
    assert shown["counts"]["complete"] == 5 and shown["ladder"] is None
    rows = {row["trial"]: row for row in shown["top"]}
    assert rows[3]["value"] is None and rows[0]["value"] is None  # infinities: null
    assert rows[1]["value"] == -1e308 and rows[2]["value"] == 1e308
    for row in rows.values():
        assert row["lr"] is None or isinstance(row["lr"], float)
        assert isinstance(row["params"], dict)
        assert row["warmup"] is None or isinstance(row["warmup"], int)
        assert row["family"] is None or isinstance(row["family"], str)
        assert row["baseline"] is None or isinstance(row["baseline"], str)
    assert rows[1]["lr"] is None and rows[2]["lr"] is None and rows[2]["params"] == {}
    assert rows[3]["baseline"] == "7" and rows[2]["family"] == "cosine"
    code, out = cli("show", *study_args(url), cwd=tmp_path)
    assert code == 0, out


# --- fields missing or of the wrong type ----------------------------------------------------
BROKEN_ATTRS = {
    "spec missing": {"drop_spec": True},
    "spec a string": {"spec": EVIL},
    "spec a list": {"spec": [EVIL, 1]},
    "spec params a string": {"spec": {"family": "cosine", "params": EVIL, "lr": 0.1,
                                      "total_steps": 100}},
    "spec lr huge int": {"spec": {"family": "cosine", "params": {}, "lr": 10**400,
                                  "total_steps": 100}},
    "spec steps huge int": {"spec": {"family": "cosine", "params": {}, "lr": 0.1,
                                     "total_steps": 10**400, "warmup_steps": 10**399}},
    "spec lr infinite": {"spec": {"family": "cosine", "params": {}, "lr": float("inf"),
                                  "total_steps": 100}},
    "spec unknown family": {"spec": {"family": EVIL, "params": {}, "lr": 0.1,
                                     "total_steps": 100}},
    "spec code as parameter": {"spec": {"family": "cosine", "params": {CODE: 1}, "lr": 0.1,
                                        "total_steps": 100}},
    "lr a dict": {"lr": {"a": EVIL}},
    "lr a huge int": {"lr": 10**400},
    "seed text": {"seed": EVIL},
    "seed a list": {"seed": [1, 2]},
    "steps huge": {"steps": 10**400},
    "steps text": {"steps": EVIL},
    "rung text": {"rung": EVIL},
    "rung huge": {"rung": 10**400},
    "fidelity NaN": {"fidelity": float("nan")},
    "fidelity text": {"fidelity": EVIL},
    "promoted_from text": {"promoted_from": EVIL},
    "confirms text": {"confirms": EVIL, "confirm_round": 0},
    "confirms huge": {"confirms": 10**400},
    "confirm_round text": {"confirms": 0, "confirm_round": EVIL},
    "baseline a number": {"baseline": 5},
    "reason a list": {"reason": [EVIL]},
    "error a dict": {"error": {"x": EVIL}},
    "worker a number": {"worker": 10**400},
    "lr_curve text": {"lr_curve": EVIL},
    "lr_curve mismatched": {"lr_curve": {"steps": [0, 1, 2], "lrs": [EVIL, 10**400]}},
    "lr_curve huge": {"lr_curve": {"steps": [0, 10**400], "lrs": [1e308, float("nan")]}},
    "step_mismatch a list": {"step_mismatch": [EVIL]},
}
BROKEN_SETTINGS = {
    "settings text": EVIL,
    "settings a list": [1, EVIL],
    "settings none": None,
    "ladder eta 0": settings(ladder={**LADDER, "eta": 0}),
    "ladder unsorted": settings(ladder={**LADDER, "steps": [33, 10, 100]}),
    "ladder text": settings(ladder={**LADDER, "fidelities": EVIL}),
    "ladder huge steps": settings(ladder={**LADDER, "steps": [10, 33, 10**400]}),
    "n_trials text": settings(n_trials=EVIL),
    "widened text": settings(widened=EVIL),
    "lr_scale text": settings(lr_scale=[EVIL, 1e308]),
    "lr huge": settings(lr=[1e-308, 10**400], base_lr=1e-308),
    "base_lr text": settings(base_lr=EVIL),
    "families text": settings(families=EVIL),
    "fallback a dict": settings(ladder_fallback={"x": EVIL}, search="full", ladder=None),
}


def every_command(url: str, tmp_path: Path) -> dict[str, tuple[int, str]]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return {
        "show": cli("show", *study_args(url), cwd=tmp_path),
        "show --json": cli("show", "--json", *study_args(url), cwd=tmp_path),
        "export": cli("export", "-o", str(out / "best.py"), "--force", *study_args(url),
                      cwd=tmp_path),
        "export json": cli("export", "--format", "json", "-o", "-", *study_args(url),
                           cwd=tmp_path),
        "report": cli("report", "-o", str(out / "r.html"), *study_args(url), cwd=tmp_path),
    }


def check_commands(results: dict[str, tuple[int, str]]) -> None:
    """show, show --json and report always work; export works or says why in a sentence."""
    for command, (code, out) in results.items():
        assert "Traceback" not in out, (command, out)
        if command.startswith("export"):
            assert code in (0, 1), (command, out)
            if code == 1:
                assert out.startswith("Error: ") and len(out) > 80, out
                assert re.search(r"trial \d+|Trial \d+|#\d+", out), out  # which trial
        else:
            assert code == 0, (command, out)
    strict_json(results["show --json"][1])


@pytest.mark.parametrize("broken", list(BROKEN_ATTRS), ids=list(BROKEN_ATTRS))
def test_a_trial_attribute_missing_or_of_the_wrong_type(tmp_path, tally, broken):
    changes = BROKEN_ATTRS[broken]
    trials = [trial(0, "constant", value=0.6, params={}, baseline="constant"),
              trial(1, value=0.2, **changes),  # the best trial, broken
              trial(2, state=TrialState.PRUNED, value=0.3, at_rung=0, **changes),
              trial(3, value=0.25, at_rung=2, **{"promoted_from": 2, **changes})]
    url = make_study(tmp_path, trials)
    tally.bad_input(len(changes))
    results = every_command(url, tmp_path)
    check_commands(results)
    report = (tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert "autolr report: hostile" in report


@pytest.mark.parametrize("broken", list(BROKEN_SETTINGS), ids=list(BROKEN_SETTINGS))
def test_the_studys_settings_missing_or_of_the_wrong_type(tmp_path, tally, broken):
    url = make_study(tmp_path, a_whole_study(), study_settings=BROKEN_SETTINGS[broken])
    tally.bad_input()
    results = every_command(url, tmp_path)
    check_commands(results)
    assert results["export"][0] == 0, results["export"][1]  # the trials are sound


def test_huge_and_non_finite_numbers(tmp_path, tally):
    """Values near the float limit, confirmed on seeds (a mean of them overflows), infinite
    and NaN reports, an infinite best value, a run of 10**12 steps."""
    long_run = {"family": "cosine", "params": {"min_ratio": 0.1}, "lr": 1e-300,
                "total_steps": 10**12, "warmup_steps": 10**11, "step_unit": "batch"}
    trials = [
        trial(0, "constant", value=1e308, params={}, baseline="constant"),
        trial(1, value=1e308, lr=1e308, base_lr=1e-308),
        trial(2, value=1e308, confirms=1, confirm_round=0),
        trial(3, "constant", value=1e308, params={}, baseline="constant", confirms=0,
              confirm_round=0),
        trial(4, value=-1e307, spec=long_run, steps=10**12),
        trial(5, value=float("inf")),
    ]
    url = make_study(tmp_path, trials, study_settings=settings(ladder=None, search="full"))
    tally.bad_input(8)
    results = every_command(url, tmp_path)
    check_commands(results)
    shown = strict_json(results["show --json"][1])
    assert shown["top"][0]["trial"] == 4 and shown["top"][0]["value"] == -1e307
    assert results["export"][0] == 0, results["export"][1]
    exported = (tmp_path / "out" / "best.py").read_text(encoding="utf-8")
    assert "TOTAL_STEPS = 1000000000000 " in exported and "PEAK_LR = 1e-300" in exported

    # an infinite best value cannot be recorded in an export: said with the rule and the fix
    url = make_study(tmp_path, [trial(0, value=float("-inf")), trial(1, value=0.5)],
                     db="infinite.db")
    code, out = cli("export", "-o", "-", *study_args(url), cwd=tmp_path)
    assert code == 1 and "Traceback" not in out
    assert "#0" in out and "-inf" in out and "must be a finite number" in out
    assert "autolr.report" in out  # what to fix


def test_a_study_with_several_objectives_is_refused_in_a_sentence(tmp_path, tally):
    url = f"sqlite:///{tmp_path / 'multi.db'}"
    study = optuna.create_study(study_name="multi", storage=url,
                                directions=["minimize", "maximize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    tally.bad_input()
    for args in (["show"], ["show", "--json"], ["export", "-o", "-"],
                 ["report", "-o", str(tmp_path / "r.html")]):
        code, out = cli(*args, "--study", "multi", "--storage", url, cwd=tmp_path)
        assert code == 1 and "Traceback" not in out, (args, out)
        assert "2 objectives" in out and "single-objective" in out


def test_an_attribute_that_is_not_json_is_named(tmp_path, tally):
    url = make_study(tmp_path, [trial(0), trial(1, value=0.1)])
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE trial_user_attributes SET value_json = ? WHERE key = 'worker'",
                   ("{not json " + EVIL,))
    tally.bad_input()
    code, out = cli("show", *study_args(url), cwd=tmp_path)
    assert code == 1 and "Traceback" not in out
    assert "'worker'" in out and "not JSON" in out and "Restore it from a backup" in out
    assert "\x1b" not in out and "\x00" not in out


# --- export ----------------------------------------------------------------------------------
def _docstrings_removed(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first.value.value = ""
    return tree


def test_the_exported_file_holds_no_code_from_the_database(tmp_path, tally):
    name = f"x{EVIL}"[:400]
    trials = a_whole_study()
    url = make_study(tmp_path, trials, name=name)
    tally.bad_input(10)
    target = tmp_path / "best_schedule.py"
    code, out = cli("export", "-o", str(target), *study_args(url, name), cwd=tmp_path)
    assert code == 0, out
    text = target.read_text(encoding="utf-8")
    tree = ast.parse(text)  # it compiles
    compile(text, str(target), "exec")
    assert "\x00" not in text and "\x1b" not in text and "\r" not in text
    doc = ast.get_docstring(tree)
    assert doc is not None and "<script>alert(1)</script>" in doc  # the name, as text
    code_only = ast.unparse(_docstrings_removed(tree))
    for raw in ("alert", "onerror", "PWNED", "__import__", "markup", "passwd"):
        assert raw not in code_only, raw
    # module-level names: only the constants autolr writes, holding numbers and short words
    assigned = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            (target_name,) = node.targets
            assigned[target_name.id] = ast.literal_eval(node.value)
    assert set(assigned) == {"PEAK_LR", "TOTAL_STEPS", "WARMUP_STEPS", "STEP_UNIT", "MIN_RATIO"}
    assert all(isinstance(v, (int, float)) or re.fullmatch(r"[a-z]+", v)
               for v in assigned.values())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert imported <= {"math", "torch"}
    # it runs, and reproduces the winner's schedule
    spec = importlib.util.spec_from_file_location("hostile_best", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    winner = autolr.ScheduleSpec.from_json(trials[5].user_attrs["spec"])
    assert module.lrs() == pytest.approx(winner.lrs(), rel=1e-12)
    assert not (tmp_path / "PWNED").exists()
    # JSON export: the name survives as data, and the file loads as a schedule
    code, out = cli("export", "--format", "json", "-o", str(tmp_path / "b.json"),
                    *study_args(url, name), cwd=tmp_path)
    assert code == 0, out
    data = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert data["found_by"]["study"] == name
    assert autolr.load_schedule(tmp_path / "b.json") == winner


def sawtooth_factor(step, total_steps, teeth=3, shape="down"):
    period = total_steps / teeth
    phase = (step % period) / period
    return 1 - phase if shape == "down" else phase


@pytest.fixture()
def sawtooth():
    autolr.register_family("sawtooth_hostile", factor=sawtooth_factor,
                           space=lambda t: {"teeth": t.suggest_int("teeth", 2, 6)})
    yield "sawtooth_hostile"
    autolr.unregister_family("sawtooth_hostile")


@pytest.mark.parametrize("value", [CODE, EVIL, 'down"; import os #', "down\nimport os"])
def test_a_registered_familys_parameter_that_is_code_is_refused(tmp_path, tally, sawtooth,
                                                                 value):
    spec = {"family": sawtooth, "params": {"teeth": 3, "shape": value}, "lr": 0.1,
            "total_steps": 100, "warmup_steps": 0}
    url = make_study(tmp_path, [trial(0, sawtooth, params={}, spec=spec,
                                      choices=[sawtooth])])
    tally.bad_input()
    target = tmp_path / "best_schedule.py"
    code, out = cli("export", "-o", str(target), *study_args(url), cwd=tmp_path)
    assert code == 1 and not target.exists(), out
    assert "Traceback" not in out and "trial 0" in out
    assert "'shape'" in out and "must be a word of 1 to 64 letters" in out  # the rule
    assert "re-run the study" in out or "Python API" in out  # the fix
    # the same schedule with a plain word exports, and its word is written as data
    spec["params"]["shape"] = "up"
    url = make_study(tmp_path, [trial(0, sawtooth, params={}, spec=spec, choices=[sawtooth])],
                     db="plain.db")
    code, out = cli("export", "-o", str(target), *study_args(url), cwd=tmp_path)
    assert code == 0, out
    assert 'SHAPE = "up"' in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("facts", [
    {"note": [CODE]}, {"value": float("nan")}, {"seed": 10**400}, {EVIL: 1},
    {"confirmed": {"mean": {"x": 1}}},
])
def test_export_from_python_refuses_facts_it_cannot_write(tmp_path, tally, facts):
    tally.bad_input()
    spec = autolr.ScheduleSpec("cosine", {"min_ratio": 0.1}, lr=0.1, total_steps=100)
    with pytest.raises(autolr.ConfigError) as caught:
        autolr.export(spec, tmp_path / "best.py", found_by=facts)
    message = str(caught.value)
    assert "'found_by' parameter of export" in message and "Got " in message
    assert "leave " in message  # the fix
    assert not (tmp_path / "best.py").exists()
    # free text is written as text
    written = autolr.export(spec, tmp_path / "ok.py", found_by={"note": EVIL})
    text = written.read_text(encoding="utf-8")
    assert CODE not in ast.unparse(_docstrings_removed(ast.parse(text)))


# --- report ----------------------------------------------------------------------------------
class Page(html.parser.HTMLParser):
    """Every element of a page and the text of each script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)


TAGS = {"html", "head", "meta", "title", "style", "script", "body", "pre", "header", "div",
        "h1", "h2", "h3", "p", "main", "nav", "a", "section", "figure", "table", "caption",
        "thead", "tbody", "tr", "th", "td", "code", "span", "strong", "ul", "li", "br", "footer"}
ATTRS = {"lang", "charset", "name", "content", "data-plots", "id", "hidden", "class", "href",
         "type", "data-figure"}


def test_the_report_has_no_markup_from_the_database(tmp_path, tally):
    name = f"r{EVIL}"[:300]
    trials = a_whole_study()
    url = make_study(tmp_path, trials, name=name,
                     study_settings=settings(ladder_fallback=EVIL))
    tally.bad_input(12)
    target = tmp_path / "r.html"
    code, out = cli("report", "-o", str(target), *study_args(url, name), cwd=tmp_path)
    assert code == 0, out
    page = Page()
    page.feed(target.read_text(encoding="utf-8"))
    page.close()
    tags = {tag for tag, _ in page.tags}
    assert tags <= TAGS, tags - TAGS  # no <img>, no injected <script> element
    for tag, attrs in page.tags:
        assert set(attrs) <= ATTRS, (tag, attrs)  # no onerror=, no src=
        if tag == "a":
            assert (attrs["href"] or "").startswith("#")
    figures = int(next(a["data-plots"] for t, a in page.tags if t == "body"))
    json_blocks = [text for attrs, text in page.scripts if attrs.get("type")]
    assert len(page.scripts) == figures + 3 and len(json_blocks) == figures
    for text in json_blocks:  # nothing that could end the script element early
        assert "</" not in text and "<!--" not in text and "<" not in text
        figure = json.loads(text)
        labels = json.dumps(figure)
        assert "<script" not in labels and "<img" not in labels  # escaped for plotly
    assert "</script" not in page.scripts[-1][1]  # the drawing script, with the config
    shown = "".join(page.text)
    assert SCRIPT in shown and IMG in shown  # the database text, as text


# --- the fast reader -----------------------------------------------------------------------
def test_the_trials_read_for_show_are_optunas_own(tmp_path, tally):
    url = make_study(tmp_path, [*a_whole_study(), trial(10, state=TrialState.RUNNING),
                                trial(11, state=TrialState.WAITING)])
    study = optuna.load_study(study_name="hostile", storage=url)
    tally.bad_input()
    mine = read_trials(study)
    theirs = study.get_trials(deepcopy=False)
    assert [repr(t) for t in mine] == [repr(t) for t in theirs]  # NaN reports: == fails
    assert [t._trial_id for t in mine] == [t._trial_id for t in theirs]
    assert [t.system_attrs for t in mine] == [t.system_attrs for t in theirs]
    assert math.isnan(mine[1].intermediate_values[1])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
