"""Tests for adiencekit.data.adience.AdienceDataset: real faces, tiny bad trees, splits."""

from __future__ import annotations

import doctest
import io
import os
from pathlib import Path

import numpy as np
import pytest

from PIL import Image

from adiencekit.data import AdienceDataset, InvalidRowError, Split, make_synthetic_adience
from adiencekit.errors import DatasetNotFoundError
from adiencekit.data import adience as adience_module
from adiencekit.data.folds import FOLD_COLUMNS

HEADER = "\t".join(FOLD_COLUMNS)
GEOMETRY = ["0", "0", "10", "10", "0", "0", "50"]


def jpeg(mode: str = "RGB", size: int = 24, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    colour = {"RGB": (200, 100, 50), "L": 128, "CMYK": (10, 20, 30, 40), "RGBA": (1, 2, 3, 4)}[mode]
    Image.new(mode, (size, size), colour).save(buffer, fmt)
    return buffer.getvalue()


def write_tree(root: Path, rows: list[tuple], faces: str = "aligned", images: dict[int, bytes | None] | None = None,
               ) -> Path:
    """rows: (fold, user, image, face, age, gender); images: row index -> bytes (None: no file).

    By default every row gets a small valid JPEG at its Adience path.
    """
    images = images or {}
    folder, prefix = adience_module.FACE_LAYOUTS[faces]
    lines: dict[int, list[str]] = {k: [] for k in range(5)}
    for index, (fold, user, image, face, age, gender) in enumerate(rows):
        lines[fold].append("\t".join([user, image, face, age, gender, *GEOMETRY]))
        content = images.get(index, jpeg())
        if content is None or "/" in user or ".." in user or "/" in image or not face.isdigit():
            continue
        path = root / folder / user / f"{prefix}.{face}.{image}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    root.mkdir(parents=True, exist_ok=True)
    for fold, fold_lines in lines.items():
        (root / f"fold_{fold}_data.txt").write_text("\n".join([HEADER, *fold_lines]))
    return root


def good_rows() -> list[tuple]:
    """Two users per fold, three faces each, with a few missing labels."""
    rows = []
    for fold in range(5):
        for u in range(2):
            for face in range(1, 4):
                age = ["(0, 2)", "(25, 32)", "None", "35"][(fold + u + face) % 4]
                gender = ["f", "m", "u", ""][(fold * 2 + u + face) % 4]
                rows.append((fold, f"{fold}{u}@N0{fold}", f"{fold}{u}{face}_abc_o.jpg", str(face), age, gender))
    return rows


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return make_synthetic_adience(tmp_path_factory.mktemp("synthetic"), users_per_fold=3, images_per_user=6,
                                  image_sizes=(48,))


def test_docstring_examples_run():
    result = doctest.testmod(adience_module)
    assert result.attempted >= 10 and result.failed == 0


# -- real data -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_faces_dataset(tmp_path_factory, request):
    faces = request.getfixturevalue("adience_faces_dir")
    folds = request.getfixturevalue("adience_folds_dir")
    root = tmp_path_factory.mktemp("adience_root")
    os.symlink(faces, root / "faces")
    return AdienceDataset(root, faces="faces", folds_dir=folds)


@pytest.mark.realdata
def test_real_face_crops_load_and_the_rest_count_as_missing(real_faces_dataset):
    data = real_faces_dataset
    report = data.report()
    assert len(data) == 19 and report.input() == 19370
    assert report.dropped("missing image") == 19370 - 19 and report.dropped_total() == 19370 - 19
    assert report.dropped("missing image", 0) == 4484 - 19
    assert set(data.frame["user_id"]) == {"30601258@N03"} and set(data.frame["fold"]) == {0}
    assert data.frame["gender"].value_counts().to_dict() == {1: 11, 0: 8}
    assert set(data.frame["age"]) == {4} and set(data.frame["age_raw"]) == {"(25, 32)"}
    assert all(Path(p).is_file() for p in data.frame["path"])
    assert all(Path(p).name.startswith("coarse_tilt_aligned_face.") for p in data.frame["path"])
    report.check({0: 19})
    assert data.info["images"] == 19 and data.info["dropped"] == {"missing image": 19351}


@pytest.mark.realdata
def test_real_face_crops_make_a_pipeline_batch(real_faces_dataset):
    split = real_faces_dataset.split(test_fold=0, task="multitask", val_fraction=0.0, allow_empty=True)
    assert len(split.test) == 19 and len(split.train) == 0
    images, labels = next(iter(split.test.pipeline(image_size=64, crop_size=56, batch_size=8)))
    assert tuple(images.shape) == (8, 56, 56, 3) and images.dtype.name == "float32"
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 255.0
    assert labels["gender"].dtype.name == "int32" and labels["age"].numpy().tolist() == [4] * 8


@pytest.mark.realdata
def test_real_scan_of_19k_paths_is_quick(real_faces_dataset, adience_folds_dir):
    import time

    start = time.perf_counter()
    AdienceDataset(real_faces_dataset.root, faces="faces", folds_dir=adience_folds_dir)
    assert time.perf_counter() - start < 15


# -- synthetic tree ---------------------------------------------------------------------
def test_synthetic_tree_loads_and_report_adds_up(synthetic_root):
    data = AdienceDataset(synthetic_root)
    frame = data.frame
    assert list(frame.columns[:9]) == ["user_id", "original_image", "face_id", "fold", "age_raw", "gender_raw",
                                      "age", "gender", "path"]
    assert len(frame) == data.report().kept() == data.report().input() == 5 * 3 * 6
    assert frame["age"].dtype == np.int32 and frame["face_id"].dtype == np.int64
    assert frame.groupby("user_id")["fold"].nunique().max() == 1
    assert all(Path(p).is_file() for p in frame["path"])
    text = data.summary()
    assert "total" in text and "female" in text and "25-32" in text
    info = data.info
    assert info["images"] == len(frame) and sum(info["images_per_fold"].values()) == len(frame)
    assert sum(info["gender_counts"].values()) == len(frame) and info["users"] == 15


def test_cross_validation_yields_five_subject_exclusive_splits(synthetic_root):
    data = AdienceDataset(synthetic_root)
    splits = list(data.cross_validation(task="gender", val_fraction=0.2, seed=1))
    assert [s.test_fold for s in splits] == [0, 1, 2, 3, 4]
    tested = set()
    for split in splits:
        train, val, test = (set(s.frame["user_id"]) for s in split)
        assert not train & val and not (train | val) & test
        tested |= set(split.test.paths)
    assert len(tested) == int((data.frame["gender"] >= 0).sum())


def test_split_is_deterministic_for_a_seed(synthetic_root):
    data = AdienceDataset(synthetic_root)
    a, b = data.split(2, "age", 0.2, seed=5), data.split(2, "age", 0.2, seed=5)
    assert [s.paths for s in a] == [s.paths for s in b]
    assert isinstance(a, Split) and (a.val.labels >= 0).all()


def test_multitask_labels_are_dicts_with_missing(tmp_path):
    data = AdienceDataset(write_tree(tmp_path, good_rows()))
    split = data.split(test_fold=0, task="multitask", val_fraction=0.25, seed=0)
    labels = split.train.labels
    assert set(labels) == {"gender", "age"}
    assert (labels["gender"] == -1).any() and (labels["age"] == -1).any()
    assert ((labels["gender"] >= 0) | (labels["age"] >= 0)).all()
    gender_split = data.split(test_fold=0, task="gender", val_fraction=0.25, seed=0)
    usable = (data.frame["fold"] != 0) & (data.frame["gender"] >= 0)
    assert len(gender_split.train) + len(gender_split.val) == int(usable.sum())
    assert gender_split.unlabelled["train"] == int(((data.frame["fold"] != 0) & (data.frame["gender"] < 0)).sum())


def test_random_split_warns_about_leaking_subjects(synthetic_root):
    data = AdienceDataset(synthetic_root)
    with pytest.warns(UserWarning, match="leaks subjects.*inflates accuracy"):
        split = data.random_split(task="gender", val_fraction=0.1, test_fraction=0.2, seed=0)
    assert split.test_fold is None and split.protocol == "random by image"


def test_age_policy_map_keeps_stray_ages(tmp_path):
    root = write_tree(tmp_path, good_rows())
    dropped, mapped = AdienceDataset(root, age_policy="drop"), AdienceDataset(root, age_policy="map")
    strays = (dropped.frame["age_raw"] == "35").sum()
    assert strays and (dropped.frame.loc[dropped.frame["age_raw"] == "35", "age"] == -1).all()
    assert (mapped.frame.loc[mapped.frame["age_raw"] == "35", "age"] == 5).all()
    assert dropped.report().missing("stray age (policy 'drop')") == strays
    assert mapped.report().notes("age mapped: number") == strays
    assert dropped.report().missing("missing age") == (dropped.frame["age_raw"] == "None").sum()
    assert dropped.report().missing("missing gender") == dropped.frame["gender_raw"].isin(["u", ""]).sum()


def test_faces_layout_and_folds_dir(tmp_path):
    rows = good_rows()
    write_tree(tmp_path / "data", rows, faces="faces")
    folds_dir = tmp_path / "meta"
    folds_dir.mkdir()
    for k in range(5):
        os.replace(tmp_path / "data" / f"fold_{k}_data.txt", folds_dir / f"fold_{k}_data.txt")
    data = AdienceDataset(tmp_path / "data", faces="faces", folds_dir=folds_dir)
    assert len(data) == len(rows)
    first = data.frame.iloc[0]
    expected = tmp_path / "data" / "faces" / first.user_id / f"coarse_tilt_aligned_face.{first.face_id}.{first.original_image}"
    assert first.path == str(expected)
    # Only faces/ exists: asking for aligned/ is an error that names both and the fix.
    with pytest.raises(DatasetNotFoundError, match=r"aligned.*faces='aligned'.*data/faces exists: pass faces='faces' "
                       r"\(command line: --faces faces\)") as error:
        AdienceDataset(tmp_path / "data", faces="aligned", folds_dir=folds_dir)
    assert str(tmp_path / "data" / "aligned") in str(error.value)


# -- bad rows ----------------------------------------------------------------------------
BAD_ROWS = [
    ((0, "..", "a.jpg", "1", "(0, 2)", "f"), "unsafe path"),
    ((0, "/etc", "a.jpg", "1", "(0, 2)", "f"), "unsafe path"),
    ((0, "a/b", "a.jpg", "1", "(0, 2)", "f"), "unsafe path"),
    ((0, "ok", "../../x.jpg", "1", "(0, 2)", "f"), "unsafe path"),
    ((0, "ok", "c:x.jpg", "1", "(0, 2)", "f"), "unsafe path"),
    ((0, "ok", "a.jpg", "x1", "(0, 2)", "f"), "invalid id"),
    ((0, "", "a.jpg", "1", "(0, 2)", "f"), "invalid id"),
    ((0, "ok", "b.jpg", "1", "(0, 2)", "x"), "unknown gender"),
    ((0, "ok", "c.jpg", "1", "old", "m"), "unknown age"),
    ((0, "ok", "d.jpg", "1", "(9, 3)", "m"), "unknown age"),
]


@pytest.mark.parametrize("bad_row, reason", BAD_ROWS)
def test_bad_rows_are_counted_skips(tmp_path, bad_row, reason):
    rows = [*good_rows(), bad_row]
    data = AdienceDataset(write_tree(tmp_path, rows))
    assert len(data) == len(rows) - 1
    assert data.report().dropped(reason, 0) == 1 and data.report().dropped_total() == 1
    assert data.info["dropped"] == {reason: 1}
    assert all(Path(p).resolve().is_relative_to(tmp_path.resolve()) for p in data.frame["path"])


@pytest.mark.parametrize("bad_row, reason", BAD_ROWS[::3])
def test_bad_rows_raise_under_strict_naming_file_and_line(tmp_path, bad_row, reason):
    root = write_tree(tmp_path, [*good_rows(), bad_row])
    with pytest.raises(InvalidRowError, match=rf"fold_0_data\.txt, line 8: {reason}"):
        AdienceDataset(root, strict=True)


def test_strict_accepts_a_clean_tree_with_missing_labels(tmp_path):
    data = AdienceDataset(write_tree(tmp_path, good_rows()), strict=True)
    assert len(data) == 30 and data.report().missing() > 0


def test_conflicts_are_skips_and_raise_under_strict(tmp_path):
    rows = [*good_rows(), (0, "00@N00", "001_abc_o.jpg", "1", "(0, 2)", "m")]  # clashes with row 0
    root = write_tree(tmp_path, rows)
    data = AdienceDataset(root)
    assert data.report().dropped("conflicting duplicate", 0) == 2 and len(data) == len(rows) - 2
    with pytest.raises(InvalidRowError, match="conflicting duplicate"):
        AdienceDataset(root, strict=True)


def test_exact_duplicates_are_not_strict_errors(tmp_path):
    rows = good_rows()
    root = write_tree(tmp_path, [*rows, rows[0]])
    data = AdienceDataset(root, strict=True)
    assert len(data) == len(rows) and data.report().dropped("exact duplicate") == 1


# -- bad images --------------------------------------------------------------------------
def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def tiff_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "TIFF")
    return buffer.getvalue()


