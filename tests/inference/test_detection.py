"""Face detection: the interface's scaling and filters, MTCNN on real faces and composed photos."""

from __future__ import annotations

import time

import numpy as np
import pytest

from adiencekit.errors import ConfigError
from group_photos import compose_photo, iou, match_faces
from adiencekit.inference.detection import Detection, FaceDetector, get_detector


class _Fixed(FaceDetector):
    """Returns the same boxes (in the detection copy's pixels) and records the copy's size."""

    def __init__(self, boxes, **kwargs):
        super().__init__(**kwargs)
        self.boxes = boxes
        self.seen = None

    def _detect(self, image):
        self.seen = image.shape
        return [Detection(box=b, score=s, landmarks=np.array([[b[0], b[1]]] * 5, float)) for b, s in self.boxes]


def test_large_images_are_detected_downscaled_and_mapped_back() -> None:
    detector = _Fixed([((10, 20, 30, 40), 0.9)], max_side=400, min_face=0)
    found = detector.detect(np.zeros((1600, 800, 3), np.uint8))
    assert detector.seen == (400, 200, 3)
    assert detector.last_downscale == 0.25
    np.testing.assert_allclose(found[0].box, (40, 80, 120, 160))
    np.testing.assert_allclose(found[0].landmarks[0], (40, 80))


def test_min_face_and_min_score_filters_count_what_they_drop() -> None:
    boxes = [((0, 0, 10, 50), 0.99), ((0, 0, 50, 50), 0.95), ((0, 0, 60, 60), 0.3)]
    detector = _Fixed(boxes, min_face=20, min_score=0.5, max_side=None)
    found = detector.detect(np.zeros((100, 100, 3), np.uint8))
    assert [d.box for d in found] == [(0, 0, 50, 50)]
    assert detector.last_too_small == 1


def test_min_face_share_sets_the_smallest_face_photo_by_photo() -> None:
    boxes = [((0, 0, 50, 50), 0.9), ((0, 0, 70, 70), 0.8)]
    detector = _Fixed(boxes, min_face=40, max_side=None)  # default share: 1/16 of the shorter side
    assert [d.box for d in detector.detect(np.zeros((960, 1280, 3), np.uint8))] == [(0, 0, 70, 70)]
    assert (detector.last_min_face, detector.last_too_small) == (60.0, 1)
    assert len(detector.detect(np.zeros((400, 400, 3), np.uint8))) == 2  # 25 px < 40 px: min_face rules
    assert detector.last_min_face == 40.0
    everything = _Fixed(boxes, min_face=40, max_side=None, min_face_share=0)
    assert len(everything.detect(np.zeros((960, 1280, 3), np.uint8))) == 2


class _Native(_Fixed):
    native_min_face = 20.0


def test_a_larger_smallest_face_shrinks_the_searched_copy() -> None:
    detector = _Native([], min_face=40, max_side=None)
    detector.detect(np.zeros((960, 1280, 3), np.uint8))
    assert detector.seen == (320, 427, 3)  # 20 px native / 60 px asked for
    pixels_only = _Native([], min_face=40, max_side=None, min_face_share=0)
    pixels_only.detect(np.zeros((960, 1280, 3), np.uint8))
    assert pixels_only.seen == (480, 640, 3)  # 20 px native / 40 px


def test_detector_argument_checks() -> None:
    with pytest.raises(ConfigError, match="min_face"):
        _Fixed([], min_face=-1)
    for share in (-0.1, 1.0, True, "0.1"):
        with pytest.raises(ConfigError, match="min_face_share"):
            _Fixed([], min_face_share=share)
    with pytest.raises(ConfigError, match="unknown detector"):
        get_detector("haar")
    mine = _Fixed([])
    assert get_detector(mine) is mine


@pytest.mark.realdata
def test_mtcnn_landmarks_follow_the_documented_order(utk_faces, detector) -> None:
    for face in utk_faces[:4]:
        found = detector.detect(face)
        assert len(found) == 1
        (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = found[0].landmarks
        assert lx < nx < rx and mlx < mrx  # left is the viewer's left
        assert max(ly, ry) < ny < min(mly, mry)  # eyes above the nose above the mouth
        x, y, w, h = found[0].box
        assert x <= nx <= x + w and y <= ny <= y + h


@pytest.mark.realdata
def test_no_face_gives_an_empty_list(detector) -> None:
    rng = np.random.default_rng(0)
    assert detector.detect(np.full((300, 400, 3), 127, np.uint8)) == []
    assert detector.detect(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)) == []


