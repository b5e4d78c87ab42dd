"""reproduce_preset: a preset re-made from its own card (prepare, train each network, export)."""

from __future__ import annotations

import importlib.util
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


def _two_raw_roots(tmp: Path, count: int = 24) -> list[Path]:
    """Two raw UTKFace roots, ``utkface`` and ``utkface-extra``, no file name in both (as the real two)."""
    roots = []
    for index, name in enumerate(("utkface", "utkface-extra")):
        root = _raw_root(tmp / f"part{index}", count=count).rename(tmp / name)
        for image in sorted((root / "images").iterdir()):
            image.rename(image.with_name(image.name.replace("_2017", f"_201{7 + index}")))
        labels = root / "labels.csv"
        labels.write_text(labels.read_text().replace("_2017", f"_201{7 + index}"))
        roots.append(root)
    return roots


def _with_card(preset: Path, document: dict, folder: Path) -> Path:
    """A copy of ``preset`` in ``folder`` whose preset.json is ``document``."""
    folder.mkdir()
    for item in preset.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    (folder / "preset.json").write_text(json.dumps(document))
    return folder


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory) -> tuple[list[Path], Path]:
    """Two raw roots and a one-network preset trained on both, prepared (as utkface_v2 was made)."""
    tmp = tmp_path_factory.mktemp("two_roots")
    raws = _two_raw_roots(tmp)
    prepared = [tmp / f"{raw.name}-aligned" for raw in raws]
    for raw, folder in zip(raws, prepared, strict=True):
        prepare_utkface(raw, folder, CROP, detector=_CentreFace(), val_fraction=0.2, test_fraction=0.2, seed=0)
    config = TrainConfig(data="utkface:" + ",".join(map(str, prepared)), task="multitask", model="face_resnet",
                         model_kwargs={"width": 8, "blocks": [1, 1], "age_years": True}, augment="photo",
                         image_size=40, crop_size=32, batch_size=8, epochs=1, early_stopping_patience=None, seed=0,
                         split_seed=0)
    train(config, tmp / "runs" / "run", verbose=0)
    preset = export_preset(tmp / "runs" / "run", tmp / "preset", license="test licence",
                           age_years_head_weight=0.4, age_years={"chosen_on": "the run's validation faces"},
                           tta="flip", tta_chosen_on="the run's validation faces too")
    if _exporting():  # as the bundled one: an ONNX copy and its int8 copy, recorded in the card
        from adiencekit.export import add_onnx_to_preset
        from adiencekit.quantization import add_int8_onnx_to_preset

        add_onnx_to_preset(preset)
        add_int8_onnx_to_preset(preset, config.data, faces=6, seed=3)
    return raws, preset


