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

from collections.abc import Mapping, Sequence
from typing import Any

import keras

__all__ = [
    "LEVI_HASSNER_MEAN",
    "PREPROCESSING_KINDS",
    "check_preprocessing",
    "preprocessing_layer",
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
        A ``keras.layers.Rescaling`` with scale 1 and offset ``-mean`` per channel. (Not a
        ``keras.layers.Normalization``: its mean and variance are tensors captured from
        outside the traced graph, which the ONNX converter turns into two extra graph
        inputs, so the exported file could not run on an image alone.)

    Example:

    >>> import numpy as np
    >>> layer = levi_hassner_preprocessing([1.0, 2.0, 3.0])
    >>> np.asarray(layer(np.full((1, 1, 1, 3), 10.0, "float32"))).ravel().tolist()
    [9.0, 8.0, 7.0]
    """
    try:
        values = [float(value) for value in mean]
    except (TypeError, ValueError):
        raise ValueError(f"mean must be a sequence of numbers, one per channel, got {mean!r}") from None
    if not values:
        raise ValueError(f"mean must hold one number per channel, got {mean!r}")
    return keras.layers.Rescaling(scale=1.0, offset=[-value for value in values], name=name)


#: The kinds of in-model preprocessing a task model records in its config.
PREPROCESSING_KINDS: tuple[str, ...] = ("rescale", "mean", "none")


def check_preprocessing(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a preprocessing spec and return it as a plain, JSON-ready dict.

    A spec is ``{"kind": "rescale", "scale": s, "offset": o}`` (``x * s + o``),
    ``{"kind": "mean", "mean": [r, g, b]}`` (``x - mean``) or ``{"kind": "none"}``
    (``None`` means the same); an optional ``"name"`` names the layer.

    Example:

    >>> check_preprocessing({"kind": "rescale", "scale": 0.5})
    {'kind': 'rescale', 'scale': 0.5, 'offset': 0.0, 'name': 'preprocessing'}
    """
    if spec is None:
        return {"kind": "none"}
    if not isinstance(spec, Mapping) or spec.get("kind") not in PREPROCESSING_KINDS:
        raise ValueError(
            f"preprocessing must be None or a dict with 'kind' in {PREPROCESSING_KINDS}, got {spec!r}"
        )
    kind = spec["kind"]
    allowed = {"rescale": {"kind", "scale", "offset", "name"}, "mean": {"kind", "mean", "name"}, "none": {"kind"}}
    unknown = sorted(set(spec) - allowed[kind])
    if unknown:
        raise ValueError(f"preprocessing of kind {kind!r} takes {sorted(allowed[kind])}, got extra keys {unknown}")
    if kind == "none":
        return {"kind": "none"}
    name = spec.get("name", "preprocessing")
    if not isinstance(name, str) or not name:
        raise ValueError(f"preprocessing name must be a non-empty string, got {name!r}")
    if kind == "rescale":
        try:
            scale, offset = float(spec.get("scale", 1.0)), float(spec.get("offset", 0.0))
        except (TypeError, ValueError):
            raise ValueError(f"preprocessing scale and offset must be numbers, got {spec!r}") from None
        return {"kind": "rescale", "scale": scale, "offset": offset, "name": name}
    mean = spec.get("mean")
    try:
        values = [float(value) for value in mean]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"preprocessing mean must be a list of numbers, one per channel, got {mean!r}") from None
    if not values:
        raise ValueError(f"preprocessing mean must hold one number per channel, got {mean!r}")
    return {"kind": "mean", "mean": values, "name": name}


def preprocessing_layer(spec: Mapping[str, Any] | None) -> keras.layers.Layer | None:
    """The layer a preprocessing spec describes (``None`` for ``kind="none"``).

    Example:

    >>> import numpy as np
    >>> layer = preprocessing_layer({"kind": "rescale", "scale": 1 / 127.5, "offset": -1.0})
    >>> np.asarray(layer(np.array([[0.0, 255.0]], "float32"))).tolist()
    [[-1.0, 1.0]]
    """
    checked = check_preprocessing(spec)
    if checked["kind"] == "rescale":
        return keras.layers.Rescaling(scale=checked["scale"], offset=checked["offset"], name=checked["name"])
    if checked["kind"] == "mean":
        return levi_hassner_preprocessing(checked["mean"], name=checked["name"])
    return None
