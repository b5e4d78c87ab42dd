"""Crash-safe file writes: a temporary file in the target's folder, fsync, ``os.replace``.

One place for every write whose half-written state would hurt: run configs, metrics,
histories, checkpoints and saved models. A reader sees either the old file or the new
one, never a truncated mix. The module imports no TensorFlow and sits below
``training`` and ``evaluation`` (both use it).

A full disk, a read-only file system or a missing permission (``ENOSPC``, ``EROFS``,
``EACCES``, ...) becomes a :class:`~adiencekit.errors.RunFolderError` that names the
file; the temporary file is removed and the previous version of the target is kept.
Weights and models are only written when the disk has room for them
(:func:`check_free_space`): HDF5 may crash the process on a full disk.

Every write passes through one hook, so tests can inject faults: :func:`set_write_hook`
installs a function called as ``hook(path, stage)`` with ``stage`` ``"start"`` (nothing
written yet) or ``"written"`` (the temporary file is complete, the target not yet
replaced). The environment variable ``ADIENCEKIT_WRITE_FAULT="N:ACTION"`` installs such a
hook for a whole process (for subprocess tests): at the N-th write (1-based) ``enospc``,
``erofs`` or ``eacces`` raise that error, ``sleep:S`` prints
``adiencekit-fault: write N ...`` to stderr and sleeps S seconds between writing and
replacing, and ``kill`` SIGKILLs the process at that point.

Example:

>>> import tempfile
>>> from pathlib import Path
>>> from adiencekit.fileio import atomic_write_text
>>> path = Path(tempfile.mkdtemp()) / "metrics.json"
>>> atomic_write_text(path, '{"accuracy": 0.9}')
>>> path.read_text()
'{"accuracy": 0.9}'
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from adiencekit.errors import RunFolderError

__all__ = [
    "DISK_ERRNOS",
    "RunFolderWriteError",
    "WriteHook",
    "atomic_save_model",
    "atomic_save_weights",
    "atomic_write_text",
    "check_free_space",
    "disk_errors",
    "file_sha256",
    "make_dirs",
    "run_folder_error",
    "set_write_hook",
    "write_count",
]

#: ``errno`` values that mean "the disk or folder cannot take this write".
DISK_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, getattr(errno, "EDQUOT", None), errno.EFBIG
    )
    if code is not None
)

WriteHook = Callable[[Path, str], None]

_hook: WriteHook | None = None
_writes = 0

#: Slack kept free on top of a weights file's estimated size (bytes).
FREE_SPACE_MARGIN = 4 * 1024 * 1024


def set_write_hook(hook: WriteHook | None) -> WriteHook | None:
    """Install ``hook(path, stage)``, called around every write of this module.

    Args:
        hook: the function, or ``None`` to remove it. It may raise (e.g.
            ``OSError(errno.ENOSPC, ...)``) to simulate a failing write.

    Returns:
        The previous hook, to restore it afterwards.

    Example:

    >>> import errno, tempfile
    >>> from pathlib import Path
    >>> from adiencekit.errors import RunFolderError
    >>> from adiencekit.fileio import atomic_write_text, set_write_hook
    >>> def full(path, stage):
    ...     raise OSError(errno.ENOSPC, "No space left on device")
    >>> previous = set_write_hook(full)
    >>> try:
    ...     atomic_write_text(Path(tempfile.mkdtemp()) / "x.json", "{}")
    ... except RunFolderError as error:
    ...     print(str(error).split(":")[0], error.errno == errno.ENOSPC)
    cannot write x.json True
    >>> _ = set_write_hook(previous)
    """
    global _hook
    previous, _hook = _hook, hook
    return previous


def write_count() -> int:
    """How many writes this module has started in this process."""
    return _writes


def _env_hook(spec: str) -> WriteHook:
    number_text, _, action = spec.partition(":")
    try:
        number = int(number_text)
    except ValueError:
        raise ValueError(f"ADIENCEKIT_WRITE_FAULT must look like 'N:ACTION', got {spec!r}") from None
    codes = {"enospc": errno.ENOSPC, "erofs": errno.EROFS, "eacces": errno.EACCES}
    if action not in codes and action != "kill" and not action.startswith("sleep:"):
        raise ValueError(f"ADIENCEKIT_WRITE_FAULT action must be enospc, erofs, eacces, kill or sleep:S; got {action!r}")

    def hook(path: Path, stage: str) -> None:
        if _writes != number:
            return
        if action in codes and stage == "start":
            raise OSError(codes[action], os.strerror(codes[action]), str(path))
        if stage == "written" and action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if stage == "written" and action.startswith("sleep:"):
            print(f"adiencekit-fault: write {number} ({path}) paused", file=sys.stderr, flush=True)
            time.sleep(float(action.split(":", 1)[1]))

    return hook


if os.environ.get("ADIENCEKIT_WRITE_FAULT"):
    _hook = _env_hook(os.environ["ADIENCEKIT_WRITE_FAULT"])


class RunFolderWriteError(RunFolderError):
    """A disk error (full, read-only, forbidden) while writing into a run folder.

    ``errno`` and ``filename`` are set as for any ``OSError``; ``str()`` is the one-line
    message naming the file and the fix.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def run_folder_error(error: OSError, path: str | os.PathLike[str], action: str = "write") -> RunFolderError:
    """A one-line :class:`RunFolderWriteError` for a disk error while touching ``path``."""
    # One line, whole: HDF5's messages run over several lines, so name the errno instead.
    reason = os.strerror(error.errno) if error.errno in DISK_ERRNOS and not _own_message(error) else (
        " ".join(str(error.strerror or error).split()))
    fix = {
        errno.ENOSPC: "free some disk space",
        errno.EROFS: "the file system is read-only; choose another folder",
        errno.EACCES: "check the folder's permissions or choose another folder",
        errno.EPERM: "check the folder's permissions or choose another folder",
        errno.EFBIG: "the file is larger than this process may write (see `ulimit -f`); raise that limit",
    }.get(error.errno or 0, "free space or fix the folder")
    return RunFolderWriteError(
        error.errno,
        f"cannot {action} {Path(path).name}: {reason} ({path}); {fix}, then run the same command again to resume",
        os.fspath(path),
    )


