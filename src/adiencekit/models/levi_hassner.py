"""Levi & Hassner (CVPR-W 2015), "Age and Gender Classification using CNNs".

The network of the Adience baseline, rebuilt layer for layer from the authors' Caffe
definitions (GilLevi/AgeGenderDeepLearning, ``*_net_definitions/train_val_*.prototxt``)::

    227x227x3 ─ mean subtraction
    conv1 96@7x7 /4 ─ ReLU ─ pool1 max 3/2 ─ norm1 LRN(5, 1e-4, 0.75)     → 28x28x96
    conv2 256@5x5 pad 2 ─ ReLU ─ pool2 max 3/2 ─ norm2 LRN(5, 1e-4, 0.75) → 14x14x256
    conv3 384@3x3 pad 1 ─ ReLU ─ pool5 max 3/2                            → 7x7x384
    fc6 512 ─ ReLU ─ drop6 0.5 ─ fc7 512 ─ ReLU ─ drop7 0.5 ─ fc8 classes

The trunk is :class:`~adiencekit.models.backbones.LeviHassnerBackbone` (layer names follow
the prototxt: ``model.get_layer("conv1")`` finds them inside it); fc6, fc7 and fc8 are the
head of the :class:`~adiencekit.models.AgeGenderClassifier`. Parameters: 11,415,048 (age, 8 classes) and
11,411,970 (gender).

**Caffe pooling rounds up.** Caffe computes a pooled size as
``ceil((n - 3) / 2) + 1``; Keras ``"valid"`` pooling rounds down (56 → 27, not 28) and
``"same"`` pooling disagrees with Caffe on odd sizes. Caffe's pool is one extra row and
column at the bottom/right followed by a ``"valid"`` 3x3/2 max-pool:
``floor((n + 1 - 3) / 2) + 1 == ceil((n - 3) / 2) + 1`` for every ``n``, and because every
pool follows a ReLU (inputs >= 0) a padded zero never wins a max, so the values equal
Caffe's too. On an even map (every map at 227 px: 56, 28, 14) ``"same"`` pooling adds
exactly that row and column, so the pool is a plain ``"same"`` max-pool; on an odd or
unknown size a ``ZeroPadding2D`` comes first. conv2 and conv3 (stride 1, pad 2 and 1) are
``"same"`` convolutions. Without the separate padding layers, a training step of the
gender model under JAX/XLA on the 2-core CPU ran at 0.94-1.02 of a plain-Keras twin's
speed, against 0.82-0.84 with them (two interleaved runs each of
``benchmarks/bench_training.py``); the outputs are identical, and models saved before load
unchanged.

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

from adiencekit.models.backbones import LeviHassnerBackbone
from adiencekit.models.heads import validate_input_shape, validate_pooling, validate_task
from adiencekit.models.preprocessing import LEVI_HASSNER_MEAN
from adiencekit.models.registry import register_model
from adiencekit.models.task import AgeGenderClassifier, zoo_classifier
from adiencekit.models.weights import check_weights, load_weights

__all__ = ["levi_hassner"]


def _gaussian(std: float, seed: int | None) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(mean=0.0, stddev=std, seed=seed)


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


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
) -> AgeGenderClassifier:
    """Build the Levi & Hassner age/gender CNN.

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (shared trunk and fc6/fc7, two
            outputs).
        input_shape: ``(height, width, channels)``; the paper uses 227x227 crops of
            256x256 faces. Height and width may be ``None`` when ``include_top=False``
            or ``pooling`` is ``"avg"``/``"max"``.
        weights: ``None`` (Caffe-style random init) or the path to a weights file of the
            whole model. There are no ImageNet weights for this network.
        include_top: whether to add fc6, fc7 and the classifier. Without it the model
            returns the ``pool5`` feature map (or its global pooling).
        pooling: with ``include_top=False``: ``None`` (4-D ``pool5`` map), ``"avg"`` or
            ``"max"``. With ``include_top=True``: ``None`` flattens the 7x7x384 ``pool5``
            map as the paper does; ``"avg"``/``"max"`` pool it globally first (fc6 then
            sees 384 features, and the model is much smaller).
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"levi_hassner_<task>"``.
        classes: override of the class count of a single-task model.
        dropout: dropout rate after fc6 and fc7 (0.5 in the paper).
        mean: per-channel mean subtracted from the [0, 255] RGB input.
        seed: seed of the Gaussian initializers (``None``: not seeded).

    Returns:
        An :class:`~adiencekit.models.AgeGenderClassifier` taking float RGB images in [0, 255].

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
    fixed = include_top and pooling is None
    shape = validate_input_shape(input_shape, min_size=7, allow_none=not fixed, model="levi_hassner")
    weights_path = check_weights(weights, model="levi_hassner", input_shape=shape)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    try:
        mean_values = [float(value) for value in mean]
    except (TypeError, ValueError):
        raise ValueError(f"mean must be a sequence of numbers, one per channel, got {mean!r}") from None
    if len(mean_values) != shape[-1]:
        raise ValueError(f"mean needs one value per input channel ({shape[-1]}), got {mean!r}")
    backbone = LeviHassnerBackbone(input_shape=shape, seed=seed)
    model = zoo_classifier(
        backbone, task, include_top=include_top, pooling=pooling, default_pooling="flatten",
        preprocessing={"kind": "mean", "mean": mean_values, "name": "mean_subtraction"},
        name=name or f"levi_hassner_{task}",
        classifier_activation=classifier_activation, classes=classes,
        hidden_units=(512, 512),
        hidden_names=("fc6", "fc7"),
        dropout=float(dropout),
        kernel_initializer=_gaussian(0.005, _seed(seed, 6)),
        bias_initializer=keras.initializers.Constant(1.0),
        output_kernel_initializer=_gaussian(0.01, _seed(seed, 8)),
    )
    return load_weights(model, weights_path)
