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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from adiencekit.errors import ConfigError
from adiencekit.labels import AGE_YEARS, CLASS_NAMES, TASK_CLASSES, TASKS, as_probabilities, expected_age, validate_task
from adiencekit.layers.age_years_blend import AgeYearsBlend, check_head_weight

__all__ = [
    "TASKS",
    "TASK_CLASSES",
    "AGE_YEARS_FROM_BLEND",
    "AGE_YEARS_FROM_GROUPS",
    "AGE_YEARS_FROM_HEAD",
    "AGE_YEARS_OUTPUT_SOURCES",
    "AGE_YEARS_OFFSET",
    "AGE_YEARS_SCALE",
    "AGE_YEARS_SOURCES",
    "age_in_years",
    "age_years_head_weight",
    "age_years_source",
    "as_probabilities",
    "HEAD_POOLINGS",
    "POOLINGS",
    "classification_head",
    "global_pool",
    "head_class_names",
    "head_probabilities",
    "model_heads",
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


#: The ``age_years`` output is ``AGE_YEARS_OFFSET + AGE_YEARS_SCALE * z`` for a linear unit
#: ``z``: a fresh head starts near a typical adult age and learns in units of 20 years.
AGE_YEARS_OFFSET = 35.0
AGE_YEARS_SCALE = 20.0


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
    age_years: bool = False,
    age_years_head_weight: float = 1.0,
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
        age_years: add a regression output ``"age_years"`` (an age in years, shape
            ``(batch, 1)``, float32) beside the class heads; ``task="multitask"`` only.
        age_years_head_weight: below 1, the ``age_years`` output at inference is
            ``w * head + (1 - w) * expected age of the age groups``
            (:class:`~adiencekit.layers.age_years_blend.AgeYearsBlend`; the head alone in
            training). 1 (the default) is the head alone, with no blend layer.

    Returns:
        One tensor named after the task, or for ``"multitask"`` a dict
        ``{"gender": tensor, "age": tensor}`` (and ``"age_years"``).

    Example:

    >>> import keras
    >>> from adiencekit.models.heads import classification_head
    >>> outputs = classification_head(keras.Input((16,)), "multitask", age_years=True)
    >>> {name: tuple(tensor.shape) for name, tensor in outputs.items()}
    {'gender': (None, 2), 'age': (None, 8), 'age_years': (None, 1)}
    """
    validate_task(task)
    if age_years and task != "multitask":
        raise ValueError(f"age_years=True needs task='multitask' (an age head beside gender), got task={task!r}")
    if task == "multitask" and classes is not None:
        raise ValueError(f"classes cannot be set for task='multitask' (gender: 2, age: 8), got classes={classes!r}")
    head_weight = check_head_weight(age_years_head_weight)
    if head_weight != 1.0 and not age_years:
        raise ValueError(f"age_years_head_weight={age_years_head_weight!r} needs age_years=True")

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
        outputs = {name: dense(name, units) for name, units in TASK_CLASSES.items()}
        if age_years:
            unit = keras.layers.Dense(1, kernel_initializer=kernel_initializer, dtype="float32",
                                      name=f"{AGE_YEARS}_unit")(features)
            blended = head_weight != 1.0
            head = keras.layers.Rescaling(AGE_YEARS_SCALE, offset=AGE_YEARS_OFFSET, dtype="float32",
                                          name=f"{AGE_YEARS}_head" if blended else AGE_YEARS)(unit)
            outputs[AGE_YEARS] = AgeYearsBlend(head_weight, from_logits=classifier_activation is None,
                                               name=AGE_YEARS)([outputs["age"], head]) if blended else head
        return outputs
    return dense(task, num_classes(task, classes))


# ----------------------------------------------------------------------------- asking a model
def _output_keys(model: keras.Model) -> list[str]:
    """The model's own names of its outputs, in output order (dict keys, else output names)."""
    output = getattr(model, "output", None) if getattr(model, "outputs", None) else None
    if isinstance(output, Mapping):
        return list(output)
    return list(getattr(model, "output_names", None) or [])


def _own_heads(model: keras.Model) -> tuple[str, ...] | None:
    """The heads the model names itself (task model ``heads``, or outputs named after heads), else ``None``."""
    if getattr(model, "heads", None):
        return tuple(model.heads)
    keys = _output_keys(model)
    outputs = list(getattr(model, "outputs", None) or [])
    if keys and len(keys) == len(outputs) and set(keys) <= set(CLASS_NAMES) and len(set(keys)) == len(keys):
        return tuple(keys)
    return None


def model_heads(model: keras.Model, heads: Sequence[str] | None = None) -> tuple[str, ...]:
    """The head of each of ``model``'s outputs, in output order, asked of the model itself.

    A task model answers with its ``heads``; another Keras model with outputs named
    ``gender``/``age`` (dict keys or output layer names) answers with those names. A
    model that says neither is refused rather than guessed from its class counts,
    unless the caller names its heads.

    Args:
        model: a Keras model.
        heads: the heads of its outputs, in output order, for a model that does not
            name them (e.g. ``("gender",)``); for a model that does, the heads the
            caller needs, which it must have.

    Returns:
        The heads, e.g. ``("gender", "age")``.

    Raises:
        ConfigError: the model does not name its heads and none are given, the given
            heads do not fit its outputs, or the model lacks a head asked for.

    Example:

    >>> import keras
    >>> from adiencekit.models.heads import model_heads
    >>> plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")], name="plain")
    >>> model_heads(plain, heads=["gender"])
    ('gender',)
    >>> model_heads(plain)
    Traceback (most recent call last):
    ...
    adiencekit.errors.ConfigError: model 'plain' does not say which output is which head (no heads, class_names or outputs named 'gender'/'age'); name them, e.g. heads=('gender',)
    """
    outputs = list(getattr(model, "outputs", None) or [])
    own = _own_heads(model)
    if heads is not None:
        asked = tuple(heads)
        unknown = [head for head in asked if head not in CLASS_NAMES]
        if unknown or not asked or len(set(asked)) != len(asked):
            raise ConfigError(f"heads must be distinct names from {tuple(CLASS_NAMES)}, got {list(asked)}")
        if own is not None and not set(asked) <= set(own):
            raise ConfigError(f"model {model.name!r} has the heads {list(own)}; asked for {list(asked)}")
        if own is None and outputs and len(outputs) != len(asked):
            raise ConfigError(
                f"model {model.name!r} has {len(outputs)} output(s); heads {list(asked)} name {len(asked)}"
            )
    if own is None and heads is None:
        raise ConfigError(
            f"model {model.name!r} does not say which output is which head (no heads, class_names or outputs "
            f"named 'gender'/'age'); name them, e.g. heads=('gender',)"
        )
    chosen = own if own is not None else tuple(heads or ())
    names = head_class_names(model, chosen)
    output = getattr(model, "output", None) if outputs else None
    tensors = dict(output) if isinstance(output, Mapping) else dict(zip(chosen, outputs))
    for head, tensor in tensors.items():
        if head in names and int(tensor.shape[-1]) != len(names[head]):
            raise ConfigError(
                f"model {model.name!r}: its {head} output has {tensor.shape[-1]} classes, the {head} head has "
                f"{len(names[head])} ({', '.join(names[head])})"
            )
    return chosen


def head_class_names(model: keras.Model, heads: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Class names of each head: the model's own ``class_names``, else :data:`adiencekit.labels.CLASS_NAMES`."""
    own = getattr(model, "class_names", None)
    own = own if isinstance(own, Mapping) else {}
    return {head: tuple(own.get(head, CLASS_NAMES[head])) for head in heads}


def head_probabilities(model: keras.Model, outputs: Any, heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Map ``model``'s outputs (one call's result) to ``{head: NumPy array}``, by the model's own heads.

    Args:
        model: the model that gave ``outputs``.
        outputs: its output: a dict keyed by head, a list/tuple in output order, or one array.
        heads: the heads of a model without head metadata (see :func:`model_heads`).

    Returns:
        ``{head: (N, classes) array}`` in :func:`model_heads` order.

    Raises:
        ConfigError: the model does not name its heads, or the outputs lack one.

    Example:

    >>> import numpy as np
    >>> from adiencekit.models import create_model
    >>> from adiencekit.models.heads import head_probabilities
    >>> model = create_model("scratch_cnn", task="multitask", input_shape=(32, 32, 3),
    ...                      conv_layers=2, base_filters=4, dense_units=8)
    >>> out = head_probabilities(model, model.predict_on_batch(np.zeros((3, 32, 32, 3), "float32")))
    >>> {head: p.shape for head, p in out.items()}
    {'gender': (3, 2), 'age': (3, 8)}
    """
    chosen = model_heads(model, heads)
    if isinstance(outputs, Mapping):
        missing = [head for head in chosen if head not in outputs]
        if missing:
            raise ConfigError(f"model {model.name!r} outputs {sorted(outputs)} lack the head(s) {missing}")
        values = [outputs[head] for head in chosen]
    elif isinstance(outputs, (list, tuple)):
        if len(outputs) != len(chosen):
            raise ConfigError(f"model {model.name!r} gives {len(outputs)} outputs for the heads {list(chosen)}")
        values = list(outputs)
    else:
        if len(chosen) != 1:
            raise ConfigError(f"model {model.name!r} gives one output for the heads {list(chosen)}")
        values = [outputs]
    return {head: keras.ops.convert_to_numpy(value) for head, value in zip(chosen, values, strict=True)}


# ----------------------------------------------------------------------------- an age in years
#: Where an age in years comes from: the model's own ``age_years`` output (a regression
#: head trained on exact ages), that output blended with the expected age of the groups
#: (:class:`~adiencekit.layers.age_years_blend.AgeYearsBlend`, still the ``age_years``
#: output), or :func:`adiencekit.labels.expected_age` of its eight age-group
#: probabilities (every model with an age head but without that output).
AGE_YEARS_FROM_HEAD = "head"
AGE_YEARS_FROM_BLEND = "head and age groups"
AGE_YEARS_FROM_GROUPS = "age groups"
AGE_YEARS_SOURCES: tuple[str, ...] = (AGE_YEARS_FROM_HEAD, AGE_YEARS_FROM_BLEND, AGE_YEARS_FROM_GROUPS)
#: The sources whose age is the model's own ``age_years`` output.
AGE_YEARS_OUTPUT_SOURCES: tuple[str, ...] = (AGE_YEARS_FROM_HEAD, AGE_YEARS_FROM_BLEND)


def age_years_head_weight(model: keras.Model) -> float | None:
    """The head's share of ``model``'s ``age_years`` output: 1.0 for the head alone, the
    :class:`~adiencekit.layers.age_years_blend.AgeYearsBlend` weight for a blend, ``None``
    without that output.

    Example:

    >>> from adiencekit.models import face_resnet
    >>> from adiencekit.models.heads import age_years_head_weight
    >>> age_years_head_weight(face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True,
    ...                                   age_years_head_weight=0.5))
    0.5
    """
    if AGE_YEARS not in _output_keys(model):
        return None
    try:
        layer = model.get_layer(AGE_YEARS)
    except ValueError:
        return 1.0
    return layer.head_weight if isinstance(layer, AgeYearsBlend) else 1.0


def age_years_source(model: keras.Model, heads: Sequence[str] | None = None) -> str | None:
    """Where ``model``'s age in years comes from: ``"head"``, ``"head and age groups"``,
    ``"age groups"``, or ``None``.

    ``None`` for a model without an age head, or whose age head has other classes than
    the eight Adience groups (a ``classes`` override).

    Args:
        model: a Keras model.
        heads: the heads of a model that does not name them (see :func:`model_heads`).

    Example:

    >>> from adiencekit.models import face_resnet
    >>> from adiencekit.models.heads import age_years_source
    >>> age_years_source(face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True))
    'head'
    >>> age_years_source(face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1)))
    'age groups'
    >>> print(age_years_source(face_resnet(task="gender", input_shape=(32, 32, 3), width=8, blocks=(1, 1))))
    None
    """
    weight = age_years_head_weight(model)
    if weight is not None:
        return AGE_YEARS_FROM_HEAD if weight == 1.0 else AGE_YEARS_FROM_BLEND
    if "age" in model_heads(model, heads) and head_class_names(model, ("age",))["age"] == CLASS_NAMES["age"]:
        return AGE_YEARS_FROM_GROUPS
    return None  # no age head, or one whose classes are not the eight age groups


def age_in_years(model: keras.Model, outputs: Any, heads: Sequence[str] | None = None) -> tuple[np.ndarray, str] | None:
    """An age in years per face from ``model``'s outputs (one call's result), and where it comes from.

    From the model's ``age_years`` output when it has one (source ``"head"``, or
    ``"head and age groups"`` when that output blends the two), else the expected age of its age-group probabilities (:func:`adiencekit.labels.expected_age`,
    source ``"age groups"``; logits are turned into probabilities first).

    Args:
        model: the model that gave ``outputs``.
        outputs: its output: a dict keyed by output name, a list/tuple in output order,
            or one array.
        heads: the heads of a model that does not name them (see :func:`model_heads`).

    Returns:
        ``(years, source)`` with ``years`` a ``(N,)`` float64 array, or ``None`` where
        :func:`age_years_source` is ``None``.

    Raises:
        ConfigError: the model does not name its heads, or the outputs lack the one needed.

    Example:

    >>> import numpy as np
    >>> from adiencekit.models import face_resnet
    >>> from adiencekit.models.heads import age_in_years
    >>> images = np.zeros((2, 32, 32, 3), "float32")
    >>> model = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True)
    >>> outputs = model.predict_on_batch(images)
    >>> years, source = age_in_years(model, outputs)
    >>> source, years.shape, bool(np.allclose(years, outputs["age_years"][:, 0]))
    ('head', (2,), True)
    >>> groups = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1))
    >>> years, source = age_in_years(groups, groups.predict_on_batch(images))
    >>> source, bool(((1.6 <= years) & (years <= 69.7)).all())
    ('age groups', True)
    """
    source = age_years_source(model, heads)
    if source in AGE_YEARS_OUTPUT_SOURCES:
        if not isinstance(outputs, Mapping):
            keys = _output_keys(model)
            if not isinstance(outputs, (list, tuple)) or len(outputs) != len(keys):
                raise ConfigError(f"model {model.name!r} outputs {keys}; got {type(outputs).__name__} without them")
            outputs = dict(zip(keys, outputs, strict=True))
        if AGE_YEARS not in outputs:
            raise ConfigError(f"model {model.name!r} outputs {sorted(outputs)} lack {AGE_YEARS!r}")
        years = keras.ops.convert_to_numpy(outputs[AGE_YEARS])
        return np.asarray(years, dtype=np.float64).reshape(-1), source
    if source == AGE_YEARS_FROM_GROUPS:
        age = head_probabilities(model, outputs, heads)["age"]
        return np.asarray(expected_age(as_probabilities(age)), dtype=np.float64).reshape(-1), source
    return None
