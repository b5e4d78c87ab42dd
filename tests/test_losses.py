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


# ----------------------------------------------------------------------------- smoothing
def reference_targets(label, classes, label_smoothing, neighbour_smoothing):
    """Hand-written target distribution: neighbour smoothing first, then uniform."""
    target = np.zeros(classes)
    target[label] = 1.0
    if neighbour_smoothing and classes > 1:
        neighbours = [c for c in (label - 1, label + 1) if 0 <= c < classes]
        target[label] -= neighbour_smoothing
        for c in neighbours:
            target[c] += neighbour_smoothing / len(neighbours)
    return (1 - label_smoothing) * target + label_smoothing / classes


def reference_smoothed_loss(labels, scores, label_smoothing, neighbour_smoothing, from_logits, weights=None,
                            ordinal_weight=0.0):
    total = weight_sum = 0.0
    for index, label in enumerate(labels):
        if label < 0:
            continue
        if from_logits:
            shifted = scores[index].astype("float64") - scores[index].max()
            log_p = shifted - np.log(np.exp(shifted).sum())
            row = np.exp(log_p)
        else:
            row = scores[index] / scores[index].sum()
            log_p = np.log(np.clip(row, EPSILON, 1 - EPSILON))
        target = reference_targets(int(label), scores.shape[1], label_smoothing, neighbour_smoothing)
        # squared Earth Mover's Distance: squared gaps of the cumulative sums but the last (always 1 - 1)
        emd = sum((row[: k + 1].sum() - target[: k + 1].sum()) ** 2 for k in range(len(row) - 1))
        weight = 1.0 if weights is None else float(weights[index])
        total += weight * (-(target * log_p).sum() + ordinal_weight * emd)
        weight_sum += weight
    return total / weight_sum if weight_sum else 0.0


def test_neighbour_smoothing_targets_by_hand():
    loss = MaskedSparseCategoricalCrossentropy(neighbour_smoothing=0.2)
    targets = np.asarray(loss.smoothed_targets(np.array([0, 3, 7]), 8))
    np.testing.assert_allclose(targets[0], [0.8, 0.2, 0, 0, 0, 0, 0, 0], atol=1e-7)  # one neighbour
    np.testing.assert_allclose(targets[1], [0, 0, 0.1, 0.8, 0.1, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(targets[2], [0, 0, 0, 0, 0, 0, 0.2, 0.8], atol=1e-7)
    both = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, neighbour_smoothing=0.2)
    np.testing.assert_allclose(
        np.asarray(both.smoothed_targets(np.array([3]), 8))[0],
        0.9 * np.array([0, 0, 0.1, 0.8, 0.1, 0, 0, 0]) + 0.1 / 8,
        atol=1e-7,
    )
    np.testing.assert_allclose(np.asarray(both.smoothed_targets(np.array([1, 0]), 2)).sum(axis=1), [1, 1], atol=1e-6)


def test_label_smoothing_matches_keras_categorical_crossentropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 8)).astype("float32")
    labels = np.array([0, 3, 7, 2, 5, 1])
    ours = MaskedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    assert float(ours(labels, logits)) == pytest.approx(float(keras_loss(np.eye(8)[labels], logits)), rel=1e-5)


def test_zero_smoothing_is_exactly_todays_loss():
    rng = np.random.default_rng(2)
    scores = rng.uniform(0.01, 1, size=(9, 8)).astype("float32")
    probabilities = scores / scores.sum(axis=1, keepdims=True)
    labels = np.array([0, -1, 7, 3, 3, -1, 1, 6, 2])
    for from_logits, inputs in ((False, probabilities), (True, np.log(probabilities))):
        plain = MaskedSparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")
        zero = MaskedSparseCategoricalCrossentropy(
            from_logits=from_logits, reduction="none", label_smoothing=0.0, neighbour_smoothing=0.0
        )
        np.testing.assert_array_equal(np.asarray(zero(labels, inputs)), np.asarray(plain(labels, inputs)))


def test_smoothing_keeps_masking_and_the_nan_for_bad_labels():
    probabilities = np.full((3, 8), 1 / 8, "float32")
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, neighbour_smoothing=0.3)
    assert float(loss(np.array([-1, -1, -1]), probabilities)) == 0.0
    assert float(loss(np.array([-1, 2, -1]), probabilities)) == pytest.approx(np.log(8), rel=1e-5)
    assert np.isnan(float(loss(np.array([0, 8, 1]), probabilities)))


@pytest.mark.parametrize("value", [-0.1, 1.0, True, "0.1"])
@pytest.mark.parametrize("argument", ["label_smoothing", "neighbour_smoothing"])
def test_smoothing_arguments_are_checked(argument, value):
    with pytest.raises(ValueError, match=rf"{argument} must be a number in \[0, 1\)"):
        MaskedSparseCategoricalCrossentropy(**{argument: value})


