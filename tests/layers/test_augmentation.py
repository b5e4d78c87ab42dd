"""Tests for adiencekit.layers.augmentation.FaceAugmentation (every backend)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.layers import FaceAugmentation
from adiencekit.testing import assert_layer_config_round_trip, assert_saving_round_trip, coordinate_images


def window_of(crop: np.ndarray, image: np.ndarray) -> tuple[int, int, bool]:
    """(top, left, mirrored) of an exact window of ``image``; fails if there is none."""
    top, left = int(crop[0, :, 0].min()), int(crop[:, :, 1].min())
    height, width = crop.shape[:2]
    window = image[top : top + height, left : left + width]
    if np.array_equal(crop, window):
        return top, left, False
    if np.array_equal(crop, window[:, ::-1]):
        return top, left, True
    raise AssertionError("output is not a (mirrored) window of the input")


def test_output_shapes_for_images_and_batches():
    layer = FaceAugmentation(crop_size=8, rotation=5.0, seed=0)
    images = coordinate_images()
    assert tuple(layer(images).shape) == (2, 8, 8, 3)
    assert tuple(layer(images, training=False).shape) == (2, 8, 8, 3)
    assert tuple(layer(images[0]).shape) == (8, 8, 3)
    rectangle = FaceAugmentation(crop_size=(9, 7), seed=0)
    assert tuple(rectangle(images).shape) == (2, 9, 7, 3)
    assert rectangle.compute_output_shape((None, 12, 10, 3)) == (None, 9, 7, 3)


def test_inference_is_the_center_crop():
    images = coordinate_images(height=12, width=11)
    out = np.asarray(FaceAugmentation(crop_size=(8, 6), rotation=20.0, seed=0)(images, training=False))
    # (12 - 8) // 2 = 2 rows, (11 - 6) // 2 = 2 columns.
    np.testing.assert_array_equal(out, images[:, 2:10, 2:8])


def test_training_crops_are_exact_windows_drawn_per_image():
    images = np.repeat(coordinate_images(count=1), 32, axis=0)
    out = np.asarray(FaceAugmentation(crop_size=8, flip=False, seed=3)(images))
    windows = [window_of(crop, image) for crop, image in zip(out, images)]
    assert not any(mirrored for _, _, mirrored in windows)
    offsets = {(top, left) for top, left, _ in windows}
    assert all(0 <= top <= 4 and 0 <= left <= 2 for top, left in offsets)
    assert len(offsets) > 3, f"every image of the batch got the same window: {offsets}"


def test_flip_really_mirrors_and_is_random():
    images = np.repeat(coordinate_images(count=1, height=8, width=8), 32, axis=0)
    out = np.asarray(FaceAugmentation(crop_size=8, flip=True, seed=5)(images))
    mirrored = []
    for crop, image in zip(out, images):
        if np.array_equal(crop, image):
            mirrored.append(False)
        else:
            np.testing.assert_array_equal(crop, image[:, ::-1])
            mirrored.append(True)
    assert 0 < sum(mirrored) < len(mirrored)


def test_no_flip_means_no_mirroring():
    images = np.repeat(coordinate_images(count=1, height=8, width=8), 16, axis=0)
    out = np.asarray(FaceAugmentation(crop_size=8, flip=False, seed=5)(images))
    np.testing.assert_array_equal(out, images)


def test_rotation_changes_geometry_but_not_colour():
    images = np.repeat(coordinate_images(count=1, height=16, width=16), 8, axis=0)
    out = np.asarray(FaceAugmentation(crop_size=16, flip=False, rotation=30.0, seed=1)(images))
    assert not np.allclose(out, images)
    assert out.min() >= images.min() - 1e-4 and out.max() <= images.max() + 1e-4
    flat = np.full((4, 16, 16, 3), [200.0, 100.0, 50.0], "float32")
    rotated = np.asarray(FaceAugmentation(crop_size=12, rotation=30.0, seed=1)(flat))
    np.testing.assert_allclose(rotated, np.full((4, 12, 12, 3), [200.0, 100.0, 50.0]), atol=1e-3)


def test_same_seed_same_sequence_different_seed_differs():
    images = coordinate_images(count=8, height=16, width=16)
    first, second = FaceAugmentation(10, rotation=10.0, seed=7), FaceAugmentation(10, rotation=10.0, seed=7)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(first(images)), np.asarray(second(images)))
    other = FaceAugmentation(10, rotation=10.0, seed=8)
    same_seed = np.asarray(FaceAugmentation(10, rotation=10.0, seed=7)(images))
    assert not np.array_equal(same_seed, np.asarray(other(images)))


def test_inside_tf_data_map_per_image_and_batched():
    tf = pytest.importorskip("tensorflow")
    images = np.repeat(coordinate_images(count=1), 24, axis=0)
    layer = FaceAugmentation(crop_size=8, flip=False, seed=11)
    dataset = tf.data.Dataset.from_tensor_slices(images).map(layer)
    crops = [element.numpy() for element in dataset]
    assert all(crop.shape == (8, 8, 3) for crop in crops)
    offsets = {window_of(crop, images[0])[:2] for crop in crops}
    assert len(offsets) > 3
    center = tf.data.Dataset.from_tensor_slices(images).batch(8).map(lambda x: layer(x, training=False))
    for batch in center:
        np.testing.assert_array_equal(batch.numpy(), images[:8, 2:10, 1:9])


def test_inside_a_model_trains_randomly_and_predicts_on_the_center():
    images = coordinate_images(count=4, height=12, width=12)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            FaceAugmentation(crop_size=8, rotation=10.0, seed=0),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(images, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, verbose=0)
    head = keras.Sequential([keras.Input((8, 8, 3)), *model.layers[1:]])
    np.testing.assert_allclose(
        model.predict(images, verbose=0), head.predict(images[:, 2:10, 2:10], verbose=0), atol=1e-6
    )


def test_config_and_saving_round_trip(tmp_path):
    layer = FaceAugmentation(crop_size=(8, 6), flip=False, rotation=12.5, seed=4, name="augment")
    rebuilt = assert_layer_config_round_trip(layer)
    assert rebuilt.crop_size == (8, 6) and rebuilt.rotation == 12.5 and rebuilt.seed == 4
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            FaceAugmentation(8, rotation=5.0, seed=1),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    restored = assert_saving_round_trip(model, coordinate_images(height=12, width=12), tmp_path)
    assert isinstance(restored.layers[0], FaceAugmentation)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"crop_size": 0}, ValueError, "positive"),
        ({"crop_size": (8, -1)}, ValueError, "positive"),
        ({"crop_size": "227"}, TypeError, "crop_size"),
        ({"crop_size": 8, "rotation": 200.0}, ValueError, "between 0 and 180"),
        ({"crop_size": 8, "rotation": -1.0}, ValueError, "between 0 and 180"),
        ({"crop_size": 8, "flip": "yes"}, TypeError, "flip"),
        ({"crop_size": 8, "seed": 1.5}, TypeError, "seed"),
        ({"crop_size": 8, "colour": True}, TypeError, "colour"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        FaceAugmentation(**kwargs)


def test_bad_inputs_are_refused():
    layer = FaceAugmentation(crop_size=16)
    with pytest.raises(ValueError, match="at least that large"):
        layer(coordinate_images(height=12, width=12))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        FaceAugmentation(crop_size=4)(np.zeros((2, 2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="statically known"):
        FaceAugmentation(crop_size=4).compute_output_shape((None, None, None, 3))
