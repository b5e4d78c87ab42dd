"""How the suites measure (issue 25): the step timer, the peaks, the pipeline's targets.

Fast tests of the helpers in ``benchmarks/`` (no suite is run end to end here; the
``--smoke`` runs are in ``tests/test_benchmarks_smoke.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_pipeline  # noqa: E402  (the benchmarks folder is not a package)
import bench_training  # noqa: E402
import common  # noqa: E402
import gpu_suite  # noqa: E402
import results_table  # noqa: E402

H200 = {"kind": "gpu", "name": "NVIDIA H200"}


# --------------------------------------------------------------------------------------
# Step timer: no device sync per step
# --------------------------------------------------------------------------------------


def test_window_timer_leaves_keras_free_to_dispatch_batches_asynchronously() -> None:
    """Any ``on_train_batch_end`` override makes Keras pythonify the logs (a sync) every step."""
    import keras

    window = bench_training.StepTimer("window")
    per_step = bench_training.StepTimer("per_step")
    assert type(window).on_train_batch_end is keras.callbacks.Callback.on_train_batch_end
    assert type(window).on_batch_end is keras.callbacks.Callback.on_batch_end
    assert type(per_step).on_train_batch_end is not keras.callbacks.Callback.on_train_batch_end
    with pytest.raises(ValueError, match="timer must be one of"):
        bench_training.StepTimer("every_step")


def test_fit_steps_times_a_window_once_and_per_step_every_step() -> None:
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((12, 4), dtype=np.float32)
    y = np.zeros(12, "int32")
    (window,) = bench_training.fit_steps(model, x, y, batch=3, steps=4)
    per_step = bench_training.fit_steps(model, x, y, batch=3, steps=4, timer="per_step")
    assert window > 0 and len(per_step) == 4 and all(t > 0 for t in per_step)


# --------------------------------------------------------------------------------------
# % of peak
# --------------------------------------------------------------------------------------


def test_float32_rows_are_measured_against_the_math_mode_they_ran_in() -> None:
    assert common.peak_tflops(H200, "float32+xla") == 494.5  # TF32, JAX's default on Hopper
    assert common.peak_tflops(H200, "float32", math="fp32") == 67.0
    assert common.peak_tflops(H200, "mixed_bfloat16", math="fp32") == 989.0
    # The float32 Levi-Hassner row of the H200 run: 110.2 TFLOP/s is 22.3 % of TF32's peak.
    assert round(common.peak_percent(110.2, common.peak_tflops(H200, "float32+xla")), 1) == 22.3
    with pytest.raises(ValueError, match="math must be"):
        common.peak_basis("float32", "fp16")


def test_float32_math_follows_the_backend_setting() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks TensorFlow's TF32 switch")
    import tensorflow as tf

    before = tf.config.experimental.tensor_float_32_execution_enabled()
    try:
        tf.config.experimental.enable_tensor_float_32_execution(True)
        assert common.float32_math() == "tf32"
        tf.config.experimental.enable_tensor_float_32_execution(False)
        assert common.float32_math() == "fp32"
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(before)


def test_old_gpu_file_renders_recomputed_percent_and_says_so() -> None:
    """The 2026-11-28 file stores % of 67 TFLOP/s for its float32 rows (164.5 %, 123.1 %)."""
    payload = json.loads((BENCH / "results" / "gpu-gpu-h200-20261128.json").read_text())
    stored = {r["model"]: r["library_peak_percent"] for r in payload["training"]["rows"] if r["variant"] == "float32+xla"}
    assert round(stored["levi_hassner"], 1) == 164.5  # the record stays as it ran
    text = results_table.render(payload)
    assert "| 22.28 |" in text and "164.5" not in text and "123.1" not in text
    assert "the file stores another % for 2 row(s) (levi_hassner, modified_inception)" in text


def test_sync_cost_pairs_the_per_step_row_with_its_window_row() -> None:
    row = {"model": "levi_hassner", "variant": "mixed_bfloat16+xla", "batch": 512}
    other = {**row, "batch": 256, "library_images_per_s": 1.0}
    cost = gpu_suite.sync_cost([other, {**row, "library_images_per_s": 36000.0}], [{**row, "library_images_per_s": 31000.0}])
    assert cost["sync_ms_per_step"] == pytest.approx(1000 * 512 / 31000 - 1000 * 512 / 36000, abs=1e-3)
    assert gpu_suite.sync_cost([other], [{**row, "library_images_per_s": 1.0}]) is None
    assert ("sync_cost", ("levi_hassner", "mixed_bfloat16+xla", False)) in gpu_suite.PLAN


# --------------------------------------------------------------------------------------
# Pipeline: baseline, bound, quanta
# --------------------------------------------------------------------------------------


def test_epochs_ending_on_an_autotuner_quantum_do_not_decide_the_median() -> None:
    library = [1.0, 1.0, 1.0, 1.0, 1.0]
    keras_seconds = [1.6, 1.7, 5.12, 10.27, 1.8]  # two stalled baseline epochs
    stats = bench_pipeline.ratio_stats(library, keras_seconds)
    assert stats["stalled"] == [False, False, True, True, False]
    assert stats["median"] == 1.7 and stats["decided_on"] == "unstalled pairs (3 of 5)"
    assert stats["per_repeat"][3] == pytest.approx(10.27)  # kept in the record
    # Too few clean pairs: all pairs decide, and the statistic says so.
    assert bench_pipeline.ratio_stats([1.0, 1.0], [2.56, 1.5])["decided_on"] == "all 2 pairs"


def test_first_epoch_target_is_judged_on_the_lower_quartile() -> None:
    row = {
        "first_epoch_ratio_stats": bench_pipeline.ratio_stats([1.0] * 4, [1.0, 1.3, 1.7, 1.8]),
        "cached_share_of_bound_stats": {"median": 0.85},
        "adiencekit_cached_images_per_s": 5000.0,
    }
    assert row["first_epoch_ratio_stats"]["median"] >= 1.5  # the old rule would have passed it
    met = bench_pipeline.judge_targets(row)
    assert met["first_epoch_ratio>=1.5 (lower quartile)"] is False
    assert met["cached>=0.8 of the bound (median)"] is True


def _class_tree(root: Path, count: int = 8, side: int = 40) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(count):
        folder = root / ("female" if index % 2 else "male")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{index}.jpg")
    return root


def test_a_registered_loader_is_timed_beside_the_baseline_and_the_bound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bench_pipeline, "LOADER_REGISTRY", dict(bench_pipeline.LOADER_REGISTRY))
    built = []

    @bench_pipeline.register_loader("plain_numpy", "batches of zeros, for this test")
    def plain_numpy(files: bench_pipeline.DatasetFiles):
        built.append(files.count)
        crop, batch = files.cfg["crop_size"], files.cfg["batch_size"]
        return [(np.zeros((batch, crop, crop, 3), np.uint8), np.zeros(batch)) for _ in range(files.count // batch)]

    with pytest.raises(ValueError, match="already registered"):
        bench_pipeline.register_loader("plain_numpy", "again")(plain_numpy)
    cfg = {"image_size": 32, "crop_size": 28, "batch_size": 4}
    row = bench_pipeline.measure_dataset(
        "tiny", _class_tree(tmp_path / "tree"), cfg, first_repeats=2, cached_repeats=2,
        loaders=("adiencekit", "keras_uint8", "tf_data_bound", "plain_numpy"),
    )
    assert built == [8, 8]
    assert row["baseline"] == "keras_uint8" and set(row["ratios"]) == {"adiencekit", "tf_data_bound", "plain_numpy"}
    share = [b / a for a, b in zip(row["adiencekit_cached_epoch"]["seconds"], row["tf_data_bound_cached_epoch"]["seconds"])]
    assert row["cached_share_of_bound_stats"]["per_repeat"] == pytest.approx(share, rel=1e-3)
    assert set(row["targets_met"]) == {
        "first_epoch_ratio>=1.5 (lower quartile)", "cached>=0.8 of the bound (median)", "cached_images_per_s>=3000"
    }


# --------------------------------------------------------------------------------------
# Shared main ending and load
# --------------------------------------------------------------------------------------


def test_finish_writes_the_load_at_the_end(tmp_path: Path, capsys) -> None:
    import types

    args = types.SimpleNamespace(smoke=False, out=tmp_path / "r.json")
    env = {"device": {"kind": "cpu"}, "machine": {"cores": 2, "load_average_at_start": [3.0, 2.0, 1.0]}}
    assert common.finish("demo", args, env, {"rows": []}, lines=["summary"]) == 0
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["machine"]["load_average_at_start"] == [3.0, 2.0, 1.0]
    assert len(payload["machine"]["load_average_at_end"]) == 3
    assert common.is_loaded(payload["machine"]) is True
    assert "summary" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# Exported files beside Keras
# --------------------------------------------------------------------------------------


def test_an_export_that_fails_is_recorded_and_the_others_are_still_timed(monkeypatch) -> None:
    import bench_inference

    def fake_runner(model, fmt, folder):
        if fmt == "onnx":
            raise ValueError("Required inputs (['mean/Sub/y:0']) are missing from input feed (['image'])")
        return lambda x: x.sum()

    monkeypatch.setattr(bench_inference, "exported_runner", fake_runner)
    faces = bench_inference.random_faces(3, side=64)
    row = bench_inference.measure_zoo("scratch_cnn", "scratch_cnn", "gender", 48, {}, faces, batch=2, repeats=1,
                                      exports=("onnx", "tflite"))
    assert set(row["exported_batch1_ms"]) == {"keras", "tflite"}
    assert row["exported_errors"]["onnx"].startswith("ValueError: Required inputs")
    text = results_table._inference({"rows": [row], "baseline": None, "config": {}})
    assert "scratch_cnn: onnx not timed (ValueError" in text
