"""Photometric and geometric training augmentation for face crops: scale, shift, colour, blur, grey.

:class:`PhotoAugmentation` makes a model trained on one crop style hold up on faces
cropped, lit and photographed differently: each image of a batch gets its own random
zoom (in *and* out: tighter and looser face crops), shift, colour change (brightness,
contrast, saturation, hue), Gaussian blur (with a probability) and conversion to grey
(with a probability). It works at the top of a model on every backend and inside
``tf.data.Dataset.map`` on batches under every backend, like Keras' own preprocessing
layers: it is built on their ``DataLayer`` base, which switches to TensorFlow ops for
``tf.data`` tensors.

Why it does not chain Keras' own layers (checked in Keras 3.15):

* ``RandomZoom``, ``RandomTranslation`` and ``RandomGrayscale`` do draw per image and
  behave, but zoom and translation each resample the batch with
  ``ImageProjectiveTransform``: each cost about 100 ms (wall clock, machine loaded) per
  batch of 64 images of 96x96 on the project's 2-core CPU, twice the whole layer here;
* ``RandomGaussianBlur`` draws one sigma per *batch* (every blurred image of a batch gets
  the same one);
* ``RandomSaturation`` (and so ``RandomColorJitter``) does not clip the HSV saturation
  to 1: a factor of 0.8 turns the pixel ``(200, 100, 50)`` into ``(200, -200, -400)``.

Here every step is linear, so the whole augmentation is two small matrix products per
image: a spatial one (per image, an ``(H, H)`` row matrix and a ``(W, W)`` column matrix,
each the product of a Gaussian blur band and a bilinear zoom-and-shift resampling, with
symmetric reflection at the borders) and a colour one (a 3x3 matrix per image for
brightness, saturation, hue and grey in the YIQ space, plus an offset for contrast).
The cost grows with the image side cubed (a matrix product); at 96 px it is small.

Cost, measured on the project's 2-core CPU (TensorFlow backend, inside ``tf.data``,
batches of 64 float32 images, default strengths; the machine shared with a training
job, load average about 3): at 96x96 about 35 ms of CPU time per batch (40-50 ms wall
clock), next to about 450 ms for a training step on the same batch; at 128x128 about
55 ms of CPU time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from adiencekit.layers.augmentation import static_image_size

try:  # the tf.data-aware base of Keras' own preprocessing layers
    from keras.src.layers.preprocessing.data_layer import DataLayer as _DataLayer
except ImportError:  # pragma: no cover - Keras < 3.11
    from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as _DataLayer

__all__ = ["MIN_BLUR_SIGMA", "PerImageAugmentation", "PhotoAugmentation", "apply_separable", "bilinear_matrix"]

#: YIQ from RGB (rows: luma Y, chroma I and Q); saturation and hue act on I and Q only.
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype="float64"
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)
#: Smallest sigma drawn for a blurred image (px); the largest is ``blur_sigma``.
MIN_BLUR_SIGMA = 0.3
#: Largest ``blur_sigma`` accepted (px).
MAX_BLUR_SIGMA = 10.0


def _strength(name: str, value: Any, high: float, *, high_open: bool = True, owner: str = "PhotoAugmentation") -> float:
    """``value`` (``None`` = 0) as a float in ``[0, high)`` (or ``[0, high]``); errors name ``owner``."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{owner} {name} must be a number or None, got {value!r}")
    ok = 0.0 <= value < high if high_open else 0.0 <= value <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"{owner} {name} must be in [0, {high:g}{bracket} (0 or None disables it), got {value!r}"
        )
    return float(value)


def bilinear_matrix(b: Any, source: Any, size: int) -> Any:
    """``(N, size, size)`` rows that sample a line of ``size`` pixels at ``source`` ``(N, size)``.

    Bilinear weights between the two pixels around each source position (pixel ``i``
    at ``i``), positions outside ``[0, size - 1]`` folded back by symmetric reflection.
    ``b`` is the backend's ops module.
    """
    low = b.numpy.floor(source)
    fraction = (source - low)[:, :, None]
    low = b.cast(low, "int32")
    return (1.0 - fraction) * b.nn.one_hot(_reflect(low, size, b.numpy), size) + fraction * b.nn.one_hot(
        _reflect(low + 1, size, b.numpy), size
    )


