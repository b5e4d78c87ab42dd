"""Tests for adiencekit.data.images: every kind of bad input, on files the tests write."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.data.images import (
    IMAGE_PROBLEMS,
    SUPPORTED_FORMATS,
    ImageInfo,
    count_problems,
    inspect_image,
    scan_images,
)


def _noise(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(array, "RGB").convert(mode)


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_good_rgb_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "ok.jpg"
    _noise(64, 48).save(path, quality=90)
    info = inspect_image(path)
    assert info == ImageInfo(str(path), "JPEG", 64, 48, "RGB", None, "")
    assert info.ok


def test_missing_and_directory(tmp_path: Path) -> None:
    assert inspect_image(tmp_path / "nope.jpg").problem == "missing"
    assert inspect_image(tmp_path).problem == "missing"
    assert inspect_image(tmp_path).detail == "not a regular file"


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    info = inspect_image(path)
    assert (info.problem, info.format, info.width) == ("empty", None, None)
    assert not info.ok


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = _jpeg_bytes(_noise(128, 128))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    info = inspect_image(path)
    assert info.problem == "truncated", info
    # The header is intact, so what is known is still reported.
    assert (info.format, info.width, info.height) == ("JPEG", 128, 128)


def test_jpeg_with_trailing_bytes_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "trailer.jpg"
    path.write_bytes(_jpeg_bytes(_noise()) + b"CAMERA-TRAILER" * 400)
    assert inspect_image(path).problem is None


def test_jpeg_padded_with_zeros_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "padded.jpg"
    path.write_bytes(_jpeg_bytes(_noise()) + b"\x00" * 100)
    assert inspect_image(path).problem is None


def test_corrupt_bytes(tmp_path: Path) -> None:
    path = tmp_path / "junk.jpg"
    path.write_bytes(b"this is not an image at all" * 10)
    info = inspect_image(path)
    assert info.problem == "corrupt"
    assert info.format is None


def test_corrupt_jpeg_body(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes(_noise(128, 128)))
    # Keep the header, overwrite most of the body and remove the end marker.
    data[400:-2] = b"\x00" * (len(data) - 402)
    path = tmp_path / "scrambled.jpg"
    path.write_bytes(bytes(data[:-2]))
    assert inspect_image(path).problem in {"truncated", "corrupt"}


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _noise(64, 64).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:-200])
    assert inspect_image(path).problem == "truncated"


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP"])
def test_other_formats_saved_as_jpg_are_identified_by_content(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"really_{fmt.lower()}.jpg"
    _noise(40, 30).save(path, format=fmt)
    info = inspect_image(path)
    assert (info.format, info.width, info.height, info.problem) == (fmt, 40, 30, None)


def test_grayscale_and_cmyk_modes(tmp_path: Path) -> None:
    gray, cmyk = tmp_path / "gray.jpg", tmp_path / "cmyk.jpg"
    _noise(mode="L").save(gray)
    _noise(mode="CMYK").save(cmyk)
    assert (inspect_image(gray).mode, inspect_image(gray).problem) == ("L", None)
    assert (inspect_image(cmyk).mode, inspect_image(cmyk).problem) == ("CMYK", None)


def test_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "face.jpg"
    _noise(32, 32).save(path, format="TIFF")
    info = inspect_image(path)
    assert (info.problem, info.format, info.width) == ("unsupported", "TIFF", 32)
    assert "TIFF" in info.detail


def test_problem_kinds_constant_and_validation() -> None:
    assert IMAGE_PROBLEMS == ("missing", "empty", "truncated", "corrupt", "unsupported")
    assert "JPEG" in SUPPORTED_FORMATS
    with pytest.raises(ValueError, match="problem must be None or one of"):
        ImageInfo("x.jpg", problem="broken")


def test_scan_images_keeps_order_and_counts(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    _noise().save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    infos = scan_images([good, tmp_path / "missing.jpg", str(empty)], progress=True)
    assert [info.problem for info in infos] == [None, "missing", "empty"]
    assert [info.path for info in infos] == [str(good), str(tmp_path / "missing.jpg"), str(empty)]
    assert count_problems(infos) == {"missing": 1, "empty": 1, "truncated": 0, "corrupt": 0, "unsupported": 0}


def test_scanning_many_missing_paths_is_fast(tmp_path: Path) -> None:
    paths = [tmp_path / "aligned" / f"user{i % 100}" / f"face.{i}.jpg" for i in range(20_000)]
    start = time.perf_counter()
    infos = scan_images(paths)
    elapsed = time.perf_counter() - start
    assert count_problems(infos)["missing"] == 20_000
    assert elapsed < 5.0, f"scanning 20k missing paths took {elapsed:.2f} s"


def test_real_adience_crops_are_clean(adience_faces_dir: Path) -> None:
    paths = sorted(adience_faces_dir.glob("*/*.jpg"))
    assert len(paths) == 19
    infos = scan_images(paths)
    assert count_problems(infos) == dict.fromkeys(IMAGE_PROBLEMS, 0)
    assert all(info.format == "JPEG" and min(info.width, info.height) >= 400 for info in infos)
