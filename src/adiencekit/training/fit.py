"""``train``: one training run from a :class:`TrainConfig` into a run folder.

The run folder is the unit of output::

    run_dir/
      config.json        the TrainConfig
      best.keras         the model with the best val_loss weights (the one copy kept)
      history.json/.csv  one row per completed epoch, numbered from 1 (kept across resumes)
      metrics.json       test-set evaluation of the best model, split sizes and digests; marks the run finished
      data_report.txt    the dataset's cleaning report (rows read, dropped by reason)
      plots/             curves.png, confusion_<head>.png, predictions.png
      tensorboard/       TensorBoard logs (``tensorboard --logdir run_dir/tensorboard``)
    while the run is unfinished, also:
      run.lock           the training process that holds the folder
      best.weights.h5    best val_loss weights so far (+ .json record)
      backup/            per-epoch weights and optimizer state (see training.backup), a copy of config.json
    after a divergence:
      failed.json        what diverged, when, and what to change

Everything that can be checked (the config, the dataset and its split, building the
model with its ``model_kwargs``) is checked before the folder is created or written. A
killed run started again with the same folder and config resumes after its last
completed epoch, recovering from a damaged backup; a finished or failed run is never
overwritten silently: :func:`train` raises unless ``overwrite=True``. Only one process
trains in a folder at a time (``run.lock``). A non-finite loss stops the run with
:class:`~adiencekit.errors.TrainingDivergedError` and ``failed.json``, and so do an
exploding loss and a final model worse than knowing nothing (the rule:
:mod:`~adiencekit.training.divergence`); a full or
read-only disk ends in a one-line :class:`~adiencekit.errors.RunFolderError` with the
folder left resumable.

The pieces live in their own modules: :mod:`~adiencekit.training.data_loading`,
:mod:`~adiencekit.training.model_setup`, :mod:`~adiencekit.training.run_folder`,
:mod:`~adiencekit.training.backup` and :mod:`~adiencekit.training.samples`.

Example:

>>> import tempfile
>>> from adiencekit.data import make_synthetic_adience
>>> from adiencekit.training import TrainConfig, train
>>> tmp = tempfile.mkdtemp()
>>> root = make_synthetic_adience(f"{tmp}/data", users_per_fold=2, images_per_user=4, image_sizes=(48,))
>>> config = TrainConfig(data=str(root), model_kwargs={"base_filters": 4, "dense_units": 8},
...                      image_size=40, crop_size=32, batch_size=8, epochs=1)
>>> result = train(config, f"{tmp}/run", verbose=0)
>>> sorted(p.name for p in result.run_dir.iterdir())  # doctest: +NORMALIZE_WHITESPACE
['best.keras', 'config.json', 'data_report.txt', 'history.csv', 'history.json', 'metrics.json',
 'plots', 'tensorboard']
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import math
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from adiencekit.data.pipeline_args import resolve_format
from adiencekit.errors import ConfigError, TrainingDivergedError
from adiencekit.evaluation import EvaluationResult, evaluate
from adiencekit.fileio import atomic_write_text
from adiencekit.training.backup import RunBackup, restore_backup
from adiencekit.training.callbacks import (
    AtomicBestCheckpoint,
    DivergenceGuard,
    HistoryRecorder,
    ResumableEarlyStopping,
    ThroughputLogger,
    atomic_save_model,
)
from adiencekit.training.config import TrainConfig
from adiencekit.training.data_loading import check_split, data_counts, load_dataset, split_dataset
from adiencekit.training.devices import DeviceSetup, setup_devices
from adiencekit.training.divergence import explosion_limit, learned_nothing
from adiencekit.training.model_setup import (
    build_optimizer,
    compile_model,
    create_run_model,
    device_augmented_model,
)
from adiencekit.training.run_folder import (
    RunLock,
    mark_failed,
    notice,
    prepare_run_dir,
)
from adiencekit.training.samples import sample_predictions, write_plots
from adiencekit.training.split_record import split_record
from adiencekit.wording import counted

__all__ = ["RunResult", "resolve_verbose", "tensorboard_available", "train"]


@dataclass
class RunResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: the run folder.
        config: the run's config.
        history: one dict per completed epoch (``epoch``, ``loss``, ``val_loss``, ...).
        evaluation: test-set evaluation of the best model.
        metrics: the content of ``metrics.json``.
        best_epoch: epoch (1-based, as in ``history.json``) of the best ``val_loss``.
        resumed_from_epoch: epochs already done when this call started (0 = fresh).
        model: the trained model with the best weights.
    """

    run_dir: Path
    config: TrainConfig
    history: list[dict[str, Any]]
    evaluation: EvaluationResult
    metrics: dict[str, Any]
    best_epoch: int | None
    resumed_from_epoch: int = 0
    model: keras.Model | None = field(default=None, repr=False)


