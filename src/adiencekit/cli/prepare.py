"""``adiencekit prepare``: detect, align and split a raw UTKFace root for training, the way predict cuts faces.

``adiencekit prepare UTKFACE_ROOT --out DIR [--pad F] [--val-fraction F] [--test-fraction F]
[--seed N] [--detector NAME] [--overwrite]`` runs :func:`adiencekit.inference.prepare.prepare_utkface`.

Example:

>>> import argparse
>>> from adiencekit.cli.prepare import add_prepare_parser
>>> parser = argparse.ArgumentParser(prog="adiencekit")
>>> add_prepare_parser(parser.add_subparsers(dest="command"))  # doctest: +ELLIPSIS
ArgumentParser(prog='adiencekit prepare', ...)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_prepare_parser", "raw_utkface_root", "run_prepare"]


def add_prepare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``prepare`` command (``adiencekit prepare SRC --out DST``) to ``subparsers``."""
    parser = subparsers.add_parser(
        "prepare",
        help="detect, align and split UTKFace for training, the way predict cuts faces",
        description="Detect and align the faces of a raw UTKFace root into a training root; the seeded split of "
                    "the raw images is written as splits.csv, so test faces stay test faces.",
    )
    parser.add_argument("source", help="the raw UTKFace root (PATH or utkface:PATH) holding images/")
    parser.add_argument("--out", required=True, type=os.path.expanduser,
                        help="the prepared root to write (re-run to continue)")
    parser.add_argument("--pad", type=float, default=0.25, help="mirror padding before detection (default 0.25)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default 0.1)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="test share (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--detector", default="mtcnn", choices=("mtcnn", "mtcnn-onnx", "mtcnn-keras", "mtcnn-package"),
                        help="the face detector (default mtcnn: predict's own, in ONNX Runtime where installed; "
                             "mtcnn-package: the mtcnn package on TensorFlow, which cut the bundled model's faces)")
    parser.add_argument("--overwrite", action="store_true", help="rewrite crops that exist already")
    return parser


def raw_utkface_root(text: str) -> Path:
    """The folder of a command-line UTKFace root given as ``PATH`` or ``utkface:PATH`` (``~`` expanded).

    Example:

    >>> from adiencekit.cli.prepare import raw_utkface_root
    >>> raw_utkface_root("utkface:/data/utk") == raw_utkface_root("/data/utk")
    True
    """
    from adiencekit.data.datasets import UTKFACE_PREFIX, parse_dataset_spec

    text = str(text)
    _, root = parse_dataset_spec(text if text.startswith(UTKFACE_PREFIX) else UTKFACE_PREFIX + text)
    return root


def run_prepare(args: argparse.Namespace) -> int:
    """Run ``adiencekit prepare``; errors are :class:`~adiencekit.errors.AdienceKitError` (one line, exit 2)."""
    from adiencekit.inference.prepare import prepare_utkface

    root = raw_utkface_root(args.source)
    report = prepare_utkface(
        root, Path(args.out).expanduser(), pad=args.pad, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, seed=args.seed, detector=args.detector, overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    print(report.summary())
    print(f"train with: adiencekit train --recipe utkface_multitask --data utkface:{args.out}")
    return 0
