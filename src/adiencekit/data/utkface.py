"""UTKFace: face crops labelled by exact age, gender and race in their file names.

Layout: ``<root>/images/<age>_<gender>_<race>_<date>.jpg.chip.jpg`` plus an optional
``<root>/labels.csv`` (``filename,age,gender,race``). UTKFace codes gender as 0 = male,
1 = female; :class:`UTKFaceDataset` converts it to the library's ``female = 0, male = 1``.
Exact ages are kept (``age_years``, float32, for a regression head; a dataset without
exact ages has no such column, or NaN) and mapped to the eight Adience groups with
:func:`adiencekit.labels.age_to_group` (``age``), so Adience models can be evaluated on it.

Several roots make one dataset (``UTKFaceDataset(["utkface", "utkface-extra"])``, or
``"utkface:PATH1,PATH2"`` as a data spec: the roots separated by commas, see
:func:`utkface_roots`); the column ``root`` says which root (0, 1, ...) a face comes
from. :meth:`UTKFaceDataset.split` splits each root on its own, with the same seed, and
joins the parts, so every face of a root is in the same part as when that root is
opened alone (a fixed test split stays fixed when a folder is added). A file name met
again in a later root is skipped as ``"file name in an earlier root"``.

UTKFace has **no identities**: nothing says which photos show the same person, so
splits can only be random by image (and may put one person on both sides).

Skips, counted by reason in :meth:`UTKFaceDataset.report` (``strict=True`` raises at the
first): ``"not a .jpg file"`` (any other entry in ``images/``), ``"malformed name"``
(not ``age_gender_race_date...jpg`` with gender 0/1, race 0-4 and age 0-130),
``"file name not UTF-8"`` (the name's bytes are not UTF-8: TensorFlow could not open
it later), ``"labels.csv disagrees"`` (the CSV gives other labels for that file),
``"labels.csv conflicting rows"`` (two or more CSV rows for that file give different
labels; the file names are listed in ``report().details(...)``), ``"missing image"`` /
``"bad image: <kind>"`` (from :func:`adiencekit.data.images.scan_images`, when
``check_images=True``). Rows of ``labels.csv`` whose file is absent are counted as the
note ``"labels.csv row without image"``, repeated identical rows as
``"labels.csv duplicate row"``.

A root may also hold ``splits.csv`` (``filename,split`` with ``train``, ``val`` or
``test``): a fixed split, which :meth:`UTKFaceDataset.split` then follows instead of
drawing a random one (:func:`write_splits_csv` writes it; folders prepared with
:func:`adiencekit.inference.prepare.prepare_utkface` carry the split of the raw set, so
that a test face stays a test face after detection and alignment). Images the file does
not list are skipped as ``"not in splits.csv"``; listed files that are absent are
counted as the note ``"splits.csv row without image"``.

``labels.csv`` is read by :func:`read_labels_csv`: a file that cannot be read, is not
UTF-8, is empty, lacks the columns ``filename,age,gender,race`` or has a row with another
number of fields raises :class:`~adiencekit.errors.DataError` naming the file and line.
A missing ``images/`` folder raises :class:`~adiencekit.errors.DatasetNotFoundError`, and an
``images/`` folder without one usable image a :class:`~adiencekit.errors.DataError`.

Example:

>>> import tempfile, pathlib
>>> from PIL import Image
>>> from adiencekit.data import UTKFaceDataset
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "images").mkdir()
>>> people = [(25, 0), (3, 1)] * 4  # (age, UTKFace gender: 0 male, 1 female)
>>> names = [f"{age}_{g}_0_2017010{i}.jpg.chip.jpg" for i, (age, g) in enumerate(people)]
>>> for name in names + ["no_labels.jpg"]:
...     Image.new("RGB", (8, 8)).save(root / "images" / name)
>>> data = UTKFaceDataset(root)
>>> len(data), data.report().dropped("malformed name")
(8, 1)
>>> row = data.frame.iloc[0]  # male -> 1
>>> float(row["age_years"]), int(row["age"]), int(row["gender"])
(25.0, 4, 1)
>>> split = data.split(task="gender", val_fraction=0.25, test_fraction=0.25, seed=0)
>>> [len(s) for s in split]
[4, 2, 2]
>>> data.default_image_size
200
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adiencekit.data.adience import InvalidRowError, image_notes
from adiencekit.data.report import CleaningReport, count_noun
from adiencekit.data.splits import AGE_CLASS_NAMES, Split, check_not_empty, fixed_image_split, random_image_split
from adiencekit.errors import ConfigError, DataError, DatasetNotFoundError
from adiencekit.labels import GENDERS, age_to_group

__all__ = [
    "LABELS_COLUMNS",
    "SPLITS_FILE",
    "ROOT_SEPARATOR",
    "UTKFACE_URL",
    "LabelsCSV",
    "UTKFaceDataset",
    "is_utf8_name",
    "parse_utkface_name",
    "read_labels_csv",
    "read_splits_csv",
    "write_splits_csv",
]

#: The first columns of ``labels.csv``, in order (more columns may follow).
LABELS_COLUMNS: tuple[str, ...] = ("filename", "age", "gender", "race")
_CSV_GROUP = "labels.csv"
#: The optional fixed-split file of a UTKFace root.
SPLITS_FILE = "splits.csv"
_PARTS = ("train", "val", "test")

#: The UTKFace home page (non-commercial research use only).
UTKFACE_URL = "https://susanqq.github.io/UTKFace/"

_NAME = re.compile(r"^(\d{1,3})_(\d+)_(\d+)_([^_]+)\.jpg(\.chip\.jpg)?$", re.IGNORECASE)
_GROUP = "all"
#: Skip reasons of the file names, always listed in the report (0 when none).
_NAME_REASONS = ("not a .jpg file", "file name not UTF-8", "malformed name", "file name in an earlier root")
#: Separates the roots in one string (``"utkface:PATH1,PATH2"``).
ROOT_SEPARATOR = ","


def utkface_roots(root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The UTKFace roots a ``root`` argument names, each with ``~`` expanded.

    ``root`` is one folder, a sequence of folders, or one string of folders separated by
    :data:`ROOT_SEPARATOR` (``"~/utkface,~/utkface-extra"``, what a ``utkface:`` data spec
    holds). A string that names an existing folder is taken whole, even with a comma in it.

    Raises:
        ConfigError: for an empty list or an empty folder name.

    Example:

    >>> from adiencekit.data.utkface import utkface_roots
    >>> [p.name for p in utkface_roots("/data/utkface,/data/utkface-extra")]
    ['utkface', 'utkface-extra']
    >>> [p.name for p in utkface_roots(["/data/a", "/data/b"])], utkface_roots("/data/a")[0].name
    (['a', 'b'], 'a')
    """
    if isinstance(root, (str, os.PathLike)):
        text = os.fspath(root)
        whole = Path(text).expanduser()
        parts = [text] if whole.is_dir() or ROOT_SEPARATOR not in text else text.split(ROOT_SEPARATOR)
    elif isinstance(root, Sequence):
        parts = list(root)
    else:
        raise ConfigError(f"root must be a folder, a list of folders or 'PATH1,PATH2', got {root!r}")
    if not parts or any(not isinstance(p, (str, os.PathLike)) or not os.fspath(p).strip() for p in parts):
        raise ConfigError(f"every UTKFace root must be a folder name, got {root!r}")
    return [Path(os.fspath(p).strip()).expanduser() for p in parts]


