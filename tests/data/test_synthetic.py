"""Tests for adiencekit.data.synthetic: layout, labels, determinism and learnability."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from adiencekit.data.synthetic import (
    FOLD_COLUMNS,
    SYNTHETIC_VERSION,
    default_synthetic_root,
    ensure_synthetic_adience,
    make_synthetic_adience,
)
from adiencekit.labels import AGE_GROUPS, parse_age, parse_gender

CANONICAL_AGES = {group.label for group in AGE_GROUPS}


def _read_folds(root: Path) -> pd.DataFrame:
    frames = []
    for fold in range(5):
        frame = pd.read_csv(root / f"fold_{fold}_data.txt", sep="\t", dtype=str, keep_default_na=False)
        frames.append(frame.assign(fold=fold))
    return pd.concat(frames, ignore_index=True)


def _image_path(root: Path, row: pd.Series, faces: str = "aligned") -> Path:
    prefix = {"aligned": "landmark_aligned_face", "faces": "coarse_tilt_aligned_face"}[faces]
    return root / faces / row.user_id / f"{prefix}.{row.face_id}.{row.original_image}"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def default_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The default synthetic data set, built once through ensure_synthetic_adience."""
    root = tmp_path_factory.mktemp("home") / SYNTHETIC_VERSION
    start = time.perf_counter()
    ensure_synthetic_adience(root)
    return root, time.perf_counter() - start


def test_default_tree_layout_and_header(default_tree: tuple[Path, float]) -> None:
    root, seconds = default_tree
    assert seconds < 30, f"building the default tree took {seconds:.1f} s"
    for fold in range(5):
        text = (root / f"fold_{fold}_data.txt").read_text(encoding="utf-8")
        assert text.split("\n", 1)[0] == "\t".join(FOLD_COLUMNS)
        assert not text.endswith("\n"), "the real release has no newline after the last row"
        assert all(line.count("\t") == 11 for line in text.split("\n"))
    frame = _read_folds(root)
    assert len(frame) == 5 * 8 * 40
    assert frame.groupby("fold").user_id.nunique().tolist() == [8] * 5
    assert frame.user_id.str.fullmatch(r"\d{8}@N\d{2}").all()
    assert frame.original_image.str.fullmatch(r"\d{10}_[0-9a-f]{10}_o\.jpg").all()
    assert not frame.duplicated(["user_id", "face_id", "original_image"]).any()
    sizes = set()
    for row in frame.itertuples():
        with Image.open(_image_path(root, row)) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert image.width == image.height
            sizes.add(image.width)
    assert sizes == {200, 320, 480}
    # Nothing else in the tree (no staging folders, no stray files).
    assert sorted(p.name for p in root.iterdir()) == ["aligned"] + [f"fold_{k}_data.txt" for k in range(5)]
    assert not list(root.parent.glob(f".{SYNTHETIC_VERSION}-*"))


def test_subject_exclusive_and_balanced(default_tree: tuple[Path, float]) -> None:
    frame = _read_folds(default_tree[0])
    assert (frame.groupby("user_id").fold.nunique() == 1).all(), "a user appears in two folds"
    clean = frame[frame.age.isin(CANONICAL_AGES) & frame.gender.isin(["f", "m"])]
    assert set(clean.age) == CANONICAL_AGES
    gender_share = (clean.gender == "f").mean()
    assert 0.4 < gender_share < 0.6
    assert clean.age.value_counts().min() >= 0.5 * clean.age.value_counts().max()
    # Each person (user, face_id) keeps one gender and one age group.
    assert (clean.groupby(["user_id", "face_id"]).age.nunique() == 1).all()
    assert (clean.groupby(["user_id", "face_id"]).gender.nunique() == 1).all()


def test_label_irregularities_are_few_but_present(default_tree: tuple[Path, float]) -> None:
    frame = _read_folds(default_tree[0])
    ages, genders = frame.age, frame.gender
    assert (ages == "None").sum() >= 5
    assert (genders == "u").sum() >= 5
    assert (genders == "").sum() >= 3
    assert (ages == "(27, 32)").sum() >= 3
    bare = ages[ages.str.fullmatch(r"\d+")]
    assert len(bare) >= 3
    clean = ages.isin(CANONICAL_AGES) & genders.isin(["f", "m"])
    assert clean.mean() > 0.9, "most rows must be clean"
    # Every raw label parses; stray ages map to the group of the person they belong to.
    for row in frame.itertuples():
        parse_gender(row.gender)
        mapped = parse_age(row.age, policy="map").label
        if row.age in CANONICAL_AGES or row.age == "None":
            continue
        person = frame[(frame.user_id == row.user_id) & (frame.face_id == row.face_id) & frame.age.isin(CANONICAL_AGES)]
        if len(person):
            assert mapped == parse_age(person.age.iloc[0]).label, row


def test_faces_layout_and_determinism(tmp_path: Path) -> None:
    kwargs = dict(users_per_fold=1, images_per_user=6, image_sizes=(64, 96), faces="faces")
    first = make_synthetic_adience(tmp_path / "a", seed=3, **kwargs)
    second = make_synthetic_adience(tmp_path / "b", seed=3, **kwargs)
    other = make_synthetic_adience(tmp_path / "c", seed=4, **kwargs)
    assert _digest(first) == _digest(second), "same seed must write the same bytes"
    assert _digest(first) != _digest(other)
    frame = _read_folds(first)
    assert len(frame) == 30
    for row in frame.itertuples():
        assert _image_path(first, row, "faces").is_file()
    assert not (first / "aligned").exists()


