"""The Grain twin of the ``tf.data`` pipeline: the same images and labels without TensorFlow.

Like ``keras.utils.image_dataset_from_directory(..., format="grain")``, :func:`build_grain_pipeline`
takes the arguments of :func:`adiencekit.data.pipeline.build_pipeline` and returns a
``grain.IterDataset`` that ``keras.Model.fit`` accepts on every backend. It needs
``grain``, Pillow and NumPy (SciPy for rotations; OpenCV, where installed, for speed),
not TensorFlow. Its steps:

1. open the file with Pillow (by content: JPEG, PNG, GIF first frame, BMP; grayscale,
   palette, alpha and CMYK become RGB); a JPEG at least 2x/4x/8x the target on its short
   side is decoded at 1/2, 1/4 or 1/8 scale by libjpeg (Pillow's ``draft``), the same
   rule and the same decoded size as the ``tf.data`` pipeline (:func:`decode_image_array`);
2. resize to ``image_size`` square (:func:`resize_array`: a box filter when both sides
   shrink, bilinear otherwise, as the ``tf.data`` pipeline chooses), ``uint8``. Where
   OpenCV is installed (``opencv-python-headless``, in the ``jax`` extra), an RGB or
   grayscale JPEG that is enlarged is decoded and resized by OpenCV instead
   (:mod:`adiencekit.data.opencv_images`): 0.23 against 1.04 ms of CPU an image on
   200x200 UTKFace faces, where Pillow's bilinear enlargement alone costs 0.55-0.70 ms;
3. optionally cache those ``uint8`` images in memory (``cache=True``), each stored the
   first time it is decoded;
4. training: a new shuffle each epoch, then per batch one draw of every image's own crop
   offset, flip and angle, and each image's window sliced out of its cached or decoded
   image (:func:`adiencekit.data.array_augment.random_augment_batch`: a random rotation
   with SciPy, reflected borders, a random ``crop_size`` crop, a random horizontal flip);
   evaluation: the centre crop (offset rounded down);
5. batch (``uint8`` or ``float32``), with ``os.cpu_count()`` threads (at most 16)
   decoding (Pillow's and OpenCV's decoders and resizes run without Python's GIL, and
   Pillow is let keep a few freed image buffers, :func:`keep_pillow_blocks`), or one
   thread once every image is cached (a cached epoch only slices), and a prefetch buffer
   ahead of the consumer.

Each iteration over the returned dataset (each Keras epoch) is the next epoch: a new order
and new crops. With a ``seed`` the sequence of epochs is reproducible and does not depend
on thread scheduling: epoch ``k`` shuffles with Grain's index shuffle seeded by ``seed``
and ``k``, and the crops, flips and angles of each batch come from a generator seeded by
``seed``, ``k`` and the batch's position (so they also depend on ``batch_size``).

Where the two engines differ: labels, masks (``-1``), shapes, dtypes, batch boundaries
and the evaluation order are the same; pixels are close but not equal. Pillow, OpenCV
and TensorFlow decode JPEG slightly differently (Pillow's accurate integer DCT against
TensorFlow's fast one: about 0.6 levels on average), and Pillow's box filter takes whole
pixels where TensorFlow's ``area`` weighs partly covered ones, so shrinking by a
non-integer factor differs at sharp edges. Measured on the evaluation crops (256, centre
227): the 19 real Adience faces (shrunk) differ by 1.6 levels on average, at most 2.3
for one image, 99% of values within 11 levels, single edge pixels by up to 109; 300 real
UTKFace crops (enlarged 200 to 256) by 0.91 levels on average through OpenCV (at most
1.06 for one image, 99% within 3 levels, no value by more than 5) and 0.99 through
Pillow (at most 1.17 for one image, 99% within 3, none by more than 5); so the same
seed gives slightly different pixels where OpenCV is installed and where not. A seed gives a
reproducible order and reproducible crops in each engine, but not the *same* order or
crops in both (tf.data's shuffle and stateless random ops have no NumPy equivalent).
Only an in-memory cache exists (``cache`` as a file path is ``tf.data``'s), and Grain
always shuffles the whole set (random access), so ``shuffle_buffer`` is ``tf.data``'s.

Example:

>>> import pytest; _ = pytest.importorskip("grain")  # pip install 'adiencekit[jax]'
>>> import tempfile, pathlib
>>> from PIL import Image
>>> from adiencekit.data.grain_pipeline import build_grain_pipeline
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> paths = []
>>> for i in range(3):
...     _ = Image.new("RGB", (80, 60), (60 * i, 0, 0)).save(tmp / f"{i}.jpg")
...     paths.append(tmp / f"{i}.jpg")
>>> ds = build_grain_pipeline(paths, [0, 1, 0], training=True, image_size=48, crop_size=40,
...                           batch_size=2, seed=0)
>>> images, labels = next(iter(ds))
>>> images.shape, images.dtype.name, labels.dtype.name
((2, 40, 40, 3), 'float32', 'int32')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from adiencekit.data.array_augment import center_crop_array, random_augment_array, random_augment_batch
from adiencekit.data.opencv_images import bilinear_resize_opencv, decode_jpeg_opencv, opencv, shrinks
from adiencekit.data.pipeline_args import JPEG_DECODE_RATIOS, augments, check_pipeline_args
from adiencekit.errors import ConfigError

__all__ = [
    "EpochDataset",
    "build_grain_pipeline",
    "center_crop_array",
    "decode_image_array",
    "keep_pillow_blocks",
    "load_image_array",
    "random_augment_array",
    "resize_array",
]

#: The most threads that decode at once (Keras's and Grain's default is 16).
_MAX_THREADS = 16


def _grain() -> Any:
    try:
        import grain
    except ImportError:
        raise ConfigError(
            "format='grain' needs the grain package: pip install grain (or pip install \"adiencekit[jax]\")"
        ) from None
    return grain


def keep_pillow_blocks(count: int) -> int:
    """Let Pillow reuse up to ``count`` freed image buffers instead of returning them to the system.

    Pillow frees every decoded and resized image's memory by default (``PILLOW_BLOCKS_MAX``
    0), so each image is written into fresh pages: 82 page faults an image on 200x200
    JPEGs, and 12% of the decode-and-resize time (1.00 against 0.88 ms an image measured
    with 16 kept blocks). This raises Pillow's limit to ``count`` (never lowers it), and
    leaves it alone when the user set ``PILLOW_BLOCKS_MAX``.

    Args:
        count: buffers to keep (a few per decoding thread: the decoded and the resized image).

    Returns:
        Pillow's limit now.

    Example:

    >>> from PIL import Image
    >>> import os
    >>> from adiencekit.data.grain_pipeline import keep_pillow_blocks
    >>> keep_pillow_blocks(8) >= 8 or "PILLOW_BLOCKS_MAX" in os.environ
    True
    """
    current = int(Image.core.get_blocks_max())
    if "PILLOW_BLOCKS_MAX" not in os.environ and current < count:
        Image.core.set_blocks_max(count)
    return int(Image.core.get_blocks_max())


def _decode_ratio(short_side: int, target_size: int) -> int:
    """The largest libjpeg ratio keeping the decoded short side at least ``target_size``."""
    return max(ratio for ratio in JPEG_DECODE_RATIOS if short_side >= ratio * target_size or ratio == 1)


def load_image_array(path: str | os.PathLike[str], image_size: int) -> np.ndarray:
    """Decode a file (reduced-ratio for a large JPEG) and resize it to ``image_size`` square.

    An RGB or grayscale JPEG that is enlarged (a side under ``image_size``) or already
    ``image_size`` square is decoded (and resized) by OpenCV where it is installed
    (:mod:`adiencekit.data.opencv_images`: 4.5x less CPU on 200x200 faces); anything
    else, and everything without OpenCV, by Pillow (:func:`decode_image_array`,
    :func:`resize_array`).

    Args:
        path: image file path.
        image_size: output side.

    Returns:
        ``uint8`` array ``(image_size, image_size, 3)``.

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from adiencekit.data.grain_pipeline import load_image_array
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
    >>> Image.new("L", (100, 80), 200).save(path)
    >>> image = load_image_array(path, 32)
    >>> image.shape, image.dtype.name, int(image.min()), int(image.max())
    ((32, 32, 3), 'uint8', 200, 200)
    """
    with open(path, "rb") as file, Image.open(file) as opened:
        if _opencv_decodes(opened, image_size):
            file.seek(0)
            decoded = decode_jpeg_opencv(file.read())
            if decoded is not None:
                return bilinear_resize_opencv(decoded, image_size)
        return _resized(_decoded_rgb(opened, image_size), image_size)


def _opencv_decodes(opened: Image.Image, image_size: int) -> bool:
    """Whether OpenCV takes this file: an RGB or grayscale JPEG to be enlarged or kept at its size."""
    enlarged_or_kept = opened.size == (image_size, image_size) or not shrinks(opened.height, opened.width, image_size)
    return opened.format == "JPEG" and opened.mode in ("RGB", "L") and enlarged_or_kept and opencv() is not None


def decode_image_array(path: str | os.PathLike[str], target_size: int | None = None) -> np.ndarray:
    """Decode a file to ``uint8`` RGB, a large JPEG at a reduced ratio as the ``tf.data`` pipeline does.

    Args:
        path: image file path.
        target_size: when given, a JPEG at least 2x/4x/8x that size on its short side is
            decoded at 1/2, 1/4 or 1/8 scale, to the size libjpeg gives TensorFlow
            (each side rounded up); ``None`` decodes at full size.

    Returns:
        ``uint8`` array ``(height, width, 3)``.

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from adiencekit.data.grain_pipeline import decode_image_array
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "odd.jpg"
    >>> Image.new("RGB", (601, 600), "gray").save(path)
    >>> decode_image_array(path, 256).shape  # 1/2 scale: 300 rows, 301 columns
    (300, 301, 3)
    """
    with Image.open(path) as opened:
        return np.asarray(_decoded_rgb(opened, target_size))


def _decoded_rgb(opened: Image.Image, target_size: int | None) -> Image.Image:
    if opened.format == "JPEG" and target_size is not None:
        ratio = _decode_ratio(min(opened.size), target_size)
        if ratio > 1:
            # Pillow picks the scale from whole quotients (size // requested): asking for the
            # rounded-down size gives exactly 1/ratio, where the rounded-up size of an odd
            # side would decode at full size.
            opened.draft("RGB", (opened.width // ratio, opened.height // ratio))
    return opened if opened.mode == "RGB" else opened.convert("RGB")


def _resized(image: Image.Image, size: int) -> np.ndarray:
    resample = Image.Resampling.BOX if shrinks(image.height, image.width, size) else Image.Resampling.BILINEAR
    return np.asarray(image.resize((size, size), resample))


def resize_array(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(height, width, 3)`` ``uint8`` to ``size`` square, kept as ``uint8``: OpenCV or Pillow.

    Pillow's box filter when both sides shrink, bilinear otherwise: the choice of
    :func:`adiencekit.data.pipeline.resize`. Bilinear is OpenCV's where it is installed
    (:func:`adiencekit.data.opencv_images.bilinear_resize_opencv`), Pillow's otherwise;
    both give TensorFlow's values to a level. The box filter takes whole pixels where
    TensorFlow's ``area`` weighs partly covered ones, so shrinking by a non-integer factor
    differs at sharp edges (an exact NumPy area resize was 15x slower than Pillow's).

    Example:

    >>> import numpy as np
    >>> from adiencekit.data.grain_pipeline import resize_array
    >>> out = resize_array(np.full((100, 80, 3), 200, np.uint8), 32)
    >>> out.shape, out.dtype.name, int(out.min()), int(out.max())
    ((32, 32, 3), 'uint8', 200, 200)
    """
    if opencv() is not None and not shrinks(image.shape[0], image.shape[1], size):
        return bilinear_resize_opencv(image, size)
    return _resized(Image.fromarray(image), size)


