"""Tests for adiencekit.data.folds: reading both real releases and every malformed input."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from adiencekit.data import folds as folds_module
from adiencekit.data.folds import ADIENCE_URL, FOLD_COLUMNS, FoldFileError, read_fold_file, read_folds

HEADER = "\t".join(FOLD_COLUMNS)


def row(user: str = "u0", image: str = "a.jpg", face: str = "1", age: str = "(25, 32)", gender: str = "f",
        extra: str = "0\t0\t10\t10\t0\t0\t50") -> str:
    return "\t".join([user, image, face, age, gender]) + "\t" + extra


def write_folds(root: Path, rows: dict[int, list[str]] | None = None, *, header: str = HEADER,
                ending: str = "") -> Path:
    """Five fold files; fold k gets rows[k] (default: one row of user u<k>)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = rows or {}
    for fold in range(5):
        lines = rows.get(fold, [row(user=f"u{fold}", image=f"img{fold}.jpg")])
        (root / f"fold_{fold}_data.txt").write_text("\n".join([header, *lines]) + ending, encoding="utf-8")
    return root


def test_docstring_examples_run():
    result = doctest.testmod(folds_module)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.realdata
def test_current_release(adience_folds_dir):
    table = read_folds(adience_folds_dir)
    frame = table.frame
    assert len(frame) == 19370
    assert frame.groupby("fold").size().tolist() == [4484, 3730, 3894, 3446, 3816]
    assert frame["user_id"].nunique() == 168
    assert frame.groupby("user_id")["fold"].nunique().max() == 1 and table.users_in_several_folds == []
    assert frame["gender"].value_counts().to_dict() == {"f": 9372, "m": 8120, "u": 1099, "": 779}
    ages = frame["age"].value_counts()
    assert ages["None"] == 748 and ages["(27, 32)"] == 77 and ages["(38, 42)"] == 46
    assert ages["(38, 48)"] == 6 and ages["(8, 23)"] == 1 and ages["(25, 32)"] == 5004
    assert len(table.duplicates) == 0 and len(table.conflicts) == 0
    assert table.report.input() == table.report.kept() == 19370
    assert list(frame.columns) == [*FOLD_COLUMNS, "fold", "line"]
    # line numbers point into the files: the header is line 1
    first = frame.iloc[0]
    assert first["line"] == 2 and first["user_id"] == "30601258@N03" and first["face_id"] == "1"


@pytest.mark.realdata
def test_2015_release_drops_its_117_exact_duplicates(adience_folds_2015_dir):
    table = read_folds(adience_folds_2015_dir)
    assert table.report.input() == 19487
    assert table.report.dropped("exact duplicate") == len(table.duplicates) == 117
    assert [table.report.input(k) for k in range(5)] == [4496, 3745, 3953, 3459, 3834]
    assert table.frame.groupby("fold").size().tolist() == [4484, 3730, 3894, 3446, 3816]
    assert len(table.frame) == 19370 and len(table.conflicts) == 0
    assert not table.frame.duplicated(["user_id", "original_image", "face_id"]).any()
    assert (table.frame["age"] == "(25, 23)").sum() == 72  # typo kept raw; labels.parse_age fixes it


def test_last_line_without_newline_crlf_bom_and_trailing_blank_lines(tmp_path):
    write_folds(tmp_path / "a")
    (tmp_path / "b").mkdir()
    for fold in range(5):
        text = "\ufeff" + HEADER + "\r\n" + row(user=f"u{fold}") + "\r\n\r\n\n"
        (tmp_path / "b" / f"fold_{fold}_data.txt").write_text(text, encoding="utf-8")
    for name in "ab":
        frame = read_folds(tmp_path / name).frame
        assert len(frame) == 5 and frame["fold"].tolist() == [0, 1, 2, 3, 4]
        assert frame["fiducial_score"].tolist() == ["50"] * 5


def test_commas_quotes_and_empty_cells_are_kept_verbatim(tmp_path):
    rows = {0: [row(age="(8, 12)", gender=""), row(image='we"ird, name.jpg', face="2", age="None", gender="u")]}
    frame = read_folds(write_folds(tmp_path, rows)).frame
    assert frame.loc[0, "age"] == "(8, 12)" and frame.loc[0, "gender"] == ""
    assert frame.loc[1, "original_image"] == 'we"ird, name.jpg' and frame.loc[1, "age"] == "None"


def test_exact_duplicates_are_removed_and_counted_per_fold(tmp_path):
    rows = {0: [row(), row(), row(face="2")], 3: [row(user="u3"), row(user="u3"), row(user="u3")]}
    table = read_folds(write_folds(tmp_path, rows))
    assert table.report.dropped("exact duplicate", 0) == 1 and table.report.dropped("exact duplicate", 3) == 2
    assert len(table.duplicates) == 3 and len(table.frame) == 2 + 1 + 1 + 1 + 1
    assert table.frame[table.frame.fold == 0]["line"].tolist() == [2, 4]


