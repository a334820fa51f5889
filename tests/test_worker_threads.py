"""How many torch threads each ``autolr tune`` worker gets: the machine's cores shared out among
the workers, and never more than an ``OMP_NUM_THREADS`` the user set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autolr.trials.workers import WorkerPool, worker_threads


@pytest.mark.parametrize(("cores", "workers", "limit", "threads"), [
    (8, 1, None, 8),
    (8, 2, None, 4),
    (8, 3, None, 2),
    (2, 4, None, 1),
    (8, 2, "1", 1),
    (8, 2, "3", 3),
    (8, 2, "16", 4),  # a limit above the share changes nothing
    (8, 2, "", 4),
    (8, 2, "0", 4),
    (8, 2, "many", 4),
])
def test_the_cores_are_shared_out_within_omp_num_threads(monkeypatch, cores, workers, limit,
                                                          threads):
    if limit is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", limit)
    assert worker_threads(cores, workers) == threads


@pytest.mark.parametrize(("limit", "threads"), [(None, "4"), ("1", "1")])
def test_each_cpu_worker_is_started_with_its_threads(monkeypatch, tmp_path: Path, limit,
                                                     threads):
    if limit is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", limit)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    script = tmp_path / "train.py"
    script.write_text("")
    pool = WorkerPool(script, workers=2, log_dir=tmp_path / "logs", prestart=False)
    for env in (slot.env for slot in pool.slots_list):
        assert env["AUTOLR_TORCH_THREADS"] == env["OMP_NUM_THREADS"] == threads
