"""Keras models called as the backend's compiled functions, for the per-photo path.

``model.predict`` builds a data pipeline per call, and even ``predict_on_batch`` or an
eager call costs a good share of a millisecond per call on a small CPU: the detector's
three networks and the classifier are called four times per photo, on small inputs. Here
each model becomes one compiled forward pass, built once per model:

- TensorFlow: a concrete function of ``tf.function`` traced once per input size for any
  batch (``(None, height, width, channels)``), called directly (no retracing, no per-call
  signature matching; a relaxed-shape ``tf.function`` took up to 2-3x as long for P-Net).
  A new input size costs one trace (55-70 ms for P-Net on a loaded 2-core CPU); P-Net's
  canvas is rounded up to 64 pixels, so photos of similar sizes share one;
- JAX: ``jax.jit`` of the model's stateless call, one XLA program per input shape, so the
  caller rounds batches up to :func:`batch_bucket` sizes;
- other backends: the model's eager call.

Example:

>>> import keras, numpy as np
>>> from adiencekit.inference.compiled import batch_bucket, run_compiled
>>> inputs = keras.Input((4,))
>>> model = keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="ones")(inputs))
>>> run_compiled(model, np.ones((3, 4), np.float32)).tolist()
[[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]
>>> [batch_bucket(n) for n in (1, 3, 5, 7, 9, 13, 17, 40)]
[1, 3, 6, 8, 12, 16, 24, 48]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["batch_bucket", "compiled_forward", "pads_batches", "run_compiled"]


def batch_bucket(count: int) -> int:
    """The batch size ``count`` inputs are padded to where each shape is compiled: 1, 2, 3, 4,
    then powers of two and 1.5 times powers of two (6, 8, 12, 16, 24, ...): at most a third wasted."""
    if count <= 4:
        return max(1, count)
    power = 1 << (count - 1).bit_length()
    return power * 3 // 4 if count <= power * 3 // 4 else power


def pads_batches() -> bool:
    """Whether the backend compiles one program per input shape (JAX), so that inputs are bucketed."""
    import keras

    return keras.backend.backend() == "jax"


def compiled_forward(model: Any) -> Any:
    """``model``'s inference forward pass (``training=False``) as the backend's compiled function.

    Built once per model and kept on it (it goes when the model goes). Takes a NumPy
    batch, returns the model's output structure as backend tensors.
    """
    forward = getattr(model, _ATTRIBUTE, None)
    if forward is None:
        forward = _compile(model)
        object.__setattr__(model, _ATTRIBUTE, forward)
    return forward


#: Where :func:`compiled_forward` keeps a model's compiled function.
_ATTRIBUTE = "_adiencekit_compiled_forward"


def _compile(model: Any) -> Any:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        concrete: dict[tuple[int, ...], Any] = {}

        def call(batch: np.ndarray) -> Any:
            # One trace per input size, any batch (layers such as the test-time views need
            # a static image size); a tf.function each, so TensorFlow sees no retracing.
            key = batch.shape[1:]
            if key not in concrete:
                spec = tf.TensorSpec((None, *key), tf.float32)
                concrete[key] = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
            return concrete[key](tf.constant(batch, tf.float32))
        return call
    if backend == "jax":
        import jax

        forward = jax.jit(lambda trainable, fixed, batch: model.stateless_call(trainable, fixed, batch, training=False)[0])
        def call(batch: np.ndarray) -> Any:
            if not model.built:  # a subclassed wrapper (the test-time views) builds on its first call
                model(batch, training=False)
            # The variables' current buffers on every call (Keras may replace them, e.g. in predict()).
            return forward([v.value for v in model.trainable_variables],
                           [v.value for v in model.non_trainable_variables], batch)
        return call
    return lambda batch: model(batch, training=False)


def run_compiled(model: Any, batch: np.ndarray, bucket: bool = False) -> Any:
    """``model`` on ``batch`` through :func:`compiled_forward`, its outputs as NumPy (same structure).

    Args:
        model: a Keras model with one input.
        batch: ``(N, ...)`` float32 inputs.
        bucket: on a backend that compiles per shape (:func:`pads_batches`), pad the batch
            to :func:`batch_bucket` ``(N)`` rows (and cut the outputs back to ``N``).
    """
    import keras

    batch = np.asarray(batch, np.float32)
    count = len(batch)
    if bucket and pads_batches() and batch_bucket(count) != count:
        batch = np.concatenate([batch, np.zeros((batch_bucket(count) - count, *batch.shape[1:]), np.float32)])
    outputs = compiled_forward(model)(batch)
    return keras.tree.map_structure(lambda out: keras.ops.convert_to_numpy(out)[:count], outputs)
