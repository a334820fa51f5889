"""Build a schedule table: every configuration of a space-filling sample of autolr's default
search space trained at full length and at each default rung, on three seeds.

    python benchmarks/table_build.py digits            # one table (resumes where it stopped)
    python benchmarks/table_build.py all --jobs 2      # every table, one after the other
    python benchmarks/table_build.py digits --configs 40 --output-dir /tmp/tables  # a small one

A table is ``benchmarks/tables/<workload>.jsonl.gz`` (a row per configuration) and its manifest
``<workload>.json`` (the workload, the script, autolr's version, the space, the seeds, the
lengths, where the script reports, the machine). While it is built, finished rows go to
``<workload>.partial.jsonl``, so that a stopped build (Ctrl-C, a closed session) resumes with
the same command; the table is written, and the partial file removed, when every row is done.
An existing table is never overwritten: delete it to build it again.

A row holds the configuration (study parameters and the full-length schedule), and per run
length (scheduler steps) and seed: the reported values (in report order: the report positions
are the manifest's ``report_steps``; a run that diverged ends at its diverged report), the
milliseconds before the first optimizer step (data, model, optimizer) and the microseconds per
optimizer step (evaluation included).
"""

from __future__ import annotations

import gzip
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from harness.cli import make_parser
from harness.files import BENCHMARKS, write_json
from harness.jobs import run_all
from harness.meta import git_commit, machine, now, versions

TABLES = BENCHMARKS / "tables"
SEEDS = (0, 1, 2)
DEFAULT_CONFIGS = {"digits": 1000, "cancer": 1000}  # cheap runs; the others get 500
DEFAULT_CONFIG_COUNT = 500


def rounded(value: float) -> float | None:
    """Six significant digits; None for a non-finite value (JSON has no NaN)."""
    return float(f"{value:.6g}") if math.isfinite(value) else None


def build_row(name: str, row: int, label: str, spec_data: dict[str, Any],
              params: dict[str, Any] | None, lengths: list[int],
              seeds: tuple[int, ...]) -> dict[str, Any]:
    """Train one configuration at every length on every seed (runs in a worker process)."""
    from table_workloads import make_table_workload

    import autolr

    workload = make_table_workload(name)
    spec = autolr.ScheduleSpec.from_json(spec_data)
    total = spec.total_steps
    runs: dict[str, list[list[float | None]]] = {}
    startup: dict[str, list[int]] = {}
    per_step: dict[str, list[float]] = {}
    for length in lengths:
        at = spec if length == total else spec.shortened(length / total)
        key = str(length)
        runs[key], startup[key], per_step[key] = [], [], []
        for seed in seeds:
            record = workload.table_run(at, seed)
            runs[key].append([rounded(v) for _, v in record.reports])
            startup[key].append(round(record.startup_s * 1e3, 2))
            per_step[key].append(round(record.step_s * 1e6, 1))
    return {"row": row, "label": label, "params": params, "spec": spec_data, "runs": runs,
            "startup_ms": startup, "step_us": per_step}


