"""autolr for training frameworks that own the training loop.

Each integration lives in its own submodule and imports its framework only when that submodule
is imported (``from autolr.integrations.lightning import AutolrCallback``), so ``import autolr``
never loads a framework it does not use.

May import ``autolr.trials`` (the runtime a callback calls, as a script would) and the base
modules.
"""
