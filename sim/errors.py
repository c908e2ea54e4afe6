"""Exceptions that cross module boundaries, and the wording of unusable paths.

The CLI prints a `UserError` as one `societas: error:` line and exits 2, so any layer can
refuse bad input at the depth where it shows without knowing about the command line; anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix (bad input, an unusable path, a busy run); the message is
    shown as is."""


class ParseError(ValueError):
    """A model reply could not be turned into the task's decision type (the gateway asks for a
    repair, then records a fallback). Here rather than with `Task` because the reply parsers of
    `sim.llm` raise it too, and they sit below the tasks that use them."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a run rolls back its round and stays resumable."""


def describe_os_error(error: OSError) -> str:
    """Why a path cannot be used, naming the path the user can act on.

    `mkdir(parents=True)` reports "File exists" or "Not a directory" for the path it was asked
    to create, while the culprit is a file somewhere above it; say which.
    """
    filename = error.filename
    if filename is None:
        return error.strerror or str(error)
    path = Path(filename)
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        for candidate in (path, *path.parents):
            if candidate.exists() and not candidate.is_dir():
                return f"{candidate} is a file, not a directory"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write {path}"
    if error.errno == errno.EROFS:
        return f"{path} is on a read-only file system"
    return f"{path}: {error.strerror or error}"
