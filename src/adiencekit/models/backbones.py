"""Backbones: the feature extractors of the zoo, each a serialisable ``keras.Model``.

A backbone maps *preprocessed* images to features; it has no classifier and no
preprocessing (both belong to :class:`~adiencekit.models.AgeGenderClassifier`). Each
backbone is a functional model whose ``get_config`` holds its constructor arguments
only, so a saved task model records what it is built of, and ``from_config`` rebuilds
the graph (the weights come from the saved file), as keras-hub backbones do.

* :class:`LeviHassnerBackbone`: conv1-conv3 of Levi & Hassner (2015), ``pool5`` map.
* :class:`InceptionV3Backbone`: ``keras.applications.InceptionV3`` without its top
  (4-D ``mixed10`` map); ``trainable_blocks`` freezes all or part of it.
* :class:`ScratchCNNBackbone`: the report's plain conv/ReLU/max-pool stacks.
* :class:`FaceResNetBackbone`: a compact residual network (basic blocks with batch
  normalisation) sized for small face crops on a CPU; the bundled pretrained model's.
* :class:`TFHubBackbone`: a TF-Hub feature-vector module or TF2 SavedModel
  (TensorFlow backend only).

Each backbone class also states the pixel preprocessing and the top it was designed
with (``default_preprocessing``, ``default_head``), which the builders use.

Example:

>>> from adiencekit.models.backbones import ScratchCNNBackbone
>>> backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
>>> backbone.output_shape
(None, 8, 8, 8)
>>> ScratchCNNBackbone.from_config(backbone.get_config()).count_params() == backbone.count_params()
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import keras

from adiencekit.layers.normalization import LocalResponseNormalization
from adiencekit.models.heads import validate_input_shape
from adiencekit.models.preprocessing import LEVI_HASSNER_MEAN

__all__ = [
    "INCEPTION_BLOCKS",
    "Backbone",
    "InceptionV3Backbone",
    "LeviHassnerBackbone",
    "FaceResNetBackbone",
    "ScratchCNNBackbone",
    "TFHubBackbone",
]

#: Number of inception ("mixed0" ... "mixed10") blocks in Inception-v3.
INCEPTION_BLOCKS = 11


class Backbone(keras.Model):
    """Base class of the zoo's backbones (a functional ``keras.Model``).

    Subclasses build their graph in ``__init__`` and return their constructor arguments
    from ``get_config``.
    """

    #: The in-model pixel preprocessing this backbone was designed for (see
    #: :func:`adiencekit.models.preprocessing.preprocessing_layer`).
    default_preprocessing: ClassVar[dict[str, Any] | None] = None

    #: The top the backbone was designed with (arguments of ``AgeGenderClassifier``).
    default_head: ClassVar[dict[str, Any]] = {"pooling": "avg"}

    def _base_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Backbone:
        return cls(**config)


def _gaussian(std: float, seed: int | None) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(mean=0.0, stddev=std, seed=seed)


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def _caffe_max_pool(x: Any, name: str) -> Any:
    """3x3 stride-2 max-pool with Caffe's round-up output size (inputs must be >= 0).

    Caffe rounds the output size up: one extra row and column at the bottom and right.
    When both sides of the map are known and even, ``padding="same"`` adds exactly that
    (its pad is -inf, a zero pad gives the same maxima for inputs >= 0), without a
    separate padding layer that XLA cannot fold into the pooling window; otherwise the
    map is zero-padded first.
    """
    height, width = x.shape[1], x.shape[2]
    if height is not None and width is not None and height % 2 == 0 and width % 2 == 0:
        return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name=name)(x)
    x = keras.layers.ZeroPadding2D(padding=((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="valid", name=name)(x)


def levi_hassner_map_size(size: int) -> int:
    """Side of the ``pool5`` map for an input side ``size`` (0 when too small)."""
    size = (size - 7) // 4 + 1  # conv1, 7x7 stride 4, no padding
    for _ in range(3):  # pool1, pool2, pool5 (conv2 and conv3 keep the size)
        size = -(-(size - 3) // 2) + 1 if size >= 2 else 0
    return size


@keras.saving.register_keras_serializable(package="adiencekit")
class LeviHassnerBackbone(Backbone):
    """The convolutional trunk of Levi & Hassner (2015): conv1-conv3 to the ``pool5`` map.

    Layer names follow the authors' prototxt (``conv1``, ``pool1``, ``norm1``, ...,
    ``pool5``); pooling rounds up as Caffe's does and the LRN uses Caffe's parameters
    (see :mod:`adiencekit.models.levi_hassner`).

    Args:
        input_shape: ``(height, width, channels)``; ``None`` sides are allowed.
        seed: seed of the Gaussian initializers (``None``: not seeded).
        name: model name.
    """

    default_preprocessing: ClassVar[dict[str, Any] | None] = {
        "kind": "mean",
        "mean": list(LEVI_HASSNER_MEAN),
        "name": "mean_subtraction",
    }
    default_head: ClassVar[dict[str, Any]] = {
        "pooling": "flatten",
        "hidden_units": (512, 512),
        "hidden_names": ("fc6", "fc7"),
        "dropout": 0.5,
    }

    def __init__(
        self,
        input_shape: Sequence[int | None] = (227, 227, 3),
        seed: int | None = None,
        name: str = "levi_hassner_backbone",
        **kwargs: Any,
    ) -> None:
        shape = validate_input_shape(input_shape, min_size=7, allow_none=True, model="levi_hassner")
        for size in shape[:2]:
            if size is not None and levi_hassner_map_size(size) < 1:
                raise ValueError(f"levi_hassner: input_shape {shape} is too small; the pool5 map would be empty")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        inputs = keras.Input(shape=shape, name="pixels")
        x = inputs
        conv_specs = [  # name, filters, kernel, stride, padding, bias init
            ("conv1", 96, 7, 4, 0, 0.0),
            ("conv2", 256, 5, 1, 2, 1.0),
            ("conv3", 384, 3, 1, 1, 0.0),
        ]
        for index, (layer_name, filters, kernel, stride, pad, bias) in enumerate(conv_specs, start=1):
            # A stride-1 convolution padded by (kernel - 1) / 2 on every side is "same".
            x = keras.layers.Conv2D(
                filters,
                kernel,
                strides=stride,
                padding="same" if pad else "valid",
                activation="relu",
                kernel_initializer=_gaussian(0.01, _seed(seed, index)),
                bias_initializer=keras.initializers.Constant(bias),
                name=layer_name,
            )(x)
            x = _caffe_max_pool(x, name=f"pool{index}" if index < 3 else "pool5")
            if index < 3:
                x = LocalResponseNormalization.from_caffe(5, 1e-4, 0.75, name=f"norm{index}")(x)
        super().__init__(inputs, x, name=name, **kwargs)
        self.seed = seed
        self.image_shape = shape

    def get_config(self) -> dict[str, Any]:
        return {**self._base_config(), "input_shape": list(self.image_shape), "seed": self.seed}


def _parse_trainable(trainable_blocks: Any) -> bool | int:
    """``True``/``False`` or a number of top blocks from ``int`` or ``"top:N"``."""
    if isinstance(trainable_blocks, bool):
        return trainable_blocks
    blocks: Any = trainable_blocks
    if isinstance(trainable_blocks, str) and trainable_blocks.startswith("top:"):
        try:
            blocks = int(trainable_blocks[4:])
        except ValueError:
            blocks = trainable_blocks
    if isinstance(blocks, int) and 0 <= blocks <= INCEPTION_BLOCKS:
        return blocks
    raise ValueError(
        "trainable_base must be True (fine-tune everything), False (frozen), or the number of "
        f"top inception blocks to train as an int or 'top:N' with 0 <= N <= {INCEPTION_BLOCKS}, "
        f"got {trainable_blocks!r}"
    )


@keras.saving.register_keras_serializable(package="adiencekit")
class InceptionV3Backbone(Backbone):
    """Inception-v3 without its top (``keras.applications``), as a backbone.

    The graph is ``keras.applications.InceptionV3(include_top=False, pooling=None)``'s
    own (layer names ``conv2d``, ``mixed0`` ... ``mixed10``), so its ImageNet weights
    files load into it. Its output is the 4-D ``mixed10`` map; the classifier's top pools
    it.

    Args:
        input_shape: ``(height, width, channels)``, at least 75x75; ``None`` sides are
            allowed.
        weights: ``None`` (random) or the path of a Keras Inception-v3 *no-top* weights
            file (such as the ImageNet file :func:`adiencekit.models.weights.imagenet_weights_path`
            fetches). Not stored in the config: a saved model carries its own weights.
        trainable_blocks: ``True`` trains the whole backbone, ``False`` (or 0) freezes
            it, ``N`` or ``"top:N"`` trains only the last N inception blocks (see
            :func:`adiencekit.models.set_trainable_blocks`). Stored in the config.
        name: model name (``"inception_v3"``).
    """

    default_preprocessing: ClassVar[dict[str, Any] | None] = {
        "kind": "rescale",
        "scale": 1.0 / 127.5,
        "offset": -1.0,
        "name": "inception_preprocessing",
    }
    default_head: ClassVar[dict[str, Any]] = {"pooling": "avg"}

    def __init__(
        self,
        input_shape: Sequence[int | None] = (299, 299, 3),
        weights: str | os.PathLike[str] | None = None,
        trainable_blocks: bool | int | str = True,
        name: str = "inception_v3",
        **kwargs: Any,
    ) -> None:
        shape = validate_input_shape(input_shape, min_size=75, allow_none=True, model="inception_v3")
        setting = _parse_trainable(trainable_blocks)
        if weights is not None:
            weights = os.fspath(weights)
            if not os.path.isfile(weights):
                raise ValueError(f"InceptionV3Backbone: weights file does not exist: {weights!r}")
        # Looked up at call time, so tests can observe what is passed to keras.applications.
        base = keras.applications.InceptionV3(include_top=False, weights=weights, input_shape=shape, pooling=None)
        trainable = kwargs.pop("trainable", None)
        super().__init__(base.input, base.output, name=name, **kwargs)
        self.image_shape = shape
        self.trainable_blocks = setting
        apply_trainable_blocks(self, setting)
        if trainable is not None and not trainable:
            self.trainable = False

    def get_config(self) -> dict[str, Any]:
        config = {
            **self._base_config(),
            "input_shape": list(self.image_shape),
            "trainable_blocks": self.trainable_blocks,
        }
        config.pop("trainable")  # trainable_blocks says it, per block
        return config


def apply_trainable_blocks(base: keras.Model, setting: bool | int) -> None:
    """Set which layers of an Inception-v3 graph train (see ``set_trainable_blocks``)."""
    layers = base.layers
    names = [layer.name for layer in layers]
    if setting is True:
        first_trainable = 0
    elif setting is False or setting == 0:
        first_trainable = len(layers)
    elif setting == INCEPTION_BLOCKS:
        # Everything after the stem, which ends with the last max-pool before mixed0.
        first_trainable = 1 + max(
            index for index in range(names.index("mixed0")) if isinstance(layers[index], keras.layers.MaxPooling2D)
        )
    else:
        first_trainable = 1 + names.index(f"mixed{INCEPTION_BLOCKS - 1 - setting}")
    # Set every layer explicitly: assigning a container's ``trainable`` the value it already
    # has does not reach layers that were changed individually before.
    base.trainable = first_trainable < len(layers)
    for index, layer in enumerate(layers):
        layer.trainable = index >= first_trainable
    if isinstance(base, InceptionV3Backbone):
        base.trainable_blocks = setting


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{argument} must be a positive int, got {value!r}")
    return value


@keras.saving.register_keras_serializable(package="adiencekit")
class ScratchCNNBackbone(Backbone):
    """The report's plain CNN: ``conv_layers`` blocks of 3x3 conv → [BatchNorm] → ReLU → 2x2 max-pool.

    Block ``i`` (from 1) has ``base_filters * 2**(i-1)`` filters; layers are named
    ``conv{i}``, ``conv{i}_bn``, ``conv{i}_relu`` and ``pool{i}``.

    Args:
        input_shape: ``(height, width, channels)``; sides at least ``2 ** conv_layers``
            or ``None``.
        conv_layers: number of blocks.
        base_filters: filters of the first block.
        batch_norm: BatchNormalization between each convolution and its ReLU (the
            convolution then has no bias).
        name: model name.
    """

    default_preprocessing: ClassVar[dict[str, Any] | None] = {
        "kind": "rescale",
        "scale": 1.0 / 255.0,
        "offset": 0.0,
        "name": "scratch_preprocessing",
    }
    default_head: ClassVar[dict[str, Any]] = {"pooling": "flatten", "hidden_units": (128,), "dropout": 0.0}

    def __init__(
        self,
        input_shape: Sequence[int | None] = (256, 256, 3),
        conv_layers: int = 3,
        base_filters: int = 16,
        batch_norm: bool = False,
        name: str = "scratch_cnn_backbone",
        **kwargs: Any,
    ) -> None:
        conv_layers = _positive_int(conv_layers, "conv_layers")
        base_filters = _positive_int(base_filters, "base_filters")
        if not isinstance(batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
        shape = validate_input_shape(
            input_shape, min_size=2**conv_layers, allow_none=True, model=f"scratch_cnn(conv_layers={conv_layers})"
        )
        inputs = keras.Input(shape=shape, name="pixels")
        x = inputs
        for block in range(1, conv_layers + 1):
            filters = base_filters * 2 ** (block - 1)
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"conv{block}")(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"conv{block}_bn")(x)
            x = keras.layers.Activation("relu", name=f"conv{block}_relu")(x)
            x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
        super().__init__(inputs, x, name=name, **kwargs)
        self.image_shape = shape
        self.conv_layers = conv_layers
        self.base_filters = base_filters
        self.batch_norm = batch_norm

    def get_config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "input_shape": list(self.image_shape),
            "conv_layers": self.conv_layers,
            "base_filters": self.base_filters,
            "batch_norm": self.batch_norm,
        }


def _conv_bn(x: Any, filters: int, kernel: int, strides: int, name: str, relu: bool = True) -> Any:
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _basic_block(x: Any, filters: int, strides: int, name: str) -> Any:
    """He et al.'s basic block: two 3x3 conv/BN, identity or 1x1 projection shortcut."""
    y = _conv_bn(x, filters, 3, strides, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        x = _conv_bn(x, filters, 1, strides, f"{name}_proj", relu=False)
    return keras.layers.Activation("relu", name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([x, y]))


@keras.saving.register_keras_serializable(package="adiencekit")
class FaceResNetBackbone(Backbone):
    """A compact ResNet (He et al. 2016, basic blocks) for small face crops.

    A 3x3 stride-2 stem of ``width`` filters, then ``len(blocks)`` stages; stage ``i``
    has ``blocks[i]`` basic blocks of ``width * 2**i`` filters, and every stage after the
    first starts with a stride-2 block. Each convolution is followed by batch
    normalisation; shortcuts are identities, or 1x1 projections where the shape changes.
    Layers are named ``stem_*`` and ``stage{i}_block{j}_*`` (from 1).

    With the defaults (``width=32``, ``blocks=(1, 1, 1, 1)``) a 96x96 crop becomes a
    6x6x256 map; the trunk has 1,229,280 parameters and about 0.14 GMAC per face at 96 px.

    Args:
        input_shape: ``(height, width, channels)``; sides at least ``2 ** len(blocks)``
            or ``None``.
        width: filters of the stem and the first stage.
        blocks: basic blocks per stage (one to six stages).
        name: model name.

    Example:

    >>> from adiencekit.models.backbones import FaceResNetBackbone
    >>> trunk = FaceResNetBackbone(input_shape=(32, 32, 3), width=8, blocks=(1, 1))
    >>> trunk.output_shape
    (None, 8, 8, 16)
    """

    default_preprocessing: ClassVar[dict[str, Any] | None] = {
        "kind": "rescale",
        "scale": 1.0 / 127.5,
        "offset": -1.0,
        "name": "face_resnet_preprocessing",
    }
    default_head: ClassVar[dict[str, Any]] = {"pooling": "avg", "hidden_units": (), "input_dropout": 0.3}

    def __init__(
        self,
        input_shape: Sequence[int | None] = (96, 96, 3),
        width: int = 32,
        blocks: Sequence[int] = (1, 1, 1, 1),
        name: str = "face_resnet_backbone",
        **kwargs: Any,
    ) -> None:
        width = _positive_int(width, "width")
        if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence) or not 1 <= len(blocks) <= 6:
            raise ValueError(f"blocks must be a sequence of 1 to 6 positive ints, got {blocks!r}")
        blocks = tuple(_positive_int(b, "blocks[i]") for b in blocks)
        shape = validate_input_shape(
            input_shape, min_size=2 ** len(blocks), allow_none=True, model=f"face_resnet(blocks={list(blocks)})"
        )
        inputs = keras.Input(shape=shape, name="pixels")
        x = _conv_bn(inputs, width, 3, 2, "stem")
        for stage, count in enumerate(blocks, start=1):
            for block in range(1, count + 1):
                strides = 2 if stage > 1 and block == 1 else 1
                x = _basic_block(x, width * 2 ** (stage - 1), strides, f"stage{stage}_block{block}")
        super().__init__(inputs, x, name=name, **kwargs)
        self.image_shape = shape
        self.width = width
        self.blocks = blocks

    def get_config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "input_shape": list(self.image_shape),
            "width": self.width,
            "blocks": list(self.blocks),
        }


