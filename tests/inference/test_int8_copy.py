"""The int8 ONNX copy of a preset (adiencekit.quantization) and the preset-recorded flip TTA: what predict runs."""

from __future__ import annotations

import json
import shutil
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
from adiencekit.quantization import CALIBRATION_FACES, calibration_indices

pytest.importorskip("onnxruntime", reason="the ONNX Runtime path needs onnxruntime")
BUNDLED = bundled.default_preset_dir()

needs_int8 = pytest.mark.skipif(not (BUNDLED / bundled.INT8_ONNX_FILE).is_file(),
                                reason="this tree has no bundled default model with its int8 copy")


@needs_int8
def test_the_bundled_int8_copy_is_current_and_says_how_it_was_calibrated() -> None:
    network, reason = preset_onnx_model(BUNDLED, int8=True)
    assert network is not None, reason
    assert network.precision == "int8" and network.record[PRESET_WEIGHTS_KEY] == file_sha256(
        BUNDLED / bundled.WEIGHTS_FILE)
    calibration = network.record["quantization"]["calibration"]
    card = json.loads((BUNDLED / bundled.PRESET_FILE).read_text())["inference"]
    assert card["int8"]["calibration"] == calibration and calibration["faces"] == CALIBRATION_FACES
    assert "training split" in calibration["from"] and card["tta"] == "flip" and "validation" in card["tta_chosen_on"]
    assert (BUNDLED / bundled.INT8_ONNX_FILE).stat().st_size < (BUNDLED / bundled.ONNX_FILE).stat().st_size / 2


@needs_int8
def test_the_default_runs_int8_with_flip_and_each_can_be_turned_off(adience_files) -> None:
    default = Predictor()
    assert (default.runtime, default.precision, default.tta) == ("onnx", "int8", True)
    plain = Predictor(precision="float32", tta=False, detector=default.detector)
    assert (plain.precision, plain.tta) == ("float32", False)
    assert Predictor(runtime="keras", detector=None).tta  # the card's setting holds in Keras too
    # Close to the float network on real faces: the same labels on nearly all, probabilities within a few points.
    crops = np.stack([crop for path in adience_files if (crop := _largest_crop(default, path)) is not None])
    assert len(crops) >= len(adience_files) - 2
    int8 = Predictor(precision="int8", tta=False, detector=None)
    float32 = Predictor(precision="float32", tta=False, detector=None)
    mine, theirs = int8.predict_crops(crops), float32.predict_crops(crops)
    for head in ("gender", "age"):
        assert np.abs(mine[head] - theirs[head]).max() < 0.15
        assert (mine[head].argmax(1) == theirs[head].argmax(1)).mean() >= 0.85
    assert np.abs(mine["age_years"] - theirs["age_years"]).max() < 3.0


def _largest_crop(predictor: Predictor, path: Path) -> np.ndarray | None:
    """The largest face of one photo, cut as the predictor cuts it (``None``: no face found)."""
    from adiencekit.inference.alignment import crop_face
    from adiencekit.inference.images import read_image

    image = read_image(path)
    detections = predictor.detector.detect(image)
    if not detections:
        return None
    largest = max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return crop_face(image, largest, predictor.crop)


@needs_int8
def test_flip_in_one_call_is_the_mean_of_the_two_views() -> None:
    predictor = Predictor(detector=None, tta=False)
    crops = np.random.default_rng(1).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    one, mirrored = predictor.predict_crops(crops), predictor.predict_crops(crops[:, :, ::-1])
    predictor.tta = True
    both = predictor.predict_crops(crops)
    for name in both:
        np.testing.assert_allclose(both[name], (one[name] + mirrored[name]) / 2, atol=1e-5)


@needs_int8
def test_a_stale_or_missing_int8_copy_falls_back_to_the_float_copy_and_int8_insists(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="rewriting the copy's record needs the onnx package")
    preset = tmp_path / "preset"
    shutil.copytree(BUNDLED, preset)
    graph = onnx.load(str(preset / bundled.INT8_ONNX_FILE))
    for prop in graph.metadata_props:
        if prop.key == "adiencekit":
            prop.value = prop.value.replace(file_sha256(BUNDLED / bundled.WEIGHTS_FILE), "0" * 64)
    onnx.save(graph, str(preset / bundled.INT8_ONNX_FILE))
    assert load_model_source(preset).precision == "float32"  # the float copy is current: no warning needed
    with pytest.raises(ConfigError, match="--precision int8: the preset .* not made from this preset's weights"):
        load_model_source(preset, precision="int8")
    (preset / bundled.INT8_ONNX_FILE).unlink()
    loaded = load_model_source(preset)
    assert (loaded.runtime, loaded.precision, loaded.tta) == ("onnx", "float32", True)
    with pytest.raises(ConfigError, match="has no model.int8.onnx"):
        load_model_source(preset, precision="int8")