def is_utf8_name(name: str) -> bool:
    """Whether a file name from ``os.listdir`` is valid UTF-8 (TensorFlow needs UTF-8 paths).

    Python hands undecodable bytes over as lone surrogates; such a name cannot be encoded back.

    Example:

    >>> from adiencekit.data.utkface import is_utf8_name
    >>> is_utf8_name("25_0_0_2017.jpg"), is_utf8_name(b"25_0_0_2017\\xff.jpg".decode("utf-8", "surrogateescape"))
    (True, False)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_utkface_name(name: str) -> dict[str, int] | None:
    """Labels from a UTKFace file name, or ``None`` when the name is malformed.

    Returns:
        ``{"age_years", "gender", "race"}`` with gender already in the library's coding
        (0 = female, 1 = male).

    Example:

    >>> from adiencekit.data.utkface import parse_utkface_name
    >>> parse_utkface_name("26_0_1_20170116.jpg.chip.jpg")
    {'age_years': 26, 'gender': 1, 'race': 1}
    >>> parse_utkface_name("26_1_20170116.jpg.chip.jpg") is None
    True
    """
    match = _NAME.match(name)
    if not match:
        return None
    age, gender, race = (int(match.group(i)) for i in (1, 2, 3))
    if gender not in (0, 1) or not 0 <= race <= 4 or not 0 <= age <= 130:
        return None
    return {"age_years": age, "gender": 1 - gender, "race": race}


@dataclass
class LabelsCSV:
    """A UTKFace ``labels.csv`` as read by :func:`read_labels_csv`.

    Attributes:
        path: the file.
        labels: file name -> ``(age, gender, race)`` as written (stripped), one entry per
            file whose rows all agree.
        conflicts: file name -> ``[(line, (age, gender, race)), ...]`` for files whose rows
            disagree (every row of such a file is dropped).
        report: the rows: ``input`` = data rows, dropped ``"duplicate row"`` (an identical
            repeat; the first copy is kept), ``"conflicting rows"`` (all rows of a file
            whose rows disagree; the file names are in ``report.details``) and ``"empty
            filename"``; kept = ``len(labels)``.
    """

    path: Path
    labels: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    conflicts: dict[str, list[tuple[int, tuple[str, str, str]]]] = field(default_factory=dict)
    report: CleaningReport = field(default_factory=CleaningReport)


def read_labels_csv(path: str | os.PathLike[str]) -> LabelsCSV:
    """Read a UTKFace ``labels.csv`` (``filename,age,gender,race``, comma-separated, UTF-8).

    Blank lines are ignored; every other line is a row and is either kept or counted in
    ``report`` under a reason, so ``report.kept() + report.dropped_total()`` is the number
    of rows.

    Args:
        path: the file (``~`` is expanded).

    Returns:
        A :class:`LabelsCSV`.

    Raises:
        DataError: naming the file (and the line) for a file that cannot be read, is not
            UTF-8, is empty, has no ``filename,age,gender,race`` header, is not valid CSV,
            or has a row with a different number of fields than the header.

    Example:

    >>> import tempfile, pathlib
    >>> from adiencekit.data.utkface import read_labels_csv
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = path.write_text("filename,age,gender,race\\na.jpg,3,0,1\\na.jpg,3,0,1\\nb.jpg,5,1,0\\nb.jpg,6,1,0\\n")
    >>> table = read_labels_csv(path)
    >>> table.labels, sorted(table.conflicts), table.report.dropped("duplicate row")
    ({'a.jpg': ('3', '0', '1')}, ['b.jpg'], 1)
    >>> _ = path.write_text("filename,age,gender,race\\na.jpg,3,0,1,x,y\\n")
    >>> try:
    ...     read_labels_csv(path)
    ... except ValueError as error:
    ...     print(str(error).split(": ", 1)[1])
    expected 4 comma-separated fields (filename, age, gender, race), got 6: 'a.jpg,3,0,1,x,y'
    """
    csv_path = Path(path).expanduser()
    try:
        data = csv_path.read_bytes()
    except OSError as error:
        raise DataError(f"{csv_path}: cannot read the file ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(
            f"{csv_path}, line {line}: not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}); "
            "save labels.csv as UTF-8"
        ) from None
    expected_header = ",".join(LABELS_COLUMNS)
    if not text.strip():
        raise DataError(f"{csv_path}: the file is empty; expected the header {expected_header!r} and one row per image")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for fields in reader:
            if not fields:
                continue
            if header is None:
                header = [name.strip() for name in fields]
                header_line = reader.line_num
                continue
            rows.append((reader.line_num, fields))
    except csv.Error as error:
        raise DataError(f"{csv_path}, line {reader.line_num}: not valid CSV ({error})") from None
    assert header is not None  # the text is not blank, so csv yields a row
    if tuple(header[: len(LABELS_COLUMNS)]) != LABELS_COLUMNS:
        raise DataError(
            f"{csv_path}, line {header_line}: expected the columns {list(LABELS_COLUMNS)} first, "
            f"got {header[:10]}"
        )
    report = CleaningReport(title=f"labels.csv rows ({csv_path})", groups=[_CSV_GROUP])
    report.add_input(_CSV_GROUP, len(rows))
    for reason in ("empty filename", "duplicate row", "conflicting rows"):
        report.add_dropped(reason, _CSV_GROUP, 0)
    by_file: dict[str, list[tuple[int, tuple[str, str, str]]]] = {}
    for line, fields in rows:
        if len(fields) != len(header):
            shown = ",".join(fields)[:120]
            raise DataError(
                f"{csv_path}, line {line}: expected {len(header)} comma-separated fields "
                f"({', '.join(header[:10])}), got {len(fields)}: {shown!r}"
            )
        name = fields[0].strip()
        if not name:
            report.add_dropped("empty filename", _CSV_GROUP)
            continue
        by_file.setdefault(name, []).append((line, (fields[1].strip(), fields[2].strip(), fields[3].strip())))
    table = LabelsCSV(path=csv_path, report=report)
    for name, entries in by_file.items():
        if len({labels for _, labels in entries}) == 1:
            table.labels[name] = entries[0][1]
            report.add_dropped("duplicate row", _CSV_GROUP, len(entries) - 1)
        else:
            table.conflicts[name] = entries
            report.add_dropped("conflicting rows", _CSV_GROUP, len(entries))
    report.add_details("conflicting rows", table.conflicts)
    report.check({_CSV_GROUP: len(table.labels)})
    return table


def read_splits_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``splits.csv`` (``filename,split``; split ``train``, ``val`` or ``test``).

    Returns:
        file name -> part.

    Raises:
        DataError: naming the file and line for an unreadable file, a wrong header, an
            unknown part or a file listed twice.

    Example:

    >>> import tempfile, pathlib
    >>> from adiencekit.data.utkface import read_splits_csv
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "splits.csv"
    >>> _ = path.write_text("filename,split\\na.jpg,train\\nb.jpg,test\\n")
    >>> read_splits_csv(path)
    {'a.jpg': 'train', 'b.jpg': 'test'}
    >>> _ = path.write_text("filename,split\\na.jpg,dev\\n")
    >>> try:
    ...     read_splits_csv(path)
    ... except ValueError as error:
    ...     print(str(error).split(", ", 1)[1])
    line 2: the split must be train, val or test, got 'dev'
    """
    csv_path = Path(path).expanduser()
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{csv_path}: cannot read the file ({error})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or [c.strip() for c in rows[0][:2]] != ["filename", "split"]:
        raise DataError(f"{csv_path}, line 1: expected the header 'filename,split'")
    parts: dict[str, str] = {}
    for line, fields in enumerate(rows[1:], start=2):
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"{csv_path}, line {line}: expected 2 comma-separated fields, got {len(fields)}")
        name, part = fields[0].strip(), fields[1].strip()
        if part not in _PARTS:
            raise DataError(f"{csv_path}, line {line}: the split must be train, val or test, got {part!r}")
        if name in parts:
            raise DataError(f"{csv_path}, line {line}: {name!r} is listed twice")
        parts[name] = part
    return parts


