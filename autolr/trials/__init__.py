"""Running one trial: the script's side (``autolr.scheduler``, ``autolr.report``) and the study's.

- ``runtime``: what a training script calls, plainly or under a trial; ``control``: a trial as
  the study sees it (its schedule, reports, pruning, shortened-run end, outcome).
- ``runners``: running a trial in this process (``autolr.tune``); ``workers``: the pool of
  persistent worker processes of ``autolr tune`` (one per GPU, or N on the CPU), which answers
  their requests over a pipe, replaces a worker that dies and stops one that hangs;
  ``worker_main``: the worker process itself (it never opens the study).

May import: ``autolr.search``, ``autolr.study`` (the storage wrapper), ``autolr.schedules`` and
the base modules. Never the loop, reports or the command line. ``worker_main`` stays light: a
worker imports torch and the script, not Optuna.
"""
