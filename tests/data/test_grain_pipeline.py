"""The Grain pipeline against the tf.data one: labels, masks, order, shapes, dtype, crops and flips."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("grain", reason='the Grain pipeline needs grain: pip install -e ".[jax]"')

from adiencekit.data import grain_pipeline, opencv_images  # noqa: E402
from adiencekit.data.grain_pipeline import (  # noqa: E402
    build_grain_pipeline,
    decode_image_array,
    keep_pillow_blocks,
    load_image_array,
    random_augment_array,
    resize_array,
)
from adiencekit.data.splits import Subset  # noqa: E402
from adiencekit.errors import ConfigError  # noqa: E402
from adiencekit.testing import assert_runs_without_tensorflow  # noqa: E402


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _smooth_images(folder: Path, count: int, sizes: tuple[int, ...] = (80, 64, 300, 40)) -> list[Path]:
    """JPEG and PNG faces of several sizes (shrunk, enlarged, reduced-ratio decoded), smooth enough
    that JPEG decoders agree to a few levels."""
    paths = []
    for index in range(count):
        size = sizes[index % len(sizes)]
        y, x = np.mgrid[0:size, 0:size] / size
        image = np.stack([255 * x, 255 * y, 127 + 100 * np.sin(6 * x + 4 * y + index)], axis=-1).astype(np.uint8)
        image[size // 4: size // 2, size // 3: 2 * size // 3] = (30 * index % 255, 200, 40)
        suffix = "png" if index % 3 == 2 else "jpg"
        paths.append(_save(image, folder / f"face{index}.{suffix}", **({"quality": 95} if suffix == "jpg" else {})))
    return paths


def _tf_pipeline():
    """The tf.data pipeline module (the test skips where TensorFlow is not installed)."""
    pytest.importorskip("tensorflow", reason="comparing with tf.data needs TensorFlow")
    from adiencekit.data import pipeline

    return pipeline


def _tf_batches(ds) -> list:
    import tensorflow as tf

    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in ds]


def _labels() -> dict[str, list[int]]:
    return {"gender": [0, 1, -1, 1, 0, 1, 0], "age": [3, -1, 5, 7, 0, 2, -1]}


def _window_of(crop: np.ndarray, image: np.ndarray) -> tuple[int, int, bool] | None:
    """Where ``crop`` lies in ``image`` (top, left, flipped), or ``None``."""
    size = crop.shape[0]
    for flipped, candidate in ((False, crop), (True, crop[:, ::-1])):
        for top in range(image.shape[0] - size + 1):
            for left in range(image.shape[1] - size + 1):
                if np.array_equal(image[top:top + size, left:left + size], candidate):
                    return top, left, flipped
    return None


# --------------------------------------------------------------- the same as tf.data
def test_evaluation_batches_match_tf_data(tmp_path: Path) -> None:
    build_pipeline = _tf_pipeline().build_pipeline

    paths = _smooth_images(tmp_path, 7)
    args = dict(training=False, image_size=64, crop_size=56, batch_size=3, output_dtype="uint8")
    ours = list(build_grain_pipeline(paths, _labels(), **args))
    theirs = _tf_batches(build_pipeline(paths, _labels(), **args))
    assert [images.shape for images, _ in ours] == [images.shape for images, _ in theirs] == [(3, 56, 56, 3)] * 2 + [
        (1, 56, 56, 3)]
    for (images, labels), (tf_images, tf_labels) in zip(ours, theirs, strict=True):
        assert images.dtype == tf_images.dtype == np.uint8
        for task in ("gender", "age"):  # same order, same -1 masks, same dtype
            assert labels[task].dtype == np.int32
            assert labels[task].tolist() == tf_labels[task].tolist()
        difference = np.abs(images.astype(int) - tf_images.astype(int))
        assert difference.mean() < 2.0  # JPEG decoders and box vs area filters differ by a level or two


def test_resize_is_close_to_tensorflow_area_and_bilinear() -> None:
    resize = _tf_pipeline().resize
    y, x = np.mgrid[0:75, 0:90] / 90
    image = np.stack([255 * x, 255 * y, 127 + 100 * np.sin(9 * x + 5 * y)], axis=-1).astype(np.uint8)
    image[20:50, 30:60] = (230, 40, 40)  # sharp edges
    for size, mean_levels in ((32, 3.0), (64, 3.0), (120, 0.5)):  # shrink (box vs area) x2, enlarge (bilinear)
        difference = np.abs(resize_array(image, size).astype(int) - resize(image, size).numpy().astype(int))
        assert difference.mean() < mean_levels, (size, difference.mean())
    enlarged = np.abs(resize_array(image, 120).astype(int) - resize(image, 120).numpy().astype(int))
    assert enlarged.max() <= 1  # bilinear: the same values up to rounding


def test_float32_output_is_the_uint8_output_cast(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 4)
    args = dict(training=True, image_size=48, crop_size=40, batch_size=4, seed=5)
    (floats, _), = list(build_grain_pipeline(paths, [0, 1, 0, 1], **args))
    (bytes_, _), = list(build_grain_pipeline(paths, [0, 1, 0, 1], output_dtype="uint8", **args))
    assert floats.dtype == np.float32 and bytes_.dtype == np.uint8
    assert np.array_equal(floats, bytes_.astype(np.float32))


def test_training_crops_and_flips_are_windows_of_the_resized_image(tmp_path: Path) -> None:
    build_pipeline = _tf_pipeline().build_pipeline

    paths = _smooth_images(tmp_path, 7, sizes=(48,))
    resized = {index: load_image_array(path, 48) for index, path in enumerate(paths)}
    ids = list(range(7))
    seen_flips, seen_offsets = set(), set()
    for epoch_images, epoch_ids in _epochs(build_grain_pipeline(paths, ids, training=True, image_size=48,
                                                                crop_size=40, batch_size=None, seed=1,
                                                                output_dtype="uint8"), 3):
        assert sorted(epoch_ids) == ids  # every image once per epoch, with its own label
        for image, index in zip(epoch_images, epoch_ids, strict=True):
            where = _window_of(image, resized[int(index)])
            assert where is not None
            seen_offsets.add(where[:2])
            seen_flips.add(where[2])
    assert seen_flips == {False, True} and len(seen_offsets) > 3
    # tf.data does the same work with its own draws: each element is a window of its resized image.
    load_image = _tf_pipeline().load_image

    tf_resized = {index: load_image(str(path), 48).numpy() for index, path in enumerate(paths)}
    for image, index in _tf_batches(build_pipeline(paths, ids, training=True, image_size=48, crop_size=40,
                                                   batch_size=None, seed=1, output_dtype="uint8")):
        assert image.shape == (40, 40, 3) and image.dtype == np.uint8
        assert _window_of(image, tf_resized[int(index)]) is not None


def _epochs(dataset, count: int) -> list[tuple[list[np.ndarray], list[int]]]:
    epochs = []
    for _ in range(count):
        elements = list(dataset)
        epochs.append(([image for image, _ in elements], [int(label) for _, label in elements]))
    return epochs


def test_a_seed_fixes_every_epoch_and_each_epoch_draws_anew(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 7)
    args = dict(training=True, image_size=48, crop_size=40, batch_size=None, output_dtype="uint8")
    first = _epochs(build_grain_pipeline(paths, list(range(7)), seed=3, **args), 2)
    again = _epochs(build_grain_pipeline(paths, list(range(7)), seed=3, num_threads=1, **args), 2)
    other = _epochs(build_grain_pipeline(paths, list(range(7)), seed=4, **args), 2)
    for (images, order), (images_again, order_again) in zip(first, again, strict=True):
        assert order == order_again and all(np.array_equal(a, b) for a, b in zip(images, images_again, strict=True))
    assert first[0][1] != first[1][1]  # a new shuffle each epoch
    assert first[0][1] != other[0][1] or not all(
        np.array_equal(a, b) for a, b in zip(first[0][0], other[0][0], strict=True))


def test_memory_cache_gives_the_uncached_batches(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 5)
    args = dict(training=True, image_size=48, crop_size=40, batch_size=2, seed=7)
    plain = _epochs_flat(build_grain_pipeline(paths, [0, 1, 0, 1, 1], **args))
    cached = build_grain_pipeline(paths, [0, 1, 0, 1, 1], cache=True, **args)
    assert _epochs_flat(cached) == plain


def _epochs_flat(dataset) -> list[tuple[bytes, tuple[int, ...]]]:
    return [(images.tobytes(), tuple(labels.tolist())) for _ in range(2) for images, labels in dataset]


def test_unshuffled_training_keeps_the_order_and_repeat_streams_epochs(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 3)
    ds = build_grain_pipeline(paths, [0, 1, 2], training=True, shuffle=False, image_size=48, crop_size=40,
                              batch_size=None, seed=0)
    stream = iter(ds.repeat())
    assert [int(next(stream)[1]) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_each_keras_style_map_and_iteration_is_the_next_epoch(tmp_path: Path) -> None:
    # Keras maps a Grain dataset again before each epoch: the shuffle must still move on.
    paths = _smooth_images(tmp_path, 6)
    ds = build_grain_pipeline(paths, list(range(6)), training=True, image_size=48, crop_size=40, batch_size=None,
                              seed=2)
    orders = [[int(label) for _, label in ds.map(lambda element: element)] for _ in range(3)]
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3


def test_empty_paths_give_empty_epochs_and_a_finite_repeat() -> None:
    ds = build_grain_pipeline([], None, training=True, image_size=48, crop_size=40)
    assert list(ds) == [] and list(ds.repeat()) == []  # an empty repeat ends instead of spinning


def test_images_only_and_drop_remainder(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 5)
    batches = list(build_grain_pipeline(paths, None, training=False, image_size=48, crop_size=40, batch_size=2,
                                        drop_remainder=True))
    assert [batch.shape for batch in batches] == [(2, 40, 40, 3), (2, 40, 40, 3)]


def test_rotation_reflects_borders() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 255
    rng = np.random.default_rng(0)
    rotated = random_augment_array(image, rng, 40, flip=False, rotation=30.0)
    assert rotated.shape == (40, 40, 3) and rotated.dtype == np.uint8
    assert not np.array_equal(rotated, image)
    assert 0.3 < (rotated > 127).mean() < 0.7  # reflected, not filled with black


# ----------------------------------------------------------------------- dispatch, faults
def test_subset_pipeline_format_picks_the_engine(tmp_path: Path) -> None:
    import pandas as pd

    paths = _smooth_images(tmp_path, 3)
    subset = Subset("test", pd.DataFrame({"path": paths, "gender": [0, 1, 1], "age": [2, 2, 2]}), "gender")
    grain_ds = subset.pipeline(image_size=48, crop_size=40, batch_size=3, format="grain")
    images, labels = next(iter(grain_ds))
    assert isinstance(images, np.ndarray) and labels.tolist() == [0, 1, 1]
    with pytest.raises(ConfigError, match="format must be 'tf', 'grain' or 'auto', got 'torch'"):
        subset.pipeline(format="torch")


def test_missing_grain_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grain", None)  # import grain raises ImportError
    with pytest.raises(ConfigError, match=r"needs the grain package: pip install grain"):
        build_grain_pipeline(_smooth_images(tmp_path, 1), [0], training=False, image_size=48, crop_size=40)


def test_tf_format_without_tensorflow_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from adiencekit.data import pipeline_args

    monkeypatch.setattr(pipeline_args, "tensorflow_installed", lambda: False)
    notices: list[str] = []
    assert pipeline_args.resolve_format("auto", notice=notices.append) == "grain"
    assert notices == ["adiencekit: TensorFlow is not installed; the input pipeline is Grain (input_format='grain')"]
    with pytest.raises(ConfigError, match="input format 'tf' needs TensorFlow"):
        pipeline_args.resolve_format("tf")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cache": "/tmp/adiencekit-cache"}, "caches in memory only"),
        ({"shuffle_buffer": 8}, "shuffles the whole set"),
        ({"num_threads": 0}, "num_threads must be a positive int"),
        ({"crop_size": 64}, r"crop_size \(64\) must be <= image_size \(48\)"),
    ],
)
def test_argument_faults(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_grain_pipeline(["a.jpg"], [0], training=True, **{"image_size": 48, "crop_size": 40, **kwargs})


def test_undecodable_file_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(Exception, match="broken.jpg"):
        list(build_grain_pipeline([broken], [0], training=False, image_size=48, crop_size=40))


def _eval_difference(paths: list[Path]) -> np.ndarray:
    """Per-pixel level differences of the Grain and tf.data evaluation crops (256, centre 227)."""
    build_pipeline = _tf_pipeline().build_pipeline
    args = dict(training=False, batch_size=len(paths), output_dtype="uint8")
    (ours, _), = list(build_grain_pipeline(paths, np.zeros(len(paths), np.int32), **args))
    (theirs, _), = _tf_batches(build_pipeline(paths, np.zeros(len(paths), np.int32), **args))
    assert ours.shape == theirs.shape == (len(paths), 227, 227, 3)
    return np.abs(ours.astype(int) - theirs.astype(int))


def test_real_adience_crops_match_tf_data(adience_faces_dir: Path) -> None:
    # The module docstring's figures: shrinking (Pillow box against TensorFlow area) gives
    # 1.6 levels on average, at most 2.3 for one image, 99% of values within 11 levels.
    difference = _eval_difference(sorted(adience_faces_dir.glob("*/*.jpg")))
    assert difference.mean() < 2.0
    assert difference.reshape(len(difference), -1).mean(axis=1).max() < 2.5
    assert np.percentile(difference, 99) <= 12


@pytest.fixture(params=["opencv", "pillow"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test through OpenCV's decode and resize of enlarged JPEGs, then through Pillow's alone."""
    if request.param == "opencv":
        pytest.importorskip("cv2", reason="the OpenCV path needs opencv-python-headless")
    else:
        monkeypatch.setattr(grain_pipeline, "opencv", lambda: None)
    return request.param


