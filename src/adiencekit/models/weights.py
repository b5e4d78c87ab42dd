"""The ``weights`` argument of the model builders, checked like ``keras.applications`` does.

``weights`` is one of:

* ``None``: random initialization;
* ``"imagenet"``: ImageNet weights for a pretrained backbone (Inception-v3 only),
  fetched and cached by ``keras.applications`` itself;
* a path to a weights file of the **whole** model (``.weights.h5``, ``.keras`` or a
  legacy ``.h5``), loaded with ``model.load_weights`` after the model is built.

Example:

>>> from adiencekit.models.weights import check_weights
>>> check_weights(None, model="levi_hassner", input_shape=(227, 227, 3)) is None
True
>>> check_weights("imagenet", model="levi_hassner", input_shape=(227, 227, 3))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: levi_hassner: weights must be None or the path to an existing weights file ..., got 'imagenet'
"""

from __future__ import annotations

import os
from typing import Any

import keras

__all__ = [
    "IMAGENET_INCEPTION_V3_HASH",
    "IMAGENET_INCEPTION_V3_URL",
    "WEIGHT_SUFFIXES",
    "check_weights",
    "imagenet_weights_path",
    "load_weights",
]

#: Where Keras publishes the no-top ImageNet weights of Inception-v3 (about 90 MB), and
#: the file's md5 (the values ``keras.applications.InceptionV3`` uses).
IMAGENET_INCEPTION_V3_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
IMAGENET_INCEPTION_V3_HASH = "bcbd6486424b2319ff4ef7d526e38f63"

#: File endings ``keras.Model.load_weights`` reads.
WEIGHT_SUFFIXES: tuple[str, ...] = (".weights.h5", ".keras", ".h5")


def check_weights(
    weights: Any, *, model: str, input_shape: Any, allow_imagenet: bool = False
) -> str | None:
    """Validate a builder's ``weights`` argument before anything is built.

    Args:
        weights: ``None``, ``"imagenet"`` or a path to a weights file.
        model: architecture name, for error messages.
        input_shape: the model's ``(height, width, channels)``.
        allow_imagenet: whether the architecture has ImageNet weights.

    Returns:
        ``None``, ``"imagenet"`` or the path as a ``str``.

    Raises:
        ValueError: for anything else, naming the received value.
    """
    if weights is None:
        return None
    allowed = ("None, 'imagenet'" if allow_imagenet else "None") + " or the path to an existing weights file"
    allowed += f" ({', '.join(WEIGHT_SUFFIXES)}) of the whole model"
    if weights == "imagenet" and allow_imagenet:
        channels = tuple(input_shape)[-1]
        if channels != 3:
            raise ValueError(
                f"{model}: weights='imagenet' needs 3 input channels (RGB), got input_shape={tuple(input_shape)!r}"
            )
        return "imagenet"
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"{model}: weights must be {allowed}, got {weights!r}")
    path = os.fspath(weights)
    if not path.endswith(WEIGHT_SUFFIXES) or not os.path.isfile(path):
        reason = "no such file" if path.endswith(WEIGHT_SUFFIXES) else "not a weights file name"
        detail = "" if weights == "imagenet" else f" ({reason})"
        raise ValueError(f"{model}: weights must be {allowed}, got {weights!r}{detail}")
    return path


def load_weights(model: keras.Model, path: str | None) -> keras.Model:
    """Load a whole-model weights file into ``model`` when ``path`` is set.

    Args:
        model: the freshly built model.
        path: a path returned by :func:`check_weights`, or ``None``.

    Returns:
        ``model``, with the weights loaded.
    """
    if path is not None:
        model.load_weights(path)
    return model


def imagenet_weights_path(
    imagenet_weights_file: str | os.PathLike[str] | None = None, *, model: str = "inception"
) -> str:
    """The local path of Inception-v3's no-top ImageNet weights, downloading them once if needed.

    Args:
        imagenet_weights_file: a local copy of the file; used as it is (no download).
        model: architecture name, for error messages.

    Returns:
        The path of the weights file (in the Keras cache, ``~/.keras/models``, after a
        download).

    Raises:
        ConfigError: if ``imagenet_weights_file`` does not exist.
        ModelFileError: if the download fails (offline machine, firewall, bad file); the
            message names the offline options.
    """
    from adiencekit.errors import ConfigError, ModelFileError

    if imagenet_weights_file is not None:
        path = os.fspath(imagenet_weights_file)
        if not os.path.isfile(path):
            raise ConfigError(f"{model}: the ImageNet weights file does not exist: {path}")
        return path
    try:
        # Looked up at call time, so tests can make the download fail without a network.
        return str(
            keras.utils.get_file(
                os.path.basename(IMAGENET_INCEPTION_V3_URL),
                IMAGENET_INCEPTION_V3_URL,
                cache_subdir="models",
                file_hash=IMAGENET_INCEPTION_V3_HASH,
            )
        )
    except Exception as error:  # keras raises a bare Exception for URL failures
        reason = " ".join(str(error).split())[:300]
        # The reason is in the message: no chain of Keras's and urllib's own tracebacks.
        raise ModelFileError(
            f"{model}: weights='imagenet' needs Inception-v3's ImageNet weights (about 90 MB), which are "
            f"downloaded once into the Keras cache (~/.keras/models), but the download failed: {reason}. "
            f"Offline, give a local copy of {os.path.basename(IMAGENET_INCEPTION_V3_URL)} "
            f"(--imagenet-weights FILE; imagenet_weights_file= in Python), or start from a random base "
            f"(--no-imagenet; weights=None)"
        ) from None
