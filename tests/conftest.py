"""Shared fixtures: the bundled digits example as a fast, real training function."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import torch

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
