"""Tests for adiencekit.layers.photo_augmentation.PhotoAugmentation (every backend)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.layers import PhotoAugmentation
from adiencekit.testing import assert_layer_config_round_trip, assert_saving_round_trip, assert_seeded_per_call

#: Every step off: tests switch on the one they look at.
OFF = dict(scale=0, shift=0, brightness=0, contrast=0, saturation=0, hue=0, blur=0, grayscale=0)
LUMA = np.array([0.299, 0.587, 0.114])


def noise(count: int = 4, size: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(20, 235, (count, size, size, 3)).astype("float32")


def square(count: int, size: int = 32, half: int = 6) -> np.ndarray:
    """A bright centred square (side ``2 * half``) on black, repeated ``count`` times."""
    image = np.zeros((size, size, 3), "float32")
    centre = size // 2
    image[centre - half : centre + half, centre - half : centre + half] = 250.0
    return np.repeat(image[None], count, axis=0)


def run(images: np.ndarray, **kwargs) -> np.ndarray:
    return np.asarray(PhotoAugmentation(**{**OFF, "seed": 3, **kwargs})(images))


def test_shapes_dtypes_and_range():
    images = noise()
    layer = PhotoAugmentation(seed=0)
    out = np.asarray(layer(images))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert np.asarray(layer(images[0])).shape == images.shape[1:]
    as_uint8 = np.asarray(layer(images.astype("uint8")))
    assert as_uint8.dtype == np.float32 and as_uint8.shape == images.shape
    assert layer.compute_output_shape((None, 24, 24, 3)) == (None, 24, 24, 3)


def test_inference_and_all_off_are_the_identity():
    images = noise()
    np.testing.assert_array_equal(np.asarray(PhotoAugmentation(seed=0)(images, training=False)), images)
    np.testing.assert_array_equal(
        np.asarray(PhotoAugmentation(seed=0)(images.astype("uint8"), training=False)), images.astype("uint8")
    )
    np.testing.assert_allclose(run(images), images, atol=1e-3)  # every strength 0, training


def test_zoom_goes_both_in_and_out_per_image():
    out = run(square(64), scale=0.3)
    areas = out[..., 0].sum(axis=(1, 2)) / 250.0  # the square covers 144 px
    assert areas.min() < 120 and areas.max() > 170, areas  # zoomed out (smaller) and in (larger)
    assert len(set(np.round(areas).tolist())) > 20  # one draw per image, not one per batch
    flat = np.full((8, 16, 16, 3), 90.0, "float32")
    np.testing.assert_allclose(run(flat, scale=0.3), flat, atol=1e-3)  # reflect fill: no border colour


def test_shift_moves_each_image_within_the_bound():
    out = run(square(64), shift=0.1)
    weights = out[..., 0]
    rows = (weights.sum(axis=2) * np.arange(32)).sum(axis=1) / weights.sum(axis=(1, 2))
    cols = (weights.sum(axis=1) * np.arange(32)).sum(axis=1) / weights.sum(axis=(1, 2))
    centre = 15.5
    for moved in (rows - centre, cols - centre):
        assert np.abs(moved).max() <= 0.1 * 32 + 0.5
        assert moved.min() < -1 and moved.max() > 1
    assert not np.allclose(rows - centre, cols - centre)  # rows and columns drawn apart


def test_colour_changes_per_image_and_keeps_images_uniform():
    flat = np.repeat(np.full((1, 8, 8, 3), [180.0, 120.0, 60.0], "float32"), 32, axis=0)
    out = run(flat, brightness=0.3, contrast=0.3, saturation=0.5, hue=0.05)
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1, :1], out.shape), atol=1e-3)  # no spatial change
    colours = out[:, 0, 0]
    assert len(np.unique(np.round(colours, 2), axis=0)) == 32


def test_saturation_and_hue_keep_luma_and_grey_stays_grey():
    images = noise(16, size=8) * 0.4 + 75  # in [83, 169]: nothing clipped
    out = run(images, saturation=0.4, hue=0.1)
    np.testing.assert_allclose(out @ LUMA, images @ LUMA, atol=0.05)
    grey = np.repeat(images[..., :1], 3, axis=-1)
    np.testing.assert_allclose(run(grey, saturation=0.8, hue=0.2), grey, atol=1e-3)


def test_brightness_scales_and_contrast_keeps_the_mean_luma():
    images = noise(16, size=8) * 0.4 + 75  # in [83, 169]: nothing clipped
    bright = run(images, brightness=0.3)
    ratio = bright / images
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1, :1], ratio.shape), rtol=1e-4)
    assert ratio.min() >= 0.7 - 1e-4 and ratio.max() <= 1.3 + 1e-4
    contrast = run(images, contrast=0.5)
    np.testing.assert_allclose((contrast @ LUMA).mean(axis=(1, 2)), (images @ LUMA).mean(axis=(1, 2)), atol=0.05)
    spread = (contrast @ LUMA).std(axis=(1, 2)) / (images @ LUMA).std(axis=(1, 2))
    assert spread.min() < 0.9 and spread.max() > 1.1


def test_grayscale_follows_its_probability():
    images = noise(400, size=6, seed=1)
    out = run(images, grayscale=0.3)
    grey = np.all(np.ptp(out, axis=-1) < 1e-3, axis=(1, 2))
    assert 0.22 < grey.mean() < 0.38, grey.mean()
    np.testing.assert_allclose(out[grey][..., 0], images[grey] @ LUMA, atol=0.05)
    np.testing.assert_allclose(out[~grey], images[~grey], atol=1e-3)
    assert np.all(np.ptp(run(images[:8], grayscale=1.0), axis=-1) < 1e-3)


def test_blur_follows_its_probability_with_a_sigma_per_image():
    checker = (np.indices((16, 16)).sum(axis=0) % 2 * 200.0 + 20.0).astype("float32")
    images = np.repeat(np.repeat(checker[None, :, :, None], 3, axis=-1), 400, axis=0)
    out = run(images, blur=0.25, blur_sigma=1.5)
    blurred = np.abs(out - images).max(axis=(1, 2, 3)) > 1.0
    assert 0.18 < blurred.mean() < 0.32, blurred.mean()
    np.testing.assert_allclose(out[~blurred], images[~blurred], atol=1e-3)
    np.testing.assert_allclose(out[blurred].mean(axis=(1, 2, 3)), images[0].mean(), atol=0.5)  # mass kept
    contrast_left = np.round(out[blurred].std(axis=(1, 2, 3)), 1)
    assert contrast_left.max() < images[0].std() and len(set(contrast_left.tolist())) > 20  # own sigma each


def test_same_seed_same_sequence_different_seed_differs():
    assert_seeded_per_call(lambda seed: PhotoAugmentation(seed=seed), noise(8))


def test_inside_tf_data_on_batches_reproducibly():
    tf = pytest.importorskip("tensorflow")
    images = noise(20, size=16).astype("uint8")

    def pipeline(seed: int) -> list[np.ndarray]:
        layer = PhotoAugmentation(seed=seed)
        dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(20))).batch(8)
        dataset = dataset.map(lambda x, y: (layer(x), y))
        return [(x.numpy(), y.numpy()) for _ in range(2) for x, y in dataset]  # two epochs

    first, second = pipeline(5), pipeline(5)
    assert [x.shape for x, _ in first] == [(8, 16, 16, 3), (8, 16, 16, 3), (4, 16, 16, 3)] * 2
    assert all(x.dtype == np.float32 and x.min() >= 0 and x.max() <= 255 for x, _ in first)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(first[0][0], first[3][0])  # each epoch draws anew
    assert not np.allclose(first[0][0], images[:8])


def test_config_and_saving_round_trip(tmp_path):
    layer = PhotoAugmentation(scale=0.1, shift=None, hue=0.0, blur=0.5, blur_sigma=1.0, seed=4, name="photo")
    rebuilt = assert_layer_config_round_trip(layer)
    assert (rebuilt.scale, rebuilt.shift, rebuilt.blur, rebuilt.blur_sigma, rebuilt.seed) == (0.1, 0.0, 0.5, 1.0, 4)
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), PhotoAugmentation(seed=1), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.fit(noise(4, size=16), np.zeros((4, 2)), epochs=1, verbose=0)
    restored = assert_saving_round_trip(model, noise(2, size=16), tmp_path)
    assert isinstance(restored.layers[0], PhotoAugmentation)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scale": 1.0}, ValueError, r"scale must be in \[0, 1\)"),
        ({"shift": -0.1}, ValueError, "shift"),
        ({"hue": 0.6}, ValueError, "hue"),
        ({"blur": 1.5}, ValueError, "blur"),
        ({"grayscale": True}, TypeError, "grayscale"),
        ({"brightness": "0.2"}, TypeError, "brightness"),
        ({"blur_sigma": 0.1}, ValueError, "blur_sigma"),
        ({"blur_sigma": float("nan")}, TypeError, "blur_sigma"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        PhotoAugmentation(**kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        PhotoAugmentation()(np.zeros((2, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="statically known"):
        PhotoAugmentation().build((None, None, None, 3))
