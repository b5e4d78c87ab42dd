"""evaluate: the MAE in years of a model's age in years, on faces with an exact age only; in a run's metrics."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from adiencekit.evaluation import evaluate
from adiencekit.labels import expected_age
from adiencekit.models import face_resnet
from test_export_preset import _prepared_root, _train

SIZE = 32


@pytest.fixture(scope="module")
def years_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), age_years=True)


def data(n: int = 6, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")
    labels = {"gender": rng.integers(0, 2, n), "age": rng.integers(0, 8, n),
              "age_years": np.array([3.0, np.nan, 25.0, 40.0, np.nan, 71.0][:n], "float32")}
    return images, labels


def test_mae_in_years_over_the_faces_with_an_exact_age(years_model) -> None:
    images, labels = data()
    result = evaluate(years_model, (images, labels), task="multitask", batch_size=4)
    predicted = years_model.predict_on_batch(images)["age_years"][:, 0]
    known = np.isfinite(labels["age_years"])
    expected = float(np.abs(predicted[known] - labels["age_years"][known]).mean())
    years = result.age_years
    assert years.source == "head" and years.n == 4 and years.missing == 2
    assert years.mae == pytest.approx(expected, abs=1e-3)
    assert result.as_dict()["age_years"] == {"source": "head", "n": 4, "missing": 2, "mae": years.mae}
    assert f"| head | 4 | {years.mae:.2f} |" in result.to_markdown()


def test_flip_tta_scores_the_averaged_age(years_model) -> None:
    images, labels = data()
    result = evaluate(years_model, (images, labels), task="multitask", tta="flip")
    averaged = (years_model.predict_on_batch(images)["age_years"][:, 0]
                + years_model.predict_on_batch(images[:, :, ::-1])["age_years"][:, 0]) / 2
    known = np.isfinite(labels["age_years"])
    assert result.age_years.mae == pytest.approx(float(np.abs(averaged - labels["age_years"])[known].mean()),
                                                 abs=1e-3)


def test_without_exact_ages_nothing_is_reported_not_zero(years_model) -> None:
    images, labels = data()
    adience_like = {**labels, "age_years": np.full(len(images), np.nan, "float32")}
    for given in (adience_like, {"gender": labels["gender"], "age": labels["age"]}):
        result = evaluate(years_model, (images, given), task="multitask")
        assert result.age_years is None and "age_years" not in result.as_dict()
        assert "age in years" not in result.to_markdown()


def test_a_model_without_the_head_is_scored_by_its_groups_expected_age() -> None:
    keras.utils.set_random_seed(1)
    model = face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1))
    images, labels = data()
    result = evaluate(model, (images, labels), task="multitask")
    predicted = expected_age(model.predict_on_batch(images)["age"])
    known = np.isfinite(labels["age_years"])
    assert result.age_years.source == "age groups"
    assert result.age_years.mae == pytest.approx(float(np.abs(predicted - labels["age_years"])[known].mean()),
                                                 abs=1e-3)


def test_a_utkface_run_records_its_mae_in_years_and_a_preset_of_it_predicts_with_the_head(tmp_path, capsys) -> None:
    from adiencekit.cli import main
    from adiencekit.export import export_preset
    from adiencekit.inference import Predictor
    from adiencekit.training import TrainConfig

    root = _prepared_root(tmp_path / "aligned")
    config = TrainConfig(data=f"utkface:{root}", task="multitask", model="face_resnet",
                         model_kwargs={"width": 4, "blocks": [1, 1], "age_years": True}, image_size=40,
                         crop_size=32, batch_size=8, epochs=1, early_stopping_patience=None)
    run = _train(config, tmp_path / "run")
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["age_years"]["source"] == "head" and test["age_years"]["n"] == 8 and test["age_years"]["missing"] == 0
    assert test["age_years"]["mae"] > 0
    assert main(["evaluate", "--run", str(run)]) == 0
    assert f"| head | 8 | {test['age_years']['mae']:.2f} |" in capsys.readouterr().out
    preset = export_preset(run, tmp_path / "preset")
    predictor = Predictor(str(preset), detector=None)
    face = predictor.predict(np.full((40, 40, 3), 128, np.uint8), detect=False).faces[0]
    assert predictor.age_years_source == "head" and face.age_years is not None
