"""Tests for adiencekit.training.callbacks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from adiencekit.training.callbacks import (
    AtomicBestCheckpoint,
    HistoryRecorder,
    ResumableEarlyStopping,
    ThroughputLogger,
    atomic_save_weights,
    atomic_write_text,
)


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class _Feed(keras.callbacks.Callback):
    """Replaces val_loss by a scripted sequence, to drive monitors deterministically."""

    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_throughput_logger_adds_images_per_second() -> None:
    x, y = _data()
    logger = ThroughputLogger(batch_size=5, samples_per_epoch=16)
    history = _model().fit(x, y, batch_size=5, epochs=2, verbose=0, callbacks=[logger])
    assert len(history.history["images_per_second"]) == 2
    assert all(v > 0 for v in history.history["images_per_second"])
    assert all(v > 0 for v in history.history["epoch_seconds"])


def test_history_recorder_keeps_earlier_epochs_and_replaces_repeated_ones(tmp_path) -> None:
    path = tmp_path / "history.json"
    earlier = [{"epoch": 1, "loss": 9.0}, {"epoch": 2, "loss": 8.0}, {"epoch": 3, "loss": 7.0}]
    atomic_write_text(path, json.dumps(earlier))
    x, y = _data()
    recorder = HistoryRecorder(path, tmp_path / "history.csv")
    # Resume after 2 epochs: the old epoch-3 row (written before a kill) is replaced.
    # Epochs are 1-based in the file, as on the console.
    _model().fit(x, y, epochs=4, initial_epoch=2, verbose=0, callbacks=[recorder])
    rows = json.loads(path.read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["loss"] == 9.0 and rows[2]["loss"] != 7.0
    csv_lines = (tmp_path / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,loss") and len(csv_lines) == 5
    assert recorder.as_dict()["epoch"] == [1, 2, 3, 4]


def test_atomic_best_checkpoint_saves_only_improvements_and_survives_restart(tmp_path) -> None:
    x, y = _data()
    path = tmp_path / "best.weights.h5"
    model = _model()
    checkpoint = AtomicBestCheckpoint(path)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[_Feed([3.0, 1.0, 2.0]), checkpoint])
    assert (checkpoint.best, checkpoint.best_epoch) == (1.0, 2)  # the second epoch, 1-based
    assert json.loads((tmp_path / "best.weights.h5.json").read_text())["epoch"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # A new callback (a resumed run) remembers the best value: a worse epoch does not overwrite.
    again = AtomicBestCheckpoint(path)
    assert again.best == 1.0
    before = path.read_bytes()
    model.fit(x, y, epochs=4, initial_epoch=3, verbose=0, callbacks=[_Feed([0, 0, 0, 1.5]), again])
    assert path.read_bytes() == before and again.best_epoch == 2


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch) -> None:
    model = _model()
    path = tmp_path / "best.weights.h5"
    atomic_save_weights(model, path)
    before = path.read_bytes()

    def broken(filepath, overwrite=True):
        with open(filepath, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save_weights", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_save_weights(model, path)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="must end in '.weights.h5'"):
        atomic_save_weights(model, tmp_path / "best.h5")


def test_atomic_best_checkpoint_needs_the_monitored_metric(tmp_path) -> None:
    x, y = _data()
    with pytest.raises(KeyError, match="monitors 'val_loss'"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[AtomicBestCheckpoint(tmp_path / "b.weights.h5")])


def test_resumable_early_stopping_keeps_its_counters(tmp_path) -> None:
    x, y = _data()
    state = tmp_path / "es.json"
    values = [1.0, 2.0, 2.0, 2.0, 2.0]
    first = ResumableEarlyStopping(state, patience=3)
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[_Feed(values), first])
    assert json.loads(state.read_text()) == {"wait": 1, "best": 1.0, "best_epoch": 0, "stopped_after_epoch": None}
    assert ResumableEarlyStopping.stopped_after(state) is None
    # Resumed run: two more bad epochs reach patience 3 (1 before + 2 now) and stop.
    second = ResumableEarlyStopping(state, patience=3)
    history = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0, callbacks=[_Feed(values), second])
    assert len(history.history["loss"]) == 2 and second.stopped_epoch == 3
    assert ResumableEarlyStopping.stopped_after(state) == 4  # a rerun must train no fifth epoch
    with pytest.raises(ValueError, match="keeps no weights"):
        ResumableEarlyStopping(state, restore_best_weights=True)


def test_divergence_guard_stops_an_exploding_loss_that_is_still_finite() -> None:
    from adiencekit.errors import TrainingDivergedError
    from adiencekit.training.callbacks import DivergenceGuard

    x, y = _data()
    guard = DivergenceGuard(max_loss=10.0)
    with pytest.raises(TrainingDivergedError, match=r"val_loss is 2.4e\+14, above the limit 10 at epoch 2$"):
        _model().fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
                     callbacks=[_Feed([1.0, 2.4e14, 1.0]), guard])


def test_history_json_deleted_or_damaged_is_rebuilt_from_the_csv(tmp_path) -> None:
    from adiencekit.errors import RunFolderError

    recorder = HistoryRecorder(tmp_path / "history.json", tmp_path / "history.csv")
    recorder.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.25, "lr": 1e-3})
    recorder.on_epoch_end(1, {"loss": 0.4, "val_loss": float("nan"), "lr": 5e-4})
    rows = json.loads((tmp_path / "history.json").read_text())
    (tmp_path / "history.json").unlink()
    assert HistoryRecorder.load(tmp_path / "history.json") == rows
    (tmp_path / "history.json").write_text("garbage{")
    assert HistoryRecorder(tmp_path / "history.json").rows == rows
    (tmp_path / "history.csv").unlink()
    with pytest.raises(RunFolderError, match=r"history.json is damaged .*no readable history.csv.*move history.json "
                                             r"away to resume"):
        HistoryRecorder.load(tmp_path / "history.json")
    (tmp_path / "history.json").unlink()
    assert HistoryRecorder.load(tmp_path / "history.json") == []
