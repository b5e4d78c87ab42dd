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

__all__ = [
    "AdienceKitError",
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "ModelFileError",
    "RunFolderError",
    "TrainingDivergedError",
]


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
