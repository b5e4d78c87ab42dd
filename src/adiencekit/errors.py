"""The library's error types: what a user or the environment got wrong, as one line.

Every exception here derives from :class:`AdienceKitError`. The command line prints such
an error as one line on stderr and exits with status 2; anything else is a bug and keeps
its traceback. Each class also derives from the built-in type a Python caller would
expect (``ValueError`` for bad values, ``FileNotFoundError`` for missing files, ...), so
``except ValueError`` keeps working.

Example:

>>> from adiencekit.errors import AdienceKitError, DataError
>>> try:
...     raise DataError("fold_0_data.txt line 3: 11 fields, expected 12")
... except AdienceKitError as error:
...     print(error)
fold_0_data.txt line 3: 11 fields, expected 12
>>> issubclass(DataError, ValueError)
True
"""

from __future__ import annotations

import sys

__all__ = [
    "AdienceKitError",
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "ModelFileError",
    "RunFolderError",
    "TrainingDivergedError",
    "damaged_reason",
    "notice",
]


def notice(message: str) -> None:
    """Print a one-line notice on stderr (``adiencekit: MESSAGE``): what the library did on the user's behalf.

    Example:

    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     notice("resuming after epoch 2")
    >>> err.getvalue().strip()
    'adiencekit: resuming after epoch 2'
    """
    print(f"adiencekit: {message}", file=sys.stderr, flush=True)


class AdienceKitError(Exception):
    """Base class: a user or environment mistake, reported as one line (CLI exit 2)."""


class ConfigError(AdienceKitError, ValueError):
    """An invalid setting: a config field, a model argument, an option value."""


class DataError(AdienceKitError, ValueError):
    """Dataset contents that cannot be used: a malformed fold or labels file, an empty split."""


class DatasetNotFoundError(AdienceKitError, FileNotFoundError):
    """A dataset file or folder is missing; the message names the path and how to get it."""


class RunFolderError(AdienceKitError, OSError):
    """A run folder that cannot be used: finished, locked by another process, of another config."""


class ModelFileError(AdienceKitError, OSError):
    """A saved model or preset that cannot be read (missing, truncated, not a model)."""


class TrainingDivergedError(AdienceKitError, ArithmeticError):
    """Training produced a non-finite loss or weights; the run is marked failed."""


def damaged_reason(error: BaseException) -> str:
    """Why a model file that exists could not be loaded, in a few words for a one-line error.

    Keras answers a truncated or foreign ``.keras`` file with "File not found" although the
    file is there; that reason is replaced by what it means.

    Example:

    >>> damaged_reason(ValueError("File not found: filepath=x.keras. Please ensure ..."))
    'the file is damaged or not a Keras model'
    >>> damaged_reason(OSError("Unable to open file (truncated file)"))
    'the file is damaged or not a Keras model (Unable to open file (truncated file))'
    """
    text = str(error).strip()
    first = text.splitlines()[0][:200] if text else type(error).__name__
    if "File not found" in first or "not a zip file" in first.lower():
        return "the file is damaged or not a Keras model"
    return f"the file is damaged or not a Keras model ({first})"
