"""Shared fixtures (the bundled digits example as a fast, real training function, a throwaway
PostgreSQL cluster) and how the suite runs in parallel under pytest-xdist.

Parallel runs (``addopts`` in pyproject.toml: ``-n auto --dist loadgroup``): every test of a
module that has a module-scope fixture goes to one worker, so the fixture (a study, a benchmark
run, subprocesses started for the whole module) is made once, not once per worker; the tests
marked ``slow`` are handed out first, so that no long test starts last and runs alone; and the
reliability suite's figures are summed over the workers before they are printed. The tests that
press Ctrl-C on a study need SIGINT to reach it, however the suite was started (see
:func:`pytest_configure`).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import reliability_tally
import torch
from postgres_cluster import PostgresCluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # the tests' models are tiny: more threads only add overhead
# ... in the scripts the tests start too (autolr tune's workers keep within it): the suite's
# workers share the machine's cores, and torch threads that wait on each other there take several
# times the CPU. A test that needs another count sets it in the environment it passes.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def digits_module():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import digits_mlp
    finally:
        sys.path.remove(str(EXAMPLES))
    return digits_mlp


@pytest.fixture()
def digits_train(digits_module) -> Callable[[], float]:
    """Four epochs of the digits MLP (about 90 scheduler steps, a fraction of a second)."""

    def train() -> float:
        return digits_module.train(epochs=4, lr=0.05, batch_size=64, hidden=32)

    return train


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole session (initdb is the slow part).

    Skipped, with the reason, where it cannot run: no server binaries, no runuser, neither root nor
    the ``postgres`` user, or no psycopg (3) driver. Removed at the end even when tests fail.
    """
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"no throwaway PostgreSQL cluster: {reason}")
    cluster = PostgresCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture()
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The URL of a fresh, empty database on the session's cluster.

    Starts the cluster first when it is down: an earlier test may have stopped it mid-study.
    """
    postgres_cluster.start()
    return postgres_cluster.create_database()


# -- running under pytest-xdist -------------------------------------------------------------------


def _module_scope_fixtures(item: pytest.Item) -> list[str]:
    """The module-scope fixtures ``item`` uses (set up once per module and worker)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return [name for name, defs in info.name2fixturedefs.items()
            if defs and defs[-1].scope == "module"]


def pytest_configure(config: pytest.Config) -> None:
    """A shell that starts the suite in the background (``cmd &`` without job control) sets
    SIGINT to "ignore", and every process started from it inherits that: a study the Ctrl-C
    tests interrupt would never see the signal and run to its end. A handler of our own is
    reset to the default in each child, so the studies those tests start hear Ctrl-C."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist: keep each module with a module-scope fixture on one worker (xdist_group, read
    by ``--dist loadgroup``), and hand the ``slow`` tests out first. A plain run is unchanged.

    Every worker collects and sorts alike (a stable sort on the marker), as xdist requires.
    """
    if not hasattr(config, "workerinput"):
        return
    for item in items:
        if _module_scope_fixtures(item) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this worker's reliability figures to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[reliability_tally.WORKER_OUTPUT_KEY] = reliability_tally.dump()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """On the xdist controller: add up the figures of each worker as it finishes."""
    text = getattr(node, "workeroutput", {}).get(reliability_tally.WORKER_OUTPUT_KEY)
    if text:
        reliability_tally.merge(text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The reliability figures of the whole run (every worker's), when any test added to them."""
    reliability_tally.write_summary(terminalreporter)
