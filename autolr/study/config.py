"""A study's arguments, validated, and the settings it keeps with it.

:func:`make_config` checks every argument of ``autolr.tune`` and ``autolr tune`` (each bad one
gets a message naming it, the value and the rule). :func:`resolve_config` fills the arguments
not given (None) from the study's stored settings, or from the defaults for a new study, so that
another machine joins a study with ``autolr tune SCRIPT --storage URL --study NAME`` alone.
:func:`settings_for` turns a resolved config into the settings stored with the study (user
attribute ``autolr``), or checks a resumed study's stored settings against it: a study resumes
with the direction, families, warmup, search, pruner, sampler, seed option and script arguments
it was created with; a contradicting argument is refused with the stored settings shown.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass, replace
from typing import Any

from autolr import _validation
from autolr.errors import ConfigError
from autolr.schedules.registry import families as registered_families
from autolr.search.ladder import DEFAULT_ETA, DEFAULT_FIDELITIES, with_top
from autolr.search.ladder_search import check_pruner_on_ladder
from autolr.search.pruning import PRUNERS
from autolr.search.sampling import SAMPLERS
from autolr.search.space import DEFAULT_LR_SCALE
from autolr.search.strategies import strategy_names

# The search strategy of a new study that names none: the one the replayed-study benchmark
# (benchmarks/replay.py, benchmarks/results/replay.md) measures best.
DEFAULT_SEARCH = "lr_first"

DIRECTIONS = ("minimize", "maximize")
SETTINGS_ATTR = "autolr"
DEFAULT_TRIALS = 20  # a new study's budget when none is given (full runs)
_OWNER = "tune"


@dataclass(frozen=True)
class StudyConfig:
    """Validated arguments of a study (shared by ``autolr.tune`` and ``autolr tune``). None
    means "not given": the study's own setting, or the default for a new study (see
    :func:`resolve_config`)."""

    n_trials: int | None
    direction: str | None = "minimize"
    families: tuple[str, ...] | None = None
    lr: tuple[float, float] | None = None
    warmup: bool | None = True
    pruner: str | None = None  # None: median for a full search, none on the ladder
    sampler: str | None = "tpe"
    seed: int | None = None
    storage: str | None = None
    study_name: str = "autolr"
    baselines: bool = True
    timeout: float | None = None
    search: str | None = None  # None: the study's own; for a new one DEFAULT_SEARCH, or
    # "ladder" when the rungs or eta are given
    ladder: tuple[float, ...] | None = None  # requested fidelities, the last 1
    eta: int | None = None
    confirm: tuple[int, int] | None = None  # (top k, seeds m); None: the default plan; (0, 0) off
    seed_arg: str | None = None  # the script option each trial's seed is passed as (CLI)
    script: str | None = None  # the training script's path (CLI)
    script_args: tuple[str, ...] | None = None  # the arguments it runs with (CLI)
    # autolr tune --metric: {"metric", "regex", "total_steps"} for a script without autolr calls
    capture: dict[str, Any] | None = None


def make_config(
    *,
    n_trials: Any,
    direction: Any = "minimize",
    families: Any = None,
    lr: Any = None,
    warmup: Any = True,
    pruner: Any = None,
    sampler: Any = "tpe",
    seed: Any = None,
    storage: Any = None,
    study_name: Any = None,
    baselines: Any = True,
    timeout: Any = None,
    search: Any = None,
    ladder: Any = None,
    eta: Any = None,
    confirm: Any = None,
    seed_arg: Any = None,
    script: str | None = None,
    script_args: Any = None,
    capture: Any = None,
    owner: str = _OWNER,
) -> StudyConfig:
    """Check every argument; each bad one raises an error naming it, the value and the rule.
    ``n_trials``, ``direction``, ``families``, ``warmup`` and ``sampler`` may be None: the
    study's own, or the default for a new study."""
    if n_trials is not None:
        n_trials = _validation.number("n_trials", owner, n_trials, low=1, integer=True)
    if direction is not None:
        _validation.one_of("direction", owner, direction, DIRECTIONS)
    known = registered_families()
    chosen: tuple[str, ...] | None = None
    if families is not None:
        if isinstance(families, str):
            families = [f.strip() for f in families.split(",") if f.strip()]
        try:
            chosen = tuple(families)
        except TypeError:
            raise _validation.fail("families", owner, "must be a list of family names",
                                   families) from None
        if not chosen:
            raise _validation.fail("families", owner, "must name at least one family", families)
        for name in chosen:
            _validation.one_of("families", owner, name, known)
        if len(set(chosen)) != len(chosen):
            raise _validation.fail("families", owner, "must not repeat a family", list(chosen))
    lr_range = None
    if lr is not None:
        if isinstance(lr, (str, bytes)) or not hasattr(lr, "__len__") or len(lr) != 2:
            raise _validation.fail("lr", owner, "must be a (low, high) pair of peak LRs", lr)
        low = _validation.number("lr", owner, lr[0], low=0.0, low_open=True)
        high = _validation.number("lr", owner, lr[1], low=0.0, low_open=True)
        if not low < high:
            raise _validation.fail("lr", owner, "must be (low, high) with low < high", lr,
                                   "Swap the bounds or widen the range.")
        lr_range = (low, high)
    if warmup is not None:
        warmup = _validation.boolean("warmup", owner, warmup)
    if pruner is not None:
        _validation.one_of("pruner", owner, pruner, PRUNERS)
    if search is not None:
        _validation.one_of("search", owner, search, strategy_names())
    fidelities = None if ladder is None else _fidelities(ladder, owner)
    if eta is not None:
        eta = _validation.number("eta", owner, eta, low=2, integer=True)
    if search not in (None, "ladder") and (fidelities is not None or eta is not None):
        name = "ladder" if fidelities is not None else "eta"
        raise _validation.fail(
            name, owner, "applies to search='ladder' only", ladder if name == "ladder" else eta,
            "Drop it, or search with the fidelity ladder.",
        )
    if search == "ladder" or (search is None and (fidelities is not None or eta is not None)):
        check_pruner_on_ladder(pruner, owner)  # the rungs or eta alone ask for the ladder
    if sampler is not None:
        _validation.one_of("sampler", owner, sampler, SAMPLERS)
    if seed is not None:
        seed = _validation.number("seed", owner, seed, low=0, high=2**32 - 1, integer=True)
    if storage is not None and not isinstance(storage, str):
        raise _validation.fail("storage", owner, "must be a database URL string or None",
                               storage)
    if study_name is None:
        study_name = "autolr"
    if not isinstance(study_name, str) or not study_name.strip() or len(study_name) > 200:
        raise _validation.fail("study_name", owner, "must be a non-empty name (<= 200 chars)",
                               study_name)
    baselines = _validation.boolean("baselines", owner, baselines)
    if timeout is not None:
        timeout = _validation.number("timeout", owner, timeout, low=0.0, low_open=True)
    return StudyConfig(
        n_trials=n_trials, direction=direction, families=chosen, lr=lr_range, warmup=warmup,
        pruner=pruner, sampler=sampler, seed=seed, storage=storage, study_name=study_name,
        baselines=baselines, timeout=timeout, search=search, ladder=fidelities, eta=eta,
        confirm=_confirm(confirm, owner), seed_arg=_seed_arg(seed_arg, owner),
        script=script, script_args=None if script_args is None else tuple(script_args),
        capture=_capture(capture, owner),
    )


