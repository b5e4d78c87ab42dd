"""One dataset interface, and :func:`open_dataset`, which turns a spec string into a dataset.

Both :class:`~adiencekit.data.AdienceDataset` and :class:`~adiencekit.data.UTKFaceDataset`
satisfy the :class:`FaceDataset` protocol: the same :meth:`~FaceDataset.split` keywords,
``report()``, ``summary()``, ``info``, ``frame``, ``len()`` and the dataset's native
defaults (``default_image_size``, ``default_test_fold``). A missing image folder raises
:class:`~adiencekit.errors.DatasetNotFoundError` in both, and a folder without one usable
image :class:`~adiencekit.errors.DataError`.

Dataset specs (the ``data`` of :class:`~adiencekit.training.TrainConfig`, the command
line's ``--data``):

==========================  ===============================================================
``"synthetic"``             the embedded synthetic Adience-format set (built on first use)
``"/path/to/adience"``      an Adience root (fold files + ``aligned/`` or ``faces/``)
``"utkface:/path/to/utk"``  a UTKFace folder (``images/`` + optional ``labels.csv``)
==========================  ===============================================================

``~`` is expanded in every path.

Example:

>>> from adiencekit.data import parse_dataset_spec
>>> parse_dataset_spec("synthetic")
('synthetic', None)
>>> kind, path = parse_dataset_spec("utkface:~/utk")
>>> kind, path.name, "~" in str(path)
('utkface', 'utk', False)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from adiencekit.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from adiencekit.data.report import CleaningReport
    from adiencekit.data.splits import Split

__all__ = [
    "DATASET_KINDS",
    "SYNTHETIC",
    "UTKFACE_PREFIX",
    "FaceDataset",
    "dataset_defaults",
    "open_dataset",
    "parse_dataset_spec",
]

#: The spec of the embedded synthetic set.
SYNTHETIC = "synthetic"
#: Prefix of a UTKFace spec, ``"utkface:/path/to/utkface"``.
UTKFACE_PREFIX = "utkface:"
#: What a spec can name.
DATASET_KINDS: tuple[str, ...] = ("synthetic", "adience", "utkface")

#: Native settings of each kind of dataset: what a run uses unless told otherwise.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "adience": {"image_size": 256, "test_fold": 0, "test_fraction": None, "faces": "aligned", "age_policy": "drop"},
    "utkface": {"image_size": 200, "test_fold": None, "test_fraction": 0.2, "faces": None, "age_policy": None},
}
_DEFAULTS["synthetic"] = _DEFAULTS["adience"]


@runtime_checkable
class FaceDataset(Protocol):
    """What every dataset of the library offers (Adience, UTKFace).

    Attributes:
        frame: one row per usable image: at least ``path``, ``gender`` and ``age``
            (int class ids, ``-1`` = label missing).
        default_image_size: the square size images are resized to unless a run says
            otherwise (Adience 256, UTKFace 200, its native size).
        default_test_fold: the test fold of the dataset's protocol, ``None`` without folds.
    """

    frame: pd.DataFrame
    default_image_size: int
    default_test_fold: int | None

    def split(
        self,
        *,
        task: str = "gender",
        test_fold: int | None = ...,
        val_fraction: float = 0.1,
        test_fraction: float | None = ...,
        seed: int | None = 0,
    ) -> Split:
        """A train/validation/test :class:`~adiencekit.data.Split`.

        Keywords: ``task``; ``test_fold`` (Adience: 0-4; UTKFace: must be ``None``);
        ``val_fraction``; ``test_fraction`` (UTKFace; must be ``None`` for Adience, whose
        test set is a fold); ``seed``. Raises :class:`~adiencekit.errors.ConfigError` for
        an argument that does not apply, :class:`~adiencekit.errors.DataError` for an
        empty part.
        """

    def report(self) -> CleaningReport:
        """Rows read and dropped (by reason), kept without a label, noted."""

    def summary(self) -> str:
        """A short human-readable description of the usable images."""

    @property
    def info(self) -> dict[str, Any]:
        """Facts about the dataset as a plain JSON-ready dict (with ``"name"``)."""

    def __len__(self) -> int:
        """The number of usable images."""


def parse_dataset_spec(spec: str | os.PathLike[str]) -> tuple[str, Path | None]:
    """The kind (``"synthetic"``, ``"adience"``, ``"utkface"``) and folder a spec names.

    Args:
        spec: ``"synthetic"``, an Adience root, or ``"utkface:PATH"`` (``~`` expanded).

    Returns:
        ``(kind, path)``, ``path`` being ``None`` for the synthetic set.

    Raises:
        ConfigError: for an empty spec or ``"utkface:"`` without a path.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            f"a dataset spec must be 'synthetic', a path to an Adience root or 'utkface:PATH', got {spec!r}"
        )
    if spec == SYNTHETIC:
        return "synthetic", None
    if spec.startswith(UTKFACE_PREFIX):
        path = spec[len(UTKFACE_PREFIX):]
        if not path.strip():
            raise ConfigError("the dataset spec 'utkface:' needs a path, e.g. 'utkface:~/data/utkface'")
        return "utkface", Path(path).expanduser()
    return "adience", Path(spec).expanduser()


