"""reproduce_preset: a preset re-made from its own card (prepare, train each network, export)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.export import export_preset
from adiencekit.inference import Predictor
from adiencekit.crops import CropSpec
from adiencekit.inference.prepare import PREPARE_FILE, prepare_utkface
from adiencekit.reproduce import recorded_training, reproduce_preset
from adiencekit.training import TrainConfig, train
from adiencekit.training.run_folder import RunExistsError

from inference.test_prepare import _CentreFace, _raw_root

CROP = CropSpec(margin=0.0, shift=-0.12, size=40)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[Path, Path]:
    """A raw root and a two-network preset trained on its preparation (as the bundled one was made)."""
    tmp = tmp_path_factory.mktemp("original")
    raw = _raw_root(tmp, count=30)
    prepared = tmp / "prepared"
    prepare_utkface(raw, prepared, CROP, detector=_CentreFace(), val_fraction=0.2, test_fraction=0.2, seed=0)
    runs = []
    for seed in (0, 1):
        config = TrainConfig(data=f"utkface:{prepared}", task="multitask", model="face_resnet",
                             model_kwargs={"width": 16, "blocks": [1, 1]}, image_size=40, crop_size=32, batch_size=8,
                             epochs=1, early_stopping_patience=None, seed=seed, split_seed=0)
        train(config, tmp / "runs" / f"run{seed}", verbose=0)
        runs.append(tmp / "runs" / f"run{seed}")
    preset = export_preset(runs, tmp / "preset", license="test licence", description="two tiny networks")
    return raw, preset


def test_the_bundled_preset_records_how_it_was_made() -> None:
    plan = recorded_training("utkface_multitask")
    assert [config.seed for config in plan.configs] == [0, 1]
    assert {config.model for config in plan.configs} == {"face_resnet"}
    assert (plan.crop.style, plan.crop.size, plan.pad) == ("aligned", 112, 0.25)
    assert (plan.val_fraction, plan.test_fraction, plan.split_seed) == (0.1, 0.2, 0)
    assert "non-commercial" in plan.license


def test_a_preset_is_re_made_from_its_card_and_a_rerun_keeps_the_runs(original, tmp_path) -> None:
    raw, preset = original
    out = tmp_path / "again"
    result = reproduce_preset(preset, raw, out, detector=_CentreFace(), verbose=0)
    assert result.trained == [True, True]
    assert [run.name for run in result.runs] == ["seed0", "seed1"]
    recorded = json.loads((preset / "preset.json").read_text())["training_data"]["member_configs"]
    for run, before in zip(result.runs, recorded, strict=True):
        after = json.loads((run / "config.json").read_text())
        assert after["data"] == f"utkface:{out.resolve() / 'data'}"
        assert {**after, "data": None} == {**before, "data": None}
        assert (run / "metrics.json").is_file()
    document = json.loads((result.preset / "preset.json").read_text())
    assert document["class_name"] == "AgeGenderEnsemble" and document["license"] == "test licence"
    assert document["crop"] == CROP.to_dict() and document["training_data"]["member_seeds"] == [0, 1]
    assert json.loads((out / "data" / PREPARE_FILE).read_text())["split"]["seed"] == 0
    probabilities = Predictor(str(result.preset), detector=None).predict_crops(np.zeros((2, 40, 40, 3), np.uint8))
    assert probabilities["gender"].shape == (2, 2) and probabilities["age"].shape == (2, 8)
    again = reproduce_preset(preset, raw, out, detector=_CentreFace(), verbose=0)
    assert again.trained == [False, False]


@pytest.mark.slow
def test_another_schedule_in_the_same_folder_is_refused_before_any_work(original, tmp_path) -> None:
    raw, preset = original
    out = tmp_path / "again"
    quick = reproduce_preset(preset, raw, out, epochs=1, detector=_CentreFace(), verbose=0)
    assert "re-made with 1 epochs" in json.loads((quick.preset / "preset.json").read_text())["description"]
    stamp = (out / "data" / PREPARE_FILE).stat().st_mtime_ns
    with pytest.raises(RunExistsError, match="finished run of another config"):
        reproduce_preset(preset, raw, out, epochs=2, detector=_CentreFace(), verbose=0)
    assert (out / "data" / PREPARE_FILE).stat().st_mtime_ns == stamp  # the preparation did not run again


def test_a_preparation_with_other_settings_is_not_continued(original, tmp_path) -> None:
    raw, preset = original
    prepare_utkface(raw, tmp_path / "work" / "data", CropSpec(margin=0.0, shift=-0.12, size=48),
                    detector=_CentreFace(), val_fraction=0.2, test_fraction=0.2, seed=0)
    with pytest.raises(ConfigError, match="prepared with other settings"):
        reproduce_preset(preset, raw, tmp_path / "work", detector=_CentreFace(), verbose=0)


def test_presets_without_a_training_record_and_bad_arguments_are_refused(tmp_path) -> None:
    from adiencekit.models import scratch_cnn

    model = scratch_cnn(task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8)
    folder = model.save_to_preset(tmp_path / "plain", image_size=36, metrics={"protocol": "none"},
                                  training_data="synthetic faces")
    with pytest.raises(ConfigError, match="records no UTKFace preparation"):
        recorded_training(folder)
    with pytest.raises(ModelFileError, match="is not a preset"):
        recorded_training(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="epochs must be a positive integer"):
        reproduce_preset("utkface_multitask", tmp_path / "raw", tmp_path / "out", epochs=0)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "nosuch", "--data", "{tmp}", "--out", "{tmp}/out"], "unknown preset 'nosuch'; known presets: "),
        (["reproduce", "{tmp}", "--data", "{tmp}", "--out", "{tmp}/out"], "is not a preset"),
        (["reproduce", "utkface_multitask", "--data", "{tmp}/none", "--out", "{tmp}/out"], "UTKFace images not found"),
        (["reproduce", "utkface_multitask", "--data", "{tmp}", "--out", "{tmp}/out", "--epochs", "0"],
         "epochs must be a positive integer"),
    ],
)
def test_command_line_mistakes_give_one_line_and_exit_2(capsys, tmp_path, argv: list[str], message: str) -> None:
    from adiencekit.cli import main

    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()
