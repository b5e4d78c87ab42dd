"""export_preset: a finished run (mixed precision, prepared UTKFace root) becomes a float32 preset."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from adiencekit.errors import ModelFileError
from adiencekit.export import export_preset
from adiencekit.inference.loading import load_model_source
from adiencekit.models import AgeGenderClassifier
from adiencekit.training import TrainConfig, train


def _prepared_root(root: Path, count: int = 40) -> Path:
    """A UTKFace root as prepare_utkface leaves it: crops, splits.csv, prepare.json."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["filename,split"]
    for i in range(count):
        name = f"{4 + 2 * i}_{i % 2}_{i % 5}_2017{i:04d}.jpg.chip.jpg"
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / "images" / name)
        rows.append(f"{name},{('train', 'train', 'train', 'val', 'test')[i % 5]}")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    crop = {"style": "aligned", "margin": 0.0, "size": 40, "shift": -0.12}
    (root / "prepare.json").write_text(json.dumps({"crop": crop, "pad": 0.25, "detector": "MTCNNDetector",
                                                   "split": {"seed": 0}}))
    return root


def _train(config: TrainConfig, run: Path) -> Path:
    """Train ``config`` into ``run``; the global float32 policy is restored after mixed precision."""
    try:
        train(config, run, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    return run


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = _prepared_root(tmp_path_factory.mktemp("utk") / "aligned")
    config = TrainConfig(
        data=f"utkface:{root}", task="multitask", model="face_resnet",
        model_kwargs={"width": 4, "blocks": [1, 1]}, image_size=40, crop_size=32, batch_size=8, epochs=1,
        precision="mixed_bfloat16", early_stopping_patience=None,
    )
    return _train(config, tmp_path_factory.mktemp("runs") / "run")


def test_run_becomes_a_float32_preset_with_the_prepared_crop(finished_run, tmp_path):
    folder = export_preset(finished_run, tmp_path / "preset", license="non-commercial research (UTKFace)")
    document = json.loads((folder / "preset.json").read_text())
    assert document["crop"] == {"style": "aligned", "margin": 0.0, "size": 40, "shift": -0.12}
    assert document["image_size"] == 40 and document["input_shape"] == [32, 32, 3]
    assert document["metrics"]["protocol"].startswith("test split")
    assert document["training_data"]["prepared_with"]["pad"] == 0.25
    assert "mixed_bfloat16" not in json.dumps(document["config"])
    preset = AgeGenderClassifier.from_preset(folder)
    assert preset.dtype_policy.name == "float32"
    run_model = keras.saving.load_model(finished_run / "best.keras", compile=False)
    for mine, theirs in zip(preset.weights, run_model.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    loaded = load_model_source(folder)
    assert loaded.crop.margin == 0.0 and loaded.crop.size == 40 and loaded.image_size == 40


def test_the_run_folder_itself_cuts_faces_like_its_prepared_data(finished_run):
    loaded = load_model_source(finished_run)
    assert (loaded.crop.style, loaded.crop.margin, loaded.crop.shift, loaded.crop.size) == ("aligned", 0.0, -0.12, 40)


def test_unfinished_run_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFileError, match="no best.keras"):
        export_preset(tmp_path, tmp_path / "out")


def test_cli_export_preset_and_bad_inputs(finished_run, tmp_path, capsys):
    from adiencekit.cli import main

    assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(tmp_path / "p"),
                 "--license", "non-commercial research"]) == 0
    assert json.loads((tmp_path / "p" / "preset.json").read_text())["license"] == "non-commercial research"
    capsys.readouterr()
    assert main(["export", "--model", str(tmp_path / "nowhere"), "--format", "preset", "--out",
                 str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no config.json" in err[0]


def test_cli_export_preset_with_its_onnx_copy(finished_run, tmp_path, capsys, monkeypatch):
    """--onnx writes model.onnx into the preset (predict then runs it in ONNX Runtime); without the export extra,
    or with another format, one line and exit 2 before anything is written."""
    import importlib.util

    from adiencekit.cli import main

    out = tmp_path / "p"
    if importlib.util.find_spec("tf2onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(out), "--onnx"]) == 2
        assert "--onnx needs" in capsys.readouterr().err and not out.exists()
        return
    assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(out), "--onnx"]) == 0
    assert "wrote its ONNX copy to" in capsys.readouterr().out
    fast, keras_side = load_model_source(out), load_model_source(out, runtime="keras")
    assert fast.runtime == "onnx" and keras_side.runtime == "keras" and fast.crop == keras_side.crop
    crops = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    from adiencekit.inference import Predictor

    mine = Predictor(fast, detector=None).predict_crops(crops)
    theirs = Predictor(keras_side, detector=None).predict_crops(crops)
    for name in mine:
        np.testing.assert_allclose(mine[name], theirs[name], atol=1e-4)
    assert main(["export", "--model", str(finished_run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"),
                 "--onnx"]) == 2
    assert "--onnx is for --format preset" in capsys.readouterr().err
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else object())
    assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(tmp_path / "q"),
                 "--onnx"]) == 2
    assert "--onnx needs tf2onnx" in capsys.readouterr().err and not (tmp_path / "q").exists()