BAD_IMAGES = {
    0: (None, "missing image"),
    1: (b"", "bad image: empty"),
    2: (truncated_jpeg(), "bad image: truncated"),
    3: (b"this is not an image at all" * 10, "bad image: corrupt"),
    4: (tiff_bytes(), "bad image: unsupported"),
}
CONVERTED = {
    5: (jpeg("L"), "converted: grayscale"),
    6: (jpeg("CMYK"), "converted: CMYK"),
    7: (jpeg("RGB", fmt="PNG"), "converted: PNG saved as .jpg"),
    8: (jpeg("RGB", fmt="GIF"), "converted: GIF saved as .jpg"),
}


def test_bad_images_are_skips_by_kind_and_conversions_are_notes(tmp_path):
    images = {i: content for i, (content, _) in {**BAD_IMAGES, **CONVERTED}.items()}
    data = AdienceDataset(write_tree(tmp_path, good_rows(), images=images))
    report = data.report()
    for _, reason in BAD_IMAGES.values():
        assert report.dropped(reason) == 1, reason
    for _, note in CONVERTED.values():
        assert report.notes(note) >= 1, note
    assert len(data) == 30 - len(BAD_IMAGES) and report.dropped_total() == len(BAD_IMAGES)
    assert "bad image: truncated" in str(report) and "converted: grayscale" in str(report)


