"""AgeGenderEnsemble: the mean of its members' probabilities, saved and loaded like one model."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from adiencekit.errors import ModelFileError
from adiencekit.models import AgeGenderClassifier, AgeGenderEnsemble, TaskModel, scratch_cnn
from adiencekit.models import presets as presets_module

SIZE = 32


def images(n: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def member(seed: int, task: str = "multitask", **kwargs) -> AgeGenderClassifier:
    keras.utils.set_random_seed(seed)
    settings = {"input_shape": (SIZE, SIZE, 3), "conv_layers": 2, "base_filters": 4, "dense_units": 8,
                "pooling": "avg", "name": f"member_{seed}", **kwargs}
    return scratch_cnn(task=task, **settings)


@pytest.fixture(scope="module")
def members() -> list[AgeGenderClassifier]:
    return [member(0), member(1), member(2)]


@pytest.fixture(scope="module")
def ensemble(members) -> AgeGenderEnsemble:
    return AgeGenderEnsemble(members)


def test_outputs_are_the_mean_of_the_members_probabilities(members, ensemble) -> None:
    x = images()
    out = ensemble.predict(x, verbose=0)
    parts = [m.predict(x, verbose=0) for m in members]
    for head, classes in (("gender", 2), ("age", 8)):
        assert out[head].shape == (5, classes)
        np.testing.assert_allclose(out[head], np.mean([p[head] for p in parts], axis=0), atol=1e-6)
        np.testing.assert_allclose(out[head].sum(axis=1), 1.0, atol=1e-5)
    assert ensemble.heads == ("gender", "age") and ensemble.class_names == members[0].class_names
    assert ensemble.image_shape == (SIZE, SIZE, 3) and ensemble.task == "multitask"
    assert ensemble.count_params() == sum(m.count_params() for m in members)


def test_single_task_members_give_a_single_named_output() -> None:
    pair = AgeGenderEnsemble([member(0, task="age"), member(1, task="age")])
    assert pair.output_names == ["age"] and pair.predict(images(), verbose=0).shape == (5, 8)


def test_flip_tta_averages_the_ensemble_over_mirrored_images(ensemble) -> None:
    x = images()
    tta = ensemble.predict(x, tta="flip", verbose=0)
    mirrored = ensemble.predict(x[:, :, ::-1], verbose=0)
    plain = ensemble.predict(x, verbose=0)
    np.testing.assert_allclose(tta["age"], (plain["age"] + mirrored["age"]) / 2, atol=1e-5)


@pytest.mark.parametrize(
    ("others", "error", "match"),
    [
        (lambda: [member(0)], ValueError, "at least two members"),
        (lambda: [member(0), member(1, task="age")], ValueError, "task"),
        (lambda: [member(0), member(1, input_shape=(40, 40, 3))], ValueError, "input shape"),
        (lambda: [member(0), member(0)], ValueError, "distinct names"),
        (lambda: [member(0), member(1, classifier_activation=None)], ValueError, "softmax"),
        (lambda: [member(0), keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten()])],
         TypeError, "AgeGenderClassifier"),
    ],
)
def test_members_that_do_not_fit_together_are_refused(others, error, match) -> None:
    with pytest.raises(error, match=match):
        AgeGenderEnsemble(others())


def test_keras_file_and_preset_round_trips(ensemble, tmp_path) -> None:
    x = images(seed=4)
    expected = ensemble.predict(x, verbose=0)
    ensemble.save(tmp_path / "ensemble.keras")
    from_file = keras.saving.load_model(tmp_path / "ensemble.keras", compile=False)
    assert isinstance(from_file, AgeGenderEnsemble) and len(from_file.members) == 3
    folder = ensemble.save_to_preset(tmp_path / "preset", image_size=36, license="CC0-1.0",
                                     metrics={"protocol": "none: a test fixture"})
    document = json.loads((folder / "preset.json").read_text())
    assert document["class_name"] == "AgeGenderEnsemble" and document["format_version"] == 2
    assert sorted(p.name for p in folder.iterdir()) == ["model.weights.h5", "preset.json"]
    from_preset = AgeGenderEnsemble.from_preset(folder)
    assert isinstance(from_preset, AgeGenderEnsemble) and from_preset.preset_metadata["license"] == "CC0-1.0"
    assert isinstance(TaskModel.from_preset(folder), AgeGenderEnsemble)  # the common base loads any preset
    with pytest.raises(ModelFileError, match="holds an AgeGenderEnsemble, not an AgeGenderClassifier"):
        AgeGenderClassifier.from_preset(folder)  # from_preset returns the class it is called on
    for loaded in (from_file, from_preset):
        out = loaded.predict(x, verbose=0)
        for head in expected:
            np.testing.assert_allclose(out[head], expected[head], atol=1e-6)


def test_an_older_reader_is_told_to_upgrade_and_unknown_classes_are_refused(ensemble, tmp_path, monkeypatch) -> None:
    folder = ensemble.save_to_preset(tmp_path / "preset", image_size=36, metrics={"protocol": "none"})
    monkeypatch.setattr(presets_module, "FORMAT_VERSION", 1)  # what adiencekit 0.1 reads
    with pytest.raises(ModelFileError, match="upgrade adiencekit"):
        TaskModel.from_preset(folder)
    monkeypatch.undo()
    document = json.loads((folder / "preset.json").read_text())
    document["class_name"] = "SomethingElse"
    (folder / "preset.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="SomethingElse"):
        TaskModel.from_preset(folder)
    with pytest.raises(TypeError, match="AgeGenderClassifier or AgeGenderEnsemble"):
        presets_module.save_preset(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), tmp_path / "x")
