"""The input pipeline: the one place in adiencekit where images are decoded, resized and cropped.

:func:`build_pipeline` turns a list of image paths (and labels) into a ``tf.data.Dataset``
that yields ``float32`` RGB images in ``[0, 255]``. Its steps, in order:

1. read the file and decode it by *content* (a PNG, GIF or BMP saved as ``.jpg`` still
   decodes); grayscale becomes RGB and CMYK JPEGs (Adobe/Photoshop convention, which
   TensorFlow's libjpeg decoder converts itself) become correct RGB;
2. for a JPEG much larger than the target, decode with libjpeg's reduced-ratio DCT
   (``ratio`` 2, 4 or 8, picked in the graph from ``tf.io.extract_jpeg_shape`` so that
   the decoded image is still at least ``image_size`` on its short side) — several
   times faster than a full decode followed by a resize, with nearly the same result;
3. resize to ``image_size x image_size`` with an antialiasing filter, kept as ``uint8``;
4. optionally cache those ``uint8`` images (in memory or in files);
   with ``balance``, steps 1-4 and the shuffle run once per age group and an epoch draws
   from the groups at balanced shares (:mod:`adiencekit.data.balance`);
5. training: shuffle, batch, then augment the whole batch at once
   (:func:`adiencekit.data.batch_augment.augment_batch`): every image gets its own
   uniformly drawn ``crop_size`` crop offset, a fair coin for a horizontal flip and, with
   ``rotation``, its own small random rotation, still ``uint8``;
   evaluation: the centre crop of each image, then batch;
6. convert to ``float32`` (unless ``output_dtype="uint8"``), prefetch.

Randomness and epochs: with a ``seed`` the whole output is reproducible — two pipelines
built with the same arguments yield identical batches. Each *iteration* over the dataset
(each Keras epoch) draws a new shuffle order and new crops/flips/rotations, and the
sequence of epochs is itself reproducible: every batch is paired with a random value from
``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, the stateless seed of
all its draws, so the augmentation of a batch depends on the seed, the epoch and the
batch's position, not on thread scheduling in the parallel ``map``. (So an image's crop
also depends on ``batch_size``; unbatched pipelines augment in batches of
:data:`UNBATCHED_AUGMENT_BATCH` and unbatch.)

Example:

>>> import tempfile, pathlib
>>> import numpy as np
>>> from PIL import Image
>>> from adiencekit.data.pipeline import build_pipeline
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> paths = []
>>> for i in range(3):
...     _ = Image.new("RGB", (80, 60), (60 * i, 0, 0)).save(tmp / f"{i}.jpg")
...     paths.append(tmp / f"{i}.jpg")
>>> ds = build_pipeline(paths, [0, 1, 0], training=True, image_size=48, crop_size=40,
...                     batch_size=2, seed=0)
>>> images, labels = next(iter(ds))
>>> images.shape, images.dtype.name, labels.dtype.name
(TensorShape([2, 40, 40, 3]), 'float32', 'int32')
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from adiencekit.data.balance import check_balance
from adiencekit.data.batch_augment import affine_transforms, augment_batch, to_uint8
from adiencekit.data.pipeline_args import JPEG_DECODE_RATIOS, augments, check_cache_folder, check_pipeline_args

__all__ = [
    "JPEG_DECODE_RATIOS",
    "UNBATCHED_AUGMENT_BATCH",
    "build_pipeline",
    "center_crop",
    "decode_image_bytes",
    "decode_image_file",
    "jpeg_decode_ratio",
    "load_image",
    "random_augment",
    "resize",
    "rotate",
]

_JPEG_MAGIC = b"\xff\xd8\xff"
_AUTOTUNE = tf.data.AUTOTUNE
# Shuffle buffer after a *file* cache, where a buffer of the whole data set would hold
# every decoded image in memory a second time.
_FILE_CACHE_SHUFFLE_BUFFER = 2048
#: With ``batch_size=None`` training images are augmented in batches of this many, then unbatched.
UNBATCHED_AUGMENT_BATCH = 32


# --------------------------------------------------------------------------- decoding
def jpeg_decode_ratio(height: Any, width: Any, target_size: int) -> tf.Tensor:
    """The largest libjpeg ratio that keeps the decoded short side at least ``target_size``.

    Args:
        height: source height (int or scalar tensor).
        width: source width (int or scalar tensor).
        target_size: the side the image will be resized to.

    Returns:
        An ``int32`` scalar tensor: 1, 2, 4 or 8.

    Example:

    >>> from adiencekit.data.pipeline import jpeg_decode_ratio
    >>> [int(jpeg_decode_ratio(s, s, 256)) for s in (400, 512, 816, 1100, 2100)]
    [1, 2, 2, 4, 8]
    """
    short_side = tf.minimum(tf.cast(height, tf.int32), tf.cast(width, tf.int32))
    index = tf.zeros([], tf.int32)
    for ratio in JPEG_DECODE_RATIOS[1:]:
        index += tf.cast(short_side >= ratio * target_size, tf.int32)
    return tf.gather(tf.constant(JPEG_DECODE_RATIOS, tf.int32), index)


def _decode_jpeg(contents: tf.Tensor, target_size: int | None) -> tf.Tensor:
    if target_size is None:
        return tf.io.decode_jpeg(contents, channels=3)
    shape = tf.io.extract_jpeg_shape(contents)
    ratio = jpeg_decode_ratio(shape[0], shape[1], target_size)
    index = tf.cast(tf.math.log(tf.cast(ratio, tf.float32)) / math.log(2.0) + 0.5, tf.int32)
    branches = [
        (lambda r=r: tf.io.decode_jpeg(contents, channels=3, ratio=r)) for r in JPEG_DECODE_RATIOS
    ]
    return tf.switch_case(index, branches)


def decode_image_bytes(contents: tf.Tensor | bytes, target_size: int | None = None) -> tf.Tensor:
    """Decode JPEG, PNG, GIF or BMP bytes (detected by content) to ``uint8`` RGB.

    Grayscale and palette images become RGB, an alpha channel is dropped, an animated GIF
    gives its first frame, and a CMYK JPEG is converted to RGB.

    Args:
        contents: the encoded file, a scalar string tensor or ``bytes``.
        target_size: when given, a JPEG at least 2x/4x/8x that size on its short side is
            decoded at 1/2, 1/4 or 1/8 scale (see :func:`jpeg_decode_ratio`); the result
            still has to be resized. ``None`` decodes at full size.

    Returns:
        A ``uint8`` tensor of shape ``(height, width, 3)``.

    Example:

    >>> import io
    >>> from PIL import Image
    >>> from adiencekit.data.pipeline import decode_image_bytes
    >>> buffer = io.BytesIO(); Image.new("L", (1024, 600), 128).save(buffer, "JPEG")
    >>> decode_image_bytes(buffer.getvalue(), target_size=256).shape
    TensorShape([300, 512, 3])
    """
    if target_size is not None and (not isinstance(target_size, int) or target_size < 1):
        raise ValueError(f"target_size must be a positive int or None, got {target_size!r}")
    contents = tf.convert_to_tensor(contents, tf.string)
    is_jpeg = tf.equal(tf.strings.substr(contents, 0, 3), _JPEG_MAGIC)
    image = tf.cond(
        is_jpeg,
        lambda: _decode_jpeg(contents, target_size),
        lambda: tf.io.decode_image(contents, channels=3, expand_animations=False),
    )
    image.set_shape([None, None, 3])
    return image


def decode_image_file(path: tf.Tensor | str | os.PathLike[str], target_size: int | None = None) -> tf.Tensor:
    """Read and decode one image file; see :func:`decode_image_bytes`.

    Args:
        path: file path (string or scalar string tensor).
        target_size: enables reduced-ratio JPEG decoding for this target side.

    Returns:
        A ``uint8`` tensor of shape ``(height, width, 3)``.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    return decode_image_bytes(tf.io.read_file(path), target_size)


