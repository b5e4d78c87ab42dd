"""AgeGenderClassifier: in-model augmentation, TTA, class names, arguments, the TF-Hub backbone."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from adiencekit.layers import FaceAugmentation, TestTimeAugmentation, center_crop, ten_crop
from adiencekit.models import AgeGenderClassifier, ScratchCNNBackbone, TFHubBackbone
from adiencekit.testing import assert_outputs_close, assert_saving_round_trip

PREPROCESSING = ScratchCNNBackbone.default_preprocessing


def images(n: int = 4, size: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def small(task: str = "gender", **kwargs) -> AgeGenderClassifier:
    keras.utils.set_random_seed(0)
    backbone = ScratchCNNBackbone(input_shape=(8, 8, 3), conv_layers=1, base_filters=4)
    return AgeGenderClassifier(backbone, task, pooling="avg", hidden_units=(4,), preprocessing=PREPROCESSING, **kwargs)


def test_in_model_augmentation_trains_randomly_and_predicts_on_the_centre(tmp_path):
    """FaceAugmentation as the task model's augmentation: active in training only, every backend."""
    model = small("multitask", augmentation=FaceAugmentation(8, rotation=10.0, seed=0), input_shape=(12, 12, 3))
    assert model.input_shape == (None, 12, 12, 3) and model.backbone.input_shape == (None, 8, 8, 3)
    x = images()
    first, second = model(x, training=True), model(x, training=True)
    assert not np.allclose(keras.ops.convert_to_numpy(first["age"]), keras.ops.convert_to_numpy(second["age"]))
    after_augmentation = model.get_layer("scratch_preprocessing").input
    centre_model = keras.Model(after_augmentation, model.output)
    assert_outputs_close(centre_model(np.asarray(center_crop(x, 8)), training=False), model.predict(x, verbose=0))
    model.compile(optimizer="adam")
    history = model.fit(x, {"gender": np.array([0, 1, 0, 1]), "age": np.array([0, 3, -1, 7])}, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    restored = assert_saving_round_trip(model, x, tmp_path)
    assert isinstance(restored.augmentation, FaceAugmentation) and restored.augmentation.rotation == 10.0


def test_predict_tta_is_the_test_time_augmentation_wrapper():
    model = small("age")
    x = images(3, size=10)
    ten = model.predict_tta(x, mode="ten_crop", verbose=0)
    expected = model.predict(np.asarray(ten_crop(x, 8, flatten=True)), verbose=0).reshape(3, 10, 8).mean(axis=1)
    np.testing.assert_allclose(ten, expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, tta="ten_crop", verbose=0), ten, atol=1e-6)
    wrapper = TestTimeAugmentation(model, mode="flip")
    np.testing.assert_allclose(model.predict_tta(x, verbose=0), np.asarray(wrapper(x)), atol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of"):
        model.predict_tta(x, mode="five_crop")
    with pytest.raises(TypeError, match="takes only"):
        model.predict(x, tta="flip", steps=1)


def test_class_names_and_heads():
    assert small("gender").class_names == {"gender": ("female", "male")}
    multitask = small("multitask")
    assert multitask.heads == ("gender", "age")
    assert multitask.class_names["age"] == ("0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100")
    assert small("age", classes=3).class_names == {"age": ("0", "1", "2")}


def test_get_layer_looks_into_the_backbone_and_names_both_when_missing():
    model = small()
    assert model.get_layer("conv1") is model.backbone.get_layer("conv1")
    with pytest.raises(ValueError, match="no layer named 'nope' in .* or its backbone"):
        model.get_layer("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "race"}, "task must be one of"),
        ({"pooling": None}, "pooling of a classification top must be one of"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ({"hidden_units": (0,)}, "hidden_units must be positive ints"),
        ({"hidden_names": ("a", "b")}, "one name per hidden layer"),
        ({"preprocessing": {"kind": "zscore"}}, "preprocessing must be None or a dict"),
        ({"input_shape": (12, 12, 3)}, "only an augmentation layer that crops"),
        ({"task": "multitask", "classes": 3}, "classes cannot be set for task='multitask'"),
    ],
)
def test_bad_arguments(kwargs, message):
    backbone = ScratchCNNBackbone(input_shape=(8, 8, 3), conv_layers=1, base_filters=2)
    arguments = {"task": "gender", "pooling": "avg", "hidden_units": (4,), **kwargs}
    with pytest.raises(ValueError, match=message):
        AgeGenderClassifier(backbone, **arguments)


needs_tf_backend = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TF-Hub modules run on the TensorFlow backend only"
)


