"""Tests for adiencekit.evaluation."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from adiencekit.evaluation import evaluate, score_predictions


def _one_hot_model(classes: int, name: str) -> keras.Model:
    """A model that predicts argmax of its input vector (identity softmax layer)."""
    inputs = keras.Input((classes,))
    layer = keras.layers.Dense(classes, activation="softmax", name=name)
    outputs = layer(inputs)
    model = keras.Model(inputs, outputs)
    layer.set_weights([np.eye(classes, dtype="float32") * 50, np.zeros(classes, "float32")])
    return model


def test_score_predictions_counts_exact_one_off_per_class_and_confusion() -> None:
    labels = np.array([0, 1, 2, 3, 4, -1, 7])
    predicted = np.array([0, 2, 2, 5, 4, 1, 0])
    result = score_predictions("age", labels, np.eye(8)[predicted])
    assert (result.n, result.missing) == (6, 1)
    assert result.exact == pytest.approx(3 / 6)
    assert result.one_off == pytest.approx(4 / 6)  # 0, 1->2, 2, 4 within one group
    assert result.per_class["0-2"] == 1.0 and result.per_class["4-6"] == 0.0 and result.per_class["38-43"] is None
    assert result.confusion[1][2] == 1 and sum(map(sum, result.confusion)) == 6
    gender = score_predictions("gender", np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    assert gender.one_off is None and gender.exact == 0.5 and gender.confusion == [[1, 0], [1, 0]]


def test_score_predictions_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"labels must be -1 or 0..1, found \[2\]"):
        score_predictions("gender", np.array([2]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="the model gives 3 classes, expected 2"):
        score_predictions("gender", np.array([1]), np.ones((1, 3)))
    with pytest.raises(ValueError, match="head must be 'gender' or 'age'"):
        score_predictions("race", np.array([1]), np.ones((1, 2)))


def test_evaluate_single_task_from_numpy_and_serialise(tmp_path) -> None:
    model = _one_hot_model(8, "age")
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 7])
    predicted = np.array([0, 1, 3, 3, 4, 5, 6, 6, 0])
    result = evaluate(model, (np.eye(8, dtype="float32")[predicted], labels), "age", batch_size=4)
    assert result.n == 9 and result.images == 9
    assert result.exact == pytest.approx(6 / 9) and result.one_off == pytest.approx(8 / 9)
    written = json.loads(result.to_json(tmp_path / "eval.json"))
    assert json.loads((tmp_path / "eval.json").read_text()) == written
    assert written["heads"]["age"]["confusion"][2][3] == 1
    markdown = result.to_markdown()
    assert "| age | 9 | 0.667 | 0.889 |" in markdown and "| 38-43 | 1.000 |" in markdown


def test_evaluate_multitask_masks_missing_labels_per_head() -> None:
    inputs = keras.Input((8,))
    gender = keras.layers.Dense(2, activation="softmax", name="gender")
    age = keras.layers.Dense(8, activation="softmax", name="age")
    model = keras.Model(inputs, {"gender": gender(inputs[:, :2]), "age": age(inputs)})
    gender.set_weights([np.eye(2, dtype="float32") * 50, np.zeros(2, "float32")])
    age.set_weights([np.eye(8, dtype="float32") * 50, np.zeros(8, "float32")])
    x = np.eye(8, dtype="float32")[[0, 1, 1, 4]]
    labels = {"gender": np.array([0, 1, -1, 0]), "age": np.array([-1, 1, 2, 4])}
    result = evaluate(model, (x, labels), "multitask")
    assert result.heads["gender"].n == 3 and result.heads["gender"].missing == 1
    assert result.heads["age"].n == 3 and result.heads["age"].exact == pytest.approx(2 / 3)
    assert result.heads["age"].one_off == 1.0
    with pytest.raises(AttributeError, match="use result.heads"):
        _ = result.exact
    with pytest.raises(ValueError, match="dict with 'gender' and 'age'"):
        evaluate(model, (x, np.zeros(4)), "multitask")


def test_evaluate_tta_averages_the_ten_crops() -> None:
    from adiencekit.layers import ten_crop

    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="gender")(pooled))
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (3, 12, 12, 3)).astype("float32")
    labels = np.array([0, 1, 1])
    result = evaluate(model, (images, labels), "gender", tta=True)
    assert result.tta and result.n == 3
    crops = np.asarray(ten_crop(images, 8, flatten=True))
    expected = model.predict_on_batch(crops).reshape(3, 10, 2).mean(1)
    assert result.exact == pytest.approx(float((expected.argmax(1) == labels).mean()))
    with pytest.raises(ValueError, match=r"at least \(8, 8\) px"):
        evaluate(model, (images[:, :6, :6], labels), "gender", tta=True)


def test_evaluate_rejects_empty_data_and_bad_task() -> None:
    model = _one_hot_model(2, "gender")
    with pytest.raises(ValueError, match="the dataset is empty"):
        evaluate(model, [], "gender")
    with pytest.raises(ValueError, match="task must be one of"):
        evaluate(model, [], "race")


def test_evaluate_rejects_nan_and_inf_pixels_naming_how_many() -> None:
    from adiencekit.errors import DataError

    model = _one_hot_model(2, "gender")
    images = np.random.default_rng(2).uniform(0, 1, (6, 2)).astype("float32")
    images[1, 0] = np.nan
    images[4, :] = np.inf
    with pytest.raises(DataError, match=r"2 image\(s\) in the batch starting at image 0 hold 3 NaN or infinite"):
        evaluate(model, (images, np.zeros(6, "int64")), "gender")


def test_a_head_without_labels_is_a_data_error_not_nan() -> None:
    from adiencekit.errors import DataError

    with pytest.raises(DataError, match="age: no image has a age label \\(all 3 are missing"):
        score_predictions("age", np.array([-1, -1, -1]), np.eye(8)[[0, 1, 2]])


def test_evaluate_verbose_shows_progress(capsys) -> None:
    model = _one_hot_model(2, "gender")
    images = np.random.default_rng(3).uniform(0, 1, (5, 2)).astype("float32")
    evaluate(model, (images, np.array([0, 1, 0, 1, 0])), "gender", batch_size=2, verbose=True)
    assert "3/3" in capsys.readouterr().out
    evaluate(model, (images, np.array([0, 1, 0, 1, 0])), "gender", batch_size=2)
    assert capsys.readouterr().out == ""


def test_evaluate_flip_tta_is_the_task_models_predict_tta() -> None:
    """One TTA implementation: evaluate(tta="flip") scores exactly model.predict_tta(mode="flip")."""
    from adiencekit.models import scratch_cnn

    keras.utils.set_random_seed(4)
    model = scratch_cnn(input_shape=(16, 16, 3), conv_layers=2, base_filters=4, dense_units=8)
    images = np.random.default_rng(4).uniform(0, 255, (7, 16, 16, 3)).astype("float32")
    labels = np.array([0, 1, 1, 0, 1, 0, 0])
    result = evaluate(model, (images, labels), "gender", tta="flip", batch_size=4)
    expected = model.predict_tta(images, mode="flip", verbose=0)
    assert result.tta == "flip"
    assert result.exact == pytest.approx(float((expected.argmax(1) == labels).mean()))
    mirrored = model.predict(images[:, :, ::-1], verbose=0)
    np.testing.assert_allclose(expected, (model.predict(images, verbose=0) + mirrored) / 2, atol=1e-5)