def test_real_utkface_crops_match_tf_data(utk_files: list[Path], decoder: str) -> None:
    # Enlarging 200 -> 256 (bilinear in both engines), the module docstring's figures on 300
    # faces: 0.91 levels on average through OpenCV, 0.99 through Pillow; at most 1.06 / 1.17
    # for one image, 99% of values within 3 levels, none more than 5.
    difference = _eval_difference(utk_files[:64])
    assert difference.mean() < 1.1
    assert difference.reshape(len(difference), -1).mean(axis=1).max() < 1.3
    assert np.percentile(difference, 99) <= 3 and difference.max() <= 6


def test_enlarged_jpegs_go_through_opencv_and_shrunk_ones_through_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("cv2", reason="the OpenCV path needs opencv-python-headless")
    decoded = []
    monkeypatch.setattr(grain_pipeline, "decode_jpeg_opencv",
                        lambda data: decoded.append(len(data)) or opencv_images.decode_jpeg_opencv(data))
    paths = _smooth_images(tmp_path, 6, sizes=(40, 64, 48))  # .jpg, .jpg, .png, .jpg, .jpg, .png
    images = [load_image_array(path, 48) for path in paths]
    assert len(decoded) == 2  # the 40 px JPEGs (enlarged) and the 48 px one (kept); not 64 px, not PNGs
    assert all(image.shape == (48, 48, 3) and image.dtype == np.uint8 for image in images)
    monkeypatch.setattr(grain_pipeline, "opencv", lambda: None)
    for path, image in zip(paths, images, strict=True):  # Pillow's pixels, within the decoders' levels
        assert np.abs(load_image_array(path, 48).astype(int) - image.astype(int)).mean() < 1.5


