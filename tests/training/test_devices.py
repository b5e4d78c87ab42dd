"""Tests for adiencekit.training.devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from adiencekit.training import TrainConfig
from adiencekit.training.devices import (
    precision_policy,
    resolve_jit_compile,
    resolve_precision,
    setup_devices,
)

from ._helpers import make_tiny_tree, tiny_config

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("requested", "kind", "capability", "expected"),
    [
        ("auto", "cpu", None, "float32"),
        ("auto", "gpu", (8, 0), "mixed_bfloat16"),
        ("auto", "gpu", (9, 0), "mixed_bfloat16"),
        ("auto", "gpu", (7, 5), "mixed_float16"),
        ("auto", "gpu", None, "mixed_float16"),
        ("auto", "tpu", None, "mixed_bfloat16"),
        ("float32", "gpu", (9, 0), "float32"),
        ("mixed_bfloat16", "cpu", None, "mixed_bfloat16"),
    ],
)
def test_resolve_precision(requested: str, kind: str, capability, expected: str) -> None:
    assert resolve_precision(requested, kind=kind, compute_capability=capability) == expected


def test_resolve_precision_and_jit_reject_unknown_values() -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("float64", kind="cpu")
    with pytest.raises(ValueError, match="jit_compile must be 'auto', True or False"):
        resolve_jit_compile("yes", kind="cpu")  # type: ignore[arg-type]
    assert resolve_jit_compile("auto", kind="cpu", backend="tensorflow") is False
    assert resolve_jit_compile("auto", kind="cpu", backend="jax") == "auto"
    assert resolve_jit_compile("auto", kind="gpu", backend="tensorflow") == "auto"
    assert resolve_jit_compile(True, kind="cpu") is True


def test_setup_on_this_cpu_and_policy_scope() -> None:
    setup = setup_devices(TrainConfig(distribution="auto"))
    assert setup.kind == "cpu" and setup.precision == "float32" and setup.replicas == 1
    assert setup.global_batch_size(32) == 32 and setup.learning_rate(0.1, True) == 0.1
    before = keras.config.dtype_policy().name
    with precision_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
    assert setup.describe()["backend"] == keras.backend.backend()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="checks the TensorFlow backend's message")
def test_data_parallel_needs_jax() -> None:
    with pytest.raises(ValueError, match="needs KERAS_BACKEND=jax"):
        setup_devices(TrainConfig(distribution="data_parallel"))


def _run_training_script(tmp_path: Path, source: str, **env_vars: str) -> dict:
    """Run a training script in a fresh process (device setup must precede TF/JAX start-up)."""
    script = tmp_path / "train_script.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", **env_vars}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "config.json"), str(tmp_path / "run")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from adiencekit.training import TrainConfig, train

    config = TrainConfig.from_json(sys.argv[1])
    result = train(config, sys.argv[2], verbose=0)
    print("RESULT", json.dumps({"devices": result.metrics["devices"],
                                "global_batch": result.metrics["global_batch_size"],
                                "loss": [row["loss"] for row in result.history]}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's")
def test_mirrored_strategy_on_two_logical_cpus_trains(tmp_path: Path) -> None:
    root = make_tiny_tree(tmp_path / "data")
    config = tiny_config(root, distribution="mirrored", epochs=2, batch_size=8, steps_per_epoch=3,
                         validation_steps=2, test_steps=2, scale_lr_with_replicas=True, cache=False)
    config.to_json(tmp_path / "config.json")
    result = _run_training_script(tmp_path, _MIRRORED_SCRIPT)
    assert result["devices"]["distribution"] == "mirrored" and result["devices"]["replicas"] == 2
    assert result["global_batch"] == 16
    assert len(result["loss"]) == 2 and all(loss > 0 for loss in result["loss"])


_DATA_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras
    from adiencekit.training import TrainConfig, train

    assert keras.backend.backend() == "jax"
    config = TrainConfig.from_json(sys.argv[1])
    result = train(config, sys.argv[2], verbose=0)
    print("RESULT", json.dumps({"devices": result.metrics["devices"],
                                "global_batch": result.metrics["global_batch_size"],
                                "loss": [row["loss"] for row in result.history]}))
    """
)


@pytest.mark.slow
def test_jax_data_parallel_on_two_host_devices_trains(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    root = make_tiny_tree(tmp_path / "data")
    config = tiny_config(root, distribution="data_parallel", epochs=2, batch_size=8, steps_per_epoch=3,
                         validation_steps=2, test_steps=2, cache=False)
    config.to_json(tmp_path / "config.json")
    result = _run_training_script(
        tmp_path, _DATA_PARALLEL_SCRIPT, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )
    assert result["devices"]["backend"] == "jax" and result["devices"]["distribution"] == "data_parallel"
    assert result["devices"]["replicas"] == 2 and result["global_batch"] == 16
    assert result["devices"]["jit_compile"] == "auto"
    assert len(result["loss"]) == 2 and all(loss > 0 for loss in result["loss"])
