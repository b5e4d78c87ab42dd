"""Adience accuracies: exact and 1-off, with missing labels (−1) ignored.

The age task of Adience is scored two ways: *exact* accuracy (the predicted age group is
the true one) and *1-off* accuracy (the prediction is the true group or one of its two
neighbours in the ordered list of the eight groups). Multitask batches carry −1 where an
image has no label for a task; those entries are left out of both numerator and
denominator. A batch (or a whole evaluation) without any label scores 0.0 for the Keras
metrics, which cannot raise inside a compiled graph, and raises
:class:`~adiencekit.errors.DataError` (a ``ValueError``) for the NumPy functions.

The NumPy functions are the library's one implementation of exact and 1-off accuracy:
:func:`adiencekit.evaluation.evaluate` scores with them.

The Keras metrics are written with ``keras.ops`` only (every backend); the NumPy
functions are for evaluation code and tests.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from adiencekit.losses import age_years_targets, class_indices

__all__ = [
    "MaskedMeanAbsoluteError",
    "MaskedSparseCategoricalAccuracy",
    "OneOffAccuracy",
    "exact_accuracy",
    "one_off_accuracy",
]


def _check_tolerance(tolerance: Any) -> int:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative int (number of groups), got {tolerance!r}")
    return tolerance


class _MaskedClassAccuracy(keras.metrics.Metric):
    """Share of labelled examples whose predicted class is within ``tolerance`` of the label.

    Labels are sparse class indices, shape ``(N,)`` or ``(N, 1)``; negative labels mean
    missing. Predictions are per-class scores ``(N, C)`` (the argmax is taken) or class
    indices with the labels' shape. A label ``>= C`` is a bug in the data that cannot raise
    inside a compiled graph, so it turns the metric into NaN instead of being scored.
    """

    def __init__(self, tolerance: int, name: str, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.tolerance = _check_tolerance(tolerance)
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.labelled = self.add_variable(shape=(), initializer="zeros", name="labelled")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = class_indices(y_true, self.name)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) == 2 and not (y_pred.shape[-1] == 1 and "int" in str(y_pred.dtype)):
            num_classes = y_pred.shape[-1]
            predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        elif len(y_pred.shape) in (1, 2):
            num_classes = None
            predicted = ops.cast(ops.reshape(y_pred, (-1,)), "int32")
        else:
            raise ValueError(
                f"{self.name}: predictions must be scores (N, classes) or class indices (N,), "
                f"got shape {tuple(y_pred.shape)}"
            )
        labelled = ops.cast(y_true >= 0, self.dtype)
        hit = ops.cast(ops.abs(predicted - y_true) <= self.tolerance, self.dtype) * labelled
        if num_classes is not None:
            hit = ops.where(y_true >= num_classes, ops.full_like(hit, np.nan), hit)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            hit, labelled = hit * weight, labelled * weight
        self.hits.assign_add(ops.sum(hit))
        self.labelled.assign_add(ops.sum(labelled))

    def result(self) -> Any:
        return ops.divide_no_nan(self.hits, self.labelled)

    def reset_state(self) -> None:
        self.hits.assign(0.0)
        self.labelled.assign(0.0)


@keras.saving.register_keras_serializable(package="adiencekit")
class OneOffAccuracy(_MaskedClassAccuracy):
    """Adience 1-off accuracy: the predicted age group is at most one group away.

    Labels are age-group indices (0..7), shape ``(N,)`` or ``(N, 1)``, with −1 for a
    missing label (ignored). Predictions are probabilities ``(N, 8)`` or group indices.
    ``tolerance`` generalises the window (0 gives exact accuracy).

    Args:
        tolerance: how many groups away a prediction may be and still count.
        name: metric name (shown in the Keras logs).
        dtype: dtype of the running totals.

    Example:

    >>> import numpy as np
    >>> metric = OneOffAccuracy()
    >>> labels = np.array([2, 2, 2, -1])
    >>> probabilities = np.eye(8, dtype="float32")[[3, 2, 5, 0]]   # predicts 3, 2, 5, 0
    >>> metric.update_state(labels, probabilities)
    >>> round(float(metric.result()), 4)   # 2 of the 3 labelled are within one group
    0.6667
    """

    def __init__(self, tolerance: int = 1, name: str = "one_off_accuracy", dtype: Any = None) -> None:
        super().__init__(tolerance=tolerance, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"tolerance": self.tolerance, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="adiencekit")
class MaskedSparseCategoricalAccuracy(_MaskedClassAccuracy):
    """Exact accuracy on sparse labels, ignoring missing labels (−1).

    Keras' ``SparseCategoricalAccuracy`` would count a −1 label as a wrong answer; this
    metric leaves it out, so the gender and age outputs of a multitask model are each
    scored over the images labelled for that task only.

    Args:
        name: metric name (shown in the Keras logs).
        dtype: dtype of the running totals.

    Example:

    >>> import numpy as np
    >>> metric = MaskedSparseCategoricalAccuracy()
    >>> metric.update_state(np.array([0, 1, -1]), np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]]))
    >>> float(metric.result())              # one right, one wrong, one unlabelled
    0.5
    """

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(tolerance=0, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="adiencekit")
class MaskedMeanAbsoluteError(keras.metrics.Metric):
    """Mean absolute error in years of an ``age_years`` output, over the faces with an exact age.

    Labels are exact ages ``(N,)`` or ``(N, 1)``, NaN where a face has none (Adience rows);
    predictions ``(N, 1)`` or ``(N,)`` in years. No labelled face gives 0.0.

    Example:

    >>> import numpy as np
    >>> from adiencekit.metrics import MaskedMeanAbsoluteError
    >>> metric = MaskedMeanAbsoluteError()
    >>> metric.update_state(np.array([30.0, np.nan, 10.0]), np.array([[34.0], [50.0], [9.0]]))
    >>> float(metric.result())
    2.5
    """

    def __init__(self, name: str = "mae", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.labelled = self.add_variable(shape=(), initializer="zeros", name="labelled")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        ages = age_years_targets(y_true, self.name)
        predicted = ops.reshape(ops.cast(ops.convert_to_tensor(y_pred), "float32"), (-1,))
        finite = ops.isfinite(ages)
        labelled = ops.cast(finite, self.dtype)
        error = ops.cast(ops.where(finite, ops.abs(predicted - ops.where(finite, ages, predicted)), 0.0), self.dtype)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            error, labelled = error * weight, labelled * weight
        self.total.assign_add(ops.sum(error))
        self.labelled.assign_add(ops.sum(labelled))

    def result(self) -> Any:
        return ops.divide_no_nan(self.total, self.labelled)

    def reset_state(self) -> None:
        self.total.assign(0.0)
        self.labelled.assign(0.0)


def _labels_and_predictions(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"y_true must be class indices of shape (N,) or (N, 1), got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError(f"y_true must hold integer class indices, got values like {labels[:5]}")
    labels = labels.astype(np.int64)
    predictions = np.asarray(y_pred)
    if predictions.ndim == 2 and not (predictions.shape[1] == 1 and np.issubdtype(predictions.dtype, np.integer)):
        if predictions.shape[0] != labels.shape[0]:
            raise ValueError(f"y_true has {labels.shape[0]} labels but y_pred has {predictions.shape[0]} rows")
        too_large = labels >= predictions.shape[1]
        if too_large.any():
            raise ValueError(
                f"labels must be below the number of classes ({predictions.shape[1]}), "
                f"got {sorted(set(labels[too_large].tolist()))}"
            )
        predicted = predictions.argmax(axis=1)
    elif predictions.ndim in (1, 2):
        predicted = predictions.reshape(-1).astype(np.int64)
        if predicted.shape[0] != labels.shape[0]:
            raise ValueError(f"y_true has {labels.shape[0]} labels but y_pred has {predicted.shape[0]} entries")
    else:
        raise ValueError(f"y_pred must be scores (N, classes) or class indices (N,), got shape {predictions.shape}")
    labelled = labels >= 0
    if not labelled.any():
        from adiencekit.errors import DataError

        raise DataError(f"no labelled examples: all {labels.shape[0]} labels are missing (negative)")
    return labels[labelled], predicted[labelled]


def exact_accuracy(y_true: Any, y_pred: Any) -> float:
    """Exact accuracy over the labelled examples (labels < 0 are missing and ignored).

    Args:
        y_true: class indices ``(N,)`` or ``(N, 1)``.
        y_pred: scores ``(N, classes)`` or predicted class indices ``(N,)``.

    Returns:
        The share of labelled examples predicted exactly.

    Raises:
        ValueError: on mismatched shapes, labels outside the classes, or no labels.

    Example:

    >>> exact_accuracy([0, 1, 1, -1], [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    0.6666666666666666
    """
    labels, predicted = _labels_and_predictions(y_true, y_pred)
    return float(np.mean(labels == predicted))


def one_off_accuracy(y_true: Any, y_pred: Any, tolerance: int = 1) -> float:
    """Adience 1-off accuracy over the labelled examples (labels < 0 are ignored).

    Args:
        y_true: age-group indices ``(N,)`` or ``(N, 1)``.
        y_pred: scores ``(N, classes)`` or predicted group indices ``(N,)``.
        tolerance: how many groups away a prediction may be and still count.

    Returns:
        The share of labelled examples predicted within ``tolerance`` groups.

    Raises:
        ValueError: on mismatched shapes, labels outside the classes, or no labels.

    Example:

    >>> one_off_accuracy([0, 3, 7, -1], [1, 5, 7, 0])
    0.6666666666666666
    """
    tolerance = _check_tolerance(tolerance)
    labels, predicted = _labels_and_predictions(y_true, y_pred)
    return float(np.mean(np.abs(labels - predicted) <= tolerance))
