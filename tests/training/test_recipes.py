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
        assert config.early_stopping_patience is not None


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
