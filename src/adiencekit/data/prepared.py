"""What ``adiencekit prepare`` records in a prepared UTKFace root (``prepare.json``), read back.

A root made by :func:`adiencekit.inference.prepare.prepare_utkface` holds faces cut by
detection and alignment with a recorded crop; a model trained on it must cut faces from
photos the same way. This is the one reader of that record (used by run folders,
export and reproduce); it sits in the data layer because it describes a data root.

:func:`prepared_record` gives the record of a data spec's roots (their one crop);
:func:`preparation_card` gives what a preset records about them (``prepared_with`` of
``preset.json``): the crop and padding, and for each root the raw root it was cut from
(its folder name only), its image and face counts and its split, so that
:mod:`adiencekit.reproduce` can prepare the same roots again.

Example:

>>> from adiencekit.data.prepared import preparation_card, prepared_record
>>> prepared_record("synthetic") is None, preparation_card("synthetic") is None
(True, True)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adiencekit.errors import ConfigError

__all__ = ["PREPARE_FILE", "preparation_card", "prepared_record"]

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
    records = _root_records(data)
    return None if records is None else records[0][1]


def preparation_card(data: str) -> dict[str, Any] | None:
    """How the roots of ``data`` were prepared, as a preset records it (``training_data.prepared_with``).

    No path of this machine is kept: each root is named by the folder name of the raw
    root it was prepared from (``prepare.json``'s ``source``).

    Args:
        data: a data spec as :class:`~adiencekit.training.TrainConfig` records it
            (``utkface:PATH`` or ``utkface:PATH1,PATH2``).

    Returns:
        ``{"crop", "pad", "detector", "roots"}``, ``roots`` holding per root, in the
        spec's order, ``{"raw", "images", "faces", "split"}`` (``raw``: the raw folder's
        name; ``images``: the raw images split; ``faces``: those cut; ``split``: the
        recorded split, with its seed), or ``None`` when the roots were not prepared.

    Raises:
        ConfigError: the roots were cut differently (see :func:`prepared_record`).

    Example:

    >>> import json, tempfile, pathlib
    >>> from adiencekit.data.prepared import preparation_card
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "utk-aligned"; root.mkdir()
    >>> _ = (root / "prepare.json").write_text(json.dumps({
    ...     "source": "/home/me/utkface", "crop": {"style": "aligned", "size": 112}, "pad": 0.25,
    ...     "split": {"seed": 0, "sizes": {"train": 7, "val": 1, "test": 2}}, "no_face": ["a.jpg"]}))
    >>> preparation_card(f"utkface:{root}")["roots"]
    [{'raw': 'utkface', 'images': 10, 'faces': 9, 'split': {'seed': 0, 'sizes': {'train': 7, 'val': 1, 'test': 2}}}]
    """
    records = _root_records(data)
    if records is None:
        return None
    first = records[0][1]
    card = {key: first.get(key) for key in ("crop", "pad", "detector")}
    card["roots"] = [_root_card(record) for _, record in records]
    return card


def _root_card(record: dict[str, Any]) -> dict[str, Any]:
    """One root of :func:`preparation_card`: raw folder name, image and face counts, split."""
    split = record.get("split") if isinstance(record.get("split"), dict) else {}
    sizes = split.get("sizes")
    images = sum(sizes.values()) if isinstance(sizes, dict) else None
    lost = [record.get(key) for key in ("no_face", "unreadable")]
    faces = images - sum(len(item) for item in lost if isinstance(item, list)) if images is not None else None
    source = record.get("source")
    return {"raw": (Path(source).name or None) if isinstance(source, str) else None, "images": images,
            "faces": faces, "split": split or None}


def _root_records(data: str) -> list[tuple[Path, dict[str, Any]]] | None:
    """Each root of ``data`` with its record, or ``None`` (not UTKFace, or no root prepared).

    Raises:
        ConfigError: the roots were cut differently (some prepared and some not, or
            with other crops or padding).
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
    if records[0] is None:
        return None
    return [(path, record) for path, record in zip(roots, records, strict=True) if record is not None]  # all of them


def _read(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("crop"), dict) else None
