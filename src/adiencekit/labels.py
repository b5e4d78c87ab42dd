"""Adience label vocabulary: the eight age groups, the two genders and raw-label parsing.

The Adience fold files label each face with an age *group* such as ``"(25, 32)"`` and a
gender ``"f"``/``"m"``. Real files also hold labels outside the eight canonical groups:
bare numbers (``"35"``), stray ranges (``"(27, 32)"``), ``"None"``, empty cells, and in
the 2015 release a typo ``"(25, 23)"``. This module turns every one of them into a class
index, :data:`MISSING` (``-1``), or a :class:`ValueError`, under one of two documented
policies (:data:`AGE_POLICIES`):

``"drop"`` (Levi & Hassner, the default)
    Only the eight canonical groups are age labels; every other age (numbers, stray
    ranges) becomes missing (``-1``), so the row can still serve the gender task.

``"map"``
    Bare numbers go to the group that contains them, or else to the nearest group;
    stray ranges go to the group they overlap most.

Distances and overlaps use the closed integer intervals ``[low, high]`` of the groups.
Ties are broken first by the distance to the group's midpoint, then towards the
younger group. For the raw values found in the real releases this gives:

==============  =======================================  =============
raw age         rule under ``"map"``                     group
==============  =======================================  =============
``"2"``         inside                                   ``(0, 2)``
``"3"``         1 from (0, 2) and (4, 6); midpoints tie  ``(0, 2)``
                too; the younger group wins
``"13"``        1 from (8, 12), 2 from (15, 20)          ``(8, 12)``
``"22"``        2 from (15, 20), 3 from (25, 32)         ``(15, 20)``
``"23"``        3 from (15, 20), 2 from (25, 32)         ``(25, 32)``
``"29"``        inside                                   ``(25, 32)``
``"32"``        inside                                   ``(25, 32)``
``"34"``        2 from (25, 32), 4 from (38, 43)         ``(25, 32)``
``"35"``        3 from both; midpoint 40.5 is nearer     ``(38, 43)``
                than 28.5
``"36"``        4 from (25, 32), 2 from (38, 43)         ``(38, 43)``
``"42"``        inside                                   ``(38, 43)``
``"45"``        2 from (38, 43), 3 from (48, 53)         ``(38, 43)``
``"46"``        3 from (38, 43), 2 from (48, 53)         ``(48, 53)``
``"55"``        2 from (48, 53), 5 from (60, 100)        ``(48, 53)``
``"56"``        3 from (48, 53), 4 from (60, 100)        ``(48, 53)``
``"57"``        4 from (48, 53), 3 from (60, 100)        ``(60, 100)``
``"58"``        2 from (60, 100)                         ``(60, 100)``
``"(27, 32)"``  overlaps (25, 32) by 5                   ``(25, 32)``
``"(38, 42)"``  overlaps (38, 43) by 4                   ``(38, 43)``
``"(38, 48)"``  overlaps (38, 43) by 5, (48, 53) by 0    ``(38, 43)``
``"(8, 23)"``   overlaps (8, 12) by 4, (15, 20) by 5     ``(15, 20)``
``"(25, 23)"``  known typo of (25, 32) in the 2015       ``(25, 32)``
                release, fixed under **both** policies
==============  =======================================  =============

``"None"``, ``"none"``, ``""`` and NaN are missing ages, never errors. Anything else
that is not a number or an ``(a, b)`` range with ``0 <= a <= b <= 130`` raises
:class:`ValueError` (the dataset classes count such rows as skipped).

:func:`age_to_group` maps an exact age in years (UTKFace: 0-116) with the same
nearest-group rule; ages in the gaps between groups go to the nearest one: 3 -> ``(0, 2)``,
7 -> ``(4, 6)``, 13 -> ``(8, 12)``, 14 -> ``(15, 20)``, 21-22 -> ``(15, 20)``,
23-24 -> ``(25, 32)``, 33-34 -> ``(25, 32)``, 35-37 -> ``(38, 43)``, 44-45 -> ``(38, 43)``,
46-47 -> ``(48, 53)``, 54-56 -> ``(48, 53)``, 57-59 -> ``(60, 100)``, and every age above
100 -> ``(60, 100)``.

Example:

>>> from adiencekit.labels import AGE_GROUPS, parse_age, parse_gender, age_to_group
>>> [g.label for g in AGE_GROUPS][:3]
['(0, 2)', '(4, 6)', '(8, 12)']
>>> parse_gender(" F "), parse_gender("u")
(0, -1)
>>> parse_age("(25, 32)")
AgeParse(label=4, reason=None)
>>> parse_age("35")
AgeParse(label=-1, reason='stray age')
>>> parse_age("35", policy="map")
AgeParse(label=5, reason='mapped number')
>>> parse_age("(25, 23)")
AgeParse(label=4, reason='typo fixed')
>>> age_to_group(14), age_to_group(116)
(3, 7)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "AGE_GROUPS",
    "AGE_GROUP_NAMES",
    "AGE_POLICIES",
    "AGE_REASONS",
    "AGE_YEARS",
    "GENDERS",
    "GROUP_REPRESENTATIVE_AGES",
    "KNOWN_AGE_TYPOS",
    "MISSING",
    "NUM_AGE_CLASSES",
    "NUM_GENDER_CLASSES",
    "CLASS_NAMES",
    "HEADS",
    "NUM_FOLDS",
    "TASKS",
    "TASK_CLASSES",
    "AgeGroup",
    "AgeParse",
    "age_to_group",
    "class_names",
    "as_probabilities",
    "expected_age",
    "nearest_group",
    "parse_age",
    "parse_gender",
    "task_heads",
    "validate_task",
]

#: Label value for "no label" in every integer label array.
MISSING = -1

#: Gender class names; the index is the class id (alphabetical order, as the reference's
#: ``female_face``/``male_face`` folders sort).
GENDERS: tuple[str, ...] = ("female", "male")
NUM_GENDER_CLASSES = len(GENDERS)

#: The two policies for age labels outside the eight canonical groups.
AGE_POLICIES: tuple[str, ...] = ("drop", "map")

#: Every ``AgeParse.reason`` besides ``None`` (a canonical group label).
AGE_REASONS: tuple[str, ...] = ("missing age", "stray age", "mapped number", "mapped range", "typo fixed")

#: Known typos in the released fold files and the canonical label they stand for.
KNOWN_AGE_TYPOS: dict[tuple[int, int], tuple[int, int]] = {(25, 23): (25, 32)}

_MAX_AGE = 130
_MISSING_AGE_STRINGS = frozenset({"", "none", "nan", "null"})
_MISSING_GENDER_STRINGS = frozenset({"", "u", "none", "nan", "null"})
_GENDER_CODES = {"f": 0, "female": 0, "m": 1, "male": 1}
_RANGE = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


class AgeGroup(NamedTuple):
    """One canonical Adience age group, a closed interval of years.

    Fields: ``index`` (the class id, 0..7 in ascending age), ``low`` (first year of the
    group) and ``high`` (last year).

    Example:

    >>> from adiencekit.labels import AGE_GROUPS
    >>> group = AGE_GROUPS[4]
    >>> group.label, group.name, group.midpoint, group.contains(30)
    ('(25, 32)', '25-32', 28.5, True)
    """

    index: int
    low: int
    high: int

    @property
    def label(self) -> str:
        """The group as written in the fold files, e.g. ``"(0, 2)"``."""
        return f"({self.low}, {self.high})"

    @property
    def name(self) -> str:  # type: ignore[override]
        """Short display name, e.g. ``"0-2"``."""
        return f"{self.low}-{self.high}"

    @property
    def midpoint(self) -> float:
        """Centre of the interval in years."""
        return (self.low + self.high) / 2

    def contains(self, age: float) -> bool:
        """Whether ``age`` lies in the closed interval ``[low, high]``."""
        return self.low <= age <= self.high

    def distance(self, age: float) -> float:
        """Years from ``age`` to the interval (0 inside it)."""
        return max(self.low - age, 0.0, age - self.high)

    def overlap(self, low: float, high: float) -> float:
        """Length of the intersection of ``[low, high]`` with this group's interval."""
        return max(0.0, min(high, self.high) - max(low, self.low))


