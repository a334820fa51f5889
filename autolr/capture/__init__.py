"""The pieces of tuning a script that never imports autolr (``autolr tune SCRIPT --metric NAME``,
``autolr run``): torch's optimizer step hooks and the script's output.

- ``metric_lines``: finding ``NAME`` followed by a number (or a user's regex) in a line of
  output, and the names a run printed numbers for (for the message when the metric never
  appears).
- ``output_tap``: a text stream that writes through and hands every finished line (``\\n`` or
  ``\\r``) to a callback: how ``print``, ``logging`` and progress bars reach the parser.
- ``step_hooks``: the global optimizer step hooks. Observing, they count the optimizer steps and
  record the LR the script sets; applying, they set every param group's LR from a schedule
  before each step and give the script's own LR back after it.

Running a script under them is the trials' business (:mod:`autolr.trials.captured`: a run in
this process; :mod:`autolr.trials.observe_main`: the study's first run, the script as it is;
:mod:`autolr.trials.first_run`: that run kept in the study).

May import ``autolr.schedules`` and the base modules; never Optuna (a worker process does not
load it) nor the layers above.
"""
