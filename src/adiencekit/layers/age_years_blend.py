"""The age in years a multitask model reports: its regression head blended with its age groups.

A model with an ``age_years`` head has two ages in years: the head's, and the expected
age of its eight age-group probabilities (``sum_g p_g * age_g``, see
:func:`adiencekit.labels.expected_age`). :class:`AgeYearsBlend` reports
``head_weight * head + (1 - head_weight) * expected age`` at inference. In training it
passes the head through unchanged, so the ``age_years`` loss trains the head alone and
the blend costs nothing there; the weight is chosen after training, on validation faces
(``experiments/age_years_blend.py``), and stored in the model's config.

Example:

>>> import numpy as np
>>> from adiencekit.layers.age_years_blend import AgeYearsBlend
>>> groups = np.array([[0, 0, 0, 0, 1, 0, 0, 0]], "float32")  # surely 25-32: expected age 27.5
>>> head = np.array([[37.5]], "float32")
>>> float(AgeYearsBlend(0.5)([groups, head])[0, 0])
32.5
>>> float(AgeYearsBlend(0.5)([groups, head], training=True)[0, 0])  # training: the head alone
37.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from adiencekit.labels import GROUP_REPRESENTATIVE_AGES

__all__ = ["AgeYearsBlend", "check_head_weight"]


def check_head_weight(head_weight: Any) -> float:
    """``head_weight`` as a float in ``[0, 1]``; ``ValueError`` otherwise.

    Example:

    >>> from adiencekit.layers.age_years_blend import check_head_weight
    >>> check_head_weight(1)
    1.0
    """
    if isinstance(head_weight, bool) or not isinstance(head_weight, (int, float)) \
            or not math.isfinite(head_weight) or not 0.0 <= head_weight <= 1.0:
        raise ValueError(f"age_years_head_weight must be a number from 0 to 1, got {head_weight!r}")
    return float(head_weight)


@keras.saving.register_keras_serializable(package="adiencekit")
class AgeYearsBlend(keras.layers.Layer):
    """``head_weight * head + (1 - head_weight) * expected age of the groups`` (inference only).

    Args:
        head_weight: the head's share, from 0 (the age groups alone) to 1 (the head alone).
        representative_ages: one age per group, in class order (default
            :data:`adiencekit.labels.GROUP_REPRESENTATIVE_AGES`).
        from_logits: the group input is logits (a softmax is applied first).
        **kwargs: Keras layer arguments (``name``...).

    Call arguments:
        inputs: ``[group probabilities (batch, groups), head years (batch, 1)]``.
        training: in training the head is returned unchanged.
    """

    def __init__(self, head_weight: float, representative_ages: Sequence[float] = GROUP_REPRESENTATIVE_AGES,
                 from_logits: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.head_weight = check_head_weight(head_weight)
        self.representative_ages = tuple(float(age) for age in representative_ages)
        if not self.representative_ages or not all(math.isfinite(a) for a in self.representative_ages):
            raise ValueError(f"representative_ages must be finite numbers, got {representative_ages!r}")
        self.from_logits = bool(from_logits)

    def call(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        groups, head = inputs
        head = keras.ops.cast(head, "float32")
        if training:
            return head
        groups = keras.ops.cast(groups, "float32")
        if self.from_logits:
            groups = keras.ops.softmax(groups, axis=-1)
        ages = keras.ops.convert_to_tensor(self.representative_ages, dtype="float32")
        expected = keras.ops.sum(groups * ages, axis=-1, keepdims=True) / keras.ops.maximum(
            keras.ops.sum(groups, axis=-1, keepdims=True), 1e-12)
        return self.head_weight * head + (1.0 - self.head_weight) * expected

    def compute_output_shape(self, input_shape: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "head_weight": self.head_weight,
                "representative_ages": list(self.representative_ages), "from_logits": self.from_logits}
