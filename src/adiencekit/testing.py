"""Shared helpers for the test suites of adiencekit and of projects built on it.

These are ordinary functions (no pytest import) so that downstream users can check their
own layers and models the same way the library checks its own.

Example:

>>> import numpy as np, keras, tempfile
>>> from adiencekit.testing import assert_saving_round_trip
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
>>> with tempfile.TemporaryDirectory() as tmp:
...     restored = assert_saving_round_trip(model, np.ones((3, 4), "float32"), tmp)
>>> restored.count_params() == model.count_params()
True
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np


def _as_numpy_tree(outputs: Any) -> Any:
    if isinstance(outputs, Mapping):
        return {key: _as_numpy_tree(value) for key, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [_as_numpy_tree(value) for value in outputs]
    return keras.ops.convert_to_numpy(outputs)


def assert_outputs_close(expected: Any, actual: Any, *, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Assert two model outputs (arrays, lists or dicts of arrays) are numerically equal.

    Args:
        expected: reference outputs.
        actual: outputs to compare.
        atol: absolute tolerance.
        rtol: relative tolerance.

    Raises:
        AssertionError: when structure or values differ.
    """
    expected, actual = _as_numpy_tree(expected), _as_numpy_tree(actual)
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            raise AssertionError(f"output keys differ: {sorted(expected)} vs {actual!r:.200}")
        for key in expected:
            assert_outputs_close(expected[key], actual[key], atol=atol, rtol=rtol)
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            raise AssertionError("output structures differ")
        for left, right in zip(expected, actual):
            assert_outputs_close(left, right, atol=atol, rtol=rtol)
        return
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)


def assert_saving_round_trip(
    model: keras.Model,
    inputs: Any,
    directory: str | os.PathLike[str],
    *,
    atol: float = 1e-5,
    filename: str = "model.keras",
) -> keras.Model:
    """Save ``model`` as a ``.keras`` file, load it back and check the outputs match.

    The model is called in inference mode (``training=False``) before and after, so
    dropout and random augmentation do not change the outputs.

    Args:
        model: a built Keras model.
        inputs: a batch the model accepts.
        directory: an existing folder to write the file in.
        atol: absolute tolerance for the comparison.
        filename: name of the saved file (must end in ``.keras``).

    Returns:
        The reloaded model.
    """
    if not filename.endswith(".keras"):
        raise ValueError(f"filename must end in '.keras', got {filename!r}")
    expected = model(inputs, training=False)
    path = os.path.join(os.fspath(directory), filename)
    model.save(path)
    restored = keras.saving.load_model(path)
    assert_outputs_close(expected, restored(inputs, training=False), atol=atol, rtol=atol)
    return restored


