"""Training callbacks: throughput, atomic best checkpoint, resumable history and stopping.

Keras' ``ModelCheckpoint`` writes straight into the target file, so a run killed while
writing leaves a truncated checkpoint. :class:`AtomicBestCheckpoint` writes to a
temporary file in the same folder and moves it over the target with ``os.replace``.
``BackupAndRestore`` restores weights, optimizer and epoch after a kill, but not the
history of earlier epochs nor the early-stopping counters: :class:`HistoryRecorder` and
:class:`ResumableEarlyStopping` persist those after every epoch.

Example:

>>> import json, tempfile, numpy as np, keras
>>> from pathlib import Path
>>> from adiencekit.training.callbacks import HistoryRecorder, ThroughputLogger
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> with tempfile.TemporaryDirectory() as tmp:
...     recorder = HistoryRecorder(Path(tmp) / "history.json")
...     _ = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, batch_size=4, verbose=0,
...                   callbacks=[ThroughputLogger(batch_size=4, samples_per_epoch=8), recorder])
...     history = json.loads((Path(tmp) / "history.json").read_text())
>>> [row["epoch"] for row in history], "images_per_second" in history[0]
([0, 1], True)
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from adiencekit.fileio import atomic_save_model, atomic_save_weights, atomic_write_text

__all__ = [
    "AtomicBestCheckpoint",
    "HistoryRecorder",
    "ResumableEarlyStopping",
    "ThroughputLogger",
    "atomic_save_model",
    "atomic_save_weights",
    "atomic_write_text",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if hasattr(value, "numpy"):
        value = np.asarray(value).item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ThroughputLogger(keras.callbacks.Callback):
    """Adds ``images_per_second`` and ``epoch_seconds`` to each epoch's logs.

    Place it before callbacks that record the logs (it mutates the logs dict).

    Args:
        batch_size: images per training step (the global batch).
        samples_per_epoch: the training set size, to count the last partial batch
            right; ``None`` counts full batches.
    """

    def __init__(self, batch_size: int, samples_per_epoch: int | None = None) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.samples_per_epoch = samples_per_epoch
        self._start = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._steps += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self._start
        images = self._steps * self.batch_size
        if self.samples_per_epoch is not None:
            images = min(images, self.samples_per_epoch) if self._steps else 0
        if logs is not None:
            logs["epoch_seconds"] = seconds
            logs["images_per_second"] = images / seconds if seconds > 0 else 0.0


class HistoryRecorder(keras.callbacks.Callback):
    """Keeps ``history.json`` (and ``history.csv``) up to date after every epoch.

    Epochs already in the file from an earlier, interrupted run are kept; an epoch that
    is trained again replaces its old row, so the history has one row per completed epoch.

    Args:
        json_path: the ``history.json`` file.
        csv_path: optional ``history.csv`` written alongside.
    """

    def __init__(self, json_path: str | os.PathLike[str], csv_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.json_path = Path(json_path)
        self.csv_path = Path(csv_path) if csv_path is not None else None
        self.rows: list[dict[str, Any]] = self.load(self.json_path)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """The rows of an existing history file (``[]`` when there is none)."""
        path = Path(path)
        if not path.is_file():
            return []
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError(f"{path} does not hold a list of epochs")
        return rows

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {"epoch": int(epoch)}
        row.update({key: _jsonable(value) for key, value in (logs or {}).items()})
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [row]
        self.write()

    def write(self) -> None:
        """Write the rows to the JSON (and CSV) files atomically."""
        atomic_write_text(self.json_path, json.dumps(self.rows, indent=1) + "\n")
        if self.csv_path is not None:
            columns: list[str] = []
            for row in self.rows:
                columns += [key for key in row if key not in columns]
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)
            atomic_write_text(self.csv_path, buffer.getvalue())

    def as_dict(self) -> dict[str, list[Any]]:
        """Column view ``{metric: [value per epoch]}`` like ``History.history``."""
        columns: dict[str, list[Any]] = {}
        for row in self.rows:
            for key, value in row.items():
                columns.setdefault(key, []).append(value)
        return columns


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Saves the weights whenever ``monitor`` improves, atomically.

    The best value and epoch are kept in a JSON file next to the weights so that a
    resumed run only overwrites the checkpoint when it truly improves on it.

    Args:
        path: target ``.weights.h5`` file.
        monitor: metric to watch (default ``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        state_path: JSON file with the best value (default: ``path`` + ``.json``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        mode: str = "min",
        state_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.path = Path(path)
        if not self.path.name.endswith(".weights.h5"):
            raise ValueError(f"checkpoint must end in '.weights.h5', got {self.path.name!r}")
        self.monitor = monitor
        self.mode = mode
        self.state_path = Path(state_path) if state_path else self.path.with_name(self.path.name + ".json")
        self.best: float | None = None
        self.best_epoch: int | None = None
        self._load_state()

    def _load_state(self) -> None:
        if self.state_path.is_file() and self.path.is_file():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.best, self.best_epoch = state["best"], state["epoch"]

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(
                f"AtomicBestCheckpoint monitors {self.monitor!r}, which is not in the logs "
                f"{sorted(logs or {})}; give the run validation data"
            )
        value = float(value)
        if math.isfinite(value) and self._improves(value):
            atomic_save_weights(self.model, self.path)
            self.best, self.best_epoch = value, int(epoch)
            atomic_write_text(
                self.state_path,
                json.dumps({"monitor": self.monitor, "best": value, "epoch": int(epoch)}) + "\n",
            )


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose counters survive a killed and resumed run.

    The state (best value, epochs waited, best epoch) is written to ``state_path``
    after every epoch and read back when training starts again. Restoring the best
    weights is left to the best checkpoint, so ``restore_best_weights`` is off.

    Args:
        state_path: JSON file for the counters.
        **kwargs: as for :class:`keras.callbacks.EarlyStopping`.
    """

    def __init__(self, state_path: str | os.PathLike[str], **kwargs: Any) -> None:
        if kwargs.get("restore_best_weights"):
            raise ValueError("ResumableEarlyStopping keeps no weights; restore them from the best checkpoint")
        super().__init__(**kwargs)
        self.state_path = Path(state_path)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self.state_path.is_file():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["best_epoch"]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        best = None if self.best is None else float(self.best)
        state = {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch)}
        atomic_write_text(self.state_path, json.dumps(state) + "\n")
