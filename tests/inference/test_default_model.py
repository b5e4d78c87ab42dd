"""The default model: the bundled preset ``utkface_v2`` behind ``Predictor()``,
``adiencekit predict`` without ``--model`` and the ``adiencekit models`` listing.

A tiny stand-in preset (a 32 px multitask scratch CNN saved with ``save_to_preset``) is
made the bundled one by pointing ``adiencekit.bundled.BUNDLED_DIR`` (read at call time by
the presets module, the loader and the CLI catalogue) at a temporary folder. The last tests use the real bundled preset and skip, saying why,
in a tree that does not have it yet.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit import bundled as bundled_module
from adiencekit.cli import _catalog, main
from adiencekit.crops import CropSpec
from adiencekit.errors import ModelFileError
from adiencekit.inference import Predictor
from adiencekit.labels import CLASS_NAMES as HEAD_CLASSES
from adiencekit.models import DEFAULT_PRESET, list_presets
from adiencekit.models import presets as presets_module

REAL_PRESET = presets_module.BUNDLED_DIR / DEFAULT_PRESET

STAND_IN = {
    "image_size": 40,
    "crop": {"style": "aligned", "margin": 0.2, "size": 40, "shift": -0.1},
    "training_data": {"name": "random pixels", "images": 0},
    "metrics": {"protocol": "none: a test stand-in", "test": {"gender_accuracy": 0.5, "age_exact": 0.125}},
    "license": "CC0-1.0 (test stand-in)",
    "description": "stand-in for the bundled default model",
}


@pytest.fixture(scope="module")
def stand_in_dir(tmp_path_factory) -> Path:
    """A folder of bundled presets holding a tiny stand-in of the default preset."""
    import keras

    from adiencekit.models import scratch_cnn

    keras.utils.set_random_seed(0)
    model = scratch_cnn(task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8)
    root = tmp_path_factory.mktemp("bundled")
    model.save_to_preset(root / DEFAULT_PRESET, **STAND_IN)
    return root


@pytest.fixture()
def bundled(stand_in_dir: Path, monkeypatch) -> Path:
    """Make the stand-in folder the package's bundled presets (library and CLI listing)."""
    monkeypatch.setattr(bundled_module, "BUNDLED_DIR", stand_in_dir)
    return stand_in_dir


@pytest.fixture()
def nothing_bundled(tmp_path: Path, monkeypatch) -> Path:
    empty = tmp_path / "bundled"
    empty.mkdir()
    monkeypatch.setattr(bundled_module, "BUNDLED_DIR", empty)
    return empty


@pytest.fixture()
def offline(monkeypatch):
    """Any network connection attempt fails the test."""

    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"the default model must load offline; a connection to {address!r} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a[0] if a else None))