def assert_layer_config_round_trip(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Rebuild ``layer`` from its serialized config and check the config is unchanged.

    Args:
        layer: a Keras layer.

    Returns:
        The rebuilt layer.
    """
    serialized = keras.saving.serialize_keras_object(layer)
    rebuilt = keras.saving.deserialize_keras_object(serialized)
    if type(rebuilt) is not type(layer):
        raise AssertionError(f"deserialized {type(rebuilt).__name__}, expected {type(layer).__name__}")
    if rebuilt.get_config() != layer.get_config():
        raise AssertionError(f"config changed:\n{layer.get_config()}\n!=\n{rebuilt.get_config()}")
    return rebuilt


def coordinate_images(count: int = 2, height: int = 12, width: int = 10) -> np.ndarray:
    """Images whose pixels encode (row, column, image index), so every crop is traceable.

    Channel 0 holds the row, channel 1 the column and channel 2 the image's index in the
    batch; a crop or flip of such an image shows exactly where it came from.

    Args:
        count: images in the batch.
        height: rows.
        width: columns.

    Returns:
        float32 array ``(count, height, width, 3)``.

    Example:

    >>> images = coordinate_images(2, 4, 5)
    >>> images.shape, images[1, 3, 2].tolist()
    ((2, 4, 5, 3), [3.0, 2.0, 1.0])
    """
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    images = np.zeros((count, height, width, 3), "float32")
    images[..., 0] = rows
    images[..., 1] = cols
    images[..., 2] = np.arange(count)[:, None, None]
    return images


def two_head_model(features: int = 4) -> keras.Model:
    """A minimal gender + age model (one Dense softmax per head) on flat features.

    Args:
        features: size of the input vector.

    Returns:
        An uncompiled ``keras.Model`` with dict outputs ``gender`` (2) and ``age`` (8).

    Example:

    >>> model = two_head_model(3)
    >>> sorted(model.output)
    ['age', 'gender']
    """
    inputs = keras.Input((features,))
    outputs = {
        "gender": keras.layers.Dense(2, activation="softmax", name="gender")(inputs),
        "age": keras.layers.Dense(8, activation="softmax", name="age")(inputs),
    }
    return keras.Model(inputs, outputs)


def assert_seeded_per_call(make_layer: Callable[[int], Any], images: np.ndarray, *, calls: int = 2) -> None:
    """Check a random layer's seed: equal seeds give equal outputs call after call, other seeds differ.

    Args:
        make_layer: builds the layer from an integer seed.
        images: a batch to call it on.
        calls: how many successive calls must agree.

    Example:

    >>> import numpy as np
    >>> from adiencekit.layers import PhotoAugmentation
    >>> from adiencekit.testing import assert_seeded_per_call
    >>> assert_seeded_per_call(lambda seed: PhotoAugmentation(seed=seed), np.full((2, 8, 8, 3), 99.0, "float32"))
    """
    first, second = make_layer(7), make_layer(7)
    for call in range(calls):
        a, b = np.asarray(first(images)), np.asarray(second(images))
        if not np.array_equal(a, b):
            raise AssertionError(f"two layers seeded 7 differ at call {call + 1}")
    if np.allclose(np.asarray(make_layer(7)(images)), np.asarray(make_layer(8)(images))):
        raise AssertionError("seeds 7 and 8 give the same output")


def tf_data_batches(layer: Any, images: np.ndarray, *, batch_size: int = 8, epochs: int = 2) -> list[np.ndarray]:
    """``layer`` mapped over the batches of ``images`` in ``tf.data`` (no parallel calls), for ``epochs``.

    Example:

    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("tensorflow", reason="tf.data needs TensorFlow")
    >>> from adiencekit.layers import PhotoAugmentation
    >>> from adiencekit.testing import tf_data_batches
    >>> batches = tf_data_batches(PhotoAugmentation(seed=0), np.zeros((5, 8, 8, 3), "uint8"), batch_size=4)
    >>> [b.shape for b in batches]
    [(4, 8, 8, 3), (1, 8, 8, 3), (4, 8, 8, 3), (1, 8, 8, 3)]
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size).map(lambda x: layer(x))
    return [x.numpy() for _ in range(epochs) for x in dataset]


def assert_runs_without_tensorflow(code: str, *, backend: str = "jax", timeout: float = 300) -> None:
    """Run ``code`` in a fresh Python process on a Keras ``backend``; fail if it errs or imports TensorFlow.

    For the parts that must work where TensorFlow is not installed (the zoo on JAX, the
    Grain input pipeline): a test process has usually imported TensorFlow already, so
    the check needs a process of its own.

    Args:
        code: Python source to run.
        backend: ``KERAS_BACKEND`` of the process.
        timeout: seconds before the process is stopped (a failure).

    Raises:
        AssertionError: with the end of the process's stderr, when the code fails or
            TensorFlow was imported.

    Example:

    >>> from adiencekit.testing import assert_runs_without_tensorflow
    >>> assert_runs_without_tensorflow("import json; json.dumps([1])")
    """
    check = (f"{code}\nimport sys\n"
             "assert 'tensorflow' not in sys.modules, sorted(m for m in sys.modules if 'tensorflow' in m)[:5]\n")
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
