"""Shared pytest configuration: markers, the real-data location, fast defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: ``../shared/data`` relative to the project root (see shared/data/README.md).
SHARED_DATA = Path(
    os.environ.get("ADIENCEKIT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests marked gpu")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-gpu"):
        return
    skip_gpu = pytest.mark.skip(reason="needs a GPU; pass --run-gpu to run")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (see shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``shared/data`` folder; skips the test when it is absent."""
    return _need(SHARED_DATA)


@pytest.fixture(scope="session")
def adience_folds_dir() -> Path:
    """Real Adience fold files, current release (19,370 rows)."""
    return _need(SHARED_DATA / "adience" / "folds")


@pytest.fixture(scope="session")
def adience_folds_2015_dir() -> Path:
    """Real Adience fold files, 2015 release (19,487 rows)."""
    return _need(SHARED_DATA / "adience" / "folds-2015")


@pytest.fixture(scope="session")
def adience_faces_dir() -> Path:
    """19 real Adience face crops in the real ``faces/`` layout."""
    return _need(SHARED_DATA / "adience" / "faces")


@pytest.fixture(scope="session")
def utkface_dir() -> Path:
    """8,574 real UTKFace crops plus labels.csv."""
    return _need(SHARED_DATA / "utkface")
