"""Tests for adiencekit.data.pipeline: decoding, cropping, augmentation, caching, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from adiencekit.data.pipeline import (
    build_pipeline,
    center_crop,
    decode_image_bytes,
    decode_image_file,
    jpeg_decode_ratio,
    load_image,
    random_augment,
    resize,
    rotate,
)


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _noise_images(folder: Path, count: int, size: int = 40) -> list[Path]:
    rng = np.random.default_rng(1)
    return [
        _save(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), folder / f"img{i}.png") for i in range(count)
    ]


def _collect(ds: tf.data.Dataset) -> list:
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in ds]


def _half_black_half_white(size: int = 32) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[:, size // 2 :] = 255
    return image


# ------------------------------------------------------------------ shapes and values
@pytest.mark.parametrize("training", [True, False])
def test_shapes_dtypes_and_range(tmp_path: Path, training: bool) -> None:
    paths = _noise_images(tmp_path, 5)
    ds = build_pipeline(paths, [0, 1, 0, 1, -1], training=training, image_size=40, crop_size=32, batch_size=2, seed=3)
    batches = _collect(ds)
    assert [images.shape for images, _ in batches] == [(2, 32, 32, 3), (2, 32, 32, 3), (1, 32, 32, 3)]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int32
    assert images.min() >= 0.0 and images.max() <= 255.0 and images.max() > 200.0
    assert sorted(labels.tolist()) == [-1, 0, 0, 1, 1]
    assert ds.element_spec[0].shape.as_list() == [None, 32, 32, 3]


@pytest.mark.parametrize("training", [True, False])
def test_uint8_output_is_the_float32_output_uncast(tmp_path: Path, training: bool) -> None:
    paths = _noise_images(tmp_path, 5)
    kwargs = dict(training=training, image_size=40, crop_size=32, batch_size=2, seed=3, rotation=10.0)
    as_float = _collect(build_pipeline(paths, [0, 1, 0, 1, 0], **kwargs))
    as_uint8 = _collect(build_pipeline(paths, [0, 1, 0, 1, 0], output_dtype="uint8", **kwargs))
    for (float_images, float_labels), (byte_images, byte_labels) in zip(as_float, as_uint8, strict=True):
        assert byte_images.dtype == np.uint8
        np.testing.assert_array_equal(byte_images.astype(np.float32), float_images)
        np.testing.assert_array_equal(byte_labels, float_labels)
    with pytest.raises(ValueError, match="output_dtype must be 'float32' or 'uint8', got 'float16'"):
        build_pipeline(paths, None, training=False, output_dtype="float16")


def test_a_zoo_model_takes_uint8_batches(tmp_path: Path) -> None:
    from adiencekit.models import scratch_cnn

    paths = _noise_images(tmp_path, 4)
    model = scratch_cnn(task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8)
    (byte_images,) = _collect(build_pipeline(paths, None, training=False, image_size=40, crop_size=32,
                                             batch_size=4, output_dtype="uint8"))
    np.testing.assert_allclose(model.predict_on_batch(byte_images),
                               model.predict_on_batch(byte_images.astype(np.float32)), atol=1e-6)


def test_unbatched_images_only_and_drop_remainder(tmp_path: Path) -> None:
    paths = _noise_images(tmp_path, 5)
    unbatched = build_pipeline(paths, None, training=False, image_size=40, crop_size=40, batch_size=None)
    elements = _collect(unbatched)
    assert len(elements) == 5 and elements[0].shape == (40, 40, 3)
    dropped = build_pipeline(
        paths, None, training=False, image_size=40, crop_size=40, batch_size=2, drop_remainder=True
    )
    assert [batch.shape[0] for batch in _collect(dropped)] == [2, 2]
    # Evaluation without shuffling keeps the order of the paths.
    expected = [np.asarray(Image.open(path), np.float32) for path in paths]
    for got, want in zip(elements, expected):
        np.testing.assert_array_equal(got, want)


def test_multitask_dict_labels(tmp_path: Path) -> None:
    paths = _noise_images(tmp_path, 4)
    labels = {"gender": np.array([0, 1, -1, 1]), "age": [3, -1, 7, 0]}
    ds = build_pipeline(paths, labels, training=False, image_size=40, crop_size=32, batch_size=4)
    images, got = _collect(ds)[0]
    assert set(got) == {"gender", "age"}
    assert got["gender"].dtype == np.int32 and got["age"].dtype == np.int32
    assert got["gender"].tolist() == [0, 1, -1, 1] and got["age"].tolist() == [3, -1, 7, 0]
    assert images.shape == (4, 32, 32, 3)


def test_training_shuffle_keeps_labels_with_their_images(tmp_path: Path) -> None:
    # Each image is a flat colour equal to 10 * its label: shuffling must move them together.
    paths = [_save(np.full((20, 20, 3), 10 * i, np.uint8), tmp_path / f"{i}.png") for i in range(12)]
    ds = build_pipeline(paths, list(range(12)), training=True, image_size=20, crop_size=16, batch_size=None, seed=1)
    pairs = _collect(ds)
    assert sorted(int(label) for _, label in pairs) == list(range(12))
    assert [int(label) for _, label in pairs] != list(range(12))  # it did shuffle
    for image, label in pairs:
        np.testing.assert_allclose(image, 10.0 * label, atol=1e-3)


# ------------------------------------------------------------------------ determinism
def _two_epochs(paths: list[Path], seed: int | None, **kwargs) -> list[np.ndarray]:
    ds = build_pipeline(paths, list(range(len(paths))), training=True, image_size=40, crop_size=28, batch_size=4,
                        seed=seed, rotation=10.0, **kwargs)
    return [np.concatenate([np.ravel(t) for batch in _collect(ds) for t in batch]) for _ in range(2)]


def test_same_seed_same_batches_new_epoch_new_draw(tmp_path: Path) -> None:
    paths = _noise_images(tmp_path, 8)
    first = _two_epochs(paths, seed=7)
    second = _two_epochs(paths, seed=7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1]), "the second epoch must reshuffle and re-augment"
    other = _two_epochs(paths, seed=8)
    assert not np.array_equal(first[0], other[0])


def test_same_seed_with_memory_cache_and_unordered_map(tmp_path: Path) -> None:
    paths = _noise_images(tmp_path, 6)
    cached = _two_epochs(paths, seed=5, cache=True)
    plain = _two_epochs(paths, seed=5)
    np.testing.assert_array_equal(cached[0], plain[0])
    # An out-of-order parallel map (not reproducible: each crop follows its position in
    # its batch) still yields every label once, at the crop size.
    unordered = build_pipeline(paths, list(range(6)), training=True, image_size=40, crop_size=28, batch_size=4,
                               seed=5, rotation=10.0, deterministic=False)
    batches = _collect(unordered)
    assert sorted(int(label) for _, labels in batches for label in labels) == list(range(6))
    assert all(images.shape[1:] == (28, 28, 3) for images, _ in batches)


# ------------------------------------------------------------------- crops and flips
def test_center_crop_is_exact(tmp_path: Path) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    image[20:44, 20:44] = (10, 200, 30)  # the centre square, 24 px
    image[31:33, 31:33] = (255, 0, 255)  # the exact centre
    path = _save(image, tmp_path / "centre.png")
    (got,) = _collect(build_pipeline([path], None, training=False, image_size=64, crop_size=24, batch_size=None))
    np.testing.assert_array_equal(got, image[20:44, 20:44].astype(np.float32))
    np.testing.assert_array_equal(center_crop(image, 24).numpy(), image[20:44, 20:44])
    # An odd margin rounds the offset down, as tf.image.central_crop and Caffe do.
    np.testing.assert_array_equal(center_crop(image, 23).numpy(), image[20:43, 20:43])


def test_flip_only_when_training_with_flip(tmp_path: Path) -> None:
    path = _save(_half_black_half_white(32), tmp_path / "half.png")
    paths = [path] * 24

    def left_is_white(ds: tf.data.Dataset) -> list[bool]:
        return [bool(image[:, :4].mean() > 127) for image in _collect(ds)]

    common = dict(image_size=32, crop_size=32, batch_size=None)
    flipped = left_is_white(build_pipeline(paths, None, training=True, flip=True, seed=0, **common))
    assert 0 < sum(flipped) < len(flipped), flipped
    assert not any(left_is_white(build_pipeline(paths, None, training=True, flip=False, seed=0, **common)))
    assert not any(left_is_white(build_pipeline(paths, None, training=False, **common)))


def test_random_crops_vary_and_stay_inside(tmp_path: Path) -> None:
    image = np.arange(48 * 48, dtype=np.int64).reshape(48, 48) % 251
    path = _save(np.repeat(image[..., None], 3, axis=2).astype(np.uint8), tmp_path / "ramp.png")
    ds = build_pipeline(
        [path] * 16, None, training=True, flip=False, image_size=48, crop_size=40, batch_size=None, seed=2
    )
    offsets = set()
    for crop in _collect(ds):
        # Find where this crop sits in the source: it must be an exact sub-window.
        windows = [(t, l) for t in range(9) for l in range(9)]
        matches = [(t, l) for t, l in windows if np.array_equal(crop[..., 0], image[t : t + 40, l : l + 40])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 3


def test_rotation_reflects_borders_and_changes_pixels(tmp_path: Path) -> None:
    flat = np.full((32, 32, 3), 90.0, np.float32)
    np.testing.assert_allclose(rotate(flat, 0.2).numpy(), flat, atol=1e-3)  # no black corners
    ramp = np.tile(np.linspace(0, 255, 32, dtype=np.float32)[None, :, None], (32, 1, 3))
    assert np.abs(rotate(ramp, 0.2).numpy() - ramp).mean() > 1.0
    # A quarter turn of a square image is exact.
    quarter = rotate(ramp, np.pi / 2).numpy()
    np.testing.assert_allclose(quarter, np.rot90(ramp), atol=1e-2)
    augmented = random_augment(ramp.astype(np.uint8), tf.constant([1, 2]), 24, rotation=15.0)
    assert augmented.shape == (24, 24, 3) and augmented.dtype == tf.uint8  # the dtype it was given
    as_float = random_augment(ramp.astype(np.uint8).astype(np.float32), tf.constant([1, 2]), 24, rotation=15.0)
    assert as_float.dtype == tf.float32
    np.testing.assert_allclose(augmented.numpy(), as_float.numpy(), atol=0.5 + 1e-3)  # rounded only


# ------------------------------------------------------------------------- decoding
def test_jpeg_decode_ratio_choice() -> None:
    shapes = [(511, 800), (512, 512), (1023, 2000), (1024, 1024), (3000, 2100)]
    got = [int(jpeg_decode_ratio(h, w, 256)) for h, w in shapes]
    assert got == [1, 2, 2, 4, 8]


def test_reduced_ratio_decode_matches_full_decode(tmp_path: Path) -> None:
    size = 1100
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([255 * x, 255 * y, 127 + 100 * np.sin(6 * x + 4 * y)], axis=-1).astype(np.uint8)
    image[300:700, 400:800] = (230, 40, 40)
    path = _save(image, tmp_path / "big.jpg", quality=92)
    reduced = decode_image_file(path, target_size=256)
    assert reduced.shape == (275, 275, 3)  # ratio 4: 1100 / 4
    fast = load_image(str(path), 256).numpy().astype(np.float32)
    slow = resize(decode_image_file(path), 256).numpy().astype(np.float32)
    assert fast.shape == slow.shape == (256, 256, 3)
    assert np.abs(fast - slow).mean() < 2.0
    assert np.abs(fast - slow).max() < 40


def test_colour_modes_and_disguised_formats_decode_to_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:16] = (200, 30, 60)
    rgb[16:] = (20, 160, 240)
    gray = np.tile(np.linspace(0, 255, 48, dtype=np.uint8)[None], (32, 1))
    cases = {
        "cmyk.jpg": (Image.fromarray(rgb).convert("CMYK"), {"quality": 95}, rgb, 6),
        "png.jpg": (Image.fromarray(rgb), {"format": "PNG"}, rgb, 0),
        "bmp.jpg": (Image.fromarray(rgb), {"format": "BMP"}, rgb, 0),
        "gif.jpg": (Image.fromarray(rgb).quantize(8), {"format": "GIF"}, rgb, 2),
        "rgba.png": (Image.fromarray(np.dstack([rgb, np.full((32, 48), 128, np.uint8)])), {}, rgb, 0),
        "gray.jpg": (Image.fromarray(gray), {"quality": 95}, np.repeat(gray[..., None], 3, axis=2), 6),
        "gray.png": (Image.fromarray(gray), {}, np.repeat(gray[..., None], 3, axis=2), 0),
    }
    for name, (image, kwargs, expected, tolerance) in cases.items():
        image.save(tmp_path / name, **kwargs)
        decoded = decode_image_file(tmp_path / name).numpy()
        assert decoded.shape == (32, 48, 3), name
        error = np.abs(decoded.astype(int) - expected.astype(int))[2:-2, 2:-2]  # skip JPEG edge ringing
        assert error.mean() <= max(tolerance, 0.5) and np.median(error) <= tolerance, (name, error.mean())
    # Through the whole pipeline, too.
    paths = [tmp_path / name for name in cases]
    images = _collect(build_pipeline(paths, None, training=False, image_size=48, crop_size=48, batch_size=None))
    cmyk_out = images[0]
    assert np.abs(cmyk_out[:14].mean(axis=(0, 1)) - (200, 30, 60)).max() < 8
    assert np.abs(cmyk_out[-14:].mean(axis=(0, 1)) - (20, 160, 240)).max() < 8


def test_cmyk_with_black_channel_matches_pil(tmp_path: Path) -> None:
    cmyk = np.zeros((16, 64, 4), np.uint8)
    cmyk[:, :16] = (0, 0, 0, 128)
    cmyk[:, 16:32] = (100, 0, 0, 100)
    cmyk[:, 32:48] = (0, 200, 50, 0)
    cmyk[:, 48:] = (30, 60, 90, 200)
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "k.jpg", quality=100)
    decoded = decode_image_file(tmp_path / "k.jpg").numpy().astype(float)
    c, k = cmyk[..., :3].astype(float), cmyk[..., 3:].astype(float)
    expected = (255 - c) * (255 - k) / 255  # Adobe CMYK -> RGB
    assert np.abs(decoded - expected)[:, 2:-2].mean() < 3


def test_decode_bytes_accepts_python_bytes_and_rejects_bad_target(tmp_path: Path) -> None:
    path = _save(np.full((8, 8, 3), 7, np.uint8), tmp_path / "a.png")
    assert decode_image_bytes(path.read_bytes()).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="target_size must be a positive int"):
        decode_image_bytes(path.read_bytes(), target_size=0)


# -------------------------------------------------------------------------- caching
def test_file_cache_is_reused_without_the_source_files(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    paths = _noise_images(folder, 3)
    prefix = tmp_path / "cache" / "eval"
    kwargs = dict(training=False, image_size=40, crop_size=32, batch_size=None, cache=str(prefix))
    first = _collect(build_pipeline(paths, [0, 1, 0], **kwargs))
    assert list((tmp_path / "cache").glob("eval*")), "no cache files were written"
    for path in paths:
        path.unlink()
    second = _collect(build_pipeline(paths, [0, 1, 0], **kwargs))
    for (a, la), (b, lb) in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert la == lb


def test_memory_cache_matches_uncached_output(tmp_path: Path) -> None:
    paths = _noise_images(tmp_path, 3)
    ds = build_pipeline(paths, None, training=False, image_size=36, crop_size=30, batch_size=3, cache=True)
    plain = build_pipeline(paths, None, training=False, image_size=36, crop_size=30, batch_size=3)
    np.testing.assert_array_equal(_collect(ds)[0], _collect(ds)[0])
    np.testing.assert_array_equal(_collect(ds)[0], _collect(plain)[0])


# ----------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(image_size=32, crop_size=40), ValueError, r"crop_size \(40\) must be <= image_size \(32\)"),
        (dict(image_size=0), ValueError, "image_size must be a positive int"),
        (dict(labels=[0, 1]), ValueError, "labels has 2 entries but there are 3 paths"),
        (dict(labels=[0.5, 1, 0]), ValueError, "integer class indices"),
        (dict(labels=[0, -2, 1]), ValueError, "got minimum -2"),
        (dict(labels={}), ValueError, "empty dict"),
        (dict(labels={"age": [0, 1]}), ValueError, r"labels\['age'\] has 2 entries"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int or None"),
        (dict(rotation=-5), ValueError, r"rotation must be a number of degrees in \[0, 180\]"),
        (dict(seed="1"), ValueError, "seed must be an int or None"),
        (dict(cache=3), ValueError, "cache must be False, True"),
        (dict(paths="a.jpg"), TypeError, "got a single str"),
        (dict(paths=["a.jpg", 3, "b.jpg"]), TypeError, r"paths\[1\] must be a str"),
    ],
)
def test_argument_validation(kwargs: dict, error: type, message: str) -> None:
    arguments = dict(paths=["a.jpg", "b.jpg", "c.jpg"], labels=None, training=True, image_size=64, crop_size=48)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        build_pipeline(arguments.pop("paths"), arguments.pop("labels"), **arguments)


def test_check_images_names_the_bad_files(tmp_path: Path) -> None:
    good = _noise_images(tmp_path, 1)[0]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    expected = r"2 of 3 images cannot be decoded:\n  missing: .*gone.jpg\n  empty: .*empty.jpg"
    with pytest.raises(ValueError, match=expected):
        build_pipeline([good, tmp_path / "gone.jpg", empty], None, training=False, image_size=40, crop_size=32,
                       check_images=True)


# ------------------------------------------------------------------------ real data
def test_real_adience_crops_decode(adience_faces_dir: Path) -> None:
    paths = sorted(adience_faces_dir.glob("*/*.jpg"))
    assert len(paths) == 19
    ds = build_pipeline(paths, np.zeros(19, np.int32), training=False, batch_size=8)
    images = np.concatenate([images for images, _ in _collect(ds)])
    assert images.shape == (19, 227, 227, 3)
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 255
    assert (images.std(axis=(1, 2, 3)) > 10).all(), "a face decoded to a flat image"
    # Training path too, with rotation: same number of images, right crop size.
    train = build_pipeline(
        paths, None, training=True, batch_size=None, seed=0, rotation=10.0, image_size=128, crop_size=112
    )
    assert sum(1 for _ in train) == 19


def test_undecodable_file_fails_loudly_without_check(tmp_path: Path) -> None:
    good = _noise_images(tmp_path, 1)[0]
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image" * 20)
    ds = build_pipeline([good, junk], None, training=False, image_size=40, crop_size=32, batch_size=None)
    with pytest.raises(tf.errors.InvalidArgumentError):
        _collect(ds)  # never a silent drop


def test_empty_path_list_gives_an_empty_dataset() -> None:
    assert _collect(build_pipeline([], [], training=True, image_size=32, crop_size=28, seed=0)) == []


def test_file_cache_path_expands_tilde_and_an_unusable_folder_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    from adiencekit.errors import ConfigError

    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "images"
    folder.mkdir()
    paths = _noise_images(folder, 2)
    kwargs = dict(training=False, image_size=40, crop_size=32, batch_size=None)
    _collect(build_pipeline(paths, [0, 1], cache="~/cache/eval", **kwargs))
    assert list((tmp_path / "cache").glob("eval*")) and not Path("~").exists()
    (tmp_path / "blocker").write_text("a file where the cache folder should be")
    with pytest.raises(ConfigError, match=r"cannot create the cache folder .*blocker.*cache=True"):
        build_pipeline(paths, [0, 1], cache=str(tmp_path / "blocker" / "eval"), **kwargs)
