"""Inception-v3 transfer-learning models of the reference report.

Both models wrap ``keras.applications.InceptionV3(include_top=False)`` as a nested
sub-model named ``"inception_v3"`` (21,802,784 parameters with average pooling, 34,432 of
them non-trainable batch-norm statistics), behind an in-model ``x / 127.5 - 1`` scaling.

* :func:`basic_inception`: frozen base → Dense(classes). Gender: 21,806,882 parameters,
  4,098 trainable.
* :func:`modified_inception`: fine-tuned base → Dropout(0.2) → Dense(128, ReLU) →
  Dropout(0.2) → Dense(classes). Gender: 22,065,314 parameters, 22,030,882 trainable.
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

from adiencekit.models.heads import (
    classification_head,
    validate_input_shape,
    validate_pooling,
    validate_task,
)
from adiencekit.models.preprocessing import inception_preprocessing
from adiencekit.models.registry import register_model
from adiencekit.models.weights import check_weights, load_weights

__all__ = ["INCEPTION_BLOCKS", "basic_inception", "modified_inception", "set_trainable_blocks"]

#: Number of inception ("mixed0" ... "mixed10") blocks in Inception-v3.
INCEPTION_BLOCKS = 11
_BASE_NAME = "inception_v3"
_MIN_SIZE = 75  # the smallest input keras.applications.InceptionV3 accepts


def _inception_base(
    input_shape: tuple[int | None, int | None, int],
    weights: str | None,
    pooling: str | None,
    imagenet_weights_file: str | os.PathLike[str] | None,
) -> keras.Model:
    """Build the headless Inception-v3; ``weights`` is ``"imagenet"`` or ``None`` here.

    For ``"imagenet"`` the string goes to ``keras.applications`` unchanged: Keras downloads
    the no-top weights once, checks their hash and caches them under ``~/.keras/models``.
    ``imagenet_weights_file`` points to a local copy of that same file instead (offline
    machines, tests). It is handed to ``keras.applications.InceptionV3(weights=<path>)``,
    the documented keras.applications path for a weights file. A fake file cannot be
    planted in the Keras cache instead, because ``keras.utils.get_file`` checks the file's
    hash and re-downloads on a mismatch.
    """
    base_weights: str | None = weights
    if weights == "imagenet" and imagenet_weights_file is not None:
        path = os.fspath(imagenet_weights_file)
        if not os.path.isfile(path):
            raise ValueError(f"imagenet_weights_file does not exist: {imagenet_weights_file!r}")
        base_weights = path
    elif imagenet_weights_file is not None:
        raise ValueError(
            f"imagenet_weights_file is only used with weights='imagenet', got weights={weights!r} "
            f"and imagenet_weights_file={imagenet_weights_file!r}"
        )
    # Looked up at call time, so tests can observe what is passed to keras.applications.
    return keras.applications.InceptionV3(
        include_top=False, weights=base_weights, input_shape=input_shape, pooling=pooling
    )


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


def _find_base(model: keras.Model) -> keras.Model:
    if model.name == _BASE_NAME and any(layer.name == "mixed0" for layer in model.layers):
        return model
    for layer in model.layers:
        if layer.name == _BASE_NAME and isinstance(layer, keras.Model):
            return layer
    raise ValueError(f"no Inception-v3 base (a layer named {_BASE_NAME!r}) in model {model.name!r}")


def _parse_trainable(trainable_base: Any) -> bool | int:
    """``True``/``False`` or a number of top blocks from ``int`` or ``"top:N"``."""
    if isinstance(trainable_base, bool):
        return trainable_base
    blocks: Any = trainable_base
    if isinstance(trainable_base, str) and trainable_base.startswith("top:"):
        try:
            blocks = int(trainable_base[4:])
        except ValueError:
            blocks = trainable_base
    if isinstance(blocks, int) and 0 <= blocks <= INCEPTION_BLOCKS:
        return blocks
    raise ValueError(
        "trainable_base must be True (fine-tune everything), False (frozen), or the number of "
        f"top inception blocks to train as an int or 'top:N' with 0 <= N <= {INCEPTION_BLOCKS}, "
        f"got {trainable_base!r}"
    )


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
    base = _find_base(model)
    layers = base.layers
    names = [layer.name for layer in layers]
    if setting is True:
        first_trainable = 0
    elif setting is False or setting == 0:
        first_trainable = len(layers)
    elif setting == INCEPTION_BLOCKS:
        # Everything after the stem, which ends with the last max-pool before mixed0.
        first_trainable = 1 + max(
            index for index in range(names.index("mixed0")) if isinstance(layers[index], keras.layers.MaxPooling2D)
        )
    else:
        first_trainable = 1 + names.index(f"mixed{INCEPTION_BLOCKS - 1 - setting}")
    # Set every layer explicitly: assigning a container's ``trainable`` the value it already
    # has does not reach layers that were changed individually before.
    base.trainable = first_trainable < len(layers)
    for index, layer in enumerate(layers):
        layer.trainable = index >= first_trainable
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
) -> keras.Model:
    """Frozen ImageNet Inception-v3 features with a linear classifier (the report's basic model).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (two Dense heads on the features).
        input_shape: ``(height, width, channels)``, at least 75x75; height and width may
            be ``None`` (the features are globally pooled).
        weights: ``"imagenet"`` (base weights downloaded and cached by
            ``keras.applications``), ``None`` (random base) or the path to a weights file
            of the whole model.
        include_top: whether to add the classifier. With ``include_top=True`` the base
            is average-pooled to 2,048 features.
        pooling: with ``include_top=False``: ``None`` (4-D map), ``"avg"`` or ``"max"``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"basic_inception_<task>"``.
        classes: override of the class count of a single-task model.
        imagenet_weights_file: a local copy of Keras's Inception-v3 *no-top* ImageNet
            weights file, used instead of the download when ``weights="imagenet"``.

    Returns:
        A ``keras.Model`` taking float RGB images in [0, 255], its base frozen.

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
    inputs = keras.Input(shape=shape, name="image")
    base = _inception_base(shape, base_weights, "avg" if include_top else pooling, imagenet_weights_file)
    x = base(inception_preprocessing()(inputs))
    outputs = classification_head(x, task, classifier_activation, classes=classes) if include_top else x
    model = keras.Model(inputs, outputs, name=name or f"basic_inception_{task}")
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
) -> keras.Model:
    """Fine-tuned Inception-v3 with a dropout/dense top (the report's best model).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared dense layer, two heads).
        input_shape: ``(height, width, channels)``, at least 75x75; height and width may
            be ``None``.
        weights: ``"imagenet"``, ``None`` or the path to a weights file of the whole model.
        include_top: whether to add dropout, the dense layer and the classifier; the
            base is average-pooled when it is set.
        pooling: with ``include_top=False``: ``None`` (4-D map), ``"avg"`` or ``"max"``.
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
        A ``keras.Model`` taking float RGB images in [0, 255].

    Example:

    >>> from adiencekit.models import modified_inception
    >>> model = modified_inception(task="multitask", weights=None, input_shape=(75, 75, 3))
    >>> {task: tensor.shape for task, tensor in model.output.items()}
    {'gender': (None, 2), 'age': (None, 8)}
    """
    shape, base_weights, weights_path = _check(task, input_shape, weights, pooling, "modified_inception")
    trainable = _parse_trainable(trainable_base)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if isinstance(dense_units, bool) or not isinstance(dense_units, int) or dense_units < 1:
        raise ValueError(f"dense_units must be a positive int, got {dense_units!r}")
    inputs = keras.Input(shape=shape, name="image")
    base = _inception_base(shape, base_weights, "avg" if include_top else pooling, imagenet_weights_file)
    x = base(inception_preprocessing()(inputs))
    if include_top:
        x = keras.layers.Dropout(dropout, name="dropout_1")(x)
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
        x = keras.layers.Dropout(dropout, name="dropout_2")(x)
        outputs = classification_head(x, task, classifier_activation, classes=classes)
    else:
        outputs = x
    model = keras.Model(inputs, outputs, name=name or f"modified_inception_{task}")
    return set_trainable_blocks(load_weights(model, weights_path), trainable)
