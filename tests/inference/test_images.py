"""Reading real-world photos: orientation, colour modes, alpha, size, broken files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.errors import DataError
from adiencekit.inference.images import ImageReadError, as_rgb_array, expand_image_paths, read_image


def _marked(width: int = 60, height: int = 40) -> np.ndarray:
    """An RGB image with a red block in its top-left corner (to follow rotations)."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:10, :10] = (255, 0, 0)
    return image


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    picture = Image.fromarray(_marked())
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    path = tmp_path / "rotated.jpg"
    picture.save(path, exif=exif, quality=95)
    image = read_image(path)
    assert image.shape == (60, 40, 3)  # width and height swapped
    # The top-left corner went to the top-right once rotated clockwise.
    assert image[:8, -8:, 0].mean() > 200 and image[:8, :8, 0].mean() < 50


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [
        ("L", 77, (77, 77, 77)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", None, None),
        ("P", None, None),
    ],
)
def test_colour_modes_become_rgb(tmp_path: Path, mode: str, colour, expected) -> None:
    if mode == "I;16":
        values = np.linspace(0, 65535, 32 * 16).reshape(16, 32).astype(np.uint16)
        picture = Image.fromarray(values)
        path = tmp_path / "deep.png"
    elif mode == "P":
        picture = Image.fromarray(_marked()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        path = tmp_path / "palette.gif"
    else:
        picture = Image.new(mode, (32, 16), colour)
        path = tmp_path / f"{mode}.jpg" if mode == "CMYK" else tmp_path / f"{mode}.png"
    picture.save(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    if expected is not None:
        assert np.abs(image[5, 5].astype(int) - expected).max() <= 3
    if mode == "I;16":  # the 16-bit range is stretched to 0-255, not clipped
        assert image.min() == 0 and image.max() == 255


def test_png_alpha_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :5, 3] = 255  # left half opaque red, right half transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    image = read_image(path)
    assert tuple(image[0, 0]) == (200, 0, 0)
    assert tuple(image[0, 9]) == (255, 255, 255)


def test_very_large_image_is_read(tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    Image.new("RGB", (9000, 6000), (10, 20, 30)).save(path, quality=70)
    image = read_image(path)
    assert image.shape == (6000, 9000, 3)


@pytest.mark.parametrize("content", [b"", b"hello", None])
def test_unreadable_files_raise_one_line(tmp_path: Path, content) -> None:
    path = tmp_path / "broken.jpg"
    if content is None:  # a truncated JPEG
        buffer = io.BytesIO()
        Image.fromarray(_marked(200, 200)).save(buffer, format="JPEG")
        content = buffer.getvalue()[:300]
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert isinstance(caught.value, DataError)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "absent.jpg")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_as_rgb_array_accepts_and_refuses() -> None:
    assert as_rgb_array(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    rgba = np.zeros((3, 4, 4), np.uint8)
    assert as_rgb_array(rgba)[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white
    assert as_rgb_array(Image.new("L", (4, 3))).shape == (3, 4, 3)
    with pytest.raises(ValueError, match="float32"):
        as_rgb_array(np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 4, 2\)"):
        as_rgb_array(np.zeros((3, 4, 2), np.uint8))


def test_expand_image_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("sub/b.JPG", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    explicit = tmp_path / "notes.txt"
    found = expand_image_paths([tmp_path, explicit, tmp_path / "missing.jpg"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.png", "sub/b.JPG", "notes.txt", "missing.jpg"]


def test_float_tiff_with_nan_pixels_is_unreadable_without_a_numpy_warning(tmp_path: Path) -> None:
    import warnings

    pixels = np.linspace(0, 1, 20 * 30, dtype=np.float32).reshape(20, 30)
    pixels[3, 4] = np.nan
    pixels[5, 6] = np.inf
    path = tmp_path / "float.tif"
    Image.fromarray(pixels, mode="F").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "invalid value encountered in cast" would fail here
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
    assert str(caught.value) == (f"{path}: cannot read image (2 of 600 pixels are not finite numbers "
                                 f"(NaN or infinite))")
    pixels[3, 4] = pixels[5, 6] = 0.5
    Image.fromarray(pixels, mode="F").save(path)
    assert read_image(path).shape == (20, 30, 3)  # finite floats still read


def test_counts_in_summaries_agree_with_their_noun() -> None:
    from adiencekit.inference.predictor import PredictionSummary

    one = PredictionSummary(images=1, read=1, unreadable=0, no_face=0, faces=1, too_small=1)
    assert str(one) == "1 image: 1 face, 0 without a face, 0 unreadable, 1 face below --min-face"
    two = PredictionSummary(images=2, read=1, unreadable=1, no_face=0, faces=0, too_small=0)
    assert str(two) == "2 images: 0 faces, 0 without a face, 1 unreadable"
