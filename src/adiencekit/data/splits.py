"""Train/validation/test splits: :class:`Subset`, :class:`Split` and how they are carved.

The Adience protocol is subject-exclusive: the five folds share no ``user_id``; fold ``k``
is the test set and the other four are the training pool. :func:`subject_exclusive_split`
carves the validation set out of that pool **by user** (whole users, chosen with a seeded
generator, as close as possible to ``val_fraction`` of the usable images, at least one
user), so nobody is in two subsets. :func:`random_image_split` splits by image; on
Adience that puts photos of one person on both sides and inflates accuracy, so
:meth:`adiencekit.data.AdienceDataset.random_split` warns. UTKFace has no identities,
so splitting by image is all it allows.

Single-task subsets hold only rows with that label; rows without it are counted in
:attr:`Split.unlabelled`. Multitask subsets hold rows with at least one label and give
``{"gender": ..., "age": ...}`` label arrays with ``-1`` where missing.

Example:

>>> import pandas as pd
>>> from adiencekit.data.splits import subject_exclusive_split
>>> frame = pd.DataFrame({
...     "user_id": [f"u{i % 12}" for i in range(60)],
...     "fold": [(i % 12) % 3 for i in range(60)],
...     "gender": [i % 2 for i in range(60)],
...     "age": [i % 8 for i in range(60)],
...     "path": [f"{i}.jpg" for i in range(60)],
... })
>>> split = subject_exclusive_split(frame, test_fold=0, task="gender", val_fraction=0.25, seed=0)
>>> len(split.train), len(split.val), len(split.test)
(30, 10, 20)
>>> set(split.train.frame.user_id) & set(split.val.frame.user_id)
set()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from adiencekit.data.report import CleaningReport
from adiencekit.errors import ConfigError, DataError
from adiencekit.labels import AGE_GROUP_NAMES, AGE_YEARS, CLASS_NAMES, MISSING, TASKS

__all__ = [
    "AGE_CLASS_NAMES",
    "TASKS",
    "Split",
    "Subset",
    "carve_groups",
    "check_not_empty",
    "check_task",
    "labelled_mask",
    "random_image_split",
    "subject_exclusive_split",
]

#: Display names of the age classes (``"0-2"``, ... ``"60-100"``): owned by :mod:`adiencekit.labels`.
AGE_CLASS_NAMES: tuple[str, ...] = AGE_GROUP_NAMES

_CLASS_NAMES: dict[str, tuple[str, ...]] = CLASS_NAMES


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise :class:`~adiencekit.errors.ConfigError`."""
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
    return task


def check_not_empty(split: Split, val_fraction: float, what: str) -> Split:
    """Raise a :class:`~adiencekit.errors.DataError` when a part of ``split`` is empty.

    The training and test sets must hold images; the validation set too when
    ``val_fraction > 0``.

    Args:
        split: the split to check.
        val_fraction: the validation share it was made with.
        what: the split's description and what to change, for the message.

    Returns:
        ``split`` unchanged.

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import check_not_empty, random_image_split
    >>> frame = pd.DataFrame({"path": ["a.jpg"], "gender": [-1], "age": [2]})
    >>> try:
    ...     check_not_empty(random_image_split(frame, "gender", 0, 0), 0, "demo")
    ... except ValueError as error:
    ...     print(error)
    the train set of this gender split is empty (demo; 1 row left out for lack of a gender label)
    """
    for subset in split:
        if len(subset) or (subset.name == "val" and not val_fraction):
            continue
        left_out = sum(split.unlabelled.values())
        label = "any label" if split.task == "multitask" else f"a {split.task} label"
        rows = "row" if left_out == 1 else "rows"
        raise DataError(
            f"the {subset.name} set of this {split.task} split is empty ({what}; "
            f"{left_out} {rows} left out for lack of {label})"
        )
    return split


