"""The argument parser of the ``adiencekit`` command (no Keras import: ``--help`` is instant).

Example:

>>> from adiencekit.cli._parser import build_parser
>>> args = build_parser().parse_args(["train", "--out=~/runs/x", "--config", "~/c.json", "--seed", "3"])
>>> args.out.startswith("~"), args.config.startswith("~")
(False, False)
>>> args.seed
3
>>> args = build_parser().parse_args(["train", "--augment", "strong", "--age-neighbour-smoothing", "0.2"])
>>> args.augment, args.age_neighbour_smoothing, args.label_smoothing
('strong', 0.2, None)
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

from adiencekit import __version__
from adiencekit.data.datasets import UTKFACE_PREFIX
from adiencekit.errors import AdienceKitError
from adiencekit.training.config import (
    AGE_POLICIES,
    AUGMENT_PLACES,
    AUGMENTATIONS,
    BALANCE_MODES,
    FACES,
    INPUT_FORMATS,
    TASKS,
)
from adiencekit.training.recipes import SWEEPS

__all__ = ["UsageError", "build_parser", "expanded_path"]


class UsageError(AdienceKitError):
    """A mistake in the command line or its inputs; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Subcommand parsers name themselves ("adiencekit train: ..."); the main one does not.
        raise UsageError(message if self.prog == "adiencekit" else f"{self.prog}: {message}")


# --------------------------------------------------------------------------- option types
def expanded_path(text: str) -> str:
    """The ``type=`` of every path option: ``~`` expanded, in ``--opt ~/x`` and ``--opt=~/x`` alike.

    Without it ``--out=~/x`` (where the shell expands nothing) would create a folder named
    ``~``. Any parser can use it: ``parser.add_argument("--out", type=expanded_path)``.

    Example:

    >>> import os
    >>> expanded_path("~/runs/x") == os.path.join(os.path.expanduser("~"), "runs", "x")
    True
    >>> expanded_path("runs/x")
    'runs/x'
    """
    return os.path.expanduser(text)


def _data_spec(text: str) -> str:
    """``synthetic``, an Adience folder or ``utkface:PATH``, with ``~`` expanded."""
    if text == "synthetic":
        return text
    if text.startswith(UTKFACE_PREFIX):
        return UTKFACE_PREFIX + expanded_path(text[len(UTKFACE_PREFIX):])
    return expanded_path(text)


# --------------------------------------------------------------------------- parser
def _verbose_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--verbose", action="store_true", default=default,
        help="show TensorFlow's start-up and log messages (hidden by default)",
    )


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--faces", choices=FACES, default=None, help="Adience image folder (default aligned)")
    parser.add_argument("--age-policy", choices=AGE_POLICIES, default=None, help="stray age labels (default drop)")
    parser.add_argument("--folds-dir", type=expanded_path, default=None,
                        help="folder of the fold_N_data.txt files (default: the dataset folder)")


def _training_options(parser: argparse.ArgumentParser) -> None:
    """Options of train, cv and sweep that set one TrainConfig field each."""
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="per-device batch size")
    parser.add_argument("--image-size", type=int, default=None, help="resize side before cropping")
    parser.add_argument("--crop-size", type=int, default=None, help="crop fed to the model")
    parser.add_argument("--learning-rate", type=float, default=None, help="base learning rate")
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="share of the training users kept for validation (default 0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for splits, initialisation, augmentation")
    parser.add_argument("--split-seed", type=int, default=None, metavar="N",
                        help="seed of the train/validation/test split alone (default: --seed); keep it fixed "
                             "and vary --seed to train the members of an ensemble on one split")
    parser.add_argument("--augment", choices=AUGMENTATIONS, default=None,
                        help="training augmentation: standard (crops, flips; default), strong (also random "
                             "zoom in/out, shift, colour, blur and grey per image) or photo (strong, then "
                             "down/up scaling, yaw warp, gamma, side light, noise and JPEG re-compression per image)")
    parser.add_argument("--augment-on", choices=AUGMENT_PLACES, default=None,
                        help="where the random crop, flip and rotation run: host (the input pipeline; default) "
                             "or device (a layer in front of the model in the training step, on the GPU; the "
                             "pipeline then only batches cached images; --augment standard or strong)")
    parser.add_argument("--balance", choices=BALANCE_MODES, default=None,
                        help="group-balanced sampling: age_group draws faces of rare age groups more often "
                             "(each epoch as many faces; default: each face once per epoch)")
    parser.add_argument("--label-smoothing", type=float, default=None, metavar="X",
                        help="uniform label smoothing of every head's loss, in [0, 1) (default 0)")
    parser.add_argument("--age-neighbour-smoothing", type=float, default=None, metavar="X",
                        help="share of the age target moved to the adjacent age groups, in [0, 1) (default 0)")
    parser.add_argument("--age-ordinal-weight", type=float, default=None, metavar="W",
                        help="weight of an ordinal term (squared Earth Mover's Distance between cumulative "
                             "distributions) added to the age loss, in [0, 100] (default 0)")
    parser.add_argument("--gender-loss-weight", type=float, default=None, metavar="W",
                        help="multitask only: weight of the gender loss against the age loss (default 1)")
    _input_format_option(parser)
    parser.add_argument("--out", type=expanded_path, default=None,
                        help="output folder (default: a new folder under ./runs)")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    _data_options(parser)


