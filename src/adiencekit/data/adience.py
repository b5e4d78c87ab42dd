"""The Adience benchmark as a clean table of faces, with subject-exclusive splits.

:class:`AdienceDataset` reads the five fold files (:func:`adiencekit.data.read_folds`),
parses the labels (:mod:`adiencekit.labels`), builds each image path, checks the images,
and keeps every row it drops or leaves without a label in a
:class:`~adiencekit.data.CleaningReport`.

Image layout (as in the Adience download)::

    <root>/aligned/<user_id>/landmark_aligned_face.<face_id>.<original_image>   faces="aligned"
    <root>/faces/<user_id>/coarse_tilt_aligned_face.<face_id>.<original_image>  faces="faces"

Checks, in order; a row is dropped for the first one it fails ("skipped", counted by
reason per fold; with ``strict=True`` the first skip raises :class:`InvalidRowError`):

0. ``"user in several folds"`` -- all rows of a ``user_id`` found in more than one fold
   file (see :func:`~adiencekit.data.read_folds`; ``cross_fold_users="raise"`` or
   ``strict=True`` refuse such files with a :class:`~adiencekit.errors.DataError`).
1. ``"invalid id"`` -- empty ``user_id``/``original_image``, or ``face_id`` not a whole
   number (ASCII digits) below 2**63.
2. ``"unsafe path"`` -- a ``user_id`` or ``original_image`` that would leave the image
   folder (``..``, ``.``, an absolute path, ``/`` or ``\\``, a drive ``:``, a NUL byte).
3. ``"unknown gender"`` / ``"unknown age"`` -- a value :mod:`adiencekit.labels` cannot
   parse (missing labels such as ``u``, ``""`` or ``None`` are *not* skips: the row
   stays with ``-1``, counted under "kept, label missing").
4. ``"missing image"``, ``"bad image: empty"``, ``"bad image: truncated"``,
   ``"bad image: corrupt"``, ``"bad image: unsupported"`` -- from
   :func:`adiencekit.data.images.scan_images`. Grayscale, CMYK, palette or RGBA images and
   PNG/GIF/BMP data saved as ``.jpg`` are kept (the pipeline converts them) and counted
   as notes (``"converted: grayscale"``, ``"converted: PNG saved as .jpg"``, ...).

Exact duplicate rows (removed by :func:`~adiencekit.data.read_folds`, first copy kept)
lose no data and do not count as skips under ``strict``; conflicting duplicates do.

Errors (all :mod:`adiencekit.errors` types, naming the path and the fix): a missing fold
file or image folder raises :class:`~adiencekit.errors.DatasetNotFoundError` (the message
says which image folders exist, e.g. suggests ``faces="faces"`` when only ``faces/`` is
there); rows that leave **no** usable image raise :class:`~adiencekit.errors.DataError`.
A partly missing image set is a counted skip.

``check_images=False`` replaces step 4 by a cheap ``stat`` of each path: missing and
zero-byte files are still skipped, but nothing is opened, so truncated or corrupt files
go unnoticed until the pipeline reads them.

Example:

>>> import tempfile
>>> from adiencekit.data import AdienceDataset, make_synthetic_adience
>>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
>>> data = AdienceDataset(root)
>>> split = data.split(test_fold=0, task="gender", val_fraction=0.1, seed=0)
>>> set(split.train.frame.user_id) & set(split.test.frame.user_id)
set()
>>> data.report().kept() == len(data.frame)
True
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adiencekit.data.folds import (
    ADIENCE_URL,
    CROSS_FOLD_USER_POLICIES,
    FACE_LAYOUTS,
    FoldTable,
    read_folds,
)
from adiencekit.data.report import CleaningReport, count_noun
from adiencekit.data.splits import (
    AGE_CLASS_NAMES,
    Split,
    check_not_empty,
    check_task,
    random_image_split,
    subject_exclusive_split,
)
from adiencekit.errors import ConfigError, DataError, DatasetNotFoundError
from adiencekit.labels import AGE_GROUPS, AGE_POLICIES, GENDERS, MISSING, parse_age, parse_gender

__all__ = ["FACE_LAYOUTS", "AdienceDataset", "InvalidRowError", "image_notes", "label_fold_table", "unsafe_component"]

_GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})
_AGE_NOTES = {"mapped number": "age mapped: number", "mapped range": "age mapped: stray range",
              "typo fixed": "age typo fixed: (25, 23) -> (25, 32)"}
_AGE_MISSING = {"missing age": "missing age", "stray age": "stray age (policy 'drop')"}
_MAX_FACE_ID = 2**63 - 1


def _layout_hint(root: Path, faces: str) -> str:
    """What is in ``root`` instead, and how to get the images (for error messages)."""
    others = [name for name in FACE_LAYOUTS if name != faces and (root / FACE_LAYOUTS[name][0]).is_dir()]
    if others:
        other = others[0]
        return (
            f"The folder {root / FACE_LAYOUTS[other][0]} exists: pass faces={other!r} "
            f"(command line: --faces {other})."
        )
    if not root.is_dir():
        return (
            f"The folder {root} does not exist. Adience is a manual download ({ADIENCE_URL}): extract "
            f"{FACE_LAYOUTS[faces][0]}.tar.gz there."
        )
    return (
        f"Neither {' nor '.join(os.fspath(root / folder) for folder, _ in FACE_LAYOUTS.values())} holds the "
        f"images; extract the {FACE_LAYOUTS[faces][0]}.tar.gz archive of the Adience download ({ADIENCE_URL}) "
        f"into {root}."
    )


class InvalidRowError(DataError):
    """Raised under ``strict=True`` at the first row that would be skipped."""


def unsafe_component(value: str) -> str | None:
    """Why ``value`` cannot be used as one path component, or ``None`` if it can.

    Example:

    >>> from adiencekit.data.adience import unsafe_component
    >>> [unsafe_component(v) for v in ["30601258@N03", "..", "/etc", "a/b", "c:x"]]
    [None, "is '..'", 'contains a path separator', 'contains a path separator', "contains ':'"]
    """
    if value in (".", ".."):
        return f"is {value!r}"
    if "/" in value or "\\" in value:
        return "contains a path separator"
    if ":" in value:
        return "contains ':'"
    if "\x00" in value:
        return "contains a NUL byte"
    if os.path.isabs(value):  # pragma: no cover - covered by the separator test on POSIX
        return "is an absolute path"
    return None


def image_notes(info: Any) -> list[str]:
    """Conversions the pipeline applies to a readable image (notes for the report).

    Args:
        info: an :class:`adiencekit.data.images.ImageInfo` without a problem.

    Returns:
        Note strings such as ``"converted: grayscale"`` or ``"converted: PNG saved as .jpg"``.

    Example:

    >>> from adiencekit.data.images import ImageInfo
    >>> from adiencekit.data.adience import image_notes
    >>> image_notes(ImageInfo("a.jpg", format="PNG", width=4, height=4, mode="L"))
    ['converted: grayscale', 'converted: PNG saved as .jpg']
    """
    notes = []
    mode = info.mode
    if mode in _GRAYSCALE_MODES:
        notes.append("converted: grayscale")
    elif mode is not None and mode != "RGB":
        notes.append(f"converted: {mode}")
    suffix = Path(info.path).suffix.lower()
    if suffix in _JPEG_SUFFIXES and info.format not in (None, "JPEG"):
        notes.append(f"converted: {info.format} saved as {suffix}")
    return notes


class AdienceDataset:
    """The Adience faces: a clean table, a cleaning report and subject-exclusive splits.

    Adience is a manual download (:data:`adiencekit.data.folds.ADIENCE_URL`); without it,
    :func:`adiencekit.data.make_synthetic_adience` writes a small tree in the same format.
    See the module docstring for the checks and what counts as a skip.

    Args:
        root: the folder holding ``aligned/`` (or ``faces/``) and, unless ``folds_dir`` is
            given, the five ``fold_{k}_data.txt`` files.
        faces: ``"aligned"`` (``landmark_aligned_face.*``) or ``"faces"``
            (``coarse_tilt_aligned_face.*``).
        age_policy: ``"drop"`` (canonical groups only, Levi & Hassner) or ``"map"``
            (see :mod:`adiencekit.labels`).
        folds_dir: folder of the fold files when they are not in ``root``.
        check_images: open every image header to find truncated/corrupt/unsupported
            files (``True``), or only ``stat`` the paths (``False``).
        strict: raise :class:`InvalidRowError` at the first skipped row instead of
            counting it.
        progress: show a progress bar while checking images.
        cross_fold_users: a ``user_id`` in several fold files: ``"drop"`` all its rows
            (default; counted, and listed in ``report().details("user in several folds")``)
            or ``"raise"`` a :class:`~adiencekit.errors.DataError`.

    Attributes:
        frame: the clean rows: ``user_id``, ``original_image``, ``face_id`` (int), ``fold``,
            ``age_raw``, ``gender_raw``, ``age``, ``gender`` (int, ``-1`` missing), ``path``
            and ``line`` (line in the fold file).
        folds: the :class:`~adiencekit.data.folds.FoldTable` as read.

    Raises:
        DatasetNotFoundError: when the fold files or the image folder are missing (names
            them, the folders that do exist, and the download page).
        DataError: when no row is left with a usable image, or a fold file is malformed
            (:class:`~adiencekit.data.FoldFileError`).
        ConfigError: for a bad argument.
        InvalidRowError: under ``strict=True``.

    Example:

    >>> import tempfile
    >>> from adiencekit.data import AdienceDataset, make_synthetic_adience
    >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
    >>> data = AdienceDataset(root, age_policy="map")
    >>> sorted(data.frame["fold"].unique().tolist())
    [0, 1, 2, 3, 4]
    >>> [len(s) > 0 for s in data.split(test_fold=1, task="multitask")]
    [True, True, True]
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        faces: str = "aligned",
        age_policy: str = "drop",
        folds_dir: str | os.PathLike[str] | None = None,
        check_images: bool = True,
        strict: bool = False,
        progress: bool = False,
        cross_fold_users: str = "drop",
    ) -> None:
        if faces not in FACE_LAYOUTS:
            raise ConfigError(f"faces must be one of {tuple(FACE_LAYOUTS)}, got {faces!r}")
        if age_policy not in AGE_POLICIES:
            raise ConfigError(f"age_policy must be one of {AGE_POLICIES}, got {age_policy!r}")
        if cross_fold_users not in CROSS_FOLD_USER_POLICIES:
            raise ConfigError(f"cross_fold_users must be one of {CROSS_FOLD_USER_POLICIES}, got {cross_fold_users!r}")
        for name, value in (("check_images", check_images), ("strict", strict), ("progress", progress)):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be True or False, got {value!r}")
        self.root = Path(root).expanduser()
        self.faces = faces
        self.age_policy = age_policy
        self.folds_dir = Path(folds_dir).expanduser() if folds_dir is not None else self.root
        self.check_images = check_images
        self.strict = strict
        self.cross_fold_users = "raise" if strict else cross_fold_users
        self.folds: FoldTable = read_folds(self.folds_dir, cross_fold_users=self.cross_fold_users)
        if strict and len(self.folds.conflicts):
            first = self.folds.conflicts.iloc[0]
            raise InvalidRowError(
                f"fold_{first['fold']}_data.txt line {first['line']}: conflicting duplicate of face "
                f"{tuple(first[['user_id', 'original_image', 'face_id']])}; "
                f"{len(self.folds.conflicts)} rows disagree (strict=True stops at the first skipped row)"
            )
        image_dir = self.root / FACE_LAYOUTS[faces][0]
        if not image_dir.is_dir():
            raise DatasetNotFoundError(
                f"Adience image folder not found: {image_dir} (faces={faces!r}). {_layout_hint(self.root, faces)}"
            )
        cleaner = _Cleaner(self.folds, faces, age_policy, strict, self.root)
        frame = cleaner.parse_rows()
        frame = cleaner.check_image_files(frame, check_images, progress)
        self.frame = cleaner.finish(frame)
        self._report = cleaner.report
        if not len(self.frame):
            dropped = ", ".join(
                f"{reason} {cleaner.report.dropped(reason)}" for reason in cleaner.report.dropped_reasons
            )
            raise DataError(
                f"no usable image: all {cleaner.report.input()} rows of the fold files in {self.folds_dir} were "
                f"dropped ({dropped or 'no rows'}); images are looked up as {image_dir}/<user_id>/"
                f"{FACE_LAYOUTS[faces][1]}.<face_id>.<original_image>. {_layout_hint(self.root, faces)}"
            )

    #: Square size images are resized to before cropping (the Adience protocol: 256).
    default_image_size: int = 256
    #: Adience tests on one of its five folds; fold 0 unless told otherwise.
    default_test_fold: int | None = 0

    # -- reading -----------------------------------------------------------------------
    def report(self) -> CleaningReport:
        """The cleaning report: rows read, dropped (by reason), kept without a label, noted."""
        return self._report

    @property
    def info(self) -> dict[str, Any]:
        """Facts about the dataset as a plain dict (for JSON run records)."""
        frame = self.frame
        return {
            "name": "adience",
            "root": os.fspath(self.root),
            "folds_dir": os.fspath(self.folds_dir),
            "faces": self.faces,
            "age_policy": self.age_policy,
            "check_images": self.check_images,
            "rows_read": self._report.input(),
            "images": len(frame),
            "users": int(frame["user_id"].nunique()),
            "images_per_fold": {int(k): int(v) for k, v in frame.groupby("fold").size().items()},
            "gender_counts": _counts(frame["gender"], GENDERS),
            "age_counts": _counts(frame["age"], AGE_CLASS_NAMES),
            "dropped": {reason: self._report.dropped(reason) for reason in self._report.dropped_reasons},
            "users_in_several_folds": list(self.folds.users_in_several_folds),
            "default_image_size": self.default_image_size,
        }

    def summary(self) -> str:
        """A table of images per fold: users, genders, age groups and missing labels."""
        frame = self.frame
        columns: dict[str, pd.Series] = {
            "images": frame.groupby("fold").size(),
            "users": frame.groupby("fold")["user_id"].nunique(),
        }
        for index, name in enumerate(GENDERS):
            columns[name] = (frame["gender"] == index).groupby(frame["fold"]).sum()
        columns["gender?"] = (frame["gender"] == MISSING).groupby(frame["fold"]).sum()
        for group in AGE_GROUPS:
            columns[group.name] = (frame["age"] == group.index).groupby(frame["fold"]).sum()
        columns["age?"] = (frame["age"] == MISSING).groupby(frame["fold"]).sum()
        table = pd.DataFrame(columns).reindex(self._report.groups, fill_value=0).astype(int)
        table.index.name = "fold"
        total = table.sum()
        total["users"] = frame["user_id"].nunique()
        table.loc["total"] = total
        leaking = self.folds.users_in_several_folds
        dropped_users = (
            f"; dropped {count_noun(len(leaking), 'user')} found in several folds" if leaking else ""
        )
        return (
            f"Adience ({self.faces}, age policy {self.age_policy!r}): {count_noun(len(frame), 'image')} of "
            f"{count_noun(int(frame['user_id'].nunique()), 'user')}{dropped_users}; '?' = label missing\n"
            f"{table.to_string()}"
        )

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"AdienceDataset(root={os.fspath(self.root)!r}, faces={self.faces!r}, "
            f"age_policy={self.age_policy!r}, images={len(self.frame)})"
        )

    # -- splits ------------------------------------------------------------------------
    def split(
        self,
        test_fold: int | None = 0,
        task: str = "gender",
        val_fraction: float = 0.1,
        seed: int | None = 0,
        *,
        test_fraction: float | None = None,
        allow_empty: bool = False,
    ) -> Split:
        """The standard protocol: fold ``test_fold`` tests, the others train; validation by user.

        Pass the arguments by keyword: they are the keywords of
        :class:`~adiencekit.data.FaceDataset` (``UTKFaceDataset.split`` takes the same).

        Args:
            test_fold: the test fold, 0..4.
            task: ``"gender"``, ``"age"`` or ``"multitask"``.
            val_fraction: share of the training images to hold out as whole users.
            seed: seed for choosing the validation users.
            test_fraction: must be ``None``: the Adience test set is a whole fold.
            allow_empty: return a split with an empty part instead of raising (e.g. to
                evaluate on a test fold alone).

        Returns:
            A subject-exclusive :class:`~adiencekit.data.Split`.

        Raises:
            ConfigError: for a ``test_fold`` that is not a fold number, a ``test_fraction``,
                an unknown task or a fraction outside ``[0, 1)``.
            DataError: when the train or test set (or the validation set, with
                ``val_fraction > 0``) of this split would be empty.
        """
        if test_fraction is not None:
            raise ConfigError(
                f"test_fraction={test_fraction!r} does not apply to Adience, whose test set is a whole fold; "
                "pass test_fold=0..4 and test_fraction=None"
            )
        if test_fold is None:
            raise ConfigError("Adience splits need a test fold: pass test_fold=0..4 (got None)")
        split = subject_exclusive_split(self.frame, test_fold, task, val_fraction, seed)
        split.report = self._report
        if allow_empty:
            return split
        return check_not_empty(
            split, val_fraction,
            f"Adience test fold {test_fold} ({count_noun(len(self.frame), 'usable image')} in {self.root}); "
            "use more data, another test_fold, a smaller val_fraction or another task",
        )

    def cross_validation(self, task: str = "gender", val_fraction: float = 0.1, seed: int | None = 0) -> Iterator[Split]:
        """Yield the five splits of the 5-fold protocol, test fold 0 first.

        Example:

        >>> import tempfile
        >>> from adiencekit.data import AdienceDataset, make_synthetic_adience
        >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
        >>> data = AdienceDataset(root)
        >>> [split.test_fold for split in data.cross_validation(task="age")]
        [0, 1, 2, 3, 4]
        """
        check_task(task)
        for fold in sorted(int(f) for f in self.frame["fold"].unique()):
            yield self.split(test_fold=fold, task=task, val_fraction=val_fraction, seed=seed)

    def random_split(
        self, task: str = "gender", val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int | None = 0
    ) -> Split:
        """Split images at random, ignoring who is in them (the reference report's split).

        Warns:
            UserWarning: always. The same people then appear in training and test images,
            which inflates accuracy; use :meth:`split` / :meth:`cross_validation` for
            results comparable with the literature.
        """
        warnings.warn(
            "AdienceDataset.random_split splits by image, so photos of the same person (user_id) land in "
            "train, validation and test: this leaks subjects across splits and inflates accuracy. Use "
            "split() or cross_validation() for the subject-exclusive Adience protocol.",
            UserWarning,
            stacklevel=2,
        )
        split = random_image_split(self.frame, task, val_fraction, test_fraction, seed)
        split.report = self._report
        return split