#: The eight canonical Adience age groups in ascending order; the index is the class id.
AGE_GROUPS: tuple[AgeGroup, ...] = tuple(
    AgeGroup(i, low, high)
    for i, (low, high) in enumerate([(0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100)])
)
NUM_AGE_CLASSES = len(AGE_GROUPS)

#: The display spelling of the age groups used in every public output ("0-2" ... "60-100").
AGE_GROUP_NAMES: tuple[str, ...] = tuple(group.name for group in AGE_GROUPS)

#: The two prediction heads, in output order.
HEADS: tuple[str, ...] = ("gender", "age")

#: Every task a model or a split accepts: one head, or both (``"multitask"``).
TASKS: tuple[str, ...] = ("gender", "age", "multitask")

#: Number of classes of each head.
TASK_CLASSES: dict[str, int] = {"gender": NUM_GENDER_CLASSES, "age": NUM_AGE_CLASSES}

#: Class names of each head, in class-id order (the one public spelling).
CLASS_NAMES: dict[str, tuple[str, ...]] = {"gender": GENDERS, "age": AGE_GROUP_NAMES}

#: Name of the regression output (and label) that gives an age in years beside the age
#: group: a task model built with ``age_years=True`` outputs it, a split gives it as a
#: float label (NaN where a face has only a group, as Adience rows do).
AGE_YEARS = "age_years"

