"""Tests of the scratch CNNs: the report's exact sizes, options, tasks, saving, training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.models import scratch_cnn
from adiencekit.testing import assert_outputs_close, assert_saving_round_trip

SMALL = (32, 32, 3)


def weight_count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, 8_412_578),
        ({"conv_layers": 4}, 4_292_130),
        ({"conv_layers": 5}, 2_490_146),
        ({"conv_layers": 5, "dense_units": 256, "task": "age"}, 4_589_224),
    ],
)
def test_parameter_counts_of_the_report(kwargs, expected):
    model = scratch_cnn(**kwargs)
    assert model.input_shape == (None, 256, 256, 3)
    assert model.count_params() == expected
    assert weight_count(model.trainable_weights) == expected


def test_architecture():
    model = scratch_cnn(conv_layers=3, input_shape=(256, 256, 3))
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [16, 32, 64]
    assert model.get_layer("flatten").output.shape == (None, 32 * 32 * 64)
    assert model.get_layer("dense").units == 128


def test_batch_norm_and_dropout_options():
    model = scratch_cnn(input_shape=SMALL, batch_norm=True, dropout=0.3, conv_layers=2)
    assert not model.get_layer("conv1").use_bias
    assert isinstance(model.get_layer("conv1_bn"), keras.layers.BatchNormalization)
    assert model.get_layer("dense_dropout").rate == 0.3
    # conv biases replaced by BN gamma/beta (trainable) and moving stats (not trainable).
    assert weight_count(model.non_trainable_weights) == 2 * (16 + 32)


@pytest.mark.parametrize("task", ["gender", "age", "multitask"])
def test_tasks(task):
    model = scratch_cnn(task=task, input_shape=SMALL)
    outputs = model(np.zeros((3, *SMALL), "float32"))
    if task == "multitask":
        assert {k: tuple(v.shape) for k, v in outputs.items()} == {"gender": (3, 2), "age": (3, 8)}
    else:
        assert tuple(outputs.shape) == (3, {"gender": 2, "age": 8}[task])
        assert model.layers[-1].name == task


def test_classes_override_and_logits():
    model = scratch_cnn(task="age", classes=5, classifier_activation=None, input_shape=SMALL)
    assert model.output_shape == (None, 5)
    assert model.get_layer("age").activation is keras.activations.linear


@pytest.mark.parametrize("pooling, shape", [(None, (None, 4, 4, 64)), ("avg", (None, 64)), ("max", (None, 64))])
def test_headless(pooling, shape):
    assert scratch_cnn(input_shape=SMALL, include_top=False, pooling=pooling).output_shape == shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"conv_layers": 0}, "conv_layers"),
        ({"conv_layers": 6}, ">= 64"),
        ({"dense_units": -1}, "dense_units"),
        ({"base_filters": 1.5}, "base_filters"),
        ({"dropout": -0.1}, "dropout"),
        ({"weights": "imagenet"}, "weights must be None or the path"),
        ({"task": "emotion"}, "task must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scratch_cnn(**{"input_shape": SMALL, **kwargs})


def test_weights_file_round_trip(tmp_path):
    source = scratch_cnn(task="multitask", input_shape=SMALL, batch_norm=True)
    path = tmp_path / "scratch.weights.h5"
    source.save_weights(path)
    loaded = scratch_cnn(task="multitask", input_shape=SMALL, batch_norm=True, weights=str(path))
    x = np.random.default_rng(0).uniform(0, 255, size=(2, *SMALL)).astype("float32")
    assert_outputs_close(source(x, training=False), loaded(x, training=False))


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_of_another_architecture_are_rejected(tmp_path):
    path = tmp_path / "three.weights.h5"
    scratch_cnn(input_shape=SMALL).save_weights(path)
    with pytest.raises(ValueError):
        scratch_cnn(input_shape=SMALL, conv_layers=2, weights=path)


@pytest.mark.parametrize("task", ["age", "multitask"])
def test_saving_round_trip(tmp_path, task):
    model = scratch_cnn(task=task, input_shape=SMALL, batch_norm=True, dropout=0.5)
    x = np.random.default_rng(1).uniform(0, 255, size=(2, *SMALL)).astype("float32")
    assert_saving_round_trip(model, x, tmp_path)


def test_a_few_steps_reduce_the_loss():
    keras.utils.set_random_seed(5)
    model = scratch_cnn(task="gender", input_shape=SMALL)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 16)
    # A learnable signal: class-1 images are brighter.
    x = (rng.uniform(0, 128, size=(16, *SMALL)) + 127 * y[:, None, None, None]).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0], history.history["loss"]
