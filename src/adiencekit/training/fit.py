"""``train``: one training run from a :class:`TrainConfig` into a run folder.

The run folder is the unit of output::

    run_dir/
      config.json        the TrainConfig
      best.weights.h5    best val_loss weights (written atomically during training)
      best.keras         the whole model with the best weights (after training)
      history.json/.csv  one row per completed epoch (kept across resumes)
      metrics.json       test-set evaluation of the best model; marks the run finished
      plots/             curves.png, confusion_<head>.png, predictions.png
      backup/            BackupAndRestore state while the run is unfinished

A killed run started again with the same folder and config resumes after its last
completed epoch (``keras.callbacks.BackupAndRestore``). A finished run is never
overwritten silently: :func:`train` raises unless ``overwrite=True``.

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
['best.keras', 'best.weights.h5', 'best.weights.h5.json', 'config.json', 'history.csv',
 'history.json', 'metrics.json', 'plots']
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from adiencekit.errors import RunFolderError
from adiencekit.evaluation import EvaluationResult, class_names, evaluate
from adiencekit.training.callbacks import (
    AtomicBestCheckpoint,
    HistoryRecorder,
    ResumableEarlyStopping,
    ThroughputLogger,
    atomic_save_model,
    atomic_write_text,
)
from adiencekit.training.config import TrainConfig
from adiencekit.training.devices import DeviceSetup, setup_devices

__all__ = ["RunResult", "RunExistsError", "adience_root", "build_optimizer", "compile_model", "load_split", "train"]

#: Files and folders a run writes (removed by ``overwrite=True``, nothing else is).
RUN_ARTIFACTS = (
    "config.json",
    "best.weights.h5",
    "best.weights.h5.json",
    "best.keras",
    "history.json",
    "history.csv",
    "metrics.json",
    "plots",
    "backup",
)


class RunExistsError(RunFolderError, FileExistsError):
    """The run folder holds a finished run, or an unfinished run of another config."""


@dataclass
class RunResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: the run folder.
        config: the run's config.
        history: one dict per completed epoch (``epoch``, ``loss``, ``val_loss``, ...).
        evaluation: test-set evaluation of the best model.
        metrics: the content of ``metrics.json``.
        best_epoch: epoch (0-based) of the best ``val_loss``.
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


# ----------------------------------------------------------------------------- data
def adience_root(config: TrainConfig) -> Path:
    """The Adience folder that ``config.data`` names (the synthetic set is built on first use).

    Args:
        config: a config whose ``data`` is ``"synthetic"`` or an Adience folder.

    Returns:
        The folder holding the fold files.

    Raises:
        FileNotFoundError: when the folder does not exist.
    """
    from adiencekit.data import ensure_synthetic_adience

    root = ensure_synthetic_adience() if config.dataset_kind == "synthetic" else config.dataset_path
    if root is None or not root.exists():
        raise FileNotFoundError(
            f"Adience folder not found: {root}; it must hold the fold files and the "
            f"{config.faces}/ image folder (or use data='synthetic')"
        )
    return Path(root)


def load_split(config: TrainConfig, *, progress: bool = False) -> Any:
    """The train/validation/test :class:`~adiencekit.data.Split` that ``config`` names.

    Args:
        config: uses ``data``, ``faces``, ``age_policy``, ``task``, ``test_fold``,
            ``val_fraction``, ``test_fraction`` and ``seed``.
        progress: show a progress bar while the images are checked.

    Returns:
        The split (subject-exclusive for Adience: test fold + validation users).

    Raises:
        FileNotFoundError: when the dataset folder does not exist.
    """
    from adiencekit.data import AdienceDataset

    kind = config.dataset_kind
    if kind == "utkface":
        from adiencekit.data import UTKFaceDataset

        path = config.dataset_path
        if path is None or not path.exists():
            raise FileNotFoundError(f"UTKFace folder not found: {path}")
        return UTKFaceDataset(path).split(
            task=config.task, val_fraction=config.val_fraction, test_fraction=config.test_fraction, seed=config.seed
        )
    dataset = AdienceDataset(
        adience_root(config), faces=config.faces, age_policy=config.age_policy, progress=progress
    )
    return dataset.split(
        test_fold=config.test_fold, task=config.task, val_fraction=config.val_fraction, seed=config.seed
    )


def crop_size_for(config: TrainConfig) -> int:
    """The crop fed to the model: ``config.crop_size`` or the model's native size."""
    if config.crop_size is not None:
        return config.crop_size
    shape = config.model_kwargs.get("input_shape")
    if shape is None:
        from adiencekit.models import model_defaults

        shape = model_defaults(config.model).get("input_shape")
    if not shape or shape[0] is None:
        raise ValueError(f"model {config.model!r} has no native input size; set TrainConfig.crop_size")
    if config.image_size < shape[0]:
        raise ValueError(
            f"model {config.model!r} takes {shape[0]} px crops but image_size is {config.image_size}; "
            f"raise image_size or set crop_size"
        )
    return int(shape[0])


