"""Tests for adiencekit.training.config."""

from __future__ import annotations

import json

import numpy as np
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
        ({"split_seed": -1}, "split_seed must be None or a non-negative integer"),
        ({"split_seed": True}, "split_seed must be None or a non-negative integer"),
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


# -- dataset fields record what is used (issue 9) ------------------------------------------
def test_utkface_config_records_no_fold_no_faces_and_its_native_size() -> None:
    config = TrainConfig(data="utkface:/data/utk")
    assert (config.faces, config.age_policy, config.test_fold) == (None, None, None)
    assert (config.image_size, config.test_fraction) == (200, 0.2)
    saved = json.loads(config.to_json())
    assert saved["faces"] is None and saved["test_fold"] is None and saved["image_size"] == 200
    adience = TrainConfig()
    assert (adience.faces, adience.age_policy, adience.test_fold, adience.image_size, adience.test_fraction) == (
        "aligned", "drop", 0, 256, None)


def test_switching_data_resolves_unset_fields_again_and_keeps_explicit_ones() -> None:
    utk = TrainConfig(task="age").replace(data="utkface:/u")
    assert (utk.image_size, utk.test_fold, utk.faces) == (200, None, None)
    back = utk.replace(data="synthetic")
    assert (back.image_size, back.test_fold, back.faces, back.test_fraction) == (256, 0, "aligned", None)
    explicit = TrainConfig(image_size=128).replace(data="utkface:/u")
    assert explicit.image_size == 128


@pytest.mark.parametrize(("changes", "message"), [
    ({"data": "utkface:/u", "test_fold": 2}, "test_fold=2 does not apply to utkface data.*set test_fraction"),
    ({"data": "utkface:/u", "faces": "faces"}, "faces='faces' does not apply to utkface"),
    ({"data": "utkface:/u", "age_policy": "map"}, "age_policy='map' does not apply"),
    ({"test_fraction": 0.3}, "test_fraction=0.3 does not apply to synthetic data"),
    ({"data": "/adience", "test_fraction": 0.3}, "test_fraction=0.3 does not apply to adience data"),
])
def test_settings_that_do_not_apply_to_the_dataset_are_config_errors(changes: dict, message: str) -> None:
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_legacy_flat_config_files_still_load(tmp_path) -> None:
    """config.json files written before dataset fields could be unset."""
    legacy = TrainConfig().to_dict()
    legacy.update(faces="aligned", age_policy="drop", test_fold=0, test_fraction=0.2, image_size=256)
    assert TrainConfig.from_dict(legacy) == TrainConfig()
    utk = dict(legacy, data="utkface:/u")
    loaded = TrainConfig.from_dict(utk)
    assert (loaded.faces, loaded.test_fold, loaded.age_policy, loaded.image_size) == (None, None, None, 256)
    (tmp_path / "config.json").write_text(json.dumps(utk))
    assert TrainConfig.from_json(tmp_path / "config.json") == loaded
    with pytest.raises(ValueError, match="test_fold=3 does not apply"):
        TrainConfig.from_dict(dict(utk, test_fold=3))


