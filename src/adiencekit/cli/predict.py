"""``adiencekit predict``: label the faces in photos (files or folders) as a table, JSON or annotated copies.

``adiencekit predict PATH... [--model PRESET|RUN|FILE] [--json FILE|-] [--annotate DIR]
[--no-detect] [--detector mtcnn|mtcnn-onnx|mtcnn-keras|mtcnn-package] [--runtime auto|onnx|keras]
[--threads N] [--precision auto|float32|int8] [--min-face PX] [--tta|--no-tta] [--batch-size N]
[--heads H[,H]] [--quiet]`` prints
one row per face (or writes the JSON of ``docs/predict.md``), optionally writes annotated
copies, and ends with a one-line summary on stderr. Without ``--model`` it uses the
bundled default preset. How it treats what it is given:

- each photo is decoded once (the same pixels are labelled and annotated);
- ``--annotate DIR`` mirrors the input folders under ``DIR`` (``photos/a/x.jpg`` and
  ``photos/b/x.jpg`` stay apart), and the JSON names each image's annotated copy;
- it never writes over an input: an ``--annotate`` folder inside an input folder, or a
  ``--json`` file that is one of the photos, is refused before any work;
- entries that are not regular files (a named pipe, a socket) are skipped and counted,
  never opened; unreadable files are reported one line each and counted;
- stdout holds only the table or, with ``--json -``, only the JSON; progress bars go to
  stderr, and only on a terminal;
- exit status 2 with one line when not a single photo could be read (and then no
  per-file warning before it).

Example:

>>> import argparse
>>> from adiencekit.cli.predict import add_predict_parser, run_predict
>>> parser = argparse.ArgumentParser(prog="adiencekit")
>>> add_predict_parser(parser.add_subparsers(dest="command"))  # doctest: +ELLIPSIS
ArgumentParser(prog='adiencekit predict', ...)
>>> args = parser.parse_args(["predict", "no-such-photo.jpg", "--model", "no/model.keras"])
>>> run_predict(args)
2
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from adiencekit.cli._errors import fail, printable
from adiencekit.errors import AdienceKitError, ConfigError

__all__ = ["add_predict_parser", "format_table", "run_predict"]

#: ``--detector`` choices (static, so that ``--help`` imports nothing): the names of
#: :data:`adiencekit.inference.detection.DETECTORS` (a test keeps them equal).
DETECTOR_NAMES = ("mtcnn", "mtcnn-onnx", "mtcnn-keras", "mtcnn-package")

#: ``--runtime`` choices: :data:`adiencekit.inference.onnx_model.RUNTIMES` (a test keeps them equal).
RUNTIME_NAMES = ("auto", "onnx", "keras")

#: ``--precision`` choices: :data:`adiencekit.inference.onnx_model.PRECISIONS` (a test keeps them equal).
PRECISION_NAMES = ("auto", "float32", "int8")

#: How the summary line says where the table's "age (years)" comes from (by
#: :attr:`adiencekit.inference.Predictor.age_years_source`; the JSON says it as ``age_years_source``).
_AGE_YEARS_NOTES = {"head": "age in years from the model's age_years output",
                   "head and age groups": "age in years from the model's age_years output, which blends its "
                                          "regression head with the expected age of its age groups",
                   "age groups": "age in years = expected age of the age-group probabilities"}

#: Files at or above which ``predict`` shows a progress bar (on a terminal, unless ``--quiet``).
PROGRESS_MIN_FILES = 5


def positive_int(text: str) -> int:
    """An ``argparse`` type: an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _face_size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of pixels, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of pixels >= 0, got {text}")
    return value