@pytest.mark.realdata
def test_faces_found_in_the_real_adience_crops(adience_files, detector) -> None:
    from adiencekit.inference.images import read_image

    missed = [p.name for p in adience_files if not detector.detect(read_image(p))]
    assert not missed, f"no face found in {len(missed)} of 19 Adience crops: {missed}"


def _composed(utk_files, count: int, seed: int, canvas=(1280, 960), sizes=(90, 260)):
    from adiencekit.inference.images import read_image

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(utk_files), count, replace=False)
    faces = [read_image(utk_files[i]) for i in picks]
    background = ("noise", "plain", "gradient")[seed % 3]
    return compose_photo(faces, canvas=canvas, sizes=sizes, background=background, seed=seed)


@pytest.mark.realdata
def test_every_placed_face_is_found_in_a_composed_photo(utk_files, detector) -> None:
    photo, placed = _composed(utk_files, 5, seed=3)
    found = detector.detect(photo)
    matched = match_faces(placed, [d.box for d in found])
    assert sorted(matched) == list(range(5))
    assert len(found) == 5  # no extra faces on the background


@pytest.mark.realdata
def test_faces_in_a_very_large_photo_are_found_and_mapped_to_the_original(utk_files, detector) -> None:
    photo, placed = _composed(utk_files, 3, seed=4, canvas=(6000, 4000), sizes=(500, 900))
    found = detector.detect(photo)
    assert detector.last_downscale < 0.25  # detected on a copy of at most max_side px
    matched = match_faces(placed, [d.box for d in found])
    assert sorted(matched) == [0, 1, 2]
    assert min(iou(placed[i].box, found[j].box) for i, j in matched.items()) > 0.5


@pytest.mark.slow
@pytest.mark.realdata
def test_detection_rate_on_twenty_composed_photos(utk_files, detector) -> None:
    """The issue's target: at least 95% of the placed faces found."""
    placed_total = found_total = extra = 0
    start = time.perf_counter()
    for seed in range(20):
        photo, placed = _composed(utk_files, 5, seed=100 + seed)
        found = detector.detect(photo)
        matched = match_faces(placed, [d.box for d in found])
        placed_total += len(placed)
        found_total += len(matched)
        extra += len(found) - len(matched)
    rate = found_total / placed_total
    seconds = (time.perf_counter() - start) / 20
    print(f"detection rate {found_total}/{placed_total} = {rate:.3f}, {extra} extra boxes, {seconds:.2f} s/photo")
    assert rate >= 0.95
    assert extra <= 2


# Real UTKFace crops in which MTCNN finds no face on the crop as it is (the face fills
# the picture) but finds it once the crop is mirror-padded.
TIGHT_CROPS = ("12_0_0_20170110232735095.jpg.chip.jpg", "1_0_0_20161219205817093.jpg.chip.jpg")


def test_tight_face_crops_are_found_on_the_padded_retry(utkface_dir, detector) -> None:
    from adiencekit.inference.images import read_image

    paths = [utkface_dir / "images" / name for name in TIGHT_CROPS]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"the UTKFace crops {TIGHT_CROPS} are not in {utkface_dir / 'images'}")
    for path in paths:
        image = read_image(path)
        assert detector._run(image, detector.thresholds) == [], path.name  # missed as it is
        found = detector.detect(image)
        assert found, path.name
        x, y, w, h = found[0].box
        assert 0 <= x + w / 2 < image.shape[1] and 0 <= y + h / 2 < image.shape[0]
        assert w > 0.3 * image.shape[1]  # the face itself, not a mirrored half face


def test_detection_shift_moves_box_and_landmarks() -> None:
    detection = Detection(box=(10.0, 20.0, 30.0, 40.0), score=0.9, landmarks=np.zeros((5, 2)))
    moved = detection.shifted(-5, 2)
    assert moved.box == (5.0, 22.0, 30.0, 40.0)
    assert moved.landmarks.tolist() == [[-5.0, 2.0]] * 5 and moved.score == 0.9
