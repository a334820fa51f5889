"""The GPU check's results file (``gpu_check.json``) and its Markdown (``gpu_check.md``), both
rewritten after every step so that a failed or cut step still leaves them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gpu_check_plan import FLAG, Budget
from harness.files import write_json, write_text
from harness.markdown import DASH, fixed, header, row


@dataclass
class Results:
    """Everything the check found, step by step (saved as ``gpu_check.json``)."""

    meta: dict[str, Any]
    cuda: dict[str, Any] = field(default_factory=dict)
    flag: dict[str, Any] = field(default_factory=dict)
    cifar: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    sanity: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        """Record a part of the check that did not run, and why."""
        self.skipped.append({"what": what, "why": why})

    def save(self, out: Path, budget: Budget, finished: bool = False) -> str:
        """Write ``gpu_check.json`` and ``gpu_check.md`` to ``out`` (the check's seconds so
        far in ``meta``); returns the Markdown."""
        self.meta["wall_s"] = round(budget.elapsed(), 1)
        self.meta["finished"] = finished
        data = asdict(self)
        write_json(out / "gpu_check.json", data, indent=2)
        markdown = render(data)
        write_text(out / "gpu_check.md", markdown)
        return markdown


def _head_lines(data: dict[str, Any]) -> list[str]:
    """How the check ran, what torch saw of the GPU and whether ``autolr tune`` has the flag."""
    meta, cuda = data["meta"], data["cuda"]
    lines = [
        "# GPU check (`benchmarks/gpu_check.py`)", "",
        f"Run on {meta['date']} ({meta['mode']} mode, {meta['wall_s']:.0f} s of a "
        f"{meta['budget_s']:.0f}-s budget{'' if meta['finished'] else ', NOT FINISHED'}) on "
        f"{meta['host']}; python {meta['versions'].get('python')}, torch "
        f"{meta['versions'].get('torch')}, torchvision {meta['versions'].get('torchvision')}, "
        f"optuna {meta['versions'].get('optuna')}; autolr at `{meta['git']}`.", "",
        f"Command: `{meta['command']}`", "",
    ]
    if cuda.get("cuda_available"):
        lines.append(
            f"**GPU: {cuda.get('name')}** ({cuda.get('total_memory_gib')} GiB, compute capability "
            f"{cuda.get('capability')}, CUDA {cuda.get('torch_cuda')}, {cuda.get('device_count')} "
            f"visible; a matmul {'worked' if cuda.get('matmul_ok') else 'FAILED'}; autolr's "
            f"workers use GPU(s) {cuda.get('autolr_gpus')}).")
    elif cuda:
        why = cuda.get("error") or "torch sees no CUDA device"
        lines.append(f"**No CUDA** ({why}; torch {cuda.get('torch')}).")
    flag = data["flag"]
    if flag:
        lines.append(f"`autolr tune {FLAG}`: "
                     + ("present." if flag.get("present") else
                        f"absent{' (' + flag['error'] + ')' if flag.get('error') else ''}."))
    lines.append("")
    return lines


def _cut_mark(s: dict[str, Any]) -> str:
    """`` (cut)`` for a setting cut at its budget, `` (--timeout)`` for one that stopped
    starting trials before all had run, else nothing."""
    states = s.get("states", {})
    return " (cut)" if s.get("tune", {}).get("timed_out") else (
        " (--timeout)" if "states" in s and s.get("done", 0) + states.get("fail", 0)
        < s["n_trials"] else "")


def settings_table(settings: list[dict[str, Any]]) -> list[str]:
    """Per setting (trials per GPU): trials finished, wall seconds, trials per hour, the
    speed-up over one per GPU, trial seconds, GPU memory (MiB) and utilisation (%)."""
    base = next((s.get("trials_per_hour") for s in settings
                 if s.get("trials_per_gpu") == 1), None)
    lines = header(["trials per GPU", "asked with", "finished (complete / pruned / failed)",
                    "wall s", "trials/hour", "speed-up vs 1", "mean trial s", "concurrency",
                    "peak GPU MiB", "mean GPU util %", "workers"])
    for s in settings:
        states = s.get("states", {})
        tph = s.get("trials_per_hour")
        gpu = s.get("gpu", {})
        lines.append(row([
            s["trials_per_gpu"], f"`{s['how'].split(' (')[0]}`",
            f"{states.get('complete', 0)} / {states.get('pruned', 0)} / "
            f"{states.get('fail', 0)} of {s['n_trials']}",
            f"{fixed(s.get('wall_s'))}{_cut_mark(s)}",
            fixed(tph), f"{tph / base:.2f}x" if tph and base else DASH,
            fixed(s.get("trial_wall_s", {}).get("mean"), 2), fixed(s.get("concurrency"), 2),
            fixed(gpu.get("peak_memory_used_mib"), 0), fixed(gpu.get("mean_utilization_pct")),
            ", ".join(sorted(s.get("workers", {}))) or DASH,
        ]))
    return lines


def _setting_notes(s: dict[str, Any]) -> list[str]:
    """What else to know of a setting: how it was asked for, failures, cuts, exit status."""
    notes = []
    if "(" in s["how"]:
        notes.append(s["how"])
    if s.get("stats_error"):
        notes.append(f"no study to read: {s['stats_error']}; tune said: "
                     f"{s['tune'].get('output_tail', '')[-400:]!r}")
    for failure in s.get("failures", []):
        notes.append(f"trial {failure['trial']} failed ({failure['reason']}): "
                     f"{failure['error_tail'][-300:]!r}")
    if "(--timeout)" in _cut_mark(s):
        notes.append(f"stopped starting trials at its --timeout of "
                     f"{s['stop_starting_after_s']} s, before all {s['n_trials']} ran")
    if s.get("tune", {}).get("timed_out"):
        notes.append("cut (Ctrl-C) at the step's time budget")
    if s.get("tune", {}).get("rc") not in (0, None) and not s.get("stats_error"):
        notes.append(f"tune exited with status {s['tune']['rc']}")
    return [f"- {s['trials_per_gpu']} per GPU: {note}" for note in notes]


def _cifar_lines(cifar: dict[str, Any]) -> list[str]:
    """Step 2: the run size and how it was chosen, the settings' table and their notes."""
    settings = cifar.get("settings", [])
    lines = ["## `examples/cifar_resnet.py` under `autolr tune`", ""]
    if cifar.get("script_args"):
        sizes = cifar.get("sizes", {})
        cal = cifar.get("calibration", {})
        lines.append(
            f"ResNet-18 on FakeData, `{' '.join(cifar['script_args'])}`: {sizes.get('n_trials')} "
            "trials per setting, `--search full --pruner none --no-baselines --confirm 0 --seed "
            "0`, a fresh SQLite study each. Sizes "
            + (f"from a calibration run ({cal.get('per_image_ms')} ms per image at "
               f"{cal.get('train_size')} + {cal.get('val_size')} images; estimated trial "
               f"{sizes.get('estimated_trial_s')} s)" if cal.get("ok") else
               f"are the fallback ones (calibration failed: {cal.get('why')})") + ".")
        lines.append("")
    if settings:
        lines += settings_table(settings)
        lines += ["", "Trials/hour: (complete + pruned) / the tune command's whole wall time "
                  "(start-up included). Mean trial s: the trials' `wall_time_s`. Concurrency: "
                  "the trials' summed wall time over the command's. Peak GPU memory: the most "
                  "`nvidia-smi` showed in use during the setting (every worker together).", ""]
        for s in settings:
            lines += _setting_notes(s)
        if lines[-1] != "":
            lines.append("")
    return lines