class _Cleaner:
    """Parses the rows of a :class:`FoldTable` and counts every skip in one report."""

    def __init__(self, folds: FoldTable, faces: str, age_policy: str, strict: bool, root: Path) -> None:
        self.folds = folds
        self.folder, self.prefix = FACE_LAYOUTS[faces]
        self.age_policy = age_policy
        self.strict = strict
        self.root = root
        self.report = CleaningReport(title=f"Adience cleaning report ({faces}, age policy {age_policy!r})")
        self.report.merge(folds.report)
        self._cache: dict[tuple[str, str], Any] = {}

    def parsed(self, column: str, raw: str) -> Any:
        """The parsed label, or the ``ValueError`` raised, computed once per distinct value."""
        key = (column, raw)
        if key not in self._cache:
            try:
                self._cache[key] = parse_gender(raw) if column == "gender" else parse_age(raw, self.age_policy)
            except ValueError as error:
                self._cache[key] = error
        return self._cache[key]

    def zero(self, reasons: list[str]) -> None:
        for reason in reasons:
            for fold in self.report.groups:
                self.report.add_dropped(reason, fold, 0)

    def skip(self, row: Any, reason: str, detail: str) -> None:
        if self.strict:
            raise InvalidRowError(
                f"{self.folds.root / f'fold_{row.fold}_data.txt'}, line {row.line}: {reason}: {detail} "
                "(strict=True stops at the first skipped row; use strict=False to skip and count)"
            )
        self.report.add_dropped(reason, row.fold)

    def parse_rows(self) -> pd.DataFrame:
        """Steps 1-3: ids, path safety, labels; builds the ``path`` column."""
        self.zero(["invalid id", "unsafe path", "unknown gender", "unknown age"])
        records = [record for row in self.folds.frame.itertuples(index=False) if (record := self.parse_row(row))]
        return pd.DataFrame.from_records(
            records,
            columns=["user_id", "original_image", "face_id", "fold", "age_raw", "gender_raw", "age", "gender",
                     "path", "line", "_age_reason"],
        )

    def parse_row(self, row: Any) -> dict[str, Any] | None:
        face_id = row.face_id.strip()
        if (
            not row.user_id
            or not row.original_image
            or not re.fullmatch(r"[0-9]+", face_id)
            or int(face_id) > _MAX_FACE_ID
        ):
            self.skip(row, "invalid id", f"user_id={row.user_id!r}, original_image={row.original_image!r}, "
                      f"face_id={row.face_id[:40]!r} (face_id must be a whole number below 2**63, the others "
                      "non-empty)")
            return None
        for column in ("user_id", "original_image"):
            problem = unsafe_component(getattr(row, column))
            if problem:
                self.skip(row, "unsafe path", f"{column} {getattr(row, column)!r} {problem}")
                return None
        gender = self.parsed("gender", row.gender)
        if isinstance(gender, ValueError):
            self.skip(row, "unknown gender", str(gender))
            return None
        parsed_age = self.parsed("age", row.age)
        if isinstance(parsed_age, ValueError):
            self.skip(row, "unknown age", str(parsed_age))
            return None
        age, reason = parsed_age
        path = self.root / self.folder / row.user_id / f"{self.prefix}.{face_id}.{row.original_image}"
        return {
            "user_id": row.user_id, "original_image": row.original_image, "face_id": int(face_id),
            "fold": row.fold, "age_raw": row.age, "gender_raw": row.gender, "age": age, "gender": gender,
            "path": os.fspath(path), "line": row.line, "_age_reason": reason,
        }

    def check_image_files(self, frame: pd.DataFrame, check_images: bool, progress: bool) -> pd.DataFrame:
        """Step 4: full header scan (``check_images``) or a ``stat`` of each path."""
        reasons = ["missing image", "bad image: empty"]
        if check_images:
            from adiencekit.data.images import IMAGE_PROBLEMS, scan_images

            reasons += [f"bad image: {kind}" for kind in IMAGE_PROBLEMS if kind not in ("missing", "empty")]
            infos = scan_images(frame["path"].tolist(), progress=progress)
            problems = [info.problem for info in infos]
            details = [info.detail for info in infos]
        else:
            problems, details, infos = [], [], []
            for path in frame["path"]:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    problems.append("missing")
                    details.append("no such file")
                    continue
                problems.append("empty" if size == 0 else None)
                details.append("zero-byte file" if size == 0 else "")
        self.zero(reasons)
        keep = np.ones(len(frame), dtype=bool)
        for i, (problem, row) in enumerate(zip(problems, frame.itertuples(index=False))):
            if problem is None:
                for note in image_notes(infos[i]) if infos else ():
                    self.report.add_note(note, row.fold)
                continue
            reason = "missing image" if problem == "missing" else f"bad image: {problem}"
            self.skip(row, reason, f"{row.path}{': ' + details[i] if details[i] else ''}")
            keep[i] = False
        return frame[keep]

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Set dtypes, count missing labels and age notes of the kept rows, check the sums."""
        frame = frame.copy()
        for column in ("face_id", "fold", "line"):
            frame[column] = frame[column].astype(np.int64)
        for column in ("age", "gender"):
            frame[column] = frame[column].astype(np.int32)
        for reason, fold in zip(frame["_age_reason"], frame["fold"]):
            if reason in _AGE_MISSING:
                self.report.add_missing(_AGE_MISSING[reason], int(fold))
            elif reason in _AGE_NOTES:
                self.report.add_note(_AGE_NOTES[reason], int(fold))
        for fold, count in frame[frame["gender"] == MISSING].groupby("fold").size().items():
            self.report.add_missing("missing gender", int(fold), int(count))
        self.report.check(frame.groupby("fold").size().to_dict())
        return frame.drop(columns="_age_reason").reset_index(drop=True)


def label_fold_table(
    table: FoldTable,
    age_policy: str = "drop",
    faces: str = "aligned",
    root: str | os.PathLike[str] | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Parse ids and labels of a fold table and build image paths, without touching images.

    This is :class:`AdienceDataset` minus the image check (steps 1-3 of the module
    docstring): use it for label statistics when the images are not at hand.

    Args:
        table: from :func:`~adiencekit.data.read_folds`.
        age_policy: ``"drop"`` or ``"map"``.
        faces: ``"aligned"`` or ``"faces"`` (decides the ``path`` column).
        root: the dataset root for the paths; defaults to ``table.root``.
        strict: raise :class:`InvalidRowError` at the first skipped row.

    Returns:
        ``(frame, report)``: the columns of :attr:`AdienceDataset.frame` and the report
        with label counts.

    Example:

    >>> import tempfile
    >>> from adiencekit.data import make_synthetic_adience, read_folds
    >>> from adiencekit.data.adience import label_fold_table
    >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
    >>> frame, report = label_fold_table(read_folds(root))
    >>> report.kept() == len(frame) == report.input()
    True
    """
    if faces not in FACE_LAYOUTS:
        raise ConfigError(f"faces must be one of {tuple(FACE_LAYOUTS)}, got {faces!r}")
    if age_policy not in AGE_POLICIES:
        raise ConfigError(f"age_policy must be one of {AGE_POLICIES}, got {age_policy!r}")
    cleaner = _Cleaner(table, faces, age_policy, strict, Path(root) if root is not None else table.root)
    frame = cleaner.finish(cleaner.parse_rows())
    return frame, cleaner.report


def _counts(values: pd.Series, names: list[str] | tuple[str, ...]) -> dict[str, int]:
    result = {name: int((values == index).sum()) for index, name in enumerate(names)}
    result["missing"] = int((values == MISSING).sum())
    return result
