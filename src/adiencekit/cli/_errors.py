"""Turn a user or environment error into the one line the CLI prints; leave bugs alone.

:func:`one_line` answers ``None`` for an exception that is a bug (the CLI then lets its
traceback show) and a single line for:

* every :class:`adiencekit.errors.AdienceKitError` (the library's user errors);
* ``OSError`` from the environment (missing file, permission denied, read-only or full
  disk, ...), naming the path and, for the usual cases, what to do;
* JSON, CSV (pandas) and text-decoding errors from reading a user's file, naming the file
  when the traceback shows which one was being read.

Example:

>>> import errno
>>> from adiencekit.cli._errors import one_line
>>> one_line(OSError(errno.EROFS, "Read-only file system", "/mnt/ro/run"))
'Read-only file system: /mnt/ro/run (choose a writable folder: --out for runs, ADIENCEKIT_HOME for the synthetic-data cache)'
>>> one_line(ZeroDivisionError("a bug")) is None
True
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from types import TracebackType

from adiencekit.errors import AdienceKitError

__all__ = ["fail", "one_line", "printable"]

_ELSEWHERE = "--out for runs, ADIENCEKIT_HOME for the synthetic-data cache"
_HINTS = {
    errno.ENOSPC: f"free some disk space or write elsewhere: {_ELSEWHERE}",
    errno.EDQUOT: f"free some disk space or write elsewhere: {_ELSEWHERE}",
    errno.EROFS: f"choose a writable folder: {_ELSEWHERE}",
    errno.EACCES: f"check the permissions or choose another folder: {_ELSEWHERE}",
    errno.EPERM: f"check the permissions or choose another folder: {_ELSEWHERE}",
}

#: Local variable names that hold the file being read, innermost frame first.
_PATH_NAMES = ("filepath_or_buffer", "config_path", "filepath", "filename", "fname", "path", "file")


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def file_in_traceback(traceback: TracebackType | None) -> str | None:
    """The path a failing read was working on, from the innermost frame that names one."""
    frames = []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):
        for name in _PATH_NAMES:
            value = frame.f_locals.get(name)
            if isinstance(value, (str, os.PathLike)) and str(value) and not str(value).startswith("<"):
                return str(value)
    return None


def _os_error(error: OSError) -> str:
    if error.strerror is None or error.errno is None:  # raised with a message of its own
        return _first_line(str(error)) or type(error).__name__
    message = error.strerror
    if error.filename is not None:
        message += f": {error.filename}"
        if error.filename2 is not None:
            message += f" -> {error.filename2}"
    hint = _HINTS.get(error.errno)
    return f"{message} ({hint})" if hint else message


def _pandas_errors() -> tuple[type[BaseException], ...]:
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return ()
    return (pandas.errors.ParserError, pandas.errors.EmptyDataError)


def one_line(error: BaseException) -> str | None:
    """The one-line message for a user or environment error, or ``None`` for a bug.

    Args:
        error: the exception that ended a command.

    Returns:
        The message (without the ``adiencekit: error:`` prefix), or ``None``.
    """
    if isinstance(error, AdienceKitError):
        return _first_line(str(error)) or type(error).__name__
    where = file_in_traceback(error.__traceback__)
    named = f"{Path(where)}: " if where else ""
    if isinstance(error, json.JSONDecodeError):
        return f"{named}not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return f"{named}not UTF-8 text ({error.reason} at byte {error.start}); save the file as UTF-8"
    if isinstance(error, _pandas_errors()):
        return f"{named}cannot read this table: {_first_line(str(error))}"
    if isinstance(error, OSError):
        return _os_error(error)
    return None


def fail(message: str, code: int = 2) -> int:
    """Print ``adiencekit: error: MESSAGE`` (its first line, printable on any stream) on stderr; return ``code``."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"adiencekit: error: {printable(first)}", file=sys.stderr, flush=True)
    return code


def printable(text: str) -> str:
    """``text`` safe to print on any stream: file names that are not valid UTF-8 keep their bytes as escapes.

    Example:

    >>> import os
    >>> printable(os.fsdecode(b"caf\\xe9.jpg"))
    'caf\\\\udce9.jpg'
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
