"""The data of a run: the dataset a :class:`TrainConfig` names, its split and cleaning report.

Example:

>>> import tempfile
>>> from adiencekit.data import make_synthetic_adience
>>> from adiencekit.training import TrainConfig
>>> from adiencekit.training.data_loading import check_split, data_counts, load_dataset, split_dataset
>>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(48,))
>>> config = TrainConfig(data=str(root), val_fraction=0.25)
>>> dataset = load_dataset(config)
>>> split = split_dataset(dataset, config)
>>> check_split(split)
>>> data_counts(dataset.report())["dropped"]
0
"""

from __future__ import annotations

from typing import Any

from adiencekit.errors import DataError
from adiencekit.training.config import TrainConfig

__all__ = ["check_split", "data_counts", "load_dataset", "load_split", "split_dataset"]


def load_dataset(config: TrainConfig, *, progress: bool = False) -> Any:
    """The dataset that ``config.data`` names, cleaned (with its ``report()``).

    The data layer's :func:`~adiencekit.data.open_dataset` turns the spec into a dataset
    (the synthetic set is built on first use).

    Args:
        config: uses ``data``, ``folds_dir``, ``faces`` and ``age_policy``.
        progress: show a progress bar while the images are checked.

    Returns:
        An :class:`~adiencekit.data.AdienceDataset` or :class:`~adiencekit.data.UTKFaceDataset`.

    Raises:
        DatasetNotFoundError: when the dataset's files are missing.
    """
    from adiencekit.data import open_dataset

    return open_dataset(config.data, faces=config.faces, age_policy=config.age_policy,
                        folds_dir=config.folds_dir, progress=progress)


def split_dataset(dataset: Any, config: TrainConfig) -> Any:
    """The train/validation/test split of ``dataset`` that ``config`` asks for."""
    return dataset.split(task=config.task, test_fold=config.test_fold, val_fraction=config.val_fraction,
                         test_fraction=config.test_fraction, seed=config.resolved_split_seed())


def load_split(config: TrainConfig, *, progress: bool = False) -> Any:
    """The train/validation/test :class:`~adiencekit.data.Split` that ``config`` names.

    Args:
        config: uses ``data``, ``folds_dir``, ``faces``, ``age_policy``, ``task``,
            ``test_fold``, ``val_fraction``, ``test_fraction``, ``seed`` and ``split_seed``.
        progress: show a progress bar while the images are checked.

    Returns:
        The split (subject-exclusive for Adience: test fold + validation users).

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) when the dataset folder does not exist.
    """
    return split_dataset(load_dataset(config, progress=progress), config)


def check_split(split: Any) -> None:
    """Raise :class:`DataError` when the train, validation or test set is empty."""
    for subset in ("train", "val", "test"):
        if len(getattr(split, subset)) == 0:
            raise DataError(f"the {subset} set of this split is empty; use more data or another val_fraction")


def data_counts(report: Any) -> dict[str, Any]:
    """Rows read, dropped (in total and by reason) and kept, from a cleaning report."""
    return {
        "rows_read": int(report.input()),
        "dropped": int(report.dropped_total()),
        "dropped_by_reason": {reason: int(report.dropped(reason)) for reason in report.dropped_reasons},
        "kept": int(report.kept()),
    }