def test_smoothing_config_round_trip():
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.05, neighbour_smoothing=0.2)
    rebuilt = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (rebuilt.label_smoothing, rebuilt.neighbour_smoothing, rebuilt.from_logits) == (0.05, 0.2, True)
    assert rebuilt.get_config() == loss.get_config()
    old = {k: v for k, v in MaskedSparseCategoricalCrossentropy().get_config().items() if "smoothing" not in k}
    assert MaskedSparseCategoricalCrossentropy.from_config(old).neighbour_smoothing == 0.0  # older saved files


@settings(max_examples=40, deadline=None)
@given(
    data=st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.integers(min_value=2, max_value=9).flatmap(
            lambda c: st.tuples(
                hnp.arrays(np.int32, n, elements=st.integers(-1, c - 1)),
                hnp.arrays(np.float32, (n, c), elements=st.floats(0.015625, 1, width=32)),
                hnp.arrays(np.float32, n, elements=st.floats(0.125, 3, width=32)),
            )
        )
    ),
    label_smoothing=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
    neighbour_smoothing=st.sampled_from([0.0, 0.1, 0.25, 0.6]),
    ordinal_weight=st.sampled_from([0.0, 0.5, 3.0]),
    from_logits=st.booleans(),
    weighted=st.booleans(),
)
def test_smoothed_loss_matches_the_reference(data, label_smoothing, neighbour_smoothing, ordinal_weight, from_logits,
                                             weighted):
    labels, scores, weights = data
    inputs = np.log(scores) if from_logits else scores / scores.sum(axis=1, keepdims=True)
    loss = MaskedSparseCategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, neighbour_smoothing=neighbour_smoothing,
        ordinal_weight=ordinal_weight,
    )
    value = loss(labels, inputs, sample_weight=weights if weighted else None)
    expected = reference_smoothed_loss(
        labels, inputs, label_smoothing, neighbour_smoothing, from_logits, weights if weighted else None,
        ordinal_weight,
    )
    assert float(value) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_the_ordinal_term_grows_with_the_distance_from_the_true_group():
    """Cross-entropy scores every wrong group alike; the squared EMD term does not."""
    near = np.full((1, 8), 0.02, "float32")
    near[0, 4] = 0.86  # true group 3, mass on its neighbour
    far = np.full((1, 8), 0.02, "float32")
    far[0, 7] = 0.86  # the same mass four groups away
    plain = MaskedSparseCategoricalCrossentropy()
    ordinal = MaskedSparseCategoricalCrossentropy(ordinal_weight=1.0)
    label = np.array([3])
    assert float(plain(label, near)) == pytest.approx(float(plain(label, far)), rel=1e-6)
    near_term = float(ordinal(label, near)) - float(plain(label, near))
    far_term = float(ordinal(label, far)) - float(plain(label, far))
    # cumulative gaps to (0, 0, 0, 1, 1, 1, 1): near (.02, .04, .06, -.92, -.06, -.04, -.02),
    # far (.02, .04, .06, -.92, -.90, -.88, -.86)
    assert near_term == pytest.approx(0.8576, abs=1e-4)
    assert far_term == pytest.approx(3.176, abs=1e-4)
    exact = np.zeros((1, 8), "float32")
    exact[0, 3] = 1.0
    assert float(ordinal.squared_emd(np.asarray(ordinal.smoothed_targets(label, 8)), exact)[0]) == 0.0


def test_the_ordinal_term_keeps_masking_and_the_nan_for_bad_labels():
    probabilities = np.full((3, 8), 1 / 8, "float32")
    loss = MaskedSparseCategoricalCrossentropy(ordinal_weight=2.0)
    assert float(loss(np.array([-1, -1, -1]), probabilities)) == 0.0
    assert np.isnan(float(loss(np.array([0, 8, 1]), probabilities)))


@pytest.mark.parametrize("value", [-0.1, 100.5, True, "1"])
def test_the_ordinal_weight_is_checked(value):
    with pytest.raises(ValueError, match=r"ordinal_weight must be a number in \[0, 100\]"):
        MaskedSparseCategoricalCrossentropy(ordinal_weight=value)


def test_the_ordinal_weight_round_trips_and_older_configs_load():
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True, neighbour_smoothing=0.2, ordinal_weight=1.5)
    rebuilt = keras.losses.deserialize(keras.losses.serialize(loss))
    assert rebuilt.ordinal_weight == 1.5 and rebuilt.get_config() == loss.get_config()
    old = {k: v for k, v in loss.get_config().items() if k != "ordinal_weight"}
    assert MaskedSparseCategoricalCrossentropy.from_config(old).ordinal_weight == 0.0
