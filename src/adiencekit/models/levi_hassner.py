"""Levi & Hassner (CVPR-W 2015), "Age and Gender Classification using CNNs".

The network of the Adience baseline, rebuilt layer for layer from the authors' Caffe
definitions (GilLevi/AgeGenderDeepLearning, ``*_net_definitions/train_val_*.prototxt``)::

    227x227x3 ─ mean subtraction
    conv1 96@7x7 /4 ─ ReLU ─ pool1 max 3/2 ─ norm1 LRN(5, 1e-4, 0.75)     → 28x28x96
    conv2 256@5x5 pad 2 ─ ReLU ─ pool2 max 3/2 ─ norm2 LRN(5, 1e-4, 0.75) → 14x14x256
    conv3 384@3x3 pad 1 ─ ReLU ─ pool5 max 3/2                            → 7x7x384
    fc6 512 ─ ReLU ─ drop6 0.5 ─ fc7 512 ─ ReLU ─ drop7 0.5 ─ fc8 classes

Layer names follow the prototxt. Parameters: 11,415,048 (age, 8 classes) and
11,411,970 (gender).

**Caffe pooling rounds up.** Caffe computes a pooled size as
``ceil((n - 3) / 2) + 1``; Keras ``"valid"`` pooling rounds down (56 → 27, not 28) and
``"same"`` pooling disagrees with Caffe on odd sizes. Each pool is therefore
``ZeroPadding2D`` of one row and column at the bottom/right followed by a ``"valid"``
3x3/2 max-pool: ``floor((n + 1 - 3) / 2) + 1 == ceil((n - 3) / 2) + 1`` for every ``n``,
and because every pool follows a ReLU (inputs >= 0) a padded zero never wins a max, so
the values equal Caffe's too.

**Initialization** follows the prototxt: Gaussian weights with std 0.01 (conv1-3 and
fc8) and 0.005 (fc6, fc7); biases 0 for conv1, conv3 and fc8 and 1 for conv2, fc6 and
fc7.

**LRN**: Caffe's ``local_size: 5, alpha: 0.0001`` is ``depth_radius=2, alpha=2e-5`` in
TensorFlow's convention (see :mod:`adiencekit.layers.normalization`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from adiencekit.layers.normalization import LocalResponseNormalization
from adiencekit.models.heads import (
    classification_head,
    global_pool,
    validate_input_shape,
    validate_pooling,
    validate_task,
)
from adiencekit.models.preprocessing import LEVI_HASSNER_MEAN, levi_hassner_preprocessing
from adiencekit.models.registry import register_model
from adiencekit.models.weights import check_weights, load_weights

__all__ = ["levi_hassner"]

# Caffe LRN parameters of norm1 and norm2.
_LRN_LOCAL_SIZE, _LRN_ALPHA, _LRN_BETA = 5, 1e-4, 0.75


def _gaussian(std: float, seed: int | None) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(mean=0.0, stddev=std, seed=seed)


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def _caffe_max_pool(x: Any, name: str) -> Any:
    """3x3 stride-2 max-pool with Caffe's round-up output size (inputs must be >= 0)."""
    x = keras.layers.ZeroPadding2D(padding=((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="valid", name=name)(x)


def _spatial_size_after_trunk(size: int) -> int:
    size = (size - 7) // 4 + 1  # conv1, 7x7 stride 4, no padding
    for _ in range(3):  # pool1, pool2, pool5 (conv2 and conv3 keep the size)
        size = -(-(size - 3) // 2) + 1 if size >= 2 else 0
    return size


@register_model()
def levi_hassner(
    task: str = "gender",
    input_shape: Sequence[int | None] = (227, 227, 3),
    weights: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    name: str | None = None,
    *,
    classes: int | None = None,
    dropout: float = 0.5,
    mean: Sequence[float] = LEVI_HASSNER_MEAN,
    seed: int | None = None,
) -> keras.Model:
    """Build the Levi & Hassner age/gender CNN.

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared trunk and fc6/fc7, two
            outputs).
        input_shape: ``(height, width, channels)``; the paper uses 227x227 crops of
            256x256 faces. Height and width may be ``None`` when ``include_top=False``.
        weights: ``None`` (Caffe-style random init) or the path to a weights file of the
            whole model. There are no ImageNet weights for this network.
        include_top: whether to add fc6, fc7 and the classifier. Without it the model
            returns the ``pool5`` feature map (or its global pooling).
        pooling: with ``include_top=False``: ``None`` (4-D ``pool5`` map), ``"avg"`` or
            ``"max"``. Ignored when ``include_top=True``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"levi_hassner_<task>"``.
        classes: override of the class count of a single-task model.
        dropout: dropout rate of drop6 and drop7 (0.5 in the paper).
        mean: per-channel mean subtracted from the [0, 255] RGB input.
        seed: seed of the Gaussian initializers (``None``: not seeded).

    Returns:
        A ``keras.Model`` taking float RGB images in [0, 255].

    Example:

    >>> from adiencekit.models import levi_hassner
    >>> model = levi_hassner(task="age")
    >>> model.count_params()
    11415048
    >>> model.get_layer("pool5").output.shape
    (None, 7, 7, 384)
    """
    validate_task(task)
    validate_pooling(pooling)
    shape = validate_input_shape(input_shape, min_size=7, allow_none=not include_top, model="levi_hassner")
    weights_path = check_weights(weights, model="levi_hassner", input_shape=shape)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if len(tuple(mean)) != shape[-1]:
        raise ValueError(f"mean needs one value per input channel ({shape[-1]}), got {mean!r}")
    for size in shape[:2]:
        if size is not None and _spatial_size_after_trunk(size) < 1:
            raise ValueError(f"levi_hassner: input_shape {shape} is too small; the pool5 map would be empty")

    inputs = keras.Input(shape=shape, name="image")
    x = levi_hassner_preprocessing(mean)(inputs)
    conv_specs = [  # name, filters, kernel, stride, padding, bias init
        ("conv1", 96, 7, 4, 0, 0.0),
        ("conv2", 256, 5, 1, 2, 1.0),
        ("conv3", 384, 3, 1, 1, 0.0),
    ]
    for index, (layer_name, filters, kernel, stride, pad, bias) in enumerate(conv_specs, start=1):
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"{layer_name}_pad")(x)
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="valid",
            activation="relu",
            kernel_initializer=_gaussian(0.01, _seed(seed, index)),
            bias_initializer=keras.initializers.Constant(bias),
            name=layer_name,
        )(x)
        x = _caffe_max_pool(x, name=f"pool{index}" if index < 3 else "pool5")
        if index < 3:
            x = LocalResponseNormalization.from_caffe(_LRN_LOCAL_SIZE, _LRN_ALPHA, _LRN_BETA, name=f"norm{index}")(x)

    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        for index in (6, 7):
            x = keras.layers.Dense(
                512,
                activation="relu",
                kernel_initializer=_gaussian(0.005, _seed(seed, index)),
                bias_initializer=keras.initializers.Constant(1.0),
                name=f"fc{index}",
            )(x)
            x = keras.layers.Dropout(dropout, name=f"drop{index}")(x)
        outputs = classification_head(
            x,
            task,
            classifier_activation,
            classes=classes,
            kernel_initializer=_gaussian(0.01, _seed(seed, 8)),
            bias_initializer="zeros",
        )
    else:
        outputs = global_pool(x, pooling, name="global_pool")
    model = keras.Model(inputs, outputs, name=name or f"levi_hassner_{task}")
    return load_weights(model, weights_path)
