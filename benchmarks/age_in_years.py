"""adiencekit's age in years for face crops, and its mean absolute error (benchmarks and experiments).

The one place the benchmarks get an age in years from an adiencekit model: the model's
own ``"age_years"`` output when it has one (``face_resnet(age_years=True)``, recipe
``utkface_v2``), else :func:`adiencekit.labels.expected_age` of its eight age-group
probabilities. Once :class:`~adiencekit.inference.Predictor` reports ``age_years`` itself,
:func:`adiencekit_age_years` is the one function to switch to it.

Example:

>>> import numpy as np
>>> import age_in_years
>>> age_in_years.mae(np.array([10.0, 20.0, 5.0]), np.array([12.0, 20.0, np.nan]), np.array([True, True, False]))
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: How each kind of model gets its age in years (recorded in the result files).
FROM_OUTPUT = "the model's 'age_years' output"
FROM_GROUPS = "adiencekit.labels.expected_age of the eight age-group probabilities"


def has_age_years_output(predictor: Any) -> bool:
    """Whether the predictor's model has the ``"age_years"`` regression output."""
    return bool(getattr(predictor.model, "age_years", False))


def age_years_source(predictor: Any) -> str:
    """:data:`FROM_OUTPUT` or :data:`FROM_GROUPS`, for ``predictor``'s model."""
    return FROM_OUTPUT if has_age_years_output(predictor) else FROM_GROUPS


def adiencekit_age_years(predictor: Any, crops: np.ndarray) -> np.ndarray:
    """Age in years of each face crop: the model's ``age_years`` output, else the expected age of its groups.

    Args:
        predictor: an :class:`~adiencekit.inference.Predictor` (its crop style, resize and model).
        crops: ``(N, S, S, 3)`` ``uint8`` crops cut with ``predictor.crop``.

    Returns:
        ``(N,)`` float64 ages in years.
    """
    from adiencekit.labels import expected_age

    crops = np.asarray(crops)
    if len(crops) == 0:
        return np.zeros(0)
    if not has_age_years_output(predictor):
        return np.asarray(expected_age(predictor.predict_crops(crops)["age"]), np.float64).reshape(-1)
    import keras

    parts = []
    for start in range(0, len(crops), predictor.batch_size):
        # Predictor keeps only the class heads; the regression output is read off the model itself.
        batch = predictor._model_inputs(crops[start:start + predictor.batch_size]).astype(np.float32)
        outputs = predictor.model.predict_on_batch(batch)
        parts.append(np.asarray(keras.ops.convert_to_numpy(outputs["age_years"]), np.float64).reshape(-1))
    return np.concatenate(parts)


def mae(truth: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean absolute error over ``mask`` (``None`` when the mask is empty)."""
    return round(float(np.abs(truth[mask] - predicted[mask]).mean()), 3) if mask.any() else None