def heads_option(text: str) -> tuple[str, ...]:
    """``--heads gender,age``: a plain Keras model's outputs, in order."""
    heads = tuple(part.strip() for part in text.split(","))
    if not heads or any(head not in ("gender", "age") for head in heads) or len(set(heads)) != len(heads):
        raise argparse.ArgumentTypeError(f"must name the model's outputs in order, e.g. 'gender,age', got {text!r}")
    return heads


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``predict`` command to ``subparsers`` (its parser class is the parent's)."""
    parser = subparsers.add_parser(
        "predict",
        help="detect the faces in photos and label their gender and age group",
        description="Detect, align and label the faces in photos (files or folders).",
    )
    parser.add_argument("paths", nargs="+", type=os.path.expanduser, metavar="PATH", help="image files and/or folders of images")
    parser.add_argument("--model", default=None, type=os.path.expanduser,
                        help="a preset name or folder, a training run folder, a .keras file or an .onnx file from "
                             "adiencekit export "
                             "(default: the bundled preset; see `adiencekit models`)")
    parser.add_argument("--json", default=None, type=os.path.expanduser, metavar="FILE",
                        help="write the results as JSON to FILE ('-': stdout)")
    parser.add_argument("--annotate", default=None, type=os.path.expanduser, metavar="DIR",
                        help="write copies with boxes and labels to DIR (input folders are mirrored)")
    parser.add_argument("--no-detect", action="store_true", help="each image is one face crop (no detection)")
    parser.add_argument("--detector", choices=DETECTOR_NAMES, default="mtcnn",
                        help="face detector: 'mtcnn' (MTCNN's networks with the mtcnn package's weights, in ONNX "
                             "Runtime, or with --runtime keras as compiled Keras 3 models: 'mtcnn-onnx' and "
                             "'mtcnn-keras' name one of the two) or 'mtcnn-package' (the mtcnn package's own "
                             "TensorFlow implementation, slower, the same faces)")
    parser.add_argument("--runtime", choices=RUNTIME_NAMES, default="auto",
                        help="what runs the networks: 'auto' (default: ONNX Runtime for a model with an ONNX copy, "
                             "such as the bundled one, or an .onnx file, and for the detector; Keras otherwise), "
                             "'onnx' or 'keras'")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="ONNX Runtime threads per network (default: one per idle core, at most 2)")
    parser.add_argument("--min-face", type=_face_size, default=40.0, metavar="PX",
                        help="ignore faces smaller than PX pixels or 1/16 of the photo's shorter side, whichever "
                             "is larger (default 40; larger is faster)")
    parser.add_argument("--precision", choices=PRECISION_NAMES, default="auto",
                        help="'auto' (default: a preset's int8 ONNX copy where it has one, such as the bundled "
                             "model, in ONNX Runtime; its float network otherwise), 'float32' or 'int8'")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="average each face with its mirror image (default: as the model's record asks; the "
                             "bundled model does); --no-tta: one view")
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="faces per model call (default 32)")
    parser.add_argument("--heads", type=heads_option, default=None, metavar="H[,H]",
                        help="a plain Keras model's outputs in order (gender, age), for a model that does not say")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no per-file warnings")
    return parser


# ----------------------------------------------------------------------------- outputs
def _annotated_paths(inputs: list[Any], folder: Path) -> list[Path]:
    """Where each annotated copy goes: the input's relative path under ``folder``, JPEG or PNG, never twice."""
    used: set[Path] = set()
    targets = []
    for item in inputs:
        suffix = ".png" if item.path.suffix.lower() == ".png" else ".jpg"
        stem = item.relative.with_suffix("")
        target, counter = folder / f"{stem}{suffix}", 1
        while target in used:
            target, counter = folder / f"{stem}_{counter}{suffix}", counter + 1
        used.add(target)
        targets.append(target)
    return targets


def _refuse_writing_over_inputs(args: argparse.Namespace, inputs: list[Any], targets: list[Path]) -> None:
    """``--annotate`` and ``--json`` must never replace a photo or land inside an input folder."""
    sources = {item.path.resolve() for item in inputs}
    folders = [Path(argument).resolve() for argument in args.paths if Path(argument).is_dir()]
    if args.annotate is not None:
        annotate = Path(args.annotate).resolve()
        inside = next((f for f in folders if annotate == f or f in annotate.parents), None)
        if inside is not None:
            raise ConfigError(f"--annotate {args.annotate} is inside the input folder {inside}: the copies would "
                              f"replace or join the photos; choose a folder outside it")
        clash = next((t for t in targets if t.resolve() in sources), None)
        if clash is not None:
            raise ConfigError(f"--annotate would write over the input photo {clash}; choose another folder")
    if args.json not in (None, "-"):
        target = Path(args.json)
        if target.resolve() in sources:
            raise ConfigError(f"--json {args.json} is one of the input photos; choose another file")
        if target.is_dir():
            raise ConfigError(f"--json {args.json} is a folder; give a file name")


# ----------------------------------------------------------------------------- output
def format_table(results: list[Any]) -> str:
    """A fixed-width table: one row per face, a row for photos without a face.

    Example:

    >>> from adiencekit.cli.predict import format_table
    >>> from adiencekit.inference.predictor import ImageResult
    >>> print(format_table([ImageResult("a.jpg", size=(10, 10))]))
    image  face  box  score  gender  p  age  p  age (years)
    a.jpg  -     -    -      -       -  -    -  -
    """
    rows = [["image", "face", "box", "score", "gender", "p", "age", "p", "age (years)"]]
    for result in results:
        if not result.ok:
            continue
        name = printable(result.path) if result.path is not None else "<array>"
        if not result.faces:
            rows.append([name, *["-"] * (len(rows[0]) - 1)])
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
                "-" if face.age_years is None else f"{face.age_years:.1f}",
            ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _write_json(payload: dict[str, Any], target: str, stdout: TextIO) -> None:
    text = json.dumps(payload, indent=2)
    if target == "-":
        stdout.write(text + "\n")
        return
    from adiencekit.fileio import atomic_write_text, make_dirs

    make_dirs(Path(target).parent)
    atomic_write_text(target, text + "\n")


