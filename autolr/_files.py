"""Writing user-visible files safely: never a half-written file where a good one stood."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from autolr.errors import ConfigError


def write_atomic(target: Path, text: str, what: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then move it into place.

    ``what`` names the content in the error message ("the schedule", "the report").
    """
    temp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as exc:
        raise ConfigError(f"Cannot write {what} to {str(target)!r}: {exc}") from exc