#: Number of subject-exclusive folds of the Adience benchmark protocol.
NUM_FOLDS = 5

_CANONICAL = {(g.low, g.high): g.index for g in AGE_GROUPS}


class AgeParse(NamedTuple):
    """The result of :func:`parse_age`.

    Fields: ``label``, the age class (0..7) or :data:`MISSING`; and ``reason``, ``None``
    for a canonical group label, otherwise one of :data:`AGE_REASONS`: ``"missing age"``
    or ``"stray age"`` when ``label`` is missing, ``"mapped number"``, ``"mapped range"``
    or ``"typo fixed"`` when a non-canonical value was turned into a class.

    Example:

    >>> from adiencekit.labels import parse_age
    >>> parse_age("None")
    AgeParse(label=-1, reason='missing age')
    """

    label: int
    reason: str | None


def _is_missing(raw: Any) -> bool:
    if isinstance(raw, str):
        return False
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    try:  # pandas.NA, numpy.nan and friends
        import pandas as pd

        if pd.api.types.is_scalar(raw) and pd.isna(raw):
            return True
    except (TypeError, ValueError, ImportError):
        pass
    return False


def _check_policy(policy: str) -> None:
    if policy not in AGE_POLICIES:
        raise ValueError(f"age policy must be one of {AGE_POLICIES}, got {policy!r}")


def parse_gender(raw: Any) -> int:
    """Parse a raw gender cell.

    ``"f"``/``"female"`` -> 0 and ``"m"``/``"male"`` -> 1 (case and surrounding whitespace
    ignored). ``"u"``, ``""``, ``"None"``, ``None`` and NaN are missing (:data:`MISSING`).

    Args:
        raw: the cell value.

    Returns:
        0, 1 or :data:`MISSING`.

    Raises:
        ValueError: for any other value.

    Example:

    >>> from adiencekit.labels import parse_gender
    >>> [parse_gender(v) for v in ["f", "M", "u", "", None, float("nan")]]
    [0, 1, -1, -1, -1, -1]
    """
    if _is_missing(raw):
        return MISSING
    if not isinstance(raw, str):
        raise ValueError(f"gender must be a string such as 'f', 'm' or 'u', got {raw!r} ({type(raw).__name__})")
    value = raw.strip().lower()
    if value in _MISSING_GENDER_STRINGS:
        return MISSING
    if value in _GENDER_CODES:
        return _GENDER_CODES[value]
    raise ValueError(
        f"unknown gender {raw!r}; allowed: 'f'/'female', 'm'/'male', or 'u'/''/'None'/NaN for missing"
    )


def nearest_group(age: float) -> int:
    """The index of the group containing ``age``, else the nearest one.

    Distance is measured to the closed interval; ties go to the group whose midpoint
    is nearer, then to the younger group.

    Args:
        age: age in years (any non-negative real number).

    Returns:
        The age class, 0..7.

    Example:

    >>> from adiencekit.labels import nearest_group
    >>> nearest_group(35), nearest_group(3), nearest_group(7)
    (5, 0, 1)
    """
    return min(AGE_GROUPS, key=lambda g: (g.distance(age), abs(g.midpoint - age), g.index)).index


def _group_for_range(low: int, high: int) -> int:
    return min(
        AGE_GROUPS,
        key=lambda g: (-g.overlap(low, high), abs(g.midpoint - (low + high) / 2), g.index),
    ).index


