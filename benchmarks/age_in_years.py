"""adiencekit's age in years for face crops, and its mean absolute error (benchmarks and experiments).

The one place the benchmarks get an age in years from an adiencekit model: the model's
own ``"age_years"`` output when it has one (``face_resnet(age_years=True)``, recipe
``utkface_v2``), else :func:`adiencekit.labels.expected_age` of its eight age-group
probabilities, exactly as :class:`~adiencekit.inference.Predictor` reports it.

Example:

>>> import numpy as np
>>> import age_in_years
>>> age_in_years.mae(np.array([10.0, 20.0, 5.0]), np.array([12.0, 20.0, np.nan]), np.array([True, True, False]))
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

def age_years_source(predictor: Any) -> str | None:
    """Where ``predictor``'s ages in years come from: ``"head"`` (the model's ``age_years`` output),
    ``"age groups"`` (the expected age of its group probabilities) or ``None`` (no age head)."""
    return predictor.age_years_source


def adiencekit_age_years(predictor: Any, crops: np.ndarray) -> np.ndarray:
    """Age in years of each face crop, as :class:`~adiencekit.inference.Predictor` reports it.

    Args:
        predictor: an :class:`~adiencekit.inference.Predictor` (its crop style, resize and model).
        crops: ``(N, S, S, 3)`` ``uint8`` crops cut with ``predictor.crop``.

    Returns:
        ``(N,)`` float64 ages in years.
    """
    crops = np.asarray(crops)
    if len(crops) == 0:
        return np.zeros(0)
    return np.asarray(predictor.predict_crops(crops)["age_years"], np.float64).reshape(-1)


def mae(truth: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean absolute error over ``mask`` (``None`` when the mask is empty)."""
    return round(float(np.abs(truth[mask] - predicted[mask]).mean()), 3) if mask.any() else None