def write_splits_csv(split: Split, path: str | os.PathLike[str]) -> Path:
    """Write the file names of a UTKFace split as ``splits.csv`` (atomically).

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from adiencekit.data import UTKFaceDataset
    >>> from adiencekit.data.utkface import read_splits_csv, write_splits_csv
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "images").mkdir()
    >>> for i in range(10):
    ...     Image.new("RGB", (8, 8)).save(root / "images" / f"{20 + i}_{i % 2}_0_2017010{i}.jpg.chip.jpg")
    >>> split = UTKFaceDataset(root).split(task="multitask", val_fraction=0.2, test_fraction=0.2, seed=0)
    >>> _ = write_splits_csv(split, root / "splits.csv")
    >>> fixed = UTKFaceDataset(root).split(task="multitask", seed=123)  # the file wins over the seed
    >>> [list(a.frame["filename"]) == list(b.frame["filename"]) for a, b in zip(split, fixed)]
    [True, True, True]
    >>> fixed.protocol
    'fixed split (splits.csv)'
    """
    from adiencekit.fileio import atomic_write_text

    lines = ["filename,split"]
    for subset in split:
        lines += [f"{name},{subset.name}" for name in subset.frame["filename"]]
    target = Path(path).expanduser()
    atomic_write_text(target, "\n".join(lines) + "\n")
    return target


