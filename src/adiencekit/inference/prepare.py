"""Prepare UTKFace for training the way faces are cut at inference: detect, align, split.

A model that will label faces found by :class:`~adiencekit.inference.Predictor` should
be trained on crops made by the same detector and alignment, not on the dataset's own
crops (a model trained on UTKFace's tight crops falls to near chance on looser ones).
:func:`prepare_utkface` turns a UTKFace root into such a root:

1. it draws the seeded random split of the **raw** root (the same faces whatever the
   detector finds later) and writes it as ``splits.csv``, which
   :class:`~adiencekit.data.UTKFaceDataset` then follows: a test face stays a test face;
2. it detects the largest face of every image (MTCNN), mirror-padding the tight crops
   first, and writes the aligned crop (:data:`~adiencekit.crops.UTKFACE_TRAINING_CROP`) under the same
   file name in ``<dst>/images``;
3. it copies ``labels.csv`` and writes ``prepare.json`` (settings and counts, the
   files without a face).

Images without a detected face are not written; they are counted in the report and
``prepare.json`` (and the dataset at ``dst`` counts them as ``splits.csv`` rows without
an image). An interrupted run continues where it stopped (crops already written are
kept).

Example (ten blank images and a detector that finds nothing, so nothing is cut; real
use takes minutes):

>>> import tempfile, pathlib
>>> from PIL import Image
>>> from adiencekit.inference.prepare import prepare_utkface
>>> class NoFaces:
...     def detect(self, image):
...         return []
>>> src = pathlib.Path(tempfile.mkdtemp()); (src / "images").mkdir()
>>> for i in range(10):
...     Image.new("RGB", (40, 40)).save(src / "images" / f"{20 + i}_{i % 2}_0_2017010{i}.jpg.chip.jpg")
>>> report = prepare_utkface(src, src.parent / (src.name + "-aligned"), detector=NoFaces())
>>> report.summary()
'10 images read, 0 crops written, 10 without a face, 0 unreadable, 0 kept as they were; split 7 train / 1 val / 2 test'
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from adiencekit.crops import UTKFACE_TRAINING_CROP, CropSpec
from adiencekit.data.prepared import PREPARE_FILE, prepared_record
from adiencekit.inference.alignment import AlignReport, align_faces_in_folder

if TYPE_CHECKING:  # pragma: no cover
    from adiencekit.inference.detection import FaceDetector

__all__ = [
    "PREPARE_FILE",
    "PrepareReport",
    "prepare_utkface",
]


@dataclass
class PrepareReport:
    """What :func:`prepare_utkface` did: the alignment report and the split sizes."""

    align: AlignReport
    split_sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: the alignment counts and the split."""
        sizes = " / ".join(f"{n} {part}" for part, n in self.split_sizes.items())
        return f"{self.align.summary()}; split {sizes}"


def prepare_utkface(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    spec: CropSpec = UTKFACE_TRAINING_CROP,
    *,
    pad: float = 0.25,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    detector: FaceDetector | str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> PrepareReport:
    """Detect, align and split a UTKFace root into a training root (see the module docstring).

    Args:
        src: the raw UTKFace root (``images/`` and optionally ``labels.csv``).
        dst: the prepared root to write (created; may be re-run to continue).
        spec: the crop to write (default :data:`~adiencekit.crops.UTKFACE_TRAINING_CROP`).
        pad: mirror padding before detection, as a fraction of the image side.
        val_fraction: share of the raw images for validation.
        test_fraction: share of the raw images for testing.
        seed: seed of the split.
        detector: a face detector, or a name of
            :data:`~adiencekit.inference.detection.DETECTORS` (built with a 20 px smallest
            face); default ``"mtcnn"``, the detector ``predict`` uses (in ONNX Runtime where
            installed). Its class is recorded in ``prepare.json``; a root prepared with
            another detector is not continued (the crops would mix) unless ``overwrite``.
        overwrite: rewrite crops that exist already (needed to continue a ``dst``
            prepared with another crop or padding, which is refused otherwise).
        progress: show a progress bar on stderr.

    Returns:
        A :class:`PrepareReport`.

    Raises:
        DatasetNotFoundError: ``src`` has no ``images/`` folder.
        ConfigError: ``dst`` is ``src``, ``dst`` was prepared with another crop or
            padding (without ``overwrite``), or a bad argument.
    """
    from adiencekit.data import UTKFaceDataset
    from adiencekit.data.utkface import SPLITS_FILE, write_splits_csv
    from adiencekit.errors import ConfigError
    from adiencekit.fileio import atomic_write_text

    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if isinstance(pad, bool) or not isinstance(pad, (int, float)) or not 0.0 <= pad <= 1.0:
        raise ConfigError(f"pad must be a number in [0, 1], got {pad!r}")
    raw = UTKFaceDataset(src)
    if dst.resolve() == src.resolve():
        raise ConfigError(f"the prepared root must differ from the raw one, got {dst} twice")
    if raw.fixed_split is not None:
        raise ConfigError(f"{src} holds {SPLITS_FILE} already: pass the raw UTKFace root, not a prepared one")
    earlier = prepared_record(f"utkface:{dst}")
    if earlier is not None and not overwrite and (earlier.get("crop"), earlier.get("pad")) != (spec.to_dict(), pad):
        raise ConfigError(
            f"{dst} was prepared with other settings (crop {earlier.get('crop')}, pad {earlier.get('pad')}); its "
            "crops would be mixed with new ones: prepare it again with overwrite (adiencekit prepare --overwrite), "
            "or choose another folder"
        )
    if detector is None or isinstance(detector, str):
        from adiencekit.inference.detection import get_detector

        detector = get_detector(detector or "mtcnn", min_face=20)
    if earlier is not None and not overwrite and earlier.get("detector") not in (None, type(detector).__name__):
        raise ConfigError(
            f"{dst} was prepared with the {earlier.get('detector')} detector, not {type(detector).__name__}; its "
            "crops would be mixed with new ones: prepare it again with overwrite (adiencekit prepare --overwrite), "
            "pass that detector, or choose another folder"
        )
    split = raw.split(task="multitask", val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    dst.mkdir(parents=True, exist_ok=True)
    write_splits_csv(split, dst / SPLITS_FILE)
    if (src / "labels.csv").is_file():
        shutil.copyfile(src / "labels.csv", dst / "labels.csv")
    start = time.perf_counter()
    aligned = align_faces_in_folder(src / "images", dst / "images", spec, detector=detector, overwrite=overwrite,
                                    pad=pad, progress=progress)
    report = PrepareReport(
        align=aligned, split_sizes={s.name: len(s) for s in split}, seconds=time.perf_counter() - start
    )
    record = {
        "source": os.fspath(src),
        "crop": spec.to_dict(),
        "pad": pad,
        "detector": type(detector).__name__,
        "split": {"task": "multitask", "val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed,
                  "sizes": report.split_sizes, "of": "the raw root, before detection"},
        "summary": report.summary(),
        "no_face": [Path(p).name for p in aligned.no_face],
        "unreadable": aligned.unreadable,
        "seconds": round(report.seconds, 1),
    }
    atomic_write_text(dst / PREPARE_FILE, json.dumps(record, indent=2) + "\n")
    return report
