"""The small CNNs "from scratch" of the reference report, with its depth and width knobs.

``conv_layers`` blocks of 3x3 ``"same"`` convolution (filters ``base_filters * 2**i``:
16, 32, 64, ...) → [BatchNorm] → ReLU → 2x2 max-pool, then Flatten → Dense(units, ReLU)
→ [Dropout] → classifier. Exact sizes at 256x256:

================================  ==========
configuration                     parameters
================================  ==========
3 conv, Dense 128, gender         8,412,578
4 conv, Dense 128, gender         4,292,130
5 conv, Dense 128, gender         2,490,146
5 conv, Dense 256, age (8)        4,589,224
================================  ==========

(Deeper is smaller: every extra block halves the flattened map the dense layer sees.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from adiencekit.models.heads import (
    classification_head,
    global_pool,
    validate_input_shape,
    validate_pooling,
    validate_task,
)
from adiencekit.models.preprocessing import scratch_preprocessing
from adiencekit.models.registry import register_model
from adiencekit.models.weights import check_weights, load_weights

__all__ = ["scratch_cnn"]


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{argument} must be a positive int, got {value!r}")
    return value


@register_model()
def scratch_cnn(
    task: str = "gender",
    input_shape: Sequence[int | None] = (256, 256, 3),
    weights: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    name: str | None = None,
    *,
    conv_layers: int = 3,
    base_filters: int = 16,
    dense_units: int = 128,
    batch_norm: bool = False,
    dropout: float = 0.0,
    classes: int | None = None,
) -> keras.Model:
    """Build a plain CNN trained from scratch (the reference report's baseline and sweeps).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared trunk and dense layer,
            two outputs).
        input_shape: ``(height, width, channels)``; both sides must be at least
            ``2 ** conv_layers``. They may be ``None`` when ``include_top=False``.
        weights: ``None`` or the path to a weights file of the whole model.
        include_top: whether to add Flatten, the dense layer and the classifier.
        pooling: with ``include_top=False``: ``None`` (4-D map), ``"avg"`` or ``"max"``.
            Ignored when ``include_top=True``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"scratch_cnn_<task>"``.
        conv_layers: number of conv/pool blocks (the report tried 3, 4 and 5).
        base_filters: filters of the first block; each next block doubles them.
        dense_units: units of the hidden dense layer (the report tried 128, 256, 512).
        batch_norm: add BatchNormalization between each convolution and its ReLU
            (the convolution then has no bias).
        dropout: dropout rate after the dense layer (0 disables it).
        classes: override of the class count of a single-task model.

    Returns:
        A ``keras.Model`` taking float RGB images in [0, 255].

    Example:

    >>> from adiencekit.models import scratch_cnn
    >>> scratch_cnn().count_params()
    8412578
    >>> scratch_cnn(task="age", conv_layers=5, dense_units=256).count_params()
    4589224
    """
    validate_task(task)
    validate_pooling(pooling)
    conv_layers = _positive_int(conv_layers, "conv_layers")
    base_filters = _positive_int(base_filters, "base_filters")
    dense_units = _positive_int(dense_units, "dense_units")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    shape = validate_input_shape(
        input_shape,
        min_size=2**conv_layers,
        allow_none=not include_top,
        model=f"scratch_cnn(conv_layers={conv_layers})",
    )
    weights_path = check_weights(weights, model="scratch_cnn", input_shape=shape)

    inputs = keras.Input(shape=shape, name="image")
    x = scratch_preprocessing()(inputs)
    for block in range(1, conv_layers + 1):
        filters = base_filters * 2 ** (block - 1)
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"conv{block}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv{block}_bn")(x)
        x = keras.layers.Activation("relu", name=f"conv{block}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)

    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = classification_head(x, task, classifier_activation, classes=classes)
    else:
        outputs = global_pool(x, pooling, name="global_pool")
    model = keras.Model(inputs, outputs, name=name or f"scratch_cnn_{task}")
    return load_weights(model, weights_path)
