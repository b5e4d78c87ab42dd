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
from pathlib import Path
from typing import Any

from adiencekit.errors import ConfigError

__all__ = ["PREPARE_FILE", "prepared_record"]

#: What :func:`~adiencekit.inference.prepare.prepare_utkface` records in the prepared root.
PREPARE_FILE = "prepare.json"


def prepared_record(data: str) -> dict[str, Any] | None:
    """The ``prepare.json`` of a ``utkface:PATH`` data spec, or ``None`` (not prepared, or not UTKFace).

    A spec of several roots (``utkface:PATH1,PATH2``) gives their one record when every
    root was prepared with the same crop and padding, ``None`` when none was prepared.

    Args:
        data: a data spec as :class:`~adiencekit.training.TrainConfig` records it.

    Returns:
        The record (with its ``crop`` dict), or ``None`` when the root was not prepared
        or the record is unreadable.

    Raises:
        ConfigError: the roots of one spec were cut differently (some prepared and some
            not, or with other crops): a model trained on them has no one crop to cut
            faces from photos with.
    """
    from adiencekit.data.datasets import parse_dataset_spec
    from adiencekit.data.utkface import utkface_roots

    kind, root = parse_dataset_spec(data)
    if kind != "utkface" or root is None:
        return None
    roots = utkface_roots(root)
    records = [_read(path / PREPARE_FILE) for path in roots]
    cuts = {json.dumps(None if r is None else [r["crop"], r.get("pad")], sort_keys=True) for r in records}
    if len(cuts) > 1:
        described = "; ".join(f"{path}: {'not prepared' if r is None else r['crop']}" for path, r in zip(roots, records))
        raise ConfigError(f"the UTKFace roots of {data!r} were cut differently ({described}); prepare every root "
                          f"with the same crop (adiencekit prepare) or use raw roots only")
    return records[0]


def _read(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("crop"), dict) else None
