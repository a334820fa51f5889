"""Tuning a script that never imports autolr: the LR set through torch's optimizer hooks, the
metric read from the script's output (``autolr tune SCRIPT --metric NAME``, ``autolr run``).

- ``metric_lines``: finding ``NAME`` followed by a number (or a user's regex) in a line of
  output, and the names a run printed numbers for (for the message when the metric never
  appears).
- ``output_tap``: a text stream that writes through and hands every finished line (``\\n`` or
  ``\\r``) to a callback: how ``print``, ``logging`` and progress bars reach the parser.
- ``step_hooks``: the global optimizer step hooks. Observing, they count the optimizer steps and
  record the LR the script sets; applying, they set every param group's LR from a schedule
  before each step and give the script's own LR back after it.
- ``capture_run``: one run of the script under the hooks in this process (a study's trial in a
  worker, the study's first run that observes the script, or ``autolr run``).
- ``script_run``: the study's side: the first run's findings (length, LR, value) kept in the
  study, and the messages for a metric that never appears or a script that never steps.

May import ``autolr.trials.runtime``, ``autolr.schedules`` and the base modules; never Optuna
(a worker process does not load it).
"""
