"""Tests for adiencekit.training.recipes."""

from __future__ import annotations

import pytest

from adiencekit.training import TrainConfig, conv_depth_sweep, dense_units_sweep, get_recipe, list_recipes

REPORT_ROWS = ["levi_hassner", "inception_basic", "inception_modified", "scratch_3conv", "scratch_5conv",
               "scratch_5conv_age256", "quick"]


def test_every_report_row_has_a_recipe() -> None:
    assert set(REPORT_ROWS) <= set(list_recipes())
    for name in list_recipes():
        config = get_recipe(name)
        assert isinstance(config, TrainConfig)
        if name.startswith("utkface_"):  # a fixed cosine schedule; the best validation epoch is kept
            assert config.early_stopping_patience is None and config.lr_schedule == "cosine"
        else:  # the report's convention
            assert config.early_stopping_patience is not None


def test_utkface_multitask_recipe_trains_every_task() -> None:
    config = get_recipe("utkface_multitask")
    assert (config.task, config.model, config.augment, config.age_neighbour_smoothing) == (
        "multitask", "face_resnet", "strong", 0.2)
    assert get_recipe("utkface_multitask", task="gender").age_neighbour_smoothing == 0.0
    assert get_recipe("utkface_multitask", task="age").age_neighbour_smoothing == 0.2


def test_levi_hassner_follows_the_paper() -> None:
    config = get_recipe("levi_hassner", task="age")
    assert config.model == "levi_hassner" and config.task == "age"
    assert (config.optimizer, config.batch_size, config.momentum, config.weight_decay) == ("sgd", 50, 0.9, 5e-4)
    assert (config.lr_schedule, config.learning_rate, config.lr_step_iterations) == ("step", 1e-3, 10_000)
    assert config.learning_rate * config.lr_step_factor == pytest.approx(1e-4)
    assert (config.image_size, config.crop_size, config.flip) == (256, 227, True)


def test_scratch_recipes_match_the_report_architectures() -> None:
    assert get_recipe("scratch_3conv").model_kwargs == {"conv_layers": 3, "dense_units": 128}
    assert get_recipe("scratch_5conv").model_kwargs == {"conv_layers": 5, "dense_units": 128}
    tuned_age = get_recipe("scratch_5conv_age256")
    assert tuned_age.task == "age" and tuned_age.model_kwargs == {"conv_layers": 5, "dense_units": 256}
    assert get_recipe("inception_modified").model_kwargs["dense_units"] == 128


def test_sweeps() -> None:
    assert [c.model_kwargs["conv_layers"] for c in conv_depth_sweep()] == [3, 4, 5]
    assert {c.task for c in conv_depth_sweep()} == {"gender"}
    assert [c.model_kwargs["dense_units"] for c in dense_units_sweep()] == [128, 256, 512]
    assert {c.model_kwargs["conv_layers"] for c in dense_units_sweep()} == {5}


def test_quick_is_small_and_synthetic() -> None:
    config = get_recipe("quick")
    assert config.data == "synthetic" and config.crop_size <= 64 and config.epochs <= 20


def test_overrides_and_unknown_names() -> None:
    assert get_recipe("quick", task="age", epochs=2).epochs == 2
    with pytest.raises(KeyError, match="unknown recipe 'nope'; available recipes: levi_hassner"):
        get_recipe("nope")


# -- recipes state only what differs from their base (issue 10) ------------------------------
def described_fields(name: str | None) -> set[str]:
    """The fields a recipe sets, its bases' included."""
    from adiencekit.training.recipes import REPORT_BASE, describe_recipe

    if name is None:
        return {"task"}
    if name == "report":
        return set(REPORT_BASE) | {"task"}
    described = describe_recipe(name)
    return set(described["changes"]) | described_fields(described["base"])


def test_each_recipe_states_only_what_differs_from_its_base() -> None:
    from adiencekit.training.recipes import REPORT_BASE, describe_recipe

    import dataclasses

    defaults = {f.name: {} if f.name == "model_kwargs" else f.default for f in dataclasses.fields(TrainConfig)}
    for name in list_recipes():
        described = describe_recipe(name)
        base = described["base"]
        if base is None:
            base_values = defaults
        elif base == "report":
            base_values = {**defaults, **REPORT_BASE}
        else:
            base_values = {**defaults, **{k: v for k, v in get_recipe(base).to_dict().items()
                                          if k in described_fields(base)}}
        for key, value in described["changes"].items():
            if key == "model_kwargs" and base_values.get("model") == get_recipe(name).model:
                for sub, sub_value in value.items():
                    assert base_values["model_kwargs"].get(sub) != sub_value, (name, key, sub)
            else:
                assert base_values[key] != value, (name, key, value)
    for key, value in REPORT_BASE.items():
        assert defaults[key] != value, key


def test_every_recipe_passes_full_validation() -> None:
    for name in list_recipes():
        for task in ("gender", "age", "multitask"):
            assert get_recipe(name, task=task).validate(check_data=False) is not None


def test_unknown_recipe_is_a_config_error_and_a_key_error() -> None:
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        get_recipe("levi")
    assert isinstance(error.value, KeyError) and str(error.value).startswith("unknown recipe 'levi'")


def test_a_recipe_on_utkface_uses_its_native_image_size_unless_the_recipe_needs_more() -> None:
    quick = get_recipe("quick", data="utkface:/data/utk")
    assert (quick.image_size, quick.faces, quick.test_fold) == (72, None, None)  # the recipe states 72
    levi = get_recipe("levi_hassner", data="utkface:/data/utk")
    assert (levi.image_size, levi.crop_size, levi.test_fraction) == (256, 227, 0.2)  # 227 crops need 256
    basic = TrainConfig(data="utkface:/data/utk")
    assert basic.image_size == 200