class UTKFaceDataset:
    """UTKFace face crops with exact ages mapped to the Adience age groups.

    UTKFace has no identities, so :meth:`split` is random by image (see the module
    docstring).

    Args:
        root: the folder holding ``images/`` (and optionally ``labels.csv``), or several
            such folders (a list, or one string ``"PATH1,PATH2"``): one dataset, split
            root by root (see the module docstring).
        check_images: open every image header (``True``) or only ``stat`` each file.
        strict: raise :class:`~adiencekit.data.adience.InvalidRowError` at the first skip.
        progress: show a progress bar while checking images.

    Attributes:
        frame: ``filename``, ``path``, ``age_years`` (float32), ``age`` (group 0..7),
            ``gender`` (0 female, 1 male), ``race``, ``root`` (index into ``roots``);
            sorted by file name within each root, roots in the order given.
        roots: the folders, in order; ``root`` is the first.

    Raises:
        DatasetNotFoundError: when ``root/images`` does not exist (names it and the source).
        DataError: for a malformed ``labels.csv`` (names the file and line), or when
            ``images/`` holds no usable image.
        ConfigError: for a bad argument.
    """

    #: UTKFace crops are 200 x 200: pipelines resize to this size, not to Adience's 256.
    default_image_size: int = 200
    #: UTKFace has no folds: splits are random by image with ``test_fraction``.
    default_test_fold: int | None = None

    def __init__(
        self,
        root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        check_images: bool = True,
        strict: bool = False,
        progress: bool = False,
    ) -> None:
        for name, value in (("check_images", check_images), ("strict", strict), ("progress", progress)):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be True or False, got {value!r}")
        self.roots = utkface_roots(root)  # documented under Attributes (a second description would clash)
        self.root = self.roots[0]
        self.check_images = check_images
        self.strict = strict
        #: The parsed ``labels.csv`` of each root (``None`` where the file is absent).
        self.labels_csvs: list[LabelsCSV | None] = []
        #: file name -> part, from each root's ``splits.csv`` (``None`` where it has none).
        self.fixed_splits: list[dict[str, str] | None] = []
        for image_dir in (r / "images" for r in self.roots):
            if not image_dir.is_dir():
                raise DatasetNotFoundError(
                    f"UTKFace images not found: expected the folder {image_dir} holding files named "
                    f"<age>_<gender>_<race>_<date>.jpg.chip.jpg. Download UTKFace from {UTKFACE_URL} "
                    "(non-commercial research use), put the crops in images/ under the folder you pass as root."
                )
        where = ", ".join(os.fspath(r) for r in self.roots)
        self._report = CleaningReport(title=f"UTKFace cleaning report ({where})", groups=[_GROUP])
        for reason in _NAME_REASONS:
            self._report.add_dropped(reason, _GROUP, 0)
        seen: set[str] = set()
        frames = [self._read_root(index, root_dir, seen, progress) for index, root_dir in enumerate(self.roots)]
        frame = pd.concat(frames, ignore_index=True)
        for column in ("age", "gender", "race", "root"):
            frame[column] = frame[column].astype(np.int32)
        frame["age_years"] = frame["age_years"].astype(np.float32)
        self.frame = frame.reset_index(drop=True)
        self._report.check({_GROUP: len(self.frame)})
        if not len(self.frame):
            dropped = ", ".join(f"{reason} {self._report.dropped(reason)}" for reason in self._report.dropped_reasons
                                if self._report.dropped(reason))
            image_dirs = ", ".join(os.fspath(r / "images") for r in self.roots)
            raise DataError(
                f"no usable image in {image_dirs}: {count_noun(self._report.input(), 'entry', 'entries')} "
                f"({'dropped: ' + dropped if dropped else 'the folder is empty'}); UTKFace files are named "
                "<age>_<gender 0|1>_<race 0-4>_<date>.jpg.chip.jpg"
            )

    @property
    def labels_csv(self) -> LabelsCSV | None:
        """The first root's parsed ``labels.csv`` (``None`` when it has none); every root's: ``labels_csvs``."""
        return self.labels_csvs[0]

    @property
    def fixed_split(self) -> dict[str, str] | None:
        """The first root's ``splits.csv`` (file name -> part) or ``None``; every root's: ``fixed_splits``."""
        return self.fixed_splits[0]

    def _read_root(self, index: int, root: Path, seen: set[str], progress: bool) -> pd.DataFrame:
        """The usable rows of one root (column ``root`` = ``index``), skips counted in the report."""
        image_dir = root / "images"
        records = self._read_names(sorted(os.listdir(image_dir)), image_dir, seen)
        frame = pd.DataFrame.from_records(
            records, columns=["filename", "path", "age_years", "age", "gender", "race"]
        )
        frame["root"] = index
        frame = self._check_labels_csv(root, frame)
        frame = self._check_splits_csv(root, frame)
        return self._check_images(frame, progress)

    def _skip(self, reason: str, detail: str) -> None:
        if self.strict:
            raise InvalidRowError(f"{reason}: {detail} (strict=True stops at the first skipped file)")
        self._report.add_dropped(reason, _GROUP)

    def _read_names(self, names: list[str], image_dir: Path, seen: set[str]) -> list[dict[str, Any]]:
        self._report.add_input(_GROUP, len(names))
        records = []
        for name in names:
            if not name.lower().endswith(".jpg") or not (image_dir / name).is_file():
                self._skip("not a .jpg file", f"{image_dir / name}")
                continue
            if not is_utf8_name(name):
                self._skip("file name not UTF-8", f"{image_dir / name!r}: rename it with UTF-8 characters only")
                continue
            labels = parse_utkface_name(name)
            if labels is None:
                self._skip(
                    "malformed name",
                    f"{name!r} is not <age>_<gender 0|1>_<race 0-4>_<date>.jpg.chip.jpg",
                )
                continue
            if name in seen:
                self._skip("file name in an earlier root", f"{image_dir / name} (a face is kept once)")
                continue
            seen.add(name)
            records.append({
                "filename": name, "path": os.fspath(image_dir / name),
                "age": age_to_group(labels["age_years"]), **labels,
            })
        return records

    def _check_labels_csv(self, root: Path, frame: pd.DataFrame) -> pd.DataFrame:
        csv_path = root / "labels.csv"
        if not csv_path.is_file():
            self.labels_csvs.append(None)
            return frame
        table = read_labels_csv(csv_path)
        self.labels_csvs.append(table)
        self._report.add_dropped("labels.csv conflicting rows", _GROUP, 0)
        self._report.add_dropped("labels.csv disagrees", _GROUP, 0)
        keep = np.ones(len(frame), dtype=bool)
        conflicting = []
        for i, row in enumerate(frame.itertuples(index=False)):
            if row.filename in table.conflicts:
                lines = ", ".join(f"line {line}: {labels}" for line, labels in table.conflicts[row.filename][:5])
                self._skip("labels.csv conflicting rows", f"{csv_path} gives {row.filename} different labels ({lines})")
                conflicting.append(row.filename)
                keep[i] = False
                continue
            listed = table.labels.get(row.filename)
            if listed is None:
                continue
            expected = (str(row.age_years), str(1 - row.gender), str(row.race))
            if listed != expected:
                self._skip("labels.csv disagrees", f"{row.filename}: csv says {listed}, "
                           f"the name says (age, gender, race) = {expected}")
                keep[i] = False
        self._report.add_details("labels.csv conflicting rows", conflicting)
        present = set(frame["filename"])
        orphans = sum(name not in present for name in [*table.labels, *table.conflicts])
        if orphans:
            self._report.add_note("labels.csv row without image", _GROUP, orphans)
        duplicates = table.report.dropped("duplicate row")
        if duplicates:
            self._report.add_note("labels.csv duplicate row", _GROUP, duplicates)
        return frame[keep]

    def _check_splits_csv(self, root: Path, frame: pd.DataFrame) -> pd.DataFrame:
        path = root / SPLITS_FILE
        if not path.is_file():
            self.fixed_splits.append(None)
            return frame
        parts = read_splits_csv(path)
        self.fixed_splits.append(parts)
        listed = frame["filename"].isin(parts)
        self._report.add_dropped("not in splits.csv", _GROUP, 0)
        for name in frame.loc[~listed, "filename"]:
            self._skip("not in splits.csv", f"{name} is not listed in {path}")
        absent = len(set(parts) - set(frame["filename"]))
        if absent:
            self._report.add_note("splits.csv row without image", _GROUP, absent)
        return frame[listed]

    def _check_images(self, frame: pd.DataFrame, progress: bool) -> pd.DataFrame:
        if not self.check_images:
            return frame
        from adiencekit.data.images import scan_images

        infos = scan_images(frame["path"].tolist(), progress=progress)
        keep = np.ones(len(frame), dtype=bool)
        for i, info in enumerate(infos):
            if info.problem is None:
                for note in image_notes(info):
                    self._report.add_note(note, _GROUP)
                continue
            reason = "missing image" if info.problem == "missing" else f"bad image: {info.problem}"
            self._skip(reason, f"{info.path}: {info.detail}")
            keep[i] = False
        return frame[keep]

    def report(self) -> CleaningReport:
        """The cleaning report: files found and skipped by reason."""
        return self._report

    @property
    def info(self) -> dict[str, Any]:
        """Facts about the dataset as a plain dict."""
        frame = self.frame
        gender = {name: int((frame["gender"] == i).sum()) for i, name in enumerate(GENDERS)}
        return {
            "name": "utkface",
            "root": os.fspath(self.root),
            "roots": [os.fspath(r) for r in self.roots],
            "images": len(frame),
            "files_read": self._report.input(),
            "dropped": {reason: self._report.dropped(reason) for reason in self._report.dropped_reasons},
            "gender_counts": gender,
            "age_counts": {name: int((frame["age"] == index).sum()) for index, name in enumerate(AGE_CLASS_NAMES)},
            "age_years_range": [int(frame["age_years"].min()), int(frame["age_years"].max())] if len(frame) else None,
            "default_image_size": self.default_image_size,
        }

    def summary(self) -> str:
        """Images per gender and age group."""
        info = self.info
        genders = ", ".join(f"{k} {v}" for k, v in info["gender_counts"].items())
        ages = ", ".join(f"{k} {v}" for k, v in info["age_counts"].items())
        return (
            f"UTKFace: {count_noun(info['images'], 'image')} (no identities)\n  gender: {genders}\n  age: {ages}"
        )

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        where = os.fspath(self.root) if len(self.roots) == 1 else ROOT_SEPARATOR.join(map(os.fspath, self.roots))
        return f"UTKFaceDataset(root={where!r}, images={len(self.frame)})"

    def split(
        self,
        task: str = "gender",
        val_fraction: float = 0.1,
        test_fraction: float | None = 0.2,
        seed: int | None = 0,
        *,
        test_fold: int | None = None,
        allow_empty: bool = False,
    ) -> Split:
        """Random split by image (UTKFace has no identities to split by), or the root's fixed one.

        When the root holds ``splits.csv`` (see the module docstring) the split follows
        it and ``val_fraction``, ``test_fraction`` and ``seed`` are not used; the split's
        ``protocol`` then reads ``"fixed split (splits.csv)"``. With several roots each root
        is split on its own (its ``splits.csv``, else at random with ``seed``) and the
        parts are joined; ``protocol`` then ends with ``", per root (N roots)"``.

        Pass the arguments by keyword: they are the keywords of
        :class:`~adiencekit.data.FaceDataset` (``AdienceDataset.split`` takes the same).

        Args:
            task: ``"gender"``, ``"age"`` or ``"multitask"``.
            val_fraction: share of images for validation.
            test_fraction: share of images for testing (``None``: 0.2).
            seed: shuffle seed.
            test_fold: must be ``None``: UTKFace has no folds.
            allow_empty: return a split with an empty part instead of raising.

        Returns:
            A :class:`~adiencekit.data.Split` with ``test_fold=None``.

        Raises:
            ConfigError: for a ``test_fold``, an unknown task or bad fractions.
            DataError: when a part of the split would be empty.
        """
        if test_fold is not None:
            raise ConfigError(
                f"UTKFace has no folds, so test_fold must be None (got {test_fold!r}); its test set is a random "
                "share of the images: set test_fraction instead"
            )
        if test_fraction is None:
            test_fraction = 0.2
        if len(self.roots) > 1:
            split = self._split_per_root(task, val_fraction, test_fraction, seed)
        elif self.fixed_split is not None:
            split = fixed_image_split(self.frame, task, self.frame["filename"].map(self.fixed_split))
        else:
            split = random_image_split(self.frame, task, val_fraction, test_fraction, seed)
        split.report = self._report
        if allow_empty:
            return split
        return check_not_empty(
            split, val_fraction,
            f"UTKFace, {count_noun(len(self.frame), 'usable image')} in {self.root}; use more images or "
            "other val_fraction/test_fraction",
        )

    def _split_per_root(self, task: str, val_fraction: float, test_fraction: float, seed: int | None) -> Split:
        """Each root split on its own (its ``splits.csv``, else at random with ``seed``), then joined.

        A root's faces land in the parts they get when the root is opened alone, so adding
        a folder never moves a face of another folder across the split.
        """
        parts = pd.Series("", index=self.frame.index, dtype=object)
        protocols = []
        for index, fixed in enumerate(self.fixed_splits):
            rows = self.frame[self.frame["root"] == index]
            if fixed is not None:
                parts[rows.index] = rows["filename"].map(fixed)
                protocols.append("fixed split (splits.csv)")
                continue
            for subset in random_image_split(rows, task, val_fraction, test_fraction, seed):
                parts[rows.index[rows["path"].isin(subset.frame["path"])]] = subset.name
            protocols.append("random by image")
        labelled = parts != ""
        split = fixed_image_split(self.frame[labelled], task, parts[labelled])
        protocol = protocols[0] if len(set(protocols)) == 1 else "mixed"
        return replace(split, protocol=f"{protocol}, per root ({len(self.roots)} roots)",
                       unlabelled={"all": int((~labelled).sum())})
