"""Sparse categorical cross-entropy that ignores missing labels (−1), with ordinal options.

In the multitask setting an image may have a gender but no age group (or the reverse);
its missing label is −1. The loss of each output must then be the mean over the images
labelled for that output only, and a batch where nobody is labelled must contribute 0,
not NaN. Written with ``keras.ops`` only, so it runs on every Keras backend.

For ordered classes (the Adience age groups) the loss can also see how far a prediction
is from the true class: neighbour smoothing of the target (a distribution target) and a
squared Earth Mover's Distance term between the cumulative distributions (an ordinal
term; Hou, Yu and Samaras, 2016, who measured it on Adience age).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["MaskedAgeYearsLoss", "MaskedSparseCategoricalCrossentropy", "age_years_targets", "class_indices",
           "masked_weight"]

_REDUCTIONS = ("mean_with_sample_weight", "sum_over_batch_size", "mean", "sum", "none", None)



def class_indices(y_true: Any, owner: str = "labels") -> Any:
    """Sparse labels of shape ``(N,)`` or ``(N, 1)`` as an int32 vector (−1 stays −1).

    Args:
        y_true: class indices.
        owner: name used in the error message (the metric or loss being fed).

    Returns:
        An int32 tensor of shape ``(N,)``.

    Raises:
        ValueError: for any other shape.
    """
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_true.shape) != 1:
        raise ValueError(
            f"{owner}: labels must be class indices of shape (N,) or (N, 1), got shape {tuple(y_true.shape)}"
        )
    return ops.cast(y_true, "int32")

def masked_weight(labelled: Any, sample_weight: Any, dtype: Any) -> Any:
    """Per-example weights of a masked loss: 1 where ``labelled`` (times ``sample_weight``), else 0.

    With the ``"mean_with_sample_weight"`` reduction this makes the loss the mean over the
    labelled examples, and 0 for a batch without any.
    """
    weight = ops.cast(labelled, dtype)
    if sample_weight is not None:
        weight = weight * ops.reshape(ops.cast(sample_weight, dtype), (-1,))
    return weight


@keras.saving.register_keras_serializable(package="adiencekit")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on sparse labels, averaged over the labelled examples only.

    Labels are class indices, shape ``(N,)`` or ``(N, 1)``; any negative label (−1 by
    convention) is missing and contributes nothing. Predictions are probabilities
    ``(N, C)`` (or logits with ``from_logits=True``). With the default reduction the
    result is ``sum(w_i * ce_i) / sum(w_i)`` over labelled examples, where ``w_i`` is the
    sample weight (1 when none is given); with no labelled example it is 0.

    A label ``>= C`` is a data bug that cannot raise inside a compiled graph, so it makes
    the loss NaN (visible at once, and stopped by ``keras.callbacks.TerminateOnNaN``)
    instead of being silently scored.

    Smoothed targets: with ``neighbour_smoothing`` ``n`` the target of label ``y`` keeps
    ``1 - n`` on ``y`` and moves ``n`` to its adjacent classes (``n / 2`` to ``y - 1``
    and to ``y + 1``; an end class gives all of ``n`` to its one neighbour), for classes
    that are ordered, such as the Adience age groups. ``label_smoothing`` ``s`` then mixes
    that target with the uniform one, as Keras defines it: ``(1 - s) * target + s / C``.
    The loss is the cross-entropy with that target. With both 0 (the default) it is
    exactly the plain sparse cross-entropy.

    Ordinal term: with ``ordinal_weight`` ``w > 0`` the loss adds ``w`` times the squared
    Earth Mover's Distance between the predicted and target distributions of ordered
    classes, ``sum_k (P_k - T_k)**2`` over ``k < C - 1``, where ``P_k`` and ``T_k`` are
    their cumulative sums (the last is always 1). Cross-entropy alone treats every wrong
    class alike; this term grows with the distance from the true class, so predicting
    a neighbour group costs less than one far away.

    Args:
        from_logits: whether predictions are logits rather than probabilities.
        label_smoothing: share of the target moved uniformly to all classes, in [0, 1).
        neighbour_smoothing: share of the target moved to the adjacent classes, in [0, 1).
        ordinal_weight: weight of the squared Earth Mover's Distance term, in [0, 100]
            (0, the default: none).
        reduction: ``"mean_with_sample_weight"`` (default: the masked mean above),
            ``"sum_over_batch_size"``/``"mean"`` (divide by the whole batch size,
            labelled or not), ``"sum"``, or ``"none"``/``None`` (per-example losses, 0 for
            missing labels).
        name: loss name.
        dtype: dtype of the loss computation.

    Example:

    >>> import numpy as np, keras
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> probabilities = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]], "float32")
    >>> round(float(loss(np.array([0, -1, 1]), probabilities)), 4)  # mean of -log .5, -log .8
    0.4581
    >>> float(loss(np.array([-1, -1, -1]), probabilities))          # nobody labelled
    0.0
    >>> ages = np.array([[0.1, 0.7, 0.2]], "float32")                # target (0.25, 0.5, 0.25)
    >>> smooth = MaskedSparseCategoricalCrossentropy(neighbour_smoothing=0.5)
    >>> round(float(smooth(np.array([1]), ages)), 4)
    1.1563
    >>> ordinal = MaskedSparseCategoricalCrossentropy(ordinal_weight=1.0)  # CDFs (.1, .8) vs (0, 1)
    >>> round(float(ordinal(np.array([1]), ages)) - float(-np.log(0.7)), 4)  # .1**2 + .2**2
    0.05

    In a multitask model, one instance per output::

        model.compile(
            optimizer="adam",
            loss={"gender": MaskedSparseCategoricalCrossentropy(),
                  "age": MaskedSparseCategoricalCrossentropy()},
        )
    """

    def __init__(
        self,
        from_logits: bool = False,
        reduction: str | None = "mean_with_sample_weight",
        name: str = "masked_sparse_categorical_crossentropy",
        dtype: Any = None,
        label_smoothing: float = 0.0,
        neighbour_smoothing: float = 0.0,
        ordinal_weight: float = 0.0,
    ) -> None:
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")
        for argument, value in (("label_smoothing", label_smoothing), ("neighbour_smoothing", neighbour_smoothing)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{argument} must be a number in [0, 1), got {value!r}")
        if isinstance(ordinal_weight, bool) or not isinstance(ordinal_weight, (int, float)) \
                or not 0.0 <= ordinal_weight <= 100.0:
            raise ValueError(f"ordinal_weight must be a number in [0, 100], got {ordinal_weight!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = float(label_smoothing)
        self.neighbour_smoothing = float(neighbour_smoothing)
        self.ordinal_weight = float(ordinal_weight)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        weight = masked_weight(class_indices(y_true) >= 0, sample_weight, self.dtype)
        return super().__call__(y_true, y_pred, sample_weight=weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = class_indices(y_true)
        if len(y_pred.shape) != 2:
            raise ValueError(
                f"predictions must have shape (N, classes), got shape {tuple(y_pred.shape)}"
            )
        num_classes = y_pred.shape[-1]
        labelled = labels >= 0
        safe_labels = ops.where(labelled, labels, ops.zeros_like(labels))
        if num_classes is not None:
            safe_labels = ops.minimum(safe_labels, num_classes - 1)
        if self.label_smoothing or self.neighbour_smoothing or self.ordinal_weight:
            targets = self.smoothed_targets(safe_labels, num_classes)
            losses = ops.categorical_crossentropy(targets, y_pred, from_logits=self.from_logits)
            if self.ordinal_weight:
                losses = losses + self.ordinal_weight * self.squared_emd(targets, y_pred)
        else:
            losses = ops.sparse_categorical_crossentropy(safe_labels, y_pred, from_logits=self.from_logits)
        losses = ops.where(labelled, losses, ops.zeros_like(losses))
        if num_classes is not None:
            losses = ops.where(labels >= num_classes, ops.full_like(losses, np.nan), losses)
        return losses

    def smoothed_targets(self, labels: Any, num_classes: int | None) -> Any:
        """The ``(N, C)`` target distributions of class indices ``labels`` (all in ``[0, C)``).

        Args:
            labels: int class indices, shape ``(N,)``.
            num_classes: ``C``, the static class count of the predictions.

        Returns:
            A float tensor whose rows sum to 1 (see the class docstring).
        """
        if num_classes is None:
            raise ValueError("label_smoothing, neighbour_smoothing and ordinal_weight need predictions with a "
                             "known class count")
        classes = ops.arange(num_classes, dtype="int32")[None, :]
        labels = ops.cast(labels, "int32")[:, None]
        own = ops.cast(classes == labels, self.dtype)
        targets = own
        if self.neighbour_smoothing and num_classes > 1:
            neighbours = ops.cast(ops.abs(classes - labels) == 1, self.dtype)
            neighbours = neighbours / ops.sum(neighbours, axis=1, keepdims=True)  # 1 or 2 neighbours
            targets = (1.0 - self.neighbour_smoothing) * own + self.neighbour_smoothing * neighbours
        if self.label_smoothing:
            targets = (1.0 - self.label_smoothing) * targets + self.label_smoothing / num_classes
        return targets

    def squared_emd(self, targets: Any, y_pred: Any) -> Any:
        """Per-example squared Earth Mover's Distance between ``targets`` and the predictions.

        Args:
            targets: ``(N, C)`` target distributions (rows sum to 1).
            y_pred: ``(N, C)`` probabilities, or logits when ``from_logits``.

        Returns:
            A ``(N,)`` tensor: ``sum_k (P_k - T_k)**2`` over the cumulative sums, ``k < C - 1``.
        """
        probabilities = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
        gap = ops.cumsum(ops.cast(probabilities, self.dtype), axis=-1) - ops.cumsum(targets, axis=-1)
        return ops.sum(ops.square(gap[:, :-1]), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "neighbour_smoothing": self.neighbour_smoothing,
            "ordinal_weight": self.ordinal_weight,
            "reduction": self.reduction,
            "name": self.name,
            "dtype": self.dtype,
        }


def age_years_targets(y_true: Any, owner: str = "age_years") -> Any:
    """Exact ages of shape ``(N,)`` or ``(N, 1)`` as a float32 vector (NaN = no exact age).

    Raises:
        ValueError: for any other shape.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    if len(y_true.shape) == 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_true.shape) != 1:
        raise ValueError(f"{owner}: exact ages must have shape (N,) or (N, 1), got shape {tuple(y_true.shape)}")
    return y_true


@keras.saving.register_keras_serializable(package="adiencekit")
class MaskedAgeYearsLoss(keras.losses.Loss):
    """Huber loss on the age in years, leaving out faces without an exact age (NaN).

    UTKFace rows carry an exact age; Adience rows only a group, so their ``age_years``
    target is NaN and they add nothing (a batch without any exact age gives 0, not NaN).
    The error is measured in units of ``scale`` years, so with the defaults the loss is
    quadratic within 10 years of the truth and linear beyond (robust to mislabelled ages),
    and of the same order as the cross-entropies of the class heads it is trained beside.

    Args:
        scale: years per unit of error (default 10).
        delta: the Huber threshold, in units of ``scale`` (default 1).

    Example:

    >>> import numpy as np
    >>> from adiencekit.losses import MaskedAgeYearsLoss
    >>> loss = MaskedAgeYearsLoss()
    >>> float(loss(np.array([30.0, np.nan]), np.array([[35.0], [80.0]])))  # 0.5 * (5 / 10) ** 2
    0.125
    >>> float(loss(np.array([np.nan]), np.array([[35.0]])))
    0.0
    """

    def __init__(self, scale: float = 10.0, delta: float = 1.0, reduction: str | None = "mean_with_sample_weight",
                 name: str = "masked_age_years_loss", dtype: Any = None) -> None:
        for argument, value in (("scale", scale), ("delta", delta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{argument} must be a positive number, got {value!r}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.scale = float(scale)
        self.delta = float(delta)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        weight = masked_weight(ops.isfinite(age_years_targets(y_true)), sample_weight, self.dtype)
        return super().__call__(y_true, y_pred, sample_weight=weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        ages = age_years_targets(y_true)
        labelled = ops.isfinite(ages)
        predicted = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
        error = ops.abs(predicted - ops.where(labelled, ages, predicted)) / self.scale
        quadratic = ops.minimum(error, self.delta)
        losses = 0.5 * quadratic * quadratic + self.delta * (error - quadratic)
        return ops.where(labelled, losses, ops.zeros_like(losses))

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "delta": self.delta, "reduction": self.reduction, "name": self.name,
                "dtype": self.dtype}