def age_to_group(age: float) -> int:
    """Map an exact age in years to an age class (nearest group for ages in the gaps).

    Args:
        age: age in years, ``0 <= age <= 130``.

    Returns:
        The age class, 0..7 (see the module docstring for the gap ages).

    Raises:
        ValueError: if ``age`` is not a finite number in ``[0, 130]``.

    Example:

    >>> from adiencekit.labels import age_to_group, AGE_GROUPS
    >>> [AGE_GROUPS[age_to_group(a)].label for a in (1, 7, 22, 35, 80)]
    ['(0, 2)', '(4, 6)', '(15, 20)', '(38, 43)', '(60, 100)']
    """
    if isinstance(age, bool) or not isinstance(age, (int, float)) and not hasattr(age, "__float__"):
        raise ValueError(f"age must be a number of years, got {age!r} ({type(age).__name__})")
    value = float(age)
    if not math.isfinite(value) or not 0 <= value <= _MAX_AGE:
        raise ValueError(f"age must be a finite number of years in [0, {_MAX_AGE}], got {age!r}")
    return nearest_group(value)


def parse_age(raw: Any, policy: str = "drop") -> AgeParse:
    """Parse a raw age cell of an Adience fold file.

    Args:
        raw: the cell value: ``"(25, 32)"``, ``"35"``, ``"None"``, ``""``, NaN, ...
        policy: ``"drop"`` (only the eight canonical groups are labels) or ``"map"``
            (numbers and stray ranges go to the containing / nearest / most-overlapping
            group). The known typo ``"(25, 23)"`` becomes ``(25, 32)`` under both.

    Returns:
        An :class:`AgeParse` ``(label, reason)``.

    Raises:
        ValueError: for an unknown policy, or a value that is neither missing, a number
            in ``[0, 130]`` nor an ``(a, b)`` range with ``0 <= a <= b <= 130``.

    Example:

    >>> from adiencekit.labels import parse_age
    >>> parse_age("(27, 32)"), parse_age("(27, 32)", "map")
    (AgeParse(label=-1, reason='stray age'), AgeParse(label=4, reason='mapped range'))
    """
    _check_policy(policy)
    if _is_missing(raw):
        return AgeParse(MISSING, "missing age")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"age must be a string such as '(25, 32)' or '35', got {raw!r} ({type(raw).__name__})")
    value = str(raw).strip()
    if value.lower() in _MISSING_AGE_STRINGS:
        return AgeParse(MISSING, "missing age")
    match = _RANGE.match(value)
    if match:
        low, high = int(match.group(1)), int(match.group(2))
        if (low, high) in KNOWN_AGE_TYPOS:
            return AgeParse(_CANONICAL[KNOWN_AGE_TYPOS[(low, high)]], "typo fixed")
        if not 0 <= low <= high <= _MAX_AGE:
            raise ValueError(f"age range {raw!r} must satisfy 0 <= low <= high <= {_MAX_AGE}")
        if (low, high) in _CANONICAL:
            return AgeParse(_CANONICAL[(low, high)], None)
        if policy == "drop":
            return AgeParse(MISSING, "stray age")
        return AgeParse(_group_for_range(low, high), "mapped range")
    if _NUMBER.match(value):
        years = float(value)
        if years > _MAX_AGE:
            raise ValueError(f"age {raw!r} is above {_MAX_AGE} years")
        if policy == "drop":
            return AgeParse(MISSING, "stray age")
        return AgeParse(nearest_group(years), "mapped number")
    raise ValueError(
        f"unknown age {raw!r}; allowed: an age group '(low, high)', a number of years, or 'None'/''/NaN for missing"
    )