# ------------------------------------------------------------------------- model/compile
def build_optimizer(config: TrainConfig, steps_per_epoch: int, learning_rate: float | None = None) -> Any:
    """The optimizer with the config's learning-rate schedule.

    Args:
        config: uses ``optimizer``, ``learning_rate``, ``momentum``, ``weight_decay``,
            ``lr_schedule``, ``lr_step_iterations``, ``lr_step_factor`` and ``epochs``.
        steps_per_epoch: training steps per epoch (for the cosine schedule).
        learning_rate: overrides ``config.learning_rate`` (e.g. scaled by replicas).

    Returns:
        A ``keras.optimizers.Optimizer``.
    """
    base = config.learning_rate if learning_rate is None else learning_rate
    if config.lr_schedule == "step":
        lr: Any = keras.optimizers.schedules.PiecewiseConstantDecay(
            [config.lr_step_iterations], [base, base * config.lr_step_factor]
        )
    elif config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(base, decay_steps=max(1, config.epochs * steps_per_epoch))
    else:
        lr = base
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum, weight_decay=decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    return keras.optimizers.RMSprop(lr, momentum=config.momentum, weight_decay=decay)


def compile_model(model: keras.Model, config: TrainConfig, optimizer: Any, jit_compile: Any = False) -> None:
    """Compile with masked losses and accuracies (−1 = missing) and 1-off for age.

    Args:
        model: the model (one output per head).
        config: uses ``task``.
        optimizer: the optimizer.
        jit_compile: value for :meth:`keras.Model.compile`.
    """
    from adiencekit.losses import MaskedSparseCategoricalCrossentropy
    from adiencekit.metrics import MaskedSparseCategoricalAccuracy, OneOffAccuracy

    def head_metrics(head: str) -> list[Any]:
        metrics: list[Any] = [MaskedSparseCategoricalAccuracy(name="accuracy")]
        if head == "age":
            metrics.append(OneOffAccuracy(name="one_off"))
        return metrics

    if config.task == "multitask":
        loss: Any = {head: MaskedSparseCategoricalCrossentropy() for head in ("gender", "age")}
        metrics: Any = {head: head_metrics(head) for head in ("gender", "age")}
    else:
        loss = MaskedSparseCategoricalCrossentropy()
        metrics = head_metrics(config.task)
    policy = getattr(model, "dtype_policy", None) or keras.config.dtype_policy()
    if policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 needs loss scaling
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)


def _create_model(config: TrainConfig, crop: int) -> keras.Model:
    from adiencekit.models import create_model

    kwargs = dict(config.model_kwargs)
    kwargs.setdefault("input_shape", (crop, crop, 3))
    return create_model(config.model, task=config.task, **kwargs)


# ----------------------------------------------------------------------------- run folder
def _is_finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").is_file()


def _clear_run(run_dir: Path) -> None:
    for name in RUN_ARTIFACTS:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    before, after = old.to_dict(), new.to_dict()
    return [key for key in after if before.get(key) != after[key]]


