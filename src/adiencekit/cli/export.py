"""``adiencekit export``: a model as a SavedModel, TFLite or ONNX file, or finished runs as a preset.

``adiencekit export --model PRESET|RUN|FILE --format saved_model|tflite|onnx --out PATH
[--overwrite]`` writes the model with :func:`adiencekit.export.export_model`;
``--format preset`` turns a finished run into a preset folder, or several runs (``--model``
once per run) into an ensemble preset (:func:`adiencekit.export.export_preset`), with
``--onnx`` its ONNX copy, with ``--int8`` also its int8 copy
(:func:`adiencekit.quantization.add_int8_onnx_to_preset`), with ``--tta flip`` the card
asking predict for the mirrored second view. ``--overwrite`` replaces an earlier export only: never a run folder, a preset, the model
being exported or a folder holding other files.

Example:

>>> import argparse
>>> from adiencekit.cli.export import add_export_parser
>>> parser = argparse.ArgumentParser(prog="adiencekit")
>>> add_export_parser(parser.add_subparsers(dest="command"))  # doctest: +ELLIPSIS
ArgumentParser(prog='adiencekit export', ...)
>>> parser.parse_args(["export", "--model", "~/run", "--format", "onnx", "--out", "m.onnx"]).model[0].startswith("~")
False
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from adiencekit.cli._errors import fail
from adiencekit.cli.predict import heads_option as _heads
from adiencekit.cli.predict import positive_int as _positive_int

__all__ = ["add_export_parser", "run_export"]

#: ``export --format`` choices (static, so that ``--help`` imports no Keras): the export module checks them.
FORMATS = ("saved_model", "tflite", "onnx", "preset")


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``export`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "export",
        help="export a model as a TensorFlow SavedModel, TFLite or ONNX file, or a run as a preset",
        description="Export a model (preprocessing included, dynamic batch, one output per head, its crop and "
                    "class names recorded), or turn a finished training run into a preset folder (--format preset).",
    )
    parser.add_argument("--model", required=True, action="append", type=os.path.expanduser,
                        help="a preset name or folder, a training run folder or a .keras file; with --format preset, "
                             "give --model once per run to make an ensemble preset of several runs (one recipe, "
                             "one split and crop; e.g. one recipe with several --seed and one --split-seed)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", required=True, metavar="PATH", type=os.path.expanduser,
                        help="output folder (saved_model, preset) or file")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export at --out (never a run folder, a preset or other files)")
    parser.add_argument("--heads", type=_heads, default=None, metavar="H[,H]",
                        help="a plain Keras model's outputs in order (gender, age), for a model that does not say")
    parser.add_argument("--license", default=None, help="preset only: the weights' licence (carry the data's terms)")
    parser.add_argument("--description", default=None, help="preset only: one line saying what the model is")
    parser.add_argument("--age-years-head-weight", type=float, default=None, metavar="W",
                        help="preset only, one network with an age_years output: report W x its head + (1 - W) x the "
                             "expected age of its age groups (choose W on the run's validation faces, e.g. with "
                             "experiments/age_years_blend.py; default: the head alone)")
    parser.add_argument("--age-years-chosen-on", default=None, metavar="TEXT",
                        help="preset only, with --age-years-head-weight: how W was chosen (kept in the card)")
    parser.add_argument("--onnx", action="store_true",
                        help="preset only: also write the network's ONNX copy into the preset (model.onnx; needs the "
                             "export extra), so that predict runs it in ONNX Runtime without Keras")
    parser.add_argument("--int8", action="store_true",
                        help="preset only, with --onnx: also write its int8 copy (model.int8.onnx), calibrated on "
                             "training faces of the run's own training split; predict prefers it")
    parser.add_argument("--calibration-faces", type=_positive_int, default=None, metavar="N",
                        help="with --int8: training faces to calibrate on (default 400)")
    parser.add_argument("--calibration-seed", type=int, default=None, metavar="S",
                        help="with --int8: the seed of their draw (default 0)")
    parser.add_argument("--tta", choices=("flip",), default=None,
                        help="preset only: ask predict to average each face with its mirror by default (choose it on "
                             "the run's validation faces, e.g. with experiments/precision_and_tta.py)")
    parser.add_argument("--tta-chosen-on", default=None, metavar="TEXT",
                        help="preset only, with --tta: how it was chosen (kept in the card)")
    return parser



def run_export(args: argparse.Namespace) -> int:
    """Run ``adiencekit export``; returns the exit status (0, or 2 with one line on a user error)."""
    from adiencekit.errors import AdienceKitError

    try:
        return _export(args)
    except AdienceKitError as error:
        return fail(str(error))


def _export(args: argparse.Namespace) -> int:
    from adiencekit.errors import ConfigError
    from adiencekit.export import PRESET_FORMAT, describe_export, export_model, export_preset

    calibration = {name: value for name, value in (("faces", args.calibration_faces), ("seed", args.calibration_seed))
                   if value is not None}
    if args.format == PRESET_FORMAT:
        if calibration and not args.int8:
            raise ConfigError("--calibration-faces and --calibration-seed are for --int8")
        if args.int8 and not args.onnx:
            raise ConfigError("--int8 quantizes the preset's ONNX copy; give --onnx too")
        if args.onnx:
            _need_onnx_export()  # before the preset is written, not after
        if args.age_years_chosen_on is not None and args.age_years_head_weight is None:
            raise ConfigError("--age-years-chosen-on says how --age-years-head-weight was chosen; give both")
        if args.tta_chosen_on is not None and args.tta is None:
            raise ConfigError("--tta-chosen-on says how --tta was chosen; give both")
        chosen = None if args.age_years_chosen_on is None else {"chosen_on": args.age_years_chosen_on}
        written = export_preset(args.model, args.out, license=args.license, description=args.description,
                                age_years_head_weight=args.age_years_head_weight, age_years=chosen,
                                tta=args.tta, tta_chosen_on=args.tta_chosen_on, overwrite=args.overwrite)
        kind = f"an ensemble of {len(args.model)} runs" if len(args.model) > 1 else "the preset"
        print(f"wrote {kind} to {written} (load it with --model {written})")
        if args.onnx:
            from adiencekit.export import add_onnx_to_preset

            print(f"wrote its ONNX copy to {add_onnx_to_preset(written)} (predict runs it in ONNX Runtime)")
        if args.int8:
            from adiencekit.quantization import add_int8_onnx_to_preset
            from adiencekit.training.run_folder import RunFolder

            data = RunFolder(args.model[0]).require_finished("export --int8").data
            print(f"wrote its int8 copy to {add_int8_onnx_to_preset(written, data, **calibration)} (calibrated on "
                  f"training faces of {data}; predict prefers it)")
        return 0
    for given, flag in ((args.age_years_head_weight, "--age-years-head-weight"),
                        (args.age_years_chosen_on, "--age-years-chosen-on")):
        if given is not None:
            raise ConfigError(f"{flag} is for --format preset (an exported file keeps its model's own age in years)")
    for given, flag in ((args.tta, "--tta"), (args.tta_chosen_on, "--tta-chosen-on"), (args.int8 or None, "--int8"),
                        (args.calibration_faces, "--calibration-faces"), (args.calibration_seed, "--calibration-seed")):
        if given is not None:
            raise ConfigError(f"{flag} is for --format preset (a preset's card records its inference setting and "
                              f"copies)")
    if args.onnx:
        raise ConfigError(f"--onnx is for --format preset; --format {args.format} writes one file (use --format onnx "
                          f"for an ONNX file)")
    if len(args.model) > 1:
        raise ConfigError(f"--format {args.format} exports one model; --model was given {len(args.model)} times "
                          f"(make an ensemble preset first: --format preset with several --model, then export it)")
    written = export_model(args.model[0], args.out, format=args.format, overwrite=args.overwrite, heads=args.heads)
    print(f"exported {args.format} to {written} ({describe_export(written)})")
    return 0


def _need_onnx_export() -> None:
    """A one-line error where ONNX export's packages are missing (``tf2onnx``, ``onnx``)."""
    import importlib.util

    from adiencekit.errors import ConfigError

    missing = [name for name in ("tf2onnx", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"--onnx needs {' and '.join(missing)}: pip install 'adiencekit[export]'")