def _capture(value: Any, owner: str) -> dict[str, Any] | None:
    """``{"metric", "regex", "total_steps"}`` checked (the metric or the regex given)."""
    if value is None:
        return None
    from autolr.capture.metric_lines import MetricReader

    MetricReader(value.get("metric"), value.get("regex"))  # raises on a bad name or regex
    total = value.get("total_steps")
    if total is not None:
        total = _validation.number("total_steps", owner, total, low=1, integer=True)
    return {"metric": value.get("metric"), "regex": value.get("regex"), "total_steps": total}


def resolve_config(
    config: StudyConfig, direction: str | None, stored: dict[str, Any] | None
) -> StudyConfig:
    """``config`` with every argument not given taken from the study (``direction`` and
    ``stored``, its settings; None for a new study) or, for a new study, the defaults.
    Contradictions are left for :func:`settings_for` to refuse."""
    stored = stored or {}
    stored_direction = direction
    return replace(
        config,
        n_trials=config.n_trials or int(stored.get("n_trials") or DEFAULT_TRIALS),
        direction=config.direction or stored_direction or "minimize",
        families=config.families or tuple(
            stored.get("families") or registered_families(builtin=True)
        ),
        warmup=config.warmup if config.warmup is not None else bool(stored.get("warmup", True)),
        sampler=config.sampler or stored.get("sampler") or "tpe",
        pruner=config.pruner if config.pruner is not None else stored.get("pruner"),
        seed_arg=config.seed_arg if config.seed_arg is not None else stored.get("seed_arg"),
        capture=config.capture if config.capture is not None else stored.get("capture"),
        script_args=config.script_args if config.script_args is not None else (
            tuple(stored["script_args"]) if stored.get("script_args") is not None else None
        ),
    )


