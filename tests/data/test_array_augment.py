"""The Grain pipeline's batch augmentation: every crop a window at its drawn offset, every image its own draw."""

from __future__ import annotations

import numpy as np
import pytest

from adiencekit.data.array_augment import (
    center_crop_array,
    draw_augments,
    random_augment_array,
    random_augment_batch,
)


def _images(count: int, side: int = 48, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return list(rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8))


def test_each_crop_is_the_slice_at_its_drawn_offset_mirrored_when_drawn() -> None:
    images = _images(64)
    batch = random_augment_batch(images, np.random.default_rng(7), 40)
    draws = draw_augments(np.random.default_rng(7), 64, images[0].shape, 40)  # the same generator state
    assert batch.shape == (64, 40, 40, 3) and batch.dtype == np.uint8
    assert draws.tops.min() >= 0 and draws.tops.max() <= 8 and draws.lefts.min() >= 0 and draws.lefts.max() <= 8
    for crop, image, top, left, flipped in zip(batch, images, draws.tops, draws.lefts, draws.flips, strict=True):
        window = image[top:top + 40, left:left + 40]
        assert np.array_equal(crop, window[:, ::-1] if flipped else window)
    assert 0 < draws.flips.sum() < 64  # both kinds drawn, so both copies were checked


def test_images_of_one_batch_get_independent_crops_and_fair_flips() -> None:
    draws = draw_augments(np.random.default_rng(3), 4096, (256, 256, 3), 227)
    assert len(set(zip(draws.tops.tolist(), draws.lefts.tolist()))) > 800  # 900 windows exist
    assert abs(draws.flips.mean() - 0.5) < 0.03
    assert abs(np.corrcoef(draws.tops, draws.lefts)[0, 1]) < 0.05
    assert abs(np.corrcoef(draws.tops[:-1], draws.tops[1:])[0, 1]) < 0.05  # neighbours in a batch
    # One image repeated through a batch: its copies are cropped apart.
    same = random_augment_batch([_images(1)[0]] * 32, np.random.default_rng(0), 40)
    assert len({crop.tobytes() for crop in same}) > 16


def test_no_flip_means_no_mirrored_crop_and_the_same_offsets() -> None:
    flipped = draw_augments(np.random.default_rng(5), 256, (48, 48, 3), 40)
    plain = draw_augments(np.random.default_rng(5), 256, (48, 48, 3), 40, flip=False)
    assert not plain.flips.any() and flipped.flips.any()
    assert np.array_equal(plain.tops, flipped.tops) and np.array_equal(plain.lefts, flipped.lefts)


def test_a_generator_state_fixes_the_batch() -> None:
    images = _images(8)
    a = random_augment_batch(images, np.random.default_rng(11), 40)
    b = random_augment_batch(images, np.random.default_rng(11), 40)
    c = random_augment_batch(images, np.random.default_rng(12), 40)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_one_image_is_a_batch_of_one_and_rotation_keeps_the_shape() -> None:
    image = _images(1)[0]
    assert np.array_equal(random_augment_array(image, np.random.default_rng(2), 40),
                          random_augment_batch([image], np.random.default_rng(2), 40)[0])
    pytest.importorskip("scipy", reason="rotation needs scipy")
    rotated = random_augment_batch(_images(4), np.random.default_rng(2), 40, rotation=15.0)
    assert rotated.shape == (4, 40, 40, 3) and rotated.dtype == np.uint8


def test_out_is_filled_and_empty_batches_and_bad_crops_are_handled() -> None:
    out = np.zeros((2, 40, 40, 3), np.uint8)
    assert random_augment_batch(_images(2), np.random.default_rng(0), 40, out=out) is out and out.any()
    assert random_augment_batch([], np.random.default_rng(0), 40).shape == (0, 40, 40, 3)
    with pytest.raises(ValueError, match=r"crop_size \(64\) must be <= the image's sides 48x48"):
        random_augment_batch(_images(1), np.random.default_rng(0), 64)
    assert center_crop_array(np.arange(36).reshape(6, 6, 1), 4)[..., 0].tolist()[0] == [7, 8, 9, 10]
