"""The data layer: Adience fold files, cleaning, subject-exclusive splits and pipelines.

Pipelines come in two engines, as in Keras (``format="tf" | "grain"``): only
:mod:`adiencekit.data.pipeline` (``build_pipeline``, ``Subset.pipeline(format="tf")``)
needs TensorFlow; :mod:`adiencekit.data.grain_pipeline` (``build_grain_pipeline``) is its
twin without it. Every name here is imported on first use, so ``import adiencekit.data``
stays light.

- :func:`open_dataset` turns a spec (``"synthetic"``, an Adience root, ``"utkface:PATH"``)
  into a dataset; every dataset satisfies the :class:`FaceDataset` protocol.
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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from adiencekit.data.adience import AdienceDataset, InvalidRowError
    from adiencekit.data.balance import BalancedSampling, balanced_sampling
    from adiencekit.data.datasets import FaceDataset, dataset_defaults, open_dataset, parse_dataset_spec
    from adiencekit.data.folds import FoldFileError, FoldTable, read_folds
    from adiencekit.data.grain_pipeline import build_grain_pipeline
    from adiencekit.data.images import ImageInfo, scan_images
    from adiencekit.data.pipeline import build_pipeline
    from adiencekit.data.report import CleaningReport
    from adiencekit.data.splits import Split, Subset
    from adiencekit.data.synthetic import default_synthetic_root, ensure_synthetic_adience, make_synthetic_adience
    from adiencekit.data.utkface import UTKFaceDataset, read_labels_csv

_WHERE: dict[str, str] = {
    "AdienceDataset": "adience",
    "InvalidRowError": "adience",
    "BalancedSampling": "balance",
    "balanced_sampling": "balance",
    "FaceDataset": "datasets",
    "dataset_defaults": "datasets",
    "open_dataset": "datasets",
    "parse_dataset_spec": "datasets",
    "FoldFileError": "folds",
    "FoldTable": "folds",
    "read_folds": "folds",
    "build_grain_pipeline": "grain_pipeline",
    "ImageInfo": "images",
    "scan_images": "images",
    "build_pipeline": "pipeline",
    "CleaningReport": "report",
    "Split": "splits",
    "Subset": "splits",
    "default_synthetic_root": "synthetic",
    "ensure_synthetic_adience": "synthetic",
    "make_synthetic_adience": "synthetic",
    "UTKFaceDataset": "utkface",
    "read_labels_csv": "utkface",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'adiencekit.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"adiencekit.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
