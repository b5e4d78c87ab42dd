"""Tests for adiencekit.layers.oversampling: ten_crop, center_crop, TestTimeAugmentation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.layers import CROP_ORDER, TestTimeAugmentation, center_crop, ten_crop
from adiencekit.testing import assert_saving_round_trip, coordinate_images


def expected_crop(image: np.ndarray, top: int, left: int, size: tuple[int, int], mirrored: bool) -> np.ndarray:
    window = image[top : top + size[0], left : left + size[1]]
    return window[:, ::-1] if mirrored else window


@pytest.mark.parametrize(
    ("height", "width", "crop", "offsets"),
    [
        # corners at the edges, centre at (H - crop) // 2, as Caffe's oversample
        (7, 7, (4, 4), [(0, 0), (0, 3), (3, 0), (3, 3), (1, 1)]),
        (9, 6, (5, 4), [(0, 0), (0, 2), (4, 0), (4, 2), (2, 1)]),
        (256, 256, (227, 227), [(0, 0), (0, 29), (29, 0), (29, 29), (14, 14)]),
    ],
)
def test_ten_crops_are_the_exact_windows(height, width, crop, offsets):
    images = coordinate_images(count=2, height=height, width=width)
    crops = np.asarray(ten_crop(images, crop))
    assert crops.shape == (2, 10, *crop, 3)
    assert len(CROP_ORDER) == 10 and CROP_ORDER[4] == "center" and CROP_ORDER[9] == "center_mirrored"
    for index in range(2):
        for position, (top, left) in enumerate(offsets):
            np.testing.assert_array_equal(crops[index, position], expected_crop(images[index], top, left, crop, False))
            mirrored = expected_crop(images[index], top, left, crop, True)
            np.testing.assert_array_equal(crops[index, position + 5], mirrored)


def test_flatten_keeps_the_crops_of_one_image_together():
    images = coordinate_images(count=3, height=7, width=7)
    stacked = np.asarray(ten_crop(images, 4))
    flat = np.asarray(ten_crop(images, 4, flatten=True))
    assert flat.shape == (30, 4, 4, 3)
    np.testing.assert_array_equal(flat.reshape(3, 10, 4, 4, 3), stacked)
    assert (flat[10:20, ..., 2] == 1).all()


def test_center_crop_is_the_fifth_crop():
    images = coordinate_images(count=2, height=10, width=9)
    np.testing.assert_array_equal(np.asarray(center_crop(images, (6, 5))), np.asarray(ten_crop(images, (6, 5)))[:, 4])
    np.testing.assert_array_equal(np.asarray(center_crop(images, (6, 5))), images[:, 2:8, 2:7])


@pytest.mark.parametrize("function", [ten_crop, center_crop])
def test_bad_crop_requests_are_refused(function):
    images = coordinate_images(height=7, width=7)
    with pytest.raises(ValueError, match="larger than the images"):
        function(images, 8)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        function(images[0], 4)
    with pytest.raises(TypeError, match="crop_size"):
        function(images, "4")
    with pytest.raises(ValueError, match="positive"):
        function(images, (0, 4))


def pixel_classifier(size: int = 4) -> keras.Model:
    """A tiny softmax classifier whose output depends on where the crop was taken."""
    inputs = keras.Input((size, size, 3))
    features = keras.layers.Flatten()(inputs)
    init = keras.initializers.RandomNormal(0.0, 0.1, seed=1)
    outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer=init)(features)
    return keras.Model(inputs, outputs)


def multitask_classifier(size: int = 4) -> keras.Model:
    inputs = keras.Input((size, size, 3))
    features = keras.layers.Flatten()(inputs)
    init = keras.initializers.RandomNormal(0.0, 0.1, seed=2)
    gender = keras.layers.Dense(2, activation="softmax", name="gender", kernel_initializer=init)(features)
    age = keras.layers.Dense(8, activation="softmax", name="age", kernel_initializer=init)(features)
    return keras.Model(inputs, {"gender": gender, "age": age})


def test_ten_crop_model_averages_the_probabilities_of_the_ten_crops():
    classifier = pixel_classifier()
    images = coordinate_images(count=3, height=7, width=7)
    tta = TestTimeAugmentation(classifier)
    assert tta.crop_size == (4, 4)
    crops = np.asarray(ten_crop(images, 4, flatten=True))
    expected = classifier.predict(crops, verbose=0).reshape(3, 10, 3).mean(axis=1)
    np.testing.assert_allclose(np.asarray(tta(images)), expected, atol=1e-6)
    np.testing.assert_allclose(tta.predict(images, batch_size=2, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)


def test_ten_crop_model_handles_multitask_dict_outputs():
    classifier = multitask_classifier()
    images = coordinate_images(count=2, height=6, width=6)
    outputs = TestTimeAugmentation(classifier)(images)
    assert set(outputs) == {"gender", "age"}
    crops = classifier.predict(np.asarray(ten_crop(images, 4, flatten=True)), verbose=0)
    for key, classes in (("gender", 2), ("age", 8)):
        expected = crops[key].reshape(2, 10, classes).mean(axis=1)
        np.testing.assert_allclose(np.asarray(outputs[key]), expected, atol=1e-6)


def test_saving_round_trip_single_and_multitask(tmp_path):
    images = coordinate_images(count=2, height=6, width=6)
    single = TestTimeAugmentation(pixel_classifier(), name="tta")
    restored = assert_saving_round_trip(single, images, tmp_path, filename="single.keras")
    assert isinstance(restored, TestTimeAugmentation) and restored.crop_size == (4, 4)
    assert_saving_round_trip(TestTimeAugmentation(multitask_classifier()), images, tmp_path, filename="multi.keras")


def test_crop_size_is_needed_when_the_model_has_no_static_size():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="crop_size is needed"):
        TestTimeAugmentation(model)
    tta = TestTimeAugmentation(model, crop_size=3)
    assert tuple(tta(coordinate_images(count=1, height=5, width=5)).shape) == (1, 3)
    with pytest.raises(TypeError, match="keras.Model"):
        TestTimeAugmentation(lambda x: x)


def test_the_former_names_are_gone():
    import adiencekit.layers

    assert not hasattr(adiencekit.layers, "TenCropModel") and not hasattr(adiencekit.layers, "TenCropPredictor")
