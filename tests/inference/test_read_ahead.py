"""Photos decoded ahead in threads: same order, same errors, bounded look-ahead, same predictions."""

from __future__ import annotations

import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from adiencekit.errors import ConfigError
from adiencekit.inference import Predictor
from adiencekit.inference import read_ahead as ra
from adiencekit.inference.images import ImageReadError
from adiencekit.models import face_resnet


def photos(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"p{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (24 + i, 20 + i, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_order_and_errors_are_kept(tmp_path: Path, workers: int) -> None:
    paths: list = photos(tmp_path, 9)
    paths.insert(3, tmp_path / "missing.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    paths.insert(7, tmp_path / "broken.jpg")
    paths.append(np.zeros((5, 6, 3), np.uint8))
    out = list(ra.read_ahead(paths, workers))
    assert [item for item, _ in out] == paths
    for index, (item, image) in enumerate(out):
        if index in (3, 7):
            assert isinstance(image, ImageReadError)
        elif isinstance(item, Path):
            assert image.shape == np.asarray(Image.open(item)).shape
            np.testing.assert_array_equal(image, np.asarray(Image.open(item).convert("RGB")))
        else:
            assert image.shape == (5, 6, 3)


def test_the_look_ahead_is_bounded(tmp_path: Path, monkeypatch) -> None:
    decoded: list[int] = []
    lock = threading.Lock()

    def fake_read(path):
        with lock:
            decoded.append(int(Path(path).stem))
        return np.zeros((2, 2, 3), np.uint8)

    monkeypatch.setattr(ra, "read_image", fake_read)
    stream = ra.read_ahead([f"{i}.png" for i in range(40)], workers=2)
    next(stream)
    # the first yielded, at most 2 x AHEAD_PER_WORKER more submitted: never the whole folder
    assert len(decoded) <= 1 + 2 * ra.AHEAD_PER_WORKER
    assert len(list(stream)) == 39 and sorted(decoded) == list(range(40))


def test_workers_default_to_the_spare_cores(monkeypatch) -> None:
    monkeypatch.setattr(ra, "usable_cores", lambda: 1)
    assert ra.default_decode_workers() == 0
    monkeypatch.setattr(ra, "usable_cores", lambda: 8)
    assert ra.default_decode_workers() == 2
    with pytest.raises(ValueError, match="0 or more"):
        list(ra.read_ahead([], -1))


def test_a_predictor_gives_the_same_results_with_and_without_threads(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1))
    paths = [str(p) for p in photos(tmp_path, 7)] + [str(tmp_path / "missing.jpg")]
    results = {}
    for workers in (0, 2):
        predictor = Predictor(model, detector=None, batch_size=3, decode_workers=workers)
        assert predictor.decode_workers == workers
        results[workers] = predictor.predict(paths, detect=False)
    for plain, threaded in zip(results[0], results[2], strict=True):
        assert plain.path == threaded.path and plain.error == threaded.error and plain.size == threaded.size
        assert [f.gender.probability for f in plain.faces] == pytest.approx([f.gender.probability for f in threaded.faces])
    assert results[2][-1].error and not results[2][-1].faces
    with pytest.raises(ConfigError, match="decode_workers"):
        Predictor(model, detector=None, decode_workers=-1)
