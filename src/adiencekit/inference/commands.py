"""The ``predict`` and ``export`` commands (wired into ``adiencekit.cli``).

``adiencekit predict PATH... [--model PRESET|RUN|FILE] [--json FILE|-] [--annotate DIR]
[--no-detect] [--min-face PX] [--tta] [--batch-size N] [--quiet]`` prints a table of the
faces of each photo (or writes the JSON of ``docs/predict.md``), optionally writes
annotated copies, and ends with a one-line summary on stderr. Without ``--model`` it uses
the bundled default preset (:data:`adiencekit.models.presets.DEFAULT_PRESET`); where it
is not installed, one error line asks for ``--model`` (status 2). Unreadable files are
reported one line each and counted; the command exits with status 2 (one line on
stderr) when not a single photo could be read.

``adiencekit export --model PRESET|RUN|FILE --format saved_model|tflite|onnx --out PATH
[--overwrite]`` writes the model with :func:`adiencekit.export.export_model`;
``--format preset`` turns a finished run into a preset folder, or several runs (``--model``
once per run) into an ensemble preset (:func:`adiencekit.export.export_preset`).

Example:

>>> import argparse
>>> from adiencekit.inference.commands import add_predict_parser, run_predict
>>> parser = argparse.ArgumentParser(prog="adiencekit")
>>> add_predict_parser(parser.add_subparsers(dest="command"))  # doctest: +ELLIPSIS
ArgumentParser(prog='adiencekit predict', ...)
>>> args = parser.parse_args(["predict", "no-such-photo.jpg", "--model", "no/model.keras"])
>>> run_predict(args)
2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from adiencekit.errors import AdienceKitError

__all__ = ["add_export_parser", "add_predict_parser", "format_table", "run_export", "run_predict"]

#: Files at or above which ``predict`` shows a progress bar (unless ``--quiet``).
PROGRESS_MIN_FILES = 5


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``predict`` command to ``subparsers`` (its parser class is the parent's)."""
    parser = subparsers.add_parser(
        "predict",
        help="detect the faces in photos and label their gender and age group",
        description="Detect, align and label the faces in photos (files or folders).",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders of images")
    parser.add_argument("--model", default=None,
                        help="a preset name or folder, a training run folder or a .keras file "
                             "(default: the bundled preset; see `adiencekit models`)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON to FILE ('-': stdout)")
    parser.add_argument("--annotate", default=None, metavar="DIR", help="write copies with boxes and labels to DIR")
    parser.add_argument("--no-detect", action="store_true", help="each image is one face crop (no detection)")
    parser.add_argument("--min-face", type=_non_negative, default=40.0, metavar="PX",
                        help="ignore faces smaller than PX pixels (default 40; larger is faster)")
    parser.add_argument("--tta", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="faces per model call (default 32)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no per-file warnings")
    return parser


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``export`` command to ``subparsers``."""
    from adiencekit.export import EXPORT_FORMATS, PRESET_FORMAT

    parser = subparsers.add_parser(
        "export",
        help="export a model as a TensorFlow SavedModel, TFLite or ONNX file, or a run as a preset",
        description="Export a model (preprocessing included, dynamic batch, one output per head, its crop and "
                    "class names recorded), or turn a "
                    "finished training run into a preset folder (--format preset).",
    )
    parser.add_argument("--model", required=True, action="append",
                        help="a preset name or folder, a training run folder or a .keras file; with --format preset, "
                             "give --model once per run to make an ensemble preset of several runs (one recipe, "
                             "one split and crop; e.g. one recipe with several --seed and one --split-seed)")
    parser.add_argument("--format", required=True, choices=(*EXPORT_FORMATS, PRESET_FORMAT), help="output format")
    parser.add_argument("--out", required=True, metavar="PATH", help="output folder (saved_model, preset) or file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--license", default=None, help="preset only: the weights' licence (carry the data's terms)")
    parser.add_argument("--description", default=None, help="preset only: one line saying what the model is")
    return parser


def _error(message: str) -> int:
    print(f"adiencekit: error: {message.splitlines()[0] if message else 'unknown error'}", file=sys.stderr)
    return 2


def _nothing_read(count: int, first_error: str | None) -> str:
    subject = "the one file given" if count == 1 else f"none of the {count} files"
    verb = "could not be read" if count == 1 else "could be read"
    return f"{subject} {verb} ({first_error})" if count == 1 else f"{subject} {verb} (first: {first_error})"


def format_table(results: list[Any]) -> str:
    """A fixed-width table: one row per face, a row for photos without a face.

    Example:

    >>> from adiencekit.inference.commands import format_table
    >>> from adiencekit.inference.predictor import ImageResult
    >>> print(format_table([ImageResult("a.jpg", size=(10, 10))]))
    image  face  box  score  gender  p  age  p
    a.jpg  -     -    -      -       -  -    -
    """
    rows = [["image", "face", "box", "score", "gender", "p", "age", "p"]]
    for result in results:
        if not result.ok:
            continue
        name = result.path if result.path is not None else "<array>"
        if not result.faces:
            rows.append([name, "-", "-", "-", "-", "-", "-", "-"])
        for index, face in enumerate(result.faces):
            x, y, w, h = (round(v) for v in face.box)
            rows.append([
                name,
                str(index),
                f"{x},{y},{w}x{h}",
                "-" if face.score is None else f"{face.score:.2f}",
                face.gender.label if face.gender else "-",
                f"{face.gender.probability:.2f}" if face.gender else "-",
                face.age.label if face.age else "-",
                f"{face.age.probability:.2f}" if face.age else "-",
            ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _annotated_name(path: str | None, index: int, used: set[str]) -> str:
    stem = Path(path).stem if path else f"image_{index}"
    suffix = ".png" if path and Path(path).suffix.lower() == ".png" else ".jpg"
    name = f"{stem}{suffix}"
    counter = 1
    while name in used:
        name, counter = f"{stem}_{counter}{suffix}", counter + 1
    used.add(name)
    return name


def _write_json(payload: dict[str, Any], target: str, stdout: TextIO) -> None:
    text = json.dumps(payload, indent=2)
    if target == "-":
        stdout.write(text + "\n")
        return
    from adiencekit.fileio import atomic_write_text

    Path(target).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, text + "\n")


def run_predict(args: argparse.Namespace) -> int:
    """Run ``adiencekit predict``; returns the exit status (0, or 2 when nothing was read)."""
    try:
        from adiencekit.inference.annotate import annotate_image
        from adiencekit.inference.images import expand_image_paths, read_image
        from adiencekit.inference.predictor import Predictor, summarize

        paths = expand_image_paths(args.paths)
        if not paths:
            return _error(f"no image files in {', '.join(args.paths)}")
        predictor = Predictor(
            args.model,
            detector=None if args.no_detect else "mtcnn",
            min_face=args.min_face,
            batch_size=args.batch_size,
            tta=args.tta,
        )
        progress = not args.quiet and len(paths) >= PROGRESS_MIN_FILES
        results = []
        annotate_dir = Path(args.annotate) if args.annotate else None
        if annotate_dir is not None:
            annotate_dir.mkdir(parents=True, exist_ok=True)
        used: set[str] = set()
        for index, result in enumerate(predictor.iter_predict(paths, detect=not args.no_detect, progress=progress)):
            results.append(result)
            if not result.ok:
                if not args.quiet:
                    print(f"adiencekit: warning: {result.error}", file=sys.stderr)
                continue
            if annotate_dir is not None:
                picture = annotate_image(read_image(result.path), result.faces)
                picture.save(annotate_dir / _annotated_name(result.path, index, used))
        summary = summarize(results)
        if summary.read == 0:
            return _error(_nothing_read(summary.images, results[0].error))
        if args.json is not None:
            payload = {
                "schema_version": 1,
                "model": predictor.source,
                "crop": predictor.crop.to_dict(),
                "images": [r.to_dict() for r in results],
                "summary": vars(summary),
            }
            _write_json(payload, args.json, sys.stdout)
        if args.json != "-":
            print(format_table(results))
        print(f"adiencekit: {summary}", file=sys.stderr)
        return 0
    except AdienceKitError as error:
        return _error(str(error))


def run_export(args: argparse.Namespace) -> int:
    """Run ``adiencekit export``; returns the exit status (0, or 2 on a user error)."""
    try:
        from adiencekit.export import PRESET_FORMAT, describe_export, export_model, export_preset

        if args.format == PRESET_FORMAT:
            written = export_preset(args.model, args.out, license=args.license, description=args.description,
                                    overwrite=args.overwrite)
            kind = f"an ensemble of {len(args.model)} runs" if len(args.model) > 1 else "the preset"
            print(f"wrote {kind} to {written} (load it with --model {written})")
            return 0
        if len(args.model) > 1:
            return _error(f"--format {args.format} exports one model; --model was given {len(args.model)} times "
                          f"(make an ensemble preset first: --format preset with several --model, then export it)")
        written = export_model(args.model[0], args.out, format=args.format, overwrite=args.overwrite)
        summary = describe_export(written)
    except AdienceKitError as error:
        return _error(str(error))
    print(f"exported {args.format} to {written} ({summary})")
    return 0
