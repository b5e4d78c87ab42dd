"""MTCNN as Keras 3 models: networks equal to the mtcnn package's, the same faces as MTCNNDetector, JAX without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.inference.detection import get_detector
from adiencekit.inference.mtcnn_keras import (
    KerasMTCNNDetector,
    area_resize,
    build_pnet,
    crop_patches,
    load_mtcnn_weights,
    mtcnn_networks,
    non_max_suppression,
    pyramid_mosaic,
    pyramid_scales,
)
from group_photos import compose_photo, iou, match_faces

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keras_detector() -> KerasMTCNNDetector:
    return KerasMTCNNDetector()


def _assert_same_faces(reference, found, max_landmark_px: float) -> None:
    assert len(found) == len(reference), (reference, found)
    for ref, mine in zip(reference, found):
        assert iou(ref.box, mine.box) >= 0.9, (ref.box, mine.box)
        # P-Net sees all scales on one canvas: cells on an odd-sized level's last row or
        # column see a neighbour's pixels, so scores may differ a little.
        assert abs(ref.score - mine.score) < 0.1
        side = min(ref.box[2], ref.box[3])
        assert np.abs(ref.landmarks - mine.landmarks).max() <= max(max_landmark_px, 0.05 * side)


# ----------------------------------------------------------------------------- pieces
def test_area_resize_matches_block_means() -> None:
    image = np.random.default_rng(0).random((12, 18, 3)).astype(np.float32)
    expected = image.reshape(4, 3, 6, 3, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(area_resize(image, 4, 6), expected, rtol=1e-5)


def test_area_resize_weights_partial_pixels() -> None:
    row = np.array([[[0.0], [3.0], [6.0]]], np.float32)  # 1 x 3, shrunk to 1 x 2: covers 1.5 pixels each
    np.testing.assert_allclose(area_resize(row, 1, 2)[0, :, 0], [1.0, 5.0])


def test_non_max_suppression_drops_boxes_overlapping_any_higher_one() -> None:
    # b overlaps a (higher) and is dropped; c overlaps only b, which was dropped: mtcnn 1.0 still drops c.
    boxes = np.array([[0, 0, 10, 10], [3, 0, 13, 10], [7, 0, 17, 10]], float)
    assert non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist() == [0]
    assert non_max_suppression(np.empty((0, 4)), np.empty(0), 0.5).tolist() == []
    small_in_big = np.array([[0, 0, 100, 100], [10, 10, 20, 20]], float)
    assert non_max_suppression(small_in_big, np.array([0.9, 0.8]), 0.7, mode="union").tolist() == [0, 1]
    assert non_max_suppression(small_in_big, np.array([0.9, 0.8]), 0.7, mode="min").tolist() == [0]
    with pytest.raises(ConfigError, match="mode"):
        non_max_suppression(small_in_big, np.array([0.9, 0.8]), 0.7, mode="max")


def test_crop_patches_sample_inside_and_zero_outside() -> None:
    image = np.arange(100, dtype=np.float32).reshape(10, 10, 1).repeat(3, axis=2)
    whole = crop_patches(image, np.array([[0, 0, 10, 10.0]]), 10)[0, ..., 0]
    assert whole[0, 0] == 0 and whole[-1, -1] == 99  # corners map onto the corner pixels
    outside = crop_patches(image, np.array([[-20, -20, -10, -10.0]]), 4)
    assert not outside.any()


def test_pyramid_starts_at_min_face_and_stops_at_the_cell() -> None:
    scales = pyramid_scales(480, 640, min_face=40)
    assert scales[0] == pytest.approx(12 / 40)
    assert np.all(np.diff(scales) < 0) and 480 * scales[-1] >= 12
    assert pyramid_scales(10, 10, min_face=20).size == 0


def test_mosaic_levels_give_the_cells_of_each_level_alone() -> None:
    import adiencekit.inference.mtcnn_keras as module

    pnet = mtcnn_networks()[0]
    image = np.random.default_rng(1).uniform(-1, 1, (120, 200, 3)).astype(np.float32)
    scales = np.array([0.6, 0.4, 0.3, 0.2])
    canvas, levels = pyramid_mosaic(image, scales)
    boxes = [(top, left, top + h, left + w) for _, top, left, h, w in levels]
    for i, a in enumerate(boxes):  # no two levels overlap
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    _, together = (np.asarray(out[0]) for out in pnet.predict_on_batch(canvas[None]))
    for scale, top, left, height, width in levels:
        alone = np.asarray(pnet.predict_on_batch(area_resize(image, height, width)[None])[1][0])
        cells = module._level_cells(together, top, left, height, width)
        assert cells.shape == alone.shape
        if height % 2 == 0 and width % 2 == 0:  # odd sizes: the last row/column may differ slightly
            np.testing.assert_allclose(cells, alone, atol=1e-5)


def test_weights_that_do_not_fit_the_network_are_one_line_errors() -> None:
    with pytest.raises(ModelFileError, match="do not fit"):
        build_pnet(load_mtcnn_weights("rnet"))
    with pytest.raises(ModelFileError, match="the network uses 13"):
        build_pnet([*load_mtcnn_weights("pnet"), np.zeros(2, np.float32)])


def test_weights_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown MTCNN network"):
        load_mtcnn_weights("qnet")
    with pytest.raises(ModelFileError, match="not found"):
        load_mtcnn_weights("pnet", folder=tmp_path)
    (tmp_path / "pnet.lz4").write_bytes(b"not an lz4 file")
    with pytest.raises(ModelFileError, match="damaged"):
        load_mtcnn_weights("pnet", folder=tmp_path)


def test_constructor_checks_and_registration() -> None:
    with pytest.raises(ConfigError, match="thresholds"):
        KerasMTCNNDetector(thresholds=(0.6, 0.7))
    with pytest.raises(ConfigError, match="min_face"):
        KerasMTCNNDetector(min_face=-1)
    with pytest.raises(ConfigError, match="device 'banana' is not usable"):
        KerasMTCNNDetector(device="banana")
    assert isinstance(get_detector("mtcnn-keras", min_face=30), KerasMTCNNDetector)


def test_blank_photo_finds_nothing_prints_nothing_and_skips_later_networks(capfd, monkeypatch) -> None:
    detector = KerasMTCNNDetector()
    calls = []
    import adiencekit.inference.mtcnn_keras as module

    real = module._run_network
    def counted(net, batch, **kwargs):
        calls.append(net.name)
        return real(net, batch, **kwargs)

    monkeypatch.setattr(module, "_run_network", counted)
    capfd.readouterr()
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    assert detector.detect(np.zeros((5, 5, 3), np.uint8)) == []  # smaller than P-Net's cell
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert calls and set(calls) == {"pnet"}  # no candidate: R-Net and O-Net never run


# ----------------------------------------------------------------------------- against the mtcnn package
def test_networks_match_the_packages_networks() -> None:
    pytest.importorskip("tensorflow", reason="the mtcnn package's networks need TensorFlow")
    network = pytest.importorskip("mtcnn.network", reason="needs the mtcnn package")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the mtcnn package's networks run on the TensorFlow backend only")
    rng = np.random.default_rng(0)
    references = (network.pnet.PNet, network.rnet.RNet, network.onet.ONet)
    shapes = ((2, 37, 53, 3), (5, 24, 24, 3), (5, 48, 48, 3))
    for name, reference_class, mine, shape in zip(("pnet", "rnet", "onet"), references, mtcnn_networks(), shapes):
        reference = reference_class()
        reference.build()
        reference.set_weights(load_mtcnn_weights(name))
        batch = rng.normal(size=shape).astype(np.float32)
        for expected, found in zip(reference(batch), mine(batch)):
            np.testing.assert_allclose(np.asarray(found), np.asarray(expected), atol=1e-5, err_msg=name)


@pytest.mark.realdata
def test_same_faces_as_mtcnn_detector_on_the_adience_crops(adience_files, detector, keras_detector) -> None:
    from adiencekit.inference.images import read_image

    for path in adience_files:
        image = read_image(path)
        _assert_same_faces(detector.detect(image), keras_detector.detect(image), max_landmark_px=3)


@pytest.mark.realdata
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_faces_as_mtcnn_detector_on_group_photos(seed, utk_files, detector, keras_detector) -> None:
    from adiencekit.inference.images import read_image

    rng = np.random.default_rng(seed)
    faces = [read_image(utk_files[i]) for i in rng.choice(len(utk_files), 6, replace=False)]
    photo, placements = compose_photo(faces, canvas=(960, 720), sizes=(80, 220), seed=seed)
    reference, found = detector.detect(photo), keras_detector.detect(photo)
    _assert_same_faces(reference, found, max_landmark_px=3)
    assert len(match_faces(placements, [d.box for d in found])) >= len(faces) - 1


@pytest.mark.realdata
def test_runs_on_jax_without_tensorflow(adience_files, detector) -> None:
    pytest.importorskip("jax", reason='the JAX backend needs jax (pip install -e ".[jax]")')
    from adiencekit.inference.images import read_image

    path = adience_files[0]
    script = textwrap.dedent(
        f"""
        import json, sys
        from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector
        from adiencekit.inference.images import read_image
        found = KerasMTCNNDetector().detect(read_image({str(path)!r}))
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print(json.dumps([[*d.box, d.score] for d in found]))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # quiet: no backend start-up lines
    import json

    rows = json.loads(result.stdout.strip().splitlines()[-1])
    reference = detector.detect(read_image(path))
    assert len(rows) == len(reference)
    for row, ref in zip(rows, reference):
        assert iou(row[:4], ref.box) >= 0.9