def test_conflicting_duplicates_are_dropped_entirely_and_reported(tmp_path):
    rows = {
        0: [row(), row(gender="m"), row(face="2")],             # gender conflict
        1: [row(user="u1"), row(user="u1", age="(0, 2)")],      # age conflict
        2: [row(user="u1", image="x.jpg"), row(user="u1", image="x.jpg", extra="1\t1\t1\t1\t1\t1\t1")],
    }
    table = read_folds(write_folds(tmp_path, rows))
    report = table.report
    assert report.dropped("conflicting duplicate", 0) == 2 and report.dropped("conflicting duplicate", 1) == 2
    assert len(table.conflicts) == 4
    assert set(table.conflicts["gender"]) == {"f", "m"}
    # same face, same labels, other fields differ: first copy kept
    assert report.dropped("duplicate face", 2) == 1
    assert table.frame["fold"].tolist() == [0, 2, 3, 4]
    report.check(table.frame.groupby("fold").size().to_dict())


def test_same_face_in_two_folds_is_a_conflict(tmp_path):
    rows = {0: [row(user="same")], 1: [row(user="same")]}
    table = read_folds(write_folds(tmp_path, rows))
    counts = [table.report.dropped("conflicting duplicate", k) for k in range(5)]
    assert counts == [1, 1, 0, 0, 0]
    assert "same" not in set(table.frame["user_id"])


def test_users_in_several_folds_are_listed(tmp_path):
    rows = {0: [row(user="shared")], 1: [row(user="shared", image="other.jpg")]}
    assert read_folds(write_folds(tmp_path, rows)).users_in_several_folds == ["shared"]


def test_missing_root_names_every_expected_file_and_the_download_page(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        read_folds(tmp_path / "nowhere")
    message = str(error.value)
    assert "does not exist" in message and ADIENCE_URL in message and "manual download" in message
    for fold in range(5):
        assert str(tmp_path / "nowhere" / f"fold_{fold}_data.txt") in message


def test_missing_fold_files_are_named(tmp_path):
    write_folds(tmp_path)
    (tmp_path / "fold_3_data.txt").unlink()
    (tmp_path / "fold_4_data.txt").unlink()
    with pytest.raises(FileNotFoundError, match="2 of the 5 fold files are missing") as error:
        read_folds(tmp_path)
    missing_line = [line for line in str(error.value).splitlines() if line.startswith("Missing:")][0]
    assert "fold_3_data.txt" in missing_line and "fold_4_data.txt" in missing_line
    assert "fold_2_data.txt" not in missing_line


def test_root_that_is_a_file(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        read_folds(tmp_path / "file.txt")


@pytest.mark.parametrize(
    "header",
    [HEADER.replace("age", "ages"), "\t".join(FOLD_COLUMNS[:-1]), HEADER.replace("\t", ","), "\t".join(reversed(FOLD_COLUMNS))],
)
def test_wrong_header_names_file_and_line_1(tmp_path, header):
    write_folds(tmp_path)
    (tmp_path / "fold_2_data.txt").write_text(header + "\n" + row())
    with pytest.raises(FoldFileError, match=r"fold_2_data\.txt, line 1: wrong header") as error:
        read_folds(tmp_path)
    assert error.value.line == 1 and error.value.path.endswith("fold_2_data.txt")


@pytest.mark.parametrize(
    "bad_line, fields",
    [(row() + "\textra", 13), ("\t".join(row().split("\t")[:-1]), 11), ("u0 a.jpg 1 (25, 32) f 0 0 1 1 0 0 5", 1)],
)
def test_wrong_field_count_names_file_and_line(tmp_path, bad_line, fields):
    write_folds(tmp_path, {4: [row(user="u4"), row(user="u4", image="b.jpg"), bad_line, row(user="u4", image="c")]})
    with pytest.raises(FoldFileError, match=rf"fold_4_data\.txt, line 4: expected 12 tab-separated fields.*got {fields}"):
        read_folds(tmp_path)


def test_blank_line_between_rows_is_an_error(tmp_path):
    write_folds(tmp_path, {1: [row(user="u1"), "", row(user="u1", image="b.jpg")]})
    with pytest.raises(FoldFileError, match=r"fold_1_data\.txt, line 3: empty line"):
        read_folds(tmp_path)


def test_empty_file_and_non_utf8_file(tmp_path):
    write_folds(tmp_path)
    (tmp_path / "fold_0_data.txt").write_text("")
    with pytest.raises(FoldFileError, match=r"fold_0_data\.txt, line 1: the file is empty"):
        read_folds(tmp_path)
    (tmp_path / "fold_0_data.txt").write_bytes(HEADER.encode() + b"\n\xff\xfe\x00bad")
    with pytest.raises(FoldFileError, match="not UTF-8"):
        read_folds(tmp_path)


def test_header_only_files_read_as_empty_folds(tmp_path):
    write_folds(tmp_path, {k: [] for k in range(5)})
    table = read_folds(tmp_path)
    assert len(table.frame) == 0 and table.report.input() == 0


def test_read_fold_file_sets_fold_and_line(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text(HEADER + "\n" + row() + "\n" + row(face="7"))
    frame = read_fold_file(path, 3)
    assert frame["fold"].tolist() == [3, 3] and frame["line"].tolist() == [2, 3]
    assert frame["face_id"].tolist() == ["1", "7"]
