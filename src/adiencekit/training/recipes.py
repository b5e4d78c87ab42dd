"""Named training recipes that reproduce the rows of the reference report.

Each recipe states only what differs from its base: another recipe, or
:data:`REPORT_BASE` (the settings the report's own models share), or the
:class:`~adiencekit.training.TrainConfig` defaults. The report gives architectures and
the Levi-Hassner optimiser; where it is silent (the optimiser of its own models) the
recipes use Adam at 1e-3 from scratch and 1e-4 for fine-tuning, which are the usual Keras
defaults for those cases. Every recipe keeps the report's early stopping on ``val_loss``
with patience 10 (the TrainConfig default). Dataset-dependent settings a recipe leaves
unset (``image_size``, ``test_fold``, ...) take the dataset's native values.

Example:

>>> from adiencekit.training import get_recipe, list_recipes
>>> from adiencekit.training.recipes import conv_depth_sweep, describe_recipe
>>> "levi_hassner" in list_recipes()
True
>>> config = get_recipe("levi_hassner", task="age")
>>> (config.batch_size, config.learning_rate, config.lr_step_iterations, config.crop_size)
(50, 0.001, 10000, 227)
>>> [c.model_kwargs["conv_layers"] for c in conv_depth_sweep()]
[3, 4, 5]
>>> describe_recipe("scratch_5conv")
{'base': 'scratch_3conv', 'changes': {'model_kwargs': {'conv_layers': 5}}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adiencekit.errors import ConfigError
from adiencekit.training.config import TrainConfig

__all__ = [
    "REPORT_BASE",
    "SWEEPS",
    "Recipe",
    "UnknownRecipeError",
    "conv_depth_sweep",
    "dense_units_sweep",
    "describe_recipe",
    "get_recipe",
    "list_recipes",
]

#: What the report's own models (Inception and the scratch CNNs) share, over the
#: TrainConfig defaults: 50 epochs and random rotations of up to 10 degrees.
REPORT_BASE: dict[str, Any] = {"epochs": 50, "rotation": 10.0}


class UnknownRecipeError(ConfigError, KeyError):
    """An unknown recipe name (a :class:`~adiencekit.errors.ConfigError` and a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Recipe:
    """A named recipe: its base and what it changes.

    Attributes:
        description: one line for listings.
        changes: the TrainConfig fields that differ from the base; ``model_kwargs`` are
            merged key by key into the base's.
        base: another recipe's name, ``"report"`` (:data:`REPORT_BASE`) or ``None``
            (the TrainConfig defaults).
        default_task: the task the report tuned the recipe for.
    """

    description: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    base: str | None = None
    default_task: str = "gender"


_RECIPES: dict[str, Recipe] = {
    # Levi & Hassner (CVPR-W 2015): SGD, batch 50, lr 1e-3 -> 1e-4 after 10k iterations,
    # momentum 0.9, weight decay 5e-4; random 227 crops of 256 images and mirrors. The
    # learning rate, momentum, step size/factor and flips are the TrainConfig defaults.
    "levi_hassner": Recipe(
        "Levi & Hassner 2015 CNN, SGD schedule of the paper, 227 crops of 256",
        {"model": "levi_hassner", "image_size": 256, "crop_size": 227, "batch_size": 50, "optimizer": "sgd",
         "weight_decay": 5e-4, "lr_schedule": "step", "epochs": 100},
    ),
    # Frozen Inception-v3 feature vector with a new softmax layer (4,098 trainable
    # parameters for gender).
    "inception_basic": Recipe(
        "frozen Inception-v3 features + softmax (report row 2)",
        {"model": "basic_inception", "image_size": 299, "crop_size": 299},
        base="report",
    ),
    # Fine-tuned Inception-v3 -> Dropout(0.2) -> Dense(128) -> Dropout(0.2) -> softmax.
    "inception_modified": Recipe(
        "fine-tuned Inception-v3 + Dense(128) (report's best row)",
        {"model": "modified_inception", "model_kwargs": {"dropout": 0.2, "dense_units": 128, "trainable_base": True},
         "learning_rate": 1e-4},
        base="inception_basic",
    ),
    "scratch_3conv": Recipe(
        "3-conv CNN from scratch, Dense(128), 256 px (report row 4)",
        {"model_kwargs": {"conv_layers": 3, "dense_units": 128}, "image_size": 256, "crop_size": 256},
        base="report",
    ),
    "scratch_5conv": Recipe(
        "5-conv CNN from scratch, Dense(128), 256 px (tuned gender)",
        {"model_kwargs": {"conv_layers": 5}},
        base="scratch_3conv",
    ),
    "scratch_5conv_age256": Recipe(
        "5-conv CNN from scratch, Dense(256), 256 px (tuned age)",
        {"model_kwargs": {"dense_units": 256}},
        base="scratch_5conv",
        default_task="age",
    ),
    # The synthetic default: a small scratch CNN (global average pooling keeps it from
    # memorising the few synthetic people) on 64 px crops, well above chance for gender
    # and age on a laptop CPU.
    "quick": Recipe(
        "small CNN on the synthetic set, 64 px crops",
        {"model_kwargs": {"conv_layers": 4, "base_filters": 16, "dense_units": 64, "pooling": "avg"},
         "image_size": 72, "crop_size": 64, "learning_rate": 2e-3, "epochs": 15,
         "early_stopping_patience": 6, "cache": True},
    ),
    # The first bundled pretrained model (preset "utkface_multitask", no longer bundled: an ensemble of this recipe
    # trained with --seed 0 and --seed 1 on one split): a compact ResNet on
    # aligned 112 px crops (adiencekit.inference.prepare.prepare_utkface), random 96 px
    # windows, strong photo augmentation (scale, shift, colour, blur, grey), age targets
    # that give 0.2 of their mass to the adjacent groups, cosine AdamW, bfloat16 mixed precision (AMX/AVX512-BF16 CPUs
    # and accelerators run it about 1.5x faster than float32; elsewhere use
    # --precision float32). 25-33 minutes per seed measured on a 2-core CPU (see the model card).
    "utkface_multitask": Recipe(
        "compact ResNet, gender + age, on aligned UTKFace crops (the first bundled model)",
        {"model": "face_resnet", "model_kwargs": {"width": 32, "blocks": [1, 1, 1, 1], "dropout": 0.3},
         "image_size": 112, "crop_size": 96, "batch_size": 64, "optimizer": "adamw", "learning_rate": 2e-3,
         "weight_decay": 0.05, "lr_schedule": "cosine", "epochs": 40, "early_stopping_patience": None,
         "rotation": 10.0, "augment": "strong", "age_neighbour_smoothing": 0.2, "cache": True,
         "precision": "mixed_bfloat16"},
        default_task="multitask",
    ),
    # Version 2 of the bundled model (preset "utkface_v2", one network): the recipe above
    # on both UTKFace folders prepared by `adiencekit prepare` (21,500 faces, most of them
    # adults), with an "age_years" regression output trained on the exact ages beside the
    # two classifiers, and photo degradation (scaling, yaw warp, light, noise, JPEG) on
    # top of the strong augmentation so that faces found in photos look like training
    # faces. 36 epochs (8,460 steps): the 20 of its first training underfitted (training
    # accuracy below validation's); 36 raised every validation figure (gender 0.920 ->
    # 0.921, age exact 0.623 -> 0.646, 1-off 0.950 -> 0.959, MAE 6.16 -> 5.72 years) and
    # fairface-dev's. 81-177 s an epoch on the 2-core CPU (75 minutes of epochs beside
    # test runs; about 50 at the fastest epoch's pace, an estimate).
    "utkface_v2": Recipe(
        "one compact ResNet, gender + age group + age in years, both UTKFace folders, photo degradation",
        {"model_kwargs": {"age_years": True}, "augment": "photo", "epochs": 36},
        base="utkface_multitask",
        default_task="multitask",
    ),
    # utkface_v2 with group-balanced sampling (issue 22: children and teens, rare in both
    # folders, were worse than with the first bundled model): each epoch as many faces,
    # rare age groups drawn up to 4 times as often per face as the 25-32 group.
    "utkface_v2_balanced": Recipe(
        "utkface_v2 with age-group-balanced sampling (rare age groups drawn more often)",
        {"balance": "age_group"},
        base="utkface_v2",
        default_task="multitask",
    ),
}


def _check_name(name: str) -> Recipe:
    if name not in _RECIPES:
        raise UnknownRecipeError(f"unknown recipe {name!r}; available recipes: {', '.join(_RECIPES)}")
    return _RECIPES[name]


def _values(name: str | None) -> dict[str, Any]:
    """The field values a recipe (or base) sets, its bases' included (model_kwargs merged)."""
    if name is None:
        return {}
    if name == "report":
        return dict(REPORT_BASE)
    recipe = _check_name(name)
    values = _values(recipe.base)
    for key, value in recipe.changes.items():
        if key == "model_kwargs":
            model_changed = "model" in recipe.changes and recipe.changes["model"] != values.get("model")
            base_kwargs = {} if model_changed else dict(values.get("model_kwargs", {}))
            values["model_kwargs"] = {**base_kwargs, **value}
        else:
            values[key] = value
    return values


def list_recipes() -> dict[str, str]:
    """Recipe names with a one-line description each.

    Returns:
        An ordered dict ``{name: description}``.
    """
    return {name: recipe.description for name, recipe in _RECIPES.items()}


def describe_recipe(name: str) -> dict[str, Any]:
    """A recipe's base and the changes it states (not its resolved config).

    Raises:
        UnknownRecipeError: for an unknown name (the message lists the known ones).
    """
    recipe = _check_name(name)
    return {"base": recipe.base, "changes": {key: value for key, value in recipe.changes.items()}}


def get_recipe(name: str, task: str | None = None, **overrides: Any) -> TrainConfig:
    """The config of a named recipe.

    Args:
        name: one of :func:`list_recipes`.
        task: ``"gender"``, ``"age"`` or ``"multitask"``; defaults to the task the
            recipe was made for (``"gender"`` for most). A recipe's age-only settings
            (``age_neighbour_smoothing``, ``age_ordinal_weight``) are left out for ``"gender"``.
        **overrides: fields to change, as in :meth:`TrainConfig.replace`.

    Returns:
        The validated config.

    Raises:
        UnknownRecipeError: (a ``KeyError`` and a :class:`~adiencekit.errors.ConfigError`)
            for an unknown recipe name; the message lists the known ones.
    """
    recipe = _check_name(name)
    task = task or recipe.default_task
    values = _values(name)
    if task == "gender":  # a recipe's age settings do not apply to a model without an age head
        values.pop("age_neighbour_smoothing", None)
        values.pop("age_ordinal_weight", None)
    return TrainConfig(task=task, **{**values, **overrides})


def conv_depth_sweep(task: str = "gender", depths: tuple[int, ...] = (3, 4, 5)) -> list[TrainConfig]:
    """The report's gender sweep over the number of conv blocks (3/4/5, Dense 128).

    Args:
        task: the task to train.
        depths: numbers of conv blocks.

    Returns:
        One config per depth.
    """
    return [get_recipe("scratch_3conv", task, model_kwargs={"conv_layers": depth, "dense_units": 128})
            for depth in depths]


def dense_units_sweep(task: str = "age", units: tuple[int, ...] = (128, 256, 512)) -> list[TrainConfig]:
    """The report's age sweep over the hidden Dense width (5 conv blocks).

    Args:
        task: the task to train.
        units: widths of the hidden Dense layer.

    Returns:
        One config per width.
    """
    return [get_recipe("scratch_5conv", task, model_kwargs={"conv_layers": 5, "dense_units": width})
            for width in units]


#: The report's sweeps: name -> (config factory, the model option it varies, the task it tuned).
SWEEPS: dict[str, tuple[Callable[[str], list[TrainConfig]], str, str]] = {
    "conv_depth": (conv_depth_sweep, "conv_layers", "gender"),
    "dense_units": (dense_units_sweep, "dense_units", "age"),
}
