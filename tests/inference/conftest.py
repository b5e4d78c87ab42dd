"""Fixtures of the inference tests: a small two-head model, one MTCNN detector, real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adiencekit.inference.images import read_image


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
    return [read_image(path) for path in utk_files[::step][:12]]


@pytest.fixture(scope="session")
def adience_files(adience_faces_dir: Path) -> list[Path]:
    files = sorted(adience_faces_dir.rglob("*.jpg"))
    if len(files) != 19:
        pytest.skip(f"expected the 19 Adience crops under {adience_faces_dir}, found {len(files)}")
    return files
