"""From photos to labelled faces: reading, detection, alignment, prediction, annotation.

The pieces, each usable alone:

- :mod:`~adiencekit.inference.images`: read any photo as upright RGB ``uint8``.
- :mod:`~adiencekit.inference.detection`: the :class:`FaceDetector` interface and
  :class:`MTCNNDetector`.
- :mod:`~adiencekit.inference.alignment`: :class:`CropSpec`, :func:`align_face` (five
  landmarks onto a template) and :func:`align_faces_in_folder` (training data).
- :mod:`~adiencekit.inference.predictor`: :class:`Predictor`.
- :mod:`~adiencekit.inference.annotate`: draw boxes and labels.
- :mod:`~adiencekit.inference.commands`: the ``predict`` and ``export`` commands.
"""

from adiencekit.inference.alignment import (
    AlignReport,
    CropSpec,
    align_face,
    align_faces_in_folder,
    crop_box,
    similarity_transform,
)
from adiencekit.inference.annotate import annotate_image
from adiencekit.inference.detection import Detection, FaceDetector, MTCNNDetector
from adiencekit.inference.images import ImageReadError, read_image
from adiencekit.inference.loading import LoadedModel, load_model_source
from adiencekit.inference.predictor import (
    FacePrediction,
    HeadPrediction,
    ImageResult,
    PredictionSummary,
    Predictor,
    summarize,
)

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
