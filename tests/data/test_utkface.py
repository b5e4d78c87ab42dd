"""Tests for adiencekit.data.utkface.UTKFaceDataset."""

from __future__ import annotations

import doctest
import io
from pathlib import Path

import numpy as np
import pytest

from PIL import Image

from adiencekit.data import InvalidRowError, UTKFaceDataset
from adiencekit.errors import DataError
from adiencekit.data import utkface as utkface_module
from adiencekit.data.utkface import UTKFACE_URL, parse_utkface_name
from adiencekit.labels import age_to_group


def jpeg(mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (16, 16), 90 if mode == "L" else (90, 80, 70)).save(buffer, "JPEG")
    return buffer.getvalue()


def write_utk(root: Path, names: list[str], csv: str | None = None, content: dict[str, bytes] | None = None) -> Path:
    (root / "images").mkdir(parents=True)
    for name in names:
        (root / "images" / name).write_bytes((content or {}).get(name, jpeg()))
    if csv is not None:
        (root / "labels.csv").write_text(csv)
    return root


GOOD = [f"{age}_{gender}_{race}_2017011{i}.jpg.chip.jpg"
        for i, (age, gender, race) in enumerate([(1, 0, 0), (7, 1, 1), (35, 0, 2), (80, 1, 3), (116, 0, 4),
                                                 (22, 1, 0), (45, 0, 1), (3, 1, 2), (26, 0, 3), (60, 1, 4)])]


def test_docstring_examples_run():
    result = doctest.testmod(utkface_module)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize(
    "name, expected",
    [("26_0_1_20170116.jpg.chip.jpg", {"age_years": 26, "gender": 1, "race": 1}),
     ("9_1_4_2017.jpg.chip.jpg", {"age_years": 9, "gender": 0, "race": 4}),
     ("100_1_0_20170110183726390.jpg.chip.jpg", {"age_years": 100, "gender": 0, "race": 0}),
     ("26_0_1_20170116.jpg", {"age_years": 26, "gender": 1, "race": 1}),
     ("26_1_20170116.jpg.chip.jpg", None), ("26_2_1_2017.jpg.chip.jpg", None), ("26_0_5_2017.jpg.chip.jpg", None),
     ("x_0_1_2017.jpg.chip.jpg", None), ("200_0_1_2017.jpg.chip.jpg", None), ("26_0_1_2017.png", None)],
)
def test_parse_utkface_name_converts_gender_to_female_0(name, expected):
    assert parse_utkface_name(name) == expected


def test_reads_labels_from_names_and_maps_ages(tmp_path):
    data = UTKFaceDataset(write_utk(tmp_path, GOOD))
    frame = data.frame.set_index("filename")
    assert len(data) == 10 and data.report().kept() == 10
    row = frame.loc["35_0_2_20170112.jpg.chip.jpg"]
    assert (row.age_years, row.gender, row.race, row.age) == (35, 1, 2, 5)  # male -> 1, 35 -> (38, 43)
    assert frame.loc["116_0_4_20170114.jpg.chip.jpg"].age == 7
    assert (frame["age"] == [age_to_group(a) for a in frame["age_years"]]).all()
    assert frame["gender"].dtype == np.int32 and set(frame["gender"]) == {0, 1}
    assert data.info["gender_counts"] == {"female": 5, "male": 5} and data.info["age_years_range"] == [1, 116]
    assert "no identities" in data.summary() and "no identities" in UTKFaceDataset.__doc__


def test_malformed_names_and_other_files_are_counted_skips(tmp_path):
    names = [*GOOD, "26_1_2017.jpg.chip.jpg", "notes.jpg", "a_b_c_d.jpg.chip.jpg"]
    root = write_utk(tmp_path, names)
    (root / "images" / "readme.txt").write_text("hi")
    (root / "images" / "sub.jpg").mkdir()
    data = UTKFaceDataset(root)
    report = data.report()
    assert report.dropped("malformed name") == 3 and report.dropped("not a .jpg file") == 2
    assert report.input() == 15 and len(data) == 10
    report.check({"all": 10})
    with pytest.raises(InvalidRowError, match="malformed name: '26_1_2017.jpg.chip.jpg'"):
        UTKFaceDataset(root, strict=True)


def test_bad_images_are_skipped_and_grayscale_noted(tmp_path):
    content = {GOOD[0]: b"", GOOD[1]: b"garbage" * 20, GOOD[2]: jpeg("L")}
    data = UTKFaceDataset(write_utk(tmp_path, GOOD, content=content))
    report = data.report()
    assert report.dropped("bad image: empty") == 1 and report.dropped("bad image: corrupt") == 1
    assert report.notes("converted: grayscale") == 1 and len(data) == 8
    unchecked = UTKFaceDataset(tmp_path, check_images=False)
    assert len(unchecked) == 10


