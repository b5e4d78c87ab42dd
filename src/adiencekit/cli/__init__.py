"""The ``adiencekit`` command line.

Commands::

    adiencekit [--verbose] COMMAND ...
    adiencekit data      [--root PATH|utkface:PATH] [--folds-dir DIR] [--faces aligned|faces]
                         [--age-policy drop|map]
    adiencekit train     [--data PATH|synthetic|utkface:PATH] [--folds-dir DIR] [--model NAME]
                         [--task T] [--fold K] [--recipe NAME] [--config FILE] [--epochs N]
                         [--batch-size N] [--learning-rate LR] [--val-fraction F] [--seed N]
                         [--augment standard|strong|photo] [--augment-on host|device]
                         [--label-smoothing X]
                         [--age-neighbour-smoothing X] [--age-ordinal-weight W]
                         [--gender-loss-weight W] [--input-format auto|tf|grain] [--out DIR]
                         [--imagenet-weights FILE | --no-imagenet] [--overwrite] [--quiet]
    adiencekit cv        (as train, without --fold) — the 5-fold protocol + summary table
    adiencekit sweep     conv_depth|dense_units (options as train)
    adiencekit evaluate  --run DIR [--tta] [--input-format auto|tf|grain]
    adiencekit models    list the model zoo, the bundled presets and the training recipes
    adiencekit predict   PATH... [--model RUN|FILE|PRESET] [--json FILE|-] [--annotate DIR]
                         [--no-detect] [--min-face PX] [--tta] [--batch-size N]
    adiencekit export    --model RUN|FILE|PRESET --format saved_model|tflite|onnx|preset --out PATH
    adiencekit prepare   UTKFACE_ROOT --out DIR [--pad F] [--val-fraction F] [--test-fraction F]
                         [--seed N] — detect, align and split UTKFace for training
    adiencekit reproduce PRESET --data UTKFACE_ROOT --out DIR [--epochs N] [--quiet]
                         — re-make a preset from its card (prepare, train each network, export)
    adiencekit --version

With no ``--data``, ``train`` and ``cv`` use the embedded synthetic set and the
``quick`` recipe, so the whole flow runs in a minute or two on a CPU. ``~`` is expanded
in every path option. User and environment mistakes (a wrong path, an unknown model or
recipe, a bad fold, an unreadable config or data file, a read-only or full disk) print
one line on stderr and exit with status 2; anything else is a bug and shows its
traceback. TensorFlow's start-up messages are hidden unless ``--verbose`` is given.

Example:

>>> from adiencekit.cli import main
>>> main(["train", "--fold", "7"])
2
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adiencekit.cli._errors import fail, one_line
from adiencekit.cli._parser import UsageError, build_parser
from adiencekit.cli.export import run_export
from adiencekit.cli.predict import run_predict
from adiencekit.cli.prepare import run_prepare
from adiencekit.cli.reproduce import run_reproduce
from adiencekit.data.datasets import UTKFACE_PREFIX
from adiencekit.errors import AdienceKitError
from adiencekit.cli._startup import backend_started
from adiencekit.quiet import quiet_environment
from adiencekit.training.config import TrainConfig
from adiencekit.training.recipes import get_recipe, list_recipes
from adiencekit.wording import counted

__all__ = ["UsageError", "build_parser", "config_from_args", "main", "option_changes"]

USAGE_EXIT_CODE = 2
INTERRUPTED_EXIT_CODE = 130


# --------------------------------------------------------------------------- config
def _check_data_spec(data: str) -> None:
    from adiencekit.data.utkface import utkface_roots

    config = TrainConfig(data=data)
    path = config.dataset_path
    paths = [] if path is None else utkface_roots(path) if config.dataset_kind == "utkface" else [path]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"dataset folder not found: {', '.join(missing)}")


_FIELD_OPTIONS = (
    ("fold", "test_fold"), ("epochs", "epochs"), ("batch_size", "batch_size"), ("image_size", "image_size"),
    ("crop_size", "crop_size"), ("faces", "faces"), ("age_policy", "age_policy"),
    ("learning_rate", "learning_rate"), ("val_fraction", "val_fraction"), ("seed", "seed"),
    ("split_seed", "split_seed"),
    ("folds_dir", "folds_dir"), ("augment", "augment"), ("augment_on", "augment_on"),
    ("balance", "balance"), ("label_smoothing", "label_smoothing"),
    ("age_neighbour_smoothing", "age_neighbour_smoothing"), ("age_ordinal_weight", "age_ordinal_weight"),
    ("gender_loss_weight", "gender_loss_weight"), ("input_format", "input_format"),
)


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
    for option, field_name in _FIELD_OPTIONS:
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
    except AdienceKitError:
        raise
    except KeyError as error:  # unknown recipe
        raise UsageError(str(error.args[0])) from None
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_data_spec(config.data)
    from adiencekit.models import list_models, model_defaults  # imports Keras: checked last

    if config.model not in list_models():
        raise UsageError(f"unknown model {config.model!r}; available models: {', '.join(list_models())}")
    if "model" in changes and args.crop_size is None and args.image_size is None and config.dataset_kind != "utkface":
        # Another model than the recipe's: feed it its native size (e.g. 227 of 256).
        native = (model_defaults(config.model).get("input_shape") or (256,))[0] or 256
        config = config.replace(crop_size=None, image_size=max(256, int(native)))
    return _with_imagenet_weights(args, config.validate())


def _with_imagenet_weights(args: argparse.Namespace, config: TrainConfig) -> TrainConfig:
    """Apply ``--imagenet-weights FILE`` / ``--no-imagenet``, and fetch the ImageNet file now.

    Fetching it here, before any run folder is named or made, turns an offline machine
    into one line that names both options instead of a half-started run.
    """
    from adiencekit.models import model_defaults
    from adiencekit.models.weights import imagenet_weights_path

    file, no_imagenet = getattr(args, "imagenet_weights", None), getattr(args, "no_imagenet", False)
    takes_imagenet = model_defaults(config.model).get("weights") == "imagenet"
    if (file is not None or no_imagenet) and not takes_imagenet:
        option = "--no-imagenet" if no_imagenet else "--imagenet-weights"
        raise UsageError(f"{option} is for the Inception models; {config.model!r} has no ImageNet weights")
    kwargs = dict(config.model_kwargs)
    if no_imagenet:
        kwargs["weights"] = None
    elif file is not None:
        kwargs["imagenet_weights_file"] = file
    if takes_imagenet and kwargs.get("weights", "imagenet") == "imagenet":
        imagenet_weights_path(kwargs.get("imagenet_weights_file"), model=config.model)  # download once, or refuse
    return config.replace(model_kwargs=kwargs) if kwargs != config.model_kwargs else config


def _default_out(kind: str, config: TrainConfig) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{config.model}-{config.task}-{stamp}"


def _verbosity(args: argparse.Namespace, stream: Any = None) -> int | str:
    """Keras ``fit`` verbosity: progress bars on a terminal, one line per epoch otherwise."""
    stream = sys.stdout if stream is None else stream
    if args.quiet:
        return 2
    isatty = getattr(stream, "isatty", None)
    return "auto" if callable(isatty) and isatty() else 2


def _progress_bars() -> bool:
    """Progress bars (tqdm, on stderr) only on a terminal, never into a log file."""
    return bool(getattr(sys.stderr, "isatty", None) and sys.stderr.isatty())


# --------------------------------------------------------------------------- commands
def _cmd_data(args: argparse.Namespace) -> int:
    from adiencekit.data import open_dataset

    root = args.root
    if root is None:
        from adiencekit.data import ensure_synthetic_adience

        print(f"Synthetic Adience-format set (no download needed): {ensure_synthetic_adience()}")
    elif root.startswith(UTKFACE_PREFIX):
        print(f"UTKFace folder: {root[len(UTKFACE_PREFIX):]}")
    else:
        print(f"Adience folder: {root}")
    if args.folds_dir is not None:
        print(f"Fold files: {args.folds_dir}")
    dataset = open_dataset(root or "synthetic", faces=args.faces, age_policy=args.age_policy,
                           folds_dir=args.folds_dir, progress=_progress_bars())
    print(dataset.summary())
    print()
    print(dataset.report())
    return 0


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
    except AdienceKitError:
        raise
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
    from adiencekit.data.pipeline_args import resolve_format
    from adiencekit.evaluation import evaluate
    from adiencekit.training.data_loading import load_split
    from adiencekit.training.run_folder import RunFolder
    from adiencekit.training.split_record import split_changes

    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    run_folder = RunFolder(args.run)
    run = run_folder.path
    config = run_folder.require_finished("evaluate")  # before anything is written into the folder
    _check_data_spec(config.data)
    started = time.perf_counter()
    print(f"Loading {run_folder.model_path} ...", flush=True)
    model = run_folder.load_model()
    print(f"Reading the test set of {config.data} (fold {config.test_fold}) ...", flush=True)
    split = load_split(config)
    changes = split_changes(run_folder.read_metrics() or {}, split, config.dataset_path)
    if changes:
        raise UsageError(
            f"the data of {run} changed since it was trained ({'; '.join(changes)}), so its test set would now "
            f"hold other faces, some of them the run's own training or validation faces; evaluate with the data "
            f"as it was (the run's scores on its test set are in {run / 'metrics.json'})"
        )
    count = len(split.test) if hasattr(split.test, "__len__") else None
    what = counted(count, "test image") if count is not None else "the test images"
    print(f"Evaluating {what}{' with 10-crop over-sampling' if args.tta else ''} ...", flush=True)
    result = evaluate(
        model, split.test, config.task, tta=args.tta, verbose=_verbosity(args) != 2,
        batch_size=args.batch_size or config.batch_size, image_size=config.image_size,
        input_format=resolve_format(args.input_format or config.input_format),
    )
    name = "evaluation_tta.json" if args.tta else "evaluation.json"
    result.to_json(run / name)
    print(result.to_markdown())
    print(f"Written: {run / name} ({time.perf_counter() - started:.0f} s)")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from adiencekit.cli._catalog import MODELS, format_bundled_presets  # static: listing needs no Keras import

    print("Models:")
    for name, shape in MODELS.items():
        print(f"  {name:24s} input {shape}")
    print("\n".join(format_bundled_presets()))
    print("Recipes (adiencekit train --recipe NAME):")
    for name, description in list_recipes().items():
        print(f"  {name:24s} {description}")
    return 0


_COMMANDS = {
    "data": _cmd_data, "train": _cmd_train, "cv": _cmd_cv, "sweep": _cmd_sweep,
    "evaluate": _cmd_evaluate, "models": _cmd_models, "predict": run_predict, "export": run_export,
    "prepare": run_prepare, "reproduce": run_reproduce,
}

#: Commands that need neither TensorFlow nor Keras.
_LIGHT_COMMANDS = frozenset({"models"})


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Library warnings as ``adiencekit: warning: ...`` lines, without Python's source line."""
    text = str(message).strip().splitlines()
    print(f"adiencekit: warning: {text[0] if text else category.__name__}", file=file or sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``adiencekit`` command line.

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for user and environment mistakes (one line on
        stderr), 130 when interrupted. Other exceptions are bugs and propagate with their
        traceback.
    """
    import warnings

    shown = warnings.showwarning
    try:
        args = build_parser().parse_args(argv)
        if not args.verbose:
            quiet_environment()
            warnings.showwarning = _one_line_warning
        if args.command in _LIGHT_COMMANDS:
            return _COMMANDS[args.command](args)
        with backend_started(args.command, verbose=args.verbose):
            return _COMMANDS[args.command](args)
    except SystemExit as exit_:  # --help, --version
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        return fail("interrupted", INTERRUPTED_EXIT_CODE)
    except Exception as error:
        message = one_line(error)
        if message is None:
            raise  # a bug: keep the traceback
        return fail(message, USAGE_EXIT_CODE)
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