@pytest.fixture(scope="module")
def second_seed_run(finished_run, tmp_path_factory):
    """The finished run's recipe with another seed on the same split: an ensemble member."""
    config = TrainConfig.from_json(finished_run / "config.json").replace(seed=1, split_seed=0)
    return _train(config, tmp_path_factory.mktemp("runs") / "run_seed1")


def test_runs_of_one_recipe_and_split_become_an_ensemble_preset(finished_run, second_seed_run, tmp_path):
    from adiencekit.models import AgeGenderEnsemble

    folder = export_preset([finished_run, second_seed_run], tmp_path / "ensemble", license="research only")
    document = json.loads((folder / "preset.json").read_text())
    assert document["class_name"] == "AgeGenderEnsemble" and document["format_version"] == 2
    assert document["training_data"]["member_seeds"] == [0, 1]
    recorded = [document["training_data"]["data"]] + [c["data"] for c in document["training_data"]["member_configs"]]
    assert all(spec.startswith("utkface:") and "/" not in spec for spec in recorded)  # no path of this machine
    assert [member["seed"] for member in document["metrics"]["members"]] == [0, 1]
    assert document["crop"]["style"] == "aligned" and document["image_size"] == 40
    ensemble = AgeGenderEnsemble.from_preset(folder)
    assert isinstance(ensemble, AgeGenderEnsemble) and ensemble.dtype_policy.name == "float32"
    images = np.random.default_rng(3).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    singles = [keras.saving.load_model(run / "best.keras", compile=False).predict(images, verbose=0)
               for run in (finished_run, second_seed_run)]
    out = ensemble.predict(images, verbose=0)
    for head in ("gender", "age"):
        expected = (np.asarray(singles[0][head], "float32") + np.asarray(singles[1][head], "float32")) / 2
        np.testing.assert_allclose(out[head], expected, atol=2e-2)  # the runs computed in bfloat16
        assert not np.allclose(singles[0][head], singles[1][head], atol=1e-4)  # two different members
    # Exactly: each member holds its run's weights, and the outputs are the mean of the members' own.
    for member, run in zip(ensemble.members, (finished_run, second_seed_run), strict=True):
        run_model = keras.saving.load_model(run / "best.keras", compile=False)
        for mine, theirs in zip(member.weights, run_model.weights, strict=True):
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    parts = [member.predict(images, verbose=0) for member in ensemble.members]
    for head in ("gender", "age"):
        np.testing.assert_allclose(out[head], (parts[0][head] + parts[1][head]) / 2, atol=1e-6)
    loaded = load_model_source(folder)
    assert loaded.crop.size == 40 and loaded.image_size == 40


def _copy_run(source: Path, target: Path, **changes) -> Path:
    """A copy of a finished run whose config.json says ``changes``."""
    target.mkdir()
    for name in ("best.keras", "metrics.json"):
        (target / name).write_bytes((source / name).read_bytes())
    TrainConfig.from_json(source / "config.json").replace(**changes).to_json(target / "config.json")
    return target