def validate_task(task: Any) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise a ``ValueError``.

    Example:

    >>> from adiencekit.labels import validate_task
    >>> validate_task("age")
    'age'
    """
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def task_heads(task: str) -> tuple[str, ...]:
    """The heads a task predicts: ``("gender",)``, ``("age",)`` or both.

    Example:

    >>> from adiencekit.labels import task_heads
    >>> task_heads("multitask")
    ('gender', 'age')
    """
    validate_task(task)
    return HEADS if task == "multitask" else (task,)


def class_names(head: str) -> tuple[str, ...]:
    """Display names of a head's classes, in class-id order (``"female"``, ``"0-2"``, ...).

    Example:

    >>> from adiencekit.labels import class_names
    >>> class_names("age")[:3]
    ('0-2', '4-6', '8-12')
    """
    if head not in CLASS_NAMES:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    return CLASS_NAMES[head]


#: One age in years per age group, in class order, for :func:`expected_age`: the mean
#: exact age of the UTKFace training faces that :func:`age_to_group` puts in the group
#: (both shared folders, ``utkface`` and ``utkface-extra``, 15,050 faces: the train part
#: of ``UTKFaceDataset([...]).split(task="multitask", val_fraction=0.1,
#: test_fraction=0.2, seed=0)``, no validation or test face). The mean, not the
#: interval's midpoint, because a model's group probabilities weigh the ages its
#: training faces of each group had: the midpoint of ``(60, 100)`` is 80 where those
#: faces average 69.7, and each group also holds the gap ages next to it (``(15, 20)``
#: holds 21 and 22). ``tests/test_labels.py`` recomputes them from the data when present.
GROUP_REPRESENTATIVE_AGES: tuple[float, ...] = (1.6, 5.2, 9.9, 18.8, 27.5, 38.9, 51.6, 69.7)


def expected_age(
    probabilities: Sequence[float] | Mapping[str, float] | np.ndarray,
    representative_ages: Sequence[float] = GROUP_REPRESENTATIVE_AGES,
) -> float | np.ndarray:
    """An age in years from the eight age-group probabilities: ``sum_g p_g * age_g``.

    The probabilities are normalised by their sum first, so a distribution that sums to
    a little less than 1 (rounded JSON) gives the same answer.

    Args:
        probabilities: ``(8,)`` or ``(N, 8)`` group probabilities in class order, or a
            mapping from group name (``"0-2"`` ... ``"60-100"``, as in a predictor's
            ``age.probabilities``) to probability.
        representative_ages: one age per group (default
            :data:`GROUP_REPRESENTATIVE_AGES`).

    Returns:
        A float for one distribution, a ``(N,)`` float64 array for ``N``.

    Raises:
        ValueError: for a wrong shape, unknown or missing group names, negative or
            non-finite values, or a distribution that sums to 0.

    Example:

    >>> from adiencekit.labels import expected_age
    >>> expected_age([0, 0, 0, 0, 1, 0, 0, 0])
    27.5
    >>> round(expected_age({"25-32": 0.5, "38-43": 0.5, "0-2": 0, "4-6": 0, "8-12": 0,
    ...                     "15-20": 0, "48-53": 0, "60-100": 0}), 2)
    33.2
    >>> expected_age([[0.5, 0.5, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 2]]).round(2).tolist()
    [3.4, 69.7]
    """
    if isinstance(probabilities, Mapping):
        names = set(probabilities)
        if names != set(AGE_GROUP_NAMES):
            raise ValueError(
                f"age probabilities must name the groups {list(AGE_GROUP_NAMES)}, got {sorted(map(str, names))}"
            )
        probabilities = [probabilities[name] for name in AGE_GROUP_NAMES]
    values = np.asarray(probabilities, dtype=np.float64)
    ages = np.asarray(representative_ages, dtype=np.float64)
    if ages.shape != (NUM_AGE_CLASSES,) or not np.isfinite(ages).all():
        raise ValueError(f"representative_ages must be {NUM_AGE_CLASSES} finite ages, got {representative_ages!r}")
    if values.ndim not in (1, 2) or values.shape[-1] != NUM_AGE_CLASSES:
        raise ValueError(f"age probabilities must have shape (8,) or (N, 8), got {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("age probabilities must be finite and non-negative")
    totals = values.sum(axis=-1)
    if (totals <= 0).any():
        raise ValueError("age probabilities must not all be 0")
    years = values @ ages / totals
    return float(years) if values.ndim == 1 else years


def as_probabilities(values: Any) -> np.ndarray:
    """Class scores as float64 probabilities: a distribution is kept, logits go through a softmax.

    Example:

    >>> import numpy as np
    >>> from adiencekit.labels import as_probabilities
    >>> as_probabilities(np.array([[0.25, 0.75]])).tolist()
    [[0.25, 0.75]]
    >>> as_probabilities(np.array([[0.0, 0.0]])).tolist()  # logits
    [[0.5, 0.5]]
    """
    values = np.asarray(values, dtype=np.float64)
    sums = values.sum(axis=-1)
    if np.all(values >= -1e-6) and np.allclose(sums, 1.0, atol=1e-3):
        return values
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
