"""``TrainConfig.augment_on="device"``: the random crop, flip and rotation in front of the model.

The pipeline then only shuffles and batches whole images; the saved, evaluated and
exported model stays the plain network, exactly as with ``augment_on="host"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.cli import main
from adiencekit.errors import ConfigError
from adiencekit.layers import FaceAugmentation
from adiencekit.training import TrainConfig, train
from adiencekit.training.model_setup import create_run_model, device_augmented_model

from ._helpers import InterruptAfter, fast_config, make_small_tree


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_tree(tmp_path_factory.mktemp("adience"))


class _BatchShapes(keras.callbacks.Callback):
    """Records the input shape of the model ``fit`` trains."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int | None, ...]] = []

    def on_train_begin(self, logs=None) -> None:
        self.shapes.append(tuple(self.model.input_shape))


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="augment_on must be one of"):
        TrainConfig(augment_on="gpu")
    with pytest.raises(ConfigError, match="augment='photo' re-compresses JPEGs, which only the host can do"):
        TrainConfig(augment_on="device", augment="photo")


def test_the_wrapper_shares_every_weight_and_crops_per_image() -> None:
    config = TrainConfig(model="scratch_cnn", model_kwargs={"base_filters": 4, "dense_units": 8},
                         image_size=40, crop_size=32, augment_on="device", rotation=5.0, seed=3)
    model = create_run_model(config)
    wrapper = device_augmented_model(model, config)
    assert wrapper.input_shape == (None, 40, 40, 3) and model.input_shape == (None, 32, 32, 3)
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in wrapper.trainable_weights}
    layer = wrapper.get_layer("device_augmentation")
    assert isinstance(layer, FaceAugmentation)
    assert (layer.crop_size, layer.flip, layer.rotation, layer.seed) == ((32, 32), True, 5.0, 3)
    # Inference (Keras's validation) is the model on the centre window.
    images = np.random.default_rng(0).uniform(0, 255, (4, 40, 40, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(wrapper(images, training=False)),
                               np.asarray(model(images[:, 4:36, 4:36], training=False)), rtol=1e-5, atol=1e-6)


def test_device_run_trains_the_wrapper_and_saves_the_plain_model(small_root: Path, tmp_path: Path) -> None:
    shapes = _BatchShapes()
    config = fast_config(small_root, task="multitask", augment_on="device", epochs=2)
    result = train(config, tmp_path / "run", verbose=0, callbacks=[shapes])
    assert shapes.shapes == [(None, 40, 40, 3)]  # fit saw whole images
    saved = keras.saving.load_model(tmp_path / "run" / "best.keras")
    assert saved.input_shape == (None, 32, 32, 3)
    assert not any(isinstance(layer, FaceAugmentation) for layer in saved.layers)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["augment_on"] == "device"
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert {"val_gender_accuracy", "val_age_accuracy"} <= set(result.history[-1])
    for a, b in zip(saved.get_weights(), result.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_training_pipeline_only_batches_whole_images(small_root: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from adiencekit.data import pipeline

    calls: list[dict] = []
    real = pipeline.build_pipeline

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_pipeline", spy)
    monkeypatch.setattr(pipeline, "augment_batch", _refuse)  # no per-image work may run
    train(fast_config(small_root, augment_on="device", rotation=10.0, epochs=1, input_format="tf"),
          tmp_path / "run", verbose=0)
    train_call, val_call = calls[0], calls[1]
    assert train_call["training"] and train_call["crop_size"] == 40 and not train_call["flip"]
    assert train_call["rotation"] == 0.0
    assert not val_call["training"] and val_call["crop_size"] == 40


def _refuse(*args, **kwargs):
    raise AssertionError("the pipeline augmented although the device does")


def test_an_interrupted_device_run_resumes_after_its_last_epoch(small_root: Path, tmp_path: Path) -> None:
    config = fast_config(small_root, augment_on="device", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run", verbose=0, callbacks=[InterruptAfter(2)])
    result = train(config, tmp_path / "run", verbose=0)
    assert result.resumed_from_epoch == 2
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_strong_augmentation_moves_to_the_device_too(small_root: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from adiencekit.layers import PhotoAugmentation
    from adiencekit.training import fit as fit_module

    config = fast_config(small_root, augment_on="device", augment="strong", epochs=1, seed=4)
    wrapper = device_augmented_model(create_run_model(config), config)
    photo = wrapper.get_layer("device_photo_augmentation")
    assert isinstance(photo, PhotoAugmentation) and photo.seed == 4
    # behind the crop, as on the host; in inference the model sees the centre window untouched
    names = [layer.name for layer in wrapper.layers]
    assert names.index("device_augmentation") < names.index("device_photo_augmentation")
    monkeypatch.setattr(fit_module, "_strong_augmentation", _refuse)  # the pipeline must not do it
    result = train(config, tmp_path / "run", verbose=0)
    saved = keras.saving.load_model(tmp_path / "run" / "best.keras")
    assert not any(isinstance(layer, (FaceAugmentation, PhotoAugmentation)) for layer in saved.layers)
    assert result.history and (tmp_path / "run" / "metrics.json").is_file()


def test_cli_flag_and_its_mistakes(small_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--data", str(small_root), "--augment-on", "device", "--augment", "photo",
                 "--out", str(tmp_path / "bad"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "augment_on='device'" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "bad").exists()
    assert main(["train", "--augment-on", "gpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--augment-on: invalid choice: 'gpu'" in err[0]


@pytest.mark.parametrize(("rotation", "augment"), [(0.0, "standard"), (5.0, "standard"), (0.0, "strong")])
def test_the_wrapper_keeps_xla(rotation: float, augment: str) -> None:
    """Keras trains a model without jit_compile when one of its layers says it does not support it.

    Keras's own RandomRotation is not XLA-compatible on TensorFlow (ImageProjectiveTransformV3),
    so a rotating wrapper keeps XLA on JAX only."""
    from keras.src.trainers.trainer import model_supports_jit

    config = TrainConfig(model="scratch_cnn", model_kwargs={"base_filters": 4, "dense_units": 8},
                         image_size=40, crop_size=32, augment_on="device", rotation=rotation, augment=augment)
    wrapper = device_augmented_model(create_run_model(config), config)
    expected = rotation == 0 or keras.backend.backend() == "jax"
    assert all(layer.supports_jit for layer in wrapper._flatten_layers()) is expected
    assert model_supports_jit(wrapper) is expected
