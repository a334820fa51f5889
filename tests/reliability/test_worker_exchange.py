"""A worker killed at each point of its exchange with the study process, on purpose.

The random-kill test (``test_faults.py``) finds a window only when the timing falls in it. Here
the trial itself kills its worker right after it sends one kind of message, with the study
process stopped (SIGSTOP) from just before the message until the worker is gone, so that the
parent reads the message from a connection whose other end is closed: every window is hit on
every run: after asking for its schedule (the parent answers with the schedule), after a
report the worker waits on (the parent answers with a decision), at the script's start and end,
and after the trial's result (the parent's next message is the next trial). Whatever the moment,
the parent must record that trial as ``worker died``, replace the worker, finish the study with
exit 0, print no traceback and leave no trial RUNNING.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

# 12 scheduler steps, a report every 3. The second report is above the first, so the worker
# waits for the parent's answer to it (a rising loss may show a diverged run). The first trial
# (the one that finds no marker file) kills its own worker at the point named by --die.
SCRIPT = textwrap.dedent(
    """
    import argparse, os, signal, subprocess
    from multiprocessing.connection import Connection
    import torch
    import autolr

    parser = argparse.ArgumentParser()
    parser.add_argument("--die", default="")
    parser.add_argument("--marker", default="")
    args = parser.parse_args()

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def stop_parent_then_die():
        # the study process is stopped until this worker is gone, so it reads the message only
        # after the worker's end of the connection is closed: the window, every time
        subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -CONT {os.getppid()}"],
                         start_new_session=True)
        die()

    dying = bool(args.die) and not os.path.exists(args.marker)
    if dying:
        open(args.marker, "w").close()
        send = Connection.send

        def send_then_die(self, message):
            kind = message[0]
            if kind == "report" and message[-1]:
                kind = "waiting report"
            if kind != args.die:
                return send(self, message)
            os.kill(os.getppid(), signal.SIGSTOP)
            send(self, message)
            stop_parent_then_die()

        Connection.send = send_then_die
    if dying and args.die == "start":
        die()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = autolr.scheduler(optimizer, total_steps=12)
    for i in range(12):
        optimizer.step()
        scheduler.step()
        if i % 3 == 2:
            autolr.report([1.0, 1.5, 0.8, 0.7][i // 3] * scheduler.base_lrs[0], step=i // 3)
    if dying and args.die == "end":
        die()
    """
)
POINTS = ["start", "schedule", "waiting report", "end", "done"]


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_each_point_of_the_exchange(tmp_path: Path, point: str, tally):
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "died"
    command = [sys.executable, "-m", "autolr", "tune", str(script), "--trials", "4", "--seed",
               "3", "--search", "full", "--pruner", "none", "--confirm", "0", "--",
               "--die", point, "--marker", str(marker)]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    tally.fault()
    assert marker.exists(), "the fault was not injected"
    assert run.returncode == 0, output
    assert "Traceback" not in output
    trials = optuna.load_study(study_name="toy",
                               storage=f"sqlite:///{tmp_path / 'studies' / 'toy.db'}").get_trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    failed = [t for t in trials if t.state == TrialState.FAIL]
    if point == "done":  # the trial's result arrived whole: only the next trial meets a dead worker
        assert not failed or all(t.user_attrs["reason"] == "worker died" for t in failed)
    else:
        assert len(failed) == 1, [(t.number, t.state, t.user_attrs) for t in trials]
        assert failed[0].user_attrs["reason"] == "worker died"
        assert "SIGKILL" in failed[0].user_attrs["error"]
    tally.survived()