def test_paths_expand_tilde(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = TrainConfig(data="~/adience")
    assert config.dataset_path == tmp_path / "adience"
    assert TrainConfig(data="utkface:~/utk").dataset_path == tmp_path / "utk"
    config.to_json("~/config.json")
    assert TrainConfig.from_json("~/config.json") == config


# -- validate(): everything checked before anything is written (issue 8) ---------------------
def test_validate_names_a_model_kwargs_typo_and_the_allowed_keys() -> None:
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model 'scratch_cnn' does not take \['conv_layer'\] \(did you mean "
                                          r"'conv_layers'\?\); it takes \[.*'conv_layers'.*\]"):
        TrainConfig(model_kwargs={"conv_layer": 4}).validate(check_data=False)
    assert TrainConfig(model_kwargs={"conv_layers": 4}, crop_size=64).validate(check_data=False).crop_size == 64


def test_validate_checks_model_name_crop_and_data_folder(tmp_path) -> None:
    from adiencekit.errors import ConfigError, DatasetNotFoundError

    with pytest.raises(ConfigError, match=r"unknown model 'levi_hasner' \(did you mean 'levi_hassner'\?\)"):
        TrainConfig(model="levi_hasner").validate()
    with pytest.raises(ConfigError, match="takes 299 px crops but TrainConfig.image_size is 256"):
        TrainConfig(model="basic_inception", image_size=256).validate()
    assert TrainConfig(model="levi_hassner").resolved_crop_size() == 227
    # Unset sizes on UTKFace: the whole 200 px image, never scaled up to the model's 256.
    assert TrainConfig(data="utkface:/u").resolved_crop_size() == 200
    with pytest.raises(DatasetNotFoundError, match=r"nowhere, which is not a folder"):
        TrainConfig(data=str(tmp_path / "nowhere")).validate()
    with pytest.raises(DatasetNotFoundError, match="not a folder"):
        TrainConfig(data=f"utkface:{tmp_path / 'nowhere'}").validate()
    assert TrainConfig(data=str(tmp_path)).validate() is not None


def test_errors_are_config_errors() -> None:
    from adiencekit.errors import ConfigError

    for bad in ({"task": "race"}, {"batch_size": 0}, {"data": ""}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)
    with pytest.raises(ConfigError, match="unknown TrainConfig field"):
        TrainConfig().replace(epoch=3)
    with pytest.raises(ConfigError, match="cannot parse"):
        TrainConfig.from_json("{not json")


def test_every_field_is_in_exactly_one_group() -> None:
    import dataclasses

    from adiencekit.training.config import FIELD_GROUPS

    grouped = [name for names in FIELD_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(f.name for f in dataclasses.fields(TrainConfig))
    config = TrainConfig(task="age", epochs=3)
    assert config.grouped()["optimisation"]["epochs"] == 3 and config.grouped()["data"]["task"] == "age"


def test_training_options_augment_and_smoothing() -> None:
    config = TrainConfig(task="multitask", augment="strong", label_smoothing=0.1, age_neighbour_smoothing=0.2)
    assert TrainConfig.from_json(config.to_json()) == config
    assert config.grouped()["data"]["augment"] == "strong"
    assert config.grouped()["optimisation"]["label_smoothing"] == 0.1
    assert config.grouped()["optimisation"]["age_neighbour_smoothing"] == 0.2
    defaults = TrainConfig()
    assert (defaults.augment, defaults.label_smoothing, defaults.age_neighbour_smoothing) == ("standard", 0.0, 0.0)
    # A config.json written before these fields reads with their defaults (today's behaviour).
    old = {k: v for k, v in defaults.to_dict().items() if k not in ("augment", "label_smoothing", "age_neighbour_smoothing")}
    assert TrainConfig.from_dict(old) == defaults


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"augment": "heavy"}, r"augment must be one of \('standard', 'strong', 'photo'\), got 'heavy'"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be a number in \[0, 1\), got 1.0"),
        ({"label_smoothing": -0.1}, r"label_smoothing must be a number in \[0, 1\)"),
        ({"label_smoothing": True}, r"label_smoothing must be a number in \[0, 1\)"),
        ({"task": "age", "age_neighbour_smoothing": "0.2"}, r"age_neighbour_smoothing must be a number in \[0, 1\)"),
        ({"task": "age", "label_smoothing": 0.5, "age_neighbour_smoothing": 0.5}, "must be less than 1"),
        ({"task": "gender", "age_neighbour_smoothing": 0.2}, "needs an age head"),
        ({"task": "multitask", "gender_loss_weight": 0}, r"gender_loss_weight must be a number in \(0, 100\], got 0"),
        ({"task": "multitask", "gender_loss_weight": -1.0}, r"gender_loss_weight must be a number in \(0, 100\]"),
        ({"task": "multitask", "gender_loss_weight": "2"}, r"gender_loss_weight must be a number in \(0, 100\]"),
        ({"task": "multitask", "gender_loss_weight": True}, r"gender_loss_weight must be a number in \(0, 100\]"),
        ({"task": "gender", "gender_loss_weight": 2.0}, "task 'gender' has one head"),
        ({"task": "age", "gender_loss_weight": 0.5}, "task 'age' has one head"),
        ({"task": "age", "age_ordinal_weight": -1.0}, r"age_ordinal_weight must be a number in \[0, 100\]"),
        ({"task": "age", "age_ordinal_weight": "1"}, r"age_ordinal_weight must be a number in \[0, 100\]"),
        ({"task": "gender", "age_ordinal_weight": 1.0}, "age_ordinal_weight=1.0 needs an age head"),
    ],
)
def test_training_options_are_checked(changes: dict, message: str) -> None:
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_the_split_seed_fixes_the_split_while_the_seed_changes_the_rest(tmp_path) -> None:
    from adiencekit.training.data_loading import load_split

    def names(config: TrainConfig) -> dict[str, list[str]]:
        split = load_split(config)
        return {subset: sorted(map(str, getattr(split, subset).frame.iloc[:, 0])) for subset in ("train", "val", "test")}

    base = TrainConfig(test_fold=0)
    assert base.resolved_split_seed() == 0 and base.replace(seed=4).resolved_split_seed() == 4
    assert names(base.replace(seed=1, split_seed=0)) == names(base)
    assert names(base.replace(seed=1))["val"] != names(base)["val"]  # the seed alone moves the validation users
    assert TrainConfig.from_json(base.replace(split_seed=0).to_json()).split_seed == 0