def plan(name: str, configs: int) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The manifest (without the build's own figures) and one call of :func:`build_row` per
    row."""
    from table_space import (
        LR_SCALE_RANGE,
        reference_params,
        run_lengths,
        sample_params,
        spec_of,
    )
    from table_workloads import HELD_OUT, make_table_workload

    import autolr

    workload = make_table_workload(name)
    start = time.perf_counter()
    workload._data()  # a script loads its data on every run: its cost joins each run's start-up
    data_ms = (time.perf_counter() - start) * 1e3
    own = workload.hand_schedule(workload.base_lr)
    probe = workload.table_run(own, 0)
    report_steps = [s for s, _ in probe.reports]
    lengths, notes = run_lengths(workload, report_steps)
    rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for label, params in reference_params(workload).items():
        spec = own if params is None else spec_of(params, workload)
        rows.append((label, spec.to_dict(), params))
    for params in sample_params(list(autolr.families()), configs):
        rows.append(("sample", spec_of(params, workload).to_dict(), params))
    manifest = {
        "workload": name,
        "title": workload.title,
        "script": f"benchmarks/table_workloads.py: {type(workload).__name__}",
        "optimizer": workload.optimizer_name,
        "metric": workload.metric,
        "direction": workload.direction,
        "base_lr": workload.base_lr,
        "own_schedule": workload.hand_name,
        "scheduler_steps": workload.scheduler_steps(),
        "optimizer_steps": workload.total_steps,
        "per_epoch": workload.per_epoch,
        "report_steps": report_steps,
        "lengths": lengths,
        "ladder_notes": notes,
        "seeds": list(SEEDS),
        "data_ms": round(data_ms, 2),
        "held_out": name in HELD_OUT,
        "space": {
            "families": list(autolr.families()),
            "lr_scale": list(LR_SCALE_RANGE),
            "warmup": [0.0, 0.2],
            "sample": "families in turn; scrambled Sobol within a family over its parameters, "
                      "log lr_scale and warmup",
            "configurations": configs,
            "reference_rows": [label for label, _, _ in rows[: len(rows) - configs]],
        },
    }
    calls = [(name, i, label, spec, params, lengths, SEEDS)
             for i, (label, spec, params) in enumerate(rows)]
    return manifest, calls


def build(name: str, configs: int, jobs: int, out: Path) -> Path:
    """Build (or resume) the table of ``name`` in ``out``; returns the table's path."""
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{name}.jsonl.gz"
    if table.exists():
        print(f"{table} exists; delete it (and {name}.json) to build it again", file=sys.stderr)
        return table
    partial = out / f"{name}.partial.jsonl"
    manifest, calls = plan(name, configs)
    done: dict[int, dict[str, Any]] = {}
    if partial.exists():
        for line in partial.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a stop
            done[row["row"]] = row
    todo = [call for call in calls if call[1] not in done]
    print(f"{name}: {len(calls)} rows, {len(done)} done, {len(todo)} to train "
          f"at lengths {manifest['lengths']} on seeds {list(SEEDS)}", flush=True)
    start = time.perf_counter()
    with partial.open("a") as sink:
        for k, (_, row) in enumerate(run_all(build_row, todo, jobs, threads=1), 1):
            sink.write(json.dumps(row, separators=(",", ":")) + "\n")
            sink.flush()
            done[row["row"]] = row
            if k % 50 == 0 or k == len(todo):
                rate = (time.perf_counter() - start) / k
                print(f"  {name}: {len(done)}/{len(calls)} rows, "
                      f"{rate * (len(todo) - k) / 60:.1f} min left", flush=True)
    rows = [done[i] for i in range(len(calls))]
    with gzip.open(table, "wt", compresslevel=9) as sink:
        for row in rows:
            sink.write(json.dumps(row, separators=(",", ":")) + "\n")
    startup = [ms for row in rows for values in row["startup_ms"].values() for ms in values]
    steps = [us for row in rows for values in row["step_us"].values() for us in values]
    manifest.update({
        "built": now(), "machine": machine(), "versions": versions(),
        "git_commit": git_commit(), "jobs": jobs, "torch_threads": 1,
        "median_startup_ms": sorted(startup)[len(startup) // 2],
        "median_step_us": sorted(steps)[len(steps) // 2],
    })
    write_json(out / f"{name}.json", manifest, indent=1)
    partial.unlink()
    print(f"{name}: wrote {table} ({table.stat().st_size / 1e6:.2f} MB)", flush=True)
    return table


def main(argv: list[str] | None = None) -> None:
    from table_workloads import TABLE_WORKLOADS

    parser = make_parser(__doc__)
    parser.add_argument("workload", help=f"one of {', '.join(TABLE_WORKLOADS)}, or all")
    parser.add_argument("--configs", type=int, default=None,
                        help="sampled configurations (default 1,000 for digits and cancer, "
                             "500 for the others)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--output-dir", type=Path, default=TABLES)
    args = parser.parse_args(argv)
    if args.configs is not None and args.configs < 1:
        parser.error(f"--configs must be at least 1; got {args.configs}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    names = TABLE_WORKLOADS if args.workload == "all" else (args.workload,)
    for name in names:
        if name not in TABLE_WORKLOADS:
            parser.error(f"unknown workload {name!r}: one of {', '.join(TABLE_WORKLOADS)}, all")
        configs = args.configs or DEFAULT_CONFIGS.get(name, DEFAULT_CONFIG_COUNT)
        build(name, configs, args.jobs, args.output_dir)


if __name__ == "__main__":
    main()
