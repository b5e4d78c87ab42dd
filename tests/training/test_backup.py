"""Unit tests of the atomic per-epoch backup (adiencekit.training.backup)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from adiencekit.training.backup import RunBackup, recorded_epoch, restore_backup


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(), "mse")
    return model


def _fit(model: keras.Model, backup: Path, epochs: int, initial_epoch: int = 0) -> None:
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=epochs, initial_epoch=initial_epoch, batch_size=4,
              verbose=0, callbacks=[RunBackup(backup)])


def test_restore_brings_back_weights_and_optimizer_state(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    trained = _model()
    _fit(trained, backup, epochs=3)
    fresh = _model()
    assert restore_backup(fresh, backup, notify=print) == 3
    assert int(fresh.optimizer.iterations) == 6  # 3 epochs x 2 steps
    for restored, original in zip(fresh.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(restored, original)


def test_only_the_last_two_epochs_are_kept_and_records_point_at_them(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _fit(_model(), backup, epochs=4)
    record = json.loads((backup / "training_metadata.json").read_text())
    previous = json.loads((backup / "training_metadata.json.bkp").read_text())
    assert record == {"epoch": 4, "weights": "epoch_0004.weights.h5"}
    assert previous == {"epoch": 3, "weights": "epoch_0003.weights.h5"}
    assert sorted(p.name for p in backup.glob("*.h5")) == ["epoch_0003.weights.h5", "epoch_0004.weights.h5"]
    assert recorded_epoch(backup) == 4


def test_no_backup_means_a_fresh_start_and_unsafe_records_are_refused(tmp_path: Path) -> None:
    notes: list[str] = []
    assert restore_backup(_model(), tmp_path / "none", notify=notes.append) == 0
    backup = tmp_path / "backup"
    _fit(_model(), backup, epochs=1)
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "weights": "../../etc/passwd"}))
    assert restore_backup(_model(), backup, notify=notes.append) == 0
    assert len(notes) == 1 and "names an unsafe path" in notes[0] and "restarts from epoch 1" in notes[0]
    assert not list(backup.glob("*.h5")) and recorded_epoch(backup) == 0