def describe_settings(direction: str | None, settings: dict[str, Any]) -> str:
    """A stored study's settings in one line, as ``autolr tune`` options would give them."""
    parts = [f"--direction {direction}"] if direction else []
    parts.append(f"--families {','.join(settings.get('families') or [])}")
    if settings.get("warmup") is False:
        parts.append("--no-warmup")
    search = settings.get("search", "full")
    parts.append(f"--search {search}")
    request = settings.get("ladder_request")
    if search == "ladder" and request:
        rungs = ",".join(f"{f:.4g}" for f in request["fidelities"])
        parts.append(f"--ladder {rungs} --eta {request['eta']}")
    if settings.get("pruner"):
        parts.append(f"--pruner {settings['pruner']}")
    if settings.get("sampler"):
        parts.append(f"--sampler {settings['sampler']}")
    if settings.get("seed_arg"):
        parts.append(f"--seed-arg {settings['seed_arg']}")
    if isinstance(settings.get("capture"), dict):
        parts.append(capture_options(settings["capture"]))
    parts.append(f"--trials {settings.get('n_trials')}")
    args = settings.get("script_args")
    if args:
        parts.append("-- " + " ".join(shlex.quote(str(a)) for a in args))
    return " ".join(parts)


def _confirm(value: Any, owner: str) -> tuple[int, int] | None:
    """``None`` (the default plan), ``0`` / ``False`` (no confirmation) or ``(k, m)``: the top
    k configurations on m fresh seeds each."""
    if value is None:
        return None
    rule = ("must be (k, m), the top k configurations re-run on m fresh seeds (whole numbers "
            ">= 0), or 0 for none")
    if value is False or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return (0, 0)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise _validation.fail("confirm", owner, rule, value)
    k, m = value
    for item in (k, m):
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _validation.fail("confirm", owner, rule, value)
    return (k, m) if k and m else (0, 0)


def _seed_arg(value: Any, owner: str) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) < 2 or " " in value
            or not (value.startswith("-") or value.endswith("="))):
        raise _validation.fail("seed_arg", owner, "must be the script's option for its seed, "
                               "such as '--seed' (passed as --seed N), or '--seed=' or 'seed=' "
                               "(passed as one argument, --seed=N)", value)
    return value