def test_precision_mistakes_are_one_clear_error(small_model, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="precision must be one of auto, float32, int8"):
        load_model_source(small_model, precision="fp16")
    with pytest.raises(ConfigError, match=r"--precision int8: .* \(it has no int8 copy\)"):
        load_model_source(small_model, precision="int8")
    if (BUNDLED / bundled.PRESET_FILE).is_file():
        with pytest.raises(ConfigError, match="not with --runtime keras"):
            load_model_source(None, runtime="keras", precision="int8")


@needs_int8
def test_the_cli_says_what_ran_and_refuses_bad_combinations(adience_files, capsys) -> None:
    assert main(["predict", str(adience_files[0]), "--json", "-", "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["runtime"], payload["precision"], payload["tta"]) == ("onnx", "int8", "flip")
    assert main(["predict", str(adience_files[0]), "--json", "-", "--quiet", "--precision", "float32",
                 "--no-tta"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["precision"], payload["tta"]) == ("float32", None)
    assert main(["predict", str(adience_files[0]), "--precision", "int8", "--runtime", "keras"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not with --runtime keras" in err[0]


def test_calibration_draws_are_seeded_subsets_of_the_training_faces() -> None:
    first = calibration_indices(1000, faces=50, seed=4)
    assert len(set(first.tolist())) == 50 and first.max() < 1000 and np.all(np.diff(first) > 0)
    assert np.array_equal(first, calibration_indices(1000, faces=50, seed=4))
    assert not np.array_equal(first, calibration_indices(1000, faces=50, seed=5))
    with pytest.raises(ConfigError, match="positive int"):
        calibration_indices(10, faces=0)


def test_quantizing_a_preset_without_its_float_copy_or_training_record_is_refused(tmp_path: Path) -> None:
    from adiencekit.quantization import add_int8_onnx_to_preset, calibration_inputs

    preset = tmp_path / "preset"
    preset.mkdir()
    (preset / bundled.PRESET_FILE).write_text(json.dumps({"format": "adiencekit-preset"}))
    (preset / bundled.WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(ModelFileError, match="has no model.onnx to quantize"):
        add_int8_onnx_to_preset(preset, "synthetic")
    with pytest.raises(ModelFileError, match="records no training config"):
        calibration_inputs(preset, "synthetic")


@needs_int8
def test_only_the_trunk_is_quantized_so_probabilities_are_exact_softmax_outputs() -> None:
    """The pooling and heads stay float: a quantized softmax does not sum to one, and the answer would then be
    taken for logits and squashed (0.97 reported as 0.72: found when the whole graph was quantized)."""
    onnx = pytest.importorskip("onnx", reason="reading the graph needs the onnx package")
    from adiencekit.quantization import head_nodes

    graph = onnx.load(str(BUNDLED / bundled.ONNX_FILE)).graph
    heads = set(head_nodes(graph))
    kinds = {node.op_type for node in graph.node if node.name in heads}
    assert {"GlobalAveragePool", "Softmax", "MatMul"} <= kinds and "Conv" not in kinds
    quantized = onnx.load(str(BUNDLED / bundled.INT8_ONNX_FILE)).graph
    produced_by = {output: node for node in quantized.node for output in node.output}
    for output in ("gender", "age"):
        assert produced_by[output].op_type == "Softmax"
        assert produced_by[produced_by[output].input[0]].op_type in ("Gemm", "Add", "MatMul")
    network = Predictor(precision="int8", tta=False, detector=None).onnx
    crops = np.random.default_rng(2).integers(0, 256, (4, 96, 96, 3)).astype(np.float32)
    raw = network.run(crops)
    for head in ("gender", "age"):
        np.testing.assert_allclose(raw[head].sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(network.predict(crops)[head], raw[head], atol=1e-6)  # kept, not re-squashed
