"""The model zoo and the bundled presets as ``adiencekit models`` lists them, without Keras.

Importing the registry (:mod:`adiencekit.models.registry`) or the presets module imports
Keras and its backend, five seconds or more of TensorFlow start-up for a command that
only prints a table. This static copy keeps ``adiencekit models`` instant; the tests
check it against the registry (names and native input shapes), so it cannot drift. The
bundled presets' folder and the default are :mod:`adiencekit.bundled`'s (read at call time). The bundled presets are described from their ``preset.json`` files, read
as JSON.

Example:

>>> from adiencekit.cli._catalog import MODELS, format_bundled_presets
>>> MODELS["levi_hassner"]
(227, 227, 3)
>>> format_bundled_presets("/no/such/folder")
['Bundled presets: none in this installation (adiencekit predict needs --model)']
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adiencekit import bundled
from adiencekit.bundled import DEFAULT_PRESET
from adiencekit.bundled import PRESET_FILE as _PRESET_FILE

__all__ = ["MODELS", "bundled_presets", "format_bundled_presets",
           "headline_metrics"]

#: ``{registered model name: default input_shape}``, sorted by name like ``list_models()``.
MODELS: dict[str, tuple[int, int, int]] = {
    "basic_inception": (299, 299, 3),
    "face_resnet": (96, 96, 3),
    "levi_hassner": (227, 227, 3),
    "modified_inception": (299, 299, 3),
    "scratch_cnn": (256, 256, 3),
}

#: Metrics entries that are not headline figures (tables, counts of missing labels).
_NOT_HEADLINE = frozenset({"protocol", "per_class", "confusion", "class_names", "missing"})
#: Width of the licence text's lines (it is printed whole, wrapped between words).
_LICENCE_WIDTH = 80


def bundled_presets(folder: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """The bundled presets' ``preset.json`` contents, by name (sorted).

    A sub-folder is a preset when it holds ``preset.json`` (the rule of
    :func:`adiencekit.models.list_presets`). An unreadable file gives
    ``{"error": "<why>"}`` so the listing shows it instead of dropping it.

    Args:
        folder: the folder of presets (default :data:`adiencekit.bundled.BUNDLED_DIR`).
    """
    root = Path(bundled.BUNDLED_DIR if folder is None else folder)
    found: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return found
    for sub in sorted(root.iterdir()):
        path = sub / _PRESET_FILE
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            found[sub.name] = {"error": f"unreadable {_PRESET_FILE} ({' '.join(str(error).split())[:120]})"}
            continue
        found[sub.name] = document if isinstance(document, dict) else {"error": f"{_PRESET_FILE} is not a JSON object"}
    return found


def headline_metrics(metrics: Any, limit: int = 6) -> str:
    """The test figures of a preset's ``metrics``, as one line.

    Numbers of ``metrics["test"]`` (or of ``metrics`` when it has no ``test`` entry) are
    listed with their key path; the ``protocol`` text, per-class tables and confusion
    matrices stay in ``preset.json``.

    Example:

    >>> from adiencekit.cli._catalog import headline_metrics
    >>> headline_metrics({"protocol": "seeded UTKFace test split",
    ...                   "test": {"gender_accuracy": 0.9123, "age": {"exact": 0.67, "one_off": 0.95}}})
    'gender_accuracy 0.912, age.exact 0.670, age.one_off 0.950'
    >>> headline_metrics({"protocol": "none"})
    'none recorded'
    """
    if not isinstance(metrics, Mapping):
        return "none recorded"
    scope = metrics["test"] if isinstance(metrics.get("test"), Mapping) else metrics
    items: list[str] = []

    def walk(value: Any, path: list[str]) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            items.append(f"{'.'.join(path)} {value}")
        elif isinstance(value, float):
            items.append(f"{'.'.join(path)} {value:.3f}")
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                if key not in _NOT_HEADLINE:
                    walk(inner, path if key == "heads" else [*path, str(key)])

    walk(scope, [])
    if not items:
        return "none recorded"
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f", ... ({more} more in {_PRESET_FILE})" if more > 0 else "")


def _crop_text(crop: Any) -> str:
    if not isinstance(crop, Mapping):
        return "crop ?"
    margin = crop.get("margin")
    return f"crop {crop.get('style', '?')}" + (f" (margin {margin})" if margin is not None else "")


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list) and shape:
        return "x".join("?" if side is None else str(side) for side in shape)
    return "?"


def format_bundled_presets(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """The lines ``adiencekit models`` prints about the bundled presets.

    Per preset: name (``(default)`` for :data:`DEFAULT_PRESET`), task, input shape,
    crop style (and the member count of an ensemble, and whether it holds an ONNX copy),
    licence, and the headline test figures with their protocol.

    Args:
        folder: the folder of presets (default :data:`adiencekit.bundled.BUNDLED_DIR`).
    """
    presets = bundled_presets(folder)
    if not presets:
        return ["Bundled presets: none in this installation (adiencekit predict needs --model)"]
    default_note = (f"without --model: {DEFAULT_PRESET}" if DEFAULT_PRESET in presets
                    else f"the default, {DEFAULT_PRESET}, is missing: predict needs --model")
    lines = [f"Bundled presets (adiencekit predict --model NAME; {default_note}):"]
    labels = {name: f"{name} (default)" if name == DEFAULT_PRESET else name for name in presets}
    width = max(24, *(len(label) for label in labels.values()))
    for name, document in presets.items():
        if "error" in document:
            lines.append(f"  {labels[name]:{width}s} {document['error']}")
            continue
        licence = textwrap.wrap("licence: " + str(document.get("license") or "not stated"), _LICENCE_WIDTH,
                                break_on_hyphens=False)
        config = document.get("config")
        members = config.get("members") if isinstance(config, Mapping) else None
        ensemble = f", ensemble of {len(members)} networks" if isinstance(members, list) else ""
        root = Path(bundled.BUNDLED_DIR if folder is None else folder)
        onnx = ", ONNX copy (predict runs it in ONNX Runtime)" if (root / name / bundled.ONNX_FILE).is_file() else ""
        if (root / name / bundled.INT8_ONNX_FILE).is_file():
            onnx = ", ONNX copies float32 and int8 (predict runs the int8 one in ONNX Runtime)"
        inference = document.get("inference")
        if isinstance(inference, Mapping) and inference.get("tta") == "flip":
            onnx += ", each face with its mirror (flip TTA)"
        lines.append(f"  {labels[name]:{width}s} {document.get('task', '?')}, "
                     f"input {_shape_text(document.get('input_shape'))}, {_crop_text(document.get('crop'))}"
                     f"{ensemble}{onnx}")
        lines += [f"  {'':{width}s} {line}" for line in licence]
        metrics = document.get("metrics")
        protocol = metrics.get("protocol") if isinstance(metrics, Mapping) else None
        lines.append(f"  {'':{width}s} test: {headline_metrics(metrics)}"
                     + (f" [{' '.join(str(protocol).split())}]" if protocol else ""))
    return lines
