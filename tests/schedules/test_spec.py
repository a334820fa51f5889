"""``ScheduleSpec``: validation messages, defaults, JSON, horizons, the registry and the warmup."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

import pytest
import torch

import autolr
from autolr import ScheduleSpec, families, family_info, load_schedule
from autolr.errors import AutolrError, ConfigError, ConfigTypeError
from autolr.schedules import get_family
from autolr.schedules.base import PrefixedTrial

BUILTINS = [
    "constant", "step", "multistep", "exponential", "cosine", "cosine_restarts", "linear",
    "polynomial", "onecycle", "cyclic", "wsd", "rex", "inverse_sqrt", "plateau",
]


def spec(family: str = "cosine", params: dict[str, Any] | None = None, **kwargs: Any):
    values: dict[str, Any] = {"lr": 0.1, "total_steps": 100}
    values.update(kwargs)
    return ScheduleSpec(family, params if params is not None else {}, **values)


def test_errors_are_value_and_type_errors() -> None:
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, AutolrError)
    assert issubclass(ConfigTypeError, TypeError) and issubclass(ConfigTypeError, AutolrError)


# --- family names ----------------------------------------------------------------------------
def test_builtin_families_in_catalogue_order() -> None:
    assert families(builtin=True) == BUILTINS
    assert families()[: len(BUILTINS)] == BUILTINS  # user families come after the built-ins
    assert not set(families(builtin=False)) & set(BUILTINS)


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        spec("sawtooth")
    message = str(info.value)
    assert message.startswith("The 'family' parameter of ScheduleSpec must be one of {")
    assert "Got 'sawtooth' instead." in message
    for name in BUILTINS:
        assert repr(name) in message


@pytest.mark.parametrize(
    "typo,meant",
    [("cosin", "cosine"), ("Cosine", "cosine"), ("onecylce", "onecycle"),
     ("cosine_restart", "cosine_restarts"), ("exponentail", "exponential"),
     ("plateu", "plateau")],
)
def test_misspelled_family_suggests_the_close_one(typo: str, meant: str) -> None:
    expected = f"Got {typo!r} instead. Did you mean {meant!r}?"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        spec(typo)


@pytest.mark.parametrize("family", [None, 3, ["cosine"]])
def test_family_of_the_wrong_type(family: Any) -> None:
    with pytest.raises(ConfigError, match=r"The 'family' parameter of ScheduleSpec must be one of"):
        ScheduleSpec(family, {}, lr=0.1, total_steps=10)


# --- lr, total_steps, warmup_steps, step_unit ----------------------------------------------------
@pytest.mark.parametrize(
    "lr,rule,shown",
    [
        (-1.0, "must be > 0", "-1.0"),
        (-1, "must be > 0", "-1.0"),
        (0, "must be > 0", "0.0"),
        (0.0, "must be > 0", "0.0"),
        (math.nan, "must be a finite number", "nan"),
        (math.inf, "must be a finite number", "inf"),
        (-math.inf, "must be a finite number", "-inf"),
    ],
)
def test_bad_lr_value(lr: float, rule: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        spec(lr=lr)
    assert str(info.value) == f"The 'lr' parameter of ScheduleSpec {rule}. Got {shown} instead."


@pytest.mark.parametrize("lr", ["0.1", True, [0.1], None])
def test_bad_lr_type(lr: Any) -> None:
    error = ConfigError if lr is None else ConfigTypeError
    with pytest.raises(error, match=r"The 'lr' parameter of ScheduleSpec"):
        spec(lr=lr)


def test_lr_and_total_steps_are_required() -> None:
    with pytest.raises(ConfigError, match=r"The 'lr' parameter of ScheduleSpec is required"):
        ScheduleSpec("cosine", {}, total_steps=10)
    with pytest.raises(ConfigError, match=r"The 'total_steps' parameter of ScheduleSpec is requ"):
        ScheduleSpec("cosine", {}, lr=0.1)


def test_numeric_lr_of_other_types_is_accepted() -> None:
    assert spec(lr=1).lr == 1.0 and isinstance(spec(lr=1).lr, float)
    assert spec(lr=torch.tensor(0.5)).lr == 0.5


@pytest.mark.parametrize(
    "total,error,rule",
    [
        (0, ConfigError, "must be >= 1. Got 0 instead."),
        (-5, ConfigError, "must be >= 1. Got -5 instead."),
        (10.5, ConfigError, "must be an integer. Got 10.5 instead."),
        (math.inf, ConfigError, "must be an integer. Got inf instead."),
        (math.nan, ConfigError, "must be an integer. Got nan instead."),
        ("100", ConfigTypeError, "must be an integer. Got '100' instead."),
        (True, ConfigTypeError, "must be an integer. Got True instead."),
    ],
)
def test_bad_total_steps(total: Any, error: type, rule: str) -> None:
    with pytest.raises(error) as info:
        spec(total_steps=total)
    assert str(info.value) == f"The 'total_steps' parameter of ScheduleSpec {rule}"


def test_integral_float_total_steps_becomes_an_int() -> None:
    s = spec(total_steps=100.0)
    assert s.total_steps == 100 and isinstance(s.total_steps, int)


@pytest.mark.parametrize("warmup", [100, 101, 1000])
def test_warmup_must_be_shorter_than_the_run(warmup: int) -> None:
    with pytest.raises(ConfigError) as info:
        spec(total_steps=100, warmup_steps=warmup)
    assert str(info.value).startswith(
        f"The 'warmup_steps' parameter of ScheduleSpec must be smaller than total_steps (100). "
        f"Got {warmup} instead."
    )


@pytest.mark.parametrize("warmup,error", [(-1, ConfigError), (2.5, ConfigError),
                                          ("5", ConfigTypeError)])
def test_bad_warmup_steps(warmup: Any, error: type) -> None:
    with pytest.raises(error, match=r"The 'warmup_steps' parameter of ScheduleSpec must be"):
        spec(warmup_steps=warmup)


def test_bad_step_unit() -> None:
    with pytest.raises(ConfigError) as info:
        spec(step_unit="epochs")
    assert str(info.value) == (
        "The 'step_unit' parameter of ScheduleSpec must be one of {'step', 'batch', 'epoch'}. "
        "Got 'epochs' instead. Did you mean 'epoch'?"
    )


# --- family parameters -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "milestones,rule",
    [
        ([0.6, 0.3], "must be strictly increasing"),
        ([0.5, 0.5], "must be strictly increasing"),
        ([0.0, 0.5], "The 'milestones[0]' parameter of the 'multistep' family must be in the "
                     "range (0, 1). Got 0.0 instead."),
        ([0.5, 1.0], "The 'milestones[1]' parameter of the 'multistep' family must be in the "
                     "range (0, 1). Got 1.0 instead."),
        ([-0.2, 0.5], "range (0, 1). Got -0.2 instead."),
        ([0.5, 1.5], "range (0, 1). Got 1.5 instead."),
        ([], "must hold at least one number"),
        ("0.5", "must be a list of numbers"),
        ({0.5: 0.1}, "must be a list of numbers"),
    ],
)
def test_bad_milestones(milestones: Any, rule: str) -> None:
    params = {"milestones": milestones}
    if isinstance(milestones, list) and milestones:
        params["gammas"] = [0.1] * len(milestones)
    with pytest.raises(ConfigError) as info:
        spec("multistep", params)
    assert rule in str(info.value)
    assert "'multistep' family" in str(info.value)


def test_gammas_must_match_milestones() -> None:
    with pytest.raises(ConfigError) as info:
        spec("multistep", {"milestones": [0.3, 0.6, 0.9]})
    assert str(info.value) == (
        "The 'gammas' parameter of the 'multistep' family must hold one factor per milestone "
        "(3). Got [0.1, 0.1] instead. Give as many gammas as milestones."
    )


def test_milestones_given_as_a_tuple_become_a_list() -> None:
    s = spec("multistep", {"milestones": (0.2, 0.4), "gammas": (0.5, 0.5)})
    assert s.params == {"milestones": [0.2, 0.4], "gammas": [0.5, 0.5]}


def test_unknown_parameter_lists_the_family_parameters() -> None:
    with pytest.raises(ConfigError) as info:
        spec("step", {"decay": 0.5})
    assert str(info.value) == (
        "The 'params' parameter of the 'step' family must name only the family's parameters. "
        "Got 'decay' instead. The 'step' family takes: 'every', 'gamma'."
    )


def test_misspelled_parameter_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError, match=r"Got 'gama' instead\. Did you mean 'gamma'"):
        spec("step", {"gama": 0.5})


def test_family_prefixed_parameter_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        spec("step", {"step.gamma": 0.5})
    message = str(info.value)
    assert "Got 'step.gamma' instead." in message
    assert "Write 'gamma' instead of 'step.gamma'" in message
    assert "without the family prefix" in message


def test_several_unknown_parameters_are_all_named() -> None:
    with pytest.raises(ConfigError, match=r"Got \['bar', 'foo'\] instead"):
        spec("cosine", {"foo": 1, "bar": 2})
    with pytest.raises(ConfigError, match=r"Got \['x', 1\] instead"):
        spec("cosine", {1: 1, "x": 2})


def test_family_without_parameters_says_so() -> None:
    with pytest.raises(ConfigError, match=r"The 'constant' family takes: none\."):
        spec("constant", {"gamma": 0.5})


@pytest.mark.parametrize("value", ["0.1", True, None, [0.1]])
def test_non_number_where_a_number_belongs(value: Any) -> None:
    with pytest.raises(ConfigTypeError) as info:
        spec("step", {"gamma": value})
    assert str(info.value) == (
        f"The 'gamma' parameter of the 'step' family must be a number. Got {value!r} instead."
    )


@pytest.mark.parametrize(
    "family,params,message",
    [
        ("step", {"gamma": 0.0}, "The 'gamma' parameter of the 'step' family must be in the "
                                 "range (0, 1]. Got 0.0 instead."),
        ("step", {"gamma": 1.5}, "range (0, 1]. Got 1.5 instead."),
        ("step", {"gamma": math.nan}, "must be a finite number. Got nan instead."),
        ("cosine", {"min_ratio": -0.1}, "range [0, 1]. Got -0.1 instead."),
        ("cosine_restarts", {"mult": 1.5}, "The 'mult' parameter of the 'cosine_restarts' "
                                           "family must be an integer. Got 1.5 instead."),
        ("cosine_restarts", {"mult": 0}, "range [1, 4]. Got 0 instead."),
        ("exponential", {"decay_steps": 0}, "must be > 0. Got 0.0 instead."),
        ("plateau", {"patience": -1}, "must be >= 0. Got -1 instead."),
        ("onecycle", {"div_factor": 0.5}, "must be >= 1. Got 0.5 instead."),
        ("onecycle", {"pct_start": 1.0}, "range (0, 1). Got 1.0 instead."),
    ],
)
def test_number_out_of_range(family: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        spec(family, params)
    assert message in str(info.value)


def test_bool_parameter_wants_a_bool() -> None:
    with pytest.raises(ConfigTypeError) as info:
        spec("exponential", {"staircase": 1})
    assert str(info.value) == (
        "The 'staircase' parameter of the 'exponential' family must be True or False. "
        "Got 1 instead."
    )


def test_wrong_choice_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        spec("cyclic", {"mode": "triangle"})
    assert str(info.value) == (
        "The 'mode' parameter of the 'cyclic' family must be one of "
        "{'triangular', 'triangular2', 'exp_range'}. Got 'triangle' instead. "
        "Did you mean 'triangular'?"
    )
    with pytest.raises(ConfigError, match=r"The 'anneal' parameter of the 'onecycle' family"):
        spec("onecycle", {"anneal": ["cos"]})


@pytest.mark.parametrize("params", [None, [("gamma", 0.5)], "gamma=0.5"])
def test_params_must_be_a_dict(params: Any) -> None:
    with pytest.raises(ConfigError, match=r"The 'params' parameter of ScheduleSpec must be a dict"):
        ScheduleSpec("step", params, lr=0.1, total_steps=10)


# --- defaults --------------------------------------------------------------------------------
@pytest.mark.parametrize("family", BUILTINS)
def test_omitted_params_take_the_defaults(family: str) -> None:
    defaults = {p["name"]: p["default"] for p in family_info(family)["params"]}
    assert spec(family).params == defaults
    assert ScheduleSpec(family, lr=0.1, total_steps=10).params == defaults


def test_given_params_override_only_themselves() -> None:
    s = spec("cyclic", {"mode": "exp_range"})
    assert s.params == {"period": 0.25, "up": 0.5, "base_ratio": 0.1, "mode": "exp_range",
                        "end_scale": 0.1}


def test_defaults_are_not_shared_between_specs() -> None:
    a = spec("multistep")
    a.params["milestones"].append(0.9)
    assert spec("multistep").params["milestones"] == [0.5, 0.75]


def test_params_are_normalised_to_their_kind() -> None:
    s = spec("cosine_restarts", {"mult": 2.0, "min_ratio": 0, "period": 1})
    assert s.params == {"period": 1.0, "mult": 2, "min_ratio": 0.0}
    assert type(s.params["mult"]) is int and type(s.params["min_ratio"]) is float


# --- JSON ------------------------------------------------------------------------------------
def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


ROUND_TRIP = [
    ScheduleSpec("cosine", {"min_ratio": 0.1 + 0.2}, lr=3e-4, total_steps=1000),
    ScheduleSpec("multistep", {"milestones": [1 / 3, 2 / 3], "gammas": [0.1, math.pi / 10]},
                 lr=0.1 * 3, total_steps=97, warmup_steps=7, step_unit="epoch"),
    ScheduleSpec("cyclic", {"mode": "exp_range", "end_scale": 5e-324}, lr=1e-300,
                 total_steps=1, step_unit="batch"),
    ScheduleSpec("exponential", {"staircase": True, "decay_rate": 0.9999999999999999},
                 lr=math.nextafter(0.1, 1.0), total_steps=12345, warmup_steps=12344),
    ScheduleSpec("plateau", {"mode": "max", "patience": 7}, lr=1.7976931348623157e308,
                 total_steps=3),
]


@pytest.mark.parametrize("original", ROUND_TRIP, ids=lambda s: s.family)
def test_json_round_trip_is_exact(original: ScheduleSpec) -> None:
    text = original.to_json()
    back = ScheduleSpec.from_json(text)
    assert back == original
    assert back.to_json() == text
    assert _bits(back.lr) == _bits(original.lr)
    for name, value in original.params.items():
        got = back.params[name]
        assert type(got) is type(value)
        if isinstance(value, float):
            assert _bits(got) == _bits(value)
        elif isinstance(value, list):
            assert [_bits(v) for v in got] == [_bits(v) for v in value]
    assert back.lrs() == original.lrs()
    assert ScheduleSpec.from_json(text.encode()) == original
    assert ScheduleSpec.from_json(json.loads(text)) == original


def test_json_holds_format_version_and_found_by() -> None:
    data = json.loads(spec().to_json(study="s", seed=3))
    assert data["format"] == "autolr.schedule" and data["version"] == 1
    assert data["found_by"] == {"study": "s", "seed": 3}
    assert ScheduleSpec.from_json(json.dumps(data)) == spec()


def test_from_json_fills_missing_optional_fields() -> None:
    s = ScheduleSpec.from_json('{"family": "step", "lr": 0.5, "total_steps": 10}')
    assert s == ScheduleSpec("step", {"every": 0.3, "gamma": 0.1}, lr=0.5, total_steps=10)


def test_from_json_rejects_unknown_fields() -> None:
    data = json.loads(spec().to_json())
    data["lr_max"] = 1.0
    with pytest.raises(ConfigError, match=r"Got unknown field\(s\) \['lr_max'\]; remove them"):
        ScheduleSpec.from_json(json.dumps(data))


@pytest.mark.parametrize("fmt", ["autolr.schedules", "optuna", None])
def test_from_json_rejects_another_format(fmt: Any) -> None:
    data = {**json.loads(spec().to_json()), "format": fmt}
    with pytest.raises(ConfigError, match=r"must have format 'autolr.schedule'. Got "):
        ScheduleSpec.from_json(json.dumps(data))


@pytest.mark.parametrize("version", [0, 2, "1", True, None])
def test_from_json_rejects_another_version(version: Any) -> None:
    data = {**json.loads(spec().to_json()), "version": version}
    with pytest.raises(ConfigError, match=rf"reads schedule format version 1. Got {version!r}"):
        ScheduleSpec.from_json(json.dumps(data))


@pytest.mark.parametrize("text", ["", "not json", "{'family': 'cosine'}", b"\xff\xfe\x00"])
def test_from_json_rejects_non_json(text: Any) -> None:
    with pytest.raises(ConfigError, match=r"this text is not JSON"):
        ScheduleSpec.from_json(text)


@pytest.mark.parametrize("text,kind", [("[1, 2]", "list"), ('"cosine"', "str"), ("3", "int")])
def test_from_json_rejects_json_that_is_not_an_object(text: str, kind: str) -> None:
    with pytest.raises(ConfigError, match=rf"must be a JSON object. Got {kind}"):
        ScheduleSpec.from_json(text)


@pytest.mark.parametrize("value", [None, 3, ["family"]])
def test_from_json_rejects_what_is_not_text(value: Any) -> None:
    with pytest.raises(ConfigTypeError, match=r"JSON text \(str or bytes\) or a dict"):
        ScheduleSpec.from_json(value)


def test_from_json_needs_a_family_and_validates_the_rest() -> None:
    with pytest.raises(ConfigError, match=r"must name its 'family'"):
        ScheduleSpec.from_json('{"lr": 0.1, "total_steps": 10}')
    with pytest.raises(ConfigError, match=r"The 'lr' parameter of ScheduleSpec must be a finite"):
        ScheduleSpec.from_json('{"family": "cosine", "lr": NaN, "total_steps": 10}')


def test_to_json_refuses_non_finite_extras() -> None:
    with pytest.raises(ValueError):
        spec().to_json(value=math.nan)


# --- files -----------------------------------------------------------------------------------
def test_load_schedule_reads_what_to_json_wrote(tmp_path: Path) -> None:
    original = ROUND_TRIP[1]
    path = tmp_path / "best_schedule.json"
    path.write_text(original.to_json(seed=1), encoding="utf-8")
    assert load_schedule(path) == original
    assert load_schedule(str(path)) == original


def test_load_schedule_of_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "schedule.json"
    with pytest.raises(ConfigError) as info:
        load_schedule(path)
    assert str(path) in str(info.value)
    assert "No schedule file" in str(info.value)


def test_load_schedule_of_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read the schedule file"):
        load_schedule(tmp_path)


def test_load_schedule_of_a_bad_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_text('{"family": "cosin", "lr": 0.1, "total_steps": 10}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_schedule(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "Did you mean 'cosine'?" in str(info.value)


# --- horizons --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "total,warmup,new_total,new_warmup",
    [(100, 10, 1000, 100), (100, 10, 50, 5), (1000, 30, 100, 3), (100, 0, 7, 0),
     (100, 50, 1, 0), (100, 99, 10, 9), (10, 1, 15, 2)],
)
def test_with_total_steps_keeps_the_warmup_fraction(
    total: int, warmup: int, new_total: int, new_warmup: int
) -> None:
    original = spec("step", {"gamma": 0.5}, total_steps=total, warmup_steps=warmup)
    changed = original.with_total_steps(new_total)
    assert changed.total_steps == new_total
    assert changed.warmup_steps == new_warmup
    assert changed.family == original.family and changed.params == original.params
    assert changed.lr == original.lr and changed.step_unit == original.step_unit
    assert original.total_steps == total  # specs are values


def test_with_total_steps_transfers_the_shape() -> None:
    short = spec("wsd", {"shape": "cosine"}, lr=1.0, total_steps=100, warmup_steps=10)
    long = short.with_total_steps(1000)
    assert long.warmup_steps == 100
    assert long.lrs()[::10] == pytest.approx(short.lrs(), abs=0.1)
    assert long.lrs()[9::10] == pytest.approx(short.lrs(), abs=0.1)


def test_with_total_steps_validates() -> None:
    with pytest.raises(ConfigError, match=r"The 'total_steps' parameter of ScheduleSpec"):
        spec().with_total_steps(0)


def test_specs_are_frozen_values() -> None:
    s = spec()
    with pytest.raises(AttributeError):
        s.lr = 1.0  # type: ignore[misc]
    assert s == spec() and s != spec(lr=0.2)
    assert s.replace(lr=0.2) == spec(lr=0.2)


# --- family_info -----------------------------------------------------------------------------
@pytest.mark.parametrize("family", BUILTINS)
def test_family_info_lists_every_parameter(family: str) -> None:
    info = family_info(family)
    record = get_family(family)
    assert info["name"] == family and info["builtin"] is True
    assert info["summary"] and info["formula"]
    assert info["metric_driven"] is (family == "plateau")
    assert [p["name"] for p in info["params"]] == list(record.param_names)
    for described, param in zip(info["params"], record.params):
        assert described["default"] == param.default
        assert described["kind"] == param.kind
        assert described["doc"]
        # the default is itself a valid value
        assert param.validate(family, param.default) == param.default
        if param.kind == "choice":
            assert param.default in described["choices"]
        elif param.kind == "bool":
            assert "allowed" not in described
        else:
            allowed = described["allowed"]
            assert re.fullmatch(r"[\[(](-inf|[\d.e+-]+), (inf|[\d.e+-]+)[\])]", allowed)
            assert not allowed.startswith("[-inf") and not allowed.endswith("inf]")
        if param.search is None:
            assert "search" not in described
        elif param.kind in ("bool", "choice"):
            assert described["search"] == {"choices": list(param.search)}
            for choice in param.search:
                param.validate(family, choice)
        else:
            low, high, log = param.search
            assert described["search"] == {"low": low, "high": high, "log": log}
            # the searched range lies inside what a spec accepts
            param.validate(family, low)
            param.validate(family, high)


def test_family_info_shows_bounds() -> None:
    params = {p["name"]: p for p in family_info("cyclic")["params"]}
    assert params["up"]["allowed"] == "(0, 1)"
    assert params["base_ratio"]["allowed"] == "[0, 1]"
    assert params["mode"]["choices"] == ["triangular", "triangular2", "exp_range"]
    assert params["period"]["search"] == {"low": 0.1, "high": 0.5, "log": False}
    decay_steps = family_info("exponential")["params"][1]
    assert decay_steps["allowed"] == "(0, inf)"  # infinity is not a value a spec may hold


def test_family_info_of_an_unknown_name() -> None:
    with pytest.raises(ConfigError, match=r"The 'name' parameter of family_info must be one of"):
        family_info("cosin")


@pytest.mark.parametrize("family", BUILTINS)
def test_search_spaces_give_valid_specs(family: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = get_family(family).space(PrefixedTrial(trial, family))
        assert all(name.startswith(f"{family}.") for name in trial.params)
        s = ScheduleSpec(family, params, lr=0.1, total_steps=50)
        lrs = s.lrs()
        assert all(0 <= lr <= 0.1 * (1 + 1e-12) for lr in lrs)
        assert lrs[0] > 0 or family == "cyclic"


# --- user families ---------------------------------------------------------------------------
def halving(step: int, total_steps: int, at: float = 0.5, low: float = 0.1) -> float:
    """Halve... no: drop to ``low`` at ``at`` of training."""
    return 1.0 if step < at * total_steps else low


def halving_space(trial: Any) -> dict[str, Any]:
    return {"at": trial.suggest_float("at", 0.2, 0.8)}


@pytest.fixture
def registered():
    """Register families for a test and always unregister them after it."""
    names: list[str] = []
    before = families(builtin=False)

    def register(name: str, factor: Any = halving, space: Any = halving_space, **kw: Any) -> None:
        autolr.register_family(name, factor, space, **kw)
        names.append(name)

    yield register
    for name in names:
        autolr.unregister_family(name)
    assert families(builtin=False) == before


def test_user_family_end_to_end(registered: Any) -> None:
    registered("drop_once")
    assert families()[-1] == "drop_once"
    assert families(builtin=False)[-1] == "drop_once"
    assert "drop_once" not in families(builtin=True)
    s = ScheduleSpec("drop_once", {"at": 0.3}, lr=0.2, total_steps=10)
    assert s.params == {"at": 0.3, "low": 0.1}
    assert s.lrs() == [0.2] * 3 + [0.2 * 0.1] * 7
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.7)
    scheduler = s.build(optimizer)
    seen = []
    for _ in range(10):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == s.lrs()
    assert ScheduleSpec.from_json(s.to_json()) == s
    warm = ScheduleSpec("drop_once", {}, lr=1.0, total_steps=10, warmup_steps=2)
    assert warm.lrs() == pytest.approx([1 / 3, 2 / 3, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1])
    info = family_info("drop_once")
    assert info["builtin"] is False
    assert [(p["name"], p["kind"], p["default"]) for p in info["params"]] == [
        ("at", "float", 0.5), ("low", "float", 0.1)
    ]
    assert "drop to" in info["summary"]


def test_user_family_parameters_are_validated(registered: Any) -> None:
    def shaped(step: int, total_steps: int, power: int = 2, on: bool = True,
               shape: str = "poly") -> float:
        return (1 - step / total_steps) ** power if on else 1.0

    registered("shaped", shaped, lambda trial: {}, summary="a shape")
    assert family_info("shaped")["summary"] == "a shape"
    with pytest.raises(ConfigError, match=r"The 'power' parameter of the 'shaped' family must be "
                                          r"an integer. Got 2.5 instead."):
        ScheduleSpec("shaped", {"power": 2.5}, lr=0.1, total_steps=10)
    with pytest.raises(ConfigTypeError, match=r"The 'on' parameter of the 'shaped' family"):
        ScheduleSpec("shaped", {"on": "yes"}, lr=0.1, total_steps=10)
    with pytest.raises(ConfigError, match=r"Did you mean 'power'"):
        ScheduleSpec("shaped", {"powr": 3}, lr=0.1, total_steps=10)
    assert ScheduleSpec("shaped", {"shape": "sqrt-ish_2"}, lr=0.1, total_steps=10).params[
        "shape"] == "sqrt-ish_2"
    with pytest.raises(ConfigError) as info:
        ScheduleSpec("shaped", {"shape": "two words"}, lr=0.1, total_steps=10)
    assert str(info.value) == (
        "The 'shape' parameter of the 'shaped' family must be a word of 1 to 64 letters, "
        "digits, '_' or '-'. Got 'two words' instead."
    )


def test_user_family_check_runs(registered: Any) -> None:
    def check(params: dict[str, Any]) -> None:
        if params["low"] > 0.5:
            raise ConfigError("low must be at most 0.5")

    registered("checked", check=check)
    with pytest.raises(ConfigError, match="low must be at most 0.5"):
        ScheduleSpec("checked", {"low": 0.9}, lr=0.1, total_steps=10)


def test_duplicate_name_is_an_error(registered: Any) -> None:
    registered("drop_once")
    with pytest.raises(ConfigError, match=r"Got 'drop_once', which is already registered"):
        autolr.register_family("drop_once", halving, halving_space)
    with pytest.raises(ConfigError, match=r"Got 'cosine', which is already registered"):
        autolr.register_family("cosine", halving, halving_space)


@pytest.mark.parametrize("name", ["Bad", "bad-name", "1st", "", "class", "with space", 3, None])
def test_bad_name_is_an_error(name: Any) -> None:
    with pytest.raises(ConfigError, match=r"The 'name' parameter of register_family must be "
                                          r"lower-case letters, digits and underscores"):
        autolr.register_family(name, halving, halving_space)
    assert name not in families()


def _no_default(step: int, total_steps: int, at: float) -> float:
    return 1.0


def _var_keyword(step: int, total_steps: int, **params: Any) -> float:
    return 1.0


def _one_arg(step: int) -> float:
    return 1.0


def _list_default(step: int, total_steps: int, at: list = [0.5]) -> float:  # noqa: B006
    return 1.0


@pytest.mark.parametrize(
    "factor,message",
    [
        (_no_default, "Parameter 'at' of the factor of family 'user' has no default"),
        (_var_keyword, "must name each parameter; got *params"),
        (_one_arg, "must take (step, total_steps, **params)"),
        (_list_default, "defaults must be a float, int, bool or str"),
        (3, "The 'factor' parameter of register_family must be callable"),
    ],
)
def test_bad_factor_is_an_error(factor: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        autolr.register_family("user", factor, halving_space)
    assert "user" not in families()


def test_space_must_be_callable() -> None:
    with pytest.raises(ConfigError, match=r"The 'space' parameter of register_family must be "):
        autolr.register_family("user", halving, None)  # type: ignore[arg-type]


def test_builtins_cannot_be_unregistered() -> None:
    with pytest.raises(ConfigError, match=r"The built-in family 'cosine' cannot be unregistered"):
        autolr.unregister_family("cosine")
    with pytest.raises(ConfigError, match=r"The 'name' parameter of unregister_family"):
        autolr.unregister_family("never_registered")


# --- warmup ----------------------------------------------------------------------------------
WARMUP_FAMILIES = [
    ("constant", {}), ("step", {}), ("multistep", {}), ("exponential", {"staircase": True}),
    ("cosine", {"min_ratio": 0.1}), ("cosine_restarts", {}), ("linear", {}),
    ("polynomial", {}), ("onecycle", {}), ("cyclic", {}), ("wsd", {}), ("rex", {}),
    ("inverse_sqrt", {}),
]


@pytest.mark.parametrize("family,params", WARMUP_FAMILIES, ids=[f for f, _ in WARMUP_FAMILIES])
@pytest.mark.parametrize("total,warmup", [(100, 10), (50, 1), (10, 9), (1000, 250)])
def test_warmup_rises_to_the_family_start_then_follows_it(
    family: str, params: dict[str, Any], total: int, warmup: int
) -> None:
    lr = 0.4
    s = ScheduleSpec(family, params, lr=lr, total_steps=total, warmup_steps=warmup)
    factor = get_family(family).factor
    rest = total - warmup
    start = lr * factor(0, rest, **s.params)
    lrs = s.lrs()
    assert len(lrs) == total
    head = lrs[:warmup]
    assert all(b > a for a, b in zip(head, head[1:]))  # strictly rising
    assert head[0] > 0 and head[-1] < start
    assert head == pytest.approx([start * (i + 1) / (warmup + 1) for i in range(warmup)],
                                 rel=1e-15)
    # then exactly the family over the remaining steps
    assert lrs[warmup:] == [lr * factor(i, rest, **s.params) for i in range(rest)]
    assert lrs[warmup] == start


def test_warmup_zero_is_the_family_itself() -> None:
    s = spec("cosine", warmup_steps=0)
    factor = get_family("cosine").factor
    assert s.lrs() == [0.1 * factor(i, 100, min_ratio=0.0) for i in range(100)]


def test_multiplier_past_the_horizon_holds_the_last_value() -> None:
    s = spec("linear", warmup_steps=5)
    assert s.multiplier(100) == s.multiplier(99) == s.multiplier(10**9)
