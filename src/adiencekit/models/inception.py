"""Inception-v3 transfer-learning models of the reference report.

Both are two configurations of one backbone,
:class:`~adiencekit.models.backbones.InceptionV3Backbone` (``keras.applications``'
Inception-v3 without its top, a nested model named ``"inception_v3"``: 21,802,784
parameters, 34,432 of them non-trainable batch-norm statistics), behind an in-model
``x / 127.5 - 1`` scaling and under a global-average-pooling head of an
:class:`~adiencekit.models.AgeGenderClassifier`:

* :func:`basic_inception`: frozen base → Dense(classes). Gender: 21,806,882 parameters,
  4,098 trainable.
* :func:`modified_inception`: fine-tuned base → Dropout(0.2) (``input_dropout``) →
  Dense(128, ReLU) (``dense``) → Dropout(0.2) (``dense_dropout``) → Dense(classes). Gender: 22,065,314 parameters, 22,030,882 trainable.
  The base can also be frozen, or only its top N inception blocks trained
  (:func:`set_trainable_blocks`) for staged fine-tuning.

Frozen batch-norm layers run in inference mode (Keras uses the moving statistics of
a ``BatchNormalization`` layer whose ``trainable`` is ``False``, even when the model
is called with ``training=True``), so freezing never disturbs the ImageNet statistics.
Recompile a model after changing what is trainable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import keras

from adiencekit.models.backbones import (
    INCEPTION_BLOCKS,
    InceptionV3Backbone,
    _parse_trainable,
    apply_trainable_blocks,
)
from adiencekit.models.heads import validate_input_shape, validate_pooling, validate_task
from adiencekit.models.registry import register_model
from adiencekit.models.task import AgeGenderClassifier, zoo_classifier
from adiencekit.models.weights import check_weights, imagenet_weights_path, load_weights

__all__ = ["INCEPTION_BLOCKS", "basic_inception", "modified_inception", "set_trainable_blocks"]

_BASE_NAME = "inception_v3"
_MIN_SIZE = 75  # the smallest input keras.applications.InceptionV3 accepts


def _check(
    task: str, input_shape: Any, weights: Any, pooling: str | None, model: str
) -> tuple[tuple[int | None, int | None, int], str | None, str | None]:
    """Validate the shared arguments; return the shape, base weights and whole-model weights."""
    validate_task(task)
    validate_pooling(pooling)
    shape = validate_input_shape(input_shape, min_size=_MIN_SIZE, allow_none=True, model=model)
    checked = check_weights(weights, model=model, input_shape=shape, allow_imagenet=True)
    if checked == "imagenet":
        return shape, "imagenet", None
    return shape, None, checked


def _backbone(
    shape: tuple[int | None, int | None, int],
    base_weights: str | None,
    imagenet_weights_file: str | os.PathLike[str] | None,
    trainable_blocks: bool | int,
    model: str,
) -> InceptionV3Backbone:
    """The Inception-v3 backbone; ``"imagenet"`` weights are fetched once into the Keras cache.

    ``imagenet_weights_file`` points to a local copy of Keras's no-top ImageNet file
    instead (offline machines, tests). A download failure becomes one
    :class:`~adiencekit.errors.ModelFileError` naming the offline options.
    """
    if base_weights is None and imagenet_weights_file is not None:
        raise ValueError(
            f"imagenet_weights_file is only used with weights='imagenet', got weights={base_weights!r} "
            f"and imagenet_weights_file={imagenet_weights_file!r}"
        )
    path = imagenet_weights_path(imagenet_weights_file, model=model) if base_weights == "imagenet" else None
    return InceptionV3Backbone(input_shape=shape, weights=path, trainable_blocks=trainable_blocks)


def _find_base(model: keras.Model) -> keras.Model:
    if isinstance(model, InceptionV3Backbone):
        return model
    if isinstance(model, AgeGenderClassifier) and isinstance(model.backbone, InceptionV3Backbone):
        return model.backbone
    if model.name == _BASE_NAME and any(layer.name == "mixed0" for layer in model.layers):
        return model
    for layer in model.layers:
        if layer.name == _BASE_NAME and isinstance(layer, keras.Model):
            return layer
    raise ValueError(f"no Inception-v3 base (a layer named {_BASE_NAME!r}) in model {model.name!r}")


def set_trainable_blocks(model: keras.Model, blocks: bool | int | str) -> keras.Model:
    """Choose which part of an Inception-v3 base trains (for staged fine-tuning).

    Args:
        model: a model holding the ``"inception_v3"`` base, or the base itself.
        blocks: ``True`` trains the whole base, ``False`` (or 0) freezes it, and ``N``
            (or ``"top:N"``, ``1 <= N <= 11``) trains only the last ``N`` inception blocks
            (``N=2``: the blocks ending in ``mixed9`` and ``mixed10``). With ``N=11`` every
            inception block trains and only the stem (the five convolutions before
            ``mixed0``) stays frozen. Frozen batch-norm layers run in inference mode.

    Returns:
        ``model`` (changed in place). Compile it again for the change to take effect.

    Example:

    >>> import math
    >>> from adiencekit.models import modified_inception, set_trainable_blocks
    >>> model = modified_inception(weights=None, input_shape=(75, 75, 3))
    >>> frozen = set_trainable_blocks(model, False)
    >>> sum(math.prod(w.shape) for w in model.trainable_weights)   # Dense(128) + Dense(2)
    262530
    """
    setting = _parse_trainable(blocks)
    apply_trainable_blocks(_find_base(model), setting)
    return model


@register_model()
def basic_inception(
    task: str = "gender",
    input_shape: Sequence[int | None] = (299, 299, 3),
    weights: str | None = "imagenet",
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    name: str | None = None,
    *,
    classes: int | None = None,
    imagenet_weights_file: str | os.PathLike[str] | None = None,
) -> AgeGenderClassifier:
    """Frozen ImageNet Inception-v3 features with a linear classifier (the report's basic model).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (two Dense heads on the features).
        input_shape: ``(height, width, channels)``, at least 75x75; height and width may
            be ``None`` (the features are globally pooled).
        weights: ``"imagenet"`` (base weights downloaded and cached by
            ``keras.applications``), ``None`` (random base) or the path to a weights file
            of the whole model.
        include_top: whether to add the classifier.
        pooling: with ``include_top=True``: ``None`` or ``"avg"`` (the report's global
            average pooling to 2,048 features) or ``"max"``. With ``include_top=False``:
            ``None`` (4-D map), ``"avg"`` or ``"max"``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"basic_inception_<task>"``.
        classes: override of the class count of a single-task model.
        imagenet_weights_file: a local copy of Keras's Inception-v3 *no-top* ImageNet
            weights file, used instead of the download when ``weights="imagenet"``.

    Returns:
        An :class:`~adiencekit.models.AgeGenderClassifier` taking float RGB images in
        [0, 255], its base frozen.

    Raises:
        ModelFileError: when ``weights="imagenet"`` and the ImageNet file cannot be
            downloaded (the message names ``imagenet_weights_file=`` and ``weights=None``).

    Example:

    >>> import math
    >>> from adiencekit.models import basic_inception
    >>> model = basic_inception(task="age", weights=None, input_shape=(75, 75, 3))
    >>> model.output_shape
    (None, 8)
    >>> sum(math.prod(w.shape) for w in model.trainable_weights)   # 2048 * 8 + 8
    16392
    """
    shape, base_weights, weights_path = _check(task, input_shape, weights, pooling, "basic_inception")
    backbone = _backbone(shape, base_weights, imagenet_weights_file, False, "basic_inception")
    model = zoo_classifier(
        backbone, task, include_top=include_top, pooling=pooling, default_pooling="avg",
        preprocessing=InceptionV3Backbone.default_preprocessing, name=name or f"basic_inception_{task}",
        classifier_activation=classifier_activation, classes=classes,
    )
    return set_trainable_blocks(load_weights(model, weights_path), False)


@register_model()
def modified_inception(
    task: str = "gender",
    input_shape: Sequence[int | None] = (299, 299, 3),
    weights: str | None = "imagenet",
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    name: str | None = None,
    *,
    dropout: float = 0.2,
    dense_units: int = 128,
    trainable_base: bool | int | str = True,
    classes: int | None = None,
    imagenet_weights_file: str | os.PathLike[str] | None = None,
) -> AgeGenderClassifier:
    """Fine-tuned Inception-v3 with a dropout/dense top (the report's best model).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared dense layer, two heads).
        input_shape: ``(height, width, channels)``, at least 75x75; height and width may
            be ``None``.
        weights: ``"imagenet"``, ``None`` or the path to a weights file of the whole model.
        include_top: whether to add dropout, the dense layer and the classifier.
        pooling: with ``include_top=True``: ``None`` or ``"avg"`` (global average
            pooling, the report's) or ``"max"``. With ``include_top=False``: ``None``
            (4-D map), ``"avg"`` or ``"max"``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"modified_inception_<task>"``.
        dropout: rate of both dropout layers (0.2 in the report).
        dense_units: units of the hidden dense layer (128 in the report).
        trainable_base: ``True`` fine-tunes the whole base, ``False`` freezes it, an int
            ``N`` or ``"top:N"`` trains only the last N inception blocks
            (see :func:`set_trainable_blocks`).
        classes: override of the class count of a single-task model.
        imagenet_weights_file: a local copy of Keras's Inception-v3 no-top ImageNet
            weights file, used instead of the download when ``weights="imagenet"``.

    Returns:
        An :class:`~adiencekit.models.AgeGenderClassifier` taking float RGB images in [0, 255].

    Raises:
        ModelFileError: when ``weights="imagenet"`` and the ImageNet file cannot be
            downloaded (the message names ``imagenet_weights_file=`` and ``weights=None``).

    Example:

    >>> from adiencekit.models import modified_inception
    >>> model = modified_inception(task="multitask", weights=None, input_shape=(75, 75, 3))
    >>> {task: tensor.shape for task, tensor in model.output.items()}
    {'gender': (None, 2), 'age': (None, 8)}
    """
    shape, base_weights, weights_path = _check(task, input_shape, weights, pooling, "modified_inception")
    trainable = _parse_trainable(trainable_base)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if isinstance(dense_units, bool) or not isinstance(dense_units, int) or dense_units < 1:
        raise ValueError(f"dense_units must be a positive int, got {dense_units!r}")
    backbone = _backbone(shape, base_weights, imagenet_weights_file, trainable, "modified_inception")
    model = zoo_classifier(
        backbone, task, include_top=include_top, pooling=pooling, default_pooling="avg",
        preprocessing=InceptionV3Backbone.default_preprocessing, name=name or f"modified_inception_{task}",
        classifier_activation=classifier_activation, classes=classes,
        input_dropout=float(dropout), hidden_units=(dense_units,), dropout=float(dropout),
    )
    return set_trainable_blocks(load_weights(model, weights_path), trainable)