def test_networks_are_built_on_jax_without_converting_numpy_weights() -> None:
    """On JAX the weights reach the variables as device arrays: no per-shape conversion program."""
    pytest.importorskip("jax", reason='the JAX backend needs jax (pip install -e ".[jax]")')
    script = textwrap.dedent(
        """
        import jax.numpy as jnp
        converted = []
        original = jnp.asarray
        def counting(*args, **kwargs):
            converted.append(getattr(args[0], "shape", None))
            return original(*args, **kwargs)
        jnp.asarray = counting
        from adiencekit.inference.mtcnn_keras import mtcnn_networks
        networks = mtcnn_networks()
        print(len(converted), sum(len(n.weights) for n in networks))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    converted, weights = map(int, result.stdout.split()[-2:])
    assert weights == 50 and converted == 0


@pytest.mark.parametrize("seed", range(40))
def test_mosaic_never_lets_a_cell_see_two_levels(seed) -> None:
    """On any photo size and smallest face, every P-Net cell read back for a level sees only
    that level's pixels: levels never overlap, sit at even offsets (P-Net's stride) inside
    the canvas, and each level's cells (12-pixel windows at stride 2) end inside it, but for
    the pooling's padding on an odd-sized level: one row or column of the empty gap (what
    the level alone pads), never another level's pixels."""
    import adiencekit.inference.mtcnn_keras as module

    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(12, 700, 2))
    scales = pyramid_scales(height, width, min_face=float(rng.uniform(12, 40)))
    canvas, levels = pyramid_mosaic(np.zeros((height, width, 3), np.float32), scales)
    assert [level[0] for level in levels] == [float(s) for s in scales]
    owner = np.full(canvas.shape[:2], -1)
    for index, (scale, top, left, level_height, level_width) in enumerate(levels):
        assert top % 2 == 0 and left % 2 == 0
        assert (level_height, level_width) == (int(height * scale), int(width * scale))
        assert top + level_height <= canvas.shape[0] and left + level_width <= canvas.shape[1]
        assert (owner[top:top + level_height, left:left + level_width] == -1).all()
        owner[top:top + level_height, left:left + level_width] = index
    output = np.zeros((canvas.shape[0] // 2, canvas.shape[1] // 2))
    for index, (scale, top, left, level_height, level_width) in enumerate(levels):
        rows, cols = module._level_cells(output, top, left, level_height, level_width).shape
        # Cell (r, c) of the level sees canvas rows top + 2r ... top + 2r + 11 (and columns alike).
        if rows and cols:
            window = owner[top:top + 2 * (rows - 1) + module.PNET_CELL, left:left + 2 * (cols - 1) + module.PNET_CELL]
            assert window.shape == (2 * (rows - 1) + 12, 2 * (cols - 1) + 12)
            assert np.isin(window, [index, -1]).all()
            assert (window[:level_height, :level_width] == index).all()
            assert window.shape[0] <= level_height + 1 and window.shape[1] <= level_width + 1
    assert canvas.shape[0] % module.CANVAS_STEP == 0 and canvas.shape[1] % module.CANVAS_STEP == 0


def test_the_default_detector_is_mtcnn_in_onnx_runtime_else_the_keras_networks() -> None:
    from adiencekit.inference.detection import MTCNNDetector
    from adiencekit.inference.mtcnn_onnx import OnnxMTCNNDetector, mtcnn_onnx_available

    assert type(get_detector("mtcnn", runtime="keras")) is KerasMTCNNDetector
    assert type(get_detector("mtcnn")) is (OnnxMTCNNDetector if mtcnn_onnx_available() else KerasMTCNNDetector)
    pytest.importorskip("tensorflow", reason="the mtcnn package runs on TensorFlow")
    package = get_detector("mtcnn-package", min_face=30)
    assert type(package) is MTCNNDetector and not isinstance(package, KerasMTCNNDetector)


def test_the_package_detector_without_tensorflow_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # an import of it now fails, as where it is not installed
    with pytest.raises(ConfigError, match="'mtcnn-package' detector needs TensorFlow"):
        get_detector("mtcnn-package")
