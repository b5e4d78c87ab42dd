"""Read and clean the five Adience fold files.

The Adience metadata comes as ``fold_0_data.txt`` ... ``fold_4_data.txt``: tab-separated,
one header line (:data:`FOLD_COLUMNS`), one face per line, often no newline after the last
line. Ages look like ``(25, 32)``, so the files are never split on commas. Two releases
exist (19,370 rows, and the 2015 one with 19,487 rows of which 117 are exact duplicates);
:func:`read_folds` reads both.

Cleaning done here (each removed row counted in :attr:`FoldTable.report`):

* ``"exact duplicate"`` -- a row identical in every field (and fold) to an earlier row;
  the first copy is kept.
* ``"conflicting duplicate"`` -- rows sharing ``(user_id, original_image, face_id)`` but
  differing in ``age``, ``gender`` or fold; **all** copies are dropped and kept in
  :attr:`FoldTable.conflicts` for inspection.
* ``"duplicate face"`` -- rows sharing the key and the labels but differing elsewhere
  (face box, angles); the first copy is kept.
* ``"user in several folds"`` -- every row of a ``user_id`` found in more than one fold
  file. The Adience protocol is subject-exclusive (a person is in one fold only), so such
  a user would sit in both the training and the test set. By default
  (``cross_fold_users="drop"``) **all** rows of such users are dropped from every fold;
  the report counts them per fold and lists the user ids
  (``report.details("user in several folds")``). ``cross_fold_users="raise"`` refuses
  the files with a :class:`~adiencekit.errors.DataError` naming the users and files
  instead. Neither official release has such a user.

Labels are not parsed here (see :mod:`adiencekit.labels` and
:class:`adiencekit.data.AdienceDataset`); every field is kept as the string in the file.

Example:

>>> import tempfile, pathlib
>>> from adiencekit.data.folds import FOLD_COLUMNS, read_folds
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> header = "\\t".join(FOLD_COLUMNS)
>>> row = "u{k}\\timg{k}.jpg\\t1\\t(25, 32)\\tf\\t0\\t0\\t10\\t10\\t0\\t0\\t50"
>>> for k in range(5):
...     _ = (root / f"fold_{k}_data.txt").write_text(header + "\\n" + row.format(k=k) + "\\n" + row.format(k=k))
>>> table = read_folds(root)
>>> len(table.frame), table.report.dropped("exact duplicate")
(5, 5)
>>> table.frame.loc[0, ["user_id", "original_image", "age"]].tolist(), int(table.frame.loc[0, "fold"])
(['u0', 'img0.jpg', '(25, 32)'], 0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from adiencekit.data.report import CleaningReport
from adiencekit.errors import DataError, DatasetNotFoundError

if TYPE_CHECKING:  # pandas is imported where a fold file is read: the command line's parser needs FACE_LAYOUTS only
    import pandas as pd

__all__ = [
    "ADIENCE_URL",
    "CROSS_FOLD_USER_POLICIES",
    "FACE_LAYOUTS",
    "FOLD_COLUMNS",
    "FOLD_FILES",
    "KEY_COLUMNS",
    "FoldFileError",
    "FoldTable",
    "fold_files",
    "read_fold_file",
    "read_folds",
]

#: Where the Adience data is downloaded by hand (it needs a sign-up; no automatic download).
ADIENCE_URL = "https://talhassner.github.io/home/projects/Adience/Adience-data.html"

#: Header of every fold file, in order.
FOLD_COLUMNS: tuple[str, ...] = (
    "user_id",
    "original_image",
    "face_id",
    "age",
    "gender",
    "x",
    "y",
    "dx",
    "dy",
    "tilt_ang",
    "fiducial_yaw_angle",
    "fiducial_score",
)

#: ``faces`` argument -> (sub-folder, file name prefix).
FACE_LAYOUTS: dict[str, tuple[str, str]] = {
    "aligned": ("aligned", "landmark_aligned_face"),
    "faces": ("faces", "coarse_tilt_aligned_face"),
}

#: The columns that identify one face.
KEY_COLUMNS: tuple[str, ...] = ("user_id", "original_image", "face_id")

#: File names of the five folds; fold ``k`` is ``FOLD_FILES[k]``.
FOLD_FILES: tuple[str, ...] = tuple(f"fold_{k}_data.txt" for k in range(5))

_LABEL_COLUMNS = ("age", "gender", "fold")

#: What :func:`read_folds` does with a ``user_id`` found in several fold files.
CROSS_FOLD_USER_POLICIES: tuple[str, ...] = ("drop", "raise")

#: The report reason of rows dropped because their user is in several folds.
CROSS_FOLD_REASON = "user in several folds"


class FoldFileError(DataError):
    """A fold file that cannot be parsed; names the file and the 1-based line number.

    Attributes:
        path: the file.
        line: the line number (1 = header), or ``None`` for whole-file problems.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")


