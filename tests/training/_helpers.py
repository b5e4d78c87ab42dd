"""Small shared pieces of the training tests (tiny synthetic trees and configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from adiencekit.training import TrainConfig


class InterruptAfter(keras.callbacks.Callback):
    """Stops the process's training after ``epochs`` epochs, as a kill after the backup would."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def make_tiny_tree(root: Path) -> Path:
    """A small learnable Adience-format tree: 5 folds x 6 users x 24 images (3 persons) of 56 px."""
    from adiencekit.data import make_synthetic_adience

    return make_synthetic_adience(root, users_per_fold=6, images_per_user=24, image_sizes=(56,), seed=0)


def tiny_config(root: Path, **changes: Any) -> TrainConfig:
    """A small scratch CNN (global average pooling) on 40 px crops; about 1 s per epoch."""
    values: dict[str, Any] = {
        "data": str(root),
        "model": "scratch_cnn",
        "model_kwargs": {"conv_layers": 4, "base_filters": 16, "dense_units": 64, "pooling": "avg"},
        "image_size": 48,
        "crop_size": 40,
        "batch_size": 16,
        "learning_rate": 2e-3,
        "val_fraction": 0.25,
        "epochs": 2,
        "early_stopping_patience": None,
        "cache": True,
    }
    values.update(changes)
    return TrainConfig(**values)


def make_small_tree(root: Path) -> Path:
    """The smallest usable tree: 5 folds x 2 users x 4 images of 48 px (40 images)."""
    from adiencekit.data import make_synthetic_adience

    return make_synthetic_adience(root, users_per_fold=2, images_per_user=4, image_sizes=(48,), seed=0)


def fast_config(root: Path, **changes: Any) -> TrainConfig:
    """A 4-filter scratch CNN on 32 px crops, 3 short epochs: a few seconds per run."""
    values: dict[str, Any] = {
        "data": str(root),
        "model": "scratch_cnn",
        "model_kwargs": {"base_filters": 4, "dense_units": 8},
        "image_size": 40,
        "crop_size": 32,
        "batch_size": 8,
        "val_fraction": 0.25,
        "epochs": 3,
        "early_stopping_patience": None,
    }
    values.update(changes)
    return TrainConfig(**values)