def _exporting() -> bool:
    """Whether the export extra (tf2onnx, onnx) and onnxruntime are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("tf2onnx", "onnx", "onnxruntime"))


def test_the_bundled_preset_records_how_it_was_made() -> None:
    plan = recorded_training("utkface_v2")
    assert [config.seed for config in plan.configs] == [0]
    assert [(config.model, config.model_kwargs["age_years"], config.augment) for config in plan.configs] == [
        ("face_resnet", True, "photo")]
    assert (plan.crop.style, plan.crop.size, plan.pad) == ("aligned", 112, 0.25)
    assert [(root.raw, root.images) for root in plan.roots] == [("utkface", 8574), ("utkface-extra", 12926)]
    assert [(root.val_fraction, root.test_fraction, root.split_seed) for root in plan.roots] == [(0.1, 0.2, 0)] * 2
    assert "non-commercial" in plan.license


def test_a_preset_of_two_roots_records_each_raw_root_by_name_only(two_roots) -> None:
    raws, preset = two_roots
    text = (preset / "preset.json").read_text()
    assert str(raws[0].parent) not in text  # no folder of the training machine
    prepared_with = json.loads(text)["training_data"]["prepared_with"]
    assert (prepared_with["crop"], prepared_with["pad"]) == (CROP.to_dict(), 0.25)
    roots = prepared_with["roots"]
    assert [(root["raw"], root["images"], root["faces"]) for root in roots] == [("utkface", 24, 23),
                                                                              ("utkface-extra", 24, 23)]
    assert [root["split"]["seed"] for root in roots] == [0, 0]
    plan = recorded_training(preset)
    assert [(root.raw, root.images, root.split_seed, root.test_fraction) for root in plan.roots] == [
        ("utkface", 24, 0, 0.2), ("utkface-extra", 24, 0, 0.2)]


def test_a_preset_records_the_head_weight_of_its_age_in_years(two_roots) -> None:
    _, preset = two_roots
    document = json.loads((preset / "preset.json").read_text())
    assert document["config"]["age_years_head_weight"] == 0.4
    assert document["age_years"] == {
        "source": "head and age groups", "head_weight": 0.4, "chosen_on": "the run's validation faces",
        "rule": "age_years = 0.4 * the regression head + 0.6 * the expected age of the age-group probabilities "
                "(AgeYearsBlend, inside the model)"}
    plan = recorded_training(preset)
    assert plan.age_years_head_weight == 0.4 and plan.age_years["chosen_on"] == "the run's validation faces"


def test_a_head_weight_the_model_cannot_take_is_refused(original, two_roots, tmp_path) -> None:
    raws, preset = two_roots
    run = preset.parent / "runs" / "run"
    for weight, message in ((1.5, "from 0 to 1"), (True, "from 0 to 1")):
        with pytest.raises(ConfigError, match=message):
            export_preset(run, tmp_path / f"bad{weight}", age_years_head_weight=weight)
    with pytest.raises(ConfigError, match="needs age_years_head_weight"):
        export_preset(run, tmp_path / "note-only", age_years={"chosen_on": "x"})
    runs = sorted((original[1].parent / "runs").iterdir())
    with pytest.raises(ConfigError, match="applies to one network"):
        export_preset(runs, tmp_path / "ensemble", age_years_head_weight=0.5)
    with pytest.raises(ConfigError, match="needs one network with an age_years output"):
        export_preset(runs[0], tmp_path / "no-head", age_years_head_weight=0.5)
    assert not any(tmp_path.iterdir())  # nothing written


def test_export_sets_the_head_weight_from_the_command_line(two_roots, tmp_path, capsys) -> None:
    from adiencekit.cli import main

    _, preset = two_roots
    run = str(preset.parent / "runs" / "run")
    out = tmp_path / "blend"
    assert main(["export", "--model", run, "--format", "preset", "--out", str(out), "--age-years-head-weight", "0.25",
                 "--age-years-chosen-on", "validation MAE"]) == 0
    document = json.loads((out / "preset.json").read_text())
    assert document["config"]["age_years_head_weight"] == 0.25
    assert (document["age_years"]["head_weight"], document["age_years"]["chosen_on"]) == (0.25, "validation MAE")
    capsys.readouterr()
    for argv, message in (
        (["--format", "preset", "--age-years-chosen-on", "x"], "--age-years-chosen-on says how"),
        (["--format", "preset", "--age-years-head-weight", "2"], "must be a number from 0 to 1, got 2.0"),
        (["--format", "onnx", "--age-years-head-weight", "0.3"], "--age-years-head-weight is for --format preset"),
    ):
        assert main(["export", "--model", run, "--out", str(tmp_path / "bad"), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_a_card_that_records_fewer_roots_than_its_networks_used_is_refused(two_roots, tmp_path) -> None:
    _, preset = two_roots
    document = json.loads((preset / "preset.json").read_text())
    prepared_with = document["training_data"]["prepared_with"]
    # As an adiencekit that predates `roots` wrote it: the first root's split only.
    prepared_with["split"] = prepared_with.pop("roots")[0]["split"]
    with pytest.raises(ConfigError, match="trained on 2 UTKFace roots .* records the preparation of 1; export the"):
        recorded_training(_with_card(preset, document, tmp_path / "older"))


def test_a_preset_of_two_roots_is_re_made_by_the_command_and_a_rerun_keeps_the_run(
    two_roots, tmp_path, capsys, monkeypatch
) -> None:
    from adiencekit.cli import main
    from adiencekit.inference import detection

    raws, preset = two_roots
    # The card records the detector its faces were cut with (here the test's _CentreFace); the command uses it.
    monkeypatch.setitem(detection.DETECTOR_OF_CLASS, "_CentreFace", "centre")
    monkeypatch.setitem(detection.DETECTORS, "centre", lambda **_: _CentreFace())
    out = tmp_path / "v2"
    argv = ["reproduce", str(preset), "--data", f"utkface:{raws[0]},{raws[1]}", "--out", str(out), "--epochs", "1",
            "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    folders = [out.resolve() / "data" / "utkface", out.resolve() / "data" / "utkface-extra"]
    for raw, folder in zip(raws, folders, strict=True):
        assert f"{raw} -> {folder}: 24 images read" in printed
        assert json.loads((folder / PREPARE_FILE).read_text())["split"]["seed"] == 0
    assert f"trained: {out.resolve() / 'runs' / 'seed0'}" in printed
    config = json.loads((out / "runs" / "seed0" / "config.json").read_text())
    assert config["data"] == "utkface:" + ",".join(map(str, folders)) and config["epochs"] == 1
    document = json.loads((out / "preset" / "preset.json").read_text())
    before = json.loads((preset / "preset.json").read_text())["training_data"]["prepared_with"]
    assert document["training_data"]["prepared_with"]["roots"] == before["roots"]
    assert "re-made with 1 epochs" in document["description"] and document["license"] == "test licence"
    # The age in years blends head and groups as the card's did: the weight is replayed, not chosen again.
    assert document["config"]["age_years_head_weight"] == 0.4 and document["age_years"]["head_weight"] == 0.4
    assert document["age_years"]["chosen_on"].startswith(f"the weight recorded by {preset}'s card, replayed")
    assert "(there: the run's validation faces)" in document["age_years"]["chosen_on"]
    remade = Predictor(str(out / "preset"), detector=None)
    assert remade.age_years_source == "head and age groups"
    outputs = remade.predict_crops(np.zeros((2, 40, 40, 3), np.uint8))
    assert outputs["gender"].shape == (2, 2) and outputs["age"].shape == (2, 8)
    # The card's inference setting is replayed: the mirrored second view, and the int8 copy calibrated as recorded.
    assert document["inference"]["tta"] == "flip" and remade.tta
    assert document["inference"]["tta_chosen_on"].startswith(f"the setting recorded by {preset}'s card, replayed")
    # The preset's ONNX copy, made where the export extra is installed (predict then runs it in ONNX Runtime).
    exporting = _exporting()
    assert ("ONNX copy (predict runs it in ONNX Runtime)" if exporting else "no ONNX copy") in printed
    assert (out / "preset" / "model.onnx").is_file() == exporting and remade.runtime == ("onnx" if exporting else "keras")
    if exporting:
        assert "its int8 copy, calibrated as the card records" in printed and remade.precision == "int8"
        calibration = document["inference"]["int8"]["calibration"]
        assert (calibration["faces"], calibration["seed"]) == (6, 3)
    # A raw root that is not the card's (one more image) is said so; the finished run is kept.
    added = raws[1] / "images" / "30_1_0_20190101.jpg.chip.jpg"
    added.write_bytes(next((raws[1] / "images").iterdir()).read_bytes())
    try:
        assert main(argv) == 0
    finally:
        added.unlink()
    printed = capsys.readouterr().out
    assert "the card records 24 images for utkface-extra" in printed
    assert "utkface-extra: 2 images read, 1 crop written, 1 without a face, 0 unreadable, 23 kept" in printed
    assert "split 15 train / 5 val / 5 test" in printed and "kept (already finished)" in printed


def test_a_single_root_card_of_either_form_is_read_the_same(original, tmp_path) -> None:
    _, preset = original
    document = json.loads((preset / "preset.json").read_text())
    prepared_with = document["training_data"]["prepared_with"]
    assert [root["raw"] for root in prepared_with["roots"]] == ["raw"]
    # As cards were written before several roots were recorded (the first bundled preset, utkface_multitask).
    document["training_data"]["prepared_with"] = {**{key: prepared_with[key] for key in ("crop", "pad", "detector")},
                                                  "split": prepared_with["roots"][0]["split"]}
    legacy = _with_card(preset, document, tmp_path / "legacy")
    new, old = recorded_training(preset), recorded_training(legacy)
    assert [(root.raw, root.images) for root in new.roots] == [("raw", 30)]
    assert [(root.raw, root.images) for root in old.roots] == [(None, None)]
    assert [(r.val_fraction, r.test_fraction, r.split_seed) for r in old.roots + new.roots] == [(0.2, 0.2, 0)] * 2
    assert (old.configs, old.crop, old.pad) == (new.configs, new.crop, new.pad)


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
        reproduce_preset("utkface_v2", f"utkface:{tmp_path / 'raw'},{tmp_path / 'raw2'}", tmp_path / "out", epochs=0)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "nosuch", "--data", "{tmp}", "--out", "{tmp}/out"], "unknown preset 'nosuch'; known presets: "),
        (["reproduce", "{tmp}", "--data", "{tmp}", "--out", "{tmp}/out"], "is not a preset"),
        (["reproduce", "utkface_v2", "--data", "utkface:{tmp}/none,{tmp}/none2", "--out", "{tmp}/out"],
         "UTKFace images not found"),
        (["reproduce", "utkface_v2", "--data", "utkface:{tmp},{tmp}", "--out", "{tmp}/out", "--epochs", "0"],
         "epochs must be a positive integer"),
    ],
)
def test_command_line_mistakes_give_one_line_and_exit_2(capsys, tmp_path, argv: list[str], message: str) -> None:
    from adiencekit.cli import main

    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{raw0}", "was trained on 2 UTKFace root(s) (utkface, utkface-extra), but 1 given; pass one raw root per "
                   "recorded root, in that order (utkface:PATH1,PATH2)"),
        ("utkface:{raw0},{raw1},{raw0}", "but 3 given"),
        ("utkface:{raw0},{tmp}/none", "UTKFace images not found: expected the folder {tmp}/none/images"),
    ],
)
def test_roots_that_do_not_match_the_card_give_one_line_and_exit_2(two_roots, capsys, tmp_path, data: str,
                                                                   message: str) -> None:
    from adiencekit.cli import main

    raws, preset = two_roots
    names = {"raw0": raws[0], "raw1": raws[1], "tmp": tmp_path}
    argv = ["reproduce", str(preset), "--data", data.format(**names), "--out", f"{tmp_path}/out", "--epochs", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(**names) in err[0]
    assert not (tmp_path / "out").exists()


def test_a_single_root_preset_refuses_two_roots(original, capsys, tmp_path) -> None:
    from adiencekit.cli import main

    raw, preset = original
    assert main(["reproduce", str(preset), "--data", f"utkface:{raw},{raw}", "--out", f"{tmp_path}/out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was trained on 1 UTKFace root(s) (raw), but 2 given" in err[0]
    assert not (tmp_path / "out").exists()
