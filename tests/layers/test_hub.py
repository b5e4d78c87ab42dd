"""Tests for adiencekit.layers.hub.TFHubLayer with SavedModels the tests write themselves.

Nothing is downloaded: URL resolution is checked with ``tensorflow_hub.resolve`` replaced
by a stand-in. Under a non-TensorFlow backend only the "clear error" test runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from adiencekit.layers import TFHubLayer
from adiencekit.layers.hub import resolve_handle
from adiencekit.testing import assert_layer_config_round_trip, assert_saving_round_trip

needs_tf_backend = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TFHubLayer works on the TensorFlow backend only (its clear error elsewhere is tested)",
)

KERNEL = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]], "float32")
SCALE = 2.0


@pytest.fixture(scope="module")
def saved_module(tmp_path_factory) -> str:
    """A SavedModel: y = (x @ kernel) * scale * (10 if training else 1), two signatures."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("needs the TensorFlow backend")
    tf = pytest.importorskip("tensorflow")

    class Affine(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel = tf.Variable(KERNEL, name="kernel")
            self.scale = tf.Variable(SCALE, trainable=False, name="scale")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([], tf.bool)])
        def __call__(self, x, training=False):
            factor = tf.where(training, 10.0, 1.0)
            return tf.matmul(x, self.kernel) * self.scale * factor

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="images")])
        def serve(self, images):
            y = tf.matmul(images, self.kernel) * self.scale
            return {"logits": y, "doubled": 2.0 * y}

    module = Affine()
    folder = str(tmp_path_factory.mktemp("hub") / "affine")
    tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
    return folder


def inputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, 3)).astype("float32")


def head_model(layer: TFHubLayer) -> keras.Model:
    x = keras.Input((3,))
    model = keras.Model(x, layer(x))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


@needs_tf_backend
def test_outputs_match_the_module(saved_module):
    layer = TFHubLayer(saved_module)
    np.testing.assert_allclose(np.asarray(layer(inputs())), inputs() @ KERNEL * SCALE, rtol=1e-6)
    assert [w.name for w in layer.weights] == ["kernel", "scale"]


@needs_tf_backend
def test_trainable_layer_is_fine_tuned_by_fit(saved_module):
    layer = TFHubLayer(saved_module, trainable=True)
    assert [w.name for w in layer.trainable_weights] == ["kernel"]
    assert [w.name for w in layer.non_trainable_weights] == ["scale"]
    model = head_model(layer)
    model.fit(inputs(), np.zeros((6, 2), "float32"), epochs=1, batch_size=6, verbose=0)
    kernel = layer.trainable_weights[0].numpy()
    assert not np.allclose(kernel, KERNEL)
    assert float(layer.non_trainable_weights[0].numpy()) == SCALE
    # The module computes with the updated variable (the Keras variable wraps it).
    np.testing.assert_allclose(model.predict(inputs(), verbose=0), inputs() @ kernel * SCALE, rtol=1e-5)


@needs_tf_backend
def test_frozen_layer_is_not_changed_by_fit(saved_module):
    layer = TFHubLayer(saved_module, trainable=False)
    assert layer.trainable_weights == []
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(2)(layer(x)))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(inputs(), np.ones((6, 2), "float32"), epochs=1, batch_size=6, verbose=0)
    np.testing.assert_array_equal(layer.weights[0].numpy(), KERNEL)


@needs_tf_backend
def test_training_flag_reaches_the_module_only_when_trainable(saved_module):
    trainable, frozen = TFHubLayer(saved_module, trainable=True), TFHubLayer(saved_module)
    expected = inputs() @ KERNEL * SCALE
    np.testing.assert_allclose(np.asarray(trainable(inputs(), training=True)), 10 * expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(trainable(inputs(), training=False)), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(frozen(inputs(), training=True)), expected, rtol=1e-6)


@needs_tf_backend
def test_signature_and_output_key(saved_module):
    expected = inputs() @ KERNEL * SCALE
    both = TFHubLayer(saved_module, signature="serving_default")
    outputs = both(inputs())
    assert set(outputs) == {"logits", "doubled"}
    np.testing.assert_allclose(np.asarray(outputs["doubled"]), 2 * expected, rtol=1e-6)
    logits = TFHubLayer(saved_module, signature="serving_default", output_key="logits")
    np.testing.assert_allclose(np.asarray(logits(inputs())), expected, rtol=1e-6)
    assert len(logits.weights) == 2
    with pytest.raises(KeyError, match="not output_key='probs'"):
        TFHubLayer(saved_module, signature="serving_default", output_key="probs")(inputs())
    with pytest.raises(ValueError, match="no signature 'serve_me'.*serving_default"):
        TFHubLayer(saved_module, signature="serve_me")


@needs_tf_backend
def test_saving_round_trip_keeps_fine_tuned_values(saved_module, tmp_path):
    layer = TFHubLayer(saved_module, trainable=True, name="hub")
    model = head_model(layer)
    model.fit(inputs(), np.zeros((6, 2), "float32"), epochs=1, batch_size=6, verbose=0)
    restored = assert_saving_round_trip(model, inputs(), tmp_path)
    restored_layer = restored.get_layer("hub")
    assert isinstance(restored_layer, TFHubLayer) and restored_layer.handle == saved_module
    assert not np.allclose(restored_layer.weights[0].numpy(), KERNEL)
    rebuilt = assert_layer_config_round_trip(TFHubLayer(saved_module, signature="serving_default", output_key="logits"))
    assert rebuilt.output_key == "logits"


@needs_tf_backend
def test_url_handles_go_through_the_tensorflow_hub_resolver(saved_module, monkeypatch):
    tensorflow_hub = pytest.importorskip("tensorflow_hub")
    asked = []

    def fake_resolve(handle: str) -> str:
        asked.append(handle)
        return saved_module

    monkeypatch.setattr(tensorflow_hub, "resolve", fake_resolve)
    url = "https://www.kaggle.com/models/example/affine/TensorFlow2/default/1"
    layer = TFHubLayer(url)
    assert asked == [url] and layer.get_config()["handle"] == url
    np.testing.assert_allclose(np.asarray(layer(inputs())), inputs() @ KERNEL * SCALE, rtol=1e-6)


def test_resolve_handle_checks_local_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a SavedModel folder"):
        resolve_handle(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="not a SavedModel folder"):
        resolve_handle(tmp_path)
    with pytest.raises(TypeError, match="handle must be"):
        resolve_handle(42)
    assert resolve_handle("gs://bucket/module") == "gs://bucket/module"


@needs_tf_backend
def test_bad_arguments_are_refused(saved_module):
    with pytest.raises(TypeError, match="trainable"):
        TFHubLayer(saved_module, trainable="yes")
    with pytest.raises(TypeError, match="arguments"):
        TFHubLayer(saved_module, arguments=["x"])


def test_clear_error_on_other_backends():
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(RuntimeError, match="needs the TensorFlow backend.*'" + keras.backend.backend()):
            TFHubLayer("anything")
        return
    # Under TensorFlow, check the JAX behaviour in a child process.
    pytest.importorskip("jax")
    code = textwrap.dedent(
        """
        from adiencekit.layers import TFHubLayer
        try:
            TFHubLayer("anything")
        except RuntimeError as error:
            print("ERROR:", error)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    expected = "ERROR: TFHubLayer loads TensorFlow SavedModels and needs the TensorFlow backend"
    assert expected in result.stdout, result.stderr[-2000:]
    assert "'jax'" in result.stdout