def test_ensemble_runs_must_share_data_split_and_crop_and_not_repeat(finished_run, second_seed_run, tmp_path):
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError, match="the same config"):
        export_preset([finished_run, finished_run], tmp_path / "same")
    other_split = _copy_run(second_seed_run, tmp_path / "other_split", val_fraction=0.2)
    with pytest.raises(ConfigError, match="in val_fraction: .*share the data, the split and the crop"):
        export_preset([finished_run, other_split], tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists() and not (tmp_path / "same").exists()
    # Another schedule on the same split and crop is a legitimate member; so is a run with
    # another seed and no --split-seed, because this root's splits.csv fixes the split.
    longer = _copy_run(second_seed_run, tmp_path / "longer", epochs=2, seed=0)
    unpinned = _copy_run(second_seed_run, tmp_path / "unpinned", split_seed=None, seed=2)
    folder = export_preset([finished_run, longer, unpinned], tmp_path / "schedules")
    document = json.loads((folder / "preset.json").read_text())
    assert [c["epochs"] for c in document["training_data"]["member_configs"]] == [1, 2, 1]
    assert document["training_data"]["member_seeds"] == [0, 0, 2]


def test_without_a_splits_file_the_split_seeds_must_match(tmp_path):
    from adiencekit.errors import ConfigError
    from adiencekit.export import check_ensemble_runs

    runs = [tmp_path / "a", tmp_path / "b"]
    check_ensemble_runs(runs, [TrainConfig(seed=0), TrainConfig(seed=1, split_seed=0)])
    with pytest.raises(ConfigError, match="in split seed: "):
        check_ensemble_runs(runs, [TrainConfig(seed=0), TrainConfig(seed=1)])


def test_cli_exports_an_ensemble_preset_and_refuses_several_models_elsewhere(finished_run, second_seed_run,
                                                                            tmp_path, capsys):
    from adiencekit.cli import main

    assert main(["export", "--model", str(finished_run), "--model", str(second_seed_run), "--format", "preset",
                 "--out", str(tmp_path / "e")]) == 0
    assert "an ensemble of 2 runs" in capsys.readouterr().out
    assert main(["export", "--model", str(finished_run), "--model", str(finished_run), "--format", "preset",
                 "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the same config" in err[0]
    assert main(["export", "--model", str(finished_run), "--model", str(second_seed_run), "--format", "onnx",
                 "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exports one model" in err[0]


def test_a_multi_root_spec_is_fixed_only_when_every_root_has_its_splits_file(tmp_path):
    from adiencekit.data.utkface import SPLITS_FILE
    from adiencekit.errors import ConfigError
    from adiencekit.export import check_ensemble_runs

    roots = [tmp_path / "utk", tmp_path / "utk-extra"]
    for root in roots:
        (root / "images").mkdir(parents=True)
    spec = "utkface:" + ",".join(map(str, roots))
    runs = [tmp_path / "a", tmp_path / "b"]
    configs = [TrainConfig(data=spec, seed=0), TrainConfig(data=spec, seed=1)]
    (roots[0] / SPLITS_FILE).write_text("path,subset\n")
    with pytest.raises(ConfigError, match="in split seed: "):  # one root's split still follows the seed
        check_ensemble_runs(runs, configs)
    (roots[1] / SPLITS_FILE).write_text("path,subset\n")
    check_ensemble_runs(runs, configs)  # both fixed: every seed gives the same split


def test_cli_export_preset_with_its_int8_copy_and_flip(finished_run, tmp_path, capsys):
    """--onnx --int8 --tta flip: the int8 copy calibrated on the run's training faces, the card asking for the mirror;
    predict then runs both by default. Misuse is one line and exit 2, before anything is written."""
    import importlib.util

    from adiencekit.cli import main
    from adiencekit.inference import Predictor

    out = tmp_path / "p"
    for argv, message in (
        (["--int8"], "--int8 quantizes the preset's ONNX copy; give --onnx too"),
        (["--onnx", "--calibration-faces", "5"], "--calibration-faces and --calibration-seed are for --int8"),
        (["--tta-chosen-on", "val"], "--tta-chosen-on says how --tta was chosen; give both"),
    ):
        assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and not out.exists()
    assert main(["export", "--model", str(finished_run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"),
                 "--tta", "flip"]) == 2
    assert "--tta is for --format preset" in capsys.readouterr().err
    if not all(importlib.util.find_spec(name) for name in ("tf2onnx", "onnx", "onnxruntime")):
        pytest.skip("the int8 copy needs the export extra and onnxruntime")
    assert main(["export", "--model", str(finished_run), "--format", "preset", "--out", str(out), "--onnx", "--int8",
                 "--calibration-faces", "5", "--calibration-seed", "2", "--tta", "flip", "--tta-chosen-on",
                 "a test"]) == 0
    printed = capsys.readouterr().out
    assert "wrote its int8 copy to" in printed and (out / "model.int8.onnx").is_file()
    card = json.loads((out / "preset.json").read_text())["inference"]
    assert card["tta"] == "flip" and card["tta_chosen_on"] == "a test"
    assert card["int8"]["calibration"]["faces"] == 5 and card["int8"]["calibration"]["seed"] == 2
    assert card["int8"]["calibration"]["of"] == 24  # the run's 24 training faces: never its val or test faces
    default, plain = Predictor(str(out), detector=None), Predictor(str(out), detector=None, precision="float32",
                                                                  tta=False)
    assert (default.precision, default.tta, plain.precision, plain.tta) == ("int8", True, "float32", False)
    crops = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    mine, theirs = default.predict_crops(crops), plain.predict_crops(crops)
    for head in ("gender", "age"):
        np.testing.assert_allclose(mine[head].sum(axis=1), 1.0, atol=1e-5)
        assert np.abs(mine[head] - theirs[head]).max() < 0.2
