"""In-model preprocessing: every model takes RGB pixels in [0, 255] and scales them itself.

Keeping the preprocessing inside the model means a saved or exported model needs no
outside code. Only built-in Keras layers are used, so the ``.keras`` files load anywhere.

* Inception-v3: ``x / 127.5 - 1`` (pixels to [-1, 1]), as
  ``keras.applications.inception_v3.preprocess_input`` does.
* Levi & Hassner: mean subtraction without scaling (Caffe ``transform_param
  mean_file``). The paper subtracts the mean *image* of each training split, which the
  authors published only as Caffe binary blobs. A per-channel constant does the same
  centring job for a network trained from scratch, so the default is the classic
  CaffeNet/ImageNet per-channel mean in RGB order, :data:`LEVI_HASSNER_MEAN`
  ``(123.68, 116.779, 103.939)`` (the values ``keras.applications``' "caffe"
  preprocessing subtracts). Pass ``mean=`` to the builder to use your own, for example
  the per-channel mean of your training images.
* Scratch CNNs: ``x / 255`` (pixels to [0, 1]), as the reference report did.

Example:

>>> import numpy as np
>>> from adiencekit.models.preprocessing import inception_preprocessing, scratch_preprocessing
>>> pixels = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
>>> np.asarray(inception_preprocessing()(pixels)).ravel().tolist()
[-1.0, 0.0, 1.0]
>>> np.asarray(scratch_preprocessing()(pixels)).ravel().tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = [
    "LEVI_HASSNER_MEAN",
    "inception_preprocessing",
    "levi_hassner_preprocessing",
    "scratch_preprocessing",
]

#: Per-channel RGB mean subtracted by the Levi & Hassner model (CaffeNet/ImageNet mean).
LEVI_HASSNER_MEAN: tuple[float, float, float] = (123.68, 116.779, 103.939)


def inception_preprocessing(name: str = "inception_preprocessing") -> keras.layers.Layer:
    """Layer mapping [0, 255] pixels to [-1, 1] (Inception-v3 convention)."""
    return keras.layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name=name)


def scratch_preprocessing(name: str = "scratch_preprocessing") -> keras.layers.Layer:
    """Layer mapping [0, 255] pixels to [0, 1]."""
    return keras.layers.Rescaling(scale=1.0 / 255.0, name=name)


def levi_hassner_preprocessing(
    mean: Sequence[float] = LEVI_HASSNER_MEAN, name: str = "mean_subtraction"
) -> keras.layers.Layer:
    """Layer subtracting a fixed per-channel mean (no scaling), as Levi & Hassner's Caffe model.

    Args:
        mean: one value per input channel, in the order of the input channels (RGB).
        name: layer name.

    Returns:
        A ``keras.layers.Normalization`` with fixed ``mean`` and unit variance.
    """
    try:
        values = [float(value) for value in mean]
    except (TypeError, ValueError):
        raise ValueError(f"mean must be a sequence of numbers, one per channel, got {mean!r}") from None
    if not values:
        raise ValueError(f"mean must hold one number per channel, got {mean!r}")
    return keras.layers.Normalization(mean=values, variance=[1.0] * len(values), name=name)
