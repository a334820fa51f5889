"""The shared harness of the benchmark scripts: what every script needs around its measurement.

- :mod:`harness.cli`: the common command-line options (``--quick``, ``--workloads``,
  ``--seed``, ``--jobs``, ``--output-dir``) and their defaults, each script keeping its own help
  text;
- :mod:`harness.meta`: what a results file records about the run (date, machine, package
  versions, git commit, command line);
- :mod:`harness.jobs`: start-up of a measuring process (torch threads, Optuna's logging) and
  independent runs spread over worker processes;
- :mod:`harness.lookup`: workloads by name (aliases, the metric each reports, a per-process
  cache);
- :mod:`harness.files`: where results go, and result files (JSON) written and read back;
- :mod:`harness.markdown`: Markdown tables, number formatting and a marked section of a page
  replaced in place.

Every script puts ``benchmarks/`` on ``sys.path`` first (it is run as
``python benchmarks/<script>.py``), then imports ``harness``; no module of the harness imports
torch, Optuna or autolr at import time, so a report re-renders without them being loaded.
"""

from __future__ import annotations
