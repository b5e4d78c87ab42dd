"""Keras 3 layers of the adiencekit zoo.

Everything here is written with ``keras.ops`` and runs on every Keras backend, except
:class:`TFHubLayer` (TensorFlow backend only), whose module imports TensorFlow lazily,
so ``import adiencekit.layers`` works where TensorFlow is not installed.
:class:`FaceAugmentation` is the in-model augmentation of
:class:`adiencekit.models.AgeGenderClassifier` (crops, flips, rotation),
:class:`PhotoAugmentation` the scale, shift, colour, blur and grey augmentation of
``TrainConfig(augment="strong")``, :class:`PhotoDegradation` the resolution, yaw, light,
noise and JPEG degradation that ``augment="photo"`` adds, :class:`TestTimeAugmentation` its (and
evaluation's) test-time augmentation, :class:`TFHubLayer` the layer inside
:class:`adiencekit.models.TFHubBackbone`, and :class:`AgeYearsBlend` the age in years that
blends a model's ``age_years`` head with its age groups.

Example:

>>> import numpy as np
>>> from adiencekit.layers import FaceAugmentation, ten_crop
>>> images = np.zeros((1, 256, 256, 3), "float32")
>>> tuple(FaceAugmentation(227)(images).shape), tuple(ten_crop(images, 227).shape)
((1, 227, 227, 3), (1, 10, 227, 227, 3))
"""

from __future__ import annotations

from adiencekit.layers.age_years_blend import AgeYearsBlend
from adiencekit.layers.augmentation import FaceAugmentation
from adiencekit.layers.hub import TFHubLayer
from adiencekit.layers.normalization import LocalResponseNormalization
from adiencekit.layers.photo_augmentation import PhotoAugmentation
from adiencekit.layers.photo_degradation import PhotoDegradation
from adiencekit.layers.oversampling import (
    CROP_ORDER,
    TTA_MODES,
    TestTimeAugmentation,
    center_crop,
    ten_crop,
    tta_views,
)

__all__ = [
    "CROP_ORDER",
    "TTA_MODES",
    "AgeYearsBlend",
    "FaceAugmentation",
    "LocalResponseNormalization",
    "PhotoAugmentation",
    "PhotoDegradation",
    "TFHubLayer",
    "TestTimeAugmentation",
    "center_crop",
    "ten_crop",
    "tta_views",
]