#: How libraries that drop ``errno`` (HDF5 through h5py) still name the disk errors.
_ERRNO_TEXT = {
    errno.ENOSPC: ("errno = 28", "No space left on device"),
    errno.EROFS: ("errno = 30", "Read-only file system"),
    errno.EACCES: ("errno = 13", "Permission denied"),
}


def _disk_errno(error: OSError) -> int | None:
    if error.errno in DISK_ERRNOS:
        return error.errno
    text = str(error)
    return next((code for code, marks in _ERRNO_TEXT.items() if any(mark in text for mark in marks)), None)


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike[str], action: str = "write") -> Iterator[None]:
    """Turn a disk error (``DISK_ERRNOS``) raised inside the block into a :class:`RunFolderError`."""
    try:
        yield
    except RunFolderError:
        raise
    except OSError as error:
        code = _disk_errno(error)
        if code is not None:
            if error.errno != code:
                error = OSError(code, os.strerror(code), os.fspath(path))
            raise run_folder_error(error, path, action) from None
        raise


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p``; a disk error becomes a :class:`RunFolderError` naming the folder."""
    folder = Path(path)
    with disk_errors(folder, "create"):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_free_space(folder: str | os.PathLike[str], needed: int) -> None:
    """Raise a ``ENOSPC`` :class:`RunFolderError` when ``folder`` has under ``needed`` bytes free.

    Args:
        folder: an existing folder.
        needed: bytes the next write needs (a margin is added).
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # cannot tell; let the write itself fail
    if free < needed + FREE_SPACE_MARGIN:
        error = OSError(
            errno.ENOSPC,
            f"not enough free space: {_megabytes(free)} free, under the {_megabytes(needed + FREE_SPACE_MARGIN)} "
            f"this write needs (about {_megabytes(needed)} plus a safety margin of {_megabytes(FREE_SPACE_MARGIN)})",
        )
        raise run_folder_error(error, folder)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _own_message(error: OSError) -> bool:
    """Whether ``error`` carries a message of ours (not just the system's text for its errno)."""
    return bool(error.strerror) and error.strerror != os.strerror(error.errno or 0) and "\n" not in error.strerror


def _tmp_path(target: Path) -> Path:
    return target.with_name(f".tmp-{os.getpid()}-{target.name}")


def _tmp_with_suffix(target: Path, suffix: str) -> Path:
    return target.with_name(f".tmp-{os.getpid()}-{target.name[: -len(suffix)]}{suffix}")


def _atomic(target: Path, tmp: Path, write: Callable[[Path], None]) -> None:
    global _writes
    _writes += 1
    try:
        with disk_errors(target):
            if _hook is not None:
                _hook(target, "start")
            write(tmp)
            if _hook is not None:
                _hook(target, "written")
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``.

    Args:
        path: target file; its folder must exist.
        text: the content.

    Raises:
        RunFolderError: on a full disk, a read-only or forbidden folder.
    """
    target = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    _atomic(target, _tmp_path(target), write)


def _weights_bytes(model: Any) -> int:
    total = 0
    for variable in list(getattr(model, "weights", [])) + list(
        getattr(getattr(model, "optimizer", None), "variables", []) or []
    ):
        shape = getattr(variable, "shape", ())
        size = 1
        for dim in shape:
            size *= int(dim or 1)
        total += size * 4
    return total


def atomic_save_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """``model.save_weights`` to a temporary file, then move it over ``path``.

    Args:
        model: a built model.
        path: target file ending in ``.weights.h5``.

    Raises:
        RunFolderError: on a full disk (checked before writing), a read-only or
            forbidden folder.
    """
    target = Path(path)
    if not target.name.endswith(".weights.h5"):
        raise ValueError(f"weights file must end in '.weights.h5', got {target.name!r}")
    check_free_space(target.parent, _weights_bytes(model))
    _atomic(target, _tmp_with_suffix(target, ".weights.h5"), lambda tmp: model.save_weights(tmp, overwrite=True))


def atomic_save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """``model.save`` to a temporary ``.keras`` file, then move it over ``path``.

    Args:
        model: a built model.
        path: target file ending in ``.keras``.

    Raises:
        RunFolderError: on a full disk (checked before writing), a read-only or
            forbidden folder.
    """
    target = Path(path)
    if target.suffix != ".keras":
        raise ValueError(f"model file must end in '.keras', got {target.name!r}")
    check_free_space(target.parent, _weights_bytes(model))
    _atomic(target, _tmp_with_suffix(target, ".keras"), lambda tmp: model.save(tmp, overwrite=True))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (hex)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
