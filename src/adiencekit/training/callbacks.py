"""Training callbacks: throughput, divergence guard, atomic best checkpoint, resumable history.

Keras' ``ModelCheckpoint`` writes straight into the target file, so a run killed while
writing leaves a truncated checkpoint. :class:`AtomicBestCheckpoint` writes to a
temporary file in the same folder and moves it over the target with ``os.replace``.
``BackupAndRestore`` restores weights, optimizer and epoch after a kill, but not the
history of earlier epochs nor the early-stopping counters: :class:`HistoryRecorder` and
:class:`ResumableEarlyStopping` persist those after every epoch (the backup itself is
:class:`adiencekit.training.backup.RunBackup`). :class:`DivergenceGuard` stops training
at the first non-finite loss, and the best checkpoint never saves non-finite weights.

Epochs are counted from 1 in every file (``history.json``, the best checkpoint's
record), as on the console.

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
([1, 2], True)
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

from adiencekit.errors import RunFolderError, TrainingDivergedError
from adiencekit.fileio import atomic_save_model, atomic_save_weights, atomic_write_text

__all__ = [
    "AtomicBestCheckpoint",
    "DivergenceGuard",
    "weights_are_finite",
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


def _read_json_rows(path: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    """``(rows, None)``, ``(None, None)`` when absent, or ``(None, what is wrong)``."""
    if not path.is_file():
        return None, None
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, f"not valid JSON: {type(error).__name__}"
    if not isinstance(rows, list) or not all(isinstance(row, dict) and isinstance(row.get("epoch"), int)
                                             for row in rows):
        return None, "not a list of epochs"
    return rows, None


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _read_csv_rows(path: Path) -> list[dict[str, Any]] | None:
    """The rows of ``history.csv`` (as :class:`HistoryRecorder` writes it), or ``None`` when unusable."""
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [{key: _csv_value(value or "") for key, value in row.items() if key}
                    for row in csv.DictReader(handle)]
    except (OSError, ValueError, csv.Error):
        return None
    if not all(isinstance(row.get("epoch"), int) for row in rows):
        return None
    return rows


def weights_are_finite(model: keras.Model) -> bool:
    """Whether every weight of ``model`` is finite (no NaN, no Inf)."""
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            return False
    return True


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite (or exploded) loss by raising :class:`TrainingDivergedError`.

    Checks the running ``loss`` after every training batch and ``loss``/``val_loss`` at
    the end of every epoch; with ``max_loss``, an epoch loss above it stops training too
    (see :mod:`adiencekit.training.divergence` for the rule :func:`~adiencekit.training.train`
    uses). Place it first, so that nothing is recorded or saved for the
    diverged epoch. The error carries ``epoch`` (1-based), ``batch`` (``None`` at epoch
    end), ``metric`` and ``value``.

    Args:
        max_loss: the highest epoch loss (training or validation) allowed; ``None``
            checks for non-finite values only.

    Example:

    >>> import numpy as np, keras
    >>> from adiencekit.errors import RunFolderError, TrainingDivergedError
    >>> from adiencekit.training.callbacks import DivergenceGuard
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(1e12), "mse")
    >>> try:
    ...     model.fit(np.full((64, 3), 1e3), np.ones((64, 1)), epochs=5, batch_size=8, verbose=0,
    ...               callbacks=[DivergenceGuard()])
    ... except TrainingDivergedError as error:
    ...     print(error.epoch, error.metric)
    1 loss
    """

    def __init__(self, max_loss: float | None = None) -> None:
        super().__init__()
        self.max_loss = max_loss

    def _check(self, epoch: int, batch: int | None, logs: dict[str, Any] | None, keys: tuple[str, ...]) -> None:
        for key in keys:
            value = (logs or {}).get(key)
            if value is None:
                continue
            number = float(np.asarray(value))
            exploded = batch is None and self.max_loss is not None and number > self.max_loss
            if not math.isfinite(number) or exploded:
                where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
                what = f"{number:.3g}, above the limit {self.max_loss:.3g}" if exploded else str(number)
                error = TrainingDivergedError(f"training diverged: {key} is {what} at {where}")
                error.epoch, error.batch, error.metric, error.value = epoch + 1, batch, key, number
                raise error

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check(getattr(self, "_epoch", 0), batch, logs, ("loss",))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._check(epoch, None, logs, ("loss", "val_loss"))


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
    is trained again replaces its old row (and any later ones), so the history has one
    row per completed epoch. Epochs are numbered from 1, as on the console.

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
        """The rows of an existing history file (``[]`` when there is none).

        A ``history.json`` that is missing or unreadable is rebuilt from the
        ``history.csv`` beside it, so the finished epochs are kept.

        Raises:
            RunFolderError: when ``history.json`` is damaged and no readable
                ``history.csv`` stands beside it; the message says how to go on.
        """
        path = Path(path)
        rows, problem = _read_json_rows(path)
        if rows is not None:
            return rows
        backup = path.with_suffix(".csv")
        csv_rows = _read_csv_rows(backup)
        if csv_rows is not None:
            return csv_rows
        if problem is None:
            return []
        raise RunFolderError(
            f"{path} is damaged ({problem}) and no readable {backup.name} stands beside it; move {path.name} "
            f"away to resume without the history of the finished epochs (their weights are kept), or use "
            f"--overwrite to start again"
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        number = int(epoch) + 1
        row = {"epoch": number}
        row.update({key: _jsonable(value) for key, value in (logs or {}).items()})
        self.rows = [r for r in self.rows if r["epoch"] < number] + [row]
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

    The best value and epoch (1-based) are kept in a JSON file next to the weights so
    that a resumed run only overwrites the checkpoint when it truly improves on it.
    Non-finite values and weights holding NaN or Inf are never saved.

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
            try:
                state = json.loads(self.state_path.read_text(encoding="utf-8"))
                self.best, self.best_epoch = float(state["best"]), int(state["epoch"])
            except (ValueError, KeyError, TypeError):
                self.best, self.best_epoch = None, None  # unreadable: the next epoch saves afresh

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
        if math.isfinite(value) and self._improves(value) and weights_are_finite(self.model):
            atomic_save_weights(self.model, self.path)
            self.best, self.best_epoch = value, int(epoch) + 1
            atomic_write_text(
                self.state_path,
                json.dumps({"monitor": self.monitor, "best": value, "epoch": self.best_epoch}) + "\n",
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
            try:
                state = json.loads(self.state_path.read_text(encoding="utf-8"))
                wait, best, best_epoch = int(state["wait"]), state["best"], int(state["best_epoch"])
                self.wait, self.best_epoch = wait, best_epoch
                if best is not None:
                    self.best = float(best)
            except (ValueError, KeyError, TypeError):
                pass  # unreadable counters: start counting again

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        best = None if self.best is None else float(self.best)
        stopped = bool(getattr(self.model, "stop_training", False)) and self.stopped_epoch == epoch
        state = {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch),
                 "stopped_after_epoch": int(epoch) + 1 if stopped else None}
        atomic_write_text(self.state_path, json.dumps(state) + "\n")

    @staticmethod
    def stopped_after(state_path: str | os.PathLike[str]) -> int | None:
        """The epoch (1-based) after which the saved counters stopped training, or ``None``.

        A run killed after early stopping (in its final evaluation, say) must train no
        further epoch when it is started again.
        """
        try:
            state = json.loads(Path(state_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        epoch = state.get("stopped_after_epoch") if isinstance(state, dict) else None
        return epoch if isinstance(epoch, int) else None
