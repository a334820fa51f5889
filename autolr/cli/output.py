"""Where the command's output goes: a terminal, a file or pipe, a closed pipe.

Into a file or a pipe (a job's log, ``tee``) lines are never broken at the terminal's width:
:func:`output_console` soft-wraps them, and tables are printed at their full width.


A reader that stops early (``head``, ``less`` quit) closes the pipe; the next write fails with
EPIPE. Like ``cat`` or ``git log``, the command then ends quietly with status 141, which is how
a shell reports a command ended by SIGPIPE (128 + 13), so ``set -o pipefail`` sees the same status
as with any other Unix tool. Nothing stored changes: the commands that only read (``show``,
``families``, ``studies``) have written nothing, and ``tune`` has already failed and queued again
the trials it was running. An EPIPE from anything else (a worker's connection, a database
socket) is an error like any other, and gets its message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import sys
from typing import Any, NoReturn

EXIT_CLOSED_PIPE = 141
"""The exit status when the output's reader has gone (128 + SIGPIPE, as shells report it)."""


def output_console() -> Any:
    """The console the commands print with: on a terminal, rich's own; into a file or a pipe,
    one that leaves long lines whole for the reader's viewer to wrap."""
    from rich.console import Console

    class OutputConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich's own answer is a silent exit 1; a closed pipe is handled as one place
            # decides (autolr.cli), after ``tune`` has failed and queued again its trials
            raise BrokenPipeError(errno.EPIPE, "the output's reader closed the pipe")

    console = OutputConsole()
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def closed_output() -> bool:
    """True when standard output or standard error is a pipe whose reader has closed it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        with contextlib.suppress(OSError):
            if any(events & select.POLLERR for _, events in poller.poll(0)):
                return True
    return False


def end_quietly_on_closed_pipe() -> NoReturn:
    """Exit with :data:`EXIT_CLOSED_PIPE`, what is still buffered for the closed pipe dropped
    (the interpreter's final flush would fail again and print a warning)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    sys.exit(EXIT_CLOSED_PIPE)