def apply_separable(b: Any, images: Any, rows: Any, cols: Any, count: Any, height: int, width: int) -> Any:
    """Each image ``i`` of ``(N, H, W, 3)`` becomes ``rows[i] @ image @ cols[i].T`` per channel.

    ``rows`` is ``(N, H, H)`` and ``cols`` ``(N, W, W)``; ``b`` is the backend's ops
    module (a ``DataLayer``'s ``self.backend``). Two batched matrix products, no
    broadcasting: rows act on H as ``(N, H, 3W)``, columns on W as ``(N, 3H, W)``.
    """
    images = b.numpy.transpose(images, (0, 1, 3, 2))  # (N, H, 3, W)
    images = b.numpy.matmul(rows, b.numpy.reshape(images, (count, height, 3 * width)))
    images = b.numpy.reshape(images, (count, height * 3, width))
    images = b.numpy.matmul(images, b.numpy.transpose(cols, (0, 2, 1)))
    return b.numpy.transpose(b.numpy.reshape(images, (count, height, 3, width)), (0, 1, 3, 2))


def _reflect(index: np.ndarray | Any, size: int, numpy: Any) -> Any:
    """Indices folded into ``[0, size)`` by symmetric reflection (``c b a | a b c | c b a``)."""
    period = numpy.mod(index, 2 * size)
    return numpy.where(period < size, period, 2 * size - 1 - period)


class PerImageAugmentation(_DataLayer):
    """Base of the photo augmentation layers: seeded draws per image, batches or one image, Keras plumbing.

    A subclass validates its own arguments, calls ``super().__init__(seed=..., name=...)``
    and implements :meth:`transform` on a float32 batch ``(N, H, W, 3)``; ``call`` casts,
    checks the shape, returns the input unchanged (float32) when ``training`` is false and
    handles a single image. Draws come from the layer's seed generator (:meth:`uniform`),
    which also works inside ``tf.data`` (Keras' ``DataLayer`` switches the ops there).
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{type(self).__name__} seed must be an int or None, got {seed!r}")
        super().__init__(name=name, **kwargs)
        self.seed = seed
        # Made here, never lazily, so that the layer can first be called inside tf.data.
        self.generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        if input_shape is not None:
            self._check_shape(tuple(input_shape))
        self.built = True

    def call(self, inputs: Any, training: bool = True) -> Any:
        b = self.backend
        images = b.cast(inputs, "float32")
        height, width = self._check_shape(tuple(images.shape))
        if not training:
            return images
        single = len(images.shape) == 3
        if single:
            images = b.numpy.expand_dims(images, 0)
        images = self.transform(images, b.shape(images)[0], height, width)
        return b.numpy.squeeze(images, 0) if single else images

    def transform(self, images: Any, count: Any, height: int, width: int) -> Any:
        """The training-mode output for a float32 batch of ``count`` images (values in [0, 255])."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform()")

    def uniform(self, count: Any, low: float, high: float) -> Any:
        """``count`` float32 draws in ``[low, high)`` from the layer's seed generator."""
        seed = self._get_seed_generator(self.backend._backend)
        return self.backend.random.uniform((count,), minval=low, maxval=high, seed=seed, dtype="float32")

    def _check_shape(self, shape: tuple[int | None, ...]) -> tuple[int, int]:
        return static_image_size(shape, type(self).__name__, rgb=True)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any, training: bool = True) -> Any:
        return keras.KerasTensor(inputs.shape, dtype="float32")