def test_opencv_ignores_the_exif_orientation_as_tf_data_does(tmp_path: Path) -> None:
    pytest.importorskip("cv2", reason="the OpenCV path needs opencv-python-headless")
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = 250  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(image).save(path, exif=exif, quality=95)
    loaded = load_image_array(path, 120)  # enlarged: OpenCV
    assert loaded[:, :50].mean() > 200 and loaded[:, 70:].mean() < 50  # stored pixels, not turned


def test_a_truncated_jpeg_fails_loudly_through_either_decoder(tmp_path: Path, decoder: str) -> None:
    whole = tmp_path / "whole.jpg"
    _save(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8), whole)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[:-200])
    assert load_image_array(whole, 48).shape == (48, 48, 3)
    with pytest.raises(OSError, match="truncated"):
        load_image_array(truncated, 48)


def test_odd_sided_jpeg_decodes_at_the_reduced_ratio_like_tf_data(tmp_path: Path) -> None:
    # Pillow's draft divides whole numbers: asking for ceil(601 / 2) = 301 columns gave 601 // 301 = 1,
    # a full-size decode (slower, and further from tf.data's 1/2-scale pixels).
    path = _save(np.full((600, 601, 3), 90, np.uint8), tmp_path / "odd.jpg")
    assert decode_image_array(path, 256).shape == (300, 301, 3)
    assert decode_image_array(path, 100).shape == (150, 151, 3)  # 1/4
    assert decode_image_array(path).shape == (600, 601, 3)
    if importlib.util.find_spec("tensorflow") is not None:
        assert tuple(_tf_pipeline().decode_image_file(str(path), 256).shape) == (300, 301, 3)


