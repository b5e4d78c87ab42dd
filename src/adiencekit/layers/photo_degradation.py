"""Training augmentation that degrades face crops the way real photos are degraded.

:class:`PhotoDegradation` complements :class:`~adiencekit.layers.PhotoAugmentation`
(zoom, shift, colour, blur, grey) with what makes a face found in a photo differ from a
clean, tight dataset crop: low resolution (a small face upscaled), sensor noise, uneven
light and JPEG re-compression. Each image of a batch, independently and with its own
probability, gets:

* **down- and up-scaling**: resized to ``s`` times its side, ``s`` drawn in
  ``[min_scale, 1]``, with area averaging, then back to its side with bilinear
  interpolation (as a small face cut from a photo and enlarged to the model's input);
* **yaw warp** (a rough stand-in for a head turned sideways; in-plane rotation is
  :class:`~adiencekit.layers.FaceAugmentation`'s): column ``u`` (``-1`` left edge, ``1``
  right edge) is resampled from ``u + a (1 - u^2)``, ``a`` in ``[-yaw, yaw]``: the edges
  stay, the middle of the face moves sideways, one half is compressed and the other
  stretched. It does not hide the far side of the face as a real profile does;
* **gamma**: ``255 * (x / 255) ** g`` with ``log g`` drawn in ``[-gamma, gamma]``
  (under- and over-exposure that scales shadows and highlights unequally);
* **side light**: a linear brightness ramp across the face in a random direction, from
  ``1 - s`` at one extreme to ``1 + s`` at the other, ``s`` in ``[0, side_light]``;
* **noise**: Gaussian noise per pixel and channel with a standard deviation drawn in
  ``[0, noise_sigma]`` (0-255 scale);
* **JPEG re-compression**: encoded and decoded at a quality drawn in ``jpeg_quality``.

Where each step runs:

* down/up-scaling, the yaw warp, gamma, side light and noise are written with the backend's ops (like
  ``PhotoAugmentation``: two matrix products per image for the resampling), so they run
  in a model on every backend and inside ``tf.data`` (Keras' ``DataLayer`` switches to
  TensorFlow ops there) and in a Grain/NumPy pipeline;
* JPEG re-compression runs ``tf.image.adjust_jpeg_quality`` on each image when the layer
  runs on TensorFlow (``tf.data``, or the TensorFlow backend), and PIL's encoder on NumPy
  copies of the images on other backends when called eagerly (a Grain/NumPy pipeline, or
  a JAX/PyTorch array outside a compiled function). Inside a compiled JAX or PyTorch
  function it cannot run: set ``jpeg=0`` there, or degrade in the input pipeline, where
  it belongs.

All draws come from the layer's seed generator, so two layers built with the same seed
give the same images (the JPEG codec itself is deterministic).

Cost, measured by ``experiments/degradation_cost.py`` on the project's 2-core CPU
(shared with other jobs, load average about 7.5; TensorFlow backend, inside ``tf.data``,
batches of 64 float32 images of 96x96, default strengths, median of 12 batches): about
78 ms of CPU time per batch (with ``PhotoAugmentation`` before it: 93 ms; that layer
alone 18 ms); per step with probability 1: down/up scaling 14 ms, yaw warp 13 ms, gamma
+ side light 24 ms, noise 22 ms, JPEG 19 ms. Wall-clock figures on the loaded machine
varied 2-3x between runs (see ``experiments/results/degradation_cost.json``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from adiencekit.layers.photo_augmentation import PerImageAugmentation, _strength, apply_separable, bilinear_matrix

__all__ = ["PhotoDegradation"]

#: Lowest JPEG quality accepted.
MIN_JPEG_QUALITY = 5


def _quality_range(value: Any) -> tuple[int, int]:
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or not MIN_JPEG_QUALITY <= value[0] <= value[1] <= 100
    ):
        raise ValueError(
            f"PhotoDegradation jpeg_quality must be (low, high) integers with {MIN_JPEG_QUALITY} <= low <= high "
            f"<= 100, got {value!r}"
        )
    return int(value[0]), int(value[1])


@keras.saving.register_keras_serializable(package="adiencekit")
class PhotoDegradation(PerImageAugmentation):
    """Random resolution loss, yaw warp, gamma, side light, noise and JPEG re-compression per image.

    In training mode (``training=True``, the default when called directly) each image of
    the batch is degraded independently (see the module docstring for each step and
    where it runs); in inference mode the images come back unchanged (as float32).
    Output: float32, clipped to [0, 255].

    Inputs are one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)``, float32 or uint8,
    values in [0, 255], with a static height and width. In ``tf.data``, map it over
    batches without ``num_parallel_calls`` for a reproducible sequence.

    Args:
        resolution: probability that an image is scaled down and up again, in [0, 1].
        min_scale: smallest scale of the down-scaling, in (0, 1].
        yaw: largest strength ``|a|`` of the horizontal yaw warp, in [0, 0.5].
        gamma: largest ``|log gamma|``, in [0, 1] (0 disables it).
        side_light: largest relative brightness change at the face's edges, in [0, 1).
        noise: probability that an image gets Gaussian noise, in [0, 1].
        noise_sigma: largest noise standard deviation (0-255 scale), in (0, 50].
        jpeg: probability that an image is re-compressed, in [0, 1].
        jpeg_quality: ``(low, high)`` JPEG qualities drawn from, ``5 <= low <= high <= 100``.
        seed: integer seed, or ``None`` for a fresh one.
        name: layer name.
        **kwargs: the other arguments of ``keras.layers.Layer``.

    Example:

    >>> import numpy as np
    >>> degrade = PhotoDegradation(seed=1)
    >>> images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    >>> out = np.asarray(degrade(images))
    >>> out.shape, out.dtype.name, bool(out.min() >= 0 and out.max() <= 255)
    ((4, 32, 32, 3), 'float32', True)
    >>> bool(np.array_equal(np.asarray(degrade(images, training=False)), images))
    True
    >>> again = np.asarray(PhotoDegradation(seed=1)(images))
    >>> bool(np.allclose(out, again))
    True
    """

    def __init__(
        self,
        resolution: float | None = 0.5,
        min_scale: float = 0.25,
        yaw: float | None = 0.15,
        gamma: float | None = 0.3,
        side_light: float | None = 0.2,
        noise: float | None = 0.3,
        noise_sigma: float = 8.0,
        jpeg: float | None = 0.5,
        jpeg_quality: Sequence[int] = (30, 95),
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.resolution = _strength("resolution", resolution, 1.0, high_open=False, owner="PhotoDegradation")
        self.yaw = _strength("yaw", yaw, 0.5, high_open=False, owner="PhotoDegradation")
        self.gamma = _strength("gamma", gamma, 1.0, high_open=False, owner="PhotoDegradation")
        self.side_light = _strength("side_light", side_light, 1.0, owner="PhotoDegradation")
        self.noise = _strength("noise", noise, 1.0, high_open=False, owner="PhotoDegradation")
        self.jpeg = _strength("jpeg", jpeg, 1.0, high_open=False, owner="PhotoDegradation")
        for key, value, low, high in (("min_scale", min_scale, 0.0, 1.0), ("noise_sigma", noise_sigma, 0.0, 50.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
                raise ValueError(f"PhotoDegradation {key} must be a number in ({low:g}, {high:g}], got {value!r}")
        self.min_scale = float(min_scale)
        self.noise_sigma = float(noise_sigma)
        self.jpeg_quality = _quality_range(tuple(jpeg_quality) if isinstance(jpeg_quality, list) else jpeg_quality)
        super().__init__(seed=seed, name=name, **kwargs)

    def transform(self, images: Any, count: Any, height: int, width: int) -> Any:
        b = self.backend
        if self.resolution or self.yaw:
            images = self._geometry(images, count, height, width)
        if self.gamma or self.side_light:
            images = self._light(images, count, height, width)
        if self.noise:
            images = self._noise(images, count)
        images = b.numpy.clip(images, 0.0, 255.0)
        if self.jpeg:
            images = self._jpeg(images, count)
        return images

    def _chosen(self, count: Any, probability: float) -> Any:
        return self.uniform(count, 0.0, 1.0) < probability

    # ------------------------------------------------------------------ resolution
    def _axis_down_up(self, size: int, scale: Any) -> Any:
        """``(N, size, size)``: area down-sampling to ``scale * size`` cells, then bilinear back up."""
        b = self.backend
        cells = b.convert_to_tensor(np.arange(size, dtype="float32"))
        scale = scale[:, None, None]
        # Down: low-resolution cell i covers source pixels [i / s, (i + 1) / s).
        start, stop = cells[None, :, None] / scale, (cells[None, :, None] + 1.0) / scale
        overlap = b.numpy.clip(
            b.numpy.minimum(stop, cells[None, None, :] + 1.0) - b.numpy.maximum(start, cells[None, None, :]), 0.0, 1.0
        )
        down = overlap / b.numpy.maximum(b.numpy.sum(overlap, axis=-1, keepdims=True), 1e-6)
        # Up: output pixel k samples the low-resolution grid at (k + 0.5) * s - 0.5, clipped
        # to the last cell with source pixels (where the bilinear weight beyond it is 0).
        last = b.numpy.ceil(scale[:, :, 0] * size) - 1.0  # (N, 1)
        source = b.numpy.clip((cells[None, :] + 0.5) * scale[:, :, 0] - 0.5, 0.0, last)
        return b.numpy.matmul(bilinear_matrix(b, source, size), down)

    def _yaw_warp(self, count: Any, width: int) -> Any:
        """``(N, W, W)``: columns resampled at ``u + a (1 - u^2)`` (``u`` in [-1, 1]): a turned face, roughly."""
        b = self.backend
        strength = self.uniform(count, -self.yaw, self.yaw)[:, None]
        u = b.convert_to_tensor((2.0 * (np.arange(width, dtype="float32") + 0.5) / width - 1.0)[None, :])
        source = (u + strength * (1.0 - u * u) + 1.0) * (width / 2.0) - 0.5
        return bilinear_matrix(b, source, width)

    def _geometry(self, images: Any, count: Any, height: int, width: int) -> Any:
        """Down/up scaling (with its probability) and the yaw warp, as one row and one column matrix per image."""
        b = self.backend
        scale = b.numpy.ones((count,), dtype="float32")
        if self.resolution:
            chosen = self._chosen(count, self.resolution)
            scale = b.numpy.where(chosen, self.uniform(count, self.min_scale, 1.0), scale)
        rows, cols = self._axis_down_up(height, scale), self._axis_down_up(width, scale)
        if self.yaw:
            cols = b.numpy.matmul(self._yaw_warp(count, width), cols)
        return apply_separable(b, images, rows, cols, count, height, width)

    # ------------------------------------------------------------------ light and noise
    def _light(self, images: Any, count: Any, height: int, width: int) -> Any:
        b = self.backend
        if self.gamma:
            exponent = b.numpy.exp(self.uniform(count, -self.gamma, self.gamma))[:, None, None, None]
            images = 255.0 * b.numpy.power(b.numpy.clip(images, 0.0, 255.0) / 255.0, exponent)
        if self.side_light:
            strength = self.uniform(count, 0.0, self.side_light)
            angle = self.uniform(count, 0.0, 2.0 * math.pi)
            ys = b.convert_to_tensor(np.linspace(-1.0, 1.0, height, dtype="float32"))
            xs = b.convert_to_tensor(np.linspace(-1.0, 1.0, width, dtype="float32"))
            # A linear ramp along the drawn direction, scaled to reach exactly +-1 at the
            # image's extreme corners (or edges), so the factor stays in [1 - s, 1 + s].
            cos, sin = b.numpy.cos(angle), b.numpy.sin(angle)
            reach = b.numpy.abs(cos) + b.numpy.abs(sin)
            ramp = ((cos / reach)[:, None, None] * xs[None, None, :] + (sin / reach)[:, None, None] * ys[None, :, None])
            images = images * (1.0 + strength[:, None, None] * ramp)[..., None]
        return images

    def _noise(self, images: Any, count: Any) -> Any:
        b = self.backend
        chosen = self._chosen(count, self.noise)
        sigma = b.numpy.where(chosen, self.uniform(count, 0.0, self.noise_sigma), b.numpy.zeros((count,)))
        seed = self._get_seed_generator(b._backend)
        noise = b.random.normal(b.shape(images), seed=seed, dtype="float32")
        return images + noise * sigma[:, None, None, None]

    # ------------------------------------------------------------------ JPEG
    def _jpeg(self, images: Any, count: Any) -> Any:
        b = self.backend
        chosen = self._chosen(count, self.jpeg)
        low, high = self.jpeg_quality
        quality = b.cast(b.numpy.floor(self.uniform(count, low, high + 1.0)), "int32")
        quality = b.numpy.minimum(quality, high)
        if b._backend == "tensorflow":
            import tensorflow as tf

            pixels = tf.cast(tf.round(images), tf.uint8)
            compressed = tf.map_fn(
                lambda args: tf.image.adjust_jpeg_quality(args[0], args[1]),
                (pixels, quality), fn_output_signature=tf.uint8,
            )
            return tf.where(chosen[:, None, None, None], tf.cast(compressed, tf.float32), images)
        try:
            pixels = np.round(keras.ops.convert_to_numpy(images)).astype(np.uint8)
            qualities = keras.ops.convert_to_numpy(quality)
            mask = keras.ops.convert_to_numpy(chosen)
        except Exception as error:  # a traced value: no concrete pixels to encode
            raise RuntimeError(
                f"PhotoDegradation: JPEG re-compression needs concrete images on the {b._backend} backend (it runs "
                "PIL's encoder); run the layer in the input pipeline (tf.data or Grain) or set jpeg=0 inside a "
                f"compiled model ({type(error).__name__})"
            ) from None
        out = keras.ops.convert_to_numpy(images).copy()
        for index in np.flatnonzero(mask):
            out[index] = _pil_jpeg(pixels[index], int(qualities[index]))
        return b.convert_to_tensor(out)

    # ------------------------------------------------------------------ Keras
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "resolution": self.resolution,
            "min_scale": self.min_scale,
            "yaw": self.yaw,
            "gamma": self.gamma,
            "side_light": self.side_light,
            "noise": self.noise,
            "noise_sigma": self.noise_sigma,
            "jpeg": self.jpeg,
            "jpeg_quality": list(self.jpeg_quality),
            "seed": self.seed,
        }


def _pil_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """One ``uint8`` RGB image through PIL's JPEG encoder and decoder (4:2:0, as TensorFlow's)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float32)