def test_overwrite_and_argument_checks(tmp_path: Path) -> None:
    small = dict(users_per_fold=1, images_per_user=2, image_sizes=(48,))
    root = make_synthetic_adience(tmp_path, **small)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_synthetic_adience(tmp_path, **small)
    make_synthetic_adience(tmp_path, overwrite=True, seed=1, **small)
    assert len(_read_folds(root)) == 10
    bad = [
        (dict(users_per_fold=0), "users_per_fold must be a positive int"),
        (dict(images_per_user=2.5), "images_per_user must be a positive int"),
        (dict(image_sizes=()), "image_sizes must be a non-empty tuple"),
        (dict(image_sizes=(16,)), "ints >= 32"),
        (dict(faces="crops"), "faces must be one of"),
        (dict(seed=-1), "seed must be a non-negative int"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            make_synthetic_adience(tmp_path / "bad", **kwargs)


def test_default_root_and_ensure_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        default_tree: tuple[Path, float]) -> None:
    monkeypatch.setenv("ADIENCEKIT_HOME", str(tmp_path / "home"))
    assert default_synthetic_root() == tmp_path / "home" / SYNTHETIC_VERSION
    monkeypatch.delenv("ADIENCEKIT_HOME")
    assert default_synthetic_root() == Path.home() / ".cache" / "adiencekit" / SYNTHETIC_VERSION
    root = default_tree[0]
    before = _digest(root)
    fold0 = (root / "fold_0_data.txt").stat().st_mtime_ns
    start = time.perf_counter()
    assert ensure_synthetic_adience(root) == root
    assert time.perf_counter() - start < 1.0, "an existing tree must be reused, not rebuilt"
    assert (root / "fold_0_data.txt").stat().st_mtime_ns == fold0 and _digest(root) == before
    # A non-empty folder that is not a data set is left alone.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="does not hold a complete synthetic data set"):
        ensure_synthetic_adience(junk)


@pytest.mark.slow
def test_learnable_by_a_small_cnn_on_held_out_users(default_tree: tuple[Path, float]) -> None:
    """A tiny CNN trained at 64x64 on folds 0-3 must clearly beat chance on fold 4's users.

    Measured (CPU, seeds 0-2): gender 0.96-0.98, age 0.38-0.42 exact and 0.90-0.92 one-off
    accuracy; chance is 0.5, 0.125 and about 0.34.
    """
    import keras

    from adiencekit.data.pipeline import build_pipeline

    root = default_tree[0]
    frame = _read_folds(root)

    def subset(folds: list[int]) -> tuple[list[str], dict[str, np.ndarray]]:
        part = frame[frame.fold.isin(folds)]
        paths = [str(_image_path(root, row)) for row in part.itertuples()]
        labels = {
            "gender": np.array([parse_gender(g) for g in part.gender], np.int32),
            "age": np.array([parse_age(a, policy="map").label for a in part.age], np.int32),
        }
        return paths, labels

    train_paths, train_labels = subset([0, 1, 2, 3])
    test_paths, test_labels = subset([4])
    assert not set(frame[frame.fold == 4].user_id) & set(frame[frame.fold < 4].user_id)

    keras.utils.set_random_seed(0)
    epochs, steps = 12, int(np.ceil(len(train_paths) / 32))
    train = build_pipeline(train_paths, train_labels, training=True, image_size=72, crop_size=64, batch_size=32,
                           seed=0, cache=True, rotation=10.0)
    test = build_pipeline(test_paths, None, training=False, image_size=72, crop_size=64, batch_size=64)

    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for filters in (16, 32, 64, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.8)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = {
        "gender": keras.layers.Dense(2, activation="softmax", name="gender")(x),
        "age": keras.layers.Dense(8, activation="softmax", name="age")(x),
    }
    model = keras.Model(inputs, outputs)
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, epochs * steps)
    model.compile(
        keras.optimizers.Adam(schedule),
        loss={name: keras.losses.SparseCategoricalCrossentropy(ignore_class=-1) for name in outputs},
    )
    model.fit(train, epochs=epochs, verbose=0, shuffle=False)
    predictions = model.predict(test, verbose=0)

    gender, age = test_labels["gender"], test_labels["age"]
    gender_pred = predictions["gender"].argmax(-1)
    age_pred = predictions["age"].argmax(-1)
    gender_accuracy = (gender_pred == gender)[gender >= 0].mean()
    age_accuracy = (age_pred == age)[age >= 0].mean()
    one_off = (np.abs(age_pred - age) <= 1)[age >= 0].mean()
    print(f"held-out gender {gender_accuracy:.3f}, age {age_accuracy:.3f}, one-off {one_off:.3f}")
    assert gender_accuracy > 0.85, gender_accuracy
    assert age_accuracy > 0.30, age_accuracy
    assert one_off > 0.70, one_off


def test_paths_expand_tilde_and_an_unwritable_home_is_a_dataset_error(tmp_path, monkeypatch):
    from adiencekit.errors import DatasetNotFoundError

    monkeypatch.setenv("HOME", str(tmp_path))
    root = make_synthetic_adience("~/tiny", users_per_fold=1, images_per_user=2, image_sizes=(32,))
    assert root == tmp_path / "tiny" and (root / "fold_0_data.txt").is_file()
    (tmp_path / "blocker").write_text("a file where the data folder should be")
    with pytest.raises(DatasetNotFoundError, match=r"cannot build the synthetic data set in .*blocker.*ADIENCEKIT_HOME"):
        ensure_synthetic_adience(tmp_path / "blocker" / "synthetic")
