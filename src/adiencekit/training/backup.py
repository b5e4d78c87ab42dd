"""Crash-safe training state: back up after every epoch, restore (or repair) before ``fit``.

Keras' ``BackupAndRestore`` writes its weights and ``training_metadata.json`` in place:
a process killed during the write leaves a truncated HDF5 file that fails every rerun,
and a damaged metadata file is never recovered from its ``.bkp``. :class:`RunBackup`
writes every file atomically (:mod:`adiencekit.fileio`), and the metadata points at the
weights of its epoch::

    backup/training_metadata.json      {"epoch": 3, "weights": "epoch_0003.weights.h5"}
    backup/training_metadata.json.bkp  the previous epoch's record
    backup/epoch_0003.weights.h5       weights + optimizer state after epoch 3
    backup/epoch_0002.weights.h5       the previous epoch's

The weights of an epoch are written before the record that names them, so the record
always points at a complete file. :func:`restore_backup` runs before ``fit``: it tries
the current record, then the previous one (and Keras's own ``latest.weights.h5`` /
``.bkp`` layout), checks that the HDF5 file reads, loads it, and returns the epoch to
resume from; a damaged backup is reported in one line and skipped, or discarded when no
copy is usable (the run restarts from epoch 0).

Example:

>>> import tempfile, numpy as np, keras
>>> from pathlib import Path
>>> from adiencekit.training.backup import RunBackup, restore_backup
>>> backup = Path(tempfile.mkdtemp()) / "backup"
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> _ = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[RunBackup(backup)])
>>> sorted(p.name for p in backup.iterdir())
['epoch_0001.weights.h5', 'epoch_0002.weights.h5', 'training_metadata.json', 'training_metadata.json.bkp']
>>> (backup / "training_metadata.json").write_text("{trunc")  # damage the newest record
6
>>> restore_backup(model, backup)  # falls back to the previous epoch's copy
1
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from adiencekit.errors import notice
from adiencekit.fileio import atomic_save_weights, atomic_write_text, make_dirs

__all__ = ["METADATA", "RunBackup", "recorded_epoch", "restore_backup"]

METADATA = "training_metadata.json"
_LEGACY_WEIGHTS = "latest.weights.h5"


def _read_record(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` or ``(None, why it is unusable)``; ``(None, None)`` when absent."""
    if not path.exists():
        return None, None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, f"{path.name} is unreadable ({type(error).__name__})"
    if not isinstance(record, dict) or not isinstance(record.get("epoch"), int) or record["epoch"] < 0:
        return None, f"{path.name} holds no epoch"
    return record, None


def recorded_epoch(backup_dir: str | os.PathLike[str]) -> int:
    """The epoch the newest readable record names (0 when there is none); reads only JSON."""
    backup = Path(backup_dir)
    for name in (METADATA, METADATA + ".bkp"):
        record, _ = _read_record(backup / name)
        if record is not None:
            return int(record["epoch"])
    return 0


def _check_h5(path: Path) -> str | None:
    """``None`` when ``path`` is a complete, readable HDF5 file; otherwise why not."""
    if not path.is_file():
        return f"{path.name} is missing"
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            def read(_name: str, item: Any) -> None:
                if isinstance(item, h5py.Dataset):
                    item[()]

            handle.visititems(read)
    except Exception as error:  # h5py raises OSError, KeyError, RuntimeError... for damage
        return f"{path.name} is damaged ({type(error).__name__}: {str(error).splitlines()[0][:80]})"
    return None


def _candidates(backup: Path) -> list[tuple[str, Path | None, str | None]]:
    """``(label, weights file, problem)`` for the current and the previous record."""
    result = []
    for name, legacy in ((METADATA, _LEGACY_WEIGHTS), (METADATA + ".bkp", _LEGACY_WEIGHTS + ".bkp")):
        record, problem = _read_record(backup / name)
        if record is None and problem is None:
            continue
        if record is None:
            result.append((name, None, problem))
            continue
        weights = backup / str(record.get("weights", legacy))
        if Path(str(record.get("weights", legacy))).name != str(record.get("weights", legacy)):
            result.append((name, None, f"{name} names an unsafe path"))
            continue
        result.append((f"{name}:{record['epoch']}", weights, None))
    return result


def restore_backup(
    model: keras.Model, backup_dir: str | os.PathLike[str], notify: Callable[[str], None] = notice
) -> int:
    """Load the newest usable backup into ``model`` and return its epoch (0: start fresh).

    Call it on the compiled model, before ``fit(initial_epoch=...)``. A damaged record
    or weights file is skipped with a one-line notice and the previous epoch's copy is
    used; when no copy is usable the backup folder is emptied and 0 returned.

    Args:
        model: the built, compiled model.
        backup_dir: the run's ``backup/`` folder.
        notify: receives the one-line notices.

    Returns:
        The number of completed epochs the restored state holds.
    """
    backup = Path(backup_dir)
    if not backup.is_dir():
        return 0
    candidates = _candidates(backup)
    if not candidates:
        return 0
    problems = []
    snapshot: list[Any] | None = None
    for label, weights, problem in candidates:
        if weights is not None:
            problem = _check_h5(weights)
        if problem is not None:
            problems.append(problem)
            continue
        assert weights is not None
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)  # its variables must exist before loading
        variables = list(model.weights) + list(optimizer.variables if optimizer is not None else [])
        if snapshot is None:
            snapshot = [keras.ops.convert_to_numpy(v) for v in variables]
        try:
            model.load_weights(weights)
        except Exception as error:
            for variable, value in zip(variables, snapshot, strict=True):
                variable.assign(value)
            problems.append(f"{weights.name} does not fit the model ({type(error).__name__})")
            continue
        epoch = int(label.rsplit(":", 1)[1])
        if problems:
            notify(f"damaged backup in {backup} ({'; '.join(problems)}); resuming from the previous copy "
                   f"after epoch {epoch}")
        return epoch
    notify(f"damaged backup in {backup} ({'; '.join(problems)}); discarded it, training restarts from epoch 1")
    for path in backup.iterdir():
        if path.is_file() and (path.name.startswith(METADATA) or path.name.endswith(".h5") or ".h5." in path.name
                               or path.name == "early_stopping.json"):
            with contextlib.suppress(OSError):
                path.unlink()
    return 0


class RunBackup(keras.callbacks.Callback):
    """Backs up weights and optimizer state after every epoch, atomically (see the module).

    Place it last among the callbacks: when its record says an epoch is done, everything
    the other callbacks write for that epoch is written. Restoring is
    :func:`restore_backup`'s job (before ``fit``), so ``fit`` gets ``initial_epoch``.

    Args:
        backup_dir: the run's ``backup/`` folder (created when missing).
    """

    def __init__(self, backup_dir: str | os.PathLike[str]) -> None:
        super().__init__()
        self.backup_dir = Path(backup_dir)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        make_dirs(self.backup_dir)
        done = int(epoch) + 1
        name = f"epoch_{done:04d}.weights.h5"
        atomic_save_weights(self.model, self.backup_dir / name)
        metadata = self.backup_dir / METADATA
        previous, _ = _read_record(metadata)
        if previous is not None and previous["epoch"] != done:
            atomic_write_text(metadata.with_name(METADATA + ".bkp"), json.dumps(previous) + "\n")
        atomic_write_text(metadata, json.dumps({"epoch": done, "weights": name}) + "\n")
        before, _ = _read_record(metadata.with_name(METADATA + ".bkp"))
        keep = {name, str((before or {}).get("weights", ""))}
        for path in self.backup_dir.glob("*.weights.h5*"):
            if path.name not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
