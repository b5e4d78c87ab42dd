"""The age_years output that blends the regression head with the expected age of the age groups."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.labels import GROUP_REPRESENTATIVE_AGES, expected_age
from adiencekit.layers.age_years_blend import AgeYearsBlend
from adiencekit.models import AgeGenderClassifier, face_resnet
from adiencekit.models.heads import age_in_years, age_years_head_weight, age_years_source
from adiencekit.models.presets import load_preset, save_preset

SIZE = 32


def tiny(seed: int, **kwargs) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), dropout=0.0, name=f"blend_{seed}",
                       age_years=True, **kwargs)


def images(n: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def test_the_layer_blends_at_inference_and_passes_the_head_in_training() -> None:
    rng = np.random.default_rng(1)
    groups = rng.dirichlet(np.ones(8), size=6).astype("float32")
    head = rng.uniform(0, 90, (6, 1)).astype("float32")
    for weight in (0.0, 0.3, 1.0):
        got = keras.ops.convert_to_numpy(AgeYearsBlend(weight)([groups, head]))
        want = weight * head[:, 0] + (1 - weight) * (groups @ np.array(GROUP_REPRESENTATIVE_AGES)) / groups.sum(1)
        np.testing.assert_allclose(got[:, 0], want, rtol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(AgeYearsBlend(0.3)([groups, head], training=True)), head)
    # logits are made probabilities first
    logits = np.log(groups)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(AgeYearsBlend(0.0, from_logits=True)([logits, head])),
                               keras.ops.convert_to_numpy(AgeYearsBlend(0.0)([groups, head])), rtol=1e-5)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, True, "0.5", None])
def test_a_weight_outside_0_to_1_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="age_years_head_weight"):
        AgeYearsBlend(bad)
    with pytest.raises(ValueError, match="age_years_head_weight"):
        tiny(0, age_years_head_weight=bad)


def test_a_weight_needs_the_head() -> None:
    with pytest.raises(ValueError, match="needs age_years=True"):
        face_resnet(input_shape=(SIZE, SIZE, 3), width=8, blocks=(1, 1), age_years_head_weight=0.5)


def test_the_model_output_is_the_blend_of_the_same_networks_head_and_groups() -> None:
    plain, blended = tiny(3), tiny(3, age_years_head_weight=0.3)
    blended.set_weights(plain.get_weights())  # the blend adds no weights
    assert len(plain.weights) == len(blended.weights)
    x = images()
    p, b = plain.predict_on_batch(x), blended.predict_on_batch(x)
    np.testing.assert_allclose(b["age"], p["age"], rtol=1e-6)
    want = 0.3 * p["age_years"][:, 0] + 0.7 * expected_age(p["age"])
    np.testing.assert_allclose(b["age_years"][:, 0], want, rtol=1e-4)
    years, source = age_in_years(blended, b)
    assert source == "head and age groups" == age_years_source(blended)
    np.testing.assert_allclose(years, b["age_years"][:, 0])
    assert age_years_head_weight(blended) == 0.3 and age_years_head_weight(plain) == 1.0
    assert age_years_source(plain) == "head"
    # in training the output is the head itself: the age_years loss trains the head alone
    head = keras.Model(blended.input, [blended.get_layer("age_years_head").output, blended.output["age_years"]])
    raw, out = (keras.ops.convert_to_numpy(t) for t in head(x, training=True))
    np.testing.assert_array_equal(raw, out)


def test_the_weight_survives_keras_files_presets_and_exports(tmp_path: Path) -> None:
    model = tiny(4, age_years_head_weight=0.4)
    x = images(3, seed=1)
    reference = model.predict_on_batch(x)["age_years"]
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert age_years_head_weight(again) == 0.4
    np.testing.assert_allclose(again.predict_on_batch(x)["age_years"], reference, rtol=1e-5)

    save_preset(model, tmp_path / "preset")
    assert json.loads((tmp_path / "preset" / "preset.json").read_text())["config"]["age_years_head_weight"] == 0.4
    loaded = load_preset(tmp_path / "preset")
    assert isinstance(loaded, AgeGenderClassifier) and loaded.age_years_head_weight == 0.4
    np.testing.assert_allclose(loaded.predict_on_batch(x)["age_years"], reference, rtol=1e-5)



def test_the_export_record_gives_the_weight(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="TFLite export needs TensorFlow")
    from adiencekit.export import age_years_record, export_model, read_export_record

    model = tiny(6, age_years_head_weight=0.4)
    record = age_years_record(model)
    assert record["source"] == "head and age groups" and record["head_weight"] == 0.4
    assert record["output"] == "age_years"
    path = export_model(model, tmp_path / "m.tflite", format="tflite")
    assert read_export_record(path)["age_years"]["head_weight"] == 0.4
    x = images(2, seed=3)
    from test_export import RUNTIMES  # noqa: PLC0415  (tests/test_export.py: the runtimes per format)

    np.testing.assert_allclose(RUNTIMES["tflite"](path, x)["age_years"], model.predict_on_batch(x)["age_years"],
                               atol=1e-3)


def test_a_model_without_a_blend_keeps_its_old_config() -> None:
    assert "age_years_head_weight" not in tiny(5).get_config()