def _fidelities(value: Any, owner: str) -> tuple[float, ...]:
    """The requested rungs: fractions in (0, 1], increasing; the full-fidelity 1 is added."""
    rule = "must be fidelities in (0, 1], in increasing order, such as (1/9, 1/3, 1)"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise _validation.fail("ladder", owner, rule, value)
    items = list(value)
    if not items:
        raise _validation.fail("ladder", owner, rule, value)
    numbers = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not (
            0 < item <= 1
        ):
            raise _validation.fail("ladder", owner, rule, value,
                                   f"{item!r} is not a fraction in (0, 1].")
        numbers.append(float(item))
    if any(b <= a for a, b in zip(numbers, numbers[1:])):
        raise _validation.fail("ladder", owner, rule, value, "Sort them and drop repeats.")
    return with_top(numbers)


def settings_for(
    config: StudyConfig, stored: dict[str, Any] | None, direction: str | None = None
) -> dict[str, Any]:
    """The settings a study keeps with it (user attribute ``autolr``): new ones for a new
    study, or the stored ones checked against the resolved ``config`` (``direction``: the stored
    study's) and updated where it may change them (the seed, the LR range, the budget, the
    confirmation plan)."""
    assert config.n_trials is not None and config.families is not None, "resolve_config first"
    request = {
        "fidelities": list(config.ladder or DEFAULT_FIDELITIES),
        "eta": config.eta or DEFAULT_ETA,
    }
    if direction is not None and direction != config.direction:
        _refuse(config, direction, stored or {}, "direction", direction, config.direction,
                "a study's values are compared one way")
    if stored is None:
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        low, high = DEFAULT_LR_SCALE
        # --ladder or --eta without --search asks for the fidelity ladder
        asks_ladder = config.ladder is not None or config.eta is not None
        search = config.search or ("ladder" if asks_ladder else DEFAULT_SEARCH)
        return {
            "version": 2,
            "families": list(config.families),
            "warmup": config.warmup,
            "seed": seed,
            "lr": list(config.lr) if config.lr else None,
            "lr_scale": [low, high],
            "widened": 0,
            "baselines_enqueued": False,
            "search": search,
            "ladder_request": request if search == "ladder" else None,
            "ladder": None,
            "n_trials": config.n_trials,
            "confirm": list(config.confirm) if config.confirm is not None else None,
            "seed_arg": config.seed_arg,
            "pruner": config.pruner,
            "sampler": config.sampler,
            "script": config.script,
            "script_args": list(config.script_args) if config.script_args is not None else None,
            "capture": config.capture,
        }
    why_choices = "Optuna cannot change a parameter's choices mid-study"
    checks: list[tuple[str, Any, Any, str]] = [
        ("families", stored.get("families"), list(config.families), why_choices),
        ("warmup", stored.get("warmup"), config.warmup, why_choices),
        ("pruner", stored.get("pruner"), config.pruner, "its trials were judged by it"),
        ("sampler", stored.get("sampler"), config.sampler, "its trials were chosen by it"),
        ("seed_arg", stored.get("seed_arg"), config.seed_arg,
         "its trials' seeds reached the script that way"),
        ("script_args", stored.get("script_args"),
         list(config.script_args) if config.script_args is not None else None,
         "its trials ran the script with them"),
        ("capture", stored.get("capture"), config.capture,
         "its trials' values were read from the output that way (--metric, --metric-regex, "
         "--total-steps)"),
    ]
    for key, had, want, why in checks:
        # a setting an earlier version did not store is taken from this run
        if key in stored and had is not None and had != want:
            _refuse(config, direction, stored, key, had, want, why)
    settings = dict(stored)
    # A study written before the fidelity ladder existed is a full search.
    settings.setdefault("search", "full")
    _check_search(config, settings, request)
    if config.seed is not None:
        settings["seed"] = config.seed
    if config.lr is not None and list(config.lr) != stored.get("lr"):
        settings["lr"] = list(config.lr)
        settings["widened"] = 0
    settings["n_trials"] = config.n_trials
    if config.confirm is not None:
        settings["confirm"] = list(config.confirm)
    for key in ("seed_arg", "pruner", "sampler", "script", "capture"):
        if settings.get(key) is None and getattr(config, key) is not None:
            settings[key] = getattr(config, key)
    if settings.get("script_args") is None and config.script_args is not None:
        settings["script_args"] = list(config.script_args)
    return settings


