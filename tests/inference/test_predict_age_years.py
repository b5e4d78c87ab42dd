"""Each labelled face carries an age in years: the model's age_years output, else its age groups' expected age."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from adiencekit.cli.predict import add_predict_parser, format_table, run_predict
from adiencekit.inference import Predictor
from adiencekit.inference.annotate import face_caption
from adiencekit.labels import expected_age
from adiencekit.models import face_resnet

SIZE = 32


@pytest.fixture(scope="module")
def years_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), age_years=True)


@pytest.fixture(scope="module")
def blend_model() -> keras.Model:
    keras.utils.set_random_seed(2)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), age_years=True, age_years_head_weight=0.3)


@pytest.fixture(scope="module")
def groups_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1))


def crops(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def test_faces_get_the_heads_age_in_years(years_model) -> None:
    predictor = Predictor(years_model, detector=None, batch_size=2)
    assert predictor.age_years_source == "head"
    pixels = crops()
    out = predictor.predict_crops(pixels)
    expected = years_model.predict_on_batch(pixels.astype("float32"))["age_years"][:, 0]
    np.testing.assert_allclose(out["age_years"], expected, rtol=1e-5)
    assert out["age"].shape == (3, 8) and out["gender"].shape == (3, 2)
    results = predictor.predict(list(pixels), detect=False)
    for result, years in zip(results, expected, strict=True):
        face = result.faces[0]
        assert face.age_years == pytest.approx(float(years), rel=1e-5)
        assert face.to_dict()["age_years"] == round(float(years), 1)
        assert face_caption(face).endswith(f" · {float(years):.0f} y")
    assert format_table(results).splitlines()[1].split()[-1] == f"{float(expected[0]):.1f}"


def test_without_the_head_faces_get_the_expected_age_of_their_groups(groups_model) -> None:
    predictor = Predictor(groups_model, detector=None)
    assert predictor.age_years_source == "age groups"
    face = predictor.predict(crops(1)[0], detect=False).faces[0]
    assert face.age_years == pytest.approx(expected_age(face.age.probabilities), rel=1e-5)


def test_a_gender_only_model_gives_no_age_in_years() -> None:
    model = face_resnet(task="gender", input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1))
    predictor = Predictor(model, detector=None)
    face = predictor.predict(crops(1)[0], detect=False).faces[0]
    assert predictor.age_years_source is None and face.age_years is None
    assert "age_years" not in face.to_dict() and "age_years" not in predictor.predict_crops(crops(2))
    assert format_table([predictor.predict(crops(1)[0], detect=False)]).splitlines()[1].split()[-1] == "-"


def test_tta_averages_the_age_in_years_with_the_mirror(years_model) -> None:
    pixels = crops(seed=3)
    plain = Predictor(years_model, detector=None).predict_crops(pixels)
    mirrored = Predictor(years_model, detector=None).predict_crops(pixels[:, :, ::-1])
    tta = Predictor(years_model, detector=None, tta=True).predict_crops(pixels)
    np.testing.assert_allclose(tta["age_years"], (plain["age_years"] + mirrored["age_years"]) / 2, rtol=1e-5)
    assert not np.allclose(plain["age_years"], mirrored["age_years"])  # the mirror changes it: the test can fail


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="adiencekit")
    add_predict_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(("fixture", "source"), [("years_model", "head"), ("blend_model", "head and age groups"),
                                                 ("groups_model", "age groups")])
def test_cli_json_and_table_show_the_age_in_years_and_say_its_source(fixture, source, request, tmp_path,
                                                                     capsys) -> None:
    model = request.getfixturevalue(fixture)
    model_file = tmp_path / "model.keras"
    model.save(model_file)
    photo = tmp_path / "face.png"
    Image.fromarray(crops(1, seed=5)[0]).save(photo)
    assert run_predict(_parse(["predict", str(photo), "--model", str(model_file), "--no-detect", "--json", "-"])) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    face = payload["images"][0]["faces"][0]
    assert payload["age_years_source"] == source
    direct = Predictor(model, detector=None).predict(np.asarray(Image.open(photo)), detect=False).faces[0]
    assert face["age_years"] == round(direct.age_years, 1)
    assert ("age_years output" in err) == (source != "age groups")
    assert ("blends its regression head" in err) == (source == "head and age groups")
    assert ("age-group probabilities" in err) == (source == "age groups")
    assert run_predict(_parse(["predict", str(photo), "--model", str(model_file), "--no-detect", "--quiet"])) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].endswith("age (years)") and table[1].split()[-1] == f"{face['age_years']:.1f}"
