"""Test-time augmentation: Levi-Hassner ten crops or flips per image, averaged predictions.

Levi & Hassner (CVPR-W 2015) evaluate a 227x227 network on 256x256 faces either with the
centre crop alone or with *over-sampling*: the four corner crops and the centre crop,
plus the horizontal mirror of each, with the ten softmax outputs averaged. The crop
offsets follow Caffe's ``oversample``: corners at the image edges, centre at
``(H - crop) // 2``.

Everything is written with ``keras.ops``, so it runs on every Keras backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from adiencekit.layers.augmentation import crop_pair

__all__ = [
    "CROP_ORDER",
    "TTA_MODES",
    "TTA_VIEWS",
    "TestTimeAugmentation",
    "average_views",
    "center_crop",
    "check_tta_mode",
    "ten_crop",
    "tta_views",
]

#: The order of the ten crops returned by :func:`ten_crop`.
CROP_ORDER = (
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
    "center",
    "top_left_mirrored",
    "top_right_mirrored",
    "bottom_left_mirrored",
    "bottom_right_mirrored",
    "center_mirrored",
)


def _image_size(images: Any, crop: tuple[int, int], what: str) -> tuple[int, int]:
    shape = tuple(images.shape)
    if len(shape) != 4:
        raise ValueError(f"{what} expects a batch of images (N, H, W, C), got shape {shape}")
    height, width = shape[1], shape[2]
    if height is None or width is None:
        raise ValueError(f"{what} needs a statically known image height and width, got shape {shape}")
    if height < crop[0] or width < crop[1]:
        raise ValueError(f"{what}: crop size {crop} is larger than the images, got shape {shape}")
    return int(height), int(width)


def center_crop(images: Any, crop_size: int | Sequence[int]) -> Any:
    """The centre window of every image of a batch (single-crop evaluation).

    The window starts at ``(H - crop) // 2``, the same centre as in :func:`ten_crop`.

    Args:
        images: a batch ``(N, H, W, C)`` (NumPy array or backend tensor), ``H, W >= crop``.
        crop_size: side of the square crop, or a ``(height, width)`` pair.

    Returns:
        A tensor ``(N, crop_h, crop_w, C)``.

    Example:

    >>> import numpy as np
    >>> images = np.arange(2 * 6 * 6 * 1, dtype="float32").reshape(2, 6, 6, 1)
    >>> out = np.asarray(center_crop(images, 4))
    >>> out.shape, bool((out == images[:, 1:5, 1:5]).all())
    ((2, 4, 4, 1), True)
    """
    crop = crop_pair(crop_size)
    images = ops.convert_to_tensor(images)
    height, width = _image_size(images, crop, "center_crop")
    top, left = (height - crop[0]) // 2, (width - crop[1]) // 2
    return images[:, top : top + crop[0], left : left + crop[1], :]


def ten_crop(images: Any, crop_size: int | Sequence[int], flatten: bool = False) -> Any:
    """The ten Levi-Hassner crops of every image: 4 corners, centre, and their mirrors.

    Args:
        images: a batch ``(N, H, W, C)`` (NumPy array or backend tensor), ``H, W >= crop``.
        crop_size: side of the square crop, or a ``(height, width)`` pair.
        flatten: if true, return ``(N * 10, crop_h, crop_w, C)`` (the ten crops of image 0
            first), ready to feed a model; otherwise ``(N, 10, crop_h, crop_w, C)``.

    Returns:
        The crops, in the order of :data:`CROP_ORDER`.

    Example:

    >>> import numpy as np
    >>> images = np.arange(2 * 5 * 5 * 1, dtype="float32").reshape(2, 5, 5, 1)
    >>> crops = np.asarray(ten_crop(images, 3))
    >>> crops.shape
    (2, 10, 3, 3, 1)
    >>> bool((crops[:, 3] == images[:, 2:, 2:]).all())           # bottom-right corner
    True
    >>> bool((crops[:, 9] == images[:, 1:4, 1:4][:, :, ::-1]).all())  # mirrored centre
    True
    """
    crop = crop_pair(crop_size)
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    images = ops.convert_to_tensor(images)
    height, width = _image_size(images, crop, "ten_crop")
    bottom, right = height - crop[0], width - crop[1]
    center_top, center_left = bottom // 2, right // 2
    offsets = [(0, 0), (0, right), (bottom, 0), (bottom, right), (center_top, center_left)]
    crops = [images[:, top : top + crop[0], left : left + crop[1], :] for top, left in offsets]
    crops += [ops.flip(c, axis=2) for c in crops]
    stacked = ops.stack(crops, axis=1)
    if flatten:
        return ops.reshape(stacked, (-1, crop[0], crop[1], stacked.shape[-1]))
    return stacked


#: Test-time augmentation modes: ``"flip"`` averages the centre crop and its mirror,
#: ``"ten_crop"`` the ten Levi-Hassner crops.
TTA_MODES: tuple[str, ...] = ("flip", "ten_crop")

#: Number of views each mode averages.
TTA_VIEWS: dict[str, int] = {"flip": 2, "ten_crop": 10}


def check_tta_mode(mode: Any) -> str:
    """Return ``mode`` if it is one of :data:`TTA_MODES`, else raise a ``ValueError``."""
    if mode not in TTA_MODES:
        raise ValueError(f"test-time augmentation mode must be one of {TTA_MODES}, got {mode!r}")
    return mode


def tta_views(images: Any, crop_size: int | Sequence[int], mode: str = "ten_crop") -> Any:
    """The views of every image that test-time augmentation averages, image-major.

    Args:
        images: a batch ``(N, H, W, C)`` with ``H, W >= crop``.
        crop_size: side of the square crop, or ``(height, width)``.
        mode: ``"flip"`` (centre crop, then its mirror) or ``"ten_crop"`` (the order of
            :data:`CROP_ORDER`).

    Returns:
        ``(N * views, crop_h, crop_w, C)``; the views of image 0 come first.

    Example:

    >>> import numpy as np
    >>> images = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    >>> views = np.asarray(tta_views(images, 4, mode="flip"))
    >>> views.shape, bool((views[1] == images[0, :, ::-1]).all())
    ((4, 4, 4, 1), True)
    """
    check_tta_mode(mode)
    if mode == "ten_crop":
        return ten_crop(images, crop_size, flatten=True)
    centre = center_crop(images, crop_size)
    stacked = ops.stack([centre, ops.flip(centre, axis=2)], axis=1)
    return ops.reshape(stacked, (-1, *tuple(stacked.shape[2:])))


def average_views(outputs: Any, views: int) -> Any:
    """Mean over each image's ``views`` consecutive rows of a model output (or dict of outputs)."""

    def average(output: Any) -> Any:
        per_image = ops.reshape(output, (-1, views, *tuple(output.shape[1:])))
        return ops.mean(per_image, axis=1)

    return keras.tree.map_structure(average, outputs)


