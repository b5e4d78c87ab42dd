"""``face_resnet``: a compact residual network for face crops, trained from scratch.

Not one of the reference report's models: it is the architecture of the bundled
pretrained models (``utkface_v2``, and ``utkface_multitask`` before it), chosen because it trains on a 2-core CPU in
well under an hour at 96 px (about 140 faces/s with ``mixed_bfloat16`` on a recent x86
CPU) while reaching far better accuracy than the report's plain CNNs. See
:class:`~adiencekit.models.backbones.FaceResNetBackbone` for the trunk; the head is
global average pooling, dropout and the task's softmax layer(s).

================================================  ==========
configuration                                     parameters
================================================  ==========
96 px, width 32, blocks (1, 1, 1, 1), multitask   1,231,850
96 px, width 32, blocks (1, 1, 1, 1), gender      1,229,794
96 px, width 48, blocks (1, 1, 1, 1), multitask   2,764,762
================================================  ==========
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adiencekit.layers.age_years_blend import check_head_weight
from adiencekit.models.backbones import FaceResNetBackbone
from adiencekit.models.heads import validate_input_shape, validate_pooling, validate_task
from adiencekit.models.registry import register_model
from adiencekit.models.task import AgeGenderClassifier, zoo_classifier
from adiencekit.models.weights import check_weights, load_weights

__all__ = ["face_resnet"]


@register_model()
def face_resnet(
    task: str = "multitask",
    input_shape: Sequence[int | None] = (96, 96, 3),
    weights: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | Callable[..., Any] | None = "softmax",
    name: str | None = None,
    *,
    width: int = 32,
    blocks: Sequence[int] = (1, 1, 1, 1),
    dropout: float = 0.3,
    classes: int | None = None,
    age_years: bool = False,
    age_years_head_weight: float = 1.0,
) -> AgeGenderClassifier:
    """Build the compact face ResNet (stem, residual stages, global pooling, classifier).

    Args:
        task: ``"gender"``, ``"age"`` or ``"multitask"`` (default: both heads on one trunk).
        input_shape: ``(height, width, channels)``; sides at least ``2 ** len(blocks)``
            (``None`` allowed: the network pools globally).
        weights: ``None`` or the path to a weights file of the whole model.
        include_top: whether to add the classifier(s).
        pooling: ``None`` (``"avg"`` with a top, the 4-D map without), ``"avg"`` or ``"max"``.
        classifier_activation: activation of the output layer(s); ``None`` gives logits.
        name: model name; default ``"face_resnet_<task>"``.
        width: filters of the stem and the first stage (doubled at every stage).
        blocks: basic residual blocks per stage.
        dropout: dropout on the pooled features before the classifier(s).
        classes: override of the class count of a single-task model.
        age_years: add the ``"age_years"`` regression output (an age in years; multitask
            with a top only), trained on exact ages where a face has one.
        age_years_head_weight: the head's share of the ``age_years`` output at inference,
            the rest the expected age of the age groups (see
            :class:`~adiencekit.models.AgeGenderClassifier`); 1 is the head alone.

    Returns:
        An :class:`~adiencekit.models.AgeGenderClassifier` taking RGB images in [0, 255].

    Example:

    >>> from adiencekit.models import face_resnet
    >>> face_resnet().count_params()
    1231850
    >>> face_resnet(task="gender").count_params()
    1229794
    >>> model = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1))
    >>> {task: tensor.shape for task, tensor in model.output.items()}
    {'gender': (None, 2), 'age': (None, 8)}
    >>> face_resnet(age_years=True).count_params() - face_resnet().count_params()  # one unit on 257 features
    257
    """
    validate_task(task)
    if age_years and not include_top:
        raise ValueError("age_years=True needs include_top=True (the age in years is an output of the top)")
    head_weight = check_head_weight(age_years_head_weight)
    validate_pooling(pooling)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    depth = len(blocks) if isinstance(blocks, Sequence) and not isinstance(blocks, (str, bytes)) else 1
    shape = validate_input_shape(input_shape, min_size=2**depth, allow_none=True, model="face_resnet")
    weights_path = check_weights(weights, model="face_resnet", input_shape=shape)
    backbone = FaceResNetBackbone(input_shape=shape, width=width, blocks=blocks)
    model = zoo_classifier(
        backbone, task, include_top=include_top, pooling=pooling, default_pooling="avg",
        preprocessing=FaceResNetBackbone.default_preprocessing, name=name or f"face_resnet_{task}",
        classifier_activation=classifier_activation, classes=classes, input_dropout=float(dropout),
        **({"age_years": True} if age_years else {}),
        **({"age_years_head_weight": head_weight} if head_weight != 1.0 else {}),
    )
    return load_weights(model, weights_path)