# ----------------------------------------------------------------------------- helpers

#: dtype of the image batches :func:`train` feeds its model. ``uint8`` halved the time of a
#: host-fed Levi-Hassner training step on an H200 against float32 (35,381 vs 18,285 img/s,
#: benchmarks/results/gpu-gpu-h200-20261128.json) and gives the model identical values.
TRAINING_INPUT_DTYPE = "uint8"


def resolve_verbose(verbose: int | str) -> int:
    """Keras ``fit`` verbosity: ``"auto"`` is 1 (progress bar) on a terminal, else 2 (one line per epoch)."""
    if verbose == "auto":
        isatty = getattr(sys.stdout, "isatty", None)
        return 1 if isatty is not None and isatty() else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ConfigError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _build_model(config: TrainConfig, crop: int) -> keras.Model:
    """The run's model; a model that cannot be built from its kwargs is a :class:`ConfigError`."""
    try:
        return create_run_model(config, crop)
    except (TypeError, ValueError, KeyError) as error:
        raise ConfigError(
            f"model {config.model!r} cannot be built with model_kwargs={config.model_kwargs} at a "
            f"{crop} px crop: {error}"
        ) from error


def tensorboard_available() -> bool:
    """Whether Keras can write TensorBoard logs here (it needs ``tensorflow`` and ``tensorboard``).

    Both must import, not only be installed: a TensorFlow that fails to import (a broken
    or mismatched install) means no logs, with a note, instead of a crash when ``fit``
    starts. Where TensorFlow is installed the logs need it imported anyway.
    """
    return _tensorboard_problem() is None


def _tensorboard_problem() -> str | None:
    """Why TensorBoard logs cannot be written here, or ``None``."""
    missing = [name for name in ("tensorflow", "tensorboard") if importlib.util.find_spec(name) is None]
    if missing:
        return ("Keras writes them through the tensorflow and tensorboard packages: "
                f"pip install {' '.join(missing)}")
    for name in ("tensorflow", "tensorboard"):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - any failed import means no logs, said in one line
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return f"{name} is installed but does not import: {first}"
    return None


def _tensorboard(run_dir: Path, verbose: int) -> keras.callbacks.Callback | None:
    """Keras's TensorBoard callback into ``run_dir/tensorboard`` (``None``, with a note, when it cannot run)."""
    problem = _tensorboard_problem()
    if problem is not None:
        if verbose:
            print(f"adiencekit: no TensorBoard logs ({problem})")
        return None
    return keras.callbacks.TensorBoard(
        log_dir=str(run_dir / "tensorboard"), histogram_freq=0, write_graph=False, update_freq="epoch",
        profile_batch=0,
    )


def _best_epoch(history: Sequence[dict[str, Any]]) -> int | None:
    scored = [row for row in history if row.get("val_loss") is not None and math.isfinite(row["val_loss"])]
    if not scored:
        return None
    return int(min(scored, key=lambda row: row["val_loss"])["epoch"])


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if v is not None]
    return float(np.mean(numbers)) if numbers else None


def _advice(config: TrainConfig, setup: DeviceSetup) -> list[str]:
    """What to change after a divergence, in the words of the command line (a config file for the rest)."""
    advice = [f"lower the learning rate (now {config.learning_rate:g}; --learning-rate)"]
    precision = getattr(setup, "precision", None) or config.precision
    if precision != "float32":
        advice.append(f'train in float32 (now {precision}; "precision": "float32" in a --config file)')
    advice.append("clip gradients (an optimizer with clipnorm)")
    return advice


def _fail(run_dir: Path, config: TrainConfig, setup: DeviceSetup, error: TrainingDivergedError | None,
          reason: str) -> TrainingDivergedError:
    """Mark the run failed (``failed.json``) and return the error to raise."""
    advice = _advice(config, setup)
    record = {
        "reason": reason,
        "epoch": getattr(error, "epoch", None),
        "batch": None if getattr(error, "batch", None) is None else error.batch + 1,  # type: ignore[union-attr]
        "metric": getattr(error, "metric", None),
        "advice": advice,
        "learning_rate": config.learning_rate,
    }
    path = mark_failed(run_dir, record)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)  # holds no better state than best.weights.h5
    return TrainingDivergedError(f"{reason}; run marked failed in {path}. To fix: {'; '.join(advice)}")


