"""Hand-written plain-Keras twins of the zoo models, the baselines of the training suite.

Each function builds, with nothing but ``keras`` (no adiencekit import), the *same*
architecture as the adiencekit builder of the same name: same layers, shapes,
parameter counts and in-model preprocessing, written the way a user would write it by
hand. The suites check that each twin has exactly the library model's parameter count
and forward multiply-adds before timing anything, so a ratio never compares two
different networks.

The code is deliberately ordinary: Levi-Hassner uses ``"same"`` max-pooling (which gives
Caffe's round-up sizes 28/14/7 on 56/28/14; it agrees with Caffe whenever the pooled map
sizes are even, as at 227x227) instead of explicit padding, and its local
response normalization is a ``Lambda`` computing the channel-window sum with a banded
matrix product.

Example:

>>> import baselines
>>> baselines.build_baseline("levi_hassner", "age").count_params()
11415048
>>> baselines.build_baseline("scratch_cnn", "gender").count_params()
8412578
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

#: Output classes per task.
TASK_CLASSES = {"gender": 2, "age": 8}

#: Per-channel RGB mean the Levi-Hassner model subtracts (CaffeNet/ImageNet mean).
LEVI_HASSNER_MEAN = (123.68, 116.779, 103.939)


def _heads(x: Any, task: str) -> Any:
    """float32 softmax output(s): one named after the task, or ``gender`` + ``age``."""
    names = ("gender", "age") if task == "multitask" else (task,)
    outputs = {n: keras.layers.Dense(TASK_CLASSES[n], activation="softmax", dtype="float32", name=n)(x) for n in names}
    return outputs if task == "multitask" else outputs[task]


def _lrn(depth_radius: int = 2, bias: float = 1.0, alpha: float = 2e-5, beta: float = 0.75) -> Callable[[Any], Any]:
    """Across-channel LRN ``x / (bias + alpha * window_sum(x^2)) ** beta`` via a band matrix."""

    def lrn(x: Any) -> Any:
        channels = int(x.shape[-1])
        index = np.arange(channels)
        band = (np.abs(index[:, None] - index[None, :]) <= depth_radius).astype("float32")
        x32 = ops.cast(x, "float32")
        window = ops.matmul(ops.square(x32), ops.convert_to_tensor(band))
        return ops.cast(x32 / ops.power(bias + alpha * window, beta), x.dtype)

    return lrn


def levi_hassner(task: str, input_shape: tuple[int, int, int] = (227, 227, 3)) -> keras.Model:
    """Levi & Hassner's CNN (mean subtraction, 3 conv + LRN, 2 x FC 512, classifier)."""
    inputs = keras.Input(input_shape)
    mean = np.asarray(LEVI_HASSNER_MEAN, "float32")
    x = keras.layers.Lambda(lambda t: t - ops.cast(mean, t.dtype))(inputs)
    x = keras.layers.Conv2D(96, 7, strides=4, activation="relu")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    x = keras.layers.Lambda(_lrn())(x)
    x = keras.layers.Conv2D(256, 5, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    x = keras.layers.Lambda(_lrn())(x)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    return keras.Model(inputs, _heads(x, task), name=f"baseline_levi_hassner_{task}")


def _inception_features(inputs: Any, input_shape: tuple[int, int, int], trainable: bool) -> Any:
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=input_shape, pooling="avg")
    base.trainable = trainable
    return base(x)


def basic_inception(task: str, input_shape: tuple[int, int, int] = (299, 299, 3)) -> keras.Model:
    """Frozen Inception-v3 average-pooled features → Dense(classes)."""
    inputs = keras.Input(input_shape)
    x = _inception_features(inputs, input_shape, trainable=False)
    return keras.Model(inputs, _heads(x, task), name=f"baseline_basic_inception_{task}")


def modified_inception(task: str, input_shape: tuple[int, int, int] = (299, 299, 3)) -> keras.Model:
    """Fine-tuned Inception-v3 → Dropout(0.2) → Dense(128, ReLU) → Dropout(0.2) → Dense(classes)."""
    inputs = keras.Input(input_shape)
    x = _inception_features(inputs, input_shape, trainable=True)
    x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(inputs, _heads(x, task), name=f"baseline_modified_inception_{task}")


def scratch_cnn(
    task: str, input_shape: tuple[int, int, int] = (256, 256, 3), conv_layers: int = 3, dense_units: int = 128
) -> keras.Model:
    """``conv_layers`` x (Conv 3x3 same, ReLU, MaxPool 2) with 16, 32, 64... filters → Dense → classifier."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    for block in range(conv_layers):
        x = keras.layers.Conv2D(16 * 2**block, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    return keras.Model(inputs, _heads(x, task), name=f"baseline_scratch_cnn_{task}")


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "levi_hassner": levi_hassner,
    "basic_inception": basic_inception,
    "modified_inception": modified_inception,
    "scratch_cnn": scratch_cnn,
}


def build_baseline(model: str, task: str, input_shape: tuple[int, int, int] | None = None) -> keras.Model:
    """The plain-Keras twin of zoo model ``model`` for ``task``.

    Args:
        model: a zoo name (see :data:`BUILDERS`).
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        input_shape: ``(height, width, 3)``; default the model's native size.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for an unknown model or task.
    """
    if model not in BUILDERS:
        raise ValueError(f"no baseline for model {model!r}; known: {sorted(BUILDERS)}")
    if task not in ("gender", "age", "multitask"):
        raise ValueError(f"task must be 'gender', 'age' or 'multitask', got {task!r}")
    builder = BUILDERS[model]
    return builder(task) if input_shape is None else builder(task, tuple(input_shape))
