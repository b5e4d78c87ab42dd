"""MTCNN in ONNX Runtime: the shipped files are the Keras networks with the installed package's weights."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from adiencekit.errors import ConfigError
from adiencekit.fileio import file_sha256
from adiencekit.inference.detection import get_detector
from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector, _weights_dir, mtcnn_networks

ort = pytest.importorskip("onnxruntime", reason="the ONNX Runtime detector needs onnxruntime")
if importlib.util.find_spec("mtcnn") is None:  # found, not imported: importing it imports TensorFlow
    pytest.skip("the reference networks use the mtcnn package's weights", allow_module_level=True)

from adiencekit.inference.mtcnn_onnx import (  # noqa: E402
    MTCNN_ONNX_DIR,
    NETWORKS,
    OnnxMTCNNDetector,
    mtcnn_onnx_available,
    onnx_networks,
)

#: Inputs of each network: P-Net on a canvas, R-/O-Net on a batch of crops.
SHAPES = {"pnet": (1, 64, 128, 3), "rnet": (7, 24, 24, 3), "onet": (3, 48, 48, 3)}


def test_the_three_files_ship_and_record_the_installed_weights() -> None:
    assert mtcnn_onnx_available()
    for name in NETWORKS:
        path = MTCNN_ONNX_DIR / f"mtcnn-{name}.onnx"
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        record = json.loads(session.get_modelmeta().custom_metadata_map["adiencekit_mtcnn"])
        assert record["network"] == name
        assert record["weights_sha256"] == file_sha256(_weights_dir() / f"{name}.lz4"), \
            f"{path.name} was made from other weights than the installed mtcnn package's: remake it"


@pytest.mark.parametrize("index", range(3))
def test_each_network_gives_the_keras_network_s_outputs(index: int) -> None:
    name = NETWORKS[index]
    batch = np.random.default_rng(index).uniform(-1, 1, SHAPES[name]).astype(np.float32)
    mine = onnx_networks()[index].run_numpy(batch)
    reference = mtcnn_networks()[index].predict_on_batch(batch)
    assert len(mine) == len(reference)
    for ours, theirs in zip(mine, reference, strict=True):
        np.testing.assert_allclose(ours, np.asarray(theirs), atol=1e-4)


def test_an_empty_batch_gives_empty_outputs_of_the_right_width() -> None:
    widths = [out.shape[1:] for out in onnx_networks()[2].run_numpy(np.zeros((0, 48, 48, 3), np.float32))]
    assert widths == [(4,), (10,), (2,)]


def test_the_same_faces_as_the_keras_detector_on_real_photos(adience_files) -> None:
    from adiencekit.inference.images import read_image

    onnx_detector, keras_detector = OnnxMTCNNDetector(), KerasMTCNNDetector()
    found = 0
    for path in adience_files:
        image = read_image(path)
        mine, reference = onnx_detector.detect(image), keras_detector.detect(image)
        assert len(mine) == len(reference), path
        for ours, theirs in zip(mine, reference, strict=True):
            np.testing.assert_allclose(ours.box, theirs.box, atol=0.5)
            np.testing.assert_allclose(ours.landmarks, theirs.landmarks, atol=0.5)
            assert abs(ours.score - theirs.score) < 1e-3
        found += len(mine)
    assert found >= len(adience_files) - 2


def test_runtime_chooses_the_engine_and_a_gpu_device_is_refused() -> None:
    assert type(get_detector("mtcnn")) is OnnxMTCNNDetector
    assert type(get_detector("mtcnn", runtime="onnx", threads=2)) is OnnxMTCNNDetector
    assert type(get_detector("mtcnn", runtime="keras", threads=2)) is KerasMTCNNDetector  # threads: ONNX only
    assert type(get_detector("mtcnn-keras")) is KerasMTCNNDetector
    with pytest.raises(ConfigError, match="runs on the CPU only"):
        get_detector("mtcnn-onnx", device="GPU:0")
