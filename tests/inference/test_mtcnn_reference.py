"""The Keras MTCNN finds the same faces as before its speed-ups (issue 23), on real photos.

``data/mtcnn_keras_reference.json`` holds the detections (boxes, scores, five landmarks)
of :class:`~adiencekit.inference.mtcnn_keras.KerasMTCNNDetector` as it was before the
per-photo path was made faster (one P-Net pass per photo on a loosely packed canvas,
R-/O-Net batches padded to at least 4, commit 4600909 of the main branch), on the 19 real
Adience crops, 24 UTKFace crops (one in 357 of the sorted files) and 3 composed group
photos. Every change to the detector's speed must keep them: the same number of faces,
boxes and landmarks within a pixel, scores within 0.01. Rewrite the file only for a
change meant to move detections, and say so in the commit:
``PYTHONPATH=src python tests/inference/test_mtcnn_reference.py --write``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).with_name("data") / "mtcnn_keras_reference.json"
#: Tolerances: boxes and landmarks in pixels of the photo, scores in probability.
PIXELS = 1.0
SCORE = 0.01


def reference_photos(shared_data: Path) -> dict[str, np.ndarray]:
    """The photos of the reference, by name (real data; composed group photos from UTKFace crops)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from group_photos import compose_photo

    from adiencekit.inference.images import read_image

    adience = sorted((shared_data / "adience" / "faces").rglob("*.jpg"))
    utk = sorted((shared_data / "utkface" / "images").glob("*.jpg"))
    photos = {f"adience/{path.name}": read_image(path) for path in adience}
    photos.update({f"utkface/{path.name}": read_image(path) for path in utk[::357][:24]})
    for seed in range(3):
        rng = np.random.default_rng(seed)
        faces = [read_image(utk[i]) for i in rng.choice(len(utk), 6, replace=False)]
        photos[f"group/{seed}"], _ = compose_photo(faces, canvas=(960, 720), sizes=(80, 220), seed=seed)
    return photos


def detections_as_rows(detections) -> list[list[float]]:
    """``[x, y, w, h, score, 5 landmark x, 5 landmark y]`` per detection."""
    return [[*map(float, d.box), float(d.score), *map(float, d.landmarks[:, 0]), *map(float, d.landmarks[:, 1])]
            for d in detections]


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> dict[str, np.ndarray]:
    found = reference_photos(shared_data)
    if len(found) != 19 + 24 + 3:
        pytest.skip(f"expected the 19 Adience crops and the UTKFace crops under {shared_data}")
    return found


@pytest.mark.realdata
def test_same_detections_as_before_the_speed_ups(photos) -> None:
    from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector

    reference = json.loads(REFERENCE.read_text())
    assert sorted(reference) == sorted(photos)
    detector = KerasMTCNNDetector()
    for name, image in photos.items():
        expected = np.array(reference[name]).reshape(-1, 15)
        found = np.array(detections_as_rows(detector.detect(image))).reshape(-1, 15)
        assert len(found) == len(expected), (name, expected[:, :5], found[:, :5])
        np.testing.assert_allclose(found[:, :4], expected[:, :4], atol=PIXELS, rtol=0, err_msg=f"{name}: boxes")
        np.testing.assert_allclose(found[:, 4], expected[:, 4], atol=SCORE, rtol=0, err_msg=f"{name}: scores")
        np.testing.assert_allclose(found[:, 5:], expected[:, 5:], atol=PIXELS, rtol=0, err_msg=f"{name}: landmarks")


if __name__ == "__main__":  # rewrite the reference (see the module docstring)
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: PYTHONPATH=src python tests/inference/test_mtcnn_reference.py --write")
    from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector

    shared = Path(os.environ.get("ADIENCEKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    detector = KerasMTCNNDetector()
    rows = {name: detections_as_rows(detector.detect(image)) for name, image in reference_photos(shared).items()}
    lines = [f"{json.dumps(name)}: {json.dumps([[round(v, 4) for v in row] for row in found])}" for name, found in rows.items()]
    REFERENCE.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {REFERENCE}: {sum(map(len, rows.values()))} faces in {len(rows)} photos")
