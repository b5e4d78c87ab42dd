"""``adiencekit predict`` in a fresh process is quiet: on a photo without a face, stderr holds
the summary line and nothing else (no TensorFlow/absl start-up block, no ``Incompatible
shapes`` lines, no progress bar into a pipe), on TensorFlow and on JAX without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

#: Log settings a user's shell may lack: the command must be quiet without them.
LOUD_UNSET = ("TF_CPP_MIN_LOG_LEVEL", "ADIENCEKIT_VERBOSE", "GRPC_VERBOSITY")


@pytest.mark.parametrize(("backend", "options", "state"), [
    # The bundled model and MTCNN in ONNX Runtime (the default): Keras is never imported.
    ("tensorflow", ["--detector", "mtcnn"], "False None"),
    ("jax", ["--detector", "mtcnn"], "False None"),
    (None, ["--detector", "mtcnn"], "False None"),
    # A Keras detector or runtime imports Keras, quietly: the networks on the TensorFlow backend,
    ("tensorflow", ["--detector", "mtcnn-keras"], "True tensorflow"),
    ("tensorflow", ["--detector", "mtcnn-package"], "True tensorflow"),  # the mtcnn package's own implementation
    # the same networks on JAX without TensorFlow, and no backend chosen: JAX where it is installed.
    ("jax", ["--detector", "mtcnn-keras"], "False jax"),
    (None, ["--runtime", "keras"], "False jax"),
])
def test_a_photo_without_a_face_prints_the_summary_alone(tmp_path: Path, backend, options, state) -> None:
    pytest.importorskip("mtcnn", reason="face detection needs the mtcnn package (its weights)")
    pytest.importorskip(backend or "jax", reason=f"the {backend or 'jax'} backend is not installed")
    if "keras" not in state:
        pytest.importorskip("onnxruntime", reason="the default path runs in ONNX Runtime")
    Image.new("RGB", (300, 200), (128, 128, 128)).save(tmp_path / "wall.png")
    env = {key: value for key, value in os.environ.items() if key not in LOUD_UNSET + ("KERAS_BACKEND",)}
    env.update(PYTHONPATH=str(ROOT / "src"), KERAS_HOME=str(tmp_path / "keras"))
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    code = ("import sys; from adiencekit.cli import main; status = main(sys.argv[1:]); "
            "keras = sys.modules.get('keras'); "
            "print('tensorflow' in sys.modules, keras and keras.backend.backend(), file=sys.stderr); sys.exit(status)")
    run = subprocess.run([sys.executable, "-c", code, "predict", "wall.png", *options, "--json", "-"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads(run.stdout)
    assert payload["images"][0]["faces"] == []
    assert payload["runtime"] == ("keras" if "--runtime" in options else "onnx")
    summary, probe = run.stderr.splitlines()  # the summary line and the probe's line: nothing else
    assert summary.startswith("adiencekit: 1 image: 0 faces, 1 without a face, 0 unreadable")
    assert probe == state
