"""NumPy crops, flips and rotations of ``uint8`` images, a batch at a time: the Grain pipeline's augmentation.

:func:`random_augment_batch` draws every random number of a batch in one call per
kind (crop offsets, flips, angles) and copies each image's window into one output
array. A window is a slice of the image (no pixel is gathered one by one), and a flip
is copied channel by channel: NumPy copies a reversed ``(rows, columns, 3)`` window
three bytes at a time (about 5x slower than one channel at a time, measured 244 against
46 microseconds for a 227 crop), and a fancy-index gather of the whole batch was slower
still (63 ms a batch of 32, against under 2 ms for these slices).

The steps and their order are those of :func:`adiencekit.data.pipeline.random_augment`:
an optional rotation about the centre (bilinear, reflected borders; SciPy), a random
``crop_size`` crop, a horizontal flip with probability 1/2.

Example:

>>> import numpy as np
>>> from adiencekit.data.array_augment import random_augment_batch
>>> images = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
>>> batch = random_augment_batch(list(images), np.random.default_rng(1), 40)
>>> batch.shape, batch.dtype.name
((4, 40, 40, 3), 'uint8')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AugmentDraws", "center_crop_array", "draw_augments", "random_augment_array", "random_augment_batch"]


@dataclass(frozen=True)
class AugmentDraws:
    """The random choices for a batch: one entry per image.

    Attributes:
        tops: crop rows (offset of the window's first row).
        lefts: crop columns (offset of the window's first column).
        flips: whether each window is flipped left-right.
        angles: rotation of each image in degrees (all zero without rotation).
    """

    tops: np.ndarray
    lefts: np.ndarray
    flips: np.ndarray
    angles: np.ndarray


def draw_augments(
    rng: np.random.Generator, count: int, image_shape: tuple[int, ...], crop_size: int, *,
    flip: bool = True, rotation: float = 0.0,
) -> AugmentDraws:
    """Draw the crops, flips and angles of ``count`` images of one shape, one generator call per kind.

    Every offset is uniform over the windows that fit, every flip is a fair coin
    (``False`` throughout when ``flip`` is off), every angle uniform in
    ``[-rotation, rotation]``. The offsets are drawn first, so they do not depend on
    ``flip`` or ``rotation``.

    Args:
        rng: the generator; the draws are a function of its state only.
        count: number of images.
        image_shape: ``(height, width, ...)`` of every image.
        crop_size: side of the square window.
        flip: draw flips.
        rotation: maximal angle in degrees (``0``: none).

    Returns:
        The draws.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.array_augment import draw_augments
    >>> draws = draw_augments(np.random.default_rng(0), 1000, (256, 256, 3), 227)
    >>> int(draws.tops.min()), int(draws.tops.max()), bool(0.4 < draws.flips.mean() < 0.6)
    (0, 29, True)
    """
    height, width = image_shape[0], image_shape[1]
    if crop_size > min(height, width):
        raise ValueError(f"crop_size ({crop_size}) must be <= the image's sides {height}x{width}")
    tops = rng.integers(0, height - crop_size + 1, count)
    lefts = rng.integers(0, width - crop_size + 1, count)
    flips = rng.random(count) < 0.5
    angles = rng.uniform(-rotation, rotation, count) if rotation > 0 else np.zeros(count)
    return AugmentDraws(tops, lefts, flips & flip, angles)


def _rotated(image: np.ndarray, angle: float) -> np.ndarray:
    from scipy import ndimage

    rotated = ndimage.rotate(image.astype(np.float32), angle, axes=(1, 0), reshape=False, order=1, mode="reflect")
    return np.clip(np.round(rotated), 0, 255).astype(np.uint8)


def _copy_window(out: np.ndarray, image: np.ndarray, top: int, left: int, flipped: bool, scratch: np.ndarray) -> None:
    size = out.shape[0]
    window = image[top:top + size, left:left + size]
    if not flipped:
        out[...] = window
        return
    # The window is read once into the (cache-hot) scratch buffer, then mirrored from
    # it one channel at a time: 5x faster than NumPy's whole-pixel reversed copy, and
    # reading a large image's window three times over was measured 1.6x slower.
    scratch[...] = window
    mirrored = scratch[:, ::-1]
    for channel in range(out.shape[-1]):
        out[..., channel] = mirrored[..., channel]


def random_augment_batch(
    images: Sequence[np.ndarray], rng: np.random.Generator, crop_size: int, *, flip: bool = True,
    rotation: float = 0.0, out: np.ndarray | None = None,
) -> np.ndarray:
    """Each image's own random rotation, crop and flip, written into one ``(count, crop, crop, C)`` array.

    Args:
        images: ``(height, width, C)`` ``uint8`` arrays of one shape (views are fine).
        rng: the generator; the batch is a function of its state and the images only.
        crop_size: side of the crops.
        flip: random horizontal flips.
        rotation: maximal random rotation in degrees (``0``: none).
        out: the array to fill (a new ``uint8`` array when ``None``).

    Returns:
        ``out``: image ``i`` is the window at ``(draws.tops[i], draws.lefts[i])`` of
        image ``i`` (rotated first when ``rotation > 0``), mirrored when ``draws.flips[i]``
        (see :func:`draw_augments`).

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.array_augment import draw_augments, random_augment_batch
    >>> image = np.arange(5 * 5 * 3, dtype=np.uint8).reshape(5, 5, 3)
    >>> crops = random_augment_batch([image, image], np.random.default_rng(0), 3, flip=False)
    >>> draws = draw_augments(np.random.default_rng(0), 2, image.shape, 3)
    >>> t, l = int(draws.tops[1]), int(draws.lefts[1])
    >>> bool((crops[1] == image[t:t + 3, l:l + 3]).all())
    True
    """
    count = len(images)
    if out is None:
        channels = images[0].shape[-1] if count else 3
        out = np.empty((count, crop_size, crop_size, channels), np.uint8)
    if not count:
        return out
    draws = draw_augments(rng, count, images[0].shape, crop_size, flip=flip, rotation=rotation)
    scratch = np.empty_like(out[0])
    for row, image in enumerate(images):
        if draws.angles[row]:
            image = _rotated(image, float(draws.angles[row]))
        _copy_window(out[row], image, int(draws.tops[row]), int(draws.lefts[row]), bool(draws.flips[row]), scratch)
    return out


def random_augment_array(
    image: np.ndarray, rng: np.random.Generator, crop_size: int, *, flip: bool = True, rotation: float = 0.0
) -> np.ndarray:
    """Training augmentation of one ``uint8`` image, fully determined by ``rng``: a batch of one.

    A random rotation in ``[-rotation, rotation]`` degrees about the centre (bilinear,
    reflected borders; when ``rotation > 0``), then a random ``crop_size`` crop, then a
    random horizontal flip with probability 1/2 (when ``flip``): the steps of
    :func:`adiencekit.data.pipeline.random_augment`.

    Returns:
        ``uint8`` array ``(crop_size, crop_size, 3)``.

    Example:

    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("scipy", reason="rotation needs scipy (pip install 'adiencekit[jax]')")
    >>> from adiencekit.data.array_augment import random_augment_array
    >>> image = np.random.default_rng(0).integers(0, 255, (40, 40, 3)).astype("uint8")
    >>> a = random_augment_array(image, np.random.default_rng(1), 32, rotation=10.0)
    >>> b = random_augment_array(image, np.random.default_rng(1), 32, rotation=10.0)
    >>> a.shape, bool((a == b).all())
    ((32, 32, 3), True)
    """
    return random_augment_batch([image], rng, crop_size, flip=flip, rotation=rotation)[0]


def center_crop_array(image: np.ndarray, crop_size: int) -> np.ndarray:
    """The ``crop_size`` square centre of an ``(height, width, channels)`` array (offset rounded down).

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.array_augment import center_crop_array
    >>> center_crop_array(np.arange(25).reshape(5, 5, 1), 3)[..., 0].tolist()
    [[6, 7, 8], [11, 12, 13], [16, 17, 18]]
    """
    top = (image.shape[0] - crop_size) // 2
    left = (image.shape[1] - crop_size) // 2
    return image[top:top + crop_size, left:left + crop_size]