def test_labels_csv_is_cross_checked(tmp_path):
    csv = "filename,age,gender,race\n" + "\n".join(
        [f"{GOOD[0]},1,0,0", f"{GOOD[1]},8,1,1", "gone_0_0_2017.jpg.chip.jpg,5,0,0"])
    data = UTKFaceDataset(write_utk(tmp_path, GOOD, csv=csv))
    report = data.report()
    assert report.dropped("labels.csv disagrees") == 1 and len(data) == 9
    assert report.notes("labels.csv row without image") == 1
    assert GOOD[1] not in set(data.frame["filename"])


def test_labels_csv_with_wrong_columns_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"labels\.csv, line 1: expected the columns"):
        UTKFaceDataset(write_utk(tmp_path, GOOD, csv="name,years\nx,1\n"))


def test_missing_images_folder_names_it_and_the_source(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        UTKFaceDataset(tmp_path)
    assert str(tmp_path / "images") in str(error.value) and UTKFACE_URL in str(error.value)


def test_split_is_random_by_image_and_deterministic(tmp_path):
    data = UTKFaceDataset(write_utk(tmp_path, GOOD))
    a = data.split(task="age", val_fraction=0.2, test_fraction=0.3, seed=4)
    b = data.split(task="age", val_fraction=0.2, test_fraction=0.3, seed=4)
    assert [len(s) for s in a] == [5, 2, 3] and [s.paths for s in a] == [s.paths for s in b]
    assert a.test_fold is None and a.protocol == "random by image"
    multi = data.split(task="multitask")
    assert set(multi.train.labels) == {"gender", "age"}


@pytest.mark.realdata
def test_real_utkface_folder(utkface_dir):
    data = UTKFaceDataset(utkface_dir, check_images=False)
    assert len(data) == 8574 and data.report().dropped_total() == 0
    assert data.report().dropped("labels.csv disagrees") == 0
    assert data.frame["age_years"].between(1, 116).all()
    assert data.info["gender_counts"] == {"female": 4742, "male": 3832}
    split = data.split(task="gender", val_fraction=0.1, test_fraction=0.2, seed=0)
    assert [len(s) for s in split] == [8574 - 857 - 1715, 857, 1715]
    assert not set(split.train.paths) & set(split.test.paths)


@pytest.mark.realdata
def test_real_utkface_images_scan_and_pipeline(utkface_dir):
    data = UTKFaceDataset(utkface_dir)
    assert len(data) == 8574
    images, labels = next(iter(data.split(task="age").test.pipeline(image_size=64, crop_size=48, batch_size=4)))
    assert tuple(images.shape) == (4, 48, 48, 3) and labels.dtype.name == "int32"


def _utk_root(tmp_path, count=6):
    from PIL import Image

    root = tmp_path / "utk"
    (root / "images").mkdir(parents=True)
    names = [f"{20 + i}_{i % 2}_0_2017{i:04d}.jpg.chip.jpg" for i in range(count)]
    for name in names:
        Image.new("RGB", (8, 8)).save(root / "images" / name)
    return root, names


def test_splits_csv_fixes_the_split_and_counts_unlisted_and_absent_files(tmp_path):
    root, names = _utk_root(tmp_path)
    lines = ["filename,split", f"{names[0]},train", f"{names[1]},train", f"{names[2]},val", f"{names[3]},test",
             "gone.jpg.chip.jpg,test"]
    (root / "splits.csv").write_text("\n".join(lines) + "\n")
    data = UTKFaceDataset(root)
    assert data.report().dropped("not in splits.csv") == 2
    split = data.split(task="gender", val_fraction=0.5, test_fraction=0.4, seed=7)
    assert [list(s.frame["filename"]) for s in split] == [names[:2], [names[2]], [names[3]]]
    assert split.protocol == "fixed split (splits.csv)"
    assert data.report().notes("splits.csv row without image") == 1
    with pytest.raises(InvalidRowError, match="not in splits.csv"):
        UTKFaceDataset(root, strict=True)


@pytest.mark.parametrize(
    "text, message",
    [("name,part\na.jpg,train\n", "expected the header 'filename,split'"),
     ("filename,split\na.jpg,train\na.jpg,test\n", "line 3: 'a.jpg' is listed twice"),
     ("filename,split\na.jpg,train,x\n", "line 2: expected 2 comma-separated fields"),
     ("filename,split\na.jpg,holdout\n", "line 2: the split must be train, val or test")],
)
def test_malformed_splits_csv_is_a_data_error_naming_file_and_line(tmp_path, text, message):
    root, _ = _utk_root(tmp_path)
    (root / "splits.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        UTKFaceDataset(root)


# ------------------------------------------------------------------ several roots


def test_several_roots_are_one_dataset_with_a_root_column_and_float_ages(tmp_path):
    first = write_utk(tmp_path / "a", GOOD[:6])
    second = write_utk(tmp_path / "b", GOOD[6:])
    data = UTKFaceDataset([first, second])
    assert len(data) == 10 and data.roots == [first, second] and data.root == first
    assert data.frame["root"].tolist() == [0] * 6 + [1] * 4
    assert data.frame["age_years"].dtype == np.float32
    assert sorted(data.frame["age_years"]) == sorted(float(n.split("_")[0]) for n in GOOD)
    assert data.info["roots"] == [str(first), str(second)]
    # one string with a comma (what a "utkface:PATH1,PATH2" spec holds) names the same roots
    assert UTKFaceDataset(f"{first},{second}").frame.equals(data.frame)


def test_spec_with_two_roots_opens_both(tmp_path):
    from adiencekit.data import open_dataset

    first = write_utk(tmp_path / "a", GOOD[:6])
    second = write_utk(tmp_path / "b", GOOD[6:])
    data = open_dataset(f"utkface:{first},{second}")
    assert isinstance(data, UTKFaceDataset) and len(data) == 10 and len(data.roots) == 2


def test_each_root_keeps_the_split_it_has_alone(tmp_path):
    names_a = [f"{20 + i % 50}_{i % 2}_{i % 5}_2017{i:05d}.jpg.chip.jpg" for i in range(40)]
    names_b = [f"{20 + i % 50}_{i % 2}_{i % 5}_2018{i:05d}.jpg.chip.jpg" for i in range(30)]
    first, second = write_utk(tmp_path / "a", names_a), write_utk(tmp_path / "b", names_b)
    both = UTKFaceDataset([first, second]).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=3)
    again = UTKFaceDataset([first, second]).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=3)
    assert [s.paths for s in both] == [s.paths for s in again]
    for root in (first, second):
        alone = UTKFaceDataset(root).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=3)
        for joined, single in zip(both, alone):
            assert [p for p in joined.paths if p.startswith(str(root) + "/")] == list(single.paths)
    assert both.protocol == "random by image, per root (2 roots)"
    assert [len(s) for s in both] == [28 + 21, 4 + 3, 8 + 6]
    other = UTKFaceDataset([first, second]).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=4)
    assert other.test.paths != both.test.paths


