"""``experiments/zoo_accuracy_speed.py``: a ``--smoke`` run (2 models, 40 faces, 1 epoch; slow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))

import zoo_accuracy_speed  # noqa: E402  (experiments/ is not a package)


@pytest.mark.slow
def test_smoke_run_scores_every_model_on_validation_faces(shared_data: Path, tmp_path: Path) -> None:
    if not (shared_data / "utkface" / "labels.csv").is_file():
        pytest.skip(f"no UTKFace under {shared_data / 'utkface'}")
    out = tmp_path / "zoo.json"
    assert zoo_accuracy_speed.main(["--smoke", "--out", str(out), "--shared-data", str(shared_data)]) == 0
    payload = json.loads(out.read_text())
    assert payload["suite"] == "zoo" and payload["scored_on"].startswith("validation split")
    assert payload["status"] == "complete" and payload["errors"] == []
    assert payload["recipe"]["train_faces"] == 40 and payload["recipe"]["epochs"] == 1
    assert [row["model"] for row in payload["rows"]] == list(zoo_accuracy_speed.MODELS[:2])
    for row in payload["rows"]:
        assert 0.0 <= row["gender"] <= 1.0 and 0.0 <= row["age_exact"] <= row["age_one_off"] <= 1.0
        assert row["train_images_per_s"] > 0 and row["batch1_ms"] > 0 and row["batch64_images_per_s"] > 0


def test_missing_data_is_one_usage_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        zoo_accuracy_speed.main(["--shared-data", str(tmp_path)])
    assert stop.value.code == 2 and "UTKFace not found" in capsys.readouterr().err


def test_a_model_that_fails_is_recorded_and_the_others_still_run(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    if not (shared_data / "utkface" / "labels.csv").is_file():
        pytest.skip(f"no UTKFace under {shared_data / 'utkface'}")
    calls = []

    def fake(name, data, epochs):
        calls.append(name)
        if name == "scratch_cnn":
            raise RuntimeError("weights='imagenet' needs a download")
        return {"model": name, "gender": 0.5, "age_exact": 0.2, "age_one_off": 0.5, "train_images_per_s": 1.0,
                "batch1_ms": 1.0, "batch64_images_per_s": 1.0}

    monkeypatch.setattr(zoo_accuracy_speed, "train_and_score", fake)
    out = tmp_path / "zoo.json"
    assert zoo_accuracy_speed.main(["--smoke", "--out", str(out), "--shared-data", str(shared_data)]) == 1
    payload = json.loads(out.read_text())
    assert calls == list(zoo_accuracy_speed.MODELS[:2]) and [r["model"] for r in payload["rows"]] == calls[1:]
    assert payload["errors"] == [{"model": "scratch_cnn", "error": "RuntimeError: weights='imagenet' needs a download"}]
