"""Tests of adiencekit.models.heads: tasks, output names and dtypes, argument checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.models.heads import (
    TASK_CLASSES,
    TASKS,
    classification_head,
    global_pool,
    num_classes,
    validate_input_shape,
    validate_pooling,
    validate_task,
)


@pytest.fixture
def mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


def test_tasks_and_class_counts():
    assert TASKS == ("gender", "age", "multitask")
    assert TASK_CLASSES == {"gender": 2, "age": 8}
    assert num_classes("gender") == 2 and num_classes("age") == 8
    assert num_classes("age", classes=5) == 5


@pytest.mark.parametrize("task", ["Gender", "ages", "", None, 2])
def test_unknown_task_is_rejected(task):
    with pytest.raises(ValueError, match="task must be one of"):
        validate_task(task)


@pytest.mark.parametrize("classes", [1, 0, 2.5, True])
def test_bad_class_count(classes):
    with pytest.raises(ValueError, match="classes"):
        num_classes("age", classes=classes)


def test_multitask_has_no_single_class_count():
    with pytest.raises(ValueError, match="multitask"):
        num_classes("multitask")
    with pytest.raises(ValueError, match="classes cannot be set"):
        classification_head(keras.Input((4,)), "multitask", classes=3)


@pytest.mark.parametrize("task", ["gender", "age"])
def test_single_task_head_is_named_after_the_task(task):
    features = keras.Input((6,))
    model = keras.Model(features, classification_head(features, task))
    assert model.output_shape == (None, TASK_CLASSES[task])
    assert model.layers[-1].name == task
    probabilities = keras.ops.convert_to_numpy(model(np.ones((3, 6), "float32")))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


def test_multitask_head_returns_a_dict():
    features = keras.Input((6,))
    model = keras.Model(features, classification_head(features, "multitask", classifier_activation=None))
    outputs = model(np.ones((3, 6), "float32"))
    assert set(outputs) == {"gender", "age"}
    assert tuple(outputs["gender"].shape) == (3, 2) and tuple(outputs["age"].shape) == (3, 8)
    # classifier_activation=None gives logits: rows need not sum to one.
    assert not np.allclose(keras.ops.convert_to_numpy(outputs["age"]).sum(axis=-1), 1.0)


def test_outputs_stay_float32_under_mixed_precision(mixed_precision):
    features = keras.Input((6,))
    hidden = keras.layers.Dense(4, name="hidden")(features)
    model = keras.Model(features, classification_head(hidden, "multitask"))
    assert keras.backend.standardize_dtype(model.get_layer("hidden").compute_dtype) == "bfloat16"
    outputs = model(np.ones((2, 6), "float32"))
    for name in ("gender", "age"):
        assert model.get_layer(name).compute_dtype == "float32"
        assert keras.backend.standardize_dtype(outputs[name].dtype) == "float32"


def test_pooling():
    x = keras.Input((3, 3, 5))
    assert global_pool(x, None) is x
    assert global_pool(x, "avg").shape == (None, 5)
    assert global_pool(x, "max", name="gmp").shape == (None, 5)
    with pytest.raises(ValueError, match="pooling must be one of"):
        validate_pooling("mean")


@pytest.mark.parametrize(
    "shape, kwargs, match",
    [
        ((64, 64), {}, "input_shape must be"),
        (5, {}, "input_shape must be"),
        ((64, 64, 0), {}, "channel count"),
        ((None, 64, 3), {}, "must be known"),
        ((32, 32, 3), {"min_size": 75}, ">= 75"),
        ((32.0, 32, 3), {}, "ints"),
    ],
)
def test_input_shape_errors(shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate_input_shape(shape, **kwargs)


def test_input_shape_accepts_variable_size_when_allowed():
    assert validate_input_shape([None, None, 3], allow_none=True) == (None, None, 3)
