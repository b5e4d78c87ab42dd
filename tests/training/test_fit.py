"""End-to-end tests of adiencekit.training.train on tiny synthetic trees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.training import RunExistsError, train
from adiencekit.training.data_loading import load_split
from adiencekit.training.model_setup import build_optimizer

from ._helpers import make_tiny_tree, tiny_config

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_tree(tmp_path_factory.mktemp("adience"))


@pytest.fixture(scope="module")
def gender_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory):
    config = tiny_config(tiny_root, task="gender", epochs=10)
    return train(config, tmp_path_factory.mktemp("runs") / "gender", verbose=0)


@pytest.mark.slow
def test_gender_run_beats_chance_and_writes_every_artifact(gender_run) -> None:
    run = gender_run.run_dir
    for name in ("config.json", "best.keras", "history.json", "history.csv", "metrics.json", "data_report.txt",
                 "plots/curves.png", "plots/confusion_gender.png", "plots/predictions.png"):
        assert (run / name).is_file(), name
    # One copy of the best weights (best.keras); no resume state, no lock once finished.
    for name in ("backup", "best.weights.h5", "best.weights.h5.json", "run.lock"):
        assert not (run / name).exists(), name
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, 11))  # 1-based, as on the console
    assert all(row["images_per_second"] > 0 for row in history)
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test"]["heads"]["gender"]
    assert test["n"] == metrics["sizes"]["test"] > 0
    assert len(test["confusion"]) == 2 and test["one_off"] is None
    # Chance is 0.5; measured 0.95-1.0 on this tree.
    assert test["exact"] >= 0.75, test
    assert max(row["val_accuracy"] for row in history) >= 0.75
    assert metrics["best_epoch"] == min(history, key=lambda r: r["val_loss"])["epoch"]


@pytest.mark.slow
def test_best_keras_holds_the_best_weights(gender_run) -> None:
    restored = keras.saving.load_model(gender_run.run_dir / "best.keras", compile=False)
    images = np.random.default_rng(0).uniform(0, 255, (4, 40, 40, 3)).astype("float32")
    np.testing.assert_allclose(restored.predict_on_batch(images), gender_run.model.predict_on_batch(images), atol=1e-5)


@pytest.mark.slow
def test_finished_run_is_never_overwritten_silently(gender_run) -> None:
    before = (gender_run.run_dir / "metrics.json").read_bytes()
    with pytest.raises(RunExistsError, match="holds a finished run"):
        train(gender_run.config, gender_run.run_dir, verbose=0)
    assert (gender_run.run_dir / "metrics.json").read_bytes() == before


@pytest.mark.slow
def test_age_run_beats_chance(tiny_root: Path, tmp_path: Path) -> None:
    kwargs = {"conv_layers": 4, "base_filters": 16, "dense_units": 64, "pooling": "avg", "batch_norm": True}
    config = tiny_config(tiny_root, task="age", epochs=20, model_kwargs=kwargs)
    result = train(config, tmp_path / "age", verbose=0)
    val_labels = np.asarray(load_split(config).val.labels)
    val_majority = np.bincount(val_labels).max() / val_labels.size
    best_val = max(row["val_accuracy"] for row in result.history)
    # Eight classes: chance 0.125. Measured: best validation accuracy 0.50 against a
    # validation majority class of about 0.2; test 1-off 0.70 (chance about 0.34).
    assert best_val >= max(0.3, val_majority + 0.1), (best_val, val_majority)
    head = result.evaluation.heads["age"]
    assert head.one_off is not None and head.one_off >= 0.5, head
    assert (result.run_dir / "plots" / "confusion_age.png").is_file()
    assert "val_one_off" in result.history[-1]


@pytest.mark.slow
def test_multitask_with_mixed_bfloat16_trains(tiny_root: Path, tmp_path: Path) -> None:
    previous = keras.config.dtype_policy().name
    config = tiny_config(tiny_root, task="multitask", precision="mixed_bfloat16", epochs=1, steps_per_epoch=3)
    result = train(config, tmp_path / "multi", verbose=0)
    assert keras.config.dtype_policy().name == previous  # restored after the run
    assert result.metrics["devices"]["precision"] == "mixed_bfloat16"
    conv = result.model.get_layer("conv1")
    assert conv.compute_dtype == "bfloat16"
    assert set(result.evaluation.heads) == {"gender", "age"}
    assert np.isfinite(result.history[0]["loss"]) and np.isfinite(result.history[0]["val_loss"])
    assert {"gender_accuracy", "age_accuracy", "age_one_off"} <= set(result.history[0])
    assert (result.run_dir / "plots" / "confusion_age.png").is_file()


@pytest.mark.slow
def test_mixed_float16_wraps_the_optimizer_in_loss_scaling(tiny_root: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_root, precision="mixed_float16", epochs=1, steps_per_epoch=2, validation_steps=1,
                         test_steps=1, cache=False)
    result = train(config, tmp_path / "fp16", verbose=0)
    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.model.outputs[0].dtype == "float32"  # softmax head stays float32
    assert np.isfinite(result.history[0]["loss"])


def test_unfinished_run_of_another_config_is_refused(tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    tiny_config(tiny_root, epochs=3).to_json(run / "config.json")
    with pytest.raises(RunExistsError, match=r"different config \(epochs differ\); use the same settings to resume"):
        train(tiny_config(tiny_root, epochs=4), run, verbose=0)
    with pytest.raises(RunExistsError, match=r"resume it \(resume=True\) or use --overwrite"):
        train(tiny_config(tiny_root, epochs=3), run, resume=False, verbose=0)


@pytest.mark.slow
def test_overwrite_replaces_a_finished_run_and_keeps_foreign_files(tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    train(tiny_config(tiny_root, epochs=1, steps_per_epoch=2, validation_steps=1, test_steps=1), run, verbose=0)
    config = tiny_config(tiny_root, epochs=2, steps_per_epoch=2, validation_steps=1, test_steps=1)
    result = train(config, run, overwrite=True, verbose=0)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert (run / "notes.txt").read_text() == "mine"


_KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, keras
    from adiencekit.training import TrainConfig, train

    class KillAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"finished epoch {epoch}", flush=True)
            if epoch == 1 and os.environ.get("KILL") == "1":
                os.kill(os.getpid(), signal.SIGKILL)

    config = TrainConfig.from_json(sys.argv[1])
    result = train(config, sys.argv[2], verbose=0, callbacks=[KillAfterSecondEpoch()])
    print("resumed_from", result.resumed_from_epoch, flush=True)
    """
)