def test_batched_training_crops_are_independent_windows_and_each_epoch_draws_anew(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 8, sizes=(48,))
    resized = [load_image_array(path, 48) for path in paths]
    ds = build_grain_pipeline(paths, list(range(8)), training=True, shuffle=False, image_size=48, crop_size=40,
                              batch_size=8, seed=4, cache=True, output_dtype="uint8")
    epochs = [next(iter(ds)) for _ in range(2)]
    windows = []
    for images, labels in epochs:
        assert labels.tolist() == list(range(8))
        where = [_window_of(image, resized[index]) for image, index in zip(images, labels.tolist(), strict=True)]
        assert None not in where  # every crop is a window of its own image, in bounds
        windows.append(where)
    assert len(set(windows[0])) > 4  # the images of one batch are not cropped alike
    assert windows[0] != windows[1]  # and the next epoch crops them anew


def test_a_seed_fixes_batched_cached_epochs_whatever_the_threads(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 9)
    args = dict(training=True, image_size=48, crop_size=40, batch_size=4, seed=8, cache=True, output_dtype="uint8")
    one = _epochs_flat(build_grain_pipeline(paths, list(range(9)), num_threads=1, **args))
    four = _epochs_flat(build_grain_pipeline(paths, list(range(9)), num_threads=4, **args))
    assert one == four
    assert one[:3] != one[3:]  # epoch 2 is not epoch 1 again


