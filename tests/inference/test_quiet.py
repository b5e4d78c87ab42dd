"""The photo path is quiet: importing it prints nothing, a photo without a face logs nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "ADIENCEKIT_VERBOSE", "GRPC_VERBOSITY")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)


def test_importing_the_predictor_prints_nothing(tmp_path: Path) -> None:
    run = _run("from adiencekit.inference import Predictor", tmp_path)
    assert run.returncode == 0 and run.stdout == "" and run.stderr == ""


def test_a_photo_without_a_face_logs_nothing(tmp_path: Path) -> None:
    pytest.importorskip("mtcnn", reason="face detection needs the mtcnn package")
    Image.new("RGB", (300, 200), (128, 128, 128)).save(tmp_path / "wall.png")
    run = _run("from adiencekit.inference import MTCNNDetector, read_image\n"
               "print(len(MTCNNDetector().detect(read_image('wall.png'))))", tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "0"
    assert "rendezvous" not in run.stderr and "Incompatible shapes" not in run.stderr and run.stderr == ""
