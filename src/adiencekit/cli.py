"""The ``adiencekit`` command line.

Commands::

    adiencekit data      [--root PATH] [--faces aligned|faces] [--age-policy drop|map]
    adiencekit train     [--data PATH|synthetic|utkface:PATH] [--model NAME] [--task T]
                         [--fold K] [--recipe NAME] [--config FILE] [--epochs N]
                         [--batch-size N] [--out DIR] [--overwrite]
    adiencekit cv        (as train, without --fold) — the 5-fold protocol + summary table
    adiencekit evaluate  --run DIR [--tta]
    adiencekit models    list the model zoo and the training recipes
    adiencekit --version

With no ``--data``, ``train`` and ``cv`` use the embedded synthetic set and the
``quick`` recipe, so the whole flow runs in a couple of minutes on a CPU. User mistakes
(a wrong path, an unknown model or recipe, a bad fold, an unreadable config) print one
line on stderr and exit with status 2.

Example:

>>> from adiencekit.cli import main
>>> main(["train", "--fold", "7"])
2
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from adiencekit import __version__
from adiencekit.errors import AdienceKitError
from adiencekit.training.config import AGE_POLICIES, FACES, TASKS, TrainConfig
from adiencekit.training.recipes import SWEEPS, get_recipe, list_recipes

__all__ = ["UsageError", "build_parser", "config_from_args", "main"]

USAGE_EXIT_CODE = 2


class UsageError(AdienceKitError):
    """A mistake in the command line or its inputs; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Subcommand parsers name themselves ("adiencekit train: ..."); the main one does not.
        raise UsageError(message if self.prog == "adiencekit" else f"{self.prog}: {message}")


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--faces", choices=FACES, default=None, help="Adience image folder (default aligned)")
    parser.add_argument("--age-policy", choices=AGE_POLICIES, default=None, help="stray age labels (default drop)")


