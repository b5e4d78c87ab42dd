"""Training-time augmentation for face crops: random crop, horizontal flip, small rotation.

The layer follows the Levi & Hassner recipe (random crops of a larger face image plus
mirroring) with the small random rotations of the reference report, and never touches
colour. Rotation, flip and the centre crop are Keras' own ``RandomRotation``, ``RandomFlip`` and
``CenterCrop`` layers, which are ``tf.data``-aware on every backend. The random crop is
written here with ``keras.ops`` (one window per image, jit-compatible on JAX), because
Keras' ``RandomCrop`` cuts every image of a batch at the same place and cannot be
jit-compiled on JAX; it is used only for ``tf.data`` tensors under a non-TensorFlow
backend, where it switches backends by itself. The same object therefore works at the
top of a model (TensorFlow, JAX or PyTorch backend) and inside ``tf.data.Dataset.map``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

__all__ = ["FaceAugmentation"]

#: Largest rotation accepted, in degrees (anything larger is not a "small" rotation).
MAX_ROTATION_DEGREES = 180.0


def crop_pair(crop_size: int | Sequence[int]) -> tuple[int, int]:
    """``crop_size`` (an int or a ``(height, width)`` pair) as a checked pair of ints."""
    if isinstance(crop_size, bool):
        raise TypeError(f"crop_size must be a positive int or a (height, width) pair, got {crop_size!r}")
    if isinstance(crop_size, int):
        pair: tuple[Any, ...] = (crop_size, crop_size)
    elif isinstance(crop_size, Sequence) and not isinstance(crop_size, str) and len(crop_size) == 2:
        pair = tuple(crop_size)
    else:
        raise TypeError(f"crop_size must be a positive int or a (height, width) pair, got {crop_size!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f"crop_size values must be positive ints, got {crop_size!r}")
    return int(pair[0]), int(pair[1])


def static_image_size(shape: Sequence[int | None], owner: str, *, rgb: bool = False) -> tuple[int, int]:
    """``(height, width)`` of an image ``(H, W, C)`` or batch ``(N, H, W, C)`` shape, both known.

    Args:
        shape: the input shape.
        owner: the layer named in the error messages.
        rgb: also require three channels.

    Raises:
        ValueError: another rank, another channel count (``rgb``), or an unknown side.
    """
    shape = tuple(shape)
    if len(shape) not in (3, 4) or (rgb and shape[-1] != 3):
        expected = "RGB images (H, W, 3) or a batch (N, H, W, 3)" if rgb else "an image (H, W, C) or a batch (N, H, W, C)"
        raise ValueError(f"{owner} expects {expected}, got an input of shape {shape}")
    height, width = shape[-3], shape[-2]
    if height is None or width is None:
        raise ValueError(
            f"{owner} needs a statically known image height and width "
            f"(resize images to a fixed size first), got an input of shape {shape}"
        )
    return int(height), int(width)


@keras.saving.register_keras_serializable(package="adiencekit")
class FaceAugmentation(keras.layers.Pipeline):
    """Random crop + horizontal flip + small rotation in training, centre crop otherwise.

    In training mode (``training=True``: the default when the layer is called directly,
    as for every Keras preprocessing layer, and what ``model.fit`` passes) each image is
    rotated by a random angle in ``[-rotation, rotation]`` degrees (reflect padding), a
    random ``crop_size`` window is cut out of it, and the crop is mirrored left-right with
    probability 0.5; angle, window and mirroring are drawn per image. In inference mode
    (``training=False``: what ``model.predict`` and ``model.evaluate`` pass) it returns the
    centre ``crop_size`` window, so a model that starts with this layer can be fed the
    256x256 images of the Adience protocol both when training and when evaluating.
    Colours and the value range are never changed (images stay in [0, 255]).

    Inputs are one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, channels last, with a
    statically known height and width of at least ``crop_size`` (resize first when mapping
    over freshly decoded images in ``tf.data``).

    Args:
        crop_size: side of the square output crop, or a ``(height, width)`` pair.
        flip: whether to mirror images horizontally at random.
        rotation: largest rotation angle in degrees (0 disables rotation); between 0 and
            180.
        seed: integer seed; two layers built with the same seed produce the same random
            sequence. ``None`` draws a fresh one.
        name: layer name.

    Example:

    >>> import numpy as np
    >>> augment = FaceAugmentation(crop_size=28, rotation=10.0, seed=1)
    >>> images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    >>> tuple(augment(images).shape)                    # random crop, flip, rotation
    (2, 28, 28, 3)
    >>> center = augment(images, training=False)        # deterministic centre crop
    >>> bool(np.allclose(np.asarray(center), images[:, 2:30, 2:30, :]))
    True
    """

    def __init__(
        self,
        crop_size: int | Sequence[int],
        flip: bool = True,
        rotation: float = 0.0,
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        height, width = crop_pair(crop_size)
        if not isinstance(flip, bool):
            raise TypeError(f"flip must be True or False, got {flip!r}")
        if isinstance(rotation, bool) or not isinstance(rotation, (int, float)):
            raise TypeError(f"rotation must be a number of degrees, got {rotation!r}")
        if not 0.0 <= float(rotation) <= MAX_ROTATION_DEGREES:
            raise ValueError(
                f"rotation must be between 0 and {MAX_ROTATION_DEGREES:g} degrees, got {rotation!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        if kwargs:
            raise TypeError(f"FaceAugmentation got unexpected arguments: {sorted(kwargs)}")

        def sub_seed(offset: int) -> int | None:
            return None if seed is None else seed + offset

        # Every sub-layer and seed generator is made here, never lazily, so that the
        # layer can be called for the first time inside a tf.data map function.
        rotate = None
        if rotation > 0:
            # RandomRotation's factor is a fraction of a full turn.
            rotate = keras.layers.RandomRotation(
                factor=float(rotation) / 360.0, fill_mode="reflect", seed=sub_seed(0)
            )
            # Keras marks it not XLA-compatible for TensorFlow's ImageProjectiveTransformV3;
            # JAX's affine transform (map_coordinates) compiles, so a JAX model keeps XLA.
            rotate.supports_jit = keras.backend.backend() == "jax"
        tf_data_crop = keras.layers.RandomCrop(height, width, seed=sub_seed(1))
        # Keras marks RandomCrop as not XLA-compatible, and a model with such a layer is
        # trained without jit_compile. This one only ever runs on tf.data tensors under
        # another backend (see call), never inside a compiled training step.
        tf_data_crop.supports_jit = True
        mirror = keras.layers.RandomFlip("horizontal", seed=sub_seed(2)) if flip else None
        super().__init__([layer for layer in (rotate, tf_data_crop, mirror) if layer is not None], name=name)
        self.crop_size = (height, width)
        self.flip = flip
        self.rotation = float(rotation)
        self.seed = seed
        self._rotate = rotate
        self._tf_data_crop = tf_data_crop
        self._mirror = mirror
        self._center_crop = keras.layers.CenterCrop(height, width)
        self._crop_seed = keras.random.SeedGenerator(sub_seed(1))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        # Like keras.layers.Pipeline this layer leaves its inputs alone so that tf.data
        # tensors pass through untouched on any backend; NumPy arrays still need to become
        # backend tensors for Keras to see their shape.
        if isinstance(inputs, (np.ndarray, list, tuple)):
            inputs = keras.ops.convert_to_tensor(np.asarray(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        # All state is created in __init__; under a non-TensorFlow backend Keras does not
        # see tf.data tensors as tensors and passes no shape, so shapes are checked in call.
        if input_shape is not None:
            self._image_size(input_shape)
        self.built = True

    def _image_size(self, input_shape: Sequence[int | None]) -> tuple[int, int]:
        shape = tuple(input_shape)
        height, width = static_image_size(shape, "FaceAugmentation")
        if height < self.crop_size[0] or width < self.crop_size[1]:
            raise ValueError(
                f"FaceAugmentation(crop_size={self.crop_size}) needs images at least that large, "
                f"got an input of shape {shape}"
            )
        return int(height), int(width)

    def _random_crop(self, images: Any) -> Any:
        """One random ``crop_size`` window per image, mirrored left-right with probability 1/2
        when ``flip``: one gather of flat pixel indices (the mirror folded into the column
        indices), with ``keras.ops`` only.

        On a 2-core CPU under XLA (a 32x256x256x3 float32 batch to 227) this is 2.4 ms
        against 42 ms for the earlier two ``take_along_axis`` calls followed by
        ``RandomFlip`` (see benchmarks/README.md).
        """
        height, width = self._image_size(tuple(images.shape))
        crop_height, crop_width = self.crop_size
        batched = len(images.shape) == 4
        if not batched:
            images = keras.ops.expand_dims(images, 0)
        count = keras.ops.shape(images)[0]
        top = keras.random.randint((count, 1), 0, height - crop_height + 1, seed=self._crop_seed)
        left = keras.random.randint((count, 1), 0, width - crop_width + 1, seed=self._crop_seed)
        rows = top + keras.ops.arange(crop_height, dtype="int32")[None, :]
        steps = keras.ops.arange(crop_width, dtype="int32")[None, :]
        if self.flip:
            mirrored = keras.random.uniform((count, 1), seed=self._crop_seed) < 0.5
            steps = keras.ops.where(mirrored, crop_width - 1 - steps, steps)
        cols = left + steps
        firsts = keras.ops.arange(count, dtype="int32")[:, None, None] * (height * width)
        index = firsts + rows[:, :, None] * width + cols[:, None, :]
        pixels = keras.ops.reshape(images, (-1, images.shape[-1]))
        images = keras.ops.take(pixels, index, axis=0)
        return images if batched else keras.ops.squeeze(images, 0)

    def call(self, inputs: Any, training: bool = True) -> Any:
        self._image_size(tuple(inputs.shape))
        if not training:
            return self._center_crop(inputs)
        outputs = inputs
        if self._rotate is not None:
            outputs = self._rotate(outputs, training=True)
        if not _is_foreign_tf_tensor(outputs):
            return self._random_crop(outputs)  # crop and mirror in one gather
        # A tf.data tensor under JAX/PyTorch: Keras' layers switch backends themselves.
        outputs = self._tf_data_crop(outputs, training=True)
        if self._mirror is not None:
            outputs = self._mirror(outputs, training=True)
        return outputs

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        self._image_size(input_shape)
        return (*tuple(input_shape)[:-3], *self.crop_size, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        height, width = self.crop_size
        return {
            "name": self.name,
            "crop_size": height if height == width else [height, width],
            "flip": self.flip,
            "rotation": self.rotation,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FaceAugmentation:
        return cls(**config)


def _is_foreign_tf_tensor(value: Any) -> bool:
    """True for a TensorFlow tensor while Keras runs on another backend."""
    return keras.backend.backend() != "tensorflow" and type(value).__module__.startswith("tensorflow")
