"""Tests for adiencekit.layers.photo_degradation.PhotoDegradation (every backend; JPEG in tf.data and under JAX)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from adiencekit.layers.photo_degradation import PhotoDegradation, _pil_jpeg
from adiencekit.testing import assert_layer_config_round_trip, assert_seeded_per_call, tf_data_batches

#: Every step off: tests switch on the one they look at.
OFF = dict(resolution=0, yaw=0, gamma=0, side_light=0, noise=0, jpeg=0)


def texture(count: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """Fine random texture (most of its energy at high frequencies)."""
    return np.random.default_rng(seed).uniform(30, 225, (count, size, size, 3)).astype("float32")


def high_frequency_energy(images: np.ndarray) -> np.ndarray:
    """Per image: mean squared difference between horizontal and vertical neighbours."""
    dx = np.diff(images, axis=2) ** 2
    dy = np.diff(images, axis=1) ** 2
    return dx.mean(axis=(1, 2, 3)) + dy.mean(axis=(1, 2, 3))


def run(images: np.ndarray, **kwargs) -> np.ndarray:
    return np.asarray(PhotoDegradation(**{**OFF, "seed": 3, **kwargs})(images))


def test_shapes_dtypes_range_and_inference_identity():
    images = texture()
    layer = PhotoDegradation(seed=0, resolution=1.0, noise=1.0, jpeg=1.0)
    out = np.asarray(layer(images))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert np.asarray(layer(images[0])).shape == images.shape[1:]
    assert np.asarray(layer(images.astype("uint8"))).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    np.testing.assert_allclose(run(images), images, atol=1e-3)  # every step off
    assert layer.compute_output_shape((None, 32, 32, 3)) == (None, 32, 32, 3)


def test_down_up_scaling_removes_high_frequencies_per_image_and_keeps_flat_images():
    images = texture(16)
    before = high_frequency_energy(images)
    after = high_frequency_energy(run(images, resolution=1.0, min_scale=0.25))
    ratio = after / before
    assert (ratio < 0.8).all(), ratio  # every image lost fine detail
    assert ratio.max() - ratio.min() > 0.1  # one scale per image, not one per batch
    flat = np.full((4, 24, 24, 3), 100.0, "float32")
    np.testing.assert_allclose(run(flat, resolution=1.0, min_scale=0.3), flat, atol=1e-3)  # averages, no dark border
    # a scale of 1 (min_scale=1) is the identity
    np.testing.assert_allclose(run(images, resolution=1.0, min_scale=1.0), images, atol=1e-3)


def test_down_up_scaling_follows_its_probability():
    images = texture(64, size=16)
    out = run(images, resolution=0.5)
    changed = np.abs(out - images).max(axis=(1, 2, 3)) > 1e-2
    assert 16 <= changed.sum() <= 48, changed.sum()


def test_yaw_warp_moves_the_middle_sideways_both_ways_and_keeps_rows_and_edges():
    size = 33
    image = np.zeros((size, size, 3), "float32")
    image[:, 15:18] = 250.0  # a vertical bar in the middle
    out = run(np.repeat(image[None], 32, axis=0), yaw=0.3)
    columns = np.arange(size)
    centres = (out[..., 0].sum(axis=1) * columns).sum(axis=1) / out[..., 0].sum(axis=(1, 2))
    assert centres.min() < 14 and centres.max() > 18, centres  # moved left and right, per image
    np.testing.assert_allclose(out[:, :1], out[:, -1:], atol=1e-3)  # every row moved alike (columns only)
    ramp = np.broadcast_to(np.linspace(10, 240, size, dtype="float32")[None, None, :, None], (8, size, size, 3))
    warped = run(np.ascontiguousarray(ramp), yaw=0.5)
    assert np.all(np.diff(warped[:, 0, :, 0], axis=1) > -1e-3)  # monotone: no folding at |a| <= 0.5
    np.testing.assert_allclose(warped[:, :, [0, -1]], ramp[:, :, [0, -1]], atol=4.0)  # the edges stay


def test_noise_adds_zero_mean_noise_up_to_its_sigma():
    flat = np.full((64, 32, 32, 3), 128.0, "float32")
    out = run(flat, noise=1.0, noise_sigma=10.0)
    sigmas = (out - flat).std(axis=(1, 2, 3))
    assert sigmas.max() <= 10.5 and sigmas.max() > 8.0 and sigmas.min() < 3.0, sigmas
    assert abs(float((out - flat).mean())) < 0.5


def test_gamma_and_side_light_change_light_not_geometry():
    images = texture(32)
    gamma = run(images, gamma=0.5)
    means = gamma.mean(axis=(1, 2, 3)) - images.mean(axis=(1, 2, 3))
    assert means.min() < -5 and means.max() > 5  # darker and brighter images
    assert np.all(np.argsort(gamma[0].ravel()) == np.argsort(images[0].ravel())) or np.allclose(gamma[0], images[0])
    flat = np.full((32, 20, 20, 3), 120.0, "float32")
    lit = run(flat, side_light=0.3)
    spread = lit.max(axis=(1, 2, 3)) - lit.min(axis=(1, 2, 3))
    assert spread.max() > 40 and spread.max() <= 2 * 0.3 * 120 + 1e-3  # a ramp up to +-30 %


def smooth(count: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """Grey, smoothly varying images (what JPEG keeps well at high quality)."""
    from PIL import Image

    coarse = np.random.default_rng(seed).uniform(40, 215, (count, 6, 6)).astype("uint8")
    grey = np.stack([np.asarray(Image.fromarray(c).resize((size, size), Image.Resampling.BICUBIC)) for c in coarse])
    return np.repeat(grey[..., None], 3, axis=-1).astype("float32")


def test_jpeg_recompression_adds_block_artefacts_and_follows_quality():
    images = smooth()
    low = run(images, jpeg=1.0, jpeg_quality=(10, 10))
    high = run(images, jpeg=1.0, jpeg_quality=(95, 95))
    error_low, error_high = np.abs(low - images).mean(), np.abs(high - images).mean()
    assert error_low > 2 * error_high > 0, (error_low, error_high)
    assert np.array_equal(low, np.round(low))  # decoded pixels are whole numbers
    # the same as one image through a reference JPEG codec, up to the codecs' rounding
    reference = _pil_jpeg(np.round(images[0]).astype("uint8"), 10)
    assert np.abs(low[0] - reference).mean() < 2.0


def test_same_seed_same_images_different_seed_differs():
    assert_seeded_per_call(lambda seed: PhotoDegradation(seed=seed), texture(8))


def test_inside_tf_data_on_batches_reproducibly_with_jpeg():
    pytest.importorskip("tensorflow")
    images = texture(20, size=16).astype("uint8")
    first, second = (tf_data_batches(PhotoDegradation(seed=5, jpeg=1.0, resolution=1.0, noise=1.0), images)
                     for _ in range(2))
    assert [x.shape for x in first] == [(8, 16, 16, 3), (8, 16, 16, 3), (4, 16, 16, 3)] * 2
    assert all(x.dtype == np.float32 and x.min() >= 0 and x.max() <= 255 for x in first)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], first[3])  # each epoch draws anew


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install jax)")
def test_under_jax_eager_jpeg_runs_and_compiled_jpeg_says_what_to_do(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, jax
        from adiencekit.layers.photo_degradation import PhotoDegradation
        images = np.random.default_rng(0).uniform(30, 225, (4, 16, 16, 3)).astype("float32")
        a = np.asarray(PhotoDegradation(seed=2, jpeg=1.0, resolution=1.0, noise=1.0)(images))
        b = np.asarray(PhotoDegradation(seed=2, jpeg=1.0, resolution=1.0, noise=1.0)(images))
        assert a.shape == images.shape and np.array_equal(a, b) and not np.allclose(a, images)
        layer = PhotoDegradation(seed=2, jpeg=0.0, resolution=1.0, noise=1.0)
        out = jax.jit(lambda x: layer(x))(images)  # every other step compiles
        assert out.shape == images.shape
        try:
            jax.jit(lambda x: PhotoDegradation(seed=2, jpeg=1.0)(x))(images)
        except RuntimeError as error:
            assert "set jpeg=0" in str(error), error
        else:
            raise AssertionError("JPEG inside jax.jit should say what to do")
        print("ok")
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_config_round_trip():
    layer = PhotoDegradation(resolution=0.2, min_scale=0.5, gamma=None, noise=0.1, jpeg_quality=(40, 80), seed=4)
    rebuilt = assert_layer_config_round_trip(layer)
    assert (rebuilt.resolution, rebuilt.min_scale, rebuilt.gamma, rebuilt.jpeg_quality, rebuilt.seed) == (
        0.2, 0.5, 0.0, (40, 80), 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"resolution": 1.5}, ValueError, "PhotoDegradation resolution"),
        ({"min_scale": 0.0}, ValueError, "min_scale"),
        ({"yaw": 0.6}, ValueError, "yaw"),
        ({"noise_sigma": 100}, ValueError, "noise_sigma"),
        ({"side_light": 1.0}, ValueError, "side_light"),
        ({"jpeg_quality": (90, 30)}, ValueError, "jpeg_quality"),
        ({"jpeg_quality": (1, 30)}, ValueError, "jpeg_quality"),
        ({"jpeg": True}, TypeError, "jpeg"),
        ({"seed": "1"}, TypeError, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        PhotoDegradation(**kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        PhotoDegradation()(np.zeros((2, 8, 8, 1), "float32"))
    assert keras.ops.convert_to_numpy(PhotoDegradation(**OFF)(np.zeros((1, 4, 4, 3)))).shape == (1, 4, 4, 3)