def _closing_lines(data: dict[str, Any]) -> list[str]:
    """Step 3 (the benchmark's GPU variant), the sanity verdicts, what was skipped and the
    errors."""
    bench = data["benchmark"]
    lines = ["## The benchmark's GPU variant (`benchmarks/run.py --device cuda`)", ""]
    gpu_run = bench.get("gpu")
    if gpu_run:
        lines.append(_bench_line(gpu_run, "GPU variant"))
    else:
        lines.append("Not run (see Skipped).")
    if bench.get("plumbing"):
        lines.append("")
        lines.append(_bench_line(bench["plumbing"], "Plumbing check only (not a GPU measurement)"))
    lines.append("")
    if data["sanity"]:
        lines += ["## Sanity", ""]
        for k, s in data["sanity"].items():
            where = "" if "on_gpu" not in s else (" on the GPU" if s["on_gpu"] else
                                                  " NOT on the GPU")
            lines.append(f"- {k} per GPU: {s['verdict']}; {s['distinct_workers']} distinct "
                         f"worker(s){where}: {', '.join(s['workers']) or '—'}.")
        lines.append("")
    if data["skipped"]:
        lines += ["## Skipped", ""]
        lines += [f"- {s['what']}: {s['why']}" for s in data["skipped"]]
        lines.append("")
    if data["errors"]:
        lines += ["## Errors", ""]
        lines += [f"- {e['step']}: {e['error'][-600:]!r}" for e in data["errors"]]
        lines.append("")
    return lines


def render(data: dict[str, Any]) -> str:
    """``gpu_check.md`` from the results (as saved: plain dicts and lists)."""
    return "\n".join([*_head_lines(data), *_cifar_lines(data["cifar"]), *_closing_lines(data)])


def _bench_line(bench: dict[str, Any], what: str) -> str:
    """The benchmark's run in one paragraph: its figures, or why there are none."""
    if not bench.get("ok"):
        return (f"{what}: no result ({bench.get('why')}); `{bench['run']['command']}` ran "
                f"{bench['wall_s']:.0f} s. Its last output: {bench['run']['output_tail'][-500:]!r}")
    a = bench["autolr"]
    return (
        f"{what}: `{bench['run']['command'].split(' ', 1)[1]}` "
        f"({bench['wall_s']:.0f} s, size `{bench['size']}`, {bench['total_steps']} steps per run) "
        f"on {bench.get('machine')}. autolr's default at N = {a.get('budget_runs')}: "
        f"{a.get('trials')} runs ({a.get('shortened')} shortened, {a.get('pruned')} pruned, "
        f"{a.get('failed')} failed, {a.get('confirming')} confirming), "
        f"{a.get('steps') or 0:,} steps "
        f"in {a.get('wall_s', 0):.1f} s ({a.get('train_s', 0):.1f} s training); the job with "
        f"3 re-trainings {a.get('job_s', 0):.1f} s; winner `{bench.get('winner')}`, re-trained "
        f"{fixed(a.get('retrain_mean'), 4)} ± {fixed(a.get('retrain_std'), 4)} nats/char.")
