"""The command-line options the benchmark scripts share, and how their defaults resolve.

Each script keeps its own help text (what ``--quick`` shrinks differs from script to script);
the helpers fix the option names, types and defaults, so that ``--workloads digits,char``,
``--seed 1``, ``--jobs 2`` or ``--output-dir DIR`` mean the same everywhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def make_parser(doc: str, *, paragraph: bool = False) -> argparse.ArgumentParser:
    """A parser described by the script's docstring: its first line (or, with ``paragraph``,
    its first paragraph)."""
    description = doc.split("\n\n")[0] if paragraph else doc.splitlines()[0]
    return argparse.ArgumentParser(description=description)


def add_quick(parser: argparse.ArgumentParser, help: str) -> None:
    """``--quick``: a smoke run (tiny runs, seconds to a minute), ``help`` saying what shrinks."""
    parser.add_argument("--quick", action="store_true", help=help)


def add_workloads(parser: argparse.ArgumentParser, help: str) -> None:
    """``--workloads a,b``: a comma-separated subset (resolved by :func:`workload_list`)."""
    parser.add_argument("--workloads", default=None, help=help)


def add_seed(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--seed S`` (default 0): the seed a run is reproducible from."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_jobs(parser: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    """``--jobs J``: parallel worker processes (None: resolved by :func:`default_jobs`)."""
    parser.add_argument("--jobs", type=int, default=default, help=help)


def add_output_dir(parser: argparse.ArgumentParser, files: str) -> None:
    """``--output-dir DIR`` for ``files`` (resolved by :func:`harness.files.output_dir`)."""
    parser.add_argument("--output-dir", type=Path, default=None,
                        help=f"where {files} go (default benchmarks/results, or "
                             "benchmarks/results/quick with --quick)")


def workload_list(parser: argparse.ArgumentParser, given: str | None, default: str,
                  known: Sequence[str], aliases: Mapping[str, str] | None = None) -> list[str]:
    """The workloads asked for, in order, each once: ``given`` (comma-separated) or ``default``;
    an alias becomes its workload; an unknown name ends the script with a usage error."""
    names: list[str] = []
    for name in (n.strip() for n in (given or default).split(",")):
        if not name:
            continue
        name = (aliases or {}).get(name, name)
        if name not in known:
            parser.error(f"unknown workload {name!r}: choose from {', '.join(known)}")
        if name not in names:
            names.append(name)
    return names


def default_jobs(quick: bool) -> int:
    """``--jobs``' default: one process per core, one in a quick run (tiny runs gain nothing
    from more)."""
    return 1 if quick else max(1, os.cpu_count() or 1)
