"""Similarity alignment: the transform, the warp, the crop spec, folders of training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adiencekit.crops import CropSpec
from adiencekit.errors import ConfigError
from adiencekit.inference.alignment import (
    TEMPLATE,
    align_face,
    align_faces_in_folder,
    crop_box,
    similarity_transform,
    template_points,
)


def _similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


@settings(max_examples=50, deadline=None)
@given(
    scale=st.floats(0.1, 10.0),
    angle=st.floats(-np.pi, np.pi),
    tx=st.floats(-500, 500),
    ty=st.floats(-500, 500),
)
def test_similarity_transform_recovers_exact_transform(scale, angle, tx, ty) -> None:
    matrix = _similarity(scale, angle, tx, ty)
    src = TEMPLATE * 200
    dst = src @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(similarity_transform(src, dst), matrix, atol=1e-6 * max(1.0, abs(tx), abs(ty)))


def test_similarity_transform_is_least_squares_and_never_reflects() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(5, 2)) * 50
    mirrored = src * [-1, 1]  # a reflection cannot be matched by a similarity
    matrix = similarity_transform(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0
    assert np.isclose(matrix[0, 0], matrix[1, 1]) and np.isclose(matrix[0, 1], -matrix[1, 0])

    # Least squares: moving away from the optimum within similarities (a, b, tx, ty in
    # [[a, -b, tx], [b, a, ty]]) only increases the residual.
    def residual(a, b, tx, ty):
        m = np.array([[a, -b, tx], [b, a, ty]])
        return ((src @ m[:, :2].T + m[:, 2] - mirrored) ** 2).sum()

    optimum = np.array([matrix[0, 0], matrix[1, 0], matrix[0, 2], matrix[1, 2]])
    best = residual(*optimum)
    for _ in range(20):
        assert residual(*(optimum + rng.normal(scale=1e-2, size=4))) >= best - 1e-9


def test_similarity_transform_rejects_bad_points() -> None:
    with pytest.raises(ValueError, match="same point"):
        similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="shape"):
        similarity_transform(np.ones((5, 3)), np.zeros((5, 3)))


@pytest.mark.parametrize(("scale", "angle"), [(1.0, 0.0), (3.0, 0.4), (0.5, -0.3), (12.0, 1.2)])
def test_align_face_puts_landmarks_on_template(scale: float, angle: float) -> None:
    """Draw five dots on a rotated, scaled 'face' and check they land on the template."""
    spec = CropSpec(margin=0.2, size=128)
    target = template_points(spec)
    forward = _similarity(scale, angle, 0.0, 0.0)
    points = target @ forward[:, :2].T
    points += 60 - points.min(axis=0)  # keep the face inside the photo
    size = int(points.max() + 80)
    image = np.zeros((size, size, 3), np.uint8)
    radius = max(1, int(round(2 * scale)))
    yy, xx = np.mgrid[0:size, 0:size]
    for index, (x, y) in enumerate(points):
        image[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = (255, 40 * index, 0)
    crop = align_face(image, points, spec)
    assert crop.shape == (128, 128, 3)
    for index, (tx, ty) in enumerate(target):
        window = crop[int(ty) - 6 : int(ty) + 7, int(tx) - 6 : int(tx) + 7, 0].astype(float)
        ys, xs = np.mgrid[int(ty) - 6 : int(ty) + 7, int(tx) - 6 : int(tx) + 7]
        cy, cx = (window * ys).sum() / window.sum(), (window * xs).sum() / window.sum()
        assert abs(cx - tx) < 0.8 and abs(cy - ty) < 0.8, (index, cx, cy, tx, ty)


def test_strong_downscale_is_filtered_not_aliased() -> None:
    """A fine checkerboard shrunk 20x must come out mid-grey (box filter), not stripes."""
    board = ((np.indices((2000, 2000)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(board[:, :, None], 3, axis=2)
    crop = crop_box(image, [500, 500, 1000, 1000], CropSpec(style="box", margin=0.0, size=50))
    assert abs(float(crop.mean()) - 127.5) < 8 and float(crop.std()) < 20


def test_crop_box_centres_and_mirrors_beyond_the_photo() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    image[:10, :10] = 50  # a dark top-left corner: mirrored beyond the edge, never black
    crop = crop_box(image, [0, 0, 40, 40], CropSpec(style="box", margin=0.5, size=80))
    assert crop[40, 40].tolist() == [200, 200, 200]
    assert crop[2, 2].tolist() == [200, 200, 200]  # 20 px beyond the corner: mirrored bright pixels
    assert crop[19, 19].tolist() == [50, 50, 50]  # just beyond the corner: the dark corner, mirrored
    with pytest.raises(ValueError, match="positive width"):
        crop_box(image, [0, 0, 0, 10])


def test_mirrored_region_equals_cutting_the_mirror_padded_photo() -> None:
    from adiencekit.inference.alignment import _mirrored_region

    image = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    padded = np.pad(image, ((12, 12), (12, 12), (0, 0)), mode="symmetric")
    for left, top, right, bottom in [(-5, -7, 20, 25), (30, 10, 50, 42), (-12, -12, 52, 42), (3, 4, 10, 9)]:
        expected = padded[top + 12:bottom + 12, left + 12:right + 12]
        np.testing.assert_array_equal(_mirrored_region(image, left, top, right, bottom), expected)
    far = _mirrored_region(image, 100, 100, 104, 103)  # the box misses the photo: its nearest edge
    assert far.shape == (3, 4, 3) and (far == image[-1, -1]).all()


def test_crop_spec_validation_and_dict_round_trip() -> None:
    spec = CropSpec(style="box", margin=0.3, size=96)
    assert CropSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError, match="style"):
        CropSpec(style="tight")
    with pytest.raises(ConfigError, match="margin"):
        CropSpec(margin=-0.5)
    with pytest.raises(ConfigError, match="unknown crop settings"):
        CropSpec.from_dict({"size": 64, "padding": 3})


@pytest.mark.realdata
def test_aligned_real_face_has_landmarks_on_template(utk_faces, detector) -> None:
    """Detect again on the aligned crop: the landmarks are where the template says."""
    spec = CropSpec(margin=0.3, size=160)
    errors = []
    for face in utk_faces[:6]:
        # Rotate the face by 20 degrees and pad it, as a tilted face in a larger photo.
        tilted = np.asarray(Image.fromarray(face).rotate(20, expand=True, fillcolor=(90, 90, 90)))
        photo = np.pad(tilted, ((60, 60), (60, 60), (0, 0)), constant_values=90)
        found = detector.detect(photo)
        assert found, "the tilted face was not found"
        crop = align_face(photo, found[0].landmarks, spec)
        again = detector.detect(crop)
        assert again, "no face in the aligned crop"
        errors.append(np.abs(again[0].landmarks - template_points(spec)).mean())
    # MTCNN landmarks are accurate to a few pixels; 160 px crops.
    assert float(np.mean(errors)) < 4.0, errors


@pytest.mark.realdata
def test_align_faces_in_folder_counts_everything(tmp_path: Path, utk_files, detector) -> None:
    src = tmp_path / "src"
    (src / "people").mkdir(parents=True)
    for path in utk_files[:3]:
        (src / "people" / path.name).write_bytes(path.read_bytes())
    Image.new("RGB", (120, 120), (30, 200, 30)).save(src / "blank.png")
    (src / "broken.jpg").write_bytes(b"not an image")
    spec = CropSpec(margin=0.1, size=64)
    report = align_faces_in_folder(src, tmp_path / "dst", spec, detector=detector)
    assert report.written == 3 and report.images == 4
    assert [Path(p).name for p in report.no_face] == ["blank.png"]
    assert [Path(p).name for p, _ in report.unreadable] == ["broken.jpg"]
    outputs = sorted((tmp_path / "dst").rglob("*.jpg"))
    assert [p.parent.name for p in outputs] == ["people"] * 3
    assert all(Image.open(p).size == (64, 64) for p in outputs)
    # A second run keeps what is there.
    again = align_faces_in_folder(src, tmp_path / "dst", spec, detector=detector)
    assert again.written == 0 and again.skipped_existing == 3
    assert "3 kept" in again.summary()


def test_shift_moves_the_face_vertically_only() -> None:
    up = template_points(CropSpec(size=100, shift=-0.1))
    level = template_points(CropSpec(size=100, shift=0.0))
    np.testing.assert_allclose(up[:, 0], level[:, 0])
    np.testing.assert_allclose(level[:, 1] - up[:, 1], 0.1 / 1.5 * 100)
    with pytest.raises(ConfigError, match="shift"):
        CropSpec(shift=0.8)


def _framing(files, detector) -> tuple[float, float]:
    """Median eye distance and eye height of the faces in ``files``, as fractions of the crop."""
    from adiencekit.inference.images import read_image

    distances, heights = [], []
    for path in files:
        image = read_image(path)
        found = detector.detect(image)
        if not found:
            continue
        (lx, ly), (rx, ry) = found[0].landmarks[:2]
        distances.append(np.hypot(rx - lx, ry - ly) / image.shape[1])
        heights.append((ly + ry) / 2 / image.shape[0])
    return float(np.median(distances)), float(np.median(heights))


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["adience", "utkface"])
def test_crop_presets_frame_faces_like_their_dataset(dataset, adience_faces_dir, utk_files, detector) -> None:
    """ADIENCE_CROP / UTKFACE_CROP put the eyes where the dataset's own crops have them."""
    from adiencekit.crops import ADIENCE_CROP, UTKFACE_CROP

    if dataset == "adience":
        files, spec = sorted(adience_faces_dir.rglob("*.jpg")), ADIENCE_CROP
    else:
        files, spec = utk_files[::400][:20], UTKFACE_CROP
    distance, height = _framing(files, detector)
    points = template_points(spec) / spec.size
    assert abs(np.hypot(*(points[1] - points[0])) - distance) < 0.03, distance
    assert abs(points[:2, 1].mean() - height) < 0.03, height


@pytest.mark.realdata
def test_aligning_folder_after_folder_does_not_retrace(adience_faces_dir, tmp_path) -> None:
    """Detectors share one compiled MTCNN: TensorFlow warned about retracing when each traced its own."""
    import logging

    pytest.importorskip("mtcnn", reason="face detection needs the mtcnn package")
    files = sorted(adience_faces_dir.rglob("*.jpg"))[:4]
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for round_ in range(3):
            src = tmp_path / f"src{round_}"
            src.mkdir()
            for path in files:
                Image.open(path).resize((200 + 40 * round_, 200 + 40 * round_)).save(src / path.name)
            report = align_faces_in_folder(src, tmp_path / f"dst{round_}", CropSpec(size=64))
            assert report.images == len(files) and report.written >= 1
    finally:
        logger.removeHandler(handler)
    assert not [message for message in warnings if "retracing" in message], warnings