@dataclass
class FoldTable:
    """The five fold files read into one table.

    Attributes:
        frame: one row per distinct face: the twelve :data:`FOLD_COLUMNS` as strings, plus
            ``fold`` (int, 0..4) and ``line`` (int, the line in its fold file).
        duplicates: the exact-duplicate rows that were removed (same columns).
        conflicts: every copy of the faces whose duplicates disagree on age, gender or
            fold (all removed).
        report: rows read and removed per fold, by reason.
        root: the folder the files were read from.
        users_in_several_folds: the user ids found in more than one fold file (their
            rows were dropped; empty for the official releases).
    """

    frame: pd.DataFrame
    duplicates: pd.DataFrame
    conflicts: pd.DataFrame
    report: CleaningReport
    root: Path
    users_in_several_folds: list[str] = field(default_factory=list)


def fold_files(root: str | os.PathLike[str]) -> list[Path]:
    """The five fold file paths under ``root``, checking that they all exist.

    Args:
        root: the folder holding ``fold_0_data.txt`` ... ``fold_4_data.txt``.

    Returns:
        The five paths, fold 0 first.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) naming every expected file that
            is missing and where to get the dataset (a manual download).

    Example:

    >>> from adiencekit.data.folds import fold_files
    >>> try:
    ...     fold_files("/no/such/adience")
    ... except FileNotFoundError as error:
    ...     print(str(error).splitlines()[0])
    Adience fold files not found in /no/such/adience (the folder does not exist).
    """
    folder = Path(root).expanduser()
    paths = [folder / name for name in FOLD_FILES]
    if not folder.is_dir():
        problem = "the folder does not exist" if not folder.exists() else "it is not a folder"
        missing = paths
    else:
        missing = [path for path in paths if not path.is_file()]
        problem = f"{len(missing)} of the 5 fold files are missing"
    if missing:
        raise DatasetNotFoundError(
            f"Adience fold files not found in {folder} ({problem}).\n"
            f"Expected: {', '.join(os.fspath(p) for p in paths)}\n"
            f"Missing: {', '.join(os.fspath(p) for p in missing)}\n"
            "Adience is a manual download: fill in the form at "
            f"{ADIENCE_URL}, download fold_0_data.txt ... fold_4_data.txt and the "
            "aligned.tar.gz (or faces.tar.gz) archive, extract them into one folder, and pass "
            "that folder as `root` (or the fold files' folder as `folds_dir`)."
        )
    return paths


def read_fold_file(path: str | os.PathLike[str], fold: int) -> pd.DataFrame:
    """Read one fold file into strings, checking the header and every line's field count.

    Lines end in ``\\n``, ``\\r\\n`` or ``\\r``; fields are split on tabs only (ages such
    as ``(25, 32)`` hold commas), so no quoting applies.

    Args:
        path: the fold file.
        fold: its fold number, stored in the ``fold`` column.

    Returns:
        A DataFrame with the :data:`FOLD_COLUMNS` (strings, empty cells as ``""``), ``fold``
        and ``line``.

    Raises:
        FoldFileError: (a :class:`~adiencekit.errors.DataError`) naming the file and line,
            for a file that cannot be read, is not UTF-8 text, is empty, has a wrong
            header, an empty line between rows or a line with the wrong number of
            tab-separated fields.

    Example:

    >>> import tempfile, pathlib
    >>> from adiencekit.data.folds import FoldFileError, read_fold_file
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "fold_0_data.txt"
    >>> _ = bad.write_bytes(b"user_id\\xff")
    >>> try:
    ...     read_fold_file(bad, 0)
    ... except FoldFileError as error:
    ...     print(error.line, "not UTF-8" in str(error))
    1 True
    """
    file_path = Path(path).expanduser()
    try:
        data = file_path.read_bytes()
    except OSError as error:
        raise FoldFileError(file_path, None, f"cannot read the file ({error.strerror or error})") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FoldFileError(
            file_path, line, f"not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})"
        ) from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and _blank(lines[-1]):  # trailing blank lines; a line with tabs is a row
        lines.pop()
    if not lines:
        raise FoldFileError(file_path, 1, f"the file is empty; expected the header {chr(9).join(FOLD_COLUMNS)!r}")
    header = [name.strip() for name in lines[0].split("\t")]
    if tuple(header) != FOLD_COLUMNS:
        raise FoldFileError(
            file_path, 1, f"wrong header: got {header[:20]}, expected the tab-separated columns {list(FOLD_COLUMNS)}"
        )
    expected = len(FOLD_COLUMNS)
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if _blank(line):
            raise FoldFileError(file_path, number, "empty line between rows")
        fields = line.split("\t")
        if len(fields) != expected:
            raise FoldFileError(
                file_path,
                number,
                f"expected {expected} tab-separated fields ({', '.join(FOLD_COLUMNS)}), got {len(fields)}: "
                f"{line[:120]!r}",
            )
        rows.append(fields)
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FOLD_COLUMNS), dtype=object)
    frame["fold"] = fold
    frame["line"] = range(2, len(frame) + 2)
    return frame


