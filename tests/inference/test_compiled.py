"""Networks as compiled functions: the same outputs as Keras's own calls, on any batch."""

from __future__ import annotations

import numpy as np
import pytest

from adiencekit.inference.compiled import batch_bucket, compiled_forward, run_compiled


def test_buckets_waste_at_most_a_third_and_never_shrink() -> None:
    for count in range(1, 300):
        size = batch_bucket(count)
        assert count <= size and size - count <= size / 3, (count, size)  # at most a third padding
    assert len({batch_bucket(n) for n in range(1, 65)}) == 12  # few shapes to compile up to 64


def test_same_outputs_as_predict_on_batch_with_and_without_buckets(small_model) -> None:
    rng = np.random.default_rng(0)
    for count in (1, 3, 5, 9):
        batch = rng.uniform(0, 255, (count, 64, 64, 3)).astype(np.float32)
        expected = small_model.predict_on_batch(batch)
        for bucket in (False, True):
            found = run_compiled(small_model, batch, bucket=bucket)
            assert sorted(found) == sorted(expected)
            for head in expected:
                assert found[head].shape == np.asarray(expected[head]).shape
                np.testing.assert_allclose(found[head], expected[head], atol=1e-5)


def test_compiled_once_per_model() -> None:
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert compiled_forward(model) is compiled_forward(model)
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert compiled_forward(other) is not compiled_forward(model)


def test_bucketed_batches_are_padded_on_jax_only(monkeypatch) -> None:
    import keras

    import adiencekit.inference.compiled as module

    seen = []
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    real = module.compiled_forward(model)
    monkeypatch.setattr(module, "compiled_forward", lambda m: lambda batch: seen.append(len(batch)) or real(batch))
    for jax in (False, True):
        monkeypatch.setattr(module, "pads_batches", lambda jax=jax: jax)
        out = run_compiled(model, np.ones((5, 4), np.float32), bucket=True)
        assert out.shape == (5, 2)
    assert seen == [5, 6]
    with pytest.raises(Exception):
        run_compiled(model, np.ones((5, 3), np.float32))
