"""``python -m autolr`` is the ``autolr`` command."""

from autolr.cli import main

main()