def test_a_file_name_met_again_in_a_later_root_is_counted_and_kept_once(tmp_path):
    first = write_utk(tmp_path / "a", GOOD[:6])
    second = write_utk(tmp_path / "b", GOOD[4:])
    data = UTKFaceDataset([first, second])
    assert len(data) == 10 and data.report().dropped("file name in an earlier root") == 2
    assert data.frame["filename"].is_unique
    with pytest.raises(InvalidRowError, match="earlier root"):
        UTKFaceDataset([first, second], strict=True)


def test_bad_root_arguments_are_config_errors(tmp_path):
    from adiencekit.errors import ConfigError

    for bad in ([], [str(tmp_path), " "], 3):
        with pytest.raises(ConfigError):
            UTKFaceDataset(bad)


def test_a_file_name_that_is_not_utf8_is_counted_and_skipped(tmp_path):
    root = write_utk(tmp_path / "utk", GOOD[:4])
    bad = b"30_0_1_2017\xff\xfe.jpg.chip.jpg"
    with open(bytes(root / "images") + b"/" + bad, "wb") as handle:
        handle.write(jpeg())
    data = UTKFaceDataset(root)
    assert len(data) == 4 and data.report().dropped("file name not UTF-8") == 1
    assert "file name not UTF-8" in str(data.report())
    # every path left can be handed to TensorFlow, and the pipeline runs over all of them
    images, _ = next(iter(data.split(task="gender", val_fraction=0.0, test_fraction=0.25, seed=0)
                          .train.pipeline(image_size=16, crop_size=16, batch_size=3)))
    assert tuple(images.shape) == (3, 16, 16, 3)
    with pytest.raises(InvalidRowError, match="not UTF-8"):
        UTKFaceDataset(root, strict=True)


@pytest.mark.realdata
def test_real_utkface_and_extra_as_one_dataset(shared_data):
    extra = shared_data / "utkface-extra"
    if not (extra / "images").is_dir():
        pytest.skip(f"real data not found at {extra}: the utkface-extra UTKFace faces")
    alone = UTKFaceDataset(shared_data / "utkface", check_images=False)
    data = UTKFaceDataset([shared_data / "utkface", extra], check_images=False)
    # 21,501 files; one of utkface-extra has no race field in its name and is counted as malformed
    assert data.report().input() == 21501 and data.report().dropped("malformed name") == 1
    assert len(data) == 21500 and data.report().dropped("file name in an earlier root") == 0
    assert int((data.frame["root"] == 1).sum()) == 12926
    split = data.split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0)
    fixed = alone.split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0)
    assert [p for p in split.test.paths if "/utkface/" in p] == list(fixed.test.paths)
    assert sum(len(s) for s in split) == 21500


def test_each_face_exact_age_is_a_float_label_of_the_split(tmp_path):
    data = UTKFaceDataset(write_utk(tmp_path, GOOD))
    split = data.split(task="multitask", val_fraction=0.2, test_fraction=0.2, seed=0)
    for subset in split:
        ages = subset.age_years
        assert ages.dtype == np.float32 and len(ages) == len(subset)
        assert ages.tolist() == [float(name.split("_")[0]) for name in subset.frame["filename"]]
