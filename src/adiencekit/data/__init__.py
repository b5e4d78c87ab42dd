"""The data layer: Adience fold files, cleaning, subject-exclusive splits and pipelines.

Built on ``tf.data``; importing :mod:`adiencekit.data.pipeline` needs TensorFlow.

- :func:`read_folds` reads the five fold files of either Adience release.
- :class:`AdienceDataset` parses labels, checks images, reports every dropped row
  (:class:`CleaningReport`) and makes subject-exclusive splits (:class:`Split` of
  :class:`Subset`\\ s, each with a ``.pipeline()``).
- :class:`UTKFaceDataset` reads UTKFace, mapping exact ages to the Adience groups.
- :func:`make_synthetic_adience` writes a small learnable Adience-format tree, the
  embedded default when the real data is absent.

Example:

>>> import tempfile
>>> from adiencekit.data import AdienceDataset, make_synthetic_adience
>>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
>>> data = AdienceDataset(root)
>>> train, val, test = data.split(test_fold=0, task="gender", val_fraction=0.2)
>>> len(train) + len(val) + len(test) <= len(data)
True
"""

from __future__ import annotations

from adiencekit.data.adience import AdienceDataset, InvalidRowError
from adiencekit.data.folds import FoldFileError, FoldTable, read_folds
from adiencekit.data.images import ImageInfo, scan_images
from adiencekit.data.pipeline import build_pipeline
from adiencekit.data.report import CleaningReport
from adiencekit.data.splits import Split, Subset
from adiencekit.data.synthetic import default_synthetic_root, ensure_synthetic_adience, make_synthetic_adience
from adiencekit.data.utkface import UTKFaceDataset

__all__ = [
    "AdienceDataset",
    "CleaningReport",
    "FoldFileError",
    "FoldTable",
    "ImageInfo",
    "InvalidRowError",
    "Split",
    "Subset",
    "UTKFaceDataset",
    "build_pipeline",
    "default_synthetic_root",
    "ensure_synthetic_adience",
    "make_synthetic_adience",
    "read_folds",
    "scan_images",
]