@keras.saving.register_keras_serializable(package="adiencekit")
class PhotoAugmentation(PerImageAugmentation):
    """Random zoom, shift, colour, blur and grey per image in training; identity otherwise.

    In training mode (``training=True``: the default when the layer is called directly,
    as for every Keras preprocessing layer, and what ``model.fit`` passes) each image of
    the batch, independently:

    * is zoomed by ``1 + u`` with ``u`` drawn in ``[-scale, scale]`` (``u < 0``: zoom in,
      a tighter face crop; ``u > 0``: zoom out, a looser one, the border filled by
      reflection), about its centre, keeping its aspect ratio;
    * is shifted by up to ``shift`` of its height and, independently, of its width
      (reflect fill);
    * has its brightness multiplied by a factor in ``[1 - brightness, 1 + brightness]``,
      its saturation by one in ``[1 - saturation, 1 + saturation]``, its hue turned by
      up to ``hue`` of a full turn (in the YIQ space), and its contrast around its mean
      luma scaled by a factor in ``[1 - contrast, 1 + contrast]``;
    * with probability ``blur``, is blurred by a Gaussian whose sigma is drawn in
      ``[0.3, blur_sigma]`` pixels;
    * with probability ``grayscale``, becomes grey (its luma, still 3 channels).

    The output is float32, clipped to [0, 255]. In inference mode (``training=False``:
    what ``model.predict`` and ``model.evaluate`` pass) the images come back unchanged
    (as float32). A strength of 0 (or ``None``) disables its step.

    Inputs are one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)``, float32 or uint8, with
    values in [0, 255] and a statically known height and width. In ``tf.data``, map it
    over batches (``ds.batch(64).map(lambda x, y: (layer(x), y))``); its random state is
    the layer's seed generator, so map without ``num_parallel_calls`` for a reproducible
    sequence.

    Cost (2-core CPU, TensorFlow backend, in ``tf.data``, 64 images of 96x96, defaults):
    about 35 ms of CPU time per batch (see the module docstring).

    Args:
        scale: largest zoom in or out, as a fraction of the side, in [0, 1).
        shift: largest shift, as a fraction of the side, in [0, 1).
        brightness: largest relative brightness change, in [0, 1).
        contrast: largest relative contrast change, in [0, 1).
        saturation: largest relative saturation change, in [0, 1].
        hue: largest hue rotation, as a fraction of a full turn, in [0, 0.5].
        blur: probability that an image is blurred, in [0, 1].
        blur_sigma: largest blur sigma in pixels, in [0.3, 10] (checked when ``blur`` > 0).
        grayscale: probability that an image becomes grey, in [0, 1].
        seed: integer seed; two layers built with the same seed produce the same random
            sequence. ``None`` draws a fresh one.
        name: layer name.
        **kwargs: the other arguments of ``keras.layers.Layer`` (``dtype``, ...).

    Example:

    >>> import numpy as np
    >>> augment = PhotoAugmentation(seed=1)
    >>> images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    >>> out = np.asarray(augment(images))
    >>> out.shape, out.dtype.name, bool(out.min() >= 0 and out.max() <= 255)
    ((4, 32, 32, 3), 'float32', True)
    >>> bool(np.array_equal(np.asarray(augment(images, training=False)), images))
    True
    >>> PhotoAugmentation(shift=None, blur=0.0).get_config()["shift"]
    0.0
    """

    def __init__(
        self,
        scale: float | None = 0.15,
        shift: float | None = 0.05,
        brightness: float | None = 0.2,
        contrast: float | None = 0.2,
        saturation: float | None = 0.2,
        hue: float | None = 0.02,
        blur: float | None = 0.2,
        blur_sigma: float = 1.5,
        grayscale: float | None = 0.1,
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.scale = _strength("scale", scale, 1.0)
        self.shift = _strength("shift", shift, 1.0)
        self.brightness = _strength("brightness", brightness, 1.0)
        self.contrast = _strength("contrast", contrast, 1.0)
        self.saturation = _strength("saturation", saturation, 1.0, high_open=False)
        self.hue = _strength("hue", hue, 0.5, high_open=False)
        self.blur = _strength("blur", blur, 1.0, high_open=False)
        self.grayscale = _strength("grayscale", grayscale, 1.0, high_open=False)
        if isinstance(blur_sigma, bool) or not isinstance(blur_sigma, (int, float)) or not math.isfinite(blur_sigma):
            raise TypeError(f"PhotoAugmentation blur_sigma must be a number of pixels, got {blur_sigma!r}")
        if self.blur > 0 and not MIN_BLUR_SIGMA <= blur_sigma <= MAX_BLUR_SIGMA:
            raise ValueError(
                f"PhotoAugmentation blur_sigma must be between {MIN_BLUR_SIGMA} and {MAX_BLUR_SIGMA:g} pixels, "
                f"got {blur_sigma!r}"
            )
        self.blur_sigma = float(blur_sigma)
        super().__init__(seed=seed, name=name, **kwargs)
        self._blur_radius = max(1, math.ceil(2.5 * self.blur_sigma))

    @property
    def _spatial(self) -> bool:
        return bool(self.scale or self.shift or self.blur)

    @property
    def _colour(self) -> bool:
        return bool(self.brightness or self.contrast or self.saturation or self.hue or self.grayscale)

    def transform(self, images: Any, count: Any, height: int, width: int) -> Any:
        if self._colour:
            images = self._apply_colour(images, count, height, width)
        if self._spatial:
            images = self._apply_spatial(images, count, height, width)
        return self.backend.numpy.clip(images, 0.0, 255.0)

    # ------------------------------------------------------------------ randomness

    def _symmetric(self, count: Any, strength: float) -> Any:
        """``count`` draws in ``[-strength, strength]`` (zeros when ``strength`` is 0)."""
        if not strength:
            return self.backend.numpy.zeros((count,), dtype="float32")
        return self.uniform(count, -strength, strength)

    # ------------------------------------------------------------------ colour
    def _apply_colour(self, images: Any, count: Any, height: int, width: int) -> Any:
        """Brightness, saturation, hue, grey: one 3x3 matrix per image; contrast: an offset."""
        b = self.backend
        brightness = 1.0 + self._symmetric(count, self.brightness)
        saturation = 1.0 + self._symmetric(count, self.saturation)
        angle = self._symmetric(count, self.hue * 2.0 * math.pi)
        contrast = 1.0 + self._symmetric(count, self.contrast)
        if self.grayscale:
            grey = self.uniform(count, 0.0, 1.0) < self.grayscale
            saturation = b.numpy.where(grey, b.numpy.zeros_like(saturation), saturation)
        ones, zeros = b.numpy.ones_like(angle), b.numpy.zeros_like(angle)
        cos, sin = b.numpy.cos(angle) * saturation, b.numpy.sin(angle) * saturation
        # In YIQ: Y kept, (I, Q) turned by the hue angle and scaled by the saturation.
        yiq = b.numpy.stack(
            [
                b.numpy.stack([ones, zeros, zeros], axis=-1),
                b.numpy.stack([zeros, cos, -sin], axis=-1),
                b.numpy.stack([zeros, sin, cos], axis=-1),
            ],
            axis=-2,
        )
        to_yiq = b.convert_to_tensor(_RGB_TO_YIQ.astype("float32"))
        to_rgb = b.convert_to_tensor(_YIQ_TO_RGB.astype("float32"))
        matrix = b.numpy.matmul(b.numpy.matmul(to_rgb[None], yiq), to_yiq[None]) * brightness[:, None, None]
        # Contrast around the mean luma of the colour-changed image, which is linear in
        # the mean pixel: c * (M x) + (1 - c) * (y . M mean(x)).
        flat = b.numpy.reshape(images, (count, height * width, 3))
        mean = b.numpy.mean(flat, axis=1)  # (N, 3)
        mean_luma = b.numpy.sum(b.numpy.matmul(matrix, mean[:, :, None])[:, :, 0] * to_yiq[0][None], axis=-1)
        offset = (1.0 - contrast) * mean_luma  # (N,)
        matrix = matrix * contrast[:, None, None]
        flat = b.numpy.matmul(flat, b.numpy.transpose(matrix, (0, 2, 1))) + offset[:, None, None]
        return b.numpy.reshape(flat, (count, height, width, 3))

    # ------------------------------------------------------------------ geometry + blur
    def _axis_matrix(self, count: Any, size: int, zoom: Any, shift: Any, blur_weights: Any) -> Any:
        """``(N, size, size)``: blur band times bilinear zoom/shift resampling, reflected."""
        b = self.backend
        positions = b.convert_to_tensor(np.arange(size, dtype="float32") + 0.5 - size / 2.0)
        source = positions[None, :] * zoom[:, None] + (size / 2.0 - 0.5) + shift[:, None] * size
        matrix = bilinear_matrix(b, source, size)
        if blur_weights is not None:
            radius = self._blur_radius
            offsets = np.arange(size)[None, :] + np.arange(-radius, radius + 1)[:, None]  # (taps, size)
            bands = np.eye(size, dtype="float32")[_reflect(offsets, size, np)]  # (taps, size, size)
            band = b.numpy.einsum("nk,kij->nij", blur_weights, b.convert_to_tensor(bands))
            matrix = b.numpy.matmul(band, matrix)
        return matrix

    def _blur_weights(self, count: Any) -> Any:
        """``(N, taps)`` normalised Gaussian weights; a unit impulse for images not blurred."""
        b = self.backend
        radius = self._blur_radius
        apply = self.uniform(count, 0.0, 1.0) < self.blur
        sigma = self.uniform(count, MIN_BLUR_SIGMA, max(MIN_BLUR_SIGMA, self.blur_sigma))
        taps = b.convert_to_tensor(np.arange(-radius, radius + 1, dtype="float32"))
        weights = b.numpy.exp(-(taps[None, :] ** 2) / (2.0 * sigma[:, None] ** 2))
        weights = weights / b.numpy.sum(weights, axis=1, keepdims=True)
        impulse = b.convert_to_tensor((np.arange(-radius, radius + 1) == 0).astype("float32"))[None, :]
        return b.numpy.where(apply[:, None], weights, impulse)

    def _apply_spatial(self, images: Any, count: Any, height: int, width: int) -> Any:
        zoom = 1.0 + self._symmetric(count, self.scale)
        shift_y = self._symmetric(count, self.shift)
        shift_x = self._symmetric(count, self.shift)
        weights = self._blur_weights(count) if self.blur else None
        rows = self._axis_matrix(count, height, zoom, shift_y, weights)  # (N, H, H)
        cols = self._axis_matrix(count, width, zoom, shift_x, weights)  # (N, W, W)
        return apply_separable(self.backend, images, rows, cols, count, height, width)

    # ------------------------------------------------------------------ Keras
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scale": self.scale,
            "shift": self.shift,
            "brightness": self.brightness,
            "contrast": self.contrast,
            "saturation": self.saturation,
            "hue": self.hue,
            "blur": self.blur,
            "blur_sigma": self.blur_sigma,
            "grayscale": self.grayscale,
            "seed": self.seed,
        }
