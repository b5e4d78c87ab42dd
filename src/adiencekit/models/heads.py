"""Classification heads and the argument checks every model builder shares.

A *task* says what a model predicts:

* ``"gender"``: 2 classes (0 = female, 1 = male), one output named ``"gender"``;
* ``"age"``: the 8 Adience age groups, one output named ``"age"``;
* ``"multitask"``: a shared trunk with two outputs named ``"gender"`` and ``"age"``,
  so the model returns a dict ``{"gender": ..., "age": ...}``.

Output layers are ``Dense`` layers with ``dtype="float32"``: under a mixed-precision
policy (``mixed_bfloat16``/``mixed_float16``) the trunk computes in low precision while
the logits and the softmax stay in float32, as Keras recommends.

Example:

>>> import keras
>>> from adiencekit.models.heads import classification_head
>>> features = keras.Input((16,))
>>> outputs = classification_head(features, "multitask")
>>> model = keras.Model(features, outputs)
>>> sorted(model.output)
['age', 'gender']
>>> model.output["age"].shape
(None, 8)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import keras

from adiencekit.labels import TASK_CLASSES, TASKS, validate_task

__all__ = [
    "TASKS",
    "TASK_CLASSES",
    "HEAD_POOLINGS",
    "POOLINGS",
    "classification_head",
    "global_pool",
    "num_classes",
    "validate_input_shape",
    "validate_pooling",
    "validate_task",
]

#: Accepted ``pooling`` values of a feature extractor (as in ``keras.applications``).
POOLINGS: tuple[str | None, ...] = (None, "avg", "max")

#: Accepted ``pooling`` values of a classification top: ``"flatten"`` keeps every
#: position of the feature map (the dense layer sees ``H * W * C`` features).
HEAD_POOLINGS: tuple[str, ...] = ("flatten", "avg", "max")


def num_classes(task: str, classes: int | None = None) -> int:
    """Number of output classes of a single-task model.

    Args:
        task: ``"gender"`` or ``"age"``.
        classes: an explicit class count that overrides the task's own (e.g. another
            age binning); ``None`` keeps the task's count.

    Returns:
        The class count.
    """
    validate_task(task)
    if task == "multitask":
        raise ValueError("task='multitask' has two outputs (gender: 2, age: 8); it has no single class count")
    if classes is None:
        return TASK_CLASSES[task]
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2 or None, got {classes!r}")
    return classes


def validate_pooling(pooling: str | None) -> str | None:
    """Return ``pooling`` if it is ``None``, ``"avg"`` or ``"max"``, else raise a ``ValueError``."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def validate_input_shape(
    input_shape: Any, *, min_size: int = 1, allow_none: bool = False, model: str = "model"
) -> tuple[int | None, int | None, int]:
    """Check an ``(height, width, channels)`` input shape.

    Args:
        input_shape: the shape to check (any sequence of three entries).
        min_size: smallest height and width the architecture supports.
        allow_none: whether height and width may be ``None`` (variable size).
        model: architecture name used in error messages.

    Returns:
        The shape as a tuple.
    """
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(f"{model}: input_shape must be (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3:
        raise ValueError(f"{model}: input_shape must be (height, width, channels), got {input_shape!r}")
    height, width, channels = shape
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ValueError(f"{model}: the channel count must be a positive int, got input_shape={input_shape!r}")
    for size in (height, width):
        if size is None and allow_none:
            continue
        if size is None:
            raise ValueError(
                f"{model}: height and width must be known when include_top=True (the top flattens "
                f"a fixed-size feature map), got input_shape={input_shape!r}"
            )
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < min_size:
            raise ValueError(
                f"{model}: height and width must be ints >= {min_size}, got input_shape={input_shape!r}"
            )
    return tuple(None if size is None else int(size) for size in shape)


def global_pool(x: Any, pooling: str | None, name: str = "pool") -> Any:
    """Apply global average/max pooling to a 4-D feature map, or return it unchanged.

    Args:
        x: a ``(batch, height, width, channels)`` tensor.
        pooling: ``None``, ``"avg"`` or ``"max"``.
        name: name of the pooling layer.

    Returns:
        The pooled ``(batch, channels)`` tensor, or ``x`` when ``pooling`` is ``None``.
    """
    validate_pooling(pooling)
    if pooling is not None and len(x.shape) != 4:
        return x  # already a feature vector (a backbone that pools itself)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=name)(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=name)(x)
    return x


def classification_head(
    features: Any,
    task: str,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    *,
    classes: int | None = None,
    kernel_initializer: Any = "glorot_uniform",
    bias_initializer: Any = "zeros",
) -> Any:
    """Add the output layer(s) of ``task`` on top of a feature vector.

    Args:
        features: a ``(batch, features)`` tensor.
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        classifier_activation: activation of the output layer(s): ``"softmax"``
            (probabilities), ``None`` (logits) or any Keras activation.
        classes: override of the class count of a single-task head.
        kernel_initializer: initializer of the output kernels.
        bias_initializer: initializer of the output biases.

    Returns:
        One tensor named after the task, or for ``"multitask"`` a dict
        ``{"gender": tensor, "age": tensor}``.
    """
    validate_task(task)
    if task == "multitask" and classes is not None:
        raise ValueError(f"classes cannot be set for task='multitask' (gender: 2, age: 8), got classes={classes!r}")

    def dense(name: str, units: int) -> Any:
        layer = keras.layers.Dense(
            units,
            activation=classifier_activation,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            dtype="float32",
            name=name,
        )
        return layer(features)

    if task == "multitask":
        return {name: dense(name, units) for name, units in TASK_CLASSES.items()}
    return dense(task, num_classes(task, classes))
