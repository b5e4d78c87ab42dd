"""Model setup for a run: the crop size, the model, the optimizer and its compilation.

Example:

>>> from adiencekit.training import TrainConfig
>>> from adiencekit.training.model_setup import build_optimizer, create_run_model
>>> create_run_model(TrainConfig(model="levi_hassner", crop_size=None, image_size=256)).input_shape
(None, 227, 227, 3)
>>> type(build_optimizer(TrainConfig(optimizer="adam"), steps_per_epoch=10)).__name__
'Adam'
"""

from __future__ import annotations

from typing import Any

import keras

from adiencekit.training.config import TrainConfig

__all__ = ["build_optimizer", "compile_model", "create_run_model", "device_augmented_model"]


def build_optimizer(config: TrainConfig, steps_per_epoch: int, learning_rate: float | None = None) -> Any:
    """The optimizer with the config's learning-rate schedule.

    Args:
        config: uses ``optimizer``, ``learning_rate``, ``momentum``, ``weight_decay``,
            ``lr_schedule``, ``lr_step_iterations``, ``lr_step_factor`` and ``epochs``.
        steps_per_epoch: training steps per epoch (for the cosine schedule).
        learning_rate: overrides ``config.learning_rate`` (e.g. scaled by replicas).

    Returns:
        A ``keras.optimizers.Optimizer``.
    """
    base = config.learning_rate if learning_rate is None else learning_rate
    if config.lr_schedule == "step":
        lr: Any = keras.optimizers.schedules.PiecewiseConstantDecay(
            [config.lr_step_iterations], [base, base * config.lr_step_factor]
        )
    elif config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(base, decay_steps=max(1, config.epochs * steps_per_epoch))
    else:
        lr = base
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum, weight_decay=decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    return keras.optimizers.RMSprop(lr, momentum=config.momentum, weight_decay=decay)


def compile_model(
    model: keras.Model, config: TrainConfig, optimizer: Any, jit_compile: Any = False,
    fit_model: keras.Model | None = None,
) -> None:
    """Compile with the task model's defaults: masked losses (−1 = missing), accuracy, 1-off for age.

    The losses and metrics belong to :class:`~adiencekit.models.AgeGenderClassifier`
    (its ``compile()`` defaults); training adds the optimizer, the XLA setting and the
    config's ``label_smoothing``, ``age_neighbour_smoothing`` and ``age_ordinal_weight``, passed to
    :meth:`~adiencekit.models.AgeGenderClassifier.default_loss`, and its
    ``gender_loss_weight`` (Keras ``loss_weights``, age weighted 1) for a multitask model.

    Args:
        model: an :class:`~adiencekit.models.AgeGenderClassifier` for ``config.task``.
        config: the run's config (its ``task`` must be the model's).
        optimizer: the optimizer.
        jit_compile: value for :meth:`keras.Model.compile`.
        fit_model: the model ``fit`` trains when it is not ``model`` itself (the
            :func:`device_augmented_model` around it): compiled with the same losses,
            metrics and optimizer (one optimizer for the same trainable variables).
    """
    task = getattr(model, "task", None)
    if task != config.task:
        raise ValueError(f"the model's task is {task!r} but the config's is {config.task!r}")
    options: dict[str, Any] = {"optimizer": optimizer, "jit_compile": jit_compile}
    if config.label_smoothing or config.age_neighbour_smoothing or config.age_ordinal_weight:
        options["loss"] = model.default_loss(
            label_smoothing=config.label_smoothing, age_neighbour_smoothing=config.age_neighbour_smoothing,
            age_ordinal_weight=config.age_ordinal_weight,
        )
    if config.gender_loss_weight != 1.0:
        options["loss_weights"] = {"gender": float(config.gender_loss_weight), "age": 1.0}
        if getattr(model, "age_years", False):
            options["loss_weights"]["age_years"] = 1.0
    model.compile(**options)
    if fit_model is not None and fit_model is not model:
        # A plain Keras model: the task's defaults are passed explicitly, keyed by the
        # same output names (the wrapper's outputs are the task model's).
        options.setdefault("loss", model.default_loss())
        options["metrics"] = model.default_metrics()
        fit_model.compile(**options)


def device_augmented_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """``model`` behind a :class:`~adiencekit.layers.FaceAugmentation`: what ``fit`` trains
    with ``TrainConfig.augment_on="device"``.

    The wrapper takes whole ``image_size`` images; in training each gets its own random
    ``crop_size`` window, flip (``config.flip``) and rotation (``config.rotation``), drawn
    on the device from ``config.seed``, then with ``config.augment="strong"`` a
    :class:`~adiencekit.layers.PhotoAugmentation`; in inference (Keras's validation) the
    centre window, untouched. It shares every weight with ``model``, which stays the plain
    network that is saved, evaluated and exported.

    Example:

    >>> from adiencekit.training import TrainConfig
    >>> config = TrainConfig(model="scratch_cnn", model_kwargs={"base_filters": 4, "dense_units": 8},
    ...                      image_size=40, crop_size=32, augment_on="device")
    >>> model = create_run_model(config)
    >>> wrapper = device_augmented_model(model, config)
    >>> wrapper.input_shape, model.input_shape, len(wrapper.trainable_weights) == len(model.trainable_weights)
    ((None, 40, 40, 3), (None, 32, 32, 3), True)
    """
    from adiencekit.layers import FaceAugmentation, PhotoAugmentation

    crop = int(model.input_shape[1])
    size = int(config.image_size)
    inputs = keras.Input((size, size, 3), name="images")
    images = FaceAugmentation(crop, flip=config.flip, rotation=config.rotation, seed=config.seed,
                              name="device_augmentation")(inputs)
    if config.augment == "strong":  # as on the host: after the crop, seeded from config.seed
        images = PhotoAugmentation(seed=config.seed, name="device_photo_augmentation")(images)
    return keras.Model(inputs, model(images), name=f"{model.name}_device_augmented")


def create_run_model(config: TrainConfig, crop: int | None = None, name: str | None = None) -> keras.Model:
    """The run's network: ``config.model`` for ``config.task`` with its ``model_kwargs``.

    Args:
        config: the run's config.
        crop: the input side (default :meth:`TrainConfig.resolved_crop_size`, the one rule for it).
        name: the model's name (default the builder's).
    """
    from adiencekit.models import create_model

    kwargs = dict(config.model_kwargs)
    side = config.resolved_crop_size() if crop is None else crop
    kwargs.setdefault("input_shape", (side, side, 3))
    if name is not None:
        kwargs["name"] = name
    return create_model(config.model, task=config.task, **kwargs)
