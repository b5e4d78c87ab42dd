"""Named training recipes that reproduce the rows of the reference report.

The report gives architectures and the Levi-Hassner optimiser; where it is silent (the
optimiser of its own models) the recipes use Adam at 1e-3 from scratch and 1e-4 for
fine-tuning, which are the usual Keras defaults for those cases. Every recipe keeps the
report's early stopping on ``val_loss`` with patience 10.

Example:

>>> from adiencekit.training import get_recipe, list_recipes
>>> "levi_hassner" in list_recipes()
True
>>> config = get_recipe("levi_hassner", task="age")
>>> (config.batch_size, config.learning_rate, config.lr_step_iterations, config.crop_size)
(50, 0.001, 10000, 227)
>>> [c.model_kwargs["conv_layers"] for c in conv_depth_sweep()]
[3, 4, 5]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adiencekit.training.config import TrainConfig

__all__ = ["SWEEPS", "conv_depth_sweep", "dense_units_sweep", "get_recipe", "list_recipes"]


def _levi_hassner(task: str) -> TrainConfig:
    # Levi & Hassner (CVPR-W 2015): SGD, batch 50, lr 1e-3 -> 1e-4 after 10k
    # iterations, momentum 0.9, weight decay 5e-4; random 227 crops of 256 images
    # and mirrors.
    return TrainConfig(
        model="levi_hassner",
        task=task,
        image_size=256,
        crop_size=227,
        batch_size=50,
        optimizer="sgd",
        learning_rate=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
        lr_schedule="step",
        lr_step_iterations=10_000,
        lr_step_factor=0.1,
        epochs=100,
        flip=True,
    )


def _inception_basic(task: str) -> TrainConfig:
    # Frozen Inception-v3 feature vector with a new softmax layer (4,098 trainable
    # parameters for gender).
    return TrainConfig(
        model="basic_inception",
        task=task,
        image_size=299,
        crop_size=299,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=50,
        flip=True,
        rotation=10.0,
    )


def _inception_modified(task: str) -> TrainConfig:
    # Fine-tuned Inception-v3 -> Dropout(0.2) -> Dense(128) -> Dropout(0.2) -> softmax.
    return TrainConfig(
        model="modified_inception",
        model_kwargs={"dropout": 0.2, "dense_units": 128, "trainable_base": True},
        task=task,
        image_size=299,
        crop_size=299,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-4,
        epochs=50,
        flip=True,
        rotation=10.0,
    )


def _scratch(conv_layers: int, dense_units: int) -> Callable[[str], TrainConfig]:
    def build(task: str) -> TrainConfig:
        return TrainConfig(
            model="scratch_cnn",
            model_kwargs={"conv_layers": conv_layers, "dense_units": dense_units},
            task=task,
            image_size=256,
            crop_size=256,
            batch_size=32,
            optimizer="adam",
            learning_rate=1e-3,
            epochs=50,
            flip=True,
            rotation=10.0,
        )

    return build


def _quick(task: str) -> TrainConfig:
    # The synthetic default: a small scratch CNN (global average pooling keeps it from
    # memorising the few synthetic people) on 64 px crops; about a minute on a laptop
    # CPU, well above chance for gender and age.
    return TrainConfig(
        model="scratch_cnn",
        model_kwargs={"conv_layers": 4, "base_filters": 16, "dense_units": 64, "pooling": "avg"},
        task=task,
        data="synthetic",
        image_size=72,
        crop_size=64,
        batch_size=32,
        optimizer="adam",
        learning_rate=2e-3,
        epochs=15,
        early_stopping_patience=6,
        flip=True,
        cache=True,
    )


_RECIPES: dict[str, tuple[Callable[[str], TrainConfig], str]] = {
    "levi_hassner": (_levi_hassner, "Levi & Hassner 2015 CNN, SGD schedule of the paper, 227 crops of 256"),
    "inception_basic": (_inception_basic, "frozen Inception-v3 features + softmax (report row 2)"),
    "inception_modified": (_inception_modified, "fine-tuned Inception-v3 + Dense(128) (report's best row)"),
    "scratch_3conv": (_scratch(3, 128), "3-conv CNN from scratch, Dense(128), 256 px (report row 4)"),
    "scratch_5conv": (_scratch(5, 128), "5-conv CNN from scratch, Dense(128), 256 px (tuned gender)"),
    "scratch_5conv_age256": (_scratch(5, 256), "5-conv CNN from scratch, Dense(256), 256 px (tuned age)"),
    "quick": (_quick, "small CNN on the synthetic set, 64 px, about a minute on a CPU"),
}

#: Task each report row was tuned for, used when the caller gives none.
_DEFAULT_TASK = {"scratch_5conv_age256": "age"}


def list_recipes() -> dict[str, str]:
    """Recipe names with a one-line description each.

    Returns:
        An ordered dict ``{name: description}``.
    """
    return {name: description for name, (_, description) in _RECIPES.items()}


def get_recipe(name: str, task: str | None = None, **overrides: Any) -> TrainConfig:
    """The config of a named recipe.

    Args:
        name: one of :func:`list_recipes`.
        task: ``"gender"``, ``"age"`` or ``"multitask"``; defaults to the task the
            report tuned the recipe for (``"gender"`` for most).
        **overrides: fields to change, as in :meth:`TrainConfig.replace`.

    Returns:
        The validated config.

    Raises:
        KeyError: for an unknown recipe name (the message lists the known ones).
    """
    if name not in _RECIPES:
        raise KeyError(f"unknown recipe {name!r}; available recipes: {', '.join(_RECIPES)}")
    build, _ = _RECIPES[name]
    config = build(task or _DEFAULT_TASK.get(name, "gender"))
    return config.replace(**overrides) if overrides else config


def conv_depth_sweep(task: str = "gender", depths: tuple[int, ...] = (3, 4, 5)) -> list[TrainConfig]:
    """The report's gender sweep over the number of conv blocks (3/4/5, Dense 128).

    Args:
        task: the task to train.
        depths: numbers of conv blocks.

    Returns:
        One config per depth.
    """
    return [_scratch(depth, 128)(task) for depth in depths]


def dense_units_sweep(task: str = "age", units: tuple[int, ...] = (128, 256, 512)) -> list[TrainConfig]:
    """The report's age sweep over the hidden Dense width (5 conv blocks).

    Args:
        task: the task to train.
        units: widths of the hidden Dense layer.

    Returns:
        One config per width.
    """
    return [_scratch(5, width)(task) for width in units]


#: The report's sweeps: name -> (config factory, the model option it varies, the task it tuned).
SWEEPS: dict[str, tuple[Callable[[str], list[TrainConfig]], str, str]] = {
    "conv_depth": (conv_depth_sweep, "conv_layers", "gender"),
    "dense_units": (dense_units_sweep, "dense_units", "age"),
}