# ----------------------------------------------------------------- geometric operations
def resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resize an image to ``size x size`` (area averaging when shrinking); returns ``uint8``.

    Args:
        image: ``(height, width, channels)`` tensor of any real dtype in ``[0, 255]``.
        size: output side in pixels.

    Returns:
        ``uint8`` tensor of shape ``(size, size, channels)``.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.pipeline import resize
    >>> out = resize(np.full((100, 80, 3), 200, np.uint8), 32)
    >>> out.shape, out.dtype.name, int(out.numpy().min()), int(out.numpy().max())
    (TensorShape([32, 32, 3]), 'uint8', 200, 200)
    """
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    shrinking = tf.logical_and(shape[0] >= size, shape[1] >= size)
    # Shrinking: area averaging, a box filter that is antialiased by construction and
    # about 1.6x faster than antialiased bilinear. Enlarging: bilinear.
    resized = tf.cond(
        shrinking,
        lambda: tf.image.resize(image, [size, size], method="area"),
        lambda: tf.image.resize(image, [size, size], method="bilinear"),
    )
    return to_uint8(resized)


def center_crop(image: tf.Tensor, crop_size: int) -> tf.Tensor:
    """The ``crop_size x crop_size`` centre of an image (offset rounded down).

    Args:
        image: ``(height, width, channels)`` tensor, at least ``crop_size`` on each side.
        crop_size: side of the crop.

    Returns:
        A tensor of shape ``(crop_size, crop_size, channels)``, same dtype.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.pipeline import center_crop
    >>> center_crop(np.arange(25).reshape(5, 5, 1), 3)[..., 0].numpy().tolist()
    [[6, 7, 8], [11, 12, 13], [16, 17, 18]]
    """
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    top = (shape[0] - crop_size) // 2
    left = (shape[1] - crop_size) // 2
    return tf.image.crop_to_bounding_box(image, top, left, crop_size, crop_size)


def rotate(image: tf.Tensor, angle: tf.Tensor | float) -> tf.Tensor:
    """Rotate an image about its centre by ``angle`` radians (bilinear, reflected borders).

    Args:
        image: ``(height, width, channels)`` tensor.
        angle: rotation in radians (counter-clockwise for positive angles).

    Returns:
        ``float32`` tensor of the same shape.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.pipeline import rotate
    >>> image = np.random.default_rng(0).uniform(0, 255, (9, 9, 3)).astype("float32")
    >>> bool(np.allclose(rotate(image, 0.0), image))
    True
    """
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    shape = tf.shape(image)
    # Maps each output pixel (x, y) to the input pixel it samples.
    transform = affine_transforms(angle, (shape[0], shape[1]))[0]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform[tf.newaxis],
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return tf.reshape(rotated[0], shape)


def random_augment(
    image: tf.Tensor,
    seed: tf.Tensor,
    crop_size: int,
    *,
    flip: bool = True,
    rotation: float = 0.0,
) -> tf.Tensor:
    """Training augmentation of one image, fully determined by ``seed``.

    The one-image case of :func:`adiencekit.data.batch_augment.augment_batch` (what the
    pipeline applies to each batch): a random rotation in ``[-rotation, rotation]`` degrees
    about the centre (when ``rotation > 0``), a uniformly drawn ``crop_size`` crop, and a
    horizontal flip with probability 1/2 (when ``flip``).

    Args:
        image: ``(size, size, 3)`` image (``uint8`` or float).
        seed: shape ``(2,)`` integer tensor for the stateless random ops.
        crop_size: side of the random crop.
        flip: whether to flip left-right with probability 1/2.
        rotation: maximal rotation in degrees.

    Returns:
        Tensor ``(crop_size, crop_size, 3)`` of the input's dtype (a rotated ``uint8``
        image is rounded back to ``uint8``); the pipeline casts whole batches to float32.

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.pipeline import random_augment
    >>> image = np.random.default_rng(0).integers(0, 255, (40, 40, 3)).astype("uint8")
    >>> a = random_augment(image, [1, 2], 32, rotation=10.0)
    >>> b = random_augment(image, [1, 2], 32, rotation=10.0)
    >>> a.shape, bool((a.numpy() == b.numpy()).all())
    (TensorShape([32, 32, 3]), True)
    """
    batch = tf.convert_to_tensor(image)[tf.newaxis]
    return augment_batch(batch, seed, crop_size, flip=flip, rotation=rotation)[0]


def load_image(path: tf.Tensor | str | os.PathLike[str], image_size: int) -> tf.Tensor:
    """Decode a file (reduced-ratio when possible) and resize it to ``image_size`` square.

    Args:
        path: image file path.
        image_size: output side.

    Returns:
        ``uint8`` tensor ``(image_size, image_size, 3)``.
    """
    image = resize(decode_image_file(path, target_size=image_size), image_size)
    image.set_shape([image_size, image_size, 3])
    return image


# --------------------------------------------------------------------------- pipeline
def _balanced_stream(
    stream: Any, label_arrays: Any, balance: str, count: int, seed: int | None, training: bool
) -> tf.data.Dataset:
    """``count`` faces a epoch drawn group by group at :func:`~adiencekit.data.balance.balanced_sampling`'s shares.

    Each group is its own stream (decoded, cached, shuffled with its own seed, repeated);
    ``sample_from_datasets`` picks the group of each face, seeded and drawn anew each epoch.
    """
    from adiencekit.data.balance import balanced_sampling  # noqa: PLC0415 (only balanced pipelines need it)

    if not training or label_arrays is None:
        raise ValueError("balance applies to a training pipeline with labels (training=True and labels given)")
    sampling = balanced_sampling(label_arrays, balance)
    streams = [
        stream(rows, None if seed is None else seed + 1 + index, f".group{group}").repeat()
        for index, (group, rows) in enumerate(zip(sampling.groups, sampling.members))
    ]
    mixed = tf.data.Dataset.sample_from_datasets(
        streams, weights=list(sampling.shares), seed=seed, rerandomize_each_iteration=True
    )
    return mixed.take(count)


def build_pipeline(
    paths: Sequence[str | os.PathLike[str]],
    labels: Sequence[int] | np.ndarray | Mapping[str, Sequence[int] | np.ndarray] | None = None,
    *,
    training: bool,
    image_size: int = 256,
    crop_size: int = 227,
    batch_size: int | None = 32,
    shuffle: bool | None = None,
    seed: int | None = None,
    cache: bool | str | os.PathLike[str] = False,
    flip: bool = True,
    rotation: float = 0.0,
    deterministic: bool | None = None,
    drop_remainder: bool = False,
    shuffle_buffer: int | None = None,
    check_images: bool = False,
    output_dtype: str = "float32",
    balance: str | None = None,
) -> tf.data.Dataset:
    """Build the ``tf.data`` input pipeline for a list of face images.

    Args:
        paths: image file paths.
        labels: ``None`` (the dataset yields images only), a sequence of int class
            indices (one per path), or a dict of such sequences for multitask training,
            e.g. ``{"gender": ..., "age": ...}``; ``-1`` marks a missing label.
        training: ``True`` for random crops, flips and rotations (and shuffling by
            default), ``False`` for the centre crop.
        image_size: side images are resized to before cropping (256 in Levi & Hassner).
        crop_size: side of the crops fed to the model (``<= image_size``).
        batch_size: batch size, or ``None`` for unbatched elements.
        shuffle: shuffle the order each epoch; defaults to ``training``.
        seed: makes shuffling and augmentation reproducible (see the module docstring).
        cache: ``False``; ``True`` caches the decoded, resized ``uint8`` images in memory;
            a string is a file-name prefix for an on-disk cache (its folder is created).
            A file cache is reused by later runs as is: use a new prefix when the paths,
            ``image_size`` or the files change.
        flip: random horizontal flips when training.
        rotation: maximal random rotation in degrees when training (``0`` = none).
        deterministic: order of the parallel ``map``; ``None`` means deterministic when a
            seed is given (tf.data's default otherwise); ``False`` lets elements come out
            of order for speed: the output is then no longer reproducible (without a
            cache the batches are filled in the order images finish decoding, and each
            crop follows its position in its batch).
        drop_remainder: drop the last incomplete batch.
        shuffle_buffer: shuffle buffer size; default the whole data set (shuffling the
            paths before decoding when nothing is cached, the cached images otherwise),
            except after a file cache where it is 2048.
        check_images: inspect every file first (:func:`adiencekit.data.images.scan_images`)
            and raise a ``ValueError`` naming each missing or undecodable one, instead of
            failing mid-epoch.
        output_dtype: ``"float32"`` (default) or ``"uint8"``. The zoo's models accept
            both (their float32 inputs cast on the device), and ``uint8`` batches are four
            times smaller to produce and to copy to an accelerator.
        balance: ``None`` (each face once per epoch) or a mode of
            :data:`adiencekit.data.balance.BALANCE_MODES` (training only, with labels):
            each epoch draws as many faces as there are, rare groups more often
            (:mod:`adiencekit.data.balance`), seeded, a new draw each epoch.

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)``: images ``float32`` (or ``uint8``) in ``[0, 255]``
        of shape ``(batch, crop_size, crop_size, 3)``, labels ``int32`` ``(batch,)`` or a
        dict of them; only images when ``labels`` is ``None``. Prefetched.

    Raises:
        ValueError: on inconsistent arguments (sizes, lengths, label values, ...).
        TypeError: when ``paths`` is not a sequence of paths.

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from adiencekit.data.pipeline import build_pipeline
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = Image.new("RGB", (300, 300), "gray").save(tmp / "a.jpg")
    >>> ds = build_pipeline([tmp / "a.jpg"], {"gender": [1], "age": [-1]}, training=False,
    ...                     batch_size=None)
    >>> image, labels = next(iter(ds))
    >>> image.shape, {k: int(v) for k, v in labels.items()}
    (TensorShape([227, 227, 3]), {'gender': 1, 'age': -1})
    """
    path_list, label_arrays = check_pipeline_args(
        paths, labels, image_size=image_size, crop_size=crop_size, batch_size=batch_size, rotation=rotation,
        seed=seed, cache=cache, shuffle_buffer=shuffle_buffer, output_dtype=output_dtype, check_images=check_images,
    )
    count = len(path_list)
    check_balance(balance)

    shuffle = training if shuffle is None else bool(shuffle)
    if deterministic is None and seed is not None:
        deterministic = True
    file_cache = None if isinstance(cache, bool) else os.path.expanduser(os.fspath(cache))

    cached = bool(cache) or file_cache is not None
    if file_cache is not None:
        check_cache_folder(Path(file_cache).parent)

    def _load(path: tf.Tensor, *label: Any) -> Any:
        image = load_image(path, image_size)
        return (image, *label) if label else image

    def _stream(rows: np.ndarray | None, stream_seed: int | None, cache_suffix: str = "") -> tf.data.Dataset:
        """Decoded (and cached) images of ``rows`` (all when ``None``), shuffled when asked."""
        size = count if rows is None else len(rows)
        paths_part = path_list if rows is None else [path_list[i] for i in rows]
        path_tensor = tf.constant(paths_part, dtype=tf.string, shape=[size])
        if label_arrays is None:
            part = tf.data.Dataset.from_tensor_slices(path_tensor)
        else:
            labels_part = label_arrays if rows is None else tf.nest.map_structure(lambda a: a[rows], label_arrays)
            part = tf.data.Dataset.from_tensor_slices((path_tensor, labels_part))

        def _shuffle(dataset: tf.data.Dataset, default_buffer: int) -> tf.data.Dataset:
            buffer = shuffle_buffer or default_buffer
            return dataset.shuffle(max(1, min(buffer, size)), seed=stream_seed, reshuffle_each_iteration=True)

        if shuffle and not cached:
            part = _shuffle(part, size)
        part = part.map(_load, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
        if file_cache is not None:
            part = part.cache(file_cache + cache_suffix)
        elif cache:
            part = part.cache()
        if shuffle and cached:
            part = _shuffle(part, _FILE_CACHE_SHUFFLE_BUFFER if file_cache is not None else size)
        return part

    if balance is None:
        ds = _stream(None, seed)
    else:
        ds = _balanced_stream(_stream, label_arrays, balance, count, seed, training)

    if training and not augments(image_size, crop_size, flip=flip, rotation=rotation):
        # Nothing to draw (the crop is the whole image, no flip, no rotation: the model
        # augments on its device, TrainConfig.augment_on="device"): shuffled batches only.
        if batch_size is not None:
            ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    elif training:
        # Batch first, then one vectorised augmentation per batch, seeded by the batch's
        # own draw from a random stream that is new each epoch (see the module docstring).
        augment_size = UNBATCHED_AUGMENT_BATCH if batch_size is None else int(batch_size)
        ds = ds.batch(augment_size, drop_remainder=drop_remainder and batch_size is not None)
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms))

        def _augment(element: Any, random: tf.Tensor) -> Any:
            images, label = (element[0], element[1:]) if isinstance(element, tuple) else (element, ())
            batch_seed = tf.stack([random, tf.bitwise.right_shift(random, 32)])
            images = augment_batch(images, batch_seed, crop_size, flip=flip, rotation=float(rotation))
            return (images, *label) if label else images

        ds = ds.map(_augment, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
        if batch_size is None:
            ds = ds.unbatch()
    else:

        def _center(image: tf.Tensor, *label: Any) -> Any:
            image = center_crop(image, crop_size)
            image.set_shape([crop_size, crop_size, 3])
            return (image, *label) if label else image

        ds = ds.map(_center, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
        if batch_size is not None:
            ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)

    # Crops and flips stay uint8 (4x less memory traffic); one cast per batch.
    if output_dtype == "float32":

        def _to_float(image: tf.Tensor, *label: Any) -> Any:
            image = tf.cast(image, tf.float32)
            return (image, *label) if label else image

        ds = ds.map(_to_float, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
    return ds.prefetch(_AUTOTUNE)
