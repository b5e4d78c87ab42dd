"""Tests of the Inception-v3 models: exact sizes, freezing, ImageNet weights (offline), saving, training.

Full-size (299x299) models are built once per module; everything else uses 75x75, the
smallest input Inception-v3 accepts. No test downloads anything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.models import basic_inception, modified_inception, set_trainable_blocks
from adiencekit.models.inception import INCEPTION_BLOCKS
from adiencekit.testing import assert_outputs_close, assert_saving_round_trip

SMALL = (75, 75, 3)
BASE_PARAMS, BASE_NON_TRAINABLE = 21_802_784, 34_432


def weight_count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=(n, *SMALL)).astype("float32")


@pytest.fixture(scope="module")
def full_basic():
    return basic_inception(task="gender", weights=None)


@pytest.fixture(scope="module")
def full_modified():
    return modified_inception(task="gender", weights=None)


@pytest.fixture(scope="module")
def small_modified():
    """A 75x75 multitask modified model; tests that change its trainability restore it."""
    keras.utils.set_random_seed(0)
    model = modified_inception(task="multitask", weights=None, input_shape=SMALL)
    yield model


def test_basic_inception_size(full_basic):
    assert full_basic.input_shape == (None, 299, 299, 3)
    assert full_basic.count_params() == 21_806_882
    assert weight_count(full_basic.trainable_weights) == 4_098
    base = full_basic.get_layer("inception_v3")
    assert base.count_params() == BASE_PARAMS
    assert base.output_shape == (None, 8, 8, 2048)  # the head pools it
    assert full_basic.get_layer("pool").output.shape == (None, 2048)
    assert not any(layer.trainable for layer in base.layers)  # frozen BN runs in inference mode


def test_modified_inception_size(full_modified):
    assert full_modified.count_params() == 22_065_314
    assert weight_count(full_modified.trainable_weights) == 22_030_882
    assert weight_count(full_modified.non_trainable_weights) == BASE_NON_TRAINABLE
    assert [full_modified.get_layer(n).rate for n in ("input_dropout", "dense_dropout")] == [0.2, 0.2]
    assert full_modified.get_layer("dense").units == 128


def test_preprocessing_is_inside_the_model(full_basic):
    scaling = full_basic.get_layer("inception_preprocessing")
    out = keras.ops.convert_to_numpy(scaling(np.array([[0.0, 127.5, 255.0]], "float32")))
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0]])


@pytest.mark.parametrize("task", ["gender", "age"])
def test_basic_single_tasks(task):
    model = basic_inception(task=task, weights=None, input_shape=SMALL)
    probabilities = keras.ops.convert_to_numpy(model(images(2)))
    assert probabilities.shape == (2, {"gender": 2, "age": 8}[task])
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    assert model.layers[-1].name == task and model.layers[-1].compute_dtype == "float32"
    assert weight_count(model.trainable_weights) == 2048 * probabilities.shape[1] + probabilities.shape[1]


def test_modified_multitask(small_modified):
    outputs = small_modified(images(2))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {"gender": (2, 2), "age": (2, 8)}
    # shared trunk: one hidden dense layer, two heads
    assert weight_count(small_modified.get_layer("dense").weights) == 2048 * 128 + 128


@pytest.mark.parametrize("pooling, shape", [(None, (None, 1, 1, 2048)), ("max", (None, 2048))])
def test_headless(pooling, shape):
    model = basic_inception(weights=None, input_shape=SMALL, include_top=False, pooling=pooling)
    assert model.output_shape == shape
    assert weight_count(model.trainable_weights) == 0


def test_freezing_options(small_modified):
    head = weight_count(small_modified.trainable_weights) - (BASE_PARAMS - BASE_NON_TRAINABLE)
    assert head == (2048 * 128 + 128) + (128 * 2 + 2) + (128 * 8 + 8)
    base = small_modified.get_layer("inception_v3")
    try:
        set_trainable_blocks(small_modified, False)
        assert weight_count(small_modified.trainable_weights) == head
        # Top 2 blocks = everything computed from mixed8's output: count it with a sub-model.
        top_two = keras.Model(base.get_layer("mixed8").output, base.output)
        for blocks in (2, "top:2"):
            set_trainable_blocks(small_modified, blocks)
            expected = head + weight_count(top_two.trainable_weights)
            assert weight_count(small_modified.trainable_weights) == expected
        assert not base.layers[1].trainable and not base.get_layer("mixed8").trainable
        assert base.get_layer("mixed9").trainable and base.get_layer("mixed10").trainable
        # All eleven blocks: only the stem (5 conv + BN before mixed0) stays frozen.
        set_trainable_blocks(small_modified, INCEPTION_BLOCKS)
        stem = [layer for layer in base.layers if not layer.trainable]
        assert sum(isinstance(layer, keras.layers.Conv2D) for layer in stem) == 5
        set_trainable_blocks(small_modified, True)
        assert weight_count(small_modified.trainable_weights) == head + BASE_PARAMS - BASE_NON_TRAINABLE
    finally:
        set_trainable_blocks(small_modified, True)


@pytest.mark.parametrize("blocks", [12, -1, "top:x", "top", 1.5, "all"])
def test_bad_trainable_setting(small_modified, blocks):
    with pytest.raises(ValueError, match="trainable_base must be"):
        set_trainable_blocks(small_modified, blocks)


def test_set_trainable_blocks_needs_an_inception_base():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="no Inception-v3 base"):
        set_trainable_blocks(keras.Model(inputs, keras.layers.Dense(2)(inputs)), 2)


def test_trainable_base_argument():
    model = modified_inception(weights=None, input_shape=SMALL, trainable_base=False, dense_units=16)
    assert weight_count(model.trainable_weights) == (2048 * 16 + 16) + (16 * 2 + 2)


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        (basic_inception, {"weights": "imagenet21k"}, "weights must be None, 'imagenet' or the path"),
        (basic_inception, {"weights": "missing.weights.h5"}, "no such file"),
        (basic_inception, {"input_shape": (75, 75, 1)}, "needs 3 input channels"),
        (basic_inception, {"input_shape": (64, 64, 3), "weights": None}, ">= 75"),
        (basic_inception, {"task": "race", "weights": None}, "task must be one of"),
        (basic_inception, {"weights": None, "imagenet_weights_file": "x.h5"}, "only used with weights='imagenet'"),
        (basic_inception, {"imagenet_weights_file": "nowhere.h5"}, "does not exist"),
        (modified_inception, {"weights": None, "dropout": 1.5}, "dropout"),
        (modified_inception, {"weights": None, "dense_units": 0}, "dense_units"),
        (modified_inception, {"weights": None, "trainable_base": "some"}, "trainable_base must be"),
        (modified_inception, {"weights": None, "pooling": "min"}, "pooling must be one of"),
    ],
)
def test_bad_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**{"input_shape": SMALL, **kwargs})


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_imagenet_weights_are_fetched_once_through_keras_get_file(monkeypatch, tmp_path):
    """weights='imagenet' fetches Keras's no-top file with keras.utils.get_file (md5-checked)
    and hands the local path to keras.applications. The spy returns a local donor file, so
    nothing is downloaded.
    """
    keras.utils.set_random_seed(3)
    donor = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=SMALL)
    path = tmp_path / "donor.weights.h5"
    donor.save_weights(path)
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    model = basic_inception(weights="imagenet", input_shape=SMALL)
    (fname, origin, kwargs), = calls
    assert origin.startswith("https://storage.googleapis.com/") and fname.endswith("_notop.h5")
    assert kwargs == {"cache_subdir": "models", "file_hash": "bcbd6486424b2319ff4ef7d526e38f63"}
    assert model.count_params() == BASE_PARAMS + 2048 * 2 + 2
    for expected, loaded in zip(donor.weights, model.backbone.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(expected))


def test_offline_imagenet_download_failure_is_one_clear_error(monkeypatch):
    """No network: the download failure becomes one ModelFileError naming the offline options."""
    from adiencekit.errors import ModelFileError

    def failing_get_file(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(ModelFileError) as caught:
        modified_inception(task="gender", input_shape=SMALL)
    message = str(caught.value)
    for part in ("about 90 MB", "~/.keras", "imagenet_weights_file=", "weights=None", "Name or service not known",
                 "--imagenet-weights FILE", "--no-imagenet"):
        assert part in message, message
    # One exception, not Keras's and urllib's errors chained under it.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_cli_inception_offline_is_one_line_before_any_run_folder(monkeypatch, tmp_path, capsys):
    from adiencekit.cli import build_parser, config_from_args, main

    def failing_get_file(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    out = tmp_path / "run"
    code = main(["train", "--recipe", "inception_modified", "--epochs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "--imagenet-weights FILE" in lines[0] and "--no-imagenet" in lines[0]
    assert "Run folder" not in captured.out and not out.exists()
    code = main(["train", "--recipe", "inception_modified", "--imagenet-weights", str(tmp_path / "none.h5"),
                 "--out", str(out)])
    assert code == 2 and "the ImageNet weights file does not exist" in capsys.readouterr().err and not out.exists()
    code = main(["train", "--model", "scratch_cnn", "--no-imagenet", "--out", str(out)])
    assert code == 2 and "--no-imagenet is for the Inception models" in capsys.readouterr().err
    parse = build_parser().parse_args
    config = config_from_args(parse(["train", "--recipe", "inception_modified", "--no-imagenet"]))
    assert config.model_kwargs["weights"] is None  # a random base: nothing to download
    local = tmp_path / "notop.h5"
    local.write_bytes(b"")
    config = config_from_args(parse(["cv", "--recipe", "inception_modified", f"--imagenet-weights={local}"]))
    assert config.model_kwargs["imagenet_weights_file"] == str(local)


def test_offline_download_failure_against_a_closed_local_port(monkeypatch):
    """The real keras.utils.get_file against 127.0.0.1 with nothing listening: same clear error."""
    import socket

    from adiencekit.errors import ModelFileError
    from adiencekit.models import weights as weights_module

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(weights_module, "IMAGENET_INCEPTION_V3_URL", f"http://127.0.0.1:{port}/notop-test-only.h5")
    monkeypatch.setenv("KERAS_HOME", str(Path(tempfile.mkdtemp())))
    with pytest.raises(ModelFileError, match="imagenet_weights_file=.*weights=None"):
        weights_module.imagenet_weights_path(model="modified_inception")


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_imagenet_weights_from_a_local_file(tmp_path):
    """A local copy of the no-top ImageNet file goes through keras.applications' weights-path route.

    ``keras.utils.get_file`` checks the md5 of a cached file and re-downloads on a mismatch,
    so a test cannot plant a fake file in the Keras cache; the ``imagenet_weights_file``
    argument takes a local copy instead (here: a headless Inception-v3 with known weights).
    """
    keras.utils.set_random_seed(11)
    donor = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=SMALL, pooling="avg")
    path = tmp_path / "inception_v3_notop.weights.h5"
    donor.save_weights(path)
    keras.utils.set_random_seed(12)
    model = modified_inception(task="age", weights="imagenet", input_shape=SMALL, imagenet_weights_file=path)
    for expected, loaded in zip(donor.weights, model.get_layer("inception_v3").weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(expected))


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_whole_model_weights_file(tmp_path, small_modified):
    path = tmp_path / "modified.weights.h5"
    small_modified.save_weights(path)
    loaded = modified_inception(task="multitask", weights=path, input_shape=SMALL)
    assert_outputs_close(small_modified(images(2), training=False), loaded(images(2), training=False), atol=1e-4)


def test_saving_round_trip(tmp_path):
    model = basic_inception(task="multitask", weights=None, input_shape=SMALL)
    restored = assert_saving_round_trip(model, images(2), tmp_path, atol=1e-4)
    assert weight_count(restored.trainable_weights) == weight_count(model.trainable_weights)


@pytest.mark.slow
def test_staged_fine_tuning_reduces_the_loss_and_keeps_frozen_batch_norm(small_modified):
    """Train only the top block a few steps: the loss drops, frozen BN statistics do not move."""
    base = small_modified.get_layer("inception_v3")
    batch_norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    frozen_bn, top_bn = batch_norms[0], batch_norms[-1]  # in the stem; in mixed10
    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    x = images(8, seed=6)
    y = {"gender": rng.integers(0, 2, 8), "age": rng.integers(0, 8, 8)}
    loss = "sparse_categorical_crossentropy"
    try:
        set_trainable_blocks(small_modified, 1)
        before = [keras.ops.convert_to_numpy(bn.moving_mean).copy() for bn in (frozen_bn, top_bn)]
        small_modified.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"gender": loss, "age": loss})
        history = small_modified.fit(x, y, epochs=6, batch_size=8, verbose=0)
        after = [keras.ops.convert_to_numpy(bn.moving_mean) for bn in (frozen_bn, top_bn)]
    finally:
        set_trainable_blocks(small_modified, True)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0], history.history["loss"]
    np.testing.assert_array_equal(after[0], before[0])
    assert not np.allclose(after[1], before[1])
