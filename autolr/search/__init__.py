"""How the next run is chosen: the search space, the sampler, the pruners, and the strategies.

- ``space``: the conditional space (family, its prefixed parameters, peak LR, warmup) and the
  baselines; ``seeds``: each trial's seed.
- ``sampling``: the TPE / random sampler that knows the current LR range; ``pruning``: the
  LR-aware pruners and the divergence guard; ``lr_edge`` and ``lr_range``: the LR range,
  learned from the first run and widened when the best trials sit at an edge.
- ``strategy``: the interface every search strategy implements; ``strategies``: the registry;
  ``full_search`` (every run at full length, pruned), ``lr_first`` (a line search on the peak
  LR with one shape, then the full search) and ``ladder_search`` (the fidelity ladder, built on
  ``ladder``: rungs, ASHA promotions, the budget in steps); ``confirmation_phase``
  re-runs the top configurations on fresh seeds, built on ``confirmation`` (the best mean).

May import: ``autolr.schedules`` and the package's base modules (``errors``, ``_validation``).
Never the study's storage, the trials' runtime, the loop or the command line.
"""
