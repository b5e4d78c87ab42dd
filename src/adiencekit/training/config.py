"""``TrainConfig``: everything that defines a training run, saved as JSON in its folder.

Checked in two steps, both before a run folder is written:

* on construction (cheap, no Keras import): every field's type and range, and the
  dataset-dependent fields against the dataset that ``data`` names;
* :meth:`TrainConfig.validate` (imports the model registry): the model name,
  ``model_kwargs`` against the builder's signature, and the crop size against the
  model's native input size. Training calls it first.

Dataset-dependent fields record what the run uses. Left unset (``None``), they take the
dataset's native value (:func:`adiencekit.data.dataset_defaults`): Adience (and the
synthetic set) ``faces="aligned"``, ``age_policy="drop"``, ``test_fold=0``,
``image_size=256``, ``test_fraction=None``; UTKFace ``faces=None``, ``age_policy=None``,
``test_fold=None`` (it has no folds), ``image_size=200`` (its native size),
``test_fraction=0.2``. A value that does not apply to the dataset (a ``test_fold`` for
UTKFace, a ``test_fraction`` for Adience) is a :class:`~adiencekit.errors.ConfigError`.

Example:

>>> from adiencekit.training import TrainConfig
>>> config = TrainConfig(task="age", epochs=2, batch_size=8, crop_size=32)
>>> config.replace(epochs=5).epochs
5
>>> TrainConfig.from_json(config.to_json()) == config
True
>>> utk = config.replace(data="utkface:/data/utkface")
>>> utk.faces, utk.test_fold, utk.image_size, utk.test_fraction
(None, None, 200, 0.2)
>>> TrainConfig(task="race")
Traceback (most recent call last):
...
adiencekit.errors.ConfigError: TrainConfig.task must be one of ('gender', 'age', 'multitask'), got 'race'
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adiencekit.data.balance import BALANCE_MODES
from adiencekit.data.datasets import SYNTHETIC, UTKFACE_PREFIX, dataset_defaults, parse_dataset_spec
from adiencekit.errors import ConfigError, DatasetNotFoundError
from adiencekit.data.folds import FACE_LAYOUTS
from adiencekit.labels import AGE_POLICIES, NUM_FOLDS, TASKS

__all__ = [
    "AUGMENTATIONS", "AUGMENT_PLACES", "DATASET_FIELDS", "FIELD_GROUPS", "SYNTHETIC", "UTKFACE_PREFIX", "TrainConfig",
]

FACES: tuple[str, ...] = tuple(FACE_LAYOUTS)
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LR_SCHEDULES = ("constant", "step", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
DISTRIBUTIONS = ("auto", "none", "mirrored", "data_parallel")
#: ``"standard"``: crops, flips, rotation; ``"strong"``: also :class:`~adiencekit.layers.PhotoAugmentation`;
#: ``"photo"``: ``"strong"`` plus :class:`~adiencekit.layers.PhotoDegradation`.
AUGMENTATIONS = ("standard", "strong", "photo")
#: ``TrainConfig.balance``: ``None`` or a mode of :data:`adiencekit.data.balance.BALANCE_MODES`.
BALANCE_CHOICES: tuple[str | None, ...] = (None, *BALANCE_MODES)
#: Input pipeline engines: ``"auto"`` (``tf.data`` when TensorFlow is installed, else Grain), ``"tf"``, ``"grain"``.
INPUT_FORMATS = ("auto", "tf", "grain")
#: Where training's random crop, flip and rotation run: ``"host"`` (the input pipeline, on
#: the CPU) or ``"device"`` (a :class:`~adiencekit.layers.FaceAugmentation` layer in front of
#: the model during ``fit``, on the accelerator; the pipeline then only batches cached images).
AUGMENT_PLACES = ("host", "device")

#: Fields whose unset value (``None``) is the dataset's native one.
DATASET_FIELDS: tuple[str, ...] = ("faces", "age_policy", "test_fold", "test_fraction", "image_size")

#: The fields of a TrainConfig by concern (the JSON file stays flat; see :meth:`TrainConfig.grouped`).
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "data": ("task", "data", "folds_dir", "faces", "age_policy", "test_fold", "val_fraction", "test_fraction", "split_seed",
             "image_size", "crop_size", "flip", "rotation", "augment", "augment_on", "balance",
             "cache"),
    "model": ("model", "model_kwargs"),
    "optimisation": ("batch_size", "optimizer", "learning_rate", "momentum", "weight_decay", "lr_schedule",
                     "lr_step_iterations", "lr_step_factor", "scale_lr_with_replicas", "epochs",
                     "early_stopping_patience", "label_smoothing", "age_neighbour_smoothing", "age_ordinal_weight",
                     "gender_loss_weight",
                     "seed"),
    "runtime": ("precision", "jit_compile", "distribution", "input_format", "steps_per_epoch", "validation_steps",
                "test_steps"),
}

#: Builder arguments that TrainConfig sets itself.
_RESERVED_MODEL_KWARGS = ("task", "name")


def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"TrainConfig.{name} must be one of {allowed}, got {value!r}")


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive integer" + (" or None" if allow_none else "")
        raise ConfigError(f"TrainConfig.{name} must be {allowed}, got {value!r}")


def _number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"TrainConfig.{name} must be a number in {bracket}{low}, {high}], got {value!r}")


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
            ``"utkface:PATH"`` (``~`` is expanded).
        folds_dir: the folder of the Adience fold files when they are not in the
            ``data`` root (``~`` is expanded); ``None`` for UTKFace and the synthetic set.
        faces: Adience image folder, ``"aligned"`` (default) or ``"faces"``; ``None``
            for UTKFace.
        age_policy: Adience stray age labels, ``"drop"`` (default) or ``"map"``;
            ``None`` for UTKFace (exact ages).
        test_fold: Adience fold (0-4, default 0) held out as the test set; ``None`` for
            UTKFace.
        val_fraction: share of the training *users* kept for validation.
        test_fraction: share held out as test set where there are no folds (UTKFace,
            default 0.2); ``None`` for Adience.
        image_size: images are resized to this square size before cropping; unset, the
            dataset's native size (Adience 256, UTKFace 200).
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
        augment: ``"standard"`` (random crops, ``flip`` and ``rotation`` only) or
            ``"strong"``: also :class:`~adiencekit.layers.PhotoAugmentation` with its
            defaults (random zoom in and out, shift, colour, blur and grey per image) on
            the training batches, seeded from ``seed``; never on validation or test data.
            ``"photo"``: ``"strong"`` followed by
            :class:`~adiencekit.layers.PhotoDegradation` with its defaults (down- and
            up-scaling, yaw warp, gamma, side light, noise, JPEG re-compression per image).
        augment_on: where the random crop, ``flip`` and ``rotation`` run. ``"host"``
            (default): in the input pipeline, on the CPU, overlapping the training step.
            ``"device"``: in the training step, by a seed-``seed``
            :class:`~adiencekit.layers.FaceAugmentation` in front of the model, on the
            accelerator; the pipeline then only shuffles and batches whole
            ``image_size`` images (no per-image work after the cache), which is what
            keeps a fast GPU fed by a few CPU cores. ``augment="strong"`` adds its
            :class:`~adiencekit.layers.PhotoAugmentation` behind the crop, also in the
            step; ``"photo"`` is refused (its JPEG re-compression runs on the host only).
            The saved model is the plain one (``crop_size`` input, no augmentation
            layer), exactly as with ``"host"``. On a CPU-only machine it moves the work
            into the step instead of beside it.
        label_smoothing: uniform label smoothing of every head's loss, in [0, 1).
        age_neighbour_smoothing: share of the age target moved to the adjacent age groups
            (the groups are ordered), in [0, 1); needs an age head. With
            ``label_smoothing`` it must sum to less than 1.
        age_ordinal_weight: weight of an ordinal term added to the age loss, in [0, 100]
            (0 = none): the squared Earth Mover's Distance between the predicted and
            target cumulative distributions over the ordered age groups, so that a far
            wrong group costs more than a neighbour (Hou et al., 2016); needs an age head.
        gender_loss_weight: weight of the gender head's loss against the age head's
            (weight 1) in a multitask model, in (0, 100]; must stay 1 for the one-head
            tasks. The best epoch (lowest ``val_loss``) is chosen on the weighted sum.
        balance: ``None`` (the default: each training face once per epoch) or
            ``"age_group"``: group-balanced sampling on the ``tf.data`` pipeline, each
            epoch as many faces (so as many steps) as the training set, faces of rare age
            groups drawn more often (rate ``min(4, n_largest / n_group)``; see
            :mod:`adiencekit.data.balance`), seeded from ``seed``, a new draw each epoch.
        cache: cache decoded images in memory.
        seed: seed for splits, initialisation and augmentation.
        split_seed: seed of the train/validation/test split alone; ``None`` (the default)
            uses ``seed``. Set it to train several models on one split with different
            ``seed`` values (the members of an ensemble).
        precision: ``"auto"`` (bfloat16 on recent GPUs/TPUs, float16 on older GPUs,
            float32 on CPU), ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
        jit_compile: ``"auto"`` (XLA on accelerators) or a bool.
        distribution: ``"auto"``, ``"none"``, ``"mirrored"`` (TensorFlow) or
            ``"data_parallel"`` (JAX).
        input_format: the input pipeline's engine, Keras's ``format``: ``"tf"``
            (``tf.data``), ``"grain"`` (Grain, no TensorFlow needed) or ``"auto"`` (the
            default): ``"tf"`` when TensorFlow is installed, else ``"grain"`` (with a
            one-line notice). Both give the same images and labels; a seed gives each
            engine its own reproducible order and crops.
        steps_per_epoch: cap on training batches per epoch (quick runs).
        validation_steps: cap on validation batches.
        test_steps: cap on test batches in the final evaluation.
    """

    model: str = "scratch_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str = "gender"
    data: str = SYNTHETIC
    folds_dir: str | None = None
    faces: str | None = None
    age_policy: str | None = None
    test_fold: int | None = None
    val_fraction: float = 0.1
    test_fraction: float | None = None
    image_size: int | None = None
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
    augment: str = "standard"
    augment_on: str = "host"
    balance: str | None = None
    label_smoothing: float = 0.0
    age_neighbour_smoothing: float = 0.0
    age_ordinal_weight: float = 0.0
    gender_loss_weight: float = 1.0
    cache: bool = False
    seed: int = 0
    split_seed: int | None = None
    precision: str = "auto"
    jit_compile: str | bool = "auto"
    distribution: str = "auto"
    input_format: str = "auto"
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    test_steps: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"TrainConfig.model must be a model name, got {self.model!r}")
        if not isinstance(self.model_kwargs, dict):
            raise ConfigError(f"TrainConfig.model_kwargs must be a dict, got {type(self.model_kwargs).__name__}")
        for reserved in _RESERVED_MODEL_KWARGS:
            if reserved in self.model_kwargs:
                raise ConfigError(
                    f"TrainConfig.model_kwargs must not set {reserved!r}; use TrainConfig.{reserved} instead"
                    if reserved == "task"
                    else f"TrainConfig.model_kwargs must not set {reserved!r}"
                )
        _choice("task", self.task, TASKS)
        if not isinstance(self.data, str) or not self.data:
            raise ConfigError(
                f"TrainConfig.data must be 'synthetic', a path to an Adience root or 'utkface:PATH', got {self.data!r}"
            )
        if self.data.startswith(UTKFACE_PREFIX) and not self.data[len(UTKFACE_PREFIX):].strip():
            raise ConfigError("TrainConfig.data 'utkface:' needs a path, e.g. 'utkface:/data/utkface'")
        self._resolve_dataset_fields()
        if self.folds_dir is not None:
            if not isinstance(self.folds_dir, str) or not self.folds_dir.strip():
                raise ConfigError(f"TrainConfig.folds_dir must be a folder path or None, got {self.folds_dir!r}")
            if self.dataset_kind != "adience":
                raise ConfigError(
                    f"TrainConfig.folds_dir does not apply to {self.dataset_kind} data ({self.data}): only an "
                    "Adience root can take its fold files from another folder; leave folds_dir unset (None)"
                )
        _number("val_fraction", self.val_fraction, 0.0, 0.9, low_open=True)
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
        _choice("augment", self.augment, AUGMENTATIONS)
        _choice("augment_on", self.augment_on, AUGMENT_PLACES)
        if self.augment_on == "device" and self.augment == "photo":
            raise ConfigError(
                "TrainConfig.augment_on='device' moves the augmentation into the model, but augment='photo' "
                "re-compresses JPEGs, which only the host can do (use augment 'standard' or 'strong' on the "
                "device, or augment_on 'host')"
            )
        _choice("balance", self.balance, BALANCE_CHOICES)
        if self.balance is not None and self.input_format == "grain":
            raise ConfigError(
                f"TrainConfig.balance={self.balance!r} needs the tf.data pipeline; the Grain pipeline has no "
                "balanced sampling yet (use input_format 'tf' or 'auto', or leave balance unset)"
            )
        for name in ("label_smoothing", "age_neighbour_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"TrainConfig.{name} must be a number in [0, 1), got {value!r}")
        if self.label_smoothing + self.age_neighbour_smoothing >= 1.0:
            raise ConfigError(
                f"TrainConfig.label_smoothing ({self.label_smoothing}) + age_neighbour_smoothing "
                f"({self.age_neighbour_smoothing}) must be less than 1 (the true age group keeps the rest)"
            )
        _number("age_ordinal_weight", self.age_ordinal_weight, 0, 100)
        for name in ("age_neighbour_smoothing", "age_ordinal_weight"):
            if getattr(self, name) and self.task == "gender":
                raise ConfigError(
                    f"TrainConfig.{name}={getattr(self, name)} needs an age head; "
                    "task 'gender' has none (leave it 0 or use task 'age' or 'multitask')"
                )
        weight = self.gender_loss_weight
        _number("gender_loss_weight", weight, 0, 100, low_open=True)
        if weight != 1.0 and self.task != "multitask":
            raise ConfigError(
                f"TrainConfig.gender_loss_weight={weight} weighs the gender head against the age head; "
                f"task {self.task!r} has one head (leave it 1 or use task 'multitask')"
            )
        if not isinstance(self.cache, bool):
            raise ValueError(f"TrainConfig.cache must be a bool, got {self.cache!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative integer, got {self.seed!r}")
        if self.split_seed is not None and (isinstance(self.split_seed, bool) or not isinstance(self.split_seed, int)
                                            or self.split_seed < 0):
            raise ValueError(f"TrainConfig.split_seed must be None or a non-negative integer, got {self.split_seed!r}")
        _choice("precision", self.precision, PRECISIONS)
        _choice("input_format", self.input_format, INPUT_FORMATS)
        if self.jit_compile != "auto" and not isinstance(self.jit_compile, bool):
            raise ValueError(f"TrainConfig.jit_compile must be 'auto', True or False, got {self.jit_compile!r}")
        _choice("distribution", self.distribution, DISTRIBUTIONS)
        _positive_int("steps_per_epoch", self.steps_per_epoch, allow_none=True)
        _positive_int("validation_steps", self.validation_steps, allow_none=True)
        _positive_int("test_steps", self.test_steps, allow_none=True)

    def _resolve_dataset_fields(self) -> None:
        """Fill unset dataset fields with the dataset's native values; refuse the ones that do not apply."""
        kind = self.dataset_kind
        native = dataset_defaults(self.data)
        unset = []
        for name in DATASET_FIELDS:
            value = getattr(self, name)
            if value is None:
                unset.append(name)
                object.__setattr__(self, name, native[name])
            elif native[name] is None:
                raise ConfigError(
                    f"TrainConfig.{name}={value!r} does not apply to {kind} data ({self.data}): "
                    + _NOT_APPLICABLE[(kind, name)]
                )
        if self.faces is not None:
            _choice("faces", self.faces, FACES)
        if self.age_policy is not None:
            _choice("age_policy", self.age_policy, AGE_POLICIES)
        if self.test_fold is not None and (isinstance(self.test_fold, bool) or self.test_fold not in range(NUM_FOLDS)):
            raise ConfigError(f"TrainConfig.test_fold must be an Adience fold 0-4, got {self.test_fold!r}")
        if self.test_fraction is not None:
            _number("test_fraction", self.test_fraction, 0.0, 0.9, low_open=True)
        # Not a field: which dataset fields took the dataset's value (replace() re-resolves them).
        object.__setattr__(self, "_unset", frozenset(unset))

    # -- dataset spec ---------------------------------------------------------------
    @property
    def dataset_kind(self) -> str:
        """``"synthetic"``, ``"utkface"`` or ``"adience"``, from :attr:`data`."""
        return parse_dataset_spec(self.data)[0]

    @property
    def dataset_path(self) -> Path | None:
        """The dataset folder (``~`` expanded), or ``None`` for the synthetic set."""
        return parse_dataset_spec(self.data)[1]

    # -- full validation (imports the model registry) ----------------------------------
    def validate(self, *, check_data: bool = True) -> TrainConfig:
        """Check what construction cannot without importing Keras; training calls this first.

        Checks the model name, every ``model_kwargs`` key against the registered builder's
        signature (``inspect.signature``), the crop size against the model's native input
        size, and (``check_data``) that the dataset folder exists.

        Args:
            check_data: also check that the dataset folder exists.

        Returns:
            ``self``, so that ``config = TrainConfig(...).validate()`` works.

        Raises:
            ConfigError: naming the bad model, key or size and what is allowed.
            DatasetNotFoundError: when ``data`` names a folder that does not exist.

        Example:

        >>> from adiencekit.training import TrainConfig
        >>> TrainConfig(model="scratch_cnn", model_kwargs={"conv_layer": 4}).validate()
        Traceback (most recent call last):
        ...
        adiencekit.errors.ConfigError: TrainConfig.model_kwargs: model 'scratch_cnn' does not take ['conv_layer'] (did you mean 'conv_layers'?); it takes ['base_filters', 'batch_norm', 'classes', 'classifier_activation', 'conv_layers', 'dense_units', 'dropout', 'include_top', 'input_shape', 'pooling', 'weights']
        """
        parameters = _builder_parameters(self.model)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        allowed = sorted(
            name for name, p in parameters.items()
            if name not in _RESERVED_MODEL_KWARGS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )
        unknown = sorted(set(self.model_kwargs) - set(allowed))
        if unknown and not takes_any:
            hints = [difflib.get_close_matches(key, allowed, n=1) for key in unknown]
            hint = "; ".join(f"did you mean {match[0]!r}?" for match in hints if match)
            raise ConfigError(
                f"TrainConfig.model_kwargs: model {self.model!r} does not take {unknown}"
                f"{f' ({hint})' if hint else ''}; it takes {allowed}"
            )
        self.resolved_crop_size()
        if check_data and self.folds_dir is not None and not Path(self.folds_dir).expanduser().is_dir():
            raise DatasetNotFoundError(
                f"TrainConfig.folds_dir names {Path(self.folds_dir).expanduser()}, which is not a folder; "
                "it must hold fold_0_data.txt ... fold_4_data.txt"
            )
        if check_data and self.dataset_kind != "synthetic":
            from adiencekit.data.utkface import utkface_roots

            path = self.dataset_path
            assert path is not None
            for root in utkface_roots(path) if self.dataset_kind == "utkface" else [path]:
                if not root.is_dir():
                    raise DatasetNotFoundError(
                        f"TrainConfig.data names {root}, which is not a folder; pass an Adience root (fold files + "
                        "aligned/ or faces/), 'utkface:PATH' or 'utkface:PATH1,PATH2' (folders with images/) or "
                        "'synthetic'"
                    )
        return self

    def resolved_split_seed(self) -> int:
        """The seed of the train/validation/test split: :attr:`split_seed`, or :attr:`seed`.

        Example:

        >>> TrainConfig(seed=1).resolved_split_seed(), TrainConfig(seed=1, split_seed=0).resolved_split_seed()
        (1, 0)
        """
        return self.seed if self.split_seed is None else self.split_seed

    def resolved_crop_size(self) -> int:
        """The crop fed to the model: :attr:`crop_size`, or the model's native input size.

        On UTKFace (fixed 200 px crops), with ``crop_size`` and ``image_size`` both unset
        and a model whose native input is larger (the scratch CNN's 256), the crop is the
        whole 200 px image: the images are not scaled up.

        Raises:
            ConfigError: when the model has no native size and ``crop_size`` is unset, or
                its native size exceeds an ``image_size`` that was set explicitly.

        Example:

        >>> from adiencekit.training import TrainConfig
        >>> TrainConfig(model="levi_hassner").resolved_crop_size()
        227
        >>> TrainConfig(data="utkface:/data/utk").resolved_crop_size()
        200
        """
        if self.crop_size is not None:
            return self.crop_size
        shape = self.model_kwargs.get("input_shape")
        if shape is None:
            parameter = _builder_parameters(self.model).get("input_shape")
            shape = None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default
        if not shape or shape[0] is None:
            raise ConfigError(f"model {self.model!r} has no native input size; set TrainConfig.crop_size")
        if self.image_size < shape[0] and self.dataset_kind == "utkface" and "image_size" in getattr(self, "_unset", ()):
            return int(self.image_size)
        if self.image_size < shape[0]:
            raise ConfigError(
                f"model {self.model!r} takes {shape[0]} px crops but TrainConfig.image_size is {self.image_size}; "
                "raise image_size or set crop_size"
            )
        return int(shape[0])

    # -- (de)serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    def grouped(self) -> dict[str, dict[str, Any]]:
        """The fields by concern (:data:`FIELD_GROUPS`): data, model, optimisation, runtime.

        Example:

        >>> from adiencekit.training import TrainConfig
        >>> sorted(TrainConfig().grouped()), TrainConfig().grouped()["model"]
        (['data', 'model', 'optimisation', 'runtime'], {'model': 'scratch_cnn', 'model_kwargs': {}})
        """
        values = self.to_dict()
        return {group: {name: values[name] for name in names} for group, names in FIELD_GROUPS.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build a config from a dict, rejecting unknown keys by name.

        Args:
            values: field names to values (as written by :meth:`to_dict`).

        Returns:
            The validated config.

        Raises:
            ConfigError: for unknown keys or invalid values.

        Files written before dataset-dependent fields could be unset recorded Adience's
        values for every dataset (``faces: "aligned"``, ``test_fold: 0`` for UTKFace;
        ``test_fraction: 0.2`` for Adience); those never-used values are read as unset.
        """
        if not isinstance(values, dict):
            raise ConfigError(f"a TrainConfig must be a JSON object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown TrainConfig field(s) {unknown}; allowed: {sorted(known)}")
        values = dict(values)
        data = values.get("data", SYNTHETIC)
        kind = parse_dataset_spec(data)[0] if isinstance(data, str) and data.strip() else None
        for (legacy_kind, name), legacy in _LEGACY_VALUES.items():
            if kind == legacy_kind and name in values and (legacy is None or values[name] in legacy):
                values[name] = None
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
            from adiencekit.fileio import atomic_write_text

            atomic_write_text(Path(path).expanduser(), text)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> TrainConfig:
        """Read a config from a JSON file or a JSON string.

        Args:
            source: a path to a ``.json`` file, or JSON text (starting with ``{``).

        Returns:
            The validated config.

        Raises:
            DatasetNotFoundError: (a ``FileNotFoundError``) when the file does not exist.
            ConfigError: when the JSON is malformed or holds invalid values.
        """
        if isinstance(source, str) and source.lstrip().startswith("{"):
            text, origin = source, "JSON text"
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise DatasetNotFoundError(f"config file not found: {path}")
            try:
                text, origin = path.read_text(encoding="utf-8"), str(path)
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError(f"cannot read TrainConfig from {path}: {error}") from None
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"cannot parse TrainConfig from {origin}: {error}") from None
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again).

        When ``data`` changes, the dataset fields (see :data:`DATASET_FIELDS`) that were
        left unset (so hold the old dataset's native value) and are not in ``changes``
        take the new dataset's native value; fields set explicitly are kept.

        Args:
            **changes: field names to new values.

        Returns:
            The new config.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown TrainConfig field(s) {unknown}; allowed: {sorted(known)}")
        if changes.get("data", self.data) != self.data:
            for name in getattr(self, "_unset", ()):
                changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)


_NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("utkface", "faces"): "UTKFace has one image folder (images/); leave faces unset (None)",
    ("utkface", "age_policy"): "UTKFace has exact ages; leave age_policy unset (None)",
    ("utkface", "test_fold"): "UTKFace has no folds; leave test_fold unset and set test_fraction instead",
    ("adience", "test_fraction"): "the Adience test set is a whole fold; leave test_fraction unset and set test_fold",
    ("synthetic", "test_fraction"): "the synthetic set has Adience folds; leave test_fraction unset and set test_fold",
}

#: Values that files written before unset dataset fields recorded without using them
#: (``None``: any value; Adience runs never used ``test_fraction``).
_LEGACY_VALUES: dict[tuple[str, str], tuple[Any, ...] | None] = {
    ("utkface", "faces"): ("aligned", "faces"),
    ("utkface", "age_policy"): ("drop", "map"),
    ("utkface", "test_fold"): (0,),
    ("adience", "test_fraction"): None,
    ("synthetic", "test_fraction"): None,
}


def _builder_parameters(model: str) -> dict[str, inspect.Parameter]:
    """The parameters of the registered builder of ``model`` (imports the model zoo)."""
    from adiencekit.models import list_models
    from adiencekit.models.registry import _get_builder

    names = list_models()
    if model not in names:
        close = difflib.get_close_matches(model, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"TrainConfig.model: unknown model {model!r}{hint}; available models: {', '.join(names)}")
    return dict(inspect.signature(_get_builder(model)).parameters)
