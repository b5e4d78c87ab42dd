"""Tests of the Levi & Hassner model: exact size, Caffe blob shapes, init, tasks, saving, training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.layers.normalization import LocalResponseNormalization
from adiencekit.models import levi_hassner
from adiencekit.models.backbones import _caffe_max_pool
from adiencekit.testing import assert_outputs_close, assert_saving_round_trip

SMALL = (64, 64, 3)


def weight_count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.fixture(scope="module")
def age_model():
    keras.utils.set_random_seed(0)
    return levi_hassner(task="age")


def test_parameter_counts(age_model):
    assert age_model.count_params() == 11_415_048
    assert weight_count(age_model.trainable_weights) == 11_415_048
    assert levi_hassner(task="gender").count_params() == 11_411_970


def test_caffe_blob_shapes_at_227(age_model):
    """Caffe rounds pooled sizes up: 96x28x28, 256x14x14, 384x7x7 (Keras 'valid' gives 27)."""
    backbone = age_model.backbone
    blobs = keras.Model(backbone.input, [backbone.get_layer(n).output for n in ("norm1", "norm2", "pool5")])
    outputs = blobs(np.zeros((1, 227, 227, 3), "float32"))
    assert [tuple(o.shape) for o in outputs] == [(1, 28, 28, 96), (1, 14, 14, 256), (1, 7, 7, 384)]
    assert age_model.get_layer("conv1").output.shape == (None, 56, 56, 96)


def test_lrn_layers_use_caffe_parameters(age_model):
    for name in ("norm1", "norm2"):
        layer = age_model.get_layer(name)
        assert isinstance(layer, LocalResponseNormalization)
        assert (layer.depth_radius, layer.bias, layer.beta) == (2, 1.0, 0.75)
        assert layer.alpha == pytest.approx(1e-4 / 5)


def caffe_max_pool_reference(x: np.ndarray) -> np.ndarray:
    """Caffe MAX pooling, kernel 3, stride 2, no pad: ceil-mode output, windows clipped."""
    height, width = x.shape[1:3]
    out_h, out_w = -(-(height - 3) // 2) + 1, -(-(width - 3) // 2) + 1
    out = np.empty((x.shape[0], out_h, out_w, x.shape[3]), x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j] = x[:, 2 * i : min(2 * i + 3, height), 2 * j : min(2 * j + 3, width)].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("size", [(9, 9), (10, 10), (11, 8), (56, 56)])
def test_pooling_equals_caffe_ceil_mode(size):
    x = np.random.default_rng(0).uniform(0.0, 5.0, size=(2, *size, 3)).astype("float32")
    inputs = keras.Input((*size, 3))
    pool = keras.Model(inputs, _caffe_max_pool(inputs, name="pool"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(x)), caffe_max_pool_reference(x))


def test_initialization_follows_the_prototxt(age_model):
    stds = {"conv1": 0.01, "conv2": 0.01, "conv3": 0.01, "fc6": 0.005, "fc7": 0.005, "age": 0.01}
    biases = {"conv1": 0.0, "conv2": 1.0, "conv3": 0.0, "fc6": 1.0, "fc7": 1.0, "age": 0.0}
    for name, std in stds.items():
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in age_model.get_layer(name).weights)
        assert abs(kernel.mean()) < 0.2 * std, name
        assert kernel.std() == pytest.approx(std, rel=0.1), name
        np.testing.assert_array_equal(bias, np.full_like(bias, biases[name]), err_msg=name)


def test_output_layers_are_float32_softmax(age_model):
    x = np.random.default_rng(1).uniform(0, 255, size=(2, 227, 227, 3)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(age_model(x))
    assert probabilities.shape == (2, 8) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("task, expected", [("gender", {"gender": 2}), ("age", {"age": 8}),
                                            ("multitask", {"gender": 2, "age": 8})])
def test_tasks(task, expected):
    model = levi_hassner(task=task, input_shape=SMALL)
    outputs = model(np.zeros((2, *SMALL), "float32"))
    if task != "multitask":
        assert model.layers[-1].name == task
        outputs = {task: outputs}
    assert {key: tuple(value.shape) for key, value in outputs.items()} == {k: (2, v) for k, v in expected.items()}
    assert model.name == f"levi_hassner_{task}"


@pytest.mark.parametrize("pooling, shape", [(None, (None, 1, 1, 384)), ("avg", (None, 384)), ("max", (None, 384))])
def test_headless(pooling, shape):
    model = levi_hassner(input_shape=SMALL, include_top=False, pooling=pooling)
    assert model.output_shape == shape


def test_headless_accepts_variable_size():
    model = levi_hassner(input_shape=(None, None, 3), include_top=False, pooling="avg")
    assert tuple(model(np.zeros((1, 99, 80, 3), "float32")).shape) == (1, 384)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "race"}, "task must be one of"),
        ({"weights": "imagenet"}, "weights must be None or the path"),
        ({"weights": "missing.weights.h5"}, "no such file"),
        ({"input_shape": (6, 6, 3)}, ">= 7"),
        ({"input_shape": (8, 8, 3)}, "too small"),
        ({"input_shape": (None, None, 3)}, "must be known"),
        ({"pooling": "sum"}, "pooling must be one of"),
        ({"dropout": 1.0}, "dropout"),
        ({"input_shape": (64, 64, 1)}, "one value per input channel"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        levi_hassner(**{"input_shape": SMALL, **kwargs})


def test_grayscale_with_own_mean():
    model = levi_hassner(input_shape=(64, 64, 1), mean=(120.0,))
    assert model.output_shape == (None, 2)


def test_weights_file_is_loaded(tmp_path):
    keras.utils.set_random_seed(1)
    source = levi_hassner(task="multitask", input_shape=SMALL)
    path = tmp_path / "lh.weights.h5"
    source.save_weights(path)
    keras.utils.set_random_seed(2)
    loaded = levi_hassner(task="multitask", input_shape=SMALL, weights=path)
    x = np.random.default_rng(2).uniform(0, 255, size=(2, *SMALL)).astype("float32")
    assert_outputs_close(source(x, training=False), loaded(x, training=False))


def test_saving_round_trip(tmp_path):
    model = levi_hassner(task="multitask", input_shape=SMALL, seed=3)
    x = np.random.default_rng(3).uniform(0, 255, size=(2, *SMALL)).astype("float32")
    restored = assert_saving_round_trip(model, x, tmp_path)
    assert isinstance(restored.get_layer("norm1"), LocalResponseNormalization)


def test_seed_makes_the_init_reproducible():
    first = levi_hassner(input_shape=SMALL, seed=7).get_layer("conv1").kernel
    second = levi_hassner(input_shape=SMALL, seed=7).get_layer("conv1").kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(second))


def test_a_few_steps_reduce_the_loss():
    keras.utils.set_random_seed(4)
    model = levi_hassner(task="multitask", input_shape=SMALL, dropout=0.0, seed=4)
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 255, size=(8, *SMALL)).astype("float32")
    y = {"gender": rng.integers(0, 2, 8), "age": rng.integers(0, 8, 8)}
    loss = "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"gender": loss, "age": loss})
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


def test_mixed_precision_keeps_float32_outputs():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = levi_hassner(task="multitask", input_shape=SMALL, seed=8)
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.backend.standardize_dtype(model.get_layer("conv2").compute_dtype) == "bfloat16"
    outputs = model(np.random.default_rng(8).uniform(0, 255, size=(2, *SMALL)).astype("float32"))
    for name, probabilities in outputs.items():
        assert keras.backend.standardize_dtype(probabilities.dtype) == "float32", name
        np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities).sum(axis=-1), 1.0, rtol=1e-5)


def test_dynamic_size_pooling_equals_caffe_ceil_mode():
    """An unknown map size takes the zero-padded path: still Caffe's result on odd and even maps."""
    inputs = keras.Input((None, None, 3))
    pool = keras.Model(inputs, _caffe_max_pool(inputs, name="pool"))
    for size in ((9, 9), (10, 12)):
        x = np.random.default_rng(1).uniform(0.0, 5.0, size=(1, *size, 3)).astype("float32")
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(x)), caffe_max_pool_reference(x))


def test_padding_layers_only_where_a_map_is_odd():
    """At 227 px every map is even (56, 28, 14): no separate padding layer for XLA to keep.

    At 75 px conv1 gives 18 x 18 (even) and pool1 9 x 9 (odd), so pool2 pads; pool2 gives 4.
    """
    from adiencekit.models.backbones import LeviHassnerBackbone

    def padding_layers(size: int) -> list[str]:
        trunk = LeviHassnerBackbone(input_shape=(size, size, 3))
        return [layer.name for layer in trunk.layers if isinstance(layer, keras.layers.ZeroPadding2D)]

    assert padding_layers(227) == []
    assert padding_layers(75) == ["pool2_pad"]