def _nothing_read(count: int, first_error: str | None) -> str:
    if count == 1:
        return f"the one file given could not be read ({first_error})"
    return f"none of the {count} files could be read (first: {first_error})"


class _Warnings:
    """Per-file warnings: held back until a photo was read, so that a run reading nothing ends in one line."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.held: list[str] = []
        self.flowing = False

    def add(self, message: str) -> None:
        if self.quiet:
            return
        self.held.append(message)
        if self.flowing:
            self.flush()

    def start(self) -> None:
        self.flowing = True
        self.flush()

    def flush(self) -> None:
        for message in self.held:
            print(f"adiencekit: warning: {printable(message)}", file=sys.stderr, flush=True)
        self.held.clear()


# ----------------------------------------------------------------------------- the command
def run_predict(args: argparse.Namespace) -> int:
    """Run ``adiencekit predict``; returns the exit status (0, or 2 on a user error or when nothing was read)."""
    try:
        from adiencekit.inference.images import collect_images

        inputs, skipped = collect_images(args.paths)
        if not inputs:
            if skipped:
                return fail(f"nothing to read: {len(skipped)} entries are not regular files (first: {skipped[0]})")
            return fail(f"no image files in {', '.join(args.paths)}")
        annotate_dir = Path(args.annotate) if args.annotate else None
        targets = _annotated_paths(inputs, annotate_dir) if annotate_dir is not None else []
        _refuse_writing_over_inputs(args, inputs, targets)

        from adiencekit.inference.predictor import Predictor, summarize

        options: dict[str, Any] = {"heads": args.heads} if getattr(args, "heads", None) else {}
        predictor = Predictor(args.model, detector=None if args.no_detect else args.detector, min_face=args.min_face,
                              batch_size=args.batch_size, tta=args.tta, runtime=getattr(args, "runtime", "auto"),
                              threads=getattr(args, "threads", None), precision=getattr(args, "precision", "auto"),
                              **options)
        warnings = _Warnings(args.quiet)
        if skipped:
            warnings.add(f"skipped {len(skipped)} entries that are not regular files (first: {skipped[0]})")
        results = _label(predictor, inputs, targets, args, warnings)
        summary = summarize(results)
        if summary.read == 0:
            return fail(_nothing_read(summary.images, results[0].error))
        warnings.start()
        if args.json is not None:
            images = []
            for index, result in enumerate(results):
                entry = result.to_dict()
                if targets and result.ok:
                    entry["annotated"] = str(targets[index])
                images.append(entry)
            payload = {
                "schema_version": 1,
                "model": predictor.source,
                "detector": None if args.no_detect else args.detector,
                "runtime": predictor.runtime,
                "precision": predictor.precision,
                "tta": "flip" if predictor.tta else None,
                "crop": predictor.crop.to_dict(),
                "age_years_source": predictor.age_years_source,
                "images": images,
                "summary": {**vars(summary), "skipped_not_regular_files": len(skipped)},
            }
            _write_json(payload, args.json, sys.stdout)
        if args.json != "-":
            print(format_table(results))
        note = _AGE_YEARS_NOTES.get(predictor.age_years_source)
        print(f"adiencekit: {summary}" + (f"; {note}" if note else ""), file=sys.stderr)
        return 0
    except AdienceKitError as error:
        return fail(str(error))


def _label(predictor: Any, inputs: list[Any], targets: list[Path], args: argparse.Namespace,
           warnings: _Warnings) -> list[Any]:
    """Label every photo, decoding each once; annotate from the same pixels."""
    from adiencekit.inference.annotate import annotate_image
    from adiencekit.inference.images import ImageReadError, read_image

    decoded: collections.deque[tuple[Any, Any]] = collections.deque()

    def feed() -> Iterator[Any]:
        for item in inputs:
            try:
                image = read_image(item.path)
            except ImageReadError:
                decoded.append((item, None))
                yield item.path  # the predictor reports the same error as its result
                continue
            decoded.append((item, image))
            yield image

    stream: Any = feed()
    progress = not args.quiet and len(inputs) >= PROGRESS_MIN_FILES and sys.stderr.isatty()
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=len(inputs), unit="image", desc="predict", leave=False)
    results = []
    for index, result in enumerate(predictor.iter_predict(stream, detect=not args.no_detect)):
        item, image = decoded.popleft()
        result.path = str(item.path)
        results.append(result)
        if not result.ok:
            warnings.add(result.error)
            continue
        warnings.start()
        if targets:
            from adiencekit.fileio import make_dirs

            make_dirs(targets[index].parent)
            annotate_image(image, result.faces).save(targets[index])
    return results
