"""Tests for adiencekit.metrics (every backend)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adiencekit.losses import MaskedSparseCategoricalCrossentropy
from adiencekit.metrics import MaskedSparseCategoricalAccuracy, OneOffAccuracy, exact_accuracy, one_off_accuracy
from adiencekit.testing import two_head_model


def reference_accuracy(labels, scores, tolerance, weights=None):
    """Plain-Python reference: weighted share of labelled rows within ``tolerance``."""
    hits = total = 0.0
    for index, label in enumerate(labels):
        if label < 0:
            continue
        weight = 1.0 if weights is None else float(weights[index])
        predicted = int(np.argmax(scores[index]))
        hits += weight * (abs(predicted - int(label)) <= tolerance)
        total += weight
    return hits / total if total else 0.0


def one_hot_scores(predicted, classes=8):
    return np.eye(classes, dtype="float32")[predicted]


def test_one_off_by_hand():
    metric = OneOffAccuracy()
    labels = np.array([0, 0, 3, 3, 3, 7, -1])
    predicted = [1, 2, 2, 4, 5, 6, 0]  # within: yes no yes yes no yes (unlabelled)
    metric.update_state(labels, one_hot_scores(predicted))
    assert float(metric.result()) == pytest.approx(4 / 6)


def test_exact_by_hand_with_column_labels_and_index_predictions():
    metric = MaskedSparseCategoricalAccuracy()
    metric.update_state(np.array([[1], [0], [-1], [1]]), np.array([[1], [1], [0], [1]], "int32"))
    assert float(metric.result()) == pytest.approx(2 / 3)


def test_all_masked_batch_gives_zero_and_state_accumulates_and_resets():
    metric = OneOffAccuracy()
    metric.update_state(np.array([-1, -1]), one_hot_scores([0, 1]))
    assert float(metric.result()) == 0.0
    metric.update_state(np.array([2, -1]), one_hot_scores([3, 0]))
    metric.update_state(np.array([0, 5]), one_hot_scores([7, 5]))
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(np.array([4]), one_hot_scores([6]))
    assert float(metric.result()) == 0.0


def test_sample_weights_are_used():
    metric = MaskedSparseCategoricalAccuracy()
    metric.update_state(np.array([0, 1, -1]), one_hot_scores([0, 0, 0], 2), sample_weight=np.array([3.0, 1.0, 5.0]))
    assert float(metric.result()) == pytest.approx(0.75)


def test_label_outside_the_classes_poisons_the_metric():
    metric = OneOffAccuracy()
    metric.update_state(np.array([1, 8]), one_hot_scores([1, 7]))
    assert np.isnan(float(metric.result()))


def test_tolerance_and_shapes_are_checked():
    with pytest.raises(ValueError, match="tolerance"):
        OneOffAccuracy(tolerance=-1)
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1\)"):
        OneOffAccuracy().update_state(np.zeros((2, 3), "int32"), one_hot_scores([0, 1]))
    assert OneOffAccuracy(tolerance=0).name == "one_off_accuracy"


def test_config_round_trip():
    for metric in (OneOffAccuracy(tolerance=2, name="two_off"), MaskedSparseCategoricalAccuracy(name="acc")):
        rebuilt = keras.metrics.deserialize(keras.metrics.serialize(metric))
        assert type(rebuilt) is type(metric) and rebuilt.get_config() == metric.get_config()
        assert rebuilt.tolerance == metric.tolerance


# No subnormal scores: XLA (the JAX backend) flushes them to zero, so an argmax decided by
# a 1e-45 difference is backend-dependent, not a metric property.
@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(
        st.integers(min_value=1, max_value=12).flatmap(
            lambda n: st.tuples(
                hnp.arrays(np.int32, n, elements=st.integers(-1, 7)),
                hnp.arrays(np.float32, (n, 8), elements=st.floats(0, 1, width=32, allow_subnormal=False)),
                hnp.arrays(np.float32, n, elements=st.floats(0, 3, width=32, allow_subnormal=False)),
            )
        ),
        min_size=1,
        max_size=3,
    ),
    tolerance=st.integers(0, 2),
    weighted=st.booleans(),
)
def test_matches_the_reference_over_several_batches(batches, tolerance, weighted):
    metric = OneOffAccuracy(tolerance=tolerance)
    exact = MaskedSparseCategoricalAccuracy()
    for labels, scores, weights in batches:
        metric.update_state(labels, scores, sample_weight=weights if weighted else None)
        exact.update_state(labels, scores, sample_weight=weights if weighted else None)
    labels = np.concatenate([b[0] for b in batches])
    scores = np.concatenate([b[1] for b in batches])
    weights = np.concatenate([b[2] for b in batches]) if weighted else None
    assert float(metric.result()) == pytest.approx(reference_accuracy(labels, scores, tolerance, weights), abs=1e-5)
    assert float(exact.result()) == pytest.approx(reference_accuracy(labels, scores, 0, weights), abs=1e-5)
    if (labels >= 0).any():
        expected = reference_accuracy(labels, scores, tolerance)
        assert one_off_accuracy(labels, scores, tolerance) == pytest.approx(expected)
        assert exact_accuracy(labels, scores) == pytest.approx(reference_accuracy(labels, scores, 0))


def test_numpy_functions_by_hand_and_errors():
    assert one_off_accuracy([0, 3, 7, -1], [1, 5, 7, 0]) == pytest.approx(2 / 3)
    assert exact_accuracy([[1], [0]], [[0.2, 0.8], [0.4, 0.6]]) == 0.5
    with pytest.raises(ValueError, match="no labelled examples"):
        exact_accuracy([-1, -1], [0, 1])
    with pytest.raises(ValueError, match="below the number of classes"):
        one_off_accuracy([0, 8], one_hot_scores([0, 1]))
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        exact_accuracy([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="integer class indices"):
        exact_accuracy([0.5, 1.0], [0, 1])


def test_in_a_multitask_model_evaluate_matches_numpy():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 4)).astype("float32")
    labels = {"gender": rng.integers(-1, 2, 20).astype("int32"), "age": rng.integers(-1, 8, 20).astype("int32")}
    model = two_head_model(4)
    model.compile(
        loss={"gender": MaskedSparseCategoricalCrossentropy(), "age": MaskedSparseCategoricalCrossentropy()},
        metrics={
            "gender": [MaskedSparseCategoricalAccuracy()],
            "age": [MaskedSparseCategoricalAccuracy(), OneOffAccuracy()],
        },
    )
    results = model.evaluate(images, labels, batch_size=7, verbose=0, return_dict=True)
    predictions = model.predict(images, verbose=0)
    one_off = one_off_accuracy(labels["age"], predictions["age"])
    assert results["age_one_off_accuracy"] == pytest.approx(one_off, abs=1e-6)
    assert results["age_accuracy"] == pytest.approx(exact_accuracy(labels["age"], predictions["age"]), abs=1e-6)
    gender = exact_accuracy(labels["gender"], predictions["gender"])
    assert results["gender_accuracy"] == pytest.approx(gender, abs=1e-6)