def capture_options(capture: dict[str, Any]) -> str:
    """``--metric val_loss --total-steps 900``: a study's capture settings as options."""
    parts = []
    if capture.get("metric") is not None:
        parts.append(f"--metric {shlex.quote(str(capture['metric']))}")
    if capture.get("regex") is not None:
        parts.append(f"--metric-regex {shlex.quote(str(capture['regex']))}")
    if capture.get("total_steps") is not None:
        parts.append(f"--total-steps {capture['total_steps']}")
    return " ".join(parts)


def _refuse(config: StudyConfig, direction: str | None, stored: dict[str, Any], key: str,
            had: Any, want: Any, why: str) -> None:
    """A resumed study's stored ``key`` is ``had``; this run asked for ``want``."""
    shown = f" Its settings: {describe_settings(direction, stored)}." if stored else ""
    first, then = f"{key}={had!r}", f"{key}={want!r}"
    if key == "capture":
        first, then = capture_options(had), capture_options(want)
    raise ConfigError(
        f"Study {config.study_name!r} was created with {first}; it cannot be resumed "
        f"with {then} ({why}). Leave the option out and the study's own settings are "
        "used (another machine joins with autolr tune SCRIPT --storage URL --study NAME), or "
        f"use another study name.{shown}"
    )


def _check_search(config: StudyConfig, stored: dict[str, Any], request: dict[str, Any]) -> None:
    """Refuse to resume a study with another search than it was created with."""
    name = config.study_name
    if config.search is not None and config.search != stored["search"]:
        raise ConfigError(
            f"Study {name!r} was created with search={stored['search']!r}; it cannot be "
            f"resumed with search={config.search!r} (its budget and trials mean something "
            "else). Resume it without the option, or use another study name."
        )
    stored_request = stored.get("ladder_request")
    if stored["search"] == "ladder" and stored_request:
        for key, given in (("ladder", config.ladder), ("eta", config.eta)):
            field_name = "fidelities" if key == "ladder" else key
            want = request[field_name]
            if given is not None and want != stored_request[field_name]:
                raise ConfigError(
                    f"Study {name!r} searches the ladder {key}="
                    f"{stored_request[field_name]!r}; it cannot be resumed with {key}="
                    f"{want!r} (its rungs are placed). Resume it without the option, or "
                    "use another study name."
                )
    elif config.ladder is not None or config.eta is not None:
        raise ConfigError(
            f"Study {name!r} is a full search; the ladder options (ladder, eta) do not "
            "apply to it. Resume it without them, or use another study name."
        )


def stored_settings(storage: Any, name: str,
                    url: str) -> tuple[str | None, dict[str, Any] | None, int]:
    """A stored study's direction, autolr settings and number of trials (``None, None, 0``
    for a study not created yet). A study with trials that autolr did not write is refused:
    autolr adds no trials to another program's study (``url``: where it is, for the message)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None, None, 0
    existing = len(storage.get_all_trials(study_id, deepcopy=False))
    attrs = storage.get_study_user_attrs(study_id)
    directions = storage.get_study_directions(study_id)
    direction = directions[0].name.lower() if directions else None
    stored = attrs.get(SETTINGS_ATTR)
    if not isinstance(stored, dict):
        stored = None
        if direction is not None and existing:
            from autolr.study.storage import display_url

            raise ConfigError(
                f"Study {name!r} in {display_url(url)} holds {existing} trial(s) written by "
                "another program, not by autolr tune; autolr does not add its trials to them. "
                "Give another study name (--study / study_name). autolr show and autolr report "
                "read it."
            )
    return direction, stored, existing