def labelled_mask(frame: pd.DataFrame, task: str) -> pd.Series:
    """Rows usable for ``task``: with that label, or (multitask) with at least one label.

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import labelled_mask
    >>> frame = pd.DataFrame({"gender": [0, -1, -1], "age": [3, 2, -1]})
    >>> [labelled_mask(frame, t).tolist() for t in ("gender", "age", "multitask")]
    [[True, False, False], [True, True, False], [True, True, False]]
    """
    check_task(task)
    if task == "multitask":
        return (frame["gender"] != MISSING) | (frame["age"] != MISSING)
    return frame[task] != MISSING


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


class Subset:
    """One part of a split (``"train"``, ``"val"`` or ``"test"``): images and labels for a task.

    Args:
        name: the part's name; ``pipeline(training=None)`` trains only on ``"train"``.
        frame: rows with at least ``path``, ``gender`` and ``age`` (int, ``-1`` missing).
        task: ``"gender"``, ``"age"`` or ``"multitask"``.

    Raises:
        ValueError: for an unknown task, missing columns, or rows without the task's
            label (single-task subsets must be fully labelled; use a :class:`Split`).

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import Subset
    >>> frame = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "gender": [0, -1], "age": [4, 4]})
    >>> subset = Subset("test", frame, "multitask")
    >>> len(subset), subset.paths
    (2, ['a.jpg', 'b.jpg'])
    >>> subset.labels["gender"].tolist(), subset.labels["age"].dtype
    ([0, -1], dtype('int32'))
    >>> subset.class_counts()["gender"]
    {'female': 1, 'male': 0, 'missing': 1}
    """

    def __init__(self, name: str, frame: pd.DataFrame, task: str) -> None:
        check_task(task)
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string such as 'train', got {name!r}")
        missing = [column for column in ("path", "gender", "age") if column not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks the columns {missing}; it has {list(frame.columns)}")
        unusable = int((~labelled_mask(frame, task)).sum())
        if unusable:
            need = "at least one label" if task == "multitask" else f"a {task} label"
            raise ValueError(
                f"{unusable} of {len(frame)} rows of subset {name!r} lack {need}; filter them "
                "first (AdienceDataset.split does)"
            )
        for column, classes in _CLASS_NAMES.items():
            values = frame[column].to_numpy()
            bad = (values != MISSING) & ((values < 0) | (values >= len(classes)))
            if bad.any():
                raise ValueError(f"{column} labels must be -1 or 0..{len(classes) - 1}, got {values[bad][:5].tolist()}")
        self.name = name
        self.task = task
        self.frame = frame.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def paths(self) -> list[str]:
        """Image paths, in row order."""
        return [str(path) for path in self.frame["path"]]

    @property
    def labels(self) -> np.ndarray | dict[str, np.ndarray]:
        """``int32`` labels for the task, or ``{"gender": ..., "age": ...}`` for multitask."""
        if self.task == "multitask":
            return {task: self.frame[task].to_numpy(dtype=np.int32) for task in ("gender", "age")}
        return self.frame[self.task].to_numpy(dtype=np.int32)

    @property
    def age_years(self) -> np.ndarray:
        """``float32`` exact ages in row order (a regression target); NaN where a row has none.

        UTKFace rows carry their exact age; Adience rows (age groups only) are all NaN, so a
        loss on exact ages masks them.

        Example:

        >>> import pandas as pd
        >>> from adiencekit.data.splits import Subset
        >>> frame = pd.DataFrame({"path": ["a", "b"], "gender": [0, 1], "age": [4, 7], "age_years": [26.0, None]})
        >>> Subset("train", frame, "multitask").age_years.tolist()
        [26.0, nan]
        >>> Subset("train", frame.drop(columns="age_years"), "age").age_years.tolist()
        [nan, nan]
        """
        if "age_years" not in self.frame.columns:
            return np.full(len(self.frame), np.nan, dtype=np.float32)
        return pd.to_numeric(self.frame["age_years"], errors="coerce").to_numpy(dtype=np.float32)

    @property
    def num_users(self) -> int | None:
        """Distinct ``user_id`` values, or ``None`` when the frame has no identities."""
        return int(self.frame["user_id"].nunique()) if "user_id" in self.frame.columns else None

    def class_counts(self) -> dict[str, Any]:
        """Images per class name (``{"gender": {...}, "age": {...}}`` for multitask, with
        a ``"missing"`` entry)."""

        def counts(column: str, with_missing: bool) -> dict[str, int]:
            values = self.frame[column].to_numpy()
            result = {name: int((values == index).sum()) for index, name in enumerate(_CLASS_NAMES[column])}
            if with_missing:
                result["missing"] = int((values == MISSING).sum())
            return result

        if self.task == "multitask":
            return {column: counts(column, True) for column in ("gender", "age")}
        return counts(self.task, False)

    def pipeline(
        self,
        training: bool | None = None,
        image_size: int = 256,
        crop_size: int = 227,
        batch_size: int = 32,
        seed: int | None = None,
        cache: bool | str = False,
        rotation: float = 0.0,
        format: str = "auto",  # noqa: A002 (Keras's name for the engine)
        age_years: bool = False,
        **kwargs: Any,
    ) -> Any:
        """A dataset of ``(float32 images [B, crop, crop, 3] in [0, 255], labels)``.

        Args:
            training: random crops, flips and shuffling; ``None`` means ``name == "train"``.
            image_size: images are resized to this square size first.
            crop_size: the square crop fed to the model (the model's input size).
            batch_size: images per batch.
            seed: makes shuffling and augmentation deterministic.
            cache: cache decoded, resized images (``True`` in memory, or a file path).
            rotation: maximum random rotation in degrees (training only).
            format: the engine, as in ``keras.utils.image_dataset_from_directory``:
                ``"tf"`` gives a ``tf.data.Dataset``
                (:func:`adiencekit.data.pipeline.build_pipeline`), ``"grain"`` a
                ``grain.IterDataset`` of NumPy batches without TensorFlow
                (:func:`adiencekit.data.grain_pipeline.build_grain_pipeline`), ``"auto"``
                the first when TensorFlow is installed, else the second.
            age_years: add the exact ages as the label ``"age_years"`` (float32, NaN where
                a face has none), for a model with that output; multitask only.
            **kwargs: passed on to the builder (``shuffle``, ``flip``, ``deterministic``,
                ``drop_remainder``, ``output_dtype``, ...).

        Raises:
            DataError: if the subset is empty.
            ConfigError: for an unknown ``format`` or one whose package is missing.
        """
        if not len(self):
            raise DataError(f"subset {self.name!r} is empty; there is nothing to build a pipeline from")
        labels = self.labels
        if age_years:
            if not isinstance(labels, dict):
                raise ConfigError(f"age_years=True needs a multitask subset (gender and age), this one is {self.task!r}")
            labels = {**labels, AGE_YEARS: self.age_years}
        from adiencekit.data.pipeline_args import resolve_format

        if resolve_format(format) == "grain":
            from adiencekit.data.grain_pipeline import build_grain_pipeline as build_pipeline
        else:
            from adiencekit.data.pipeline import build_pipeline

        return build_pipeline(
            self.paths,
            labels,
            training=self.name == "train" if training is None else training,
            image_size=image_size,
            crop_size=crop_size,
            batch_size=batch_size,
            seed=seed,
            cache=cache,
            rotation=rotation,
            **kwargs,
        )

    def __repr__(self) -> str:
        users = "" if self.num_users is None else f", users={self.num_users}"
        return f"Subset(name={self.name!r}, task={self.task!r}, images={len(self)}{users})"


@dataclass
class Split:
    """A train/validation/test split for one task.

    Attributes:
        train: the training subset.
        val: the validation subset (may be empty when ``val_fraction=0``).
        test: the test subset.
        test_fold: the Adience fold used as test set, or ``None`` for a random split.
        protocol: ``"subject-exclusive"`` or ``"random by image"``.
        unlabelled: rows left out because they lack the task's label: under ``"train"``
            for the whole training pool (train and validation), under ``"test"`` for the
            test fold; a random split counts them all under ``"all"``.
        report: the cleaning report of the dataset the split was made from (set by the
            datasets' ``split()``; ``None`` for a split built from a bare frame), so that a
            trainer given only the split can record what was dropped.
    """

    train: Subset
    val: Subset
    test: Subset
    test_fold: int | None = None
    protocol: str = "subject-exclusive"
    unlabelled: Mapping[str, int] = field(default_factory=dict)
    report: CleaningReport | None = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> str:
        """The task of the three subsets."""
        return self.train.task

    def __iter__(self) -> Iterator[Subset]:
        """Iterate over ``(train, val, test)`` so that ``train, val, test = split`` works."""
        return iter((self.train, self.val, self.test))

    def summary(self) -> str:
        """A short table: images (and users) per subset and rows left out for lack of a label."""
        where = f"test fold {self.test_fold}" if self.test_fold is not None else "no test fold"
        lines = [f"Split for task {self.task!r} ({self.protocol}, {where})"]
        for subset in self:
            users = "" if subset.num_users is None else f"  users {subset.num_users:>4}"
            left_out = self.unlabelled.get(subset.name, 0)
            lines.append(f"  {subset.name:<5}  images {len(subset):>6}{users}  left out (no label) {left_out:>5}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def carve_groups(
    frame: pd.DataFrame, fraction: float, seed: int | None, group: str = "user_id"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move whole groups (users) out of ``frame`` until about ``fraction`` of its rows moved.

    Groups are shuffled with ``numpy.random.default_rng(seed)`` (from their sorted order,
    so the result depends only on the data and the seed); the number of groups taken is
    the one whose row count is closest to ``fraction * len(frame)``, at least one group
    and never all of them.

    Args:
        frame: rows with a ``group`` column.
        fraction: target share of rows to move, in ``[0, 1)``; ``0`` moves nothing.
        seed: random seed.
        group: the column naming the groups.

    Returns:
        ``(kept, carved)``, two disjoint frames whose groups do not overlap.

    Raises:
        ValueError: if ``fraction > 0`` and the frame has fewer than two groups.

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import carve_groups
    >>> frame = pd.DataFrame({"user_id": list("aabbccddee")})
    >>> kept, carved = carve_groups(frame, 0.2, seed=1)
    >>> len(carved), carved.user_id.nunique(), set(kept.user_id) & set(carved.user_id)
    (2, 1, set())
    """
    fraction = _check_fraction("val_fraction", fraction)
    if fraction == 0 or frame.empty:
        return frame, frame.iloc[:0]
    sizes = frame.groupby(group, sort=True).size()
    if len(sizes) < 2:
        raise DataError(
            f"cannot carve a validation set by {group}: the training pool has {len(sizes)} "
            f"distinct {group} value(s) and at least 2 are needed (or pass val_fraction=0)"
        )
    order = np.random.default_rng(seed).permutation(len(sizes))
    cumulative = np.cumsum(sizes.to_numpy()[order])[:-1]
    take = int(np.argmin(np.abs(cumulative - fraction * len(frame)))) + 1
    chosen = set(sizes.index[order[:take]])
    moved = frame[group].isin(chosen)
    return frame[~moved], frame[moved]


def _subset(name: str, frame: pd.DataFrame, task: str, unlabelled: dict[str, int]) -> Subset:
    usable = labelled_mask(frame, task)
    unlabelled[name] = unlabelled.get(name, 0) + int((~usable).sum())
    return Subset(name, frame[usable], task)


def subject_exclusive_split(
    frame: pd.DataFrame, test_fold: int, task: str = "gender", val_fraction: float = 0.1, seed: int | None = 0
) -> Split:
    """The Adience protocol: fold ``test_fold`` is the test set, validation carved by user.

    Args:
        frame: clean rows with ``user_id``, ``fold``, ``gender``, ``age`` and ``path``.
        test_fold: the fold to test on.
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        val_fraction: share of the usable training images to hold out, by whole users.
        seed: seed for choosing the validation users.

    Returns:
        A :class:`Split` whose three subsets share no user.

    Raises:
        ValueError: for an unknown task or fold, a bad fraction, or too few users.
    """
    check_task(task)
    folds = sorted(int(f) for f in frame["fold"].unique())
    if isinstance(test_fold, bool) or not isinstance(test_fold, (int, np.integer)) or int(test_fold) not in folds:
        raise ConfigError(f"test_fold must be one of the folds {folds} (an int), got {test_fold!r}")
    unlabelled: dict[str, int] = {}
    is_test = frame["fold"] == int(test_fold)
    pool = frame[~is_test]
    usable = labelled_mask(pool, task)
    unlabelled["train"] = int((~usable).sum())
    train, val = carve_groups(pool[usable], val_fraction, seed)
    return Split(
        train=Subset("train", train, task),
        val=Subset("val", val, task),
        test=_subset("test", frame[is_test], task, unlabelled),
        test_fold=int(test_fold),
        protocol="subject-exclusive",
        unlabelled=unlabelled,
    )


def random_image_split(
    frame: pd.DataFrame,
    task: str = "gender",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int | None = 0,
) -> Split:
    """Split usable rows at random, image by image (ignores identities).

    Args:
        frame: clean rows with ``gender``, ``age`` and ``path``.
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        val_fraction: share of images for validation.
        test_fraction: share of images for testing.
        seed: seed of the shuffle.

    Returns:
        A :class:`Split` with ``test_fold=None`` and ``protocol="random by image"``.

    Raises:
        ValueError: for an unknown task or fractions outside ``[0, 1)`` or summing to 1
            or more.

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import random_image_split
    >>> frame = pd.DataFrame({"path": [f"{i}.jpg" for i in range(10)], "gender": [0, 1] * 5, "age": [2] * 10})
    >>> [len(s) for s in random_image_split(frame, "age", 0.2, 0.3, seed=0)]
    [5, 2, 3]
    """
    check_task(task)
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction + test_fraction must be below 1, got {val_fraction} + {test_fraction}"
        )
    usable = labelled_mask(frame, task)
    rows = frame[usable].reset_index(drop=True)
    order = np.random.default_rng(seed).permutation(len(rows))
    n_test = int(round(test_fraction * len(rows)))
    n_val = int(round(val_fraction * len(rows)))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    return Split(
        train=Subset("train", rows.iloc[np.sort(train)], task),
        val=Subset("val", rows.iloc[np.sort(val)], task),
        test=Subset("test", rows.iloc[np.sort(test)], task),
        test_fold=None,
        protocol="random by image",
        unlabelled={"all": int((~usable).sum())},
    )


def fixed_image_split(frame: pd.DataFrame, task: str, parts: Sequence[str] | pd.Series) -> Split:
    """Split ``frame`` by a given part (``"train"``, ``"val"`` or ``"test"``) per row.

    Rows without the task's label are left out and counted under ``"all"``, as in
    :func:`random_image_split`.

    Example:

    >>> import pandas as pd
    >>> from adiencekit.data.splits import fixed_image_split
    >>> frame = pd.DataFrame({"path": ["a", "b", "c"], "gender": [0, 1, -1], "age": [1, 2, 3]})
    >>> split = fixed_image_split(frame, "gender", ["train", "test", "val"])
    >>> [len(s) for s in split], split.unlabelled
    ([1, 0, 1], {'all': 1})
    """
    check_task(task)
    parts = pd.Series(list(parts), index=frame.index)
    unknown = sorted(set(parts) - {"train", "val", "test"})
    if unknown:
        raise ConfigError(f"split parts must be train, val or test, got {unknown}")
    usable = labelled_mask(frame, task)
    rows, row_parts = frame[usable], parts[usable]
    return Split(
        train=Subset("train", rows[row_parts == "train"].reset_index(drop=True), task),
        val=Subset("val", rows[row_parts == "val"].reset_index(drop=True), task),
        test=Subset("test", rows[row_parts == "test"].reset_index(drop=True), task),
        test_fold=None,
        protocol="fixed split (splits.csv)",
        unlabelled={"all": int((~usable).sum())},
    )
