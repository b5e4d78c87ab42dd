"""Where the bundled presets live, which one is the default model, and a preset's file names, without Keras.

The presets shipped inside the package are sub-folders of :data:`BUNDLED_DIR`;
:data:`DEFAULT_PRESET` is the one ``adiencekit predict`` and
:class:`~adiencekit.inference.Predictor` use when no model is given. A preset folder may
also hold :data:`ONNX_FILE`, the same network exported to ONNX with its record
(:func:`adiencekit.export.add_onnx_to_preset`), which the predict path runs with ONNX
Runtime without importing Keras, and :data:`INT8_ONNX_FILE`, its 8-bit copy
(:func:`adiencekit.quantization.add_int8_onnx_to_preset`), which it prefers.

These names are read at call time by :mod:`adiencekit.models.presets`,
:mod:`adiencekit.inference.loading` and the CLI's catalogue, so this module is the one
place that says them (tests point :data:`BUNDLED_DIR` at a stand-in folder here).

Example:

>>> from adiencekit import bundled
>>> bundled.DEFAULT_PRESET, bundled.PRESET_FILE, bundled.WEIGHTS_FILE, bundled.ONNX_FILE, bundled.INT8_ONNX_FILE
('utkface_v2', 'preset.json', 'model.weights.h5', 'model.onnx', 'model.int8.onnx')
>>> bundled.default_preset_dir().relative_to(bundled.BUNDLED_DIR).as_posix()
'utkface_v2'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_DIR", "DEFAULT_PRESET", "INT8_ONNX_FILE", "ONNX_FILE", "PRESET_FILE", "WEIGHTS_FILE", "default_preset_dir"]

#: Folder of the presets shipped inside the package (one sub-folder per preset).
BUNDLED_DIR = Path(__file__).resolve().parent / "models" / "bundled"

#: The bundled preset used when no model is given (``BUNDLED_DIR / DEFAULT_PRESET``; an
#: installation without it asks for ``--model``).
DEFAULT_PRESET = "utkface_v2"

#: A preset folder's description file (its presence makes a folder a preset).
PRESET_FILE = "preset.json"

#: A preset folder's weights file (written by ``save_to_preset``).
WEIGHTS_FILE = "model.weights.h5"

#: The optional ONNX copy of a preset's network, beside its weights.
ONNX_FILE = "model.onnx"

#: The optional int8 copy of a preset's network (quantized from :data:`ONNX_FILE`).
INT8_ONNX_FILE = "model.int8.onnx"


def default_preset_dir() -> Path:
    """The default preset's folder (it may be missing in a source tree without the weights)."""
    return BUNDLED_DIR / DEFAULT_PRESET
