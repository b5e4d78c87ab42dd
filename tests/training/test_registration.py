"""A saved model loads by itself after ``import adiencekit``, without importing Keras eagerly.

Each case runs in a fresh interpreter: registration depends on import order.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit.layers import LocalResponseNormalization
from adiencekit.losses import MaskedSparseCategoricalCrossentropy
from adiencekit.metrics import MaskedSparseCategoricalAccuracy

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
                   "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled model using the masked loss and metric and the LRN layer, saved as .keras."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = LocalResponseNormalization(depth_radius=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", MaskedSparseCategoricalCrossentropy(), metrics=[MaskedSparseCategoricalAccuracy()])
    model.fit(np.ones((4, 8, 8, 3), "float32"), np.array([0, 1, -1, 0]), epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "best.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def saved_task_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A Levi-Hassner task model (AgeGenderClassifier + backbone + LRN) as a run saves it, with inputs and outputs."""
    from adiencekit.models import create_model

    model = create_model("levi_hassner", task="multitask", input_shape=(64, 64, 3))
    model.compile(optimizer="adam")
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    path = tmp_path_factory.mktemp("saved-task") / "best.keras"
    model.save(path)
    return path, images, keras.ops.convert_to_numpy(model(images, training=False)["age"])


@pytest.mark.parametrize("probe", ["", "import importlib.util; importlib.util.find_spec('keras')"],
                         ids=["plain", "find_spec_first"])
def test_a_task_model_loads_in_a_fresh_interpreter(saved_task_model: tuple[Path, np.ndarray, np.ndarray],
                                                   tmp_path: Path, probe: str) -> None:
    """Also when something asks ``find_spec("keras")`` before importing it (TensorFlow and the CLI do)."""
    path, images, expected = saved_task_model
    np.save(tmp_path / "images.npy", images)
    result = _run(f"""
        import adiencekit
        {probe}
        import keras, numpy as np
        model = keras.saving.load_model({str(path)!r})
        out = keras.ops.convert_to_numpy(model(np.load({str(tmp_path / "images.npy")!r}), training=False)["age"])
        np.save({str(tmp_path / "out.npy")!r}, out)
        print(type(model).__name__, model.task)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "AgeGenderClassifier multitask" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-6)


def test_import_adiencekit_does_not_import_keras() -> None:
    result = _run("""
        import sys, adiencekit
        assert "keras" not in sys.modules and "tensorflow" not in sys.modules, "eager import"
        print("ok")
    """)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_model_loads_when_keras_is_imported_after_adiencekit(saved_model: Path) -> None:
    result = _run(f"""
        import adiencekit
        import keras
        model = keras.saving.load_model({str(saved_model)!r})
        print(type(model.loss).__name__, [type(l).__name__ for l in model.layers][2])
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MaskedSparseCategoricalCrossentropy LocalResponseNormalization" in result.stdout


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_model_loads_when_keras_is_imported_before_adiencekit(saved_model: Path) -> None:
    result = _run(f"""
        import keras
        import adiencekit
        model = keras.saving.load_model({str(saved_model)!r})
        print(type(model.loss).__name__)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MaskedSparseCategoricalCrossentropy" in result.stdout


@pytest.mark.slow
def test_without_adiencekit_the_model_does_not_load(saved_model: Path) -> None:
    """The control case: the fix, not luck, makes the two tests above pass."""
    result = _run(f"""
        import keras
        keras.saving.load_model({str(saved_model)!r})
    """)
    assert result.returncode != 0 and "Could not locate class" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install jax) for KERAS_BACKEND=jax")
def test_registration_under_jax_never_imports_tensorflow(saved_model: Path) -> None:
    result = _run(f"""
        import sys, adiencekit, keras
        assert keras.backend.backend() == "jax"
        model = keras.saving.load_model({str(saved_model)!r})
        assert "tensorflow" not in sys.modules, sorted(m for m in sys.modules if m.startswith("tensorflow"))[:5]
        print("ok", type(model.loss).__name__)
    """, KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok MaskedSparseCategoricalCrossentropy" in result.stdout


@pytest.mark.parametrize(
    "first",
    [
        "adiencekit.losses",  # Keras is first imported from inside the module the metrics need
        pytest.param("adiencekit.metrics", marks=pytest.mark.slow),
        pytest.param("adiencekit.layers", marks=pytest.mark.slow),
        pytest.param("adiencekit.models", marks=pytest.mark.slow),
        pytest.param("adiencekit.training.fit", marks=pytest.mark.slow),
    ],
)
def test_model_loads_whichever_adiencekit_module_imports_keras_first(saved_model: Path, first: str) -> None:
    result = _run(f"""
        import sys, warnings
        warnings.simplefilter("error")  # no registration warning either
        import {first}
        import keras
        model = keras.saving.load_model({str(saved_model)!r})
        print("ok", type(model.loss).__name__)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok MaskedSparseCategoricalCrossentropy" in result.stdout
