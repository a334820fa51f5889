"""What ``autolr tune`` shows while it runs: a live panel on a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from optuna.trial import TrialState
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from autolr.search.ladder import SHORTENED
from autolr.trials.control import TrialControl, TrialOutcome


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TuneProgress:
    """Counts, best value, each worker's trial and step, elapsed time and ETA.

    ``status()`` says how much of the budget of ``target`` is spent, and in what unit: full
    runs of compute on the fidelity ladder, finished trials in a full search.
    """

    def __init__(
        self,
        console: Console,
        pool: Any,
        *,
        target: int,
        status: Callable[[], tuple[float, str]],
        direction: str,
    ) -> None:
        self.console = console
        self.pool = pool
        self.target = target
        self.status = status
        self.spent_before = status()[0]
        self.direction = direction
        self.counts = {"complete": 0, "shortened": 0, "pruned": 0, "failed": 0}
        self.best: tuple[float, str, float] | None = None
        self.started = time.time()
        self.live: Live | None = None

    def __enter__(self) -> TuneProgress:
        if self.console.is_terminal:
            self.live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def trial_started(self, control: TrialControl) -> None:
        if self.live is None:
            return
        self.live.refresh()

    def trial_ended(self, control: TrialControl, outcome: TrialOutcome) -> None:
        key = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(
            outcome.state, "failed"
        )
        if outcome.reason == SHORTENED:
            key = "shortened"
        self.counts[key] += 1
        spec = control.spec
        if outcome.state == TrialState.COMPLETE and outcome.value is not None and spec:
            better = self.best is None or (
                outcome.value < self.best[0]
                if self.direction == "minimize"
                else outcome.value > self.best[0]
            )
            if better:
                self.best = (outcome.value, spec.family, spec.lr)
        value = "" if outcome.value is None else f" value {outcome.value:.6g}"
        family = f" {spec.family} lr {spec.lr:.3g}" if spec else ""
        fidelity = ""
        confirms = control.trial.user_attrs.get("confirms")
        if confirms is not None:
            fidelity = f" confirming trial {confirms} on a fresh seed"
        if control.fidelity < 1 and control.run_steps:
            fidelity = f" at {control.run_steps} steps (fidelity {control.fidelity:.3g})"
        line = (
            f"trial {control.number} {outcome.reason}{value}{family}{fidelity} "
            f"[{control.worker}] ({self._spent_text()})"
        )
        if outcome.error and outcome.state == TrialState.FAIL:
            line += f": {outcome.error.splitlines()[0][:200]}"
        self.console.print(line, markup=False, highlight=False)

    def _spent_text(self) -> str:
        spent, unit = self.status()
        shown = f"{spent:.1f}" if unit == "full runs" else f"{spent:.0f}"
        return f"{shown}/{self.target} {unit}"

    def __rich__(self) -> Group:
        spent, _ = self.status()
        elapsed = time.time() - self.started
        run_done = spent - self.spent_before
        remaining = self.target - spent
        eta = elapsed / run_done * remaining if run_done > 0 else math.inf
        head = Text.assemble(
            ("autolr ", "bold"),
            f"{self._spent_text()}  ",
            (f"shortened {self.counts['shortened']}  " if self.counts["shortened"] else ""),
            (f"pruned {self.counts['pruned']}  ", "yellow"),
            (f"failed {self.counts['failed']}  ", "red" if self.counts["failed"] else ""),
            f"elapsed {format_duration(elapsed)}  ETA {format_duration(eta)}",
        )
        best = (
            Text(f"best {self.best[0]:.6g}  ({self.best[1]}, peak LR {self.best[2]:.3g})",
                 style="green")
            if self.best
            else Text("best: no complete trial yet", style="dim")
        )
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("worker")
        table.add_column("trial")
        table.add_column("step")
        for row in self.pool.status():
            step = "" if row["trial"] is None else f"{row['step']}"
            if row["trial"] is not None and row["total"]:
                step += f"/{row['total']}"
            trial = "idle" if row["trial"] is None else str(row["trial"])
            table.add_row(row["worker"], trial, step)
        return Group(head, best, table)
