"""Shared fixtures: the bundled digits example as a fast, real training function."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
import torch
from postgres_cluster import PostgresCluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # the tests' models are tiny: more threads only add overhead


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
