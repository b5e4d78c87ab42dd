"""TrainConfig.balance, the utkface_v2_balanced recipe and `adiencekit train --balance`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adiencekit.cli import build_parser, config_from_args, main
from adiencekit.errors import ConfigError
from adiencekit.training import TrainConfig, get_recipe, train

from ._helpers import make_tiny_tree, tiny_config


def test_the_field_is_checked_and_round_trips() -> None:
    assert TrainConfig().balance is None
    config = TrainConfig(balance="age_group")
    assert TrainConfig.from_json(config.to_json()).balance == "age_group"
    assert "balance" in config.grouped()["data"]
    with pytest.raises(ConfigError, match="TrainConfig.balance must be one of"):
        TrainConfig(balance="race")
    with pytest.raises(ConfigError, match="needs the tf.data pipeline"):
        TrainConfig(balance="age_group", input_format="grain")


def test_a_config_written_before_the_field_reads_as_unbalanced() -> None:
    values = TrainConfig().to_dict()
    del values["balance"]
    assert TrainConfig.from_dict(values).balance is None


def test_the_balanced_recipe_is_utkface_v2_plus_balance() -> None:
    balanced, plain = get_recipe("utkface_v2_balanced"), get_recipe("utkface_v2")
    assert balanced.balance == "age_group" and plain.balance is None
    assert balanced.replace(balance=None) == plain


def test_the_cli_option_sets_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["train", "--recipe", "utkface_v2", "--balance", "age_group"])
    assert config_from_args(args).balance == "age_group"
    assert config_from_args(build_parser().parse_args(["train"])).balance is None
    assert main(["train", "--balance", "race"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'race'" in err[0]
    assert main(["train", "--balance", "age_group", "--input-format", "grain"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs the tf.data pipeline" in err[0]


def test_training_builds_its_training_pipeline_balanced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import adiencekit.data.pipeline as pipeline_module

    seen: list[tuple[bool, str | None]] = []
    original = pipeline_module.build_pipeline

    def spy(*args, **kwargs):
        seen.append((kwargs["training"], kwargs.get("balance")))
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "build_pipeline", spy)
    config = tiny_config(make_tiny_tree(tmp_path / "tree"), task="multitask", epochs=1, steps_per_epoch=2,
                         validation_steps=1, test_steps=1, balance="age_group", input_format="tf")
    result = train(config, tmp_path / "run", verbose=0)
    assert (True, "age_group") in seen and all(balance is None for training, balance in seen if not training)
    assert json.loads((result.run_dir / "config.json").read_text())["balance"] == "age_group"
