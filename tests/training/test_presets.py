"""Tests for adiencekit.training.presets."""

from __future__ import annotations

import pytest

from adiencekit.training import TrainConfig, conv_depth_sweep, dense_units_sweep, get_preset, list_presets

REPORT_ROWS = ["levi_hassner", "inception_basic", "inception_modified", "scratch_3conv", "scratch_5conv",
               "scratch_5conv_age256", "quick"]


def test_every_report_row_has_a_preset() -> None:
    assert set(REPORT_ROWS) <= set(list_presets())
    for name in list_presets():
        config = get_preset(name)
        assert isinstance(config, TrainConfig)
        assert config.early_stopping_patience is not None


def test_levi_hassner_follows_the_paper() -> None:
    config = get_preset("levi_hassner", task="age")
    assert config.model == "levi_hassner" and config.task == "age"
    assert (config.optimizer, config.batch_size, config.momentum, config.weight_decay) == ("sgd", 50, 0.9, 5e-4)
    assert (config.lr_schedule, config.learning_rate, config.lr_step_iterations) == ("step", 1e-3, 10_000)
    assert config.learning_rate * config.lr_step_factor == pytest.approx(1e-4)
    assert (config.image_size, config.crop_size, config.flip) == (256, 227, True)


def test_scratch_presets_match_the_report_architectures() -> None:
    assert get_preset("scratch_3conv").model_kwargs == {"conv_layers": 3, "dense_units": 128}
    assert get_preset("scratch_5conv").model_kwargs == {"conv_layers": 5, "dense_units": 128}
    tuned_age = get_preset("scratch_5conv_age256")
    assert tuned_age.task == "age" and tuned_age.model_kwargs == {"conv_layers": 5, "dense_units": 256}
    assert get_preset("inception_modified").model_kwargs["dense_units"] == 128


def test_sweeps() -> None:
    assert [c.model_kwargs["conv_layers"] for c in conv_depth_sweep()] == [3, 4, 5]
    assert {c.task for c in conv_depth_sweep()} == {"gender"}
    assert [c.model_kwargs["dense_units"] for c in dense_units_sweep()] == [128, 256, 512]
    assert {c.model_kwargs["conv_layers"] for c in dense_units_sweep()} == {5}


def test_quick_is_small_and_synthetic() -> None:
    config = get_preset("quick")
    assert config.data == "synthetic" and config.crop_size <= 64 and config.epochs <= 20


def test_overrides_and_unknown_names() -> None:
    assert get_preset("quick", task="age", epochs=2).epochs == 2
    with pytest.raises(KeyError, match="unknown preset 'nope'; available presets: levi_hassner"):
        get_preset("nope")