def _run_options(parser: argparse.ArgumentParser, *, fold: bool) -> None:
    parser.add_argument("--data", default=None, help="'synthetic' (default), an Adience root, or utkface:PATH")
    parser.add_argument("--model", default=None, help="model name (see `adiencekit models`)")
    parser.add_argument("--task", choices=TASKS, default=None, help="gender (default), age or multitask")
    if fold:
        parser.add_argument("--fold", type=int, default=None, help="Adience test fold 0-4 (default 0)")
    parser.add_argument("--recipe", default=None, help="training recipe (see `adiencekit models`)")
    parser.add_argument("--config", default=None, help="a TrainConfig JSON file (e.g. a run's config.json)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="per-device batch size")
    parser.add_argument("--image-size", type=int, default=None, help="resize side before cropping")
    parser.add_argument("--crop-size", type=int, default=None, help="crop fed to the model")
    parser.add_argument("--out", default=None, help="output folder (default: a new folder under ./runs)")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    _data_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``adiencekit`` command."""
    parser = _Parser(prog="adiencekit", description="Age and gender classification on Adience, with Keras 3.")
    parser.add_argument("--version", action="version", version=f"adiencekit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    data = commands.add_parser("data", help="summarise a dataset and its cleaning report")
    data.add_argument("--root", default=None, help="Adience root (default: the embedded synthetic set)")
    _data_options(data)

    train = commands.add_parser("train", help="train one model (one test fold)")
    _run_options(train, fold=True)

    cv = commands.add_parser("cv", help="5-fold cross-validation with a summary table")
    _run_options(cv, fold=False)

    evaluate = commands.add_parser("evaluate", help="evaluate a finished run on its test set")
    evaluate.add_argument("--run", required=True, help="a run folder written by `adiencekit train`")
    evaluate.add_argument("--tta", action="store_true", help="Levi-Hassner 10-crop over-sampling")
    evaluate.add_argument("--batch-size", type=int, default=None, help="evaluation batch size")

    sweep = commands.add_parser("sweep", help="the report's sweeps: conv_depth (3/4/5 blocks) or dense_units")
    sweep.add_argument("name", choices=tuple(SWEEPS), help="which sweep")
    sweep.add_argument("--data", default=None, help="'synthetic' (default), an Adience root, or utkface:PATH")
    sweep.add_argument("--task", choices=TASKS, default=None, help="default: gender for conv_depth, age for dense_units")
    sweep.add_argument("--fold", type=int, default=None, help="Adience test fold 0-4 (default 0)")
    for option, text in (("--epochs", "maximum epochs"), ("--batch-size", "per-device batch size"),
                         ("--image-size", "resize side before cropping"), ("--crop-size", "crop fed to the model")):
        sweep.add_argument(option, type=int, default=None, help=text)
    sweep.add_argument("--out", default=None, help="output folder (default: a new folder under ./runs)")
    sweep.add_argument("--overwrite", action="store_true", help="retrain settings that are finished")
    sweep.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    _data_options(sweep)

    commands.add_parser("models", help="list the model zoo and the training recipes")
    return parser


# --------------------------------------------------------------------------- config
def _check_data_spec(data: str) -> None:
    config = TrainConfig(data=data)
    path = config.dataset_path
    if path is not None and not path.exists():
        raise UsageError(f"dataset folder not found: {path}")


def option_changes(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """The :class:`TrainConfig` fields that the individual command-line options set.

    Args:
        args: parsed arguments of ``train``, ``cv`` or ``sweep``.
        config: the config the options apply to (for the image size a crop needs).

    Returns:
        ``{field: value}`` for each option given.
    """
    changes: dict[str, Any] = {}
    if args.data is not None:
        changes["data"] = args.data
    for option, field_name in (
        ("fold", "test_fold"), ("epochs", "epochs"), ("batch_size", "batch_size"),
        ("image_size", "image_size"), ("crop_size", "crop_size"), ("faces", "faces"),
        ("age_policy", "age_policy"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            changes[field_name] = value
    if changes.get("crop_size") is not None and "image_size" not in changes:
        changes["image_size"] = max(config.image_size, changes["crop_size"])
    return changes


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig a ``train``/``cv`` command line describes.

    Order: ``--config`` file, else ``--recipe``, else the ``quick`` recipe for the
    synthetic set (or the library defaults for real data); then the individual options.

    Args:
        args: parsed arguments of ``train`` or ``cv``.

    Returns:
        The validated config.

    Raises:
        UsageError: for unreadable configs, unknown recipes/models or invalid values.
    """
    if args.config and args.recipe:
        raise UsageError("give either --config or --recipe, not both")
    try:
        if args.config:
            config = TrainConfig.from_json(args.config)
            if args.task:
                config = config.replace(task=args.task)
        elif args.recipe:
            config = get_recipe(args.recipe, task=args.task)
        elif args.data in (None, "synthetic"):
            config = get_recipe("quick", task=args.task)
        else:
            config = TrainConfig(task=args.task or "gender")
        changes = option_changes(args, config)
        if args.model is not None and args.model != config.model:
            changes.update(model=args.model, model_kwargs={})
        config = config.replace(**changes) if changes else config
    except KeyError as error:  # unknown recipe
        raise UsageError(str(error.args[0])) from None
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_data_spec(config.data)
    # Checked last: the model registry imports Keras (and its backend), which is slow.
    from adiencekit.models import list_models, model_defaults

    if config.model not in list_models():
        raise UsageError(f"unknown model {config.model!r}; available models: {', '.join(list_models())}")
    if "model" in changes and args.crop_size is None and args.image_size is None:
        # Another model than the recipe's: feed it its native size (e.g. 227 of 256).
        native = (model_defaults(config.model).get("input_shape") or (256,))[0] or 256
        config = config.replace(crop_size=None, image_size=max(256, int(native)))
    return config


def _default_out(kind: str, config: TrainConfig) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{config.model}-{config.task}-{stamp}"


# --------------------------------------------------------------------------- commands
def _cmd_data(args: argparse.Namespace) -> int:
    if args.root is not None and not Path(args.root).expanduser().exists():
        raise UsageError(f"dataset folder not found: {Path(args.root).expanduser()}")
    from adiencekit.data import AdienceDataset

    if args.root is None:
        from adiencekit.data import ensure_synthetic_adience

        root = ensure_synthetic_adience()
        print(f"Synthetic Adience-format set (no download needed): {root}")
    else:
        root = Path(args.root).expanduser()
        print(f"Adience folder: {root}")
    dataset = AdienceDataset(
        root, faces=args.faces or "aligned", age_policy=args.age_policy or "drop", progress=True
    )
    print(dataset.summary())
    print()
    print(dataset.report())
    return 0


def _verbosity(args: argparse.Namespace) -> int:
    return 2 if args.quiet else 1


def _cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from adiencekit.training.fit import train

    out = Path(args.out) if args.out else _default_out("train", config)
    print(f"Run folder: {out}")
    train(config, out, overwrite=args.overwrite, verbose=_verbosity(args))  # prints the test metrics
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from adiencekit.training.cross_validation import cross_validate

    if config.dataset_kind == "utkface":
        raise UsageError("cv follows the Adience folds; UTKFace has none (use `adiencekit train`)")
    out = Path(args.out) if args.out else _default_out("cv", config)
    print(f"Cross-validation folder: {out}")
    result = cross_validate(config, out, overwrite=args.overwrite, verbose=_verbosity(args))
    print(result.to_markdown())
    print(f"Table: {out / 'cv.md'}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from adiencekit.training.sweeps import run_sweep, sweep_configs

    try:
        (_, first), *_ = sweep_configs(args.name, args.task)
        changes = option_changes(args, first)
        sweep_configs(args.name, args.task, **changes)  # validates the options
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_data_spec(changes.get("data", first.data))
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{args.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    print(f"Sweep folder: {out}")
    result = run_sweep(args.name, out, task=args.task, overwrite=args.overwrite, verbose=_verbosity(args), **changes)
    print(result.to_markdown())
    print(f"Table: {out / 'sweep.md'}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from adiencekit.evaluation import evaluate, load_run_model
    from adiencekit.training.fit import load_split

    run = Path(args.run)
    if not run.is_dir():
        raise UsageError(f"run folder not found: {run}")
    config_path = run / "config.json"
    if not config_path.is_file():
        raise UsageError(f"{run} is not a run folder: {config_path} is missing")
    if not (run / "best.keras").is_file():
        raise UsageError(f"{run} holds no trained model (best.keras is missing; is the run finished?)")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    try:
        config = TrainConfig.from_json(config_path)
    except ValueError as error:
        raise UsageError(f"cannot read {config_path}: {error}") from None
    _check_data_spec(config.data)
    model = load_run_model(run)
    split = load_split(config)
    result = evaluate(
        model, split.test, config.task, tta=args.tta,
        batch_size=args.batch_size or config.batch_size, image_size=config.image_size,
    )
    name = "evaluation_tta.json" if args.tta else "evaluation.json"
    result.to_json(run / name)
    print(result.to_markdown())
    print(f"Written: {run / name}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from adiencekit.models import list_models, model_defaults

    print("Models:")
    for name in list_models():
        shape = model_defaults(name).get("input_shape")
        print(f"  {name:24s} input {tuple(shape) if shape else '?'}")
    print("Recipes (adiencekit train --recipe NAME):")
    for name, description in list_recipes().items():
        print(f"  {name:24s} {description}")
    return 0


_COMMANDS = {
    "data": _cmd_data, "train": _cmd_train, "cv": _cmd_cv, "sweep": _cmd_sweep,
    "evaluate": _cmd_evaluate, "models": _cmd_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``adiencekit`` command line.

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for user mistakes.
    """
    # Keep TensorFlow's start-up chatter out of the terminal (user setting wins).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except SystemExit as exit_:  # --help, --version
        return int(exit_.code or 0)
    except (UsageError, FileExistsError, FileNotFoundError, NotADirectoryError) as error:
        # FileExistsError covers adiencekit.training.RunExistsError (a finished run).
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"adiencekit: error: {message}", file=sys.stderr)
        return USAGE_EXIT_CODE
    except json.JSONDecodeError as error:
        print(f"adiencekit: error: {error}", file=sys.stderr)
        return USAGE_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
