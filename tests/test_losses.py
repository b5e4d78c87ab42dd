"""Tests for adiencekit.losses.MaskedSparseCategoricalCrossentropy (every backend)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adiencekit.losses import MaskedSparseCategoricalCrossentropy
from adiencekit.testing import two_head_model

EPSILON = 1e-7  # Keras clips probabilities to [epsilon, 1 - epsilon] before the log


def reference_loss(labels, probabilities, weights=None):
    """Plain-Python reference: weighted mean of -log p[label] over labelled rows."""
    total = weight_sum = 0.0
    for index, label in enumerate(labels):
        if label < 0:
            continue
        weight = 1.0 if weights is None else float(weights[index])
        row = probabilities[index] / probabilities[index].sum()
        total += weight * -np.log(np.clip(row[label], EPSILON, 1 - EPSILON))
        weight_sum += weight
    return total / weight_sum if weight_sum else 0.0


def test_mean_over_labelled_examples_only():
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7]], "float32")
    loss = MaskedSparseCategoricalCrossentropy()
    expected = -(np.log(0.5) + np.log(0.8)) / 2
    assert float(loss(np.array([0, -1, 1, -1]), probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(np.array([[0], [-1], [1], [-1]]), probabilities)) == pytest.approx(expected, rel=1e-5)


def test_all_masked_batch_gives_zero_not_nan():
    probabilities = np.full((3, 8), 1 / 8, "float32")
    value = float(MaskedSparseCategoricalCrossentropy()(np.array([-1, -1, -1]), probabilities))
    assert value == 0.0


def test_sample_weights_and_reductions():
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]], "float32")
    labels = np.array([0, -1, 1])
    weights = np.array([1.0, 4.0, 3.0], "float32")
    ce = np.array([-np.log(0.5), 0.0, -np.log(0.8)])
    masked = MaskedSparseCategoricalCrossentropy()
    weighted_mean = (ce[0] + 3 * ce[2]) / 4
    assert float(masked(labels, probabilities, sample_weight=weights)) == pytest.approx(weighted_mean, rel=1e-5)
    per_example = MaskedSparseCategoricalCrossentropy(reduction="none")(labels, probabilities)
    np.testing.assert_allclose(np.asarray(per_example), ce, rtol=1e-5)
    total = MaskedSparseCategoricalCrossentropy(reduction="sum")(labels, probabilities)
    assert float(total) == pytest.approx(ce.sum(), rel=1e-5)
    over_batch = MaskedSparseCategoricalCrossentropy(reduction="sum_over_batch_size")(labels, probabilities)
    assert float(over_batch) == pytest.approx(ce.sum() / 3, rel=1e-5)


def test_from_logits():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]], "float32")
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    value = MaskedSparseCategoricalCrossentropy(from_logits=True)(np.array([2, -1]), logits)
    assert float(value) == pytest.approx(-np.log(probabilities[0, 2]), rel=1e-5)


def test_label_outside_the_classes_makes_the_loss_nan():
    value = MaskedSparseCategoricalCrossentropy()(np.array([0, 2]), np.full((2, 2), 0.5, "float32"))
    assert np.isnan(float(value))


def test_arguments_and_shapes_are_checked():
    with pytest.raises(ValueError, match="reduction must be one of"):
        MaskedSparseCategoricalCrossentropy(reduction="median")
    with pytest.raises(TypeError, match="from_logits"):
        MaskedSparseCategoricalCrossentropy(from_logits="no")
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1\)"):
        MaskedSparseCategoricalCrossentropy()(np.zeros((2, 2), "int32"), np.full((2, 2), 0.5, "float32"))


def test_config_round_trip():
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True, reduction="sum", name="age_loss")
    rebuilt = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(rebuilt) is MaskedSparseCategoricalCrossentropy
    assert rebuilt.get_config() == loss.get_config()


@settings(max_examples=40, deadline=None)
@given(
    data=st.integers(min_value=1, max_value=16).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int32, n, elements=st.integers(-1, 7)),
            hnp.arrays(np.float32, (n, 8), elements=st.floats(0.015625, 1, width=32)),
            hnp.arrays(np.float32, n, elements=st.floats(0.125, 3, width=32)),
        )
    ),
    weighted=st.booleans(),
)
def test_matches_the_reference(data, weighted):
    labels, scores, weights = data
    probabilities = scores / scores.sum(axis=1, keepdims=True)
    value = MaskedSparseCategoricalCrossentropy()(labels, probabilities, sample_weight=weights if weighted else None)
    expected = reference_loss(labels, probabilities, weights if weighted else None)
    assert float(value) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_multitask_training_ignores_an_unlabelled_output():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(16, 4)).astype("float32")
    model = two_head_model(4)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss={"gender": MaskedSparseCategoricalCrossentropy(), "age": MaskedSparseCategoricalCrossentropy()},
    )
    age_before = [w.numpy().copy() for w in model.get_layer("age").weights]
    gender_before = [w.numpy().copy() for w in model.get_layer("gender").weights]
    labels = {"gender": rng.integers(0, 2, 16).astype("int32"), "age": np.full(16, -1, "int32")}
    history = model.fit(images, labels, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert history.history["age_loss"] == [0.0, 0.0]
    for before, after in zip(age_before, model.get_layer("age").weights):
        np.testing.assert_array_equal(after.numpy(), before)
    assert not all(np.array_equal(b, a.numpy()) for b, a in zip(gender_before, model.get_layer("gender").weights))