class _MemoryCache:
    """Decoded, resized images by source index, each stored by the first load of its image.

    One ``uint8`` array per image, not one array for the whole set: NumPy asks the kernel
    for huge pages for a large array, and filling such a cache cost 833 against 109
    microseconds an image (the first epoch's time on 200x200 faces doubled) where the
    kernel had to compact memory for them; small arrays reuse freed memory.
    """

    def __init__(self, load: Callable[[int], np.ndarray], count: int) -> None:
        self._load = load
        self._images: list[np.ndarray | None] = [None] * count

    @property
    def complete(self) -> bool:
        """Whether every image is cached (from then on an epoch only crops)."""
        return all(image is not None for image in self._images)

    def __call__(self, index: int) -> np.ndarray:
        image = self._images[index]
        if image is None:  # two threads loading one image store equal arrays
            image = self._images[index] = self._load(index)
        return image


class _EpochCounter:
    """The number of the next epoch, taken by one iteration at a time."""

    def __init__(self) -> None:
        self.next = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            epoch, self.next = self.next, self.next + 1
        return epoch


def _make_epoch_dataset_class() -> type:
    grain = _grain()

    class _EpochDataset(grain.IterDataset):  # type: ignore[misc,name-defined]
        def __init__(self, make_epoch: Callable[[int], Any], *, forever: bool = False,
                     counter: _EpochCounter | None = None) -> None:
            super().__init__()
            self._make_epoch = make_epoch
            self._forever = forever
            # Shared with the datasets derived by map(): Keras maps the dataset anew for
            # each epoch, and every epoch must still be the next one.
            self._counter = counter or _EpochCounter()

        def _take_epoch(self) -> int:
            return self._counter.take()

        def __iter__(self) -> Any:
            if self._forever:
                return _Forever(self)
            return iter(self._make_epoch(self._take_epoch()))

        def map(self, transform: Callable[[Any], Any]) -> _EpochDataset:  # noqa: A003 (Grain's name)
            """This dataset with ``transform`` applied to every element, still one epoch per iteration."""
            make_epoch = self._make_epoch
            return _EpochDataset(lambda epoch: make_epoch(epoch).map(transform), forever=self._forever,
                                 counter=self._counter)

        def repeat(self) -> _EpochDataset:
            """An endless stream of this dataset's epochs, one after the other (``tf.data``'s ``repeat()``)."""
            return _EpochDataset(self._make_epoch, forever=True, counter=self._counter)

        def __str__(self) -> str:
            return f"EpochDataset(next_epoch={self._counter.next}, forever={self._forever})"

    class _Forever(grain.DatasetIterator):  # type: ignore[misc,name-defined]
        def __init__(self, dataset: _EpochDataset) -> None:
            super().__init__()
            self._dataset = dataset
            self._current = iter(dataset._make_epoch(dataset._take_epoch()))

        def __next__(self) -> Any:
            try:
                return next(self._current)
            except StopIteration:
                self._current = iter(self._dataset._make_epoch(self._dataset._take_epoch()))
            return next(self._current)  # an empty epoch ends the stream, as tf.data's repeat() does

        def get_state(self) -> dict[str, Any]:
            raise NotImplementedError("adiencekit's Grain pipeline does not checkpoint iterators")

        def set_state(self, state: dict[str, Any]) -> None:
            raise NotImplementedError("adiencekit's Grain pipeline does not checkpoint iterators")

    return _EpochDataset


