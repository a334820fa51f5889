"""The ``autolr`` command."""

from autolr.cli.commands import EXIT_INTERRUPTED, main

__all__ = ["EXIT_INTERRUPTED", "main"]
