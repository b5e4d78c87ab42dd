"""Tests for adiencekit.training.config."""

from __future__ import annotations

import json

import pytest

from adiencekit.training.config import TrainConfig


def test_defaults_follow_the_seed() -> None:
    config = TrainConfig()
    assert config.early_stopping_patience == 10
    assert config.data == "synthetic"
    assert config.dataset_kind == "synthetic" and config.dataset_path is None


def test_json_round_trip_via_file_and_text(tmp_path) -> None:
    config = TrainConfig(task="multitask", model_kwargs={"conv_layers": 4}, crop_size=64, jit_compile=False)
    path = tmp_path / "config.json"
    text = config.to_json(path)
    assert json.loads(path.read_text()) == config.to_dict()
    assert TrainConfig.from_json(path) == config
    assert TrainConfig.from_json(text) == config
    assert not list(tmp_path.glob("*.tmp"))


def test_replace_validates_again() -> None:
    config = TrainConfig()
    assert config.replace(epochs=3, test_fold=4).test_fold == 4
    with pytest.raises(ValueError, match="test_fold must be an Adience fold 0-4, got 5"):
        config.replace(test_fold=5)
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['epoch'\]"):
        config.replace(epoch=3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "race"}, "task must be one of"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be a number in"),
        ({"val_fraction": 1.5}, "val_fraction must be a number in"),
        ({"crop_size": 300, "image_size": 256}, r"crop_size \(300\) must not exceed image_size \(256\)"),
        ({"precision": "float64"}, "precision must be one of"),
        ({"jit_compile": "yes"}, "jit_compile must be 'auto', True or False, got 'yes'"),
        ({"distribution": "horovod"}, "distribution must be one of"),
        ({"lr_schedule": "exp"}, "lr_schedule must be one of"),
        ({"rotation": -1.0}, "rotation must be a number in"),
        ({"data": "utkface:"}, "needs a path"),
        ({"model_kwargs": {"task": "age"}}, "must not set 'task'"),
        ({"early_stopping_patience": 0}, "early_stopping_patience must be a positive integer or None"),
    ],
)
def test_invalid_values_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_dataset_spec_kinds(tmp_path) -> None:
    assert TrainConfig(data=f"utkface:{tmp_path}").dataset_kind == "utkface"
    assert TrainConfig(data=f"utkface:{tmp_path}").dataset_path == tmp_path
    assert TrainConfig(data=str(tmp_path)).dataset_kind == "adience"


def test_from_json_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        TrainConfig.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot parse TrainConfig"):
        TrainConfig.from_json(bad)
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['colour'\]"):
        TrainConfig.from_json('{"colour": 1}')
    with pytest.raises(ValueError, match="must be a JSON object"):
        TrainConfig.from_dict([1, 2])  # type: ignore[arg-type]
