"""Running one trial: the script's side (``autolr.scheduler``, ``autolr.report``) and the study's.

- ``runtime``: what a training script calls, plainly or under a trial; ``control``: a trial as
  the study sees it (its schedule, reports, pruning, shortened-run end, outcome).
- ``runners``: running a trial in this process (``autolr.tune``); ``workers``: the pool of
  persistent worker processes of ``autolr tune`` (one per GPU, or N on the CPU), which answers
  their requests over a pipe, replaces a worker that dies and stops one that hangs;
  ``worker_main``: the worker process itself (it never opens the study).
- A script without autolr calls (``autolr tune --metric``): ``captured``, a run under the
  optimizer step hooks with its metric read from its output (a trial in a worker, or
  ``autolr run``); ``observe_main``, the process of the study's first run, the script as it is;
  ``first_run``, that run kept in the study and the messages when it shows the script cannot be
  tuned so.

May import: ``autolr.search``, ``autolr.study`` (the storage wrapper), ``autolr.capture``,
``autolr.schedules`` and the base modules. Never the loop, reports or the command line.
``worker_main`` stays light: a worker imports torch and the script, not Optuna.
"""
