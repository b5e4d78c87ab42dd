"""Prepare UTKFace for training the way faces are cut at inference: detect, align, split.

A model that will label faces found by :class:`~adiencekit.inference.Predictor` should
be trained on crops made by the same detector and alignment, not on the dataset's own
crops (a model trained on UTKFace's tight crops falls to near chance on looser ones).
:func:`prepare_utkface` turns a UTKFace root into such a root:

1. it draws the seeded random split of the **raw** root (the same faces whatever the
   detector finds later) and writes it as ``splits.csv``, which
   :class:`~adiencekit.data.UTKFaceDataset` then follows: a test face stays a test face;
2. it detects the largest face of every image (MTCNN), mirror-padding the tight crops
   first, and writes the aligned crop (:data:`UTKFACE_TRAINING_CROP`) under the same
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

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adiencekit.inference.alignment import AlignReport, CropSpec, align_faces_in_folder

if TYPE_CHECKING:  # pragma: no cover
    from adiencekit.inference.detection import FaceDetector

__all__ = [
    "PREPARE_FILE",
    "UTKFACE_TRAINING_CROP",
    "PrepareReport",
    "add_prepare_parser",
    "prepare_utkface",
    "prepared_record",
    "run_prepare",
]

#: The crop the bundled model is trained on: aligned, template square plus no margin,
#: face slightly high (``shift=-0.12``), 112 px. Training cuts random 96 px windows of
#: it; inference takes the centre window, which frames faces about as UTKFace's own
#: crops do (:data:`~adiencekit.inference.alignment.UTKFACE_CROP`).
UTKFACE_TRAINING_CROP = CropSpec(style="aligned", margin=0.0, shift=-0.12, size=112)

#: What :func:`prepare_utkface` records in the prepared root.
PREPARE_FILE = "prepare.json"


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
    detector: FaceDetector | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> PrepareReport:
    """Detect, align and split a UTKFace root into a training root (see the module docstring).

    Args:
        src: the raw UTKFace root (``images/`` and optionally ``labels.csv``).
        dst: the prepared root to write (created; may be re-run to continue).
        spec: the crop to write (default :data:`UTKFACE_TRAINING_CROP`).
        pad: mirror padding before detection, as a fraction of the image side.
        val_fraction: share of the raw images for validation.
        test_fraction: share of the raw images for testing.
        seed: seed of the split.
        detector: a face detector; default MTCNN with a 20 px smallest face.
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
    split = raw.split(task="multitask", val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    dst.mkdir(parents=True, exist_ok=True)
    write_splits_csv(split, dst / SPLITS_FILE)
    if (src / "labels.csv").is_file():
        shutil.copyfile(src / "labels.csv", dst / "labels.csv")
    if detector is None:
        from adiencekit.inference.detection import MTCNNDetector

        detector = MTCNNDetector(min_face=20)
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


def prepared_record(data: str) -> dict[str, Any] | None:
    """The ``prepare.json`` of a ``utkface:PATH`` data spec, or ``None`` (not prepared, or not UTKFace).

    Runs trained on a prepared root cut faces from photos with the recorded ``crop``
    (read by the run-folder loader and by :func:`adiencekit.export.export_preset`).

    Example:

    >>> from adiencekit.inference.prepare import prepared_record
    >>> prepared_record("synthetic") is None
    True
    """
    from adiencekit.data.datasets import parse_dataset_spec

    kind, root = parse_dataset_spec(data)
    if kind != "utkface" or root is None:
        return None
    path = root / PREPARE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("crop"), dict) else None


def add_prepare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prepare`` command (``adiencekit prepare SRC --out DST``) to ``subparsers``."""
    parser = subparsers.add_parser(
        "prepare",
        help="detect, align and split UTKFace for training, the way predict cuts faces",
        description="Detect and align the faces of a raw UTKFace root into a training root; the seeded split of "
                    "the raw images is written as splits.csv, so test faces stay test faces.",
    )
    parser.add_argument("source", help="the raw UTKFace root (PATH or utkface:PATH) holding images/")
    parser.add_argument("--out", required=True, help="the prepared root to write (re-run to continue)")
    parser.add_argument("--pad", type=float, default=0.25, help="mirror padding before detection (default 0.25)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default 0.1)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="test share (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="rewrite crops that exist already")
    return parser


def raw_utkface_root(text: str) -> Path:
    """The folder of a command-line UTKFace root given as ``PATH`` or ``utkface:PATH`` (``~`` expanded).

    Example:

    >>> from adiencekit.inference.prepare import raw_utkface_root
    >>> raw_utkface_root("utkface:/data/utk") == raw_utkface_root("/data/utk")
    True
    """
    from adiencekit.data.datasets import UTKFACE_PREFIX, parse_dataset_spec

    text = str(text)
    _, root = parse_dataset_spec(text if text.startswith(UTKFACE_PREFIX) else UTKFACE_PREFIX + text)
    return root


def run_prepare(args: argparse.Namespace) -> int:
    """Run ``adiencekit prepare``; errors are :class:`~adiencekit.errors.AdienceKitError` (one line, exit 2)."""
    root = raw_utkface_root(args.source)
    report = prepare_utkface(
        root, Path(args.out).expanduser(), pad=args.pad, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, seed=args.seed, overwrite=args.overwrite, progress=sys.stderr.isatty(),
    )
    print(report.summary())
    print(f"train with: adiencekit train --recipe utkface_multitask --data utkface:{args.out}")
    return 0