@keras.saving.register_keras_serializable(package="adiencekit")
class TFHubBackbone(Backbone):
    """A TF-Hub image feature-vector module (or TF2 SavedModel) as a backbone.

    TensorFlow backend only: on JAX or PyTorch it raises a ``ConfigError`` naming the
    backend. The module is called on the preprocessed images and must return a feature
    vector ``(batch, features)``; most TF-Hub image modules take pixels in [0, 1], which
    is :attr:`default_preprocessing`.

    Args:
        handle: a TF-Hub URL or the path of a SavedModel folder (see
            :class:`adiencekit.layers.TFHubLayer`).
        input_shape: ``(height, width, channels)`` the module expects.
        trainable: fine-tune the module's variables.
        output_key: the entry to use when the module returns a dict.
        name: model name.
    """

    default_preprocessing: ClassVar[dict[str, Any] | None] = {
        "kind": "rescale",
        "scale": 1.0 / 255.0,
        "offset": 0.0,
        "name": "hub_preprocessing",
    }
    default_head: ClassVar[dict[str, Any]] = {"pooling": "avg"}

    def __init__(
        self,
        handle: str,
        input_shape: Sequence[int | None] = (224, 224, 3),
        trainable: bool = False,
        output_key: str | None = None,
        name: str = "tf_hub_backbone",
        **kwargs: Any,
    ) -> None:
        if keras.backend.backend() != "tensorflow":
            from adiencekit.errors import ConfigError

            raise ConfigError(
                f"TFHubBackbone needs the TensorFlow backend (TF-Hub modules are TensorFlow graphs); "
                f"the Keras backend is {keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow"
            )
        from adiencekit.layers.hub import TFHubLayer

        shape = validate_input_shape(input_shape, allow_none=True, model="tf_hub")
        inputs = keras.Input(shape=shape, name="pixels")
        layer = TFHubLayer(handle, trainable=trainable, output_key=output_key, name="hub")
        super().__init__(inputs, layer(inputs), name=name, **kwargs)
        self.handle = handle
        self.image_shape = shape
        self.hub_trainable = trainable
        self.output_key = output_key

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "handle": self.handle,
            "input_shape": list(self.image_shape),
            "trainable": self.hub_trainable,
            "output_key": self.output_key,
        }
