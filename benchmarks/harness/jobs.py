"""Start-up of a measuring process, and independent runs spread over worker processes.

A benchmark is many independent, seeded runs (a search, a schedule's training runs). They go to
``jobs`` worker processes (``spawn``: a fresh interpreter each, no state inherited), each with a
fixed number of torch threads, so that a run's figures depend on its seed, the thread count and
the machine, and not on which process ran it or what ran before. With one job everything runs in
this process, in order, which is easier to debug and prints progress as it goes.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Call = TypeVar("Call", bound=tuple[Any, ...])


def quiet_optuna() -> None:
    """Optuna logs warnings only: its per-trial INFO lines would bury the benchmark's own."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def init_worker(threads: int) -> None:
    """Start-up of a process that measures: ``threads`` torch threads, Optuna quiet."""
    import torch

    torch.set_num_threads(threads)
    quiet_optuna()


def threads_per_job(jobs: int, single: bool = False) -> int:
    """Torch threads for each of ``jobs`` parallel jobs: the cores shared out, at least one;
    one with ``single`` (tiny models gain nothing from more, and oversubscribed threads on a
    busy machine slow every job down many times over)."""
    return 1 if single else max(1, (os.cpu_count() or 1) // jobs)


class InlineExecutor(futures.Executor):
    """An executor that runs each call at once, in this process (``--jobs 1``); an exception
    propagates from ``submit`` as it would from a plain call."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future[Any]:
        done: futures.Future[Any] = futures.Future()
        done.set_result(fn(*args, **kwargs))
        return done


def executor(jobs: int, threads: int) -> futures.Executor:
    """``jobs`` spawned worker processes started by :func:`init_worker`, or with ``jobs`` 1 this
    process (started the same way) through :class:`InlineExecutor`."""
    if jobs <= 1:
        init_worker(threads)
        return InlineExecutor()
    return futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=init_worker, initargs=(threads,))


def run_all(fn: Callable[..., Any], calls: Iterable[Call], jobs: int,
            threads: int) -> Iterator[tuple[Call, Any]]:
    """``fn(*call)`` for every call, on ``jobs`` processes of ``threads`` torch threads each:
    ``(call, result)`` as each finishes (in order with one job). ``fn`` must be importable by
    name from a worker process (a module-level function)."""
    calls = list(calls)
    if jobs <= 1:
        init_worker(threads)
        for call in calls:
            yield call, fn(*call)
        return
    with executor(jobs, threads) as pool:
        pending = {pool.submit(fn, *call): call for call in calls}
        for future in futures.as_completed(pending):
            yield pending[future], future.result()
