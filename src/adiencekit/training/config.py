"""``TrainConfig``: everything that defines a training run, saved as JSON in its folder.

Example:

>>> from adiencekit.training import TrainConfig
>>> config = TrainConfig(task="age", epochs=2, batch_size=8, crop_size=32)
>>> config.replace(epochs=5).epochs
5
>>> TrainConfig.from_json(config.to_json()) == config
True
>>> TrainConfig(task="race")
Traceback (most recent call last):
...
ValueError: TrainConfig.task must be one of ('gender', 'age', 'multitask'), got 'race'
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("gender", "age", "multitask")
FACES = ("aligned", "faces")
AGE_POLICIES = ("drop", "map")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LR_SCHEDULES = ("constant", "step", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
DISTRIBUTIONS = ("auto", "none", "mirrored", "data_parallel")

#: Dataset specs that are not a folder: the embedded synthetic set.
SYNTHETIC = "synthetic"
#: Prefix of a UTKFace dataset spec, ``"utkface:/path/to/utkface"``.
UTKFACE_PREFIX = "utkface:"


def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {value!r}")


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(f"TrainConfig.{name} must be {allowed}, got {value!r}")


def _number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"TrainConfig.{name} must be a number in {bracket}{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run: data, model, optimisation, devices.

    Defaults follow the reference report: early stopping on ``val_loss`` with patience 10
    and the best ``val_loss`` weights kept.

    Args:
        model: a name from :func:`adiencekit.models.list_models`.
        model_kwargs: extra keyword arguments for the model builder (e.g. ``conv_layers``).
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        data: ``"synthetic"`` (the embedded set), a path to an Adience root, or
            ``"utkface:PATH"``.
        faces: Adience image folder, ``"aligned"`` or ``"faces"``.
        age_policy: stray age labels, ``"drop"`` or ``"map"``.
        test_fold: Adience fold (0-4) held out as the test set.
        val_fraction: share of the training *users* kept for validation.
        test_fraction: share held out as test set where there are no folds (UTKFace).
        image_size: images are resized to this square size before cropping.
        crop_size: square crop fed to the model; ``None`` uses the model's native size.
        batch_size: per-replica batch size.
        optimizer: ``"sgd"``, ``"adam"``, ``"adamw"`` or ``"rmsprop"``.
        learning_rate: base learning rate.
        momentum: SGD / RMSprop momentum.
        weight_decay: weight decay (Keras' decoupled form; 0 disables it).
        lr_schedule: ``"constant"``, ``"step"`` (multiply by ``lr_step_factor`` after
            ``lr_step_iterations`` iterations, as Levi & Hassner) or ``"cosine"``.
        lr_step_iterations: iterations before the step decay.
        lr_step_factor: factor of the step decay.
        scale_lr_with_replicas: multiply the learning rate by the number of replicas.
        epochs: maximum number of epochs.
        early_stopping_patience: epochs without ``val_loss`` improvement before stopping;
            ``None`` disables early stopping.
        flip: random horizontal flips during training.
        rotation: maximum random rotation in degrees during training (0 disables it).
        cache: cache decoded images in memory.
        seed: seed for splits, initialisation and augmentation.
        precision: ``"auto"`` (bfloat16 on recent GPUs/TPUs, float16 on older GPUs,
            float32 on CPU), ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
        jit_compile: ``"auto"`` (XLA on accelerators) or a bool.
        distribution: ``"auto"``, ``"none"``, ``"mirrored"`` (TensorFlow) or
            ``"data_parallel"`` (JAX).
        steps_per_epoch: cap on training batches per epoch (quick runs).
        validation_steps: cap on validation batches.
        test_steps: cap on test batches in the final evaluation.
    """

    model: str = "scratch_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str = "gender"
    data: str = SYNTHETIC
    faces: str = "aligned"
    age_policy: str = "drop"
    test_fold: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    image_size: int = 256
    crop_size: int | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    lr_step_iterations: int = 10_000
    lr_step_factor: float = 0.1
    scale_lr_with_replicas: bool = False
    epochs: int = 30
    early_stopping_patience: int | None = 10
    flip: bool = True
    rotation: float = 0.0
    cache: bool = False
    seed: int = 0
    precision: str = "auto"
    jit_compile: str | bool = "auto"
    distribution: str = "auto"
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    test_steps: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"TrainConfig.model must be a model name, got {self.model!r}")
        if not isinstance(self.model_kwargs, dict):
            raise ValueError(f"TrainConfig.model_kwargs must be a dict, got {type(self.model_kwargs).__name__}")
        for reserved in ("task", "name"):
            if reserved in self.model_kwargs:
                raise ValueError(
                    f"TrainConfig.model_kwargs must not set {reserved!r}; use TrainConfig.{reserved} instead"
                    if reserved == "task"
                    else f"TrainConfig.model_kwargs must not set {reserved!r}"
                )
        _choice("task", self.task, TASKS)
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(
                f"TrainConfig.data must be 'synthetic', a path to an Adience root or 'utkface:PATH', got {self.data!r}"
            )
        if self.data.startswith(UTKFACE_PREFIX) and not self.data[len(UTKFACE_PREFIX):]:
            raise ValueError("TrainConfig.data 'utkface:' needs a path, e.g. 'utkface:/data/utkface'")
        _choice("faces", self.faces, FACES)
        _choice("age_policy", self.age_policy, AGE_POLICIES)
        if isinstance(self.test_fold, bool) or self.test_fold not in range(5):
            raise ValueError(f"TrainConfig.test_fold must be an Adience fold 0-4, got {self.test_fold!r}")
        _number("val_fraction", self.val_fraction, 0.0, 0.9, low_open=True)
        _number("test_fraction", self.test_fraction, 0.0, 0.9, low_open=True)
        _positive_int("image_size", self.image_size)
        _positive_int("crop_size", self.crop_size, allow_none=True)
        if self.crop_size is not None and self.crop_size > self.image_size:
            raise ValueError(
                f"TrainConfig.crop_size ({self.crop_size}) must not exceed image_size ({self.image_size})"
            )
        _positive_int("batch_size", self.batch_size)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _number("learning_rate", self.learning_rate, 0.0, 10.0, low_open=True)
        _number("momentum", self.momentum, 0.0, 1.0)
        _number("weight_decay", self.weight_decay, 0.0, 1.0)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _positive_int("lr_step_iterations", self.lr_step_iterations)
        _number("lr_step_factor", self.lr_step_factor, 0.0, 1.0, low_open=True)
        if not isinstance(self.scale_lr_with_replicas, bool):
            raise ValueError(
                f"TrainConfig.scale_lr_with_replicas must be a bool, got {self.scale_lr_with_replicas!r}"
            )
        _positive_int("epochs", self.epochs)
        _positive_int("early_stopping_patience", self.early_stopping_patience, allow_none=True)
        if not isinstance(self.flip, bool):
            raise ValueError(f"TrainConfig.flip must be a bool, got {self.flip!r}")
        _number("rotation", self.rotation, 0.0, 180.0)
        if not isinstance(self.cache, bool):
            raise ValueError(f"TrainConfig.cache must be a bool, got {self.cache!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative integer, got {self.seed!r}")
        _choice("precision", self.precision, PRECISIONS)
        if self.jit_compile != "auto" and not isinstance(self.jit_compile, bool):
            raise ValueError(f"TrainConfig.jit_compile must be 'auto', True or False, got {self.jit_compile!r}")
        _choice("distribution", self.distribution, DISTRIBUTIONS)
        _positive_int("steps_per_epoch", self.steps_per_epoch, allow_none=True)
        _positive_int("validation_steps", self.validation_steps, allow_none=True)
        _positive_int("test_steps", self.test_steps, allow_none=True)

    # -- dataset spec ---------------------------------------------------------------
    @property
    def dataset_kind(self) -> str:
        """``"synthetic"``, ``"utkface"`` or ``"adience"``, from :attr:`data`."""
        if self.data == SYNTHETIC:
            return "synthetic"
        if self.data.startswith(UTKFACE_PREFIX):
            return "utkface"
        return "adience"

    @property
    def dataset_path(self) -> Path | None:
        """The dataset folder, or ``None`` for the synthetic set."""
        kind = self.dataset_kind
        if kind == "synthetic":
            return None
        if kind == "utkface":
            return Path(self.data[len(UTKFACE_PREFIX):]).expanduser()
        return Path(self.data).expanduser()

    # -- (de)serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build a config from a dict, rejecting unknown keys by name.

        Args:
            values: field names to values (as written by :meth:`to_dict`).

        Returns:
            The validated config.

        Raises:
            ValueError: for unknown keys or invalid values.
        """
        if not isinstance(values, dict):
            raise ValueError(f"a TrainConfig must be a JSON object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; allowed: {sorted(known)}")
        return cls(**values)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialise to JSON; also write it (atomically) to ``path`` when given.

        Args:
            path: optional file to write.

        Returns:
            The JSON text.
        """
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            target = Path(path)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> TrainConfig:
        """Read a config from a JSON file or a JSON string.

        Args:
            source: a path to a ``.json`` file, or JSON text (starting with ``{``).

        Returns:
            The validated config.

        Raises:
            FileNotFoundError: when the file does not exist.
            ValueError: when the JSON is malformed or holds invalid values.
        """
        if isinstance(source, str) and source.lstrip().startswith("{"):
            text, origin = source, "JSON text"
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"config file not found: {path}")
            text, origin = path.read_text(encoding="utf-8"), str(path)
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"cannot parse TrainConfig from {origin}: {error}") from None
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again).

        Args:
            **changes: field names to new values.

        Returns:
            The new config.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; allowed: {sorted(known)}")
        return dataclasses.replace(self, **changes)
