"""The ``autolr`` command: thin, it parses options, calls the library and prints.

- ``commands``: the commands and their options; ``options``: parsing option values;
  ``run``: running a study for ``tune`` and ``confirm`` (workers, Ctrl-C, the summary, the
  exports); ``show``: what ``show`` and the end of ``tune`` print; ``progress``: the live panel
  or plain lines while a study runs; ``output``: terminals, log files and closed pipes.

May import anything below it. Heavy modules (Optuna, rich, torch) are imported inside the
commands, so ``autolr --help`` stays fast.
"""

from autolr.cli.commands import EXIT_INTERRUPTED, main

__all__ = ["EXIT_INTERRUPTED", "main"]
