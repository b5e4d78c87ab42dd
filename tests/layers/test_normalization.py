"""Tests of adiencekit.layers.normalization (LocalResponseNormalization)."""

from __future__ import annotations

import importlib.util

import keras
import numpy as np
import pytest

from adiencekit.layers.normalization import LocalResponseNormalization
from adiencekit.testing import assert_layer_config_round_trip, assert_saving_round_trip


def reference_lrn(x: np.ndarray, depth_radius: int, bias: float, alpha: float, beta: float) -> np.ndarray:
    """Direct transcription of the TF formula, channel by channel, in float64."""
    x = x.astype("float64")
    channels = x.shape[-1]
    out = np.empty_like(x)
    for d in range(channels):
        low, high = max(0, d - depth_radius), min(channels, d + depth_radius + 1)
        sqr_sum = np.sum(x[..., low:high] ** 2, axis=-1)
        out[..., d] = x[..., d] / (bias + alpha * sqr_sum) ** beta
    return out


def reference_caffe_lrn(x: np.ndarray, local_size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """Caffe's ACROSS_CHANNELS LRN: alpha is divided by local_size."""
    half = (local_size - 1) // 2
    return reference_lrn(x, half, k, alpha / local_size, beta)


@pytest.mark.parametrize(
    "depth_radius, bias, alpha, beta, channels",
    [(2, 1.0, 1e-4, 0.75, 16), (0, 2.0, 0.5, 0.5, 3), (3, 1.0, 1e-2, 1.0, 4), (5, 0.5, 1e-3, 0.75, 2)],
)
def test_matches_reference_formula(depth_radius, bias, alpha, beta, channels):
    rng = np.random.default_rng(0)
    x = rng.normal(scale=20.0, size=(2, 5, 4, channels)).astype("float32")
    layer = LocalResponseNormalization(depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta)
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, reference_lrn(x, depth_radius, bias, alpha, beta), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or importlib.util.find_spec("tensorflow") is None,
    reason="tf.nn.local_response_normalization needs the TensorFlow backend",
)
@pytest.mark.parametrize(
    "depth_radius, bias, alpha, beta", [(2, 1.0, 1e-4, 0.75), (5, 1.0, 1.0, 0.5), (1, 2.0, 0.1, 1.0)]
)
def test_matches_tensorflow(depth_radius, bias, alpha, beta):
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 50.0, size=(2, 6, 6, 12)).astype("float32")
    expected = tf.nn.local_response_normalization(x, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta)
    got = LocalResponseNormalization(depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta)(x)
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_from_caffe_matches_caffe_formula():
    layer = LocalResponseNormalization.from_caffe(local_size=5, alpha=1e-4, beta=0.75, name="norm1")
    assert (layer.depth_radius, layer.bias, layer.beta, layer.name) == (2, 1.0, 0.75, "norm1")
    assert layer.alpha == pytest.approx(2e-5)
    x = np.random.default_rng(2).uniform(0.0, 255.0, size=(1, 3, 3, 10)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), reference_caffe_lrn(x, 5, 1e-4, 0.75, 1.0), rtol=1e-5
    )
    # Large activations really get normalized (the layer is not an identity here).
    assert not np.allclose(keras.ops.convert_to_numpy(layer(x)), x, rtol=1e-3)


@pytest.mark.parametrize("local_size", [0, 4, -3, 2.5, True])
def test_from_caffe_rejects_bad_local_size(local_size):
    with pytest.raises(ValueError, match="local_size"):
        LocalResponseNormalization.from_caffe(local_size=local_size)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth_radius": -1}, "depth_radius"),
        ({"depth_radius": 1.5}, "depth_radius"),
        ({"bias": 0.0}, "bias"),
        ({"alpha": -1e-4}, "alpha"),
        ({"beta": -0.5}, "beta"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalResponseNormalization(**kwargs)


def test_unknown_channel_axis_is_an_error():
    layer = LocalResponseNormalization()
    with pytest.raises(ValueError, match="channel"):
        layer.build((None, 4, 4, None))


def test_config_round_trip():
    layer = LocalResponseNormalization(depth_radius=3, bias=2.0, alpha=1e-3, beta=0.5, name="lrn")
    rebuilt = assert_layer_config_round_trip(layer)
    assert (rebuilt.depth_radius, rebuilt.bias, rebuilt.alpha, rebuilt.beta) == (3, 2.0, 1e-3, 0.5)


def test_saving_round_trip(tmp_path):
    inputs = keras.Input((4, 4, 6))
    outputs = LocalResponseNormalization(depth_radius=1, alpha=0.05, name="lrn")(keras.layers.Conv2D(6, 1)(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(3).uniform(0, 10, size=(2, 4, 4, 6)).astype("float32")
    restored = assert_saving_round_trip(model, x, tmp_path)
    assert isinstance(restored.get_layer("lrn"), LocalResponseNormalization)


def test_mixed_precision_keeps_dtype_and_values():
    x = np.random.default_rng(4).uniform(0.0, 30.0, size=(1, 2, 2, 8)).astype("float32")
    reference = reference_lrn(x, 2, 1.0, 1e-2, 0.75)
    layer = LocalResponseNormalization(alpha=1e-2, dtype="mixed_bfloat16")
    got = layer(keras.ops.cast(x, "bfloat16"))
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(got, "float32")), reference, rtol=2e-2)