def test_check_images_false_only_stats_the_files(tmp_path):
    images = {i: content for i, (content, _) in BAD_IMAGES.items()}
    data = AdienceDataset(write_tree(tmp_path, good_rows(), images=images), check_images=False)
    report = data.report()
    assert report.dropped("missing image") == 1 and report.dropped("bad image: empty") == 1
    assert report.dropped_total() == 2 and len(data) == 28  # truncated/corrupt go unnoticed
    assert report.notes() == 0


def test_bad_image_raises_under_strict(tmp_path):
    root = write_tree(tmp_path, good_rows(), images={3: b"junk"})
    with pytest.raises(InvalidRowError, match=r"line 5: bad image: corrupt"):
        AdienceDataset(root, strict=True)


# -- arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [({"faces": "crops"}, r"faces must be one of \('aligned', 'faces'\), got 'crops'"),
     ({"age_policy": "keep"}, r"age_policy must be one of \('drop', 'map'\), got 'keep'"),
     ({"check_images": "yes"}, "check_images must be True or False, got 'yes'"),
     ({"strict": 1}, "strict must be True or False, got 1")],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdienceDataset(tmp_path, **kwargs)


def test_missing_dataset_names_the_files_and_the_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fold_0_data\.txt.*\n.*\n.*manual download"):
        AdienceDataset(tmp_path / "adience")


def test_split_argument_errors(synthetic_root):
    data = AdienceDataset(synthetic_root)
    with pytest.raises(ValueError, match="test_fold must be one of the folds"):
        data.split(test_fold=7)
    with pytest.raises(ValueError, match="task must be one of"):
        next(data.cross_validation(task="race"))


def test_home_relative_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    make_synthetic_adience(tmp_path / "adience", users_per_fold=1, images_per_user=2, image_sizes=(48,))
    dataset = AdienceDataset("~/adience", folds_dir="~/adience")
    assert dataset.root == tmp_path / "adience" and len(dataset.frame) == 10
