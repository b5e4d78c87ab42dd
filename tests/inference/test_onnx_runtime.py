"""The photo path in ONNX Runtime: the bundled model's ONNX copy, ``.onnx`` files, runtimes, no Keras import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adiencekit import bundled
from adiencekit.cli import main
from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.export_record import PRESET_WEIGHTS_KEY
from adiencekit.fileio import file_sha256
from adiencekit.inference import Predictor
from adiencekit.inference.loading import load_model_source, preset_onnx_model

ort = pytest.importorskip("onnxruntime", reason="the ONNX Runtime path needs onnxruntime")
ROOT = Path(__file__).resolve().parents[2]
BUNDLED = bundled.default_preset_dir()

needs_bundled = pytest.mark.skipif(not (BUNDLED / bundled.ONNX_FILE).is_file(),
                                   reason="this tree has no bundled default model with its ONNX copy")


@needs_bundled
def test_the_bundled_onnx_copy_was_made_from_the_bundled_weights() -> None:
    network, reason = preset_onnx_model(BUNDLED)
    assert network is not None, reason
    assert network.record[PRESET_WEIGHTS_KEY] == file_sha256(BUNDLED / bundled.WEIGHTS_FILE)
    assert network.heads == ["gender", "age"] and network.age_years_source == "head and age groups"


@needs_bundled
@pytest.mark.parametrize("tta", [False, True])
def test_the_onnx_default_labels_real_faces_as_the_keras_model_does(adience_files, tta: bool) -> None:
    fast = Predictor(tta=tta, precision="float32")  # the float copy: the int8 one has its own test (test_int8_copy)
    keras_side = Predictor(runtime="keras", detector=fast.detector, tta=tta)  # the same faces on both sides
    assert (fast.runtime, keras_side.runtime) == ("onnx", "keras")
    assert fast.crop == keras_side.crop and fast.image_size == keras_side.image_size
    assert fast.class_names == keras_side.class_names and fast.age_years_source == keras_side.age_years_source
    mine, reference = fast.predict(adience_files), keras_side.predict(adience_files)
    faces = 0
    for ours, theirs in zip(mine, reference, strict=True):
        assert len(ours.faces) == len(theirs.faces)
        for a, b in zip(ours.faces, theirs.faces, strict=True):
            faces += 1
            for head in ("gender", "age"):
                assert a.heads[head].label == b.heads[head].label
                np.testing.assert_allclose(list(a.heads[head].probabilities.values()),
                                           list(b.heads[head].probabilities.values()), atol=1e-4)
            assert abs(a.age_years - b.age_years) < 0.01
    assert faces >= len(adience_files) - 2


@needs_bundled
def test_predicting_with_the_default_imports_neither_keras_nor_tensorflow(adience_files, tmp_path: Path) -> None:
    code = ("import sys; from adiencekit.inference import Predictor; p = Predictor(); "
            f"faces = p.predict({str(adience_files[0])!r}).faces; "
            "print(p.runtime, len(faces), 'keras' in sys.modules, 'tensorflow' in sys.modules, 'jax' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["onnx", "1", "False", "False", "False"]
    assert run.stderr == ""


@needs_bundled
def test_a_stale_onnx_copy_is_not_used(tmp_path: Path) -> None:
    """A preset whose weights changed after its ONNX export runs in Keras (auto, with a warning) or not at all (onnx)."""
    onnx = pytest.importorskip("onnx", reason="rewriting the copy's record needs the onnx package")
    preset = tmp_path / "preset"
    shutil.copytree(BUNDLED, preset)
    for name in (bundled.ONNX_FILE, bundled.INT8_ONNX_FILE):  # both copies, as after a retraining without export
        if not (preset / name).is_file():
            continue
        graph = onnx.load(str(preset / name))
        for prop in graph.metadata_props:
            if prop.key == "adiencekit":
                prop.value = prop.value.replace(file_sha256(BUNDLED / bundled.WEIGHTS_FILE), "0" * 64)
        onnx.save(graph, str(preset / name))
    with pytest.warns(UserWarning, match="not made from this preset's weights"):
        loaded = load_model_source(preset)
    assert loaded.runtime == "keras" and loaded.model is not None
    with pytest.raises(ConfigError, match="--runtime onnx: cannot run the preset .* not made from"):
        load_model_source(preset, runtime="onnx")
    (preset / bundled.ONNX_FILE).unlink()
    assert load_model_source(preset).runtime == "keras"  # no copy: Keras, no warning
    with pytest.raises(ConfigError, match="has no model.onnx"):
        load_model_source(preset, runtime="onnx")


def test_an_onnx_file_without_a_record_or_not_onnx_is_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a model ONNX Runtime can run"):
        Predictor(junk, detector=None)
    with pytest.raises(ConfigError, match="--runtime keras: .* is an ONNX file"):
        Predictor(junk, detector=None, runtime="keras")
    with pytest.raises(ConfigError, match="runtime must be one of auto, onnx, keras"):
        Predictor(junk, detector=None, runtime="fast")
    with pytest.raises(ConfigError, match="threads must be a positive int"):
        Predictor(MTCNN_FILE, detector=None, threads=0)
    with pytest.raises(ModelFileError, match="without an adiencekit record"):
        Predictor(MTCNN_FILE, detector=None)  # a real ONNX model, not an adiencekit export


MTCNN_FILE = ROOT / "src" / "adiencekit" / "inference" / "weights" / "mtcnn-rnet.onnx"


def test_a_keras_only_source_with_runtime_onnx_is_refused(small_model, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--runtime onnx: the Keras model .* runs in Keras only"):
        Predictor(small_model, detector=None, runtime="onnx")
    path = tmp_path / "m.keras"
    small_model.save(path)
    with pytest.raises(ConfigError, match="runs in Keras only; export it first"):
        load_model_source(path, runtime="onnx")
    assert load_model_source(path).runtime == "keras"


def test_the_cli_says_one_line_for_a_bad_onnx_model(tmp_path: Path, capsys, adience_files) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00" * 10)
    assert main(["predict", str(adience_files[0]), "--model", str(junk), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a model ONNX Runtime can run" in err[0]
    assert main(["predict", str(adience_files[0]), "--model", str(junk), "--runtime", "keras"]) == 2
    assert "is an ONNX file" in capsys.readouterr().err


def test_an_exported_onnx_file_is_a_model_for_predict(small_model, tmp_path: Path, adience_files, capsys) -> None:
    """adiencekit export --format onnx, then predict --model file.onnx: the Keras model's labels."""
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    from adiencekit.export import export_model

    path = export_model(small_model, tmp_path / "small.onnx", format="onnx")
    fast, reference = Predictor(path, detector=None), Predictor(small_model, detector=None)
    assert fast.runtime == "onnx" and fast.heads == reference.heads and fast.crop == reference.crop
    crops = np.random.default_rng(0).integers(0, 256, (5, *[fast.crop.size] * 2, 3), dtype=np.uint8)
    for tta in (False, True):
        fast.tta = reference.tta = tta
        mine, theirs = fast.predict_crops(crops), reference.predict_crops(crops)
        assert sorted(mine) == sorted(theirs)
        for name in mine:
            np.testing.assert_allclose(mine[name], theirs[name], atol=1e-4)
    assert main(["predict", str(adience_files[0]), "--model", str(path), "--json", "-", "--quiet"]) == 0
    assert '"runtime": "onnx"' in capsys.readouterr().out
