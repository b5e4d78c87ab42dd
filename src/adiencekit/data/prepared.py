"""What ``adiencekit prepare`` records in a prepared UTKFace root (``prepare.json``), read back.

A root made by :func:`adiencekit.inference.prepare.prepare_utkface` holds faces cut by
detection and alignment with a recorded crop; a model trained on it must cut faces from
photos the same way. This is the one reader of that record (used by run folders,
export and reproduce); it sits in the data layer because it describes a data root.

Example:

>>> from adiencekit.data.prepared import prepared_record
>>> prepared_record("synthetic") is None
True
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PREPARE_FILE", "prepared_record"]

#: What :func:`~adiencekit.inference.prepare.prepare_utkface` records in the prepared root.
PREPARE_FILE = "prepare.json"


def prepared_record(data: str) -> dict[str, Any] | None:
    """The ``prepare.json`` of a ``utkface:PATH`` data spec, or ``None`` (not prepared, or not UTKFace).

    Args:
        data: a data spec as :class:`~adiencekit.training.TrainConfig` records it.

    Returns:
        The record (with its ``crop`` dict), or ``None`` when the root was not prepared
        or the record is unreadable.
    """
    from adiencekit.data.datasets import parse_dataset_spec

    kind, root = parse_dataset_spec(data)
    if kind != "utkface" or root is None:
        return None
    path = root / PREPARE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("crop"), dict) else None