@pytest.mark.slow
def test_resume_after_a_real_sigkill_loses_no_finished_epoch(tiny_root: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    tiny_config(tiny_root, epochs=4, steps_per_epoch=3, validation_steps=2, test_steps=2).to_json(config_path)
    script = tmp_path / "run_train.py"
    script.write_text(_KILL_SCRIPT)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = subprocess.run([sys.executable, str(script), str(config_path), str(run)], env={**env, "KILL": "1"},
                            capture_output=True, text=True, timeout=240)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "finished epoch 1" in killed.stdout and not (run / "metrics.json").exists()
    before = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in before] == [1, 2]
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 2

    resumed = subprocess.run([sys.executable, str(script), str(config_path), str(run)], env=env,
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed_from 2" in resumed.stdout
    assert "finished epoch 0" not in resumed.stdout and "finished epoch 2" in resumed.stdout
    after = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in after] == [1, 2, 3, 4]
    assert after[:2] == before  # the finished epochs are kept exactly
    assert (run / "metrics.json").is_file() and not (run / "backup").exists()


def test_crop_size_and_optimizer_helpers(tiny_root: Path) -> None:
    assert tiny_config(tiny_root, model="levi_hassner", crop_size=None, image_size=256).resolved_crop_size() == 227
    with pytest.raises(ValueError, match="takes 227 px crops but TrainConfig.image_size is 64"):
        tiny_config(tiny_root, model="levi_hassner", crop_size=None, image_size=64).resolved_crop_size()
    step = build_optimizer(tiny_config(tiny_root, optimizer="sgd", lr_schedule="step", lr_step_iterations=10), 5)
    step.iterations.assign(9)
    assert float(step.learning_rate) == pytest.approx(2e-3)
    step.iterations.assign(11)
    assert float(step.learning_rate) == pytest.approx(2e-4)


