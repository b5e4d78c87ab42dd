"""The record an adiencekit export carries: its format name, where it is kept, how it is read.

:func:`adiencekit.export.export_record` writes it (heads, class names, where an age in years
comes from, the crop, the input rule) into every exported file: an ONNX file's
``metadata_props`` under :data:`RECORD_KEY`, a SavedModel's ``assets/adiencekit.json``, a
TFLite file's ``.tflite.json``. The readers (:func:`adiencekit.export.read_export_record`,
and :class:`~adiencekit.inference.onnx_model.OnnxFaceModel` through ONNX Runtime) parse it
with :func:`parse_record`. This module imports nothing heavy, so the inference path reads
records without the export code above it.

Example:

>>> from adiencekit.export_record import RECORD_FORMAT, RECORD_KEY
>>> RECORD_KEY, RECORD_FORMAT
('adiencekit', 'adiencekit-export')
"""

from __future__ import annotations

import json
import os
from typing import Any

from adiencekit.errors import ModelFileError

__all__ = ["PRESET_WEIGHTS_KEY", "RECORD_FORMAT", "RECORD_KEY", "parse_record"]

#: The ONNX ``metadata_props`` key of the export record, and the stem of its JSON file.
RECORD_KEY = "adiencekit"

#: The record's ``format`` entry.
RECORD_FORMAT = "adiencekit-export"

#: The record entry of a preset's ONNX copy (:func:`adiencekit.export.add_onnx_to_preset`)
#: that names the sha256 of the weights file it was made from.
PRESET_WEIGHTS_KEY = "preset_weights_sha256"


def parse_record(text: str, where: str | os.PathLike[str]) -> dict[str, Any]:
    """An export record from its JSON text (as :func:`export_record` wrote it), or a one-line error.

    Raises:
        ModelFileError: the text is not JSON or not an adiencekit export record.

    Example:

    >>> from adiencekit.export_record import parse_record
    >>> parse_record('{"format": "adiencekit-export", "heads": ["age"]}', "m.onnx")["heads"]
    ['age']
    >>> parse_record("{}", "m.onnx")
    Traceback (most recent call last):
    ...
    adiencekit.errors.ModelFileError: m.onnx: its record is not an adiencekit export record
    """
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ModelFileError(f"{where}: no readable adiencekit export record ({error})") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ModelFileError(f"{where}: its record is not an adiencekit export record")
    return record