def read_folds(root: str | os.PathLike[str], cross_fold_users: str = "drop") -> FoldTable:
    """Read the five fold files of an Adience release and remove duplicate rows.

    Args:
        root: the folder holding ``fold_0_data.txt`` ... ``fold_4_data.txt`` (either
            release); ``~`` is expanded.
        cross_fold_users: a ``user_id`` in several fold files: ``"drop"`` all its rows
            (counted and listed in the report) or ``"raise"`` a
            :class:`~adiencekit.errors.DataError`.

    Returns:
        A :class:`FoldTable`; ``table.report`` counts the rows read and removed per fold.

    Raises:
        DatasetNotFoundError: when the folder or any fold file is missing (the message
            names the expected files and the manual download page).
        FoldFileError: for a malformed file (names the file and line).
        DataError: for users in several folds under ``cross_fold_users="raise"``.
        ConfigError: for an unknown ``cross_fold_users``.

    Example:

    >>> import tempfile
    >>> from adiencekit.data import read_folds, make_synthetic_adience
    >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
    >>> table = read_folds(root)
    >>> sorted(table.frame["fold"].unique().tolist()), table.users_in_several_folds
    ([0, 1, 2, 3, 4], [])
    """
    if cross_fold_users not in CROSS_FOLD_USER_POLICIES:
        from adiencekit.errors import ConfigError

        raise ConfigError(f"cross_fold_users must be one of {CROSS_FOLD_USER_POLICIES}, got {cross_fold_users!r}")
    root = Path(root).expanduser()
    paths = fold_files(root)
    frames = [read_fold_file(path, fold) for fold, path in enumerate(paths)]
    report = CleaningReport(title=f"Adience fold files in {Path(root)}", groups=range(len(paths)))
    for fold, frame in enumerate(frames):
        report.add_input(fold, len(frame))
    import pandas as pd

    frame = pd.concat(frames, ignore_index=True)
    content = [*FOLD_COLUMNS, "fold"]

    exact = frame.duplicated(subset=content, keep="first")
    duplicates = frame[exact].reset_index(drop=True)
    _count(report, "exact duplicate", duplicates)
    frame = frame[~exact]

    keys = list(KEY_COLUMNS)
    labels_per_key = frame.groupby(keys, sort=False)[list(_LABEL_COLUMNS)].transform("nunique")
    conflicting = (labels_per_key > 1).any(axis=1)
    conflicts = frame[conflicting].reset_index(drop=True)
    _count(report, "conflicting duplicate", conflicts)
    frame = frame[~conflicting]

    same_face = frame.duplicated(subset=keys, keep="first")
    _count(report, "duplicate face", frame[same_face])
    frame = frame[~same_face]

    folds_per_user = frame.groupby("user_id")["fold"].nunique()
    several = sorted(str(user) for user in folds_per_user[folds_per_user > 1].index)
    if several and cross_fold_users == "raise":
        where = frame[frame["user_id"].isin(several)].groupby("user_id")["fold"].unique()
        listing = "; ".join(
            f"{user!r} in {', '.join(FOLD_FILES[int(k)] for k in sorted(where[user]))}" for user in several[:10]
        )
        more = f" (and {len(several) - 10} more)" if len(several) > 10 else ""
        raise DataError(
            f"{len(several)} user_id(s) appear in several fold files in {root}, which breaks the "
            f"subject-exclusive protocol: {listing}{more}. Fix the fold files, or pass "
            "cross_fold_users='drop' to drop these users' rows (counted in the cleaning report)."
        )
    leaking = frame["user_id"].isin(several)
    _count(report, CROSS_FOLD_REASON, frame[leaking])
    report.add_details(CROSS_FOLD_REASON, several)
    frame = frame[~leaking].reset_index(drop=True)

    report.check(frame.groupby("fold").size().to_dict())
    return FoldTable(
        frame=frame, duplicates=duplicates, conflicts=conflicts, report=report, root=Path(root),
        users_in_several_folds=several,
    )


def _blank(line: str) -> bool:
    """A line holding only whitespace and no tab (so no fields)."""
    return not line.strip() and "\t" not in line


def _count(report: CleaningReport, reason: str, rows: pd.DataFrame) -> None:
    counts = rows.groupby("fold").size()
    for fold in report.groups:
        report.add_dropped(reason, fold, int(counts.get(fold, 0)))