def _strong_augmentation(train_ds: Any, config: TrainConfig, input_format: str = "tf") -> Any:
    """``train_ds`` with :class:`~adiencekit.layers.PhotoAugmentation` on its batches when ``augment="strong"``,
    followed by :class:`~adiencekit.layers.PhotoDegradation` when ``augment="photo"``.

    The layers are seeded from ``config.seed`` and mapped without parallel calls, so that
    their seed generators advance in batch order and the sequence is reproducible. (A
    resumed run starts that sequence again from the seed: its later epochs see other
    draws than an uninterrupted run would.) On a Grain pipeline (``input_format``
    ``"grain"``) the batches are NumPy arrays and stay NumPy arrays.
    """
    if config.augment not in ("strong", "photo"):
        return train_ds
    from adiencekit.layers import PhotoAugmentation, PhotoDegradation

    layers = [PhotoAugmentation(seed=config.seed)]
    if config.augment == "photo":
        layers.append(PhotoDegradation(seed=None if config.seed is None else config.seed + 1))

    def augment(images: Any, *labels: Any) -> Any:
        for layer in layers:
            images = layer(images, training=True)
        return (images, *labels) if labels else images

    if input_format == "grain":

        def augment_numpy(element: Any) -> Any:
            images, *labels = element if isinstance(element, tuple) else (element,)
            images = keras.ops.convert_to_numpy(augment(images))
            return (images, *labels) if labels else images

        return train_ds.map(augment_numpy)
    import tensorflow as tf

    return train_ds.map(augment).prefetch(tf.data.AUTOTUNE)


def _note_missing_history(recorder: HistoryRecorder, resumed_from: int) -> None:
    """Say so when a resumed run's history lacks finished epochs (history files deleted)."""
    recorded = {row["epoch"] for row in recorder.rows if row["epoch"] <= resumed_from}
    missing = [epoch for epoch in range(1, resumed_from + 1) if epoch not in recorded]
    if missing:
        notice(f"the history of epochs {_epoch_ranges(missing)} is missing from {recorder.json_path} (deleted?); "
               f"resuming after epoch {resumed_from}: history.json, its plot and metrics.json will lack those "
               f"epochs (use --overwrite to train the whole run again)")