_EPOCH_DATASET: type | None = None


def EpochDataset(make_epoch: Callable[[int], Any]) -> Any:  # noqa: N802 (a class built on first use)
    """A ``grain.IterDataset`` whose ``k``-th iteration yields ``make_epoch(k)``.

    Keras iterates a dataset once per epoch; this is how the Grain pipeline shuffles and
    augments anew each epoch. ``.repeat()`` gives an endless stream of the epochs, as
    ``tf.data.Dataset.repeat()`` does (for ``steps_per_epoch``), and ``.map(fn)`` maps
    every element of every epoch.

    Args:
        make_epoch: epoch number (from 0) to a ``grain.IterDataset`` of that epoch.

    Example:

    >>> import pytest; grain = pytest.importorskip("grain")  # pip install 'adiencekit[jax]'
    >>> from adiencekit.data.grain_pipeline import EpochDataset
    >>> ds = EpochDataset(lambda k: grain.MapDataset.range(3).map(lambda i: 10 * k + i).to_iter_dataset())
    >>> list(ds), list(ds)
    ([0, 1, 2], [10, 11, 12])
    >>> stream = iter(ds.repeat())
    >>> [next(stream) for _ in range(4)]
    [20, 21, 22, 30]
    >>> list(ds.map(lambda x: -x))  # a mapped dataset goes on with the next epoch
    [-40, -41, -42]
    """
    global _EPOCH_DATASET
    if _EPOCH_DATASET is None:
        _EPOCH_DATASET = _make_epoch_dataset_class()
    return _EPOCH_DATASET(make_epoch)


