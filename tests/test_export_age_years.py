"""Export of a model with an age in years: an output named age_years in every format, listed in the record."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.export import EXPORT_FORMATS, describe_export, export_model, read_export_record
from adiencekit.models import AgeGenderEnsemble, face_resnet
from test_export import RUNTIMES, TOLERANCE

SIZE = 32


def tiny(seed: int, **kwargs) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), name=f"tiny_{seed}", **kwargs)


@pytest.fixture(scope="module")
def years_model() -> keras.Model:
    return tiny(0, age_years=True)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_every_format_carries_the_age_years_output(fmt, years_model, tmp_path: Path) -> None:
    if fmt == "onnx":
        pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    path = export_model(years_model, tmp_path / f"years_{fmt}", format=fmt)
    x = np.random.default_rng(2).uniform(0, 255, (3, SIZE, SIZE, 3)).astype("float32")
    got = RUNTIMES[fmt](path, x)
    reference = {k: keras.ops.convert_to_numpy(v) for k, v in years_model(x, training=False).items()}
    assert sorted(got) == ["age", "age_years", "gender"]
    assert got["age_years"].shape == (3, 1)
    np.testing.assert_allclose(got["age_years"], reference["age_years"], atol=TOLERANCE * 100)  # years, not p
    for head in ("gender", "age"):
        np.testing.assert_allclose(got[head], reference[head], atol=TOLERANCE)
    record = read_export_record(path)
    assert record["heads"] == ["gender", "age"] and record["outputs"] == ["gender", "age", "age_years"]
    assert record["age_years"]["source"] == "head" and record["age_years"]["output"] == "age_years"
    assert describe_export(path).endswith("outputs 'gender', 'age', 'age_years'")


def test_an_ensemble_with_the_head_exports_its_mean_age(tmp_path: Path) -> None:
    ensemble = AgeGenderEnsemble([tiny(1, age_years=True), tiny(2, age_years=True)])
    path = export_model(ensemble, tmp_path / "ensemble.tflite", format="tflite")
    x = np.random.default_rng(3).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    got = RUNTIMES["tflite"](path, x)
    np.testing.assert_allclose(got["age_years"], ensemble.predict(x, verbose=0)["age_years"], atol=1e-2)


def test_without_the_head_the_record_says_how_to_get_the_age_from_the_groups(tmp_path: Path) -> None:
    model = tiny(3)
    path = export_model(model, tmp_path / "groups", format="saved_model")
    record = read_export_record(path)
    assert record["outputs"] == ["gender", "age"] and record["age_years"]["source"] == "age groups"
    pixels = np.random.default_rng(4).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    age = RUNTIMES["saved_model"](path, pixels.astype("float32"))["age"]
    from adiencekit.inference import Predictor

    faces = [Predictor(model, detector=None).predict(image, detect=False).faces[0] for image in pixels]
    by_record = age @ record["age_years"]["representative_ages"] / age.sum(axis=1)
    np.testing.assert_allclose(by_record, [face.age_years for face in faces], atol=1e-3)
    gender_only = export_model(tiny(4, task="gender"), tmp_path / "gender", format="saved_model")
    assert read_export_record(gender_only)["age_years"] is None