def test_the_gender_loss_weight_weighs_the_heads_in_the_compiled_loss() -> None:
    import keras

    from adiencekit.models import AgeGenderClassifier
    from adiencekit.models.backbones import ScratchCNNBackbone
    from adiencekit.training.model_setup import compile_model

    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = {"gender": np.array([0, 1, 0, 1]), "age": np.array([0, 3, 7, -1])}
    results = {}
    for weight in (1.0, 3.0):
        keras.utils.set_random_seed(0)
        backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
        model = AgeGenderClassifier(backbone, task="multitask", pooling="avg")
        config = TrainConfig(task="multitask", gender_loss_weight=weight, age_neighbour_smoothing=0.2)
        compile_model(model, config, "sgd")
        results[weight] = model.evaluate(images, labels, verbose=0, return_dict=True)
    for weight, result in results.items():
        assert result["loss"] == pytest.approx(weight * result["gender_loss"] + result["age_loss"], rel=1e-5)
    assert results[3.0]["gender_loss"] == pytest.approx(results[1.0]["gender_loss"], rel=1e-6)
    assert results[3.0]["loss"] > results[1.0]["loss"]
    saved = TrainConfig(task="multitask", gender_loss_weight=2.5)
    assert TrainConfig.from_json(saved.to_json()).gender_loss_weight == 2.5
    assert TrainConfig.from_dict({k: v for k, v in TrainConfig().to_dict().items()
                                  if k != "gender_loss_weight"}).gender_loss_weight == 1.0


def test_the_age_ordinal_weight_reaches_the_age_loss_only() -> None:
    from adiencekit.models import AgeGenderClassifier
    from adiencekit.models.backbones import ScratchCNNBackbone
    from adiencekit.training import get_recipe
    from adiencekit.training.model_setup import compile_model

    backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
    model = AgeGenderClassifier(backbone, task="multitask", pooling="avg")
    compile_model(model, TrainConfig(task="multitask", age_ordinal_weight=1.5), "sgd")
    assert (model.loss["age"].ordinal_weight, model.loss["gender"].ordinal_weight) == (1.5, 0.0)
    assert TrainConfig.from_json(TrainConfig(task="age", age_ordinal_weight=2.0).to_json()).age_ordinal_weight == 2.0
    assert TrainConfig.from_dict({k: v for k, v in TrainConfig().to_dict().items()
                                  if k != "age_ordinal_weight"}).age_ordinal_weight == 0.0
    assert get_recipe("utkface_multitask", task="gender", age_ordinal_weight=0.0).age_ordinal_weight == 0.0
