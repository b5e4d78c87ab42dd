"""Crash-safe file writes: a temporary file in the target's folder, fsync, ``os.replace``.

One place for every write whose half-written state would hurt: run configs, metrics,
histories, checkpoints and saved models. A reader sees either the old file or the new
one, never a truncated mix. The module imports no TensorFlow and sits below
``training`` and ``evaluation`` (both use it).

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

import os
from pathlib import Path
from typing import Any

__all__ = ["atomic_save_model", "atomic_save_weights", "atomic_write_text"]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``.

    Args:
        path: target file; its folder must exist.
        text: the content.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _tmp_with_suffix(target: Path, suffix: str) -> Path:
    return target.with_name(f".tmp-{os.getpid()}-{target.name[: -len(suffix)]}{suffix}")


def atomic_save_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """``model.save_weights`` to a temporary file, then move it over ``path``.

    Args:
        model: a built model.
        path: target file ending in ``.weights.h5``.
    """
    target = Path(path)
    if not target.name.endswith(".weights.h5"):
        raise ValueError(f"weights file must end in '.weights.h5', got {target.name!r}")
    tmp = _tmp_with_suffix(target, ".weights.h5")
    model.save_weights(tmp, overwrite=True)
    os.replace(tmp, target)


def atomic_save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """``model.save`` to a temporary ``.keras`` file, then move it over ``path``.

    Args:
        model: a built model.
        path: target file ending in ``.keras``.
    """
    target = Path(path)
    if target.suffix != ".keras":
        raise ValueError(f"model file must end in '.keras', got {target.name!r}")
    tmp = _tmp_with_suffix(target, ".keras")
    model.save(tmp, overwrite=True)
    os.replace(tmp, target)
