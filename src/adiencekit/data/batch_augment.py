"""Training augmentation of a whole batch at once: per-image random crops, flips and rotations.

The ``tf.data`` pipeline (:mod:`adiencekit.data.pipeline`) augments after batching: one call
of :func:`augment_batch` per batch gives *every image its own* independently drawn crop
offset (uniform over all positions), a fair coin flip and, when asked, a uniform rotation
angle. The draws come from one stateless seed per batch (:func:`draw_augmentation`), so
the same seed gives the same batches, whatever order parallel workers finish in.

How a batch is cut, with no per-image loop:

* crop and flip (:func:`crop_and_flip`): each image's row and column index vectors (the
  flip folded into the column indices, ``left + crop - 1 - j``) become flat pixel indices,
  and one ``tf.gather`` takes every pixel of the batch; compiled by XLA, which makes that
  gather several times faster than TensorFlow's own kernel (the draws stay outside XLA, so
  XLA's random-number algorithms never change them);
* with rotation (:func:`rotate_crop_and_flip`): one batched ``ImageProjectiveTransformV3``
  whose per-image affine transform maps each output pixel through the flip, the crop
  offset and the rotation about the full image's centre (bilinear, reflected borders), so
  only the crop is interpolated, never the whole image; ``uint8`` images are rounded back
  to ``uint8``.

Example:

>>> import numpy as np, tensorflow as tf
>>> from adiencekit.data.batch_augment import augment_batch
>>> images = np.random.default_rng(0).integers(0, 256, (4, 40, 40, 3)).astype("uint8")
>>> a = augment_batch(images, tf.constant([3, 4], tf.int64), 32)
>>> b = augment_batch(images, tf.constant([3, 4], tf.int64), 32)
>>> a.shape, a.dtype.name, bool((a.numpy() == b.numpy()).all())
(TensorShape([4, 32, 32, 3]), 'uint8', True)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import tensorflow as tf

__all__ = [
    "AugmentationDraw",
    "affine_transforms",
    "augment_batch",
    "crop_and_flip",
    "draw_augmentation",
    "rotate_crop_and_flip",
    "to_uint8",
]


class AugmentationDraw(NamedTuple):
    """The random choices for one batch, one entry per image.

    Attributes:
        top: ``int32`` crop row offsets, uniform in ``[0, height - crop_size]``.
        left: ``int32`` crop column offsets, uniform in ``[0, width - crop_size]``.
        flip: ``bool``, ``True`` where the crop is mirrored left-right (probability 1/2,
            always ``False`` when flips are off).
        angle: ``float32`` rotation angles in radians, uniform in ``[-limit, limit]``
            (zeros when rotation is off).
    """

    top: tf.Tensor
    left: tf.Tensor
    flip: tf.Tensor
    angle: tf.Tensor


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    """Round, clip to ``[0, 255]`` and cast to ``uint8``.

    Example:

    >>> from adiencekit.data.batch_augment import to_uint8
    >>> to_uint8([-3.0, 1.5, 254.4, 300.0]).numpy().tolist()
    [0, 2, 254, 255]
    """
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def draw_augmentation(
    seed: Any, count: Any, image_shape: tuple[Any, Any], crop_size: int, *, flip: bool = True, rotation: float = 0.0
) -> AugmentationDraw:
    """Draw the crop offsets, flips and angles of ``count`` images from one stateless seed.

    The four kinds of draw use independent streams split from ``seed``, so turning flips
    or rotation on or off does not move the crops.

    Args:
        seed: shape ``(2,)`` integer tensor (the batch's seed).
        count: number of images (int or scalar tensor).
        image_shape: ``(height, width)`` of the images (ints or scalar tensors).
        crop_size: side of the crop.
        flip: draw flips (otherwise none).
        rotation: maximal rotation in degrees (``0``: no rotation).

    Returns:
        An :class:`AugmentationDraw`.

    Example:

    >>> from adiencekit.data.batch_augment import draw_augmentation
    >>> draw = draw_augmentation([1, 2], 1000, (40, 40), 32)
    >>> int(draw.top.numpy().min()), int(draw.top.numpy().max()), bool(0.4 < draw.flip.numpy().mean() < 0.6)
    (0, 8, True)
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=4)
    count = tf.reshape(tf.cast(count, tf.int32), [1])
    height, width = (tf.cast(side, tf.int32) for side in image_shape)
    top = tf.random.stateless_uniform(count, seeds[0], minval=0, maxval=height - crop_size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform(count, seeds[1], minval=0, maxval=width - crop_size + 1, dtype=tf.int32)
    coins = tf.random.stateless_uniform(count, seeds[2], minval=0, maxval=2, dtype=tf.int32)
    flips = tf.equal(coins, 1) if flip else tf.zeros(count, tf.bool)
    limit = rotation * math.pi / 180.0
    if rotation > 0:
        angle = tf.random.stateless_uniform(count, seeds[3], minval=-limit, maxval=limit)
    else:
        angle = tf.zeros(count, tf.float32)
    return AugmentationDraw(top, left, flips, angle)


@tf.function(jit_compile=True)
def _gather_crops(images: tf.Tensor, top: tf.Tensor, left: tf.Tensor, flip: tf.Tensor, crop: int) -> tf.Tensor:
    # One module-level function: every pipeline shares its traces and XLA compilations.
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    steps = tf.range(crop)
    rows = top[:, None] + steps[None, :]
    cols = left[:, None] + tf.where(flip[:, None], crop - 1 - steps[None, :], steps[None, :])
    index = (tf.range(batch)[:, None, None] * height + rows[:, :, None]) * width + cols[:, None, :]
    return tf.gather(tf.reshape(images, [-1, shape[3]]), index)


def crop_and_flip(images: Any, draw: AugmentationDraw, crop_size: int) -> tf.Tensor:
    """Cut each image's crop at its drawn offset and mirror the drawn ones: one gather.

    Args:
        images: ``(batch, height, width, channels)`` tensor of any dtype.
        draw: the batch's :class:`AugmentationDraw` (``angle`` is ignored).
        crop_size: side of the crops.

    Returns:
        ``(batch, crop_size, crop_size, channels)`` tensor of the input's dtype: image
        ``i`` is ``images[i, top:top + crop_size, left:left + crop_size]``, its columns
        reversed where ``flip[i]``.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.batch_augment import AugmentationDraw, crop_and_flip
    >>> images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1)
    >>> draw = AugmentationDraw(top=[0, 1], left=[1, 0], flip=[False, True], angle=[0.0, 0.0])
    >>> crop_and_flip(images, draw, 2)[..., 0].numpy().tolist()
    [[[1, 2], [5, 6]], [[21, 20], [25, 24]]]
    """
    images = tf.convert_to_tensor(images)
    top, left = tf.cast(draw.top, tf.int32), tf.cast(draw.left, tf.int32)
    return _gather_crops(images, top, left, tf.cast(draw.flip, tf.bool), int(crop_size))


def affine_transforms(
    angle: Any, image_shape: tuple[Any, Any], top: Any = 0, left: Any = 0, flip: Any = False, crop_size: Any = 0
) -> tf.Tensor:
    """``ImageProjectiveTransformV3`` transforms: flip, then crop offset, then rotation about the centre.

    Each row maps an output pixel ``(x, y)`` to the input pixel it samples: ``x`` is first
    mirrored within the crop (``crop_size - 1 - x``) where ``flip``, shifted by the crop
    offset ``(left, top)``, then rotated by ``angle`` radians about the centre of the
    ``image_shape`` image. With the defaults it is a plain rotation of the whole image.

    Args:
        angle: rotation(s) in radians, scalar or ``(n,)``.
        image_shape: ``(height, width)`` of the input images.
        top: crop row offset(s).
        left: crop column offset(s).
        flip: whether each crop is mirrored.
        crop_size: the crop's side (only used by the flip).

    Returns:
        ``float32`` tensor ``(n, 8)``.

    Example:

    >>> from adiencekit.data.batch_augment import affine_transforms
    >>> t = affine_transforms([0.0], (5, 5), top=[1], left=[2], flip=[True], crop_size=3)
    >>> (t.numpy() + 0.0).tolist()  # x_in = 4 - x, y_in = y + 1
    [[-1.0, 0.0, 4.0, 0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    angle = tf.reshape(tf.cast(angle, tf.float32), [-1])
    height, width = (tf.cast(side, tf.float32) for side in image_shape)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    mirrored = tf.cast(flip, tf.float32) * tf.ones_like(angle)
    step = 1.0 - 2.0 * mirrored  # x -> step * x + shift within the uncropped image
    shift = tf.cast(left, tf.float32) + mirrored * (tf.cast(crop_size, tf.float32) - 1.0)
    down = tf.cast(top, tf.float32) * tf.ones_like(angle)
    zeros = tf.zeros_like(angle)
    return tf.stack([
        cos * step, -sin, cos * (shift - cx) - sin * (down - cy) + cx,
        sin * step, cos, sin * (shift - cx) + cos * (down - cy) + cy,
        zeros, zeros,
    ], axis=1)


def rotate_crop_and_flip(images: Any, draw: AugmentationDraw, crop_size: int) -> tf.Tensor:
    """Rotate each image about its centre, then cut and mirror its crop: one batched transform.

    Equal (up to float rounding) to rotating the whole image with
    :func:`adiencekit.data.pipeline.rotate` and then slicing and flipping as
    :func:`crop_and_flip` does, but only the crop's pixels are interpolated.

    Args:
        images: ``(batch, height, width, channels)`` tensor.
        draw: the batch's :class:`AugmentationDraw`.
        crop_size: side of the crops.

    Returns:
        ``(batch, crop_size, crop_size, channels)``: ``uint8`` for ``uint8`` input (rounded),
        ``float32`` otherwise.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.batch_augment import AugmentationDraw, rotate_crop_and_flip
    >>> images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype("uint8")
    >>> draw = AugmentationDraw(top=[0, 1], left=[1, 0], flip=[False, True], angle=[0.0, 0.0])
    >>> rotate_crop_and_flip(images, draw, 2)[..., 0].numpy().tolist()
    [[[1, 2], [5, 6]], [[21, 20], [25, 24]]]
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    transforms = affine_transforms(draw.angle, (shape[1], shape[2]), draw.top, draw.left, draw.flip, crop_size)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32),
        transforms=transforms,
        output_shape=tf.constant([crop_size, crop_size], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return out if images.dtype.is_floating else to_uint8(out)


def augment_batch(images: Any, seed: Any, crop_size: int, *, flip: bool = True, rotation: float = 0.0) -> tf.Tensor:
    """Training augmentation of a batch: every image its own random crop, flip and rotation.

    Args:
        images: ``(batch, height, width, 3)`` images (``uint8`` or float).
        seed: shape ``(2,)`` integer tensor; the same seed gives the same output.
        crop_size: side of the random crops.
        flip: mirror each crop left-right with probability 1/2.
        rotation: maximal rotation in degrees (``0`` = none).

    Returns:
        ``(batch, crop_size, crop_size, 3)`` of the input's dtype (a rotated ``uint8``
        batch is rounded back to ``uint8``; a float batch is returned as float).

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.batch_augment import augment_batch
    >>> same = np.repeat(np.arange(40 * 40 * 3).reshape(1, 40, 40, 3) % 256, 16, 0).astype("uint8")
    >>> crops = augment_batch(same, [5, 6], 32, rotation=5.0).numpy()
    >>> crops.shape, len({crop.tobytes() for crop in crops}) > 1  # one image, different crops
    ((16, 32, 32, 3), True)
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    draw = draw_augmentation(seed, shape[0], (shape[1], shape[2]), crop_size, flip=flip, rotation=rotation)
    if rotation > 0:
        out = rotate_crop_and_flip(images, draw, crop_size)
        if images.dtype.is_floating:
            out = tf.cast(out, images.dtype)
    else:
        out = crop_and_flip(images, draw, crop_size)
    return tf.ensure_shape(out, [None, crop_size, crop_size, images.shape[-1]])
