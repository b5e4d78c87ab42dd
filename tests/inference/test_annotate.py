"""Annotated copies: boxes, captions, a font that grows with the photo, labels kept inside."""

from __future__ import annotations

import numpy as np

from adiencekit.inference.annotate import annotate_image, face_caption, font_for
from adiencekit.inference.predictor import FacePrediction, HeadPrediction


def _face(box, gender="male") -> FacePrediction:
    return FacePrediction(box=box, score=0.99, landmarks=None, heads={
        "gender": HeadPrediction(gender, 0.8, {"female": 0.2, "male": 0.8}),
        "age": HeadPrediction("38-43", 0.5, {}),
    })


def test_caption_and_age_only_faces() -> None:
    assert face_caption(_face((0, 0, 1, 1))) == "male 80% · 38-43 50%"
    age_only = FacePrediction(box=(0, 0, 1, 1), score=None, landmarks=None,
                              heads={"age": HeadPrediction("0-2", 0.9, {})})
    assert face_caption(age_only) == "0-2 90%"


def test_font_grows_with_the_photo() -> None:
    small, large = font_for((400, 300)), font_for((6000, 4000))
    assert getattr(large, "size", 0) > getattr(small, "size", 0) >= 12


def test_boxes_and_labels_are_drawn_inside_the_photo() -> None:
    photo = np.full((300, 400, 3), 128, np.uint8)
    top_face = _face((150, 0, 100, 120))  # touches the top edge: label goes below the box
    picture = np.asarray(annotate_image(photo, [top_face, _face((10, 150, 80, 100), "female")]))
    assert picture.shape == photo.shape
    changed = np.any(picture != 128, axis=2)
    assert changed[0:3, 150:250].any()  # the top box edge
    assert changed[121:150, 150:250].any()  # the caption band under it
    assert not changed[200:300, 300:400].any()  # nothing drawn far from the faces
    assert np.array_equal(photo, np.full((300, 400, 3), 128, np.uint8))  # the input is untouched
