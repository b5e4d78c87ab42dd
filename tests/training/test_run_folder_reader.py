"""RunFolder, the one reader of run folders: state, config, model, crop, what a preset of it records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adiencekit.errors import ModelFileError
from adiencekit.inference.loading import load_model_source
from adiencekit.models import scratch_cnn
from adiencekit.testing import assert_outputs_close
from adiencekit.training import TrainConfig
from adiencekit.training.run_folder import RunFolder, mark_failed

SIZE = 32


def images(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


@pytest.fixture(scope="module")
def trained():
    model = scratch_cnn(task="multitask", input_shape=(SIZE, SIZE, 3), conv_layers=2, base_filters=4,
                        dense_units=8, pooling="avg")
    model.compile(optimizer="adam")
    labels = {"gender": np.array([0, 1] * 3), "age": np.arange(6) % 8}
    model.fit(images(), labels, epochs=1, verbose=0)
    return model


def _config() -> TrainConfig:
    return TrainConfig(
        model="scratch_cnn", task="multitask", data="synthetic", image_size=36, crop_size=SIZE,
        model_kwargs={"conv_layers": 2, "base_filters": 4, "dense_units": 8, "pooling": "avg"},
    )


def test_a_training_run_folder_loads_as_a_model(trained, tmp_path):
    """config.json + best.weights.h5 (a run still training) and + best.keras (a finished run)."""
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    _config().to_json(run.config_path)
    with pytest.raises(ModelFileError, match="holds no trained model"):
        run.load_model()
    trained.save_weights(run.weights_path)
    expected = trained.predict(images(), verbose=0)
    assert_outputs_close(expected, run.load_model().predict(images(), verbose=0), atol=0, rtol=0)
    assert run.preset_metadata()["image_size"] == 36
    assert run.preset_metadata()["metrics"] is None
    trained.save(run.model_path)
    run.metrics_path.write_text(json.dumps({"test": {"task": "multitask", "heads": {}}}))
    finished = load_model_source(run.path)
    assert_outputs_close(expected, finished.model.predict(images(), verbose=0), atol=0, rtol=0)
    assert "test_fold=0" in run.preset_metadata()["metrics"]["protocol"]
    assert finished.image_size == 36
    # rebuilt in float32 under another name (what export does), the same outputs
    rebuilt = run.load_model(float32=True, name="renamed")
    assert rebuilt.name == "renamed"
    assert_outputs_close(expected, rebuilt.predict(images(), verbose=0), atol=1e-6, rtol=0)


def test_states_and_what_each_command_is_told(trained, tmp_path):
    run = RunFolder(tmp_path / "run")
    assert run.state == "empty" and not run.is_run()
    with pytest.raises(ModelFileError, match=r"run folder not found: .* \(no config.json\)"):
        run.read_config()
    run.path.mkdir()
    with pytest.raises(ModelFileError, match=r"is not a run folder: no config.json$"):
        run.read_config()
    _config().to_json(run.config_path)
    trained.save(run.model_path)
    with pytest.raises(ModelFileError, match="holds an unfinished run .* export needs a finished run"):
        run.require_finished("export")
    run.metrics_path.write_text(json.dumps({"test": {}}))
    assert run.state == "finished" and run.require_finished("export") == _config()
    mark_failed(run.path, {"reason": "loss exploded"})
    with pytest.raises(ModelFileError, match=r"holds a failed run \(loss exploded\)"):
        run.require_finished("export")
    run.config_path.write_text("{not json")
    with pytest.raises(ModelFileError, match="cannot read the run's config"):
        run.read_config()


def test_a_damaged_best_keras_is_called_damaged(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    _config().to_json(run.config_path)
    run.model_path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFileError, match=r"cannot load .*best.keras: the file is damaged or not a Keras model") as info:
        run.load_model()
    assert "File not found" not in str(info.value)
    with pytest.raises(ModelFileError, match="damaged"):
        load_model_source(run.path)


def test_the_recorded_crop_follows_prepare_json(tmp_path):
    """A run on a prepared UTKFace root records prepare.json's crop; the dataset's framing otherwise."""
    root = tmp_path / "prepared"
    (root / "images").mkdir(parents=True)
    crop = {"style": "aligned", "margin": 0.0, "size": 112, "shift": -0.12}
    (root / "prepare.json").write_text(json.dumps({"crop": crop}))
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    _config().replace(data=f"utkface:{root}").to_json(run.config_path)
    assert run.recorded_crop() == crop
    assert run.preset_metadata()["crop"] == crop
    (root / "prepare.json").unlink()
    assert run.recorded_crop() == {"style": "center", "margin": 0.0, "size": 36}
