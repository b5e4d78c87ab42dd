"""bench_photos --stages: the stage table of single-face photos adds up to the end-to-end time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.realdata
def test_stages_smoke_writes_every_stage_and_the_overhead(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "stages.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    # A subprocess: the suite sizes TensorFlow's thread pools, which an initialised TensorFlow refuses.
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_photos.py"), "--stages", "--smoke",
                           "--detector", "mtcnn-keras", "--shared-data", str(shared_data), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert payload["suite"] == "photos-stages" and payload["detector"] == "KerasMTCNNDetector"
    rows = {row["stage"]: row for row in payload["rows"]}
    for name in ("decode", "pyramid", "pnet", "rnet", "onet", "align", "model", "Python overhead", "end to end"):
        assert name in rows, name
    parts = sum(row["ms_per_photo"] for name, row in rows.items() if name != "end to end")
    assert parts == pytest.approx(rows["end to end"]["ms_per_photo"], rel=1e-6)
    assert payload["faces"] == payload["photos"] == 3


@pytest.mark.slow
@pytest.mark.realdata
def test_folder_smoke_times_the_folder_with_and_without_decode_threads(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "folder.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_photos.py"), "--folder", "--smoke",
                           "--shared-data", str(shared_data), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert payload["suite"] == "photos-folder" and payload["photos"] == 3
    ours = [row for row in payload["rows"] if row["method"] == "adiencekit"]
    assert ours[0]["decode_workers"] == 0 and all(row["photos_per_s"] > 0 for row in payload["rows"])
    assert len({row["faces"] for row in ours}) == 1  # threads change the speed, not the faces