def _epoch_ranges(epochs: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    parts: list[str] = []
    start = previous = epochs[0]
    for epoch in [*epochs[1:], None]:
        if epoch is not None and epoch == previous + 1:
            previous = epoch
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if epoch is not None:
            start = previous = epoch
    return ", ".join(parts)


@contextlib.contextmanager
def _epochs_end_by_exhaustion(input_format: str) -> Any:
    """Silence Keras's "Your input ran out of data" around ``fit`` on Grain pipelines.

    Keras's Grain adapter knows no batch count, so every training and validation epoch of
    a Grain pipeline ends when its iterator is exhausted, and Keras warns each time that
    training was interrupted; here that is the design (each iteration is one epoch,
    :func:`~adiencekit.data.grain_pipeline.build_grain_pipeline`; with ``steps_per_epoch``
    the training stream repeats), not a short dataset.
    """
    with warnings.catch_warnings():
        if input_format == "grain":
            warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
        yield


def _sample_predictions(model: keras.Model, subset: Any, task: str, **kwargs: Any) -> Any:
    """See :func:`adiencekit.training.samples.sample_predictions`."""
    return sample_predictions(model, subset, task, **kwargs)


# ----------------------------------------------------------------------------- train
def train(
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = True,
    overwrite: bool = False,
    verbose: int | str = "auto",
    split: Any = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: Any = None,
    data_report: Any = None,
) -> RunResult:
    """Train ``config`` into the run folder ``out_dir`` and evaluate the best model.

    Args:
        config: the run's :class:`TrainConfig`.
        out_dir: the run folder (created when missing; ``~`` is expanded).
        resume: continue an unfinished run of the same config in ``out_dir`` from its
            last completed epoch.
        overwrite: remove a finished, failed (or other) run in ``out_dir`` first.
        verbose: Keras ``fit`` verbosity: ``"auto"`` (a progress bar on a terminal, one
            line per epoch otherwise), 0, 1 = progress bar, 2 = one line per epoch.
        split: a ready :class:`~adiencekit.data.Split` to use instead of loading
            ``config.data`` (cross-validation passes each fold's split).
        callbacks: extra Keras callbacks, run after the library's own.
        strategy: an existing ``tf.distribute.Strategy`` (e.g. multi-worker).
        data_report: the cleaning report of ``split``'s dataset, saved as
            ``data_report.txt`` (found by itself when ``split`` is not given).

    Returns:
        The :class:`RunResult`.

    Raises:
        RunExistsError: when ``out_dir`` holds a finished or failed run and ``overwrite``
            is false, or an unfinished run of another config.
        RunFolderError: when another process trains in ``out_dir``, or the folder
            cannot be written (full disk, read-only); the run stays resumable.
        TrainingDivergedError: when the loss becomes NaN, infinite or explodes, or the final model
            is worse than knowing nothing (see :mod:`~adiencekit.training.divergence`; ``failed.json``).
        DatasetNotFoundError: (a ``FileNotFoundError``) when the dataset is missing.
        ConfigError: (a ``ValueError``) for invalid settings (model kwargs, crop size, ...).
        DataError: (a ``ValueError``) for an empty train, validation or test set.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    run_dir = Path(out_dir).expanduser()
    verbose = resolve_verbose(verbose)
    # Everything that can be checked is checked before the run folder is touched.
    config.validate(check_data=split is None)
    resolve_format(config.input_format)  # an engine whose package is missing fails here, not mid-run
    crop = config.resolved_crop_size()
    if split is None:
        dataset = load_dataset(config)
        split = split_dataset(dataset, config)
        data_report = dataset.report()
    check_split(split)

    setup: DeviceSetup = setup_devices(config, strategy=strategy)
    global_batch = setup.global_batch_size(config.batch_size)
    steps = config.steps_per_epoch or max(1, math.ceil(len(split.train) / global_batch))
    keras.utils.set_random_seed(config.seed)
    with setup.scope():
        model = _build_model(config, crop)
        # augment_on="device": fit trains the model behind its augmentation layer (shared
        # weights); the plain model is what is saved and evaluated.
        fit_model = device_augmented_model(model, config) if config.augment_on == "device" else model
        learning_rate = setup.learning_rate(config.learning_rate, config.scale_lr_with_replicas)
        compile_model(model, config, build_optimizer(config, steps, learning_rate), setup.jit_compile,
                      fit_model=fit_model)
        with RunLock(run_dir):
            prepare_run_dir(config, run_dir, resume=resume, overwrite=overwrite)
            return _train_in_folder(
                config, run_dir, model, split, setup, crop, global_batch, verbose, callbacks, data_report,
                fit_model,
            )


def _train_in_folder(
    config: TrainConfig,
    run_dir: Path,
    model: keras.Model,
    split: Any,
    setup: DeviceSetup,
    crop: int,
    global_batch: int,
    verbose: int,
    callbacks: Sequence[keras.callbacks.Callback],
    data_report: Any,
    fit_model: keras.Model,
) -> RunResult:
    """The part of :func:`train` that runs with the folder prepared and locked.

    ``fit_model`` is what ``fit`` trains, checkpoints and backs up: ``model`` itself, or
    the device-augmenting wrapper around it (``augment_on="device"``).
    """
    data = None
    report_path = run_dir / "data_report.txt"
    if data_report is not None:
        data = data_counts(data_report)
        atomic_write_text(report_path, str(data_report) + "\n")
        if verbose:
            print(f"adiencekit: data: {counted(data['kept'], 'image')} kept, {data['dropped']} of {data['rows_read']} "
                  f"rows dropped while cleaning (report: {report_path})")

    # uint8 batches: a quarter of the bytes to build and to copy to an accelerator; the
    # models cast to float on their device (Keras functional models cast inputs to their
    # Input dtype), so training sees exactly the values a float32 pipeline would give.
    input_format = resolve_format(config.input_format, notice=print if verbose else None)
    on_device = config.augment_on == "device"
    pipeline_args = {
        # On the device the model crops: the pipeline delivers whole images.
        "image_size": config.image_size, "crop_size": config.image_size if on_device else crop,
        "batch_size": global_batch, "output_dtype": TRAINING_INPUT_DTYPE, "format": input_format,
        "age_years": bool(getattr(model, "age_years", False)),
    }
    train_ds = split.train.pipeline(
        training=True, seed=config.seed, cache=config.cache, rotation=0.0 if on_device else config.rotation,
        flip=config.flip and not on_device, balance=config.balance, **pipeline_args,
    )
    if not on_device:  # on the device the model's first layers do it
        train_ds = _strong_augmentation(train_ds, config, input_format)
    if config.steps_per_epoch is not None:
        # Capped epochs continue where the previous one stopped instead of running dry.
        train_ds = train_ds.repeat()
    val_ds = split.val.pipeline(training=False, cache=config.cache, **pipeline_args)

    backup_dir = run_dir / "backup"
    best_path = run_dir / "best.weights.h5"
    resumed_from = restore_backup(fit_model, backup_dir)
    recorder = HistoryRecorder(run_dir / "history.json", run_dir / "history.csv")
    _note_missing_history(recorder, resumed_from)
    own: list[keras.callbacks.Callback] = [
        DivergenceGuard(explosion_limit(config.task)),  # first: nothing is recorded or saved for a diverged epoch
        ThroughputLogger(global_batch, None if config.steps_per_epoch else len(split.train)),
        recorder,
        AtomicBestCheckpoint(best_path, monitor="val_loss", mode="min"),
    ]
    if config.early_stopping_patience is not None:
        own.append(
            ResumableEarlyStopping(
                backup_dir / "early_stopping.json", monitor="val_loss",
                patience=config.early_stopping_patience, verbose=1 if verbose else 0,
            )
        )
    tensorboard = _tensorboard(run_dir, verbose)
    if tensorboard is not None:
        own.append(tensorboard)
    # Last of ours: when the backup says an epoch is done, everything above is written.
    own.append(RunBackup(backup_dir))
    if verbose:
        state = f"resuming after epoch {resumed_from}" if resumed_from else "new run"
        print(f"adiencekit: training {config.model} ({config.task}) in {run_dir} [{state}]; "
              f"devices: {setup.describe()}")
    # An early-stopped run killed before its final evaluation resumes at that evaluation.
    stopped_after = ResumableEarlyStopping.stopped_after(backup_dir / "early_stopping.json")
    stopped = resumed_from > 0 and stopped_after == resumed_from
    try:
        if not stopped:
            with _epochs_end_by_exhaustion(input_format):
                fit_model.fit(
                    train_ds,
                    validation_data=val_ds,
                    epochs=config.epochs,
                    initial_epoch=min(resumed_from, config.epochs),
                    steps_per_epoch=config.steps_per_epoch,
                    validation_steps=config.validation_steps,
                    callbacks=[*own, *callbacks],
                    verbose=verbose,
                    shuffle=False,  # the training pipeline shuffles itself (seeded)
                )
    except TrainingDivergedError as error:
        raise _fail(run_dir, config, setup, error, str(error)) from None
    if not best_path.is_file():
        raise _fail(run_dir, config, setup, None, "training diverged: no epoch reached a finite validation loss")
    fit_model.load_weights(best_path)  # the best weights, into model too (shared)
    evaluation = evaluate(
        model, split.test, config.task, batch_size=global_batch, image_size=config.image_size,
        steps=config.test_steps, input_format=input_format,
    )
    history = HistoryRecorder.load(run_dir / "history.json")
    best_epoch = _best_epoch(history)
    best_val_loss = next((row["val_loss"] for row in history if row["epoch"] == best_epoch), None)
    scores = {name: (head.exact, head.confusion) for name, head in evaluation.heads.items()}
    reason = learned_nothing(scores, best_val_loss, config.task)
    if reason is not None:
        raise _fail(run_dir, config, setup, None, f"training diverged: {reason}")
    atomic_save_model(model, run_dir / "best.keras")
    samples = _sample_predictions(model, split.test, config.task, image_size=config.image_size, crop_size=crop,
                                  batch_size=global_batch, seed=config.seed, input_format=input_format)

    write_plots(run_dir, history, evaluation, samples)
    metrics = {
        "test": evaluation.as_dict(),
        "best_epoch": best_epoch,
        "epochs_completed": len(history),
        "resumed_from_epoch": resumed_from,
        "images_per_second": _mean([row.get("images_per_second") for row in history]),
        **split_record(split, config.dataset_path),  # sizes and digests: evaluate checks them
        "data": data,
        "test_fold": getattr(split, "test_fold", None),
        "devices": setup.describe(),
        "crop_size": crop,
        "global_batch_size": global_batch,
    }
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    # Finished: best.keras is the one copy of the best weights; the resume state goes.
    shutil.rmtree(backup_dir, ignore_errors=True)
    for name in ("best.weights.h5", "best.weights.h5.json"):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    if verbose:
        lines = [f"adiencekit: run finished in {run_dir}", evaluation.to_markdown()]
        lines.append(f"Model: {run_dir / 'best.keras'}; plots: {run_dir / 'plots'}")
        if tensorboard is not None:
            lines.append(f"TensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}")
        if data is not None:
            lines.append(f"Data report: {report_path} ({data['dropped']} rows dropped)")
        print("\n".join(lines))
    return RunResult(run_dir, config, history, evaluation, metrics, best_epoch, resumed_from, model)
