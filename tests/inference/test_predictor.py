"""Predictor: model sources, inputs, batching across photos, results and their counts."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.inference import CropSpec, Predictor, summarize
from adiencekit.inference.alignment import crop_face
from group_photos import compose_photo, match_faces
from adiencekit.labels import AGE_GROUPS, GENDERS


def _grey(value: int = 128, shape=(50, 40, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def test_detect_false_gives_one_face_with_full_distributions(small_model) -> None:
    predictor = Predictor(small_model, detector=None)
    result = predictor.predict(_grey(), detect=False)
    assert result.ok and result.size == (40, 50) and len(result.faces) == 1
    face = result.faces[0]
    assert face.box == (0.0, 0.0, 40.0, 50.0) and face.score is None
    assert list(face.age.probabilities) == [group.name for group in AGE_GROUPS]
    assert list(face.gender.probabilities) == list(GENDERS)
    for head in (face.age, face.gender):
        assert abs(sum(head.probabilities.values()) - 1.0) < 1e-5
        assert head.label == max(head.probabilities, key=head.probabilities.get)
        assert head.probability == head.probabilities[head.label]
    record = json.loads(json.dumps(result.to_dict()))
    face_record = record["faces"][0]
    assert set(face_record) >= {"box", "score", "gender", "gender_probability", "age_group", "age_probabilities"}
    assert face_record["age_group"] in [group.name for group in AGE_GROUPS]


def test_predict_crops_matches_the_model_and_tta_averages_the_mirror(small_model) -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    plain = Predictor(small_model, detector=None, batch_size=2).predict_crops(crops)
    expected = small_model(crops.astype(np.float32), training=False)
    np.testing.assert_allclose(plain["age"], keras.ops.convert_to_numpy(expected["age"]), atol=1e-6)
    flipped = Predictor(small_model, detector=None).predict_crops(crops[:, :, ::-1])
    tta = Predictor(small_model, detector=None, tta=True).predict_crops(crops)
    for head in ("gender", "age"):
        np.testing.assert_allclose(tta[head], (plain[head] + flipped[head]) / 2, atol=1e-6)


def test_single_task_and_logit_models() -> None:
    from adiencekit.models import create_model

    model = create_model("scratch_cnn", task="age", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8, classifier_activation=None)
    predictor = Predictor(model, detector=None)
    assert predictor.heads == ["age"]
    face = predictor.predict(_grey(shape=(32, 32, 3)), detect=False).faces[0]
    assert face.gender is None and abs(sum(face.age.probabilities.values()) - 1) < 1e-6  # softmax of logits
    assert "gender" not in face.to_dict() and "age_group" in face.to_dict()


def test_model_from_keras_file_and_run_folder(tmp_path: Path, small_model) -> None:
    from adiencekit.training.config import TrainConfig

    path = tmp_path / "model.keras"
    small_model.save(path)
    crops = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    from_file = Predictor(path, detector=None).predict_crops(crops)
    np.testing.assert_allclose(from_file["gender"], Predictor(small_model, detector=None).predict_crops(crops)["gender"],
                               atol=1e-6)
    # A run folder: config.json + best.keras. Faces are cut at image_size, the model sees
    # the centre crop_size crop, as in training.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(TrainConfig(task="multitask", image_size=72, crop_size=64).to_json())
    small_model.save(run / "best.keras")
    predictor = Predictor(run, detector=None)
    assert predictor.crop == CropSpec(size=72) and predictor.image_size == 72  # Adience framing
    big = np.random.default_rng(2).integers(0, 256, (2, 72, 72, 3), dtype=np.uint8)
    centre = Predictor(small_model, detector=None).predict_crops(big[:, 4:68, 4:68])
    np.testing.assert_allclose(predictor.predict_crops(big)["age"], centre["age"], atol=1e-6)
    # A run trained on UTKFace crops gets UTKFace's tighter framing.
    from adiencekit.crops import UTKFACE_CROP

    (run / "config.json").write_text(TrainConfig(task="multitask", data=f"utkface:{tmp_path}", image_size=72,
                                                 crop_size=64).to_json())
    assert Predictor(run, detector=None).crop == UTKFACE_CROP.replace(size=72)


def test_bad_model_sources(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        Predictor(tmp_path / "absent.keras", detector=None)
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="cannot load"):
        Predictor(tmp_path / "junk.keras", detector=None)
    with pytest.raises(ModelFileError, match="neither a training run"):
        Predictor(tmp_path, detector=None)
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"expected a \.keras"):
        Predictor(tmp_path / "weights.h5", detector=None)
    try:  # a preset name goes to adiencekit.models' presets (once that layer has them)
        from adiencekit.models import AgeGenderClassifier  # noqa: F401
    except ImportError:
        with pytest.raises(ModelFileError, match="presets are not available"):
            Predictor("utkface-small", detector=None)


def test_argument_checks(small_model) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        Predictor(small_model, detector=None, batch_size=0)
    with pytest.raises(ConfigError, match="no detector"):
        Predictor(small_model, detector=None).predict(_grey())


def test_paths_folders_unreadable_and_summary(tmp_path: Path, small_model) -> None:
    Image.fromarray(_grey(90)).save(tmp_path / "a.png")
    Image.fromarray(_grey(160)).save(tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"broken")
    predictor = Predictor(small_model, detector=None)
    single = predictor.predict(tmp_path / "a.png", detect=False)
    assert single.path.endswith("a.png") and len(single.faces) == 1
    results = predictor.predict(tmp_path, detect=False)
    assert [Path(r.path).name for r in results] == ["a.png", "b.jpg", "c.jpg"]
    assert results[2].error.startswith(str(tmp_path / "c.jpg")) and results[2].faces == []
    mixed = predictor.predict([tmp_path / "b.jpg", _grey(), str(tmp_path / "missing.png")], detect=False)
    assert [r.ok for r in mixed] == [True, True, False]
    summary = summarize(mixed)
    assert (summary.images, summary.read, summary.unreadable, summary.faces) == (3, 2, 1, 2)


@pytest.fixture(scope="module")
def group_photos(utk_files):
    from adiencekit.inference.images import read_image

    photos = []
    for seed in range(3):
        faces = [read_image(utk_files[200 + 37 * (3 * seed + k)]) for k in range(3)]
        photo, placed = compose_photo(faces, canvas=(900, 600), sizes=(110, 180), background="noise", seed=seed)
        photos.append((photo, placed, faces))
    return photos


@pytest.mark.realdata
def test_faces_are_batched_across_photos(group_photos, small_model, detector, monkeypatch) -> None:
    photos = [photo for photo, _, _ in group_photos]
    reference = Predictor(small_model, detector=detector, batch_size=64).predict(photos)
    calls = []
    predictor = Predictor(small_model, detector=detector, batch_size=4)
    original = predictor._call
    monkeypatch.setattr(predictor, "_call", lambda batch: calls.append(len(batch)) or original(batch))
    batched = predictor.predict(photos)
    assert [len(r.faces) for r in batched] == [len(r.faces) for r in reference] == [3, 3, 3]
    assert calls[0] == 4  # the first call holds faces of two photos
    assert sum(calls) == 9
    for a, b in zip(reference, batched):
        for fa, fb in zip(a.faces, b.faces):
            assert fa.box == fb.box
            np.testing.assert_allclose(list(fa.age.probabilities.values()), list(fb.age.probabilities.values()),
                                       atol=1e-5)


@pytest.mark.realdata
def test_each_face_is_matched_to_its_placement(group_photos, small_model, detector) -> None:
    """Every placed face is found, and its aligned crop is the crop of that face, not another."""
    predictor = Predictor(small_model, detector=detector, crop=CropSpec(margin=0.1, size=96))
    for photo, placed, faces in group_photos:
        result = predictor.predict(photo)
        matched = match_faces(placed, [f.box for f in result.faces])
        assert sorted(matched) == [0, 1, 2]
        own = []
        for face in faces:
            alone = detector.detect(face)[0]
            own.append(crop_face(face, alone, predictor.crop).astype(float))
        for index, face_index in matched.items():
            face = result.faces[face_index]
            crop = crop_face(photo, _as_detection(face), predictor.crop).astype(float)
            # The centre of the crop: the border reaches past the pasted square.
            distances = [np.abs(crop[24:72, 24:72] - other[24:72, 24:72]).mean() for other in own]
            assert int(np.argmin(distances)) == index, distances
            others = [d for k, d in enumerate(distances) if k != index]
            assert distances[index] < 25 and distances[index] < 0.5 * min(others), distances


def _as_detection(face):
    from adiencekit.inference.detection import Detection

    return Detection(box=face.box, score=face.score, landmarks=face.landmarks)


@pytest.mark.realdata
def test_no_face_photo_is_counted(small_model, detector) -> None:
    results = Predictor(small_model, detector=detector).predict([_grey(shape=(200, 300, 3))])
    assert results[0].ok and results[0].faces == []
    assert summarize(results).no_face == 1


@pytest.mark.realdata
def test_exif_rotated_photo_gives_boxes_on_the_upright_photo(tmp_path: Path, group_photos, small_model,
                                                               detector) -> None:
    """A phone photo stored sideways with an EXIF orientation tag is labelled upright."""
    photo, placed, _ = group_photos[0]
    stored = Image.fromarray(photo).transpose(Image.Transpose.ROTATE_90)  # as the sensor wrote it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    result = Predictor(small_model, detector=detector).predict(path)
    assert result.size == (photo.shape[1], photo.shape[0])
    assert sorted(match_faces(placed, [f.box for f in result.faces])) == [0, 1, 2]


def test_a_predictor_labels_faces_with_an_ensemble_preset(tmp_path) -> None:
    from adiencekit.models import AgeGenderEnsemble, scratch_cnn

    members = [scratch_cnn(task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8,
                           name=f"member_{i}") for i in range(2)]
    ensemble = AgeGenderEnsemble(members)
    folder = ensemble.save_to_preset(tmp_path / "preset", image_size=36, metrics={"protocol": "none"})
    predictor = Predictor(str(folder), detector=None)
    pixels = np.random.default_rng(5).integers(0, 256, (3, 36, 36, 3), dtype=np.uint8)
    probabilities = predictor.predict_crops(pixels)
    assert probabilities["gender"].shape == (3, 2) and probabilities["age"].shape == (3, 8)
    face = predictor.predict(pixels[0], detect=False).faces[0]
    assert face.gender.label in GENDERS and face.age.label in ensemble.class_names["age"]
    assert face.gender.probability == pytest.approx(float(probabilities["gender"][0].max()), abs=1e-5)


def test_a_model_that_does_not_name_its_heads_is_refused_unless_named() -> None:
    """Which output is which head is asked of the model, never guessed from its class count."""
    plain = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ConfigError, match="does not say which output is which head"):
        Predictor(plain, detector=None)
    with pytest.raises(ConfigError, match="has 2 classes, the age head has 8"):
        Predictor(plain, detector=None, heads=("age",))
    predictor = Predictor(plain, detector=None, heads=("gender",))
    assert predictor.heads == ["gender"]
    face = predictor.predict(_grey(shape=(16, 16, 3)), detect=False).faces[0]
    assert face.age is None and face.gender.label in GENDERS


def test_class_names_come_from_the_model() -> None:
    """A single-task model with another class count labels with its own class names."""
    from adiencekit.models import create_model

    model = create_model("scratch_cnn", task="age", classes=3, input_shape=(16, 16, 3), conv_layers=2,
                         base_filters=4, dense_units=8)
    face = Predictor(model, detector=None).predict(_grey(shape=(16, 16, 3)), detect=False).faces[0]
    assert list(face.age.probabilities) == ["0", "1", "2"]