@pytest.fixture(scope="module")
def feature_module(tmp_path_factory):
    """A TF2 SavedModel image feature vector: mean colour times a trainable vector."""
    tf = pytest.importorskip("tensorflow")

    class Features(tf.Module):
        def __init__(self):
            self.scale = tf.Variable([1.0, 2.0, 3.0], name="scale")

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
        def __call__(self, x):
            return tf.reduce_mean(x, axis=[1, 2]) * self.scale

    folder = os.fspath(tmp_path_factory.mktemp("hub") / "features")
    tf.saved_model.save(Features(), folder)
    return folder


@needs_tf_backend
def test_tf_hub_feature_vector_as_a_backbone(feature_module, tmp_path):
    backbone = TFHubBackbone(feature_module, input_shape=(8, 8, 3), trainable=True)
    model = AgeGenderClassifier(backbone, "gender", preprocessing=TFHubBackbone.default_preprocessing)
    x = images(4, size=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    assert not np.allclose(backbone.get_layer("hub").weights[0].numpy(), [1.0, 2.0, 3.0])
    restored = assert_saving_round_trip(model, x, tmp_path)
    assert isinstance(restored.backbone, TFHubBackbone) and restored.backbone.handle == feature_module


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the error of non-TensorFlow backends")
def test_tf_hub_backbone_is_a_clear_error_on_other_backends(tmp_path):
    from adiencekit.errors import ConfigError

    with pytest.raises(ConfigError, match="needs the TensorFlow backend.*KERAS_BACKEND=tensorflow"):
        TFHubBackbone(os.fspath(tmp_path), input_shape=(8, 8, 3))


def test_default_loss_smoothing_per_head_and_a_saved_model_loads_by_itself(tmp_path):
    from adiencekit.errors import ConfigError
    from adiencekit.losses import MaskedSparseCategoricalCrossentropy

    model = small("multitask")
    plain = model.default_loss()
    assert all(loss.get_config() == MaskedSparseCategoricalCrossentropy().get_config() for loss in plain.values())
    losses = model.default_loss(label_smoothing=0.1, age_neighbour_smoothing=0.3)
    assert (losses["age"].label_smoothing, losses["age"].neighbour_smoothing) == (0.1, 0.3)
    assert (losses["gender"].label_smoothing, losses["gender"].neighbour_smoothing) == (0.1, 0.0)
    model.compile(optimizer="adam", loss=losses)
    x = images(4, size=8)
    model.fit(x, {"gender": np.array([0, 1, -1, 1]), "age": np.array([0, 3, 7, -1])}, epochs=1, verbose=0)
    path = tmp_path / "smoothed.keras"
    model.save(path)
    restored = keras.saving.load_model(path)  # no custom_objects: everything is registered
    assert_outputs_close(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    restored_losses = restored.loss
    assert restored_losses["age"].get_config() == losses["age"].get_config()
    assert restored_losses["gender"].get_config() == losses["gender"].get_config()
    restored.fit(x, {"gender": np.array([0, 1, -1, 1]), "age": np.array([0, 3, 7, -1])}, epochs=1, verbose=0)

    age = small("age").default_loss(age_neighbour_smoothing=0.2)
    assert age.neighbour_smoothing == 0.2
    with pytest.raises(ConfigError, match="needs an age head"):
        small("gender").default_loss(age_neighbour_smoothing=0.2)
    with pytest.raises(ConfigError, match=r"label_smoothing must be a number in \[0, 1\)"):
        small("gender").default_loss(label_smoothing=1.0)