def build_grain_pipeline(
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
    num_threads: int | None = None,
    balance: str | None = None,
) -> Any:
    """Build the Grain input pipeline for a list of face images (no TensorFlow).

    Arguments as :func:`adiencekit.data.pipeline.build_pipeline`, with these differences:
    ``cache`` is ``True`` or ``False`` (memory only); ``shuffle_buffer`` must be ``None``
    (the whole set is shuffled); ``deterministic`` is accepted for the same signature and
    changes nothing (Grain's threads always yield in order).

    Args:
        paths: image file paths.
        labels: ``None``, int class indices, or a dict of them (``-1`` = missing).
        training: random crops, flips and rotations (and shuffling by default).
        image_size: side images are resized to before cropping.
        crop_size: side of the crops fed to the model.
        batch_size: batch size, or ``None`` for unbatched elements.
        shuffle: shuffle the order each epoch; defaults to ``training``.
        seed: makes the order and augmentation of every epoch reproducible.
        cache: ``True`` keeps the decoded, resized ``uint8`` images in memory.
        flip: random horizontal flips when training.
        rotation: maximal random rotation in degrees when training.
        deterministic: ignored (always in order).
        drop_remainder: drop the last incomplete batch.
        shuffle_buffer: must be ``None``.
        check_images: inspect every file first and raise a ``ValueError`` naming the bad ones.
        output_dtype: ``"float32"`` (default) or ``"uint8"``.
        num_threads: decoding threads; default ``os.cpu_count()``, at most 16.
        balance: must be ``None``: group-balanced sampling is on the ``tf.data`` pipeline only.

    Returns:
        A ``grain.IterDataset`` of ``(images, labels)`` NumPy batches: images ``(batch,
        crop_size, crop_size, 3)`` in ``[0, 255]``, labels ``int32`` ``(batch,)`` or a dict
        of them; images only when ``labels`` is ``None``. Each iteration is the next epoch.

    Raises:
        ValueError: on inconsistent arguments (as the ``tf.data`` pipeline).
        ConfigError: (a ``ValueError``) for a file cache, a ``shuffle_buffer``, a ``balance``, or when
            ``grain`` is not installed.
        TypeError: when ``paths`` is not a sequence of paths.

    Example:

    >>> import pytest; _ = pytest.importorskip("grain")  # pip install 'adiencekit[jax]'
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from adiencekit.data.grain_pipeline import build_grain_pipeline
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = Image.new("RGB", (300, 300), "gray").save(tmp / "a.jpg")
    >>> ds = build_grain_pipeline([tmp / "a.jpg"], {"gender": [1], "age": [-1]}, training=False,
    ...                           batch_size=None)
    >>> image, labels = next(iter(ds))
    >>> image.shape, {k: int(v) for k, v in labels.items()}
    ((227, 227, 3), {'gender': 1, 'age': -1})
    """
    del deterministic  # Grain's threaded map keeps the order.
    path_list, label_arrays = check_pipeline_args(
        paths, labels, image_size=image_size, crop_size=crop_size, batch_size=batch_size, rotation=rotation,
        seed=seed, cache=cache, shuffle_buffer=shuffle_buffer, output_dtype=output_dtype, check_images=check_images,
    )
    if not isinstance(cache, bool):
        raise ConfigError(f"format='grain' caches in memory only: pass cache=True or False, not the file {cache!r}")
    if shuffle_buffer is not None:
        raise ConfigError("format='grain' shuffles the whole set; shuffle_buffer applies to format='tf' only")
    if balance is not None:
        raise ConfigError(f"format='grain' has no balanced sampling (balance={balance!r}); use format='tf'")
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                    or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, got {num_threads!r}")
    grain = _grain()
    count = len(path_list)
    shuffle = training if shuffle is None else bool(shuffle)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    threads = num_threads or min(_MAX_THREADS, os.cpu_count() or 1)
    keep_pillow_blocks(4 * threads)

    def load(index: int) -> np.ndarray:
        return load_image_array(path_list[index], image_size)

    image_of: Callable[[int], np.ndarray] = _MemoryCache(load, count) if cache else load

    out_dtype = np.dtype(output_dtype)

    def crops(indices: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        images = [image_of(int(index)) for index in indices]
        if rng is None:
            return np.stack([center_crop_array(image, crop_size) for image in images]) if images else np.empty(
                (0, crop_size, crop_size, 3), np.uint8)
        return random_augment_batch(images, rng, crop_size, flip=flip, rotation=float(rotation))

    def labelled(images: np.ndarray, index: Any) -> Any:
        if label_arrays is None:
            return images
        if isinstance(label_arrays, dict):
            return images, {task: values[index] for task, values in label_arrays.items()}
        return images, label_arrays[index]

    def element(index: int, rng: np.random.Generator | None = None) -> Any:
        return labelled(crops(np.asarray([index]), rng)[0].astype(out_dtype, copy=False), int(index))

    def batch(indices: np.ndarray, rng: np.random.Generator | None = None) -> Any:
        # One task per batch: a thread decodes (first epoch) or crops (cached) the whole
        # batch, drawing its crops and flips in one call each, instead of Grain handling
        # and stacking each image.
        indices = np.asarray(indices)
        return labelled(crops(indices, rng).astype(out_dtype, copy=False), indices)

    indices = grain.MapDataset.range(count)
    if shuffle:
        indices = indices.shuffle(seed=seed)  # re-drawn for each pass of the repeat below
    every_epoch = indices.repeat()
    decoding = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads)
    # A cached epoch only slices: one worker thread ahead of the consumer keeps up (two
    # measured no faster, about 75 microseconds of CPU an image either way).
    cropping = grain.ReadOptions(num_threads=1, prefetch_buffer_size=4)

    def make_epoch(epoch: int) -> Any:
        part = every_epoch.slice(slice(epoch * count, (epoch + 1) * count))
        if batch_size is not None:
            part = part.batch(int(batch_size), drop_remainder=drop_remainder)
        work = batch if batch_size is not None else element
        if training and augments(image_size, crop_size, flip=flip, rotation=rotation):
            # crops, flips and angles from a generator seeded by (seed, epoch, position)
            epoch_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
            part = part.random_map(work, seed=epoch_seed)
        else:
            part = part.map(work)
        cached = isinstance(image_of, _MemoryCache) and image_of.complete
        return part.to_iter_dataset(cropping if cached else decoding)

    return EpochDataset(make_epoch)
