"""From photos to labelled faces: reading, detection, alignment, prediction, annotation.

The pieces, each usable alone:

- :mod:`~adiencekit.inference.images`: read any photo as upright RGB ``uint8``.
- :mod:`~adiencekit.inference.detection`: the :class:`FaceDetector` interface and
  :class:`MTCNNDetector`.
- :mod:`~adiencekit.inference.alignment`: :func:`align_face` (five landmarks onto a
  template) and :func:`align_faces_in_folder` (training data), cutting faces as a
  :class:`~adiencekit.crops.CropSpec` says (re-exported here).
- :mod:`~adiencekit.inference.predictor`: :class:`Predictor`.
- :mod:`~adiencekit.inference.annotate`: draw boxes and labels.
- :mod:`~adiencekit.inference.loading`: :func:`load_model_source`, the one resolver of a model source.
- :mod:`~adiencekit.inference.onnx_model`: :class:`OnnxFaceModel`, an exported ``.onnx`` model
  run by ONNX Runtime with its record (the default model's path: no Keras import), and
  :mod:`~adiencekit.inference.mtcnn_onnx`: MTCNN's networks in ONNX Runtime.

The ``predict`` and ``export`` commands live in :mod:`adiencekit.cli.predict` and
:mod:`adiencekit.cli.export`.
"""

from __future__ import annotations

import importlib
from typing import Any

from adiencekit.crops import CropSpec

#: Public name -> the submodule that defines it (imported on first use, so that the
#: command line can build its parser without loading TensorFlow).
_EXPORTS = {
    "AlignReport": "alignment",
    "align_face": "alignment",
    "align_faces_in_folder": "alignment",
    "crop_box": "alignment",
    "similarity_transform": "alignment",
    "annotate_image": "annotate",
    "Detection": "detection",
    "FaceDetector": "detection",
    "MTCNNDetector": "detection",
    "ImageReadError": "images",
    "read_image": "images",
    "LoadedModel": "loading",
    "load_model_source": "loading",
    "OnnxFaceModel": "onnx_model",
    "FacePrediction": "predictor",
    "HeadPrediction": "predictor",
    "ImageResult": "predictor",
    "PredictionSummary": "predictor",
    "Predictor": "predictor",
    "summarize": "predictor",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        # No backend import here: the ONNX Runtime path needs none, and the Keras paths
        # import it quietly when they first need it (adiencekit.quiet.quiet_backend_import).
        value = getattr(importlib.import_module(f"adiencekit.inference.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adiencekit.inference' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = [
    "AlignReport",
    "CropSpec",
    "Detection",
    "FaceDetector",
    "FacePrediction",
    "HeadPrediction",
    "ImageReadError",
    "ImageResult",
    "LoadedModel",
    "MTCNNDetector",
    "OnnxFaceModel",
    "PredictionSummary",
    "Predictor",
    "align_face",
    "align_faces_in_folder",
    "annotate_image",
    "crop_box",
    "load_model_source",
    "read_image",
    "similarity_transform",
    "summarize",
]
