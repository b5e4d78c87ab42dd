"""What a run records about its split, and the check that a later evaluation scores the same one.

:func:`~adiencekit.training.train` writes, in ``metrics.json``, the size of the train,
validation and test sets and a digest of each (SHA-256 of its sorted image paths,
relative to the dataset folder so that a moved folder still matches).
``adiencekit evaluate --run`` rebuilds the split from the run's config and refuses to
score it when it is not the one the run was trained on: images added to or removed
from the data folder move faces between the sets, so the "test" set would hold the
run's own training faces.

Example:

>>> from types import SimpleNamespace
>>> from adiencekit.training.split_record import split_changes, split_record
>>> split = SimpleNamespace(train=["/d/a.jpg", "/d/b.jpg"], val=["/d/c.jpg"], test=["/d/e.jpg"])
>>> record = split_record(split, "/d")
>>> record["sizes"]
{'train': 2, 'val': 1, 'test': 1}
>>> split_changes(record, split, "/d")
[]
>>> split.test = ["/d/e.jpg", "/d/f.jpg"]
>>> split_changes(record, split, "/d")
['test 2 images (1 recorded)']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adiencekit.wording import counted

__all__ = ["SUBSETS", "split_changes", "split_record"]

SUBSETS = ("train", "val", "test")


def _paths(subset: Any) -> list[str]:
    return list(getattr(subset, "paths", subset))


def _digest(subset: Any, root: str | os.PathLike[str] | None) -> str:
    names = []
    for path in _paths(subset):
        try:
            names.append(Path(path).relative_to(root).as_posix() if root is not None else str(path))
        except ValueError:
            names.append(str(path))
    return hashlib.sha256("\n".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def split_record(split: Any, root: str | os.PathLike[str] | None) -> dict[str, dict[str, Any]]:
    """``{"sizes": {subset: n}, "digests": {subset: hex}}`` of a split's train, val and test sets.

    Args:
        split: a :class:`~adiencekit.data.Split` (each subset has ``paths``).
        root: the dataset folder the paths are made relative to (``None``: as they are).
    """
    return {
        "sizes": {name: len(_paths(getattr(split, name))) for name in SUBSETS},
        "digests": {name: _digest(getattr(split, name), root) for name in SUBSETS},
    }


def split_changes(recorded: Mapping[str, Any], split: Any, root: str | os.PathLike[str] | None) -> list[str]:
    """How ``split`` differs from what a run recorded (``[]``: the same split).

    Args:
        recorded: the run's ``metrics.json`` (or a :func:`split_record`): ``sizes`` and,
            for runs that recorded them, ``digests``.
        split: the split rebuilt from the run's config.
        root: the dataset folder.

    Returns:
        One short phrase per subset that changed.
    """
    now = split_record(split, root)
    sizes, digests = recorded.get("sizes") or {}, recorded.get("digests") or {}
    changes = []
    for name in SUBSETS:
        if name in sizes and sizes[name] != now["sizes"][name]:
            changes.append(f"{name} {counted(now['sizes'][name], 'image')} ({sizes[name]} recorded)")
        elif name in digests and digests[name] != now["digests"][name]:
            changes.append(f"{name} other images ({now['sizes'][name]}, as many as recorded)")
    return changes
