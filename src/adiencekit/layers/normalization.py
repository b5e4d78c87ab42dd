"""Local response normalization (LRN), written with ``keras.ops`` only.

LRN normalizes every activation by the energy of its neighbours along the channel
axis. It was part of AlexNet/CaffeNet and of the Levi & Hassner (2015) age and gender
network. Keras 3 has no LRN layer, and ``tf.nn.local_response_normalization`` exists only
on the TensorFlow backend, so this layer re-implements it with backend-agnostic ops and
runs on TensorFlow, JAX and PyTorch.

Semantics (TensorFlow's, which this layer matches numerically)::

    sqr_sum[..., d] = sum(x[..., d - r : d + r + 1] ** 2)      # r = depth_radius
    y[..., d]       = x[..., d] / (bias + alpha * sqr_sum[..., d]) ** beta

Channels beyond the edges count as zero. ``alpha`` multiplies the plain sum; it is
**not** divided by the window size.

Caffe's LRN (``local_size`` n, ``alpha``, ``beta``, ``k``) divides ``alpha`` by ``n``::

    y = x / (k + alpha_caffe / n * sqr_sum) ** beta

so a Caffe layer with ``local_size: n`` and ``alpha: a`` is
``LocalResponseNormalization(depth_radius=(n - 1) // 2, alpha=a / n, beta=beta, bias=k)``,
which :meth:`LocalResponseNormalization.from_caffe` computes for you. Levi & Hassner's
``local_size: 5, alpha: 0.0001, beta: 0.75`` becomes ``depth_radius=2, alpha=2e-5``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="adiencekit")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (TensorFlow semantics).

    The channel axis is the last one (``channels_last`` images, as in every adiencekit
    model). Under mixed precision the sum of squares and the power are computed in
    float32 and the result is cast back to the layer's compute dtype.

    Args:
        depth_radius: half-width ``r`` of the channel window; the window holds
            ``2 * r + 1`` channels. Must be a non-negative integer.
        bias: additive constant ``k`` (must be positive, so the base of the power
            stays positive).
        alpha: scale of the sum of squares (TensorFlow convention, not divided by the
            window size). Must be non-negative.
        beta: exponent. Must be non-negative.
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).

    Example:

    >>> import numpy as np
    >>> from adiencekit.layers.normalization import LocalResponseNormalization
    >>> lrn = LocalResponseNormalization.from_caffe(local_size=5, alpha=1e-4, beta=0.75)
    >>> (lrn.depth_radius, lrn.alpha)
    (2, 2e-05)
    >>> y = lrn(np.full((1, 2, 2, 8), 10.0, "float32"))
    >>> tuple(y.shape)
    (1, 2, 2, 8)
    >>> expected = 10.0 / (1.0 + 2e-5 * 5 * 100.0) ** 0.75   # 5 channels in the window
    >>> bool(abs(float(y[0, 0, 0, 4]) - expected) < 1e-5)
    True
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 1.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(f"depth_radius must be a non-negative int, got {depth_radius!r}")
        if not bias > 0:
            raise ValueError(f"bias must be > 0, got {bias!r}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}")
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    @classmethod
    def from_caffe(
        cls, local_size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, **kwargs: Any
    ) -> LocalResponseNormalization:
        """Build the layer equivalent to a Caffe ``LRN`` layer (``ACROSS_CHANNELS``).

        Args:
            local_size: Caffe's ``local_size`` ``n``; must be a positive odd integer.
            alpha: Caffe's ``alpha`` (divided by ``n`` here).
            beta: Caffe's ``beta``.
            k: Caffe's ``k`` (the bias).
            **kwargs: passed to the constructor (``name``, ...).

        Returns:
            The equivalent ``LocalResponseNormalization`` layer.
        """
        if isinstance(local_size, bool) or not isinstance(local_size, int) or local_size < 1 or local_size % 2 == 0:
            raise ValueError(f"local_size must be a positive odd int (Caffe requires it), got {local_size!r}")
        return cls(depth_radius=(local_size - 1) // 2, bias=k, alpha=alpha / local_size, beta=beta, **kwargs)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "LocalResponseNormalization needs inputs with a known last (channel) axis, "
                f"got input shape {input_shape}"
            )
        channels = int(input_shape[-1])
        index = np.arange(channels)
        # band[i, j] = 1 when channel i lies in the window of channel j: the window sum of
        # squares is then one matmul, which every backend runs as a fused GEMM (several
        # times faster, forward and backward, than summing 2r + 1 shifted slices).
        self._band = (np.abs(index[:, None] - index[None, :]) <= self.depth_radius).astype("float32")

    def call(self, inputs: Any) -> Any:
        x = inputs
        low_precision = keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16")
        if low_precision:
            x = ops.cast(x, "float32")
        sqr_sum = ops.matmul(ops.square(x), ops.convert_to_tensor(self._band))
        outputs = x * ops.exp(-self.beta * ops.log(self.bias + self.alpha * sqr_sum))
        if low_precision:
            outputs = ops.cast(outputs, inputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"depth_radius": self.depth_radius, "bias": self.bias, "alpha": self.alpha, "beta": self.beta}
        )
        return config