def prepare_run_dir(config: TrainConfig, run_dir: Path, *, resume: bool, overwrite: bool) -> int:
    """Check the run folder and write ``config.json``.

    Args:
        config: the run's config.
        run_dir: the folder.
        resume: continue an unfinished run of the same config.
        overwrite: remove a previous run's files first.

    Returns:
        The number of epochs already completed (to resume from), 0 for a fresh run.

    Raises:
        RunExistsError: for a finished run without ``overwrite``, or an unfinished run
            of another config (or with ``resume=False``) without ``overwrite``.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"run folder {run_dir} exists and is not a folder")
    config_path = run_dir / "config.json"
    if overwrite:
        _clear_run(run_dir)
    elif _is_finished(run_dir):
        raise RunExistsError(
            f"{run_dir} holds a finished run (metrics.json exists); pass overwrite=True "
            f"(--overwrite) or choose a new folder"
        )
    elif config_path.is_file():
        try:
            previous = TrainConfig.from_json(config_path)
        except (ValueError, TypeError) as error:
            raise RunExistsError(f"{run_dir} holds an unreadable config.json ({error}); use overwrite=True") from None
        if not resume:
            raise RunExistsError(f"{run_dir} holds an unfinished run; pass resume=True to continue or overwrite=True")
        changed = _differences(previous, config)
        if changed:
            raise RunExistsError(
                f"{run_dir} holds an unfinished run of a different config (fields {changed} differ); "
                f"use the same config to resume, overwrite=True, or a new folder"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_json(config_path)
    metadata = run_dir / "backup" / "training_metadata.json"
    if metadata.is_file():
        return int(json.loads(metadata.read_text(encoding="utf-8")).get("epoch", 0))
    return 0


# ----------------------------------------------------------------------------- plots
def _write_plots(run_dir: Path, history: list[dict[str, Any]], evaluation: EvaluationResult, samples: Any) -> None:
    from adiencekit.plots import plot_confusion_matrix, plot_history, plot_predictions

    plots = run_dir / "plots"
    if history:
        plot_history(history, plots / "curves.png", title=run_dir.name)
    for name, head in evaluation.heads.items():
        plot_confusion_matrix(head.confusion, head.class_names, plots / f"confusion_{name}.png",
                              title=f"{name} (test, n={head.n})")
    if samples is not None:
        images, captions_true, captions_pred = samples
        plot_predictions(images, captions_true, captions_pred, plots / "predictions.png", title="test faces")


def _sample_predictions(model: keras.Model, dataset: Any, task: str, count: int = 16) -> Any:
    for images, labels in dataset.take(1):
        images = np.asarray(images)[:count]
        outputs = model(images, training=False)
        heads = ["gender", "age"] if task == "multitask" else [task]
        if not isinstance(outputs, dict):
            outputs = {heads[0]: outputs} if len(heads) == 1 else dict(zip(heads, outputs, strict=True))
        outputs = {head: keras.ops.convert_to_numpy(outputs[head]) for head in heads}
        label_dict = labels if isinstance(labels, dict) else {heads[0]: labels}
        true_text, pred_text = [], []
        for index in range(images.shape[0]):
            true_parts, pred_parts = [], []
            for head in heads:
                names = class_names(head)
                value = int(np.asarray(label_dict[head])[index])
                true_parts.append(names[value] if value >= 0 else "?")
                pred_parts.append(names[int(np.asarray(outputs[head])[index].argmax())])
            true_text.append(", ".join(true_parts))
            pred_text.append(", ".join(pred_parts))
        return images, true_text, pred_text
    return None


# ----------------------------------------------------------------------------- train
def _best_epoch(history: Sequence[dict[str, Any]]) -> int | None:
    scored = [row for row in history if row.get("val_loss") is not None and math.isfinite(row["val_loss"])]
    if not scored:
        return None
    return int(min(scored, key=lambda row: row["val_loss"])["epoch"])


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if v is not None]
    return float(np.mean(numbers)) if numbers else None


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
) -> RunResult:
    """Train ``config`` into the run folder ``out_dir`` and evaluate the best model.

    Args:
        config: the run's :class:`TrainConfig`.
        out_dir: the run folder (created when missing).
        resume: continue an unfinished run of the same config in ``out_dir`` from its
            last completed epoch.
        overwrite: remove a finished (or other) run in ``out_dir`` first.
        verbose: Keras ``fit`` verbosity (``"auto"``, 0, 1 = progress bar, 2 = one line
            per epoch).
        split: a ready :class:`~adiencekit.data.Split` to use instead of loading
            ``config.data`` (cross-validation passes each fold's split).
        callbacks: extra Keras callbacks, run after the library's own.
        strategy: an existing ``tf.distribute.Strategy`` (e.g. multi-worker).

    Returns:
        The :class:`RunResult`.

    Raises:
        RunExistsError: when ``out_dir`` holds a finished run and ``overwrite`` is false.
        FileNotFoundError: when the dataset is missing.
        ValueError: for invalid settings (unknown model, crop larger than image, ...).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    run_dir = Path(out_dir)
    crop = crop_size_for(config)
    # Data problems surface before the run folder is touched.
    if split is None:
        split = load_split(config)
    for subset in ("train", "val", "test"):
        if len(getattr(split, subset)) == 0:
            raise ValueError(f"the {subset} set of this split is empty; use more data or another val_fraction")
    resumed_from = prepare_run_dir(config, run_dir, resume=resume, overwrite=overwrite)

    setup: DeviceSetup = setup_devices(config, strategy=strategy)
    global_batch = setup.global_batch_size(config.batch_size)
    pipeline_args = {"image_size": config.image_size, "crop_size": crop, "batch_size": global_batch}
    train_ds = split.train.pipeline(
        training=True, seed=config.seed, cache=config.cache, rotation=config.rotation, flip=config.flip,
        **pipeline_args,
    )
    if config.steps_per_epoch is not None:
        # Capped epochs continue where the previous one stopped instead of running dry.
        train_ds = train_ds.repeat()
    val_ds = split.val.pipeline(training=False, cache=config.cache, **pipeline_args)
    steps = config.steps_per_epoch or max(1, math.ceil(len(split.train) / global_batch))

    keras.utils.set_random_seed(config.seed)
    with setup.scope():
        model = _create_model(config, crop)
        learning_rate = setup.learning_rate(config.learning_rate, config.scale_lr_with_replicas)
        compile_model(model, config, build_optimizer(config, steps, learning_rate), setup.jit_compile)

        backup_dir = run_dir / "backup"
        best_path = run_dir / "best.weights.h5"
        own: list[keras.callbacks.Callback] = [
            ThroughputLogger(global_batch, None if config.steps_per_epoch else len(split.train)),
            HistoryRecorder(run_dir / "history.json", run_dir / "history.csv"),
            AtomicBestCheckpoint(best_path, monitor="val_loss", mode="min"),
        ]
        if config.early_stopping_patience is not None:
            own.append(
                ResumableEarlyStopping(
                    backup_dir / "early_stopping.json", monitor="val_loss",
                    patience=config.early_stopping_patience, verbose=1 if verbose else 0,
                )
            )
        # Last of ours: when the backup says an epoch is done, everything above is written.
        own.append(keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True, delete_checkpoint=False))
        if verbose:
            state = f"resuming after epoch {resumed_from}" if resumed_from else "new run"
            print(f"adiencekit: training {config.model} ({config.task}) in {run_dir} [{state}]; "
                  f"devices: {setup.describe()}")
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            validation_steps=config.validation_steps,
            callbacks=[*own, *callbacks],
            verbose=verbose,
            shuffle=False,  # the training pipeline shuffles itself (seeded)
        )
        if best_path.is_file():
            model.load_weights(best_path)
        atomic_save_model(model, run_dir / "best.keras")
        evaluation = evaluate(
            model, split.test, config.task, batch_size=global_batch, image_size=config.image_size,
            steps=config.test_steps,
        )
        test_ds = split.test.pipeline(training=False, **pipeline_args)
        samples = _sample_predictions(model, test_ds, config.task)

    history = HistoryRecorder.load(run_dir / "history.json")
    best_epoch = _best_epoch(history)
    _write_plots(run_dir, history, evaluation, samples)
    metrics = {
        "test": evaluation.as_dict(),
        "best_epoch": best_epoch,
        "epochs_completed": len(history),
        "resumed_from_epoch": resumed_from,
        "images_per_second": _mean([row.get("images_per_second") for row in history]),
        "sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "test_fold": getattr(split, "test_fold", None),
        "devices": setup.describe(),
        "crop_size": crop,
        "global_batch_size": global_batch,
    }
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    shutil.rmtree(backup_dir, ignore_errors=True)
    if verbose:
        print(f"adiencekit: run finished in {run_dir}\n{evaluation.to_markdown()}")
    return RunResult(run_dir, config, history, evaluation, metrics, best_epoch, resumed_from, model)
