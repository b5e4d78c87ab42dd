"""Tests for the batched training augmentation (adiencekit.data.batch_augment) and its use in the pipeline.

Each test would fail on a batched augmentation that went wrong in a way a per-image one
cannot: one crop or one coin for the whole batch, offsets out of bounds or off by the
flip, draws that repeat across epochs or drift between runs with the same seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from adiencekit.data.batch_augment import (
    AugmentationDraw,
    augment_batch,
    crop_and_flip,
    draw_augmentation,
    rotate_crop_and_flip,
)
from adiencekit.data.pipeline import build_pipeline, rotate

SIDE, CROP = 40, 32
SPAN = SIDE - CROP + 1  # possible offsets per axis


def _numbered_images(count: int, side: int = SIDE) -> np.ndarray:
    """``count`` images whose pixels are unique: (row, column, image) in channels 0, 1, 2."""
    rows, cols = np.mgrid[0:side, 0:side]
    images = np.zeros((count, side, side, 3), np.uint8)
    images[..., 0], images[..., 1] = rows, cols
    images[..., 2] = np.arange(count, dtype=np.uint8)[:, None, None]
    return images


def _reference(images: np.ndarray, draw: AugmentationDraw, crop: int) -> np.ndarray:
    """The crops computed by NumPy slicing at the drawn offsets."""
    out = []
    for image, top, left, flip in zip(images, draw.top.numpy(), draw.left.numpy(), draw.flip.numpy(), strict=True):
        window = image[top : top + crop, left : left + crop]
        out.append(window[:, ::-1] if flip else window)
    return np.stack(out)


def _seed(value: int) -> tf.Tensor:
    return tf.constant([value, 0], tf.int64)


# --------------------------------------------------------------------------- the op
def test_batched_crop_equals_numpy_slicing_at_the_drawn_offsets() -> None:
    images = _numbered_images(64)
    for seed in range(3):
        draw = draw_augmentation(_seed(seed), 64, (SIDE, SIDE), CROP)
        np.testing.assert_array_equal(crop_and_flip(images, draw, CROP).numpy(), _reference(images, draw, CROP))
        # augment_batch draws the same from the same seed and cuts the same crops.
        np.testing.assert_array_equal(augment_batch(images, _seed(seed), CROP).numpy(), _reference(images, draw, CROP))


def test_each_image_in_a_batch_gets_its_own_crop_and_coin() -> None:
    same = np.repeat(_numbered_images(1), 64, axis=0)
    crops = augment_batch(same, _seed(11), CROP).numpy()
    # Recover each crop's offset and flip from the unique pixel values.
    tops, lefts = crops[:, 0, :, 0].min(axis=1), crops[:, :, :, 1].min(axis=(1, 2))
    flipped = crops[:, 0, 0, 1] > crops[:, 0, -1, 1]
    assert len(set(zip(tops.tolist(), lefts.tolist(), strict=True))) > 32, "crops repeat across the batch"
    assert 0 < flipped.sum() < 64, "every image in the batch got the same coin"


def test_crops_stay_inside_and_cover_every_offset() -> None:
    draw = draw_augmentation(_seed(5), 4000, (SIDE, SIDE), CROP)
    for offsets in (draw.top.numpy(), draw.left.numpy()):
        assert offsets.min() == 0 and offsets.max() == SIDE - CROP
        counts = np.bincount(offsets, minlength=SPAN)
        # Uniform: each of the 9 offsets about 4000 / 9 = 444 times (sd ~20); a chi-square
        # with 8 degrees of freedom stays below 26.1 with probability 0.999.
        expected = len(offsets) / SPAN
        assert ((counts - expected) ** 2 / expected).sum() < 26.1, counts
    assert abs(np.corrcoef(draw.top.numpy(), draw.left.numpy())[0, 1]) < 0.1, "rows and columns must be independent"


def test_flips_happen_about_half_the_time_and_only_when_asked() -> None:
    draw = draw_augmentation(_seed(6), 4000, (SIDE, SIDE), CROP)
    assert abs(draw.flip.numpy().mean() - 0.5) < 0.03  # sd 0.008
    assert not draw_augmentation(_seed(6), 4000, (SIDE, SIDE), CROP, flip=False).flip.numpy().any()
    # Turning flips or rotation off does not move the crops.
    plain = draw_augmentation(_seed(6), 100, (SIDE, SIDE), CROP, flip=False, rotation=0.0)
    rotated = draw_augmentation(_seed(6), 100, (SIDE, SIDE), CROP, rotation=10.0)
    np.testing.assert_array_equal(plain.top.numpy(), rotated.top.numpy())
    np.testing.assert_array_equal(plain.left.numpy(), rotated.left.numpy())
    angles = rotated.angle.numpy()
    assert np.abs(angles).max() <= np.radians(10.0) and len(set(angles.tolist())) == 100


def test_batched_rotation_equals_rotating_each_image_then_cutting_its_crop() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, SIDE, SIDE, 3)).astype(np.uint8)
    draw = draw_augmentation(_seed(9), 8, (SIDE, SIDE), CROP, rotation=15.0)
    got = rotate_crop_and_flip(images, draw, CROP).numpy()
    assert got.dtype == np.uint8
    rotated = np.stack([
        np.clip(np.round(rotate(image, angle).numpy()), 0, 255).astype(np.uint8)
        for image, angle in zip(images, draw.angle.numpy(), strict=True)
    ])
    want = _reference(rotated, draw, CROP)
    # Same bilinear sampling, coordinates computed in a different order: at most one level.
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert (got == want).mean() > 0.99
    # A zero angle is the plain crop and flip.
    still = draw._replace(angle=tf.zeros(8))
    np.testing.assert_array_equal(rotate_crop_and_flip(images, still, CROP).numpy(), _reference(images, still, CROP))


def test_float_images_stay_float() -> None:
    images = _numbered_images(4).astype(np.float32)
    for rotation in (0.0, 10.0):
        out = augment_batch(images, _seed(1), CROP, rotation=rotation)
        assert out.dtype == tf.float32 and out.shape == (4, CROP, CROP, 3)


# ---------------------------------------------------------------------- the pipeline
def _ramp_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for index, image in enumerate(_numbered_images(count)):
        path = folder / f"{index}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def _epochs(paths: list[Path], seed: int, epochs: int = 2, **kwargs) -> list[list[np.ndarray]]:
    ds = build_pipeline(paths, list(range(len(paths))), training=True, image_size=SIDE, crop_size=CROP,
                        batch_size=8, seed=seed, output_dtype="uint8", **kwargs)
    return [[images for images, _ in ds.as_numpy_iterator()] for _ in range(epochs)]


@pytest.mark.parametrize("cache", [False, True])
def test_pipeline_same_seed_same_crops_new_epoch_new_crops(tmp_path: Path, cache: bool) -> None:
    paths = _ramp_files(tmp_path, 24)
    first, again = _epochs(paths, seed=3, cache=cache), _epochs(paths, seed=3, cache=cache)
    for epoch, repeat in zip(first, again, strict=True):
        for a, b in zip(epoch, repeat, strict=True):
            np.testing.assert_array_equal(a, b)

    def offsets(epoch: list[np.ndarray]) -> dict[int, tuple[int, int, bool]]:
        # image index -> (top, left, flipped), read back from the unique pixel values.
        crops = np.concatenate(epoch)
        return {int(c[0, 0, 2]): (int(c[0, :, 0].min()), int(c[..., 1].min()), bool(c[0, 0, 1] > c[0, -1, 1]))
                for c in crops}

    one, two = offsets(first[0]), offsets(first[1])
    assert sorted(one) == sorted(two) == list(range(24))
    assert len(set(one.values())) > 12, "images of one epoch share their crops"
    # Without shuffling every image keeps its batch position, so only fresh draws can
    # give it a new crop in the next epoch.
    fixed = _epochs(paths, seed=3, cache=cache, shuffle=False)
    one, two = offsets(fixed[0]), offsets(fixed[1])
    changed = sum(one[i] != two[i] for i in range(24))
    assert changed > 12, f"only {changed} of 24 images got a new crop in the second epoch"


def test_pipeline_crops_are_sub_windows_of_their_own_image(tmp_path: Path) -> None:
    paths = _ramp_files(tmp_path, 20)
    source = _numbered_images(20)
    ds = build_pipeline(paths, list(range(20)), training=True, image_size=SIDE, crop_size=CROP, batch_size=6,
                        seed=1, output_dtype="uint8")
    seen = 0
    for images, labels in ds.as_numpy_iterator():
        for crop, label in zip(images, labels, strict=True):
            top, left = int(crop[0, :, 0].min()), int(crop[..., 1].min())
            window = source[label, top : top + CROP, left : left + CROP]
            assert np.array_equal(crop, window) or np.array_equal(crop, window[:, ::-1])
            seen += 1
    assert seen == 20


def test_unbatched_training_pipeline_augments_in_batches_and_keeps_every_image(tmp_path: Path) -> None:
    paths = _ramp_files(tmp_path, 40)  # more than one internal batch of 32
    ds = build_pipeline(paths, list(range(40)), training=True, image_size=SIDE, crop_size=CROP, batch_size=None,
                        seed=2)
    assert ds.element_spec[0].shape.as_list() == [CROP, CROP, 3]
    elements = list(ds.as_numpy_iterator())
    assert sorted(int(label) for _, label in elements) == list(range(40))
    assert all(image.shape == (CROP, CROP, 3) and image.dtype == np.float32 for image, _ in elements)
