"""``adiencekit reproduce``: re-make a preset from its card (prepare, train each network, export).

``adiencekit reproduce PRESET --data UTKFACE_ROOT --out DIR [--epochs N] [--quiet]`` runs
:func:`adiencekit.reproduce.reproduce_preset`; re-run it to continue after an interruption.
A preset trained on several UTKFace roots takes one raw root per recorded root, in the
card's order, spelled as ``train`` spells them: ``--data utkface:RAW1,RAW2``.

Example:

>>> import argparse
>>> from adiencekit.cli.reproduce import add_reproduce_parser
>>> parser = argparse.ArgumentParser(prog="adiencekit")
>>> add_reproduce_parser(parser.add_subparsers(dest="command"))  # doctest: +ELLIPSIS
ArgumentParser(prog='adiencekit reproduce', ...)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_reproduce_parser", "run_reproduce"]


def add_reproduce_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``reproduce`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "reproduce",
        help="re-make a preset from its card: prepare UTKFace, train each network, export",
        description="Re-make a preset whose card records its training (the bundled utkface_v2): prepare "
                    "the raw UTKFace faces as recorded (each root, for a preset trained on several), train each "
                    "network with its recorded config, export them as a preset. Re-run the same command to continue "
                    "after an interruption.",
    )
    parser.add_argument("preset", help="a bundled preset name (see `adiencekit models`) or a preset folder")
    parser.add_argument("--data", required=True,
                        help="the raw UTKFace root(s) holding images/: PATH, utkface:PATH, or utkface:PATH1,PATH2 for "
                             "a preset trained on several roots (one per recorded root, in its card's order)")
    parser.add_argument("--out", required=True, type=os.path.expanduser,
                        help="working folder: data/, runs/ and preset/ are written there")
    parser.add_argument("--epochs", type=int, default=None, metavar="N",
                        help="train every network N epochs instead of the recorded number (a quick check only)")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    return parser


def run_reproduce(args: argparse.Namespace) -> int:
    """Run ``adiencekit reproduce``; errors are :class:`~adiencekit.errors.AdienceKitError` (one line, exit 2)."""
    from adiencekit.cli.prepare import raw_utkface_root
    from adiencekit.data.utkface import utkface_roots
    from adiencekit.reproduce import reproduce_preset

    roots = utkface_roots(raw_utkface_root(args.data))
    result = reproduce_preset(args.preset, roots, args.out, epochs=args.epochs,
                              verbose=2 if args.quiet else "auto", progress=sys.stderr.isatty())
    print(result.prepare_summary)
    for run, trained in zip(result.runs, result.trained, strict=True):
        print(f"{'trained' if trained else 'kept (already finished)'}: {run}")
    print(f"preset: {result.preset}")
    if result.onnx:
        print(result.onnx)
    print(f"use it: adiencekit predict PHOTO --model {result.preset}")
    print(f"measure it (source checkout): python benchmarks/bench_pretrained.py --model {result.preset}")
    return 0