def test_keep_pillow_blocks_raises_and_never_lowers(monkeypatch: pytest.MonkeyPatch) -> None:
    core = Image.core
    before = core.get_blocks_max()
    try:
        monkeypatch.delenv("PILLOW_BLOCKS_MAX", raising=False)
        assert keep_pillow_blocks(before + 3) == before + 3
        assert keep_pillow_blocks(1) == before + 3
        monkeypatch.setenv("PILLOW_BLOCKS_MAX", "0")  # the user's own setting wins
        assert keep_pillow_blocks(before + 10) == before + 3
    finally:
        core.set_blocks_max(before)


def test_the_grain_pipeline_never_imports_tensorflow(tmp_path: Path) -> None:
    paths = _smooth_images(tmp_path, 3)
    assert_runs_without_tensorflow(
        "from adiencekit.data.grain_pipeline import build_grain_pipeline\n"
        f"ds = build_grain_pipeline({[str(p) for p in paths]!r}, [0, 1, 0], training=True, image_size=48,"
        " crop_size=40, batch_size=2, seed=0, cache=True)\n"
        "for _ in range(2): [batch for batch in ds]\n"
    )


def test_nothing_to_augment_means_whole_shuffled_images_in_both_engines(tmp_path: Path) -> None:
    """crop = image, no flip, no rotation (``augment_on="device"``): each batch holds the
    loaded images themselves, every image once per epoch, in the engine's shuffled order."""
    paths = _smooth_images(tmp_path, 12)
    whole = {load_image_array(path, 32).tobytes(): index for index, path in enumerate(paths)}
    args = {"image_size": 32, "crop_size": 32, "batch_size": 4, "flip": False, "rotation": 0.0, "seed": 1,
            "training": True, "output_dtype": "uint8"}
    ds = build_grain_pipeline(paths, list(range(12)), **args)
    for _ in range(2):  # two epochs
        seen = [(image.tobytes(), int(label)) for images, labels in ds for image, label in zip(images, labels)]
        assert sorted(label for _, label in seen) == list(range(12))
        assert all(whole[data] == label for data, label in seen)  # no window moved, nothing mirrored
    if importlib.util.find_spec("tensorflow") is not None:
        tf_ds = _tf_pipeline().build_pipeline([str(p) for p in paths], list(range(12)), **args)
        images = np.concatenate([batch[0] for batch in _tf_batches(tf_ds)])
        tf_whole = _tf_batches(_tf_pipeline().build_pipeline([str(p) for p in paths], list(range(12)),
                                                             **{**args, "training": False}))
        reference = {img.tobytes() for batch in tf_whole for img in batch[0]}
        assert len(images) == 12 and {img.tobytes() for img in images} == reference
