"""Property tests (Hypothesis): any bytes in a fold file or a UTKFace labels.csv end in a
documented DataError that names the file, or in rows that are all accounted for
(kept + dropped = rows read) -- never another exception type, never a silent drop."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from adiencekit.data.folds import FOLD_COLUMNS, FoldFileError, read_fold_file, read_folds
from adiencekit.data.utkface import LABELS_COLUMNS, UTKFaceDataset, read_labels_csv
from adiencekit.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HEADER = "\t".join(FOLD_COLUMNS)

# Text that looks like a fold file: tabs, commas, quotes, line endings, odd code points.
_ALPHABET = st.sampled_from(list("ab1(, )\t\n\r\"'\x00\x0b\x85\u2028é") + ["\ufeff", "None", "(25, 32)", "f", "m"])
_FIELD = st.text(alphabet=st.sampled_from(list("ab19(, )\"'\x00\x0bé\u2028-")), max_size=6)
_ROW = st.lists(_FIELD, min_size=10, max_size=14).map("\t".join)


def _fold_bytes() -> st.SearchStrategy[bytes]:
    structured = st.tuples(
        st.sampled_from([HEADER, HEADER.upper(), HEADER + "\textra", "", "\ufeff" + HEADER]),
        st.lists(_ROW, max_size=8),
        st.sampled_from(["\n", "\r\n", "\r"]),
        st.sampled_from(["", "\n", "\n\n"]),
    ).map(lambda parts: (parts[0] + parts[2] + parts[2].join(parts[1]) + parts[3]).encode("utf-8"))
    noisy = st.lists(_ALPHABET, max_size=60).map(lambda parts: (HEADER + "\n" + "".join(parts)).encode("utf-8"))
    return st.one_of(st.binary(max_size=300), structured, noisy, noisy.map(lambda b: b + b"\xff\xfe"))


def _data_lines(data: bytes) -> int:
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while text and not text[-1].strip() and "\t" not in text[-1]:
        text.pop()
    return max(len(text) - 1, 0)


@SETTINGS
@given(data=_fold_bytes())
def test_any_fold_file_bytes_give_a_fold_file_error_or_every_line_as_a_row(tmp_path, data):
    path = tmp_path / "fold_0_data.txt"
    path.write_bytes(data)
    try:
        frame = read_fold_file(path, 0)
    except FoldFileError as error:
        assert str(path) in str(error) and isinstance(error, DataError)
        assert error.line is None or error.line >= 1
        return
    assert len(frame) == _data_lines(data)  # nothing dropped silently
    assert list(frame.columns) == [*FOLD_COLUMNS, "fold", "line"]


@SETTINGS
@given(rows=st.lists(st.tuples(st.integers(0, 4), _ROW), max_size=12))
def test_any_rows_in_five_fold_files_are_kept_or_counted(tmp_path, rows):
    root = tmp_path / "folds"
    root.mkdir(exist_ok=True)
    for fold in range(5):
        lines = [line for k, line in rows if k == fold]
        (root / f"fold_{fold}_data.txt").write_text("\n".join([HEADER, *lines]), encoding="utf-8")
    try:
        table = read_folds(root)
    except FoldFileError as error:
        assert str(root) in str(error)
        return
    report = table.report
    assert report.input() == len(rows)
    assert report.kept() + report.dropped_total() == len(rows) == len(table.frame) + report.dropped_total()
    assert table.frame.groupby("user_id")["fold"].nunique().le(1).all()  # subject-exclusive


_CSV_FIELD = st.text(alphabet=st.sampled_from(list("ab1_.j,\"' \x00\r\né\u2028")), max_size=8)


def _csv_bytes() -> st.SearchStrategy[bytes]:
    header = st.sampled_from([",".join(LABELS_COLUMNS), ",".join(LABELS_COLUMNS) + ",extra", "name,years", "", "\ufefffilename,age,gender,race"])
    structured = st.tuples(header, st.lists(st.lists(_CSV_FIELD, min_size=3, max_size=6).map(",".join), max_size=8)).map(
        lambda parts: "\n".join([parts[0], *parts[1]]).encode("utf-8")
    )
    return st.one_of(st.binary(max_size=200), structured, structured.map(lambda b: b + b"\x80"))


@SETTINGS
@given(data=_csv_bytes())
def test_any_labels_csv_bytes_give_a_data_error_or_every_row_accounted_for(tmp_path, data):
    path = tmp_path / "labels.csv"
    path.write_bytes(data)
    try:
        table = read_labels_csv(path)
    except DataError as error:
        assert str(path) in str(error)
        return
    report = table.report
    assert report.kept() == len(table.labels)
    assert report.kept() + report.dropped_total() == report.input()
    conflicting_rows = sum(len(entries) for entries in table.conflicts.values())
    assert report.dropped("conflicting rows") == conflicting_rows
    assert report.details("conflicting rows") == sorted(table.conflicts)


@SETTINGS
@given(rows=st.lists(st.tuples(st.sampled_from(["a.jpg", "b.jpg", "c.jpg", ""]), st.sampled_from(["1", "2"]),
                               st.sampled_from(["0", "1"])), max_size=10))
def test_labels_csv_rows_are_kept_once_or_counted(tmp_path, rows):
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(["filename,age,gender,race", *(f"{n},{a},{g},0" for n, a, g in rows)]))
    table = read_labels_csv(path)
    assert table.report.input() == len(rows)
    for name in {n for n, _, _ in rows if n}:
        labels = {(a, g) for n, a, g in rows if n == name}
        assert (name in table.labels) == (len(labels) == 1) and (name in table.conflicts) == (len(labels) > 1)
    assert table.report.dropped("empty filename") == sum(1 for n, _, _ in rows if not n)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 80, 70)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def utk_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("utk")
    (root / "images").mkdir()
    for name in ("1_0_0_20170101.jpg.chip.jpg", "30_1_2_20170102.jpg.chip.jpg", "70_0_4_20170103.jpg.chip.jpg"):
        (root / "images" / name).write_bytes(_jpeg())
    return root


@SETTINGS
@given(data=_csv_bytes())
def test_utkface_with_any_labels_csv_raises_data_error_or_accounts_for_every_file(utk_images, data):
    (utk_images / "labels.csv").write_bytes(data)
    try:
        dataset = UTKFaceDataset(utk_images, check_images=False)
    except DataError as error:
        assert "labels.csv" in str(error) or "no usable image" in str(error)
        return
    report = dataset.report()
    assert report.input() == 3 and len(dataset) + report.dropped_total() == 3


_ADIENCE_ROW = st.tuples(
    st.integers(0, 4),
    st.sampled_from(["a", "b", "c", "..", "", "d/e"]),
    st.sampled_from(["x.jpg", "y.jpg", ""]),
    st.sampled_from(["1", "2", "99999999999999999999999", "x", "٣", ""]),
    st.sampled_from(["(25, 32)", "None", "35", "(1, 2)", "(25, 23)", "old"]),
    st.sampled_from(["f", "m", "u", "", "x"]),
)


@pytest.fixture(scope="module")
def adience_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("adience")
    for user, image, face in (("a", "x.jpg", "1"), ("b", "y.jpg", "2"), ("c", "x.jpg", "1")):
        path = root / "aligned" / user / f"landmark_aligned_face.{face}.{image}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_jpeg())
    return root


@SETTINGS
@given(rows=st.lists(_ADIENCE_ROW, max_size=12), policy=st.sampled_from(["drop", "map"]))
def test_adience_dataset_on_any_rows_raises_a_data_error_or_accounts_for_every_row(adience_images, rows, policy):
    from adiencekit.data import AdienceDataset

    for fold in range(5):
        lines = [HEADER] + ["\t".join(r[1:]) + "\t0\t0\t10\t10\t0\t0\t50" for r in rows if r[0] == fold]
        (adience_images / f"fold_{fold}_data.txt").write_text("\n".join(lines), encoding="utf-8")
    try:
        data = AdienceDataset(adience_images, age_policy=policy, check_images=False)
    except DataError as error:
        assert "no usable image" in str(error)
        return
    report = data.report()
    assert report.input() == len(rows) and report.kept() == len(data.frame) > 0
    assert data.frame.groupby("user_id")["fold"].nunique().le(1).all()
