"""optuna-dashboard reads autolr studies: the real server, on a loopback port, through its API.

autolr keeps its studies as plain Optuna studies (conditional parameters, user attributes holding
JSON-like data); this test fails when something autolr stores stops being readable there.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import torch

import autolr

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is in the dev extras")


def _train() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=30)
    for step in range(30):
        optimizer.step()
        scheduler.step()
        if step % 3 == 2:
            autolr.report(abs(scheduler.base_lrs[0] - 0.05) + 1 / (step + 1), step=step // 3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_optuna_dashboard_reads_an_autolr_study(tmp_path: Path):
    storage = f"sqlite:///{tmp_path}/d.db"
    result = autolr.tune(_train, n_trials=6, storage=storage, study_name="dash", seed=0)
    trials = result.study.get_trials()
    command = shutil.which("optuna-dashboard")
    if command is None:
        pytest.skip("the optuna-dashboard command is not on PATH")
    port = _free_port()
    server = subprocess.Popen([command, storage, "--host", "127.0.0.1", "--port", str(port),
                               "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 60
        while True:
            try:
                studies = _get(f"{base}/studies")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()  # type: ignore
                assert time.monotonic() < deadline, "optuna-dashboard did not start"
                time.sleep(0.3)
        (summary,) = studies["study_summaries"]
        assert summary["study_name"] == "dash"
        assert any(attr["key"] == "autolr" for attr in summary["user_attrs"])
        detail = _get(f"{base}/studies/{summary['study_id']}?after=0")
        assert len(detail["trials"]) == len(trials)
        assert any(p["name"] == "family" for p in detail["union_search_space"])
        first = detail["trials"][0]
        assert {"spec", "lr", "seed"} <= {attr["key"] for attr in first["user_attrs"]}
        assert {p["name"] for p in first["params"]} >= {"family", "lr_scale"}
    finally:
        server.terminate()
        server.wait(timeout=10)
