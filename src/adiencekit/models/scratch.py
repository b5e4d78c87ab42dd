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

``pooling="avg"`` or ``"max"`` with the top replaces the flattening by global pooling:
the dense layer then sees ``base_filters * 2**(conv_layers-1)`` features. The ``quick``
recipe (4 conv, 16 base filters, Dense 64, ``pooling="avg"``, 64 px, gender) has
105,826 parameters this way; it had 228,706 while ``pooling`` was ignored with a top
(before adiencekit 0.3), which is what ``pooling=None`` still gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adiencekit.models.backbones import ScratchCNNBackbone
from adiencekit.models.heads import validate_input_shape, validate_pooling, validate_task
from adiencekit.models.registry import register_model
from adiencekit.models.task import AgeGenderClassifier, zoo_classifier
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
) -> AgeGenderClassifier:
    """Build a plain CNN trained from scratch (the reference report's baseline and sweeps).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared trunk and dense layer,
            two outputs).
        input_shape: ``(height, width, channels)``; both sides must be at least
            ``2 ** conv_layers``. They may be ``None`` when ``include_top=False`` or
            ``pooling`` is ``"avg"``/``"max"``.
        weights: ``None`` or the path to a weights file of the whole model.
        include_top: whether to add the dense layer and the classifier.
        pooling: with ``include_top=True``: ``None`` flattens the last feature map (the
            report's model), ``"avg"``/``"max"`` pool it globally before the dense
            layer. With ``include_top=False``: ``None`` (4-D map), ``"avg"`` or ``"max"``.
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
        An :class:`~adiencekit.models.AgeGenderClassifier` taking float RGB images in [0, 255].

    Example:

    >>> from adiencekit.models import scratch_cnn
    >>> scratch_cnn().count_params()
    8412578
    >>> scratch_cnn(task="age", conv_layers=5, dense_units=256).count_params()
    4589224
    >>> scratch_cnn(input_shape=(64, 64, 3), conv_layers=4, dense_units=64, pooling="avg").count_params()
    105826
    """
    validate_task(task)
    validate_pooling(pooling)
    conv_layers = _positive_int(conv_layers, "conv_layers")
    base_filters = _positive_int(base_filters, "base_filters")
    dense_units = _positive_int(dense_units, "dense_units")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    shape = validate_input_shape(
        input_shape,
        min_size=2**conv_layers,
        allow_none=not (include_top and pooling is None),
        model=f"scratch_cnn(conv_layers={conv_layers})",
    )
    weights_path = check_weights(weights, model="scratch_cnn", input_shape=shape)
    backbone = ScratchCNNBackbone(
        input_shape=shape, conv_layers=conv_layers, base_filters=base_filters, batch_norm=batch_norm
    )
    model = zoo_classifier(
        backbone, task, include_top=include_top, pooling=pooling, default_pooling="flatten",
        preprocessing=ScratchCNNBackbone.default_preprocessing, name=name or f"scratch_cnn_{task}",
        classifier_activation=classifier_activation, classes=classes,
        hidden_units=(dense_units,), dropout=float(dropout),
    )
    return load_weights(model, weights_path)
