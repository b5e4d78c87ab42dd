"""The wheel and the sdist carry the bundled presets, and the wheel stays small.

The build runs on a copy of the project's packaging files and ``src/`` in a temporary
folder, with a tiny preset added under ``models/bundled/`` of the copy (the real source
tree is never written to). ``python -m build`` makes the sdist, then the wheel from that
sdist, so both are checked in one build.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESET = "tiny_packaging_test"
#: The wheel must stay a small download, bundled model included (issue 12: a few MB).
MAX_WHEEL_BYTES = 15 * 2**20

pytestmark = pytest.mark.slow  # a subprocess build: about 10 s


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if importlib.util.find_spec("build") is None:
        pytest.skip('building the wheel needs the "build" package (pip install -e ".[dev]")')
    copy = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(ROOT / "src", copy / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))
    preset = copy / "src" / "adiencekit" / "models" / "bundled" / PRESET
    preset.mkdir(parents=True)
    (preset / "preset.json").write_text(json.dumps({"format": "adiencekit-preset", "task": "gender"}) + "\n")
    (preset / "model.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(4096))  # content is not read here
    (preset / "README.md").write_text("# a model card\n")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(copy)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "setuptools" in done.stdout + done.stderr and (
            "No matching distribution" in done.stdout + done.stderr
            or "Could not find a version" in done.stdout + done.stderr):
        pytest.skip("the isolated build environment could not install setuptools>=77 (no package index reachable)")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_the_wheel_holds_the_bundled_preset_files(built: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    folder = f"adiencekit/models/bundled/{PRESET}"
    assert {f"{folder}/preset.json", f"{folder}/model.weights.h5", f"{folder}/README.md"} <= names, sorted(
        n for n in names if "bundled" in n)
    assert "adiencekit/models/bundled/README.md" in names and "adiencekit/py.typed" in names
    weights = zipfile.ZipFile(built["wheel"]).getinfo(f"{folder}/model.weights.h5")
    assert weights.file_size == 8 + 4096
    # MTCNN's networks for ONNX Runtime, with their licence notice, and the default model's ONNX copy.
    assert {f"adiencekit/inference/weights/mtcnn-{name}.onnx" for name in ("pnet", "rnet", "onet")} <= names
    assert "adiencekit/inference/weights/NOTICE.md" in names
    if (ROOT / "src" / "adiencekit" / "models" / "bundled" / "utkface_v2" / "model.onnx").is_file():
        assert "adiencekit/models/bundled/utkface_v2/model.onnx" in names
    if (ROOT / "src" / "adiencekit" / "models" / "bundled" / "utkface_v2" / "model.int8.onnx").is_file():
        assert "adiencekit/models/bundled/utkface_v2/model.int8.onnx" in names


def test_the_sdist_holds_the_bundled_preset_files(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    folder = f"src/adiencekit/models/bundled/{PRESET}"
    assert {f"{folder}/preset.json", f"{folder}/model.weights.h5", f"{folder}/README.md"} <= names


def test_the_wheel_stays_small(built: dict[str, Path]) -> None:
    size = built["wheel"].stat().st_size
    assert size < MAX_WHEEL_BYTES, f"the wheel is {size / 2**20:.1f} MB; keep it under {MAX_WHEEL_BYTES / 2**20:.0f} MB"
