"""An age in years from any model: its ``age_years`` output, else its age groups; ensembles average it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.errors import ConfigError
from adiencekit.labels import expected_age
from adiencekit.models import AgeGenderEnsemble, TaskModel, face_resnet
from adiencekit.models.heads import age_in_years, age_years_source, as_probabilities

SIZE = 32


def tiny(seed: int, **kwargs) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), name=f"tiny_{seed}", **kwargs)


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def test_the_head_gives_the_age_when_the_model_has_it() -> None:
    model = tiny(0, age_years=True)
    outputs = model.predict_on_batch(images())
    years, source = age_in_years(model, outputs)
    assert source == "head" == age_years_source(model)
    np.testing.assert_allclose(years, outputs["age_years"][:, 0], rtol=1e-6)
    # the same outputs as a list in output order are read by name, not by position
    listed = [outputs[name] for name in model.output]
    np.testing.assert_allclose(age_in_years(model, listed)[0], years)
    with pytest.raises(ConfigError, match="age_years"):
        age_in_years(model, {"gender": outputs["gender"], "age": outputs["age"]})


def test_without_the_head_the_age_groups_give_it() -> None:
    model = tiny(1)
    outputs = model.predict_on_batch(images())
    years, source = age_in_years(model, outputs)
    assert source == "age groups"
    np.testing.assert_allclose(years, expected_age(outputs["age"]), rtol=1e-6)


def test_logits_are_made_probabilities_first() -> None:
    model = tiny(2, classifier_activation=None)
    outputs = model.predict_on_batch(images())
    years, _ = age_in_years(model, outputs)
    np.testing.assert_allclose(years, expected_age(as_probabilities(outputs["age"])), rtol=1e-6)


def test_a_model_without_an_age_head_has_no_age() -> None:
    model = tiny(3, task="gender")
    assert age_years_source(model) is None
    assert age_in_years(model, model.predict_on_batch(images())) is None


def test_an_ensemble_of_members_with_the_head_averages_their_ages(tmp_path) -> None:
    members = [tiny(4, age_years=True), tiny(5, age_years=True)]
    ensemble = AgeGenderEnsemble(members)
    assert ensemble.age_years and set(ensemble.output) == {"gender", "age", "age_years"}
    assert ensemble.heads == ("gender", "age") and age_years_source(ensemble) == "head"
    x = images(seed=1)
    out = ensemble.predict(x, verbose=0)
    mean = np.mean([m.predict(x, verbose=0)["age_years"] for m in members], axis=0)
    np.testing.assert_allclose(out["age_years"], mean, rtol=1e-5)
    tta = ensemble.predict(x, tta="flip", verbose=0)
    mirrored = ensemble.predict(x[:, :, ::-1], verbose=0)
    np.testing.assert_allclose(tta["age_years"], (out["age_years"] + mirrored["age_years"]) / 2, rtol=1e-5)
    from_file_path = tmp_path / "ensemble.keras"
    ensemble.save(from_file_path)
    folder = ensemble.save_to_preset(tmp_path / "preset", image_size=36, metrics={"protocol": "none: a fixture"})
    for loaded in (keras.saving.load_model(from_file_path, compile=False), TaskModel.from_preset(folder)):
        assert isinstance(loaded, AgeGenderEnsemble) and loaded.age_years
        np.testing.assert_allclose(loaded.predict(x, verbose=0)["age_years"], out["age_years"], rtol=1e-5)


def test_an_ensemble_with_a_member_without_the_head_has_none() -> None:
    ensemble = AgeGenderEnsemble([tiny(6, age_years=True), tiny(7)])
    assert not ensemble.age_years and set(ensemble.output) == {"gender", "age"}
    assert age_years_source(ensemble) == "age groups"


def test_an_age_head_with_other_classes_than_the_groups_has_no_age() -> None:
    model = tiny(8, task="age", classes=3)
    assert age_years_source(model) is None and age_in_years(model, model.predict_on_batch(images())) is None