def test_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="which is not a folder"):
        train(tiny_config(tmp_path / "nowhere"), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()  # nothing written for a run that cannot start


@pytest.mark.slow
@pytest.mark.realdata
def test_real_utkface_multitask_beats_the_majority_baseline(utkface_dir: Path, tmp_path: Path) -> None:
    """1,600 real UTKFace faces (random sample), 32 px crops, 12 epochs: about 25 s."""
    names = sorted(os.listdir(utkface_dir / "images"))
    sample = np.random.default_rng(0).choice(names, 1600, replace=False)
    (tmp_path / "utk" / "images").mkdir(parents=True)
    for name in sample:
        os.symlink(utkface_dir / "images" / name, tmp_path / "utk" / "images" / name)
    config = tiny_config(
        tmp_path, data=f"utkface:{tmp_path / 'utk'}", task="multitask", image_size=40, crop_size=32,
        batch_size=32, epochs=12, val_fraction=0.15, test_fraction=0.25,
    )
    result = train(config, tmp_path / "run", verbose=0)
    assert result.metrics["sizes"] == {"train": 960, "val": 240, "test": 400}
    for head in ("gender", "age"):
        scores = result.evaluation.heads[head]
        confusion = np.asarray(scores.confusion)
        # The best constant prediction on this very test set (an upper bound on any majority baseline).
        majority = confusion.sum(axis=1).max() / confusion.sum()
        # Measured: gender 0.71 vs 0.55, age 0.35 vs 0.19.
        assert scores.exact >= majority + 0.08, (head, scores.exact, majority)


def test_strong_augmentation_reaches_training_only_and_the_loss_gets_the_smoothing(tmp_path: Path) -> None:
    """augment="strong" maps PhotoAugmentation over the training batches; smoothing reaches the losses."""
    from adiencekit.training.fit import _strong_augmentation

    from ._helpers import fast_config, make_small_tree

    root = make_small_tree(tmp_path / "data")
    config = fast_config(root, task="multitask", epochs=1, augment="strong", label_smoothing=0.1,
                         age_neighbour_smoothing=0.2)
    split = load_split(config)
    args = {"image_size": 40, "crop_size": 32, "batch_size": 8, "seed": 0}
    plain = split.train.pipeline(training=False, **args)
    assert _strong_augmentation(plain, config.replace(augment="standard")) is plain
    augmented = _strong_augmentation(plain, config)
    (before, labels_before), (after, labels_after) = next(iter(plain)), next(iter(augmented))
    assert after.shape == before.shape and after.dtype.name == "float32"
    assert not np.allclose(after.numpy(), before.numpy())
    assert all(np.array_equal(labels_before[k].numpy(), labels_after[k].numpy()) for k in labels_before)

    result = train(config, tmp_path / "run", verbose=0)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["augment"], saved["label_smoothing"], saved["age_neighbour_smoothing"]) == ("strong", 0.1, 0.2)
    assert result.model.loss["age"].neighbour_smoothing == 0.2
    assert result.model.loss["gender"].label_smoothing == 0.1
    restored = keras.saving.load_model(tmp_path / "run" / "best.keras")
    assert restored.loss["age"].get_config() == result.model.loss["age"].get_config()
    assert not any(type(layer).__name__ == "PhotoAugmentation" for layer in restored._flatten_layers())


def test_train_feeds_uint8_batches_to_the_model(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train() builds its pipelines with uint8 output (a quarter of the bytes); the model casts."""
    from adiencekit.data.splits import Subset
    from adiencekit.training.fit import TRAINING_INPUT_DTYPE

    dtypes: list[str] = []
    original = Subset.pipeline

    def recording(self: Subset, *args: object, **kwargs: object) -> object:
        dataset = original(self, *args, **kwargs)
        dtypes.append(dataset.element_spec[0].dtype.name)
        return dataset

    monkeypatch.setattr(Subset, "pipeline", recording)
    result = train(tiny_config(tiny_root, epochs=1), tmp_path / "run", verbose=0)
    assert TRAINING_INPUT_DTYPE == "uint8"
    assert dtypes[:2] == ["uint8", "uint8"]  # the training and the validation pipeline
    assert np.isfinite(result.history[-1]["loss"])