def dataset_defaults(spec: str | os.PathLike[str]) -> dict[str, Any]:
    """The native settings of the dataset a spec names, without opening it.

    Returns:
        ``{"image_size", "test_fold", "test_fraction", "faces", "age_policy"}``; a
        ``None`` means the setting does not apply (UTKFace has no folds, no face layouts
        and exact ages).

    Example:

    >>> from adiencekit.data import dataset_defaults
    >>> dataset_defaults("utkface:/data/utk")["image_size"], dataset_defaults("synthetic")["test_fold"]
    (200, 0)
    """
    kind, _ = parse_dataset_spec(spec)
    return dict(_DEFAULTS[kind])


def open_dataset(
    spec: str | os.PathLike[str],
    *,
    faces: str | None = None,
    age_policy: str | None = None,
    folds_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    check_images: bool = True,
    strict: bool = False,
    cross_fold_users: str = "drop",
) -> FaceDataset:
    """Open the dataset that ``spec`` names (see the module docstring for specs).

    Args:
        spec: ``"synthetic"``, an Adience root, or ``"utkface:PATH"``.
        faces: Adience image folder, ``"aligned"`` (default) or ``"faces"``; must be
            ``None`` for UTKFace.
        age_policy: Adience stray ages, ``"drop"`` (default) or ``"map"``; must be
            ``None`` for UTKFace (exact ages).
        folds_dir: Adience fold files' folder when not in the root; ``None`` for UTKFace
            and the synthetic set.
        progress: show a progress bar while the images are checked.
        check_images: open every image header (``True``) or only ``stat`` each file.
        strict: raise at the first row that would be skipped.
        cross_fold_users: Adience users in several fold files: ``"drop"`` or ``"raise"``.

    Returns:
        An :class:`~adiencekit.data.AdienceDataset` or :class:`~adiencekit.data.UTKFaceDataset`.

    Raises:
        ConfigError: for a bad spec or a setting that does not apply to the dataset.
        DatasetNotFoundError: when the dataset's files are missing (names them and how to
            get the data).
        DataError: for malformed files or no usable image.

    Example:

    >>> import tempfile
    >>> from adiencekit.data import FaceDataset, make_synthetic_adience, open_dataset
    >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=2, images_per_user=4, image_sizes=(64,))
    >>> data = open_dataset(str(root))
    >>> isinstance(data, FaceDataset), data.default_image_size
    (True, 256)
    >>> train, val, test = data.split(task="age", test_fold=1, val_fraction=0.2, seed=0)
    """
    kind, path = parse_dataset_spec(spec)
    if kind == "utkface":
        for name, value in (("faces", faces), ("age_policy", age_policy), ("folds_dir", folds_dir)):
            if value is not None:
                raise ConfigError(
                    f"{name}={value!r} does not apply to UTKFace ({spec}): it has one image folder, exact ages and "
                    f"no fold files; leave {name} unset (None)"
                )
        from adiencekit.data.utkface import UTKFaceDataset

        return UTKFaceDataset(path, check_images=check_images, strict=strict, progress=progress)

    from adiencekit.data.adience import AdienceDataset

    if kind == "synthetic":
        if folds_dir is not None:
            raise ConfigError(f"folds_dir={folds_dir!r} does not apply to the synthetic set; leave it unset")
        from adiencekit.data.synthetic import ensure_synthetic_adience

        path = ensure_synthetic_adience()
    assert path is not None
    return AdienceDataset(
        path,
        faces=faces if faces is not None else _DEFAULTS["adience"]["faces"],
        age_policy=age_policy if age_policy is not None else _DEFAULTS["adience"]["age_policy"],
        folds_dir=folds_dir,
        check_images=check_images,
        strict=strict,
        progress=progress,
        cross_fold_users=cross_fold_users,
    )