def _input_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default=None,
                        help="input pipeline: tf (tf.data), grain (no TensorFlow needed) or auto (default: tf "
                             "when TensorFlow is installed, else grain)")


def _run_options(parser: argparse.ArgumentParser, *, fold: bool) -> None:
    parser.add_argument("--data", type=_data_spec, default=None,
                        help="'synthetic' (default), an Adience folder, or utkface:PATH")
    parser.add_argument("--model", default=None, help="model name (see `adiencekit models`)")
    parser.add_argument("--task", choices=TASKS, default=None, help="gender (default), age or multitask")
    if fold:
        parser.add_argument("--fold", type=int, default=None, help="Adience test fold 0-4 (default 0)")
    parser.add_argument("--recipe", default=None, help="training recipe (see `adiencekit models`)")
    parser.add_argument("--config", type=expanded_path, default=None,
                        help="a TrainConfig JSON file (e.g. a run's config.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    imagenet = parser.add_mutually_exclusive_group()
    imagenet.add_argument("--imagenet-weights", type=expanded_path, default=None, metavar="FILE",
                          help="Inception recipes: a local copy of Keras's Inception-v3 no-top ImageNet weights "
                               "(inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5) instead of the download")
    imagenet.add_argument("--no-imagenet", action="store_true",
                          help="Inception recipes: start from a random base instead of ImageNet weights")
    _training_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``adiencekit`` command."""
    parser = _Parser(prog="adiencekit", description="Age and gender classification on Adience, with Keras 3.")
    parser.add_argument("--version", action="version", version=f"adiencekit {__version__}")
    _verbose_option(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        _verbose_option(sub, argparse.SUPPRESS)  # also accepted after the command
        return sub

    data = command("data", "summarise a dataset and its cleaning report")
    data.add_argument("--root", type=_data_spec, default=None,
                      help="an Adience folder or utkface:PATH (default: the embedded synthetic set)")
    _data_options(data)

    _run_options(command("train", "train one model (one test fold)"), fold=True)
    _run_options(command("cv", "5-fold cross-validation with a summary table"), fold=False)

    evaluate = command("evaluate", "evaluate a finished run on its test set")
    evaluate.add_argument("--run", type=expanded_path, required=True,
                          help="a run folder written by `adiencekit train`")
    evaluate.add_argument("--tta", action="store_true", help="Levi-Hassner 10-crop over-sampling")
    evaluate.add_argument("--batch-size", type=int, default=None, help="evaluation batch size")
    _input_format_option(evaluate)
    evaluate.add_argument("--quiet", action="store_true", help="one line per stage, no progress bars")

    sweep = command("sweep", "the report's sweeps: conv_depth (3/4/5 blocks) or dense_units")
    sweep.add_argument("name", choices=tuple(SWEEPS), help="which sweep")
    sweep.add_argument("--data", type=_data_spec, default=None,
                       help="'synthetic' (default), an Adience folder, or utkface:PATH")
    sweep.add_argument("--task", choices=TASKS, default=None, help="default: gender for conv_depth, age for dense_units")
    sweep.add_argument("--fold", type=int, default=None, help="Adience test fold 0-4 (default 0)")
    sweep.add_argument("--overwrite", action="store_true", help="retrain settings that are finished")
    _training_options(sweep)

    command("models", "list the model zoo and the training recipes")

    from adiencekit.cli.export import add_export_parser  # the command modules import no Keras at the top
    from adiencekit.cli.predict import add_predict_parser
    from adiencekit.cli.prepare import add_prepare_parser
    from adiencekit.cli.reproduce import add_reproduce_parser

    for add in (add_predict_parser, add_export_parser, add_prepare_parser, add_reproduce_parser):
        _verbose_option(add(commands), argparse.SUPPRESS)
    return parser
