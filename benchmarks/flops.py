"""Analytic forward-pass cost of a Keras model: multiply-adds of its conv and dense layers.

The count walks the layers (nested models included) and adds, per image, the
multiply-adds of every ``Conv*``, ``DepthwiseConv2D``, ``SeparableConv*``,
``Conv*Transpose``, ``Dense`` and ``EinsumDense`` layer; pooling, normalization,
activations and element-wise layers are left out (well under 1 % for the zoo).
One multiply-add is two floating-point operations. A training step is counted per
layer (:func:`train_macs`): the forward pass, the gradient with respect to the weights
when the layer is trainable, and the gradient with respect to its input when a
trainable layer sits before it — so a frozen base costs one forward pass, not three.

Example:

>>> import keras, flops
>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same"),
...                           keras.layers.Flatten(), keras.layers.Dense(2)])
>>> flops.forward_macs(model)  # 8*8*4*3*3*3 + 256*2
7424
"""

from __future__ import annotations

import math
from typing import Any

import keras

#: Multiplier from forward FLOPs to training-step FLOPs (forward + 2x backward).
TRAIN_FLOPS_PER_FORWARD = 3.0


def _shape(tensor_or_shape: Any) -> tuple[int | None, ...]:
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _io_shapes(layer: keras.layers.Layer) -> tuple[tuple, tuple]:
    """Input and output shapes of a layer that was called once in a functional graph."""
    try:
        in_shape = _shape(layer.input)
        out_shape = _shape(layer.output)
    except (AttributeError, ValueError) as err:
        raise ValueError(
            f"cannot count the cost of layer {layer.name!r} ({type(layer).__name__}): it has no single "
            f"symbolic input/output ({err}); build the model functionally with a fixed input shape"
        ) from err
    return in_shape, out_shape


def _spatial(shape: tuple, data_format: str) -> list[int]:
    dims = shape[1:-1] if data_format == "channels_last" else shape[2:]
    return [int(d) for d in dims]


def _channels(shape: tuple, data_format: str) -> int:
    return int(shape[-1] if data_format == "channels_last" else shape[1])


def layer_macs(layer: keras.layers.Layer) -> int:
    """Forward multiply-adds per sample of one (non-model) layer; 0 for cheap layers."""
    L = keras.layers
    if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):
        in_shape, out_shape = _io_shapes(layer)
        fmt = layer.data_format
        cin = _channels(in_shape, fmt)
        out_positions = math.prod(_spatial(out_shape, fmt))
        depthwise = out_positions * cin * layer.depth_multiplier * math.prod(layer.kernel_size)
        pointwise = out_positions * cin * layer.depth_multiplier * layer.filters
        return depthwise + pointwise
    if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        in_shape, out_shape = _io_shapes(layer)
        fmt = layer.data_format
        return math.prod(_spatial(out_shape, fmt)) * _channels(out_shape, fmt) * math.prod(layer.kernel_size)
    if isinstance(layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)):
        in_shape, out_shape = _io_shapes(layer)
        fmt = layer.data_format
        return (
            math.prod(_spatial(in_shape, fmt))
            * _channels(in_shape, fmt)
            * layer.filters
            * math.prod(layer.kernel_size)
        )
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        in_shape, out_shape = _io_shapes(layer)
        fmt = layer.data_format
        cin = _channels(in_shape, fmt)
        groups = getattr(layer, "groups", 1) or 1
        return math.prod(_spatial(out_shape, fmt)) * layer.filters * math.prod(layer.kernel_size) * (cin // groups)
    if isinstance(layer, L.Dense):
        in_shape, _ = _io_shapes(layer)
        positions = math.prod(int(d) for d in in_shape[1:-1]) if len(in_shape) > 2 else 1
        return positions * int(in_shape[-1]) * layer.units
    if isinstance(layer, L.EinsumDense):
        # Cost = number of kernel entries times the input positions not contracted.
        _, out_shape = _io_shapes(layer)
        kernel = math.prod(int(d) for d in layer.kernel.shape)
        out = math.prod(int(d) for d in out_shape[1:] if d is not None)
        kernel_out = math.prod(int(d) for d in layer.full_output_shape[1:] if d is not None)
        return kernel * max(out // max(kernel_out, 1), 1)
    return 0


def macs_by_layer(model: keras.Model) -> dict[str, int]:
    """Multiply-adds per sample of every costed layer, keyed ``outer/inner/layer``."""
    costs: dict[str, int] = {}

    def walk(layer: keras.layers.Layer, prefix: str) -> None:
        sublayers = getattr(layer, "layers", None)
        if isinstance(layer, keras.Model) and sublayers is not None:
            for sub in sublayers:
                walk(sub, f"{prefix}{layer.name}/")
            return
        cost = layer_macs(layer)
        if cost:
            costs[f"{prefix}{layer.name}"] = cost

    walk(model, "")
    return costs


def forward_macs(model: keras.Model) -> int:
    """Total forward multiply-adds per sample (see the module docstring for what counts)."""
    return sum(macs_by_layer(model).values())


def train_macs(model: keras.Model) -> int:
    """Multiply-adds per sample of one training step, counted per layer and trainable part.

    Each costed layer contributes its forward cost, once more for the weight gradient
    when it is trainable (itself and every enclosing model), and once more for the
    input gradient when some trainable costed layer comes before it in the layer order
    (functional and sequential models list their layers in topological order).

    Example:

    >>> import keras, flops
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> base.trainable = False
    >>> model = keras.Sequential([keras.Input((4,)), base, keras.layers.Dense(2)])
    >>> flops.forward_macs(model), flops.train_macs(model)  # base forward only; head forward + weight grad
    (48, 64)
    """
    total = 0
    trainable_before = False

    def walk(layer: keras.layers.Layer, parent_trainable: bool) -> None:
        nonlocal total, trainable_before
        trainable = parent_trainable and bool(layer.trainable)
        sublayers = getattr(layer, "layers", None)
        if isinstance(layer, keras.Model) and sublayers is not None:
            for sub in sublayers:
                walk(sub, trainable)
            return
        cost = layer_macs(layer)
        if not cost:
            return
        has_weights = trainable and bool(layer.trainable_weights)
        total += cost * (1 + int(has_weights) + int(trainable_before))
        trainable_before = trainable_before or has_weights

    walk(model, True)
    return total


def train_flops_per_image(model: keras.Model) -> float:
    """Training FLOPs per image: ``2 * train_macs(model)`` (see :func:`train_macs`)."""
    return 2.0 * train_macs(model)
