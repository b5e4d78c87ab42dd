"""The contract every registered model keeps, as keras.applications and timm test theirs.

For every model x task x include_top x pooling (a pairwise cover of those for the two
Inception-v3 configurations, whose builds are slow): it builds at a small input as an
``AgeGenderClassifier``, runs forward with the documented output structure, and its
``get_config`` rebuilds the same model. ``.keras`` save/load is checked for every
combination of the small models and for one per include_top of each Inception-v3
configuration (a 22M-parameter file each); float32 outputs under mixed precision once
per model and include_top. Full-size parameter counts live in the per-model test files.
Runs under every backend (the CI runs tests/models with KERAS_BACKEND=jax too).
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from adiencekit.labels import CLASS_NAMES, TASK_CLASSES, TASKS
from adiencekit.models import AgeGenderClassifier, create_model, list_models
from adiencekit.testing import assert_outputs_close, assert_saving_round_trip

SIZES = {"levi_hassner": 64, "scratch_cnn": 32, "face_resnet": 32, "basic_inception": 75, "modified_inception": 75}
EXTRA = {
    "levi_hassner": {"seed": 1},
    "scratch_cnn": {"conv_layers": 2, "base_filters": 4, "dense_units": 8},
    "face_resnet": {"width": 4, "blocks": (1, 1)},
    "basic_inception": {"weights": None},
    "modified_inception": {"weights": None, "dense_units": 8},
}
POOLINGS = (None, "avg", "max")
SMALL_MODELS = ("levi_hassner", "scratch_cnn", "face_resnet")
#: Inception-v3 builds take seconds each on a CPU: its two configurations get a pairwise
#: cover instead of the full product (every task, include_top and pooling value, and
#: every include_top x pooling pair).
INCEPTION_COVER = [
    ("gender", True, None), ("age", True, "max"), ("multitask", True, "avg"),
    ("gender", False, "avg"), ("age", False, None), ("multitask", False, "max"),
]
CASES = list(itertools.product(SMALL_MODELS, TASKS, (True, False), POOLINGS)) + [
    (name, *case) for name in ("basic_inception", "modified_inception") for case in INCEPTION_COVER
]


def _default_or_slow(cases: list[tuple]) -> list:
    """The Inception cases (22M-parameter builds, seconds each) run in the slow set.

    The default run still builds, saves and loads both Inception configurations in
    tests/models/test_inception.py.
    """
    return [case if case[0] in SMALL_MODELS else pytest.param(*case, marks=pytest.mark.slow) for case in cases]


def build(name: str, task: str, include_top: bool, pooling: str | None, **kwargs) -> AgeGenderClassifier:
    size = SIZES[name]
    return create_model(
        name, task=task, include_top=include_top, pooling=pooling, input_shape=(size, size, 3),
        **{**EXTRA[name], **kwargs},
    )


def images(name: str, n: int = 2) -> np.ndarray:
    size = SIZES[name]
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_the_battery_covers_the_whole_registry():
    assert set(SIZES) == set(list_models()) - {"tiny_dense_example"}


@pytest.mark.parametrize(("name", "task", "include_top", "pooling"), _default_or_slow(CASES))
def test_build_forward_and_config_round_trip(name, task, include_top, pooling):
    keras.utils.set_random_seed(0)
    model = build(name, task, include_top, pooling)
    assert isinstance(model, AgeGenderClassifier) and model.task == task
    x = images(name)
    outputs = model(x, training=False)
    if include_top:
        heads = ("gender", "age") if task == "multitask" else (task,)
        assert model.heads == heads
        got = outputs if task == "multitask" else {task: outputs}
        assert sorted(got) == sorted(heads)
        for head in heads:
            probabilities = keras.ops.convert_to_numpy(got[head])
            assert probabilities.shape == (2, TASK_CLASSES[head])
            np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
        assert model.class_names == {head: CLASS_NAMES[head] for head in heads}
    else:
        features = keras.ops.convert_to_numpy(outputs)
        assert features.ndim == (4 if pooling is None else 2)
    rebuilt = AgeGenderClassifier.from_config(model.get_config())
    assert rebuilt.count_params() == model.count_params()
    assert rebuilt.get_config() == model.get_config()
    rebuilt.set_weights(model.get_weights())
    assert_outputs_close(outputs, rebuilt(x, training=False), atol=1e-5)


SAVE_CASES = [case for case in CASES if case[0] in SMALL_MODELS] + [
    (name, "multitask", include_top, "avg")
    for name in ("basic_inception", "modified_inception")
    for include_top in (True, False)
]


@pytest.mark.parametrize(("name", "task", "include_top", "pooling"), _default_or_slow(SAVE_CASES))
def test_keras_file_round_trip(name, task, include_top, pooling, tmp_path):
    keras.utils.set_random_seed(0)
    model = build(name, task, include_top, pooling)
    restored = assert_saving_round_trip(model, images(name), tmp_path, atol=1e-5)
    assert isinstance(restored, AgeGenderClassifier) and restored.get_config() == model.get_config()
    assert len(restored.trainable_weights) == len(model.trainable_weights)


@pytest.mark.parametrize(("name", "include_top"), list(itertools.product(sorted(SIZES), (True, False))))
def test_float32_outputs_under_mixed_precision(name, include_top):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build(name, "multitask", include_top, "avg")
        outputs = model(images(name), training=False)
        backbone_dtype = keras.backend.standardize_dtype(model.backbone.compute_dtype)
    finally:
        keras.config.set_dtype_policy(previous)
    assert backbone_dtype == "bfloat16"
    if include_top:
        for head in ("gender", "age"):
            assert keras.backend.standardize_dtype(outputs[head].dtype) == "float32"


@pytest.mark.parametrize("task", TASKS)
def test_compile_with_only_an_optimizer_trains_every_task(task):
    """``model.compile(optimizer=...)`` without a loss uses the masked defaults."""
    keras.utils.set_random_seed(1)
    model = build("scratch_cnn", task, True, "avg")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(1)
    gender, age = rng.integers(0, 2, 8), rng.integers(-1, 8, 8)
    y = {"gender": gender, "age": age} if task == "multitask" else {"gender": gender, "age": age}[task]
    history = model.fit(images("scratch_cnn", 8), y, epochs=1, batch_size=4, verbose=0)
    metrics = set(history.history)
    if task == "multitask":
        assert {"gender_accuracy", "age_accuracy", "age_one_off"} <= metrics
    elif task == "age":
        assert {"accuracy", "one_off"} <= metrics
    else:
        assert "accuracy" in metrics and "one_off" not in metrics
    assert all(np.isfinite(history.history["loss"]))


def test_compile_defaults_of_a_logits_model_use_from_logits():
    model = build("scratch_cnn", "age", True, "avg", classifier_activation=None)
    assert model.default_loss().from_logits
    assert not build("scratch_cnn", "age", True, "avg").default_loss().from_logits


def test_a_feature_extractor_has_no_default_loss():
    from adiencekit.errors import ConfigError

    model = build("scratch_cnn", "gender", False, "avg")
    with pytest.raises(ConfigError, match="feature extractor .* pass loss= and metrics="):
        model.compile(optimizer="adam")
    model.compile(optimizer="adam", loss="mse", metrics=[])  # explicit settings still work


def test_compile_under_mixed_float16_scales_the_loss():
    """Keras wraps the optimizer in a LossScaleOptimizer itself (training code need not)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build("scratch_cnn", "multitask", True, "avg")
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    finally:
        keras.config.set_dtype_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