@pytest.fixture()
def crop_file(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    pixels = np.random.default_rng(1).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


# ----------------------------------------------------------------------------- the constant
def test_the_presets_module_and_the_cli_catalogue_name_the_bundled_module_s_default() -> None:
    assert _catalog.DEFAULT_PRESET == DEFAULT_PRESET == bundled_module.DEFAULT_PRESET == "utkface_v2"
    assert presets_module.BUNDLED_DIR == bundled_module.BUNDLED_DIR


# ----------------------------------------------------------------------------- stand-in bundled
def test_predictor_without_a_model_uses_the_bundled_preset(bundled: Path, offline) -> None:
    assert DEFAULT_PRESET in list_presets()
    predictor = Predictor(detector=None)
    assert predictor.source == DEFAULT_PRESET
    assert sorted(predictor.heads) == ["age", "gender"]
    assert predictor.crop == CropSpec(style="aligned", margin=0.2, size=40, shift=-0.1)
    assert predictor.image_size == 40 and predictor.input_size == 32
    assert predictor.model.preset_metadata["license"] == STAND_IN["license"]
    face = predictor.predict(np.full((60, 50, 3), 90, np.uint8), detect=False).faces[0]
    assert face.gender.label in HEAD_CLASSES["gender"] and face.age.label in HEAD_CLASSES["age"]
    assert sum(face.age.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_predict_command_without_model_uses_the_bundled_preset(bundled: Path, offline, crop_file: Path,
                                                               capsys) -> None:
    code = main(["predict", str(crop_file), "--no-detect", "--json", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model"] == DEFAULT_PRESET
    assert payload["crop"] == {"style": "aligned", "margin": 0.2, "size": 40, "shift": -0.1}
    [face] = payload["images"][0]["faces"]
    assert face["gender"] in HEAD_CLASSES["gender"] and face["age_group"] in HEAD_CLASSES["age"]
    assert "1 image: 1 face," in err and "1 images" not in err


def test_model_option_still_wins_over_the_default(bundled: Path, crop_file: Path, tmp_path: Path, capsys) -> None:
    import keras

    from adiencekit.models import scratch_cnn

    keras.utils.set_random_seed(1)
    other = scratch_cnn(task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8)
    folder = other.save_to_preset(tmp_path / "gender_only")
    code = main(["predict", str(crop_file), "--no-detect", "--json", "-", "--model", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model"] == str(folder)
    [face] = payload["images"][0]["faces"]
    assert "gender" in face and "age_group" not in face


def test_models_lists_the_bundled_presets_without_keras_figures_from_preset_json(bundled: Path, capsys) -> None:
    (bundled / "broken").mkdir(exist_ok=True)
    (bundled / "broken" / "preset.json").write_text("{not json", encoding="utf-8")
    try:
        code = main(["models"])
    finally:
        (bundled / "broken" / "preset.json").unlink()
        (bundled / "broken").rmdir()
    out = capsys.readouterr().out
    assert code == 0
    models_at, presets_at, recipes_at = out.index("Models:"), out.index("Bundled presets"), out.index("Recipes")
    assert models_at < presets_at < recipes_at
    section = out[presets_at:recipes_at]
    assert f"(adiencekit predict --model NAME; without --model: {DEFAULT_PRESET}):" in section
    assert f"{DEFAULT_PRESET} (default)" in section
    assert "multitask, input 32x32x3, crop aligned (margin 0.2)" in section
    assert "licence: CC0-1.0 (test stand-in)" in section
    assert "test: gender_accuracy 0.500, age_exact 0.125 [none: a test stand-in]" in section
    assert "broken" in section and "unreadable preset.json" in section


def test_listing_without_the_default_and_with_long_metrics(tmp_path: Path) -> None:
    folder = tmp_path / "bundled" / "other"
    folder.mkdir(parents=True)
    licence = "non-commercial research use only: trained on UTKFace, which is released for non-commercial research"
    document = {"task": "gender", "input_shape": [48, 48, 3], "crop": {"style": "box", "margin": 0.1, "size": 48},
                "class_name": "AgeGenderEnsemble", "config": {"members": [{}, {}, {}]}, "license": licence, "metrics": {"protocol": "p", "test": {f"m{i}": i / 10 for i in range(9)}}}
    (folder / "preset.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "bundled" / "not_a_preset").mkdir()  # no preset.json: not listed
    lines = _catalog.format_bundled_presets(tmp_path / "bundled")
    assert lines[0] == f"Bundled presets (adiencekit predict --model NAME; the default, {DEFAULT_PRESET}, is missing: " \
                       "predict needs --model):"
    assert len(lines) == 5 and lines[1].split() == ["other", "gender,", "input", "48x48x3,", "crop", "box", "(margin", "0.1),",
                                                    "ensemble", "of", "3", "networks"]
    # The whole licence, wrapped between words (never cut mid-word, never "...").
    assert " ".join(line.strip() for line in lines[2:4]) == "licence: " + licence
    assert lines[2].strip().endswith("released") and lines[3].strip() == "for non-commercial research"
    assert lines[4].strip() == "test: m0 0.000, m1 0.100, m2 0.200, m3 0.300, m4 0.400, m5 0.500, ... (3 more in preset.json) [p]"
    (folder / "model.onnx").write_bytes(b"")  # a preset with its ONNX copy says so
    assert _catalog.format_bundled_presets(tmp_path / "bundled")[1].endswith(
        "ensemble of 3 networks, ONNX copy (predict runs it in ONNX Runtime)")
    (folder / "model.int8.onnx").write_bytes(b"")  # and its int8 copy, and a card asking for the mirror
    (folder / "preset.json").write_text(json.dumps({**document, "inference": {"tta": "flip"}}), encoding="utf-8")
    assert _catalog.format_bundled_presets(tmp_path / "bundled")[1].endswith(
        "ONNX copies float32 and int8 (predict runs the int8 one in ONNX Runtime), each face with its mirror (flip TTA)")


# ----------------------------------------------------------------------------- not bundled
def test_predictor_without_a_bundled_preset_is_one_clear_error(nothing_bundled: Path) -> None:
    assert DEFAULT_PRESET not in list_presets()
    with pytest.raises(ModelFileError, match=r"pass --model \(Python: Predictor\(model=\.\.\.\)\)") as caught:
        Predictor(detector=None)
    message = str(caught.value)
    assert "\n" not in message and DEFAULT_PRESET in message and str(nothing_bundled) in message


def test_predict_command_without_a_bundled_preset_exits_2_with_one_line(nothing_bundled: Path, crop_file: Path,
                                                                         capsys) -> None:
    code = main(["predict", str(crop_file), "--no-detect"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("adiencekit: error: no model given"), err
    assert "--model" in err and "Traceback" not in err


def test_models_says_when_nothing_is_bundled(nothing_bundled: Path, capsys) -> None:
    assert main(["models"]) == 0
    assert "Bundled presets: none in this installation (adiencekit predict needs --model)" in capsys.readouterr().out


def test_a_registered_preset_of_the_same_name_is_not_the_default(nothing_bundled: Path, stand_in_dir: Path,
                                                                 monkeypatch) -> None:
    """The default comes from the package folder only (a registered name may be a URL)."""
    monkeypatch.setattr(presets_module, "_REGISTERED", {})
    presets_module.register_preset(DEFAULT_PRESET, "https://example.invalid/p.tar.gz", sha256="0" * 64)
    with pytest.raises(ModelFileError, match="is not in this installation"):
        Predictor(detector=None)


# ----------------------------------------------------------------------------- the real preset
@pytest.fixture(scope="module")
def real_preset() -> Path:
    if not (REAL_PRESET / "preset.json").is_file():
        pytest.skip(f"the real bundled preset is not in this tree ({REAL_PRESET / 'preset.json'} is missing; "
                    f"it is added with the trained weights of issue 12)")
    return REAL_PRESET


def test_the_real_bundled_preset_describes_itself(real_preset: Path) -> None:
    document = json.loads((real_preset / "preset.json").read_text(encoding="utf-8"))
    assert (real_preset / document.get("weights", "model.weights.h5")).is_file()
    assert document["task"] == "multitask"
    assert document["class_names"] == {head: list(names) for head, names in HEAD_CLASSES.items()}
    assert document["metrics"]["protocol"].strip() and len(document["metrics"]) > 1
    assert re.search(r"non[- ]?commercial", document["license"] or "", re.IGNORECASE), document["license"]
    assert document["crop"]["style"] in ("aligned", "box", "center") and document["crop"]["size"] >= 8
    assert isinstance(document.get("training_data"), (dict, str)) and document["training_data"]
    assert sum(p.stat().st_size for p in real_preset.iterdir()) < 15 * 2**20  # the wheel stays small


@pytest.mark.realdata
def test_the_real_bundled_preset_labels_the_adience_crops_offline(real_preset: Path, adience_files, offline,
                                                                  capsys) -> None:
    folder = adience_files[0].parents[1]  # faces/<user>/<file>: the whole faces/ folder
    code = main(["predict", str(folder), "--json", "-", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model"] == DEFAULT_PRESET
    # the default model's age_years output blends its head with its age groups (weight chosen on validation)
    assert payload["age_years_source"] == "head and age groups"
    assert payload["summary"]["images"] == 19 and payload["summary"]["unreadable"] == 0
    missed = [Path(image["path"]).name for image in payload["images"] if not image["faces"]]
    assert not missed, f"no face found in {len(missed)} of 19 Adience crops: {missed}"
    faces = [face for image in payload["images"] for face in image["faces"]]
    for face in faces:
        assert face["gender"] in HEAD_CLASSES["gender"] and face["age_group"] in HEAD_CLASSES["age"]
        assert 0.5 <= face["gender_probability"] <= 1.0
        assert sum(face["age_probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert isinstance(face["age_years"], float) and 0.0 <= face["age_years"] <= 110.0