@keras.saving.register_keras_serializable(package="adiencekit")
class TestTimeAugmentation(keras.Model):
    """Wrap a trained classifier so it predicts the mean over flipped or ten-cropped views.

    This is the library's one implementation of test-time augmentation:
    :meth:`adiencekit.models.AgeGenderClassifier.predict_tta` and
    :func:`adiencekit.evaluation.evaluate` (``tta=...``) both use it.

    ``mode="ten_crop"`` is Levi & Hassner's over-sampling: the four corner crops and the
    centre crop of each (larger) input image, and their mirrors. ``mode="flip"`` averages
    the centre crop and its mirror (inputs of the model's own size give the image and
    its mirror). The wrapped model runs on all views at once in inference mode and the
    outputs (probabilities, since every adiencekit model ends in a softmax) are averaged;
    multitask models with a dict of outputs give a dict of averages. The wrapper has no
    weights of its own and saves/loads as a ``.keras`` file with the wrapped model inside.

    Args:
        model: a built Keras model taking ``(N, crop_h, crop_w, C)`` images.
        crop_size: crop side or ``(height, width)``; defaults to the wrapped model's
            static input size.
        mode: ``"ten_crop"`` (default) or ``"flip"``.
        name: model name.

    Example:

    >>> import numpy as np, keras
    >>> classifier = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
    ...                                keras.layers.Dense(2, activation="softmax")])
    >>> tta = TestTimeAugmentation(classifier)       # crop size 4x4 from the model input
    >>> images = np.random.default_rng(0).uniform(0, 255, (3, 6, 6, 3)).astype("float32")
    >>> probabilities = np.asarray(tta(images))
    >>> probabilities.shape, bool(np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5))
    ((3, 2), True)
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        model: keras.Model,
        crop_size: int | Sequence[int] | None = None,
        mode: str = "ten_crop",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
        check_tta_mode(mode)
        if crop_size is None:
            try:
                input_shape = model.input_shape
            except (AttributeError, ValueError) as error:
                raise ValueError(
                    "crop_size is needed: the wrapped model has no defined input shape "
                    f"({error})"
                ) from None
            if not isinstance(input_shape, tuple) or len(input_shape) != 4 or None in input_shape[1:3]:
                raise ValueError(
                    "crop_size is needed: the wrapped model's input shape is "
                    f"{input_shape!r}, not a single (N, H, W, C) input with static H and W"
                )
            crop_size = (input_shape[1], input_shape[2])
        super().__init__(name=name, **kwargs)
        self.classifier = model
        self.crop_size = crop_pair(crop_size)
        self.mode = mode

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        views = tta_views(inputs, self.crop_size, self.mode)
        return average_views(self.classifier(views, training=False), TTA_VIEWS[self.mode])

    def compute_output_spec(self, inputs: Any, training: bool | None = None) -> Any:
        spec = self.classifier.compute_output_spec(
            keras.KerasTensor((None, *self.crop_size, inputs.shape[-1]), dtype=inputs.dtype)
        )
        return keras.tree.map_structure(
            lambda s: keras.KerasTensor((inputs.shape[0], *tuple(s.shape[1:])), dtype=s.dtype), spec
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self.classifier),
            "crop_size": list(self.crop_size),
            "mode": self.mode,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> TestTimeAugmentation:
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"], custom_objects=custom_objects)
        return cls(**config)
