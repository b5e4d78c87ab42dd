"""UTKFace: face crops labelled by exact age, gender and race in their file names.

Layout: ``<root>/images/<age>_<gender>_<race>_<date>.jpg.chip.jpg`` plus an optional
``<root>/labels.csv`` (``filename,age,gender,race``). UTKFace codes gender as 0 = male,
1 = female; :class:`UTKFaceDataset` converts it to the library's ``female = 0, male = 1``.
Exact ages are kept (``age_years``) and mapped to the eight Adience groups with
:func:`adiencekit.labels.age_to_group` (``age``), so Adience models can be evaluated on it.

UTKFace has **no identities**: nothing says which photos show the same person, so
splits can only be random by image (and may put one person on both sides).

Skips, counted by reason in :meth:`UTKFaceDataset.report` (``strict=True`` raises at the
first): ``"not a .jpg file"`` (any other entry in ``images/``), ``"malformed name"``
(not ``age_gender_race_date...jpg`` with gender 0/1, race 0-4 and age 0-130),
``"labels.csv disagrees"`` (the CSV gives other labels for that file), ``"missing image"`` /
``"bad image: <kind>"`` (from :func:`adiencekit.data.images.scan_images`, when
``check_images=True``). Rows of ``labels.csv`` whose file is absent are counted as the
note ``"labels.csv row without image"``.

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
>>> data.frame[["age_years", "age", "gender"]].iloc[0].tolist()  # male -> 1
[25, 4, 1]
>>> split = data.split(task="gender", val_fraction=0.25, test_fraction=0.25, seed=0)
>>> [len(s) for s in split]
[4, 2, 2]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adiencekit.data.adience import InvalidRowError, image_notes
from adiencekit.data.report import CleaningReport
from adiencekit.data.splits import Split, random_image_split
from adiencekit.labels import AGE_GROUPS, GENDERS, age_to_group

__all__ = ["UTKFACE_URL", "UTKFaceDataset", "parse_utkface_name"]

#: The UTKFace home page (non-commercial research use only).
UTKFACE_URL = "https://susanqq.github.io/UTKFace/"

_NAME = re.compile(r"^(\d{1,3})_(\d+)_(\d+)_([^_]+)\.jpg(\.chip\.jpg)?$", re.IGNORECASE)
_GROUP = "all"


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


class UTKFaceDataset:
    """UTKFace face crops with exact ages mapped to the Adience age groups.

    UTKFace has no identities, so :meth:`split` is random by image (see the module
    docstring).

    Args:
        root: the folder holding ``images/`` (and optionally ``labels.csv``).
        check_images: open every image header (``True``) or only ``stat`` each file.
        strict: raise :class:`~adiencekit.data.adience.InvalidRowError` at the first skip.
        progress: show a progress bar while checking images.

    Attributes:
        frame: ``filename``, ``path``, ``age_years``, ``age`` (group 0..7), ``gender``
            (0 female, 1 male), ``race``, sorted by file name.

    Raises:
        FileNotFoundError: when ``root/images`` does not exist (names it and the source).
    """

    def __init__(
        self, root: str | os.PathLike[str], check_images: bool = True, strict: bool = False, progress: bool = False
    ) -> None:
        for name, value in (("check_images", check_images), ("strict", strict), ("progress", progress)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        self.root = Path(root).expanduser()
        self.check_images = check_images
        self.strict = strict
        image_dir = self.root / "images"
        if not image_dir.is_dir():
            raise FileNotFoundError(
                f"UTKFace images not found: expected the folder {image_dir} holding files named "
                f"<age>_<gender>_<race>_<date>.jpg.chip.jpg. Download UTKFace from {UTKFACE_URL} "
                "(non-commercial research use), put the crops in images/ under the folder you pass as root."
            )
        self._report = CleaningReport(title=f"UTKFace cleaning report ({self.root})", groups=[_GROUP])
        records = self._read_names(sorted(os.listdir(image_dir)), image_dir)
        frame = pd.DataFrame.from_records(
            records, columns=["filename", "path", "age_years", "age", "gender", "race"]
        )
        frame = self._check_labels_csv(frame)
        frame = self._check_images(frame, progress)
        for column in ("age_years", "age", "gender", "race"):
            frame[column] = frame[column].astype(np.int32)
        self.frame = frame.reset_index(drop=True)
        self._report.check({_GROUP: len(self.frame)})

    def _skip(self, reason: str, detail: str) -> None:
        if self.strict:
            raise InvalidRowError(f"{reason}: {detail} (strict=True stops at the first skipped file)")
        self._report.add_dropped(reason, _GROUP)

    def _read_names(self, names: list[str], image_dir: Path) -> list[dict[str, Any]]:
        self._report.add_input(_GROUP, len(names))
        for reason in ("not a .jpg file", "malformed name"):
            self._report.add_dropped(reason, _GROUP, 0)
        records = []
        for name in names:
            if not name.lower().endswith(".jpg") or not (image_dir / name).is_file():
                self._skip("not a .jpg file", f"{image_dir / name}")
                continue
            labels = parse_utkface_name(name)
            if labels is None:
                self._skip(
                    "malformed name",
                    f"{name!r} is not <age>_<gender 0|1>_<race 0-4>_<date>.jpg.chip.jpg",
                )
                continue
            records.append({
                "filename": name, "path": os.fspath(image_dir / name),
                "age": age_to_group(labels["age_years"]), **labels,
            })
        return records

    def _check_labels_csv(self, frame: pd.DataFrame) -> pd.DataFrame:
        csv_path = self.root / "labels.csv"
        if not csv_path.is_file():
            return frame
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        needed = ["filename", "age", "gender", "race"]
        if list(table.columns[:4]) != needed:
            raise ValueError(f"{csv_path}: expected the columns {needed}, got {list(table.columns)}")
        self._report.add_dropped("labels.csv disagrees", _GROUP, 0)
        table = table.drop_duplicates("filename").set_index("filename")
        keep = np.ones(len(frame), dtype=bool)
        for i, row in enumerate(frame.itertuples(index=False)):
            if row.filename not in table.index:
                continue
            listed = table.loc[row.filename]
            expected = (str(row.age_years), str(1 - row.gender), str(row.race))
            if (listed["age"].strip(), listed["gender"].strip(), listed["race"].strip()) != expected:
                self._skip("labels.csv disagrees", f"{row.filename}: csv says {tuple(listed[needed[1:]])}, "
                           f"the name says (age, gender, race) = {expected}")
                keep[i] = False
        orphans = int((~table.index.isin(frame["filename"])).sum())
        if orphans:
            self._report.add_note("labels.csv row without image", _GROUP, orphans)
        return frame[keep]

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
            "images": len(frame),
            "files_read": self._report.input(),
            "dropped": {reason: self._report.dropped(reason) for reason in self._report.dropped_reasons},
            "gender_counts": gender,
            "age_counts": {g.label: int((frame["age"] == g.index).sum()) for g in AGE_GROUPS},
            "age_years_range": [int(frame["age_years"].min()), int(frame["age_years"].max())] if len(frame) else None,
        }

    def summary(self) -> str:
        """Images per gender and age group."""
        info = self.info
        genders = ", ".join(f"{k} {v}" for k, v in info["gender_counts"].items())
        ages = ", ".join(f"{k} {v}" for k, v in info["age_counts"].items())
        return f"UTKFace: {info['images']} images (no identities)\n  gender: {genders}\n  age: {ages}"

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"UTKFaceDataset(root={os.fspath(self.root)!r}, images={len(self.frame)})"

    def split(
        self, task: str = "gender", val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int | None = 0
    ) -> Split:
        """Random split by image (UTKFace has no identities to split by).

        Args:
            task: ``"gender"``, ``"age"`` or ``"multitask"``.
            val_fraction: share of images for validation.
            test_fraction: share of images for testing.
            seed: shuffle seed.

        Returns:
            A :class:`~adiencekit.data.Split` with ``test_fold=None``.
        """
        return random_image_split(self.frame, task, val_fraction, test_fraction, seed)
