"""Fault cases of the data layer (issues 8, 9, 10): each bad input gives an
adiencekit.errors type naming the file and the fix, or a counted, reported skip."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from adiencekit.data import (
    AdienceDataset,
    FaceDataset,
    UTKFaceDataset,
    dataset_defaults,
    open_dataset,
    parse_dataset_spec,
    read_folds,
)
from adiencekit.data.folds import FOLD_COLUMNS
from adiencekit.data.utkface import read_labels_csv
from adiencekit.errors import AdienceKitError, ConfigError, DataError, DatasetNotFoundError

HEADER = "\t".join(FOLD_COLUMNS)
GEOMETRY = "\t".join(["0", "0", "10", "10", "0", "0", "50"])


def jpeg(size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (120, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def adience_tree(root: Path, users: dict[int, list[str]], *, faces: str = "aligned", images: bool = True,
                 face_ids: dict[tuple[int, str], str] | None = None) -> Path:
    """Five fold files; fold k holds 3 images of each user in users[k] (alternating f/m)."""
    folder, prefix = {"aligned": ("aligned", "landmark_aligned_face"), "faces": ("faces", "coarse_tilt_aligned_face")}[faces]
    root.mkdir(parents=True, exist_ok=True)
    for fold in range(5):
        lines = [HEADER]
        for user in users.get(fold, []):
            for i in range(3):
                face_id = (face_ids or {}).get((fold, user), str(i + 1))
                image = f"{user}_{fold}_{i}.jpg"
                lines.append("\t".join([user, image, face_id, "(25, 32)", "fm"[i % 2]]) + "\t" + GEOMETRY)
                if images:
                    path = root / folder / user / f"{prefix}.{face_id}.{image}"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(jpeg())
        (root / f"fold_{fold}_data.txt").write_text("\n".join(lines))
    return root


FIVE_FOLDS = {k: [f"u{k}a", f"u{k}b", f"u{k}c"] for k in range(5)}


def test_error_types_are_adiencekit_errors_with_builtin_bases():
    assert issubclass(DatasetNotFoundError, FileNotFoundError) and issubclass(DataError, ValueError)
    assert issubclass(ConfigError, AdienceKitError)


# -- subject-exclusive means exclusive --------------------------------------------------
def test_user_in_two_folds_is_dropped_from_every_fold_counted_and_listed(tmp_path):
    users = {k: list(v) for k, v in FIVE_FOLDS.items()}
    users[0].append("leaker")
    users[3].append("leaker")
    data = AdienceDataset(adience_tree(tmp_path / "d", users))
    report = data.report()
    assert "leaker" not in set(data.frame["user_id"])
    assert report.dropped("user in several folds", 0) == 3 and report.dropped("user in several folds", 3) == 3
    assert report.dropped("user in several folds") == 6
    assert report.details("user in several folds") == ["leaker"]
    as_dict = report.as_dict()
    assert as_dict["totals"]["dropped_by_reason"]["user in several folds"] == 6
    assert as_dict["details"]["user in several folds"] == ["leaker"]
    assert data.info["users_in_several_folds"] == ["leaker"]
    assert "user in several folds: leaker" in str(report)
    assert "dropped 1 user found in several folds" in data.summary()
    for fold in range(5):
        split = data.split(test_fold=fold, task="gender", val_fraction=0.2, seed=0)
        assert not set(split.train.frame.user_id) & set(split.test.frame.user_id)
        assert split.report is report  # a trainer given only the split can record the drops
    assert report.kept() + report.dropped_total() == report.input()


def test_user_in_two_folds_can_be_refused(tmp_path):
    users = {k: list(v) for k, v in FIVE_FOLDS.items()}
    users[1].append("leaker")
    users[4].append("leaker")
    root = adience_tree(tmp_path / "d", users)
    for call in (lambda: AdienceDataset(root, cross_fold_users="raise"), lambda: AdienceDataset(root, strict=True),
                 lambda: read_folds(root, cross_fold_users="raise")):
        with pytest.raises(DataError, match=r"1 user_id\(s\) appear in several fold files.*'leaker' in "
                                            r"fold_1_data\.txt, fold_4_data\.txt.*cross_fold_users='drop'"):
            call()
    with pytest.raises(ConfigError, match="cross_fold_users must be one of"):
        AdienceDataset(root, cross_fold_users="keep")


# -- errors naming the file ------------------------------------------------------------
def test_face_id_that_overflows_is_a_counted_skip_not_an_overflow_error(tmp_path):
    users = {k: list(v) for k, v in FIVE_FOLDS.items()}
    root = adience_tree(tmp_path / "d", users, face_ids={(2, "u2a"): "99999999999999999999999"})
    data = AdienceDataset(root)
    assert data.report().dropped("invalid id", 2) == 3 and "u2a" not in set(data.frame.user_id)
    with pytest.raises(DataError, match=r"fold_2_data\.txt, line 2: invalid id.*below 2\*\*63"):
        AdienceDataset(root, strict=True)


@pytest.mark.parametrize("test_fold", ["0", 1.0, True, None, 5, -1])
def test_bad_test_fold_is_a_config_error(tmp_path, test_fold):
    data = AdienceDataset(adience_tree(tmp_path / "d", FIVE_FOLDS))
    with pytest.raises(ConfigError, match="test_fold"):
        data.split(test_fold=test_fold, task="gender")


def test_empty_split_is_a_data_error_naming_the_part_and_the_fix(tmp_path):
    users = {0: ["a", "b"], 1: ["c"], 2: ["d"], 3: ["e"], 4: ["f"]}
    data = AdienceDataset(adience_tree(tmp_path / "d", users))
    with pytest.raises(ConfigError, match="test_fraction.*does not apply to Adience"):
        data.split(test_fold=0, test_fraction=0.2)
    frame_only_fold0 = AdienceDataset(adience_tree(tmp_path / "e", {0: ["a", "b"]}))
    with pytest.raises(DataError, match=r"the train set of this gender split is empty \(Adience test fold 0 "
                                        r"\(6 usable images .*another test_fold, a smaller val_fraction"):
        frame_only_fold0.split(test_fold=0, task="gender")
    assert len(frame_only_fold0.split(test_fold=0, task="gender", allow_empty=True).test) == 6


def test_missing_adience_folder_names_the_paths_and_the_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        open_dataset(str(tmp_path / "nowhere"))
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "fold_0_data.txt") in message and "manual download" in message


def test_missing_fold_file_is_named(tmp_path):
    root = adience_tree(tmp_path / "d", FIVE_FOLDS)
    (root / "fold_3_data.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"Missing: .*fold_3_data\.txt"):
        AdienceDataset(root)


# -- zero usable images (issue 9) --------------------------------------------------------
def test_only_faces_folder_with_default_aligned_is_an_error_suggesting_faces(tmp_path):
    root = adience_tree(tmp_path / "d", FIVE_FOLDS, faces="faces")
    with pytest.raises(DatasetNotFoundError) as error:
        AdienceDataset(root)
    message = str(error.value)
    assert str(root / "aligned") in message and str(root / "faces") in message
    assert "faces='faces'" in message and "--faces faces" in message
    assert len(AdienceDataset(root, faces="faces")) == 45


def test_image_folder_without_one_matching_image_is_a_data_error(tmp_path):
    root = adience_tree(tmp_path / "d", FIVE_FOLDS, images=False)
    (root / "aligned").mkdir()
    with pytest.raises(DataError, match=r"no usable image: all 45 rows .* dropped \(missing image 45\)"):
        AdienceDataset(root)


def test_partly_missing_images_stay_a_counted_skip(tmp_path):
    root = adience_tree(tmp_path / "d", FIVE_FOLDS)
    victims = sorted((root / "aligned" / "u1a").iterdir())
    for path in victims:
        path.unlink()
    data = AdienceDataset(root)
    assert len(data) == 42 and data.report().dropped("missing image", 1) == 3


def test_missing_image_folder_raises_in_both_datasets(tmp_path):
    root = adience_tree(tmp_path / "d", FIVE_FOLDS, images=False)
    (tmp_path / "u").mkdir()
    for spec in (str(root), f"utkface:{tmp_path / 'u'}"):
        with pytest.raises(DatasetNotFoundError):
            open_dataset(spec)


# -- UTKFace labels.csv ---------------------------------------------------------------
UTK = ["1_0_0_20170101.jpg.chip.jpg", "30_1_2_20170102.jpg.chip.jpg", "70_0_4_20170103.jpg.chip.jpg",
       "8_1_1_20170104.jpg.chip.jpg"]


def utk_tree(root: Path, csv: bytes | None = None, names: list[str] = UTK) -> Path:
    (root / "images").mkdir(parents=True)
    for name in names:
        (root / "images" / name).write_bytes(jpeg())
    if csv is not None:
        (root / "labels.csv").write_bytes(csv)
    return root


@pytest.mark.parametrize(("csv", "pattern"), [
    (b"filename,age,gender,race\n" + UTK[0].encode() + b",1,0,0,x,y\n", r"labels\.csv, line 2: expected 4 .*got 6"),
    (b"", r"labels\.csv: the file is empty"),
    (b"\n  \n", r"labels\.csv: the file is empty"),
    (b"filename,age,gender,race\n\xff\xfe,1,0,0\n", r"labels\.csv, line 2: not UTF-8"),
    (b"filename,age\nx.jpg,1\n", r"labels\.csv, line 1: expected the columns"),
    (b'filename,age,gender,race\n"unclosed,1,0,0\n', r"labels\.csv, line \d+: not valid CSV"),
])
def test_malformed_labels_csv_is_a_data_error_naming_file_and_line(tmp_path, csv, pattern):
    root = utk_tree(tmp_path / "u", csv)
    with pytest.raises(DataError, match=pattern) as error:
        UTKFaceDataset(root)
    assert str(root / "labels.csv") in str(error.value)


def test_two_labels_csv_rows_with_different_labels_are_dropped_counted_and_listed(tmp_path):
    rows = ["filename,age,gender,race", f"{UTK[0]},1,0,0", f"{UTK[0]},2,0,0", f"{UTK[1]},30,1,2", f"{UTK[1]},30,1,2"]
    data = UTKFaceDataset(utk_tree(tmp_path / "u", "\n".join(rows).encode()))
    report = data.report()
    assert UTK[0] not in set(data.frame.filename) and UTK[1] in set(data.frame.filename)
    assert report.dropped("labels.csv conflicting rows") == 1
    assert report.details("labels.csv conflicting rows") == [UTK[0]]
    assert report.notes("labels.csv duplicate row") == 1
    assert len(data) + report.dropped_total() == report.input() == 4
    assert data.labels_csv.report.dropped("conflicting rows") == 2


def test_images_folder_without_usable_image_is_a_data_error(tmp_path):
    root = utk_tree(tmp_path / "u", names=[])
    (root / "images" / "notes.txt").write_text("x")
    (root / "images" / "bad_name.jpg").write_bytes(jpeg())
    with pytest.raises(DataError, match=r"no usable image in .*images: 2 entries \(dropped: not a \.jpg file 1, "
                                        r"malformed name 1\)"):
        UTKFaceDataset(root)
    with pytest.raises(DataError, match="the folder is empty"):
        UTKFaceDataset(utk_tree(tmp_path / "v", names=[]))


def test_utkface_split_takes_the_same_keywords_and_refuses_a_fold(tmp_path):
    data = UTKFaceDataset(utk_tree(tmp_path / "u"))
    split = data.split(task="gender", test_fold=None, val_fraction=0.25, test_fraction=0.25, seed=0)
    assert [len(s) for s in split] == [2, 1, 1] and split.test_fold is None
    with pytest.raises(ConfigError, match="UTKFace has no folds"):
        data.split(task="gender", test_fold=0)


# -- one interface, open_dataset, ~ expansion, defaults -------------------------------------
def test_both_datasets_satisfy_the_protocol_with_native_defaults(tmp_path):
    adience = open_dataset(str(adience_tree(tmp_path / "d", FIVE_FOLDS)))
    utk = open_dataset(f"utkface:{utk_tree(tmp_path / 'u')}")
    for data, size, fold in ((adience, 256, 0), (utk, 200, None)):
        assert isinstance(data, FaceDataset)
        assert data.default_image_size == size and data.default_test_fold == fold
        assert data.info["default_image_size"] == size
        split = data.split(task="age", test_fold=fold, val_fraction=0.2, test_fraction=None, seed=1)
        assert len(split.train) and len(split.test) and split.report is data.report()
        assert isinstance(data.summary(), str) and data.report().kept() == len(data)
    assert list(adience.info["age_counts"])[:2] == ["0-2", "4-6"]
    assert list(utk.info["age_counts"])[:2] == ["0-2", "4-6"]


def test_open_dataset_expands_tilde_and_checks_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    adience_tree(tmp_path / "adience", FIVE_FOLDS)
    utk_tree(tmp_path / "utk")
    assert isinstance(open_dataset("~/adience"), AdienceDataset)
    assert open_dataset("utkface:~/utk").root == tmp_path / "utk"
    assert parse_dataset_spec(Path("~/adience")) == ("adience", tmp_path / "adience")
    folds = tmp_path / "folds"
    folds.mkdir()
    for k in range(5):
        os.replace(tmp_path / "adience" / f"fold_{k}_data.txt", folds / f"fold_{k}_data.txt")
    assert len(open_dataset("~/adience", folds_dir="~/folds")) == 45
    with pytest.raises(ConfigError, match="faces='faces' does not apply to UTKFace"):
        open_dataset("utkface:~/utk", faces="faces")
    with pytest.raises(ConfigError, match="folds_dir"):
        open_dataset("utkface:~/utk", folds_dir="~/folds")
    for bad in ("", "utkface:", "  "):
        with pytest.raises(ConfigError):
            open_dataset(bad)
    assert dataset_defaults("utkface:x") == {"image_size": 200, "test_fold": None, "test_fraction": 0.2,
                                             "faces": None, "age_policy": None}


def test_open_dataset_synthetic_uses_the_embedded_set(tmp_path, monkeypatch):
    from adiencekit.data import default_synthetic_root, make_synthetic_adience

    monkeypatch.setenv("ADIENCEKIT_HOME", str(tmp_path))
    # A small tree where the embedded set lives (building the full one takes ~20 s).
    make_synthetic_adience(default_synthetic_root(), users_per_fold=2, images_per_user=3, image_sizes=(32,))
    data = open_dataset("synthetic")
    assert isinstance(data, AdienceDataset) and len(data) > 0 and str(data.root).startswith(str(tmp_path))


def test_plural_forms_in_summaries(tmp_path):
    one_user = AdienceDataset(adience_tree(tmp_path / "d", {0: ["solo"], 1: ["b", "c"]}))
    assert "9 images of 3 users" in one_user.summary()
    single = UTKFaceDataset(utk_tree(tmp_path / "u", names=UTK[:1]))
    assert single.summary().startswith("UTKFace: 1 image (no identities)")
    few = AdienceDataset(adience_tree(tmp_path / "e", {0: ["solo"]}))
    assert "3 images of 1 user;" in few.summary()


def test_read_labels_csv_expands_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "labels.csv").write_text("filename,age,gender,race\na.jpg,1,0,0\n")
    assert read_labels_csv("~/labels.csv").labels == {"a.jpg": ("1", "0", "0")}


# -- real data (skips when ../shared/data is absent) ----------------------------------------
@pytest.mark.realdata
@pytest.mark.parametrize("release", ["current", "2015"])
def test_real_releases_have_no_user_in_two_folds(release, adience_folds_dir, adience_folds_2015_dir):
    table = read_folds(adience_folds_dir if release == "current" else adience_folds_2015_dir)
    assert table.users_in_several_folds == [] and table.report.dropped("user in several folds") == 0


@pytest.mark.realdata
def test_real_folds_with_one_user_copied_into_another_fold_drop_that_user(adience_folds_dir, tmp_path):
    for k in range(5):
        (tmp_path / f"fold_{k}_data.txt").write_bytes((adience_folds_dir / f"fold_{k}_data.txt").read_bytes())
    fold0 = (tmp_path / "fold_0_data.txt").read_text().split("\n")
    user = fold0[1].split("\t")[0]
    user_rows = sum(1 for line in fold0[1:] if line.split("\t")[0] == user)
    moved = fold0[1].split("\t")
    moved[1] = "copied_" + moved[1]
    with (tmp_path / "fold_3_data.txt").open("a") as handle:
        handle.write("\n" + "\t".join(moved))
    table = read_folds(tmp_path)
    assert table.users_in_several_folds == [user]
    assert table.report.dropped("user in several folds", 0) == user_rows
    assert table.report.dropped("user in several folds", 3) == 1
    assert len(table.frame) == 19370 + 1 - user_rows - 1
    with pytest.raises(DataError, match=user):
        read_folds(tmp_path, cross_fold_users="raise")


@pytest.mark.realdata
def test_real_utkface_labels_csv_reads_cleanly(utkface_dir):
    table = read_labels_csv(utkface_dir / "labels.csv")
    assert len(table.labels) == 8574 and table.report.dropped_total() == 0 and not table.conflicts
