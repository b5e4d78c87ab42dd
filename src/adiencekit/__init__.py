"""adiencekit: age and gender classification of faces in the wild, on Keras 3.

The top-level names are imported lazily so that ``import adiencekit.models``
works on a machine that has Keras and JAX but no TensorFlow.

Example:

>>> import adiencekit
>>> adiencekit.__version__
'0.1.0.dev0'
>>> "modified_inception" in adiencekit.list_models()
True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0.dev0"

_LAZY = {
    "AdienceDataset": "adiencekit.data",
    "UTKFaceDataset": "adiencekit.data",
    "create_model": "adiencekit.models",
    "list_models": "adiencekit.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adiencekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
