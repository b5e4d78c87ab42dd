"""Tests of ``benchmarks/face_variants.py`` (the re-framed photos of the robustness check) and
``benchmarks/age_in_years.py`` (adiencekit's age in years in the benchmarks)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import age_in_years  # noqa: E402  (the benchmarks folder is not a package)
import face_variants as fv  # noqa: E402


@pytest.mark.parametrize("module", [fv, age_in_years])
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0


def _ramp() -> np.ndarray:
    """A 200x200 photo whose pixels say where they are (red: column, green: row)."""
    rows, cols = np.mgrid[0:200, 0:200]
    return np.stack([cols, rows, np.full_like(rows, 128)], axis=-1).astype(np.uint8)


def test_tighter_keeps_the_centre_and_resizes_back() -> None:
    photo = _ramp()
    tight = fv.tighter(photo)
    assert tight.shape == photo.shape
    # The central 80% (columns 20-179) now spans the whole width.
    assert abs(int(tight[100, 0, 0]) - 20) <= 1 and abs(int(tight[100, -1, 0]) - 179) <= 1
    assert np.array_equal(fv.tighter(photo, keep=1.0), photo)
    with pytest.raises(ValueError, match="keep"):
        fv.tighter(photo, keep=0.0)


def test_looser_pads_each_side_with_mirrored_pixels() -> None:
    photo = _ramp()
    loose = fv.looser(photo)
    assert loose.shape == (300, 300, 3)
    assert np.array_equal(loose[50:250, 50:250], photo)  # the photo itself, unscaled, in the middle
    assert np.array_equal(loose[50:250, 49], photo[:, 1])  # reflected, not a plain border
    with pytest.raises(ValueError, match="pad"):
        fv.looser(photo, pad=1.0)


def test_pasted_photos_are_seeded_by_index_and_hold_the_face() -> None:
    face = np.full((200, 200, 3), 250, np.uint8)
    first, again, other = fv.pasted(face, 0), fv.pasted(face, 0), fv.pasted(face, 1)
    assert first.shape == (600, 600, 3)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert (first == 250).all(axis=-1).sum() >= 120 * 120  # pasted at a side of 120-160 px


def test_variant_photos_are_made_when_asked() -> None:
    made = []
    photos = fv.VariantPhotos([np.zeros((4, 4, 3), np.uint8)] * 3, lambda photo, index: made.append(index) or photo)
    assert len(photos) == 3 and made == []
    photos[2]
    assert made == [2]
    with pytest.raises(IndexError):
        photos[3]
    assert list(fv.variants()) == ["tighter", "looser", "pasted"] and set(fv.describe()) == set(fv.variants())


def test_within_points_is_two_points_either_way() -> None:
    plain = {"gender": 0.90, "age_exact": 0.60, "age_one_off": None}
    assert fv.within_points(plain, {"gender": 0.92, "age_exact": 0.5799, "age_one_off": 0.9},
                            ["gender", "age_exact", "age_one_off"]) == {"gender": True, "age_exact": False,
                                                                          "age_one_off": None}


def _tiny(age_years: bool):
    from adiencekit.models import face_resnet

    return face_resnet(input_shape=(32, 32, 3), width=4, blocks=(1, 1), age_years=age_years)


def test_age_in_years_is_the_models_output_when_it_has_one() -> None:
    from adiencekit.inference import Predictor

    model = _tiny(age_years=True)
    predictor = Predictor(model, detector=None)
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    years = age_in_years.adiencekit_age_years(predictor, crops)
    expected = np.asarray(model.predict_on_batch(crops.astype("float32"))["age_years"]).reshape(-1)
    np.testing.assert_allclose(years, expected, rtol=1e-5)
    assert age_in_years.age_years_source(predictor) == "head"
    assert age_in_years.adiencekit_age_years(predictor, crops[:0]).shape == (0,)


def test_age_in_years_is_the_expected_age_of_the_groups_otherwise() -> None:
    from adiencekit.inference import Predictor
    from adiencekit.labels import expected_age

    predictor = Predictor(_tiny(age_years=False), detector=None)
    crops = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    years = age_in_years.adiencekit_age_years(predictor, crops)
    np.testing.assert_allclose(years, expected_age(predictor.predict_crops(crops)["age"]))
    assert age_in_years.age_years_source(predictor) == "age groups"
