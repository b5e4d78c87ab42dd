"""Reading photos as they come: EXIF orientation, grayscale, CMYK, palettes, alpha, 16 bit.

Every photo leaves :func:`read_image` as a ``(height, width, 3)`` ``uint8`` RGB array,
upright as a viewer shows it (``ImageOps.exif_transpose``). Transparent pixels are
composited on white. A file that cannot be read raises :class:`ImageReadError`, whose
message is one line naming the file; batch callers catch it, count it and go on.

Example:

>>> import tempfile
>>> from pathlib import Path
>>> from PIL import Image
>>> from adiencekit.inference.images import ImageReadError, read_image
>>> path = Path(tempfile.mkdtemp()) / "gray.png"
>>> Image.new("L", (30, 20), 128).save(path)
>>> image = read_image(path)
>>> image.shape, image.dtype.name, int(image[0, 0, 0])
((20, 30, 3), 'uint8', 128)
>>> broken = path.with_name("broken.jpg")
>>> _ = broken.write_bytes(b"not a jpeg")
>>> try:
...     read_image(broken)
... except ImageReadError as error:
...     print(str(error).split(": ", 1)[1])
cannot read image (not an image format Pillow knows)
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from adiencekit.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "ImageInput", "ImageReadError", "as_rgb_array", "collect_images", "expand_image_paths",
           "read_image", "to_rgb"]

#: File suffixes taken from a folder (lower case); other files in a folder are ignored.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageReadError(DataError):
    """A photo that cannot be read or decoded; the message is one line naming the file."""


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any Pillow image to 8-bit RGB, compositing transparency on ``background``.

    Handles ``L``, ``LA``, ``P`` (with or without transparency), ``RGBA``, ``CMYK``,
    ``YCbCr``, ``I;16`` and ``I``/``F`` (scaled to 0-255 by the image's range).

    Args:
        image: a Pillow image of any mode.
        background: colour under transparent pixels.

    Returns:
        An ``RGB`` image of the same size.

    Raises:
        ValueError: for an ``F`` (float) image with NaN or infinite pixels.

    Example:

    >>> from PIL import Image
    >>> from adiencekit.inference.images import to_rgb
    >>> to_rgb(Image.new("RGBA", (2, 2), (255, 0, 0, 0))).getpixel((0, 0))
    (255, 255, 255)
    >>> to_rgb(Image.new("CMYK", (2, 2), (0, 255, 255, 0))).getpixel((0, 0))
    (255, 0, 0)
    """
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        bad = int((~np.isfinite(values)).sum())
        if bad:  # a 32-bit float TIFF can hold NaN or infinity: no colour to give those pixels
            raise ValueError(f"{bad} of {values.size} pixels are not finite numbers (NaN or infinite)")
        low, high = float(values.min()), float(values.max())
        scaled = np.zeros_like(values) if high <= low else (values - low) * (255.0 / (high - low))
        image = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a photo file as an upright ``(height, width, 3)`` ``uint8`` RGB array.

    Args:
        path: an image file Pillow can open (JPEG, PNG, BMP, GIF, TIFF, WebP, ...).

    Returns:
        The pixels, EXIF orientation applied, converted to RGB with :func:`to_rgb`.

    Raises:
        ImageReadError: the file is missing, not an image, truncated, too large to
            decode (Pillow's decompression-bomb limit) or holds non-finite (NaN) pixels.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                rgb = to_rgb(upright)
                return np.asarray(rgb, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: cannot read image (not an image format Pillow knows)") from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"{path}: image too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageReadError(f"{path}: cannot read image ({message})") from None


def as_rgb_array(image: Any) -> np.ndarray:
    """Check an in-memory image and return it as ``(height, width, 3)`` ``uint8`` RGB.

    Accepts ``(H, W, 3)`` ``uint8`` (returned as is), ``(H, W)`` grayscale and
    ``(H, W, 4)`` RGBA (alpha composited on white), and Pillow images.

    Args:
        image: a NumPy array or a Pillow image.

    Returns:
        A ``uint8`` array of shape ``(H, W, 3)``.

    Raises:
        ValueError: another shape or dtype (floats are refused: scale them to 0-255 and
            cast to ``uint8`` first, so that 0-1 and 0-255 images are not confused).

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.images import as_rgb_array
    >>> as_rgb_array(np.zeros((4, 5), np.uint8)).shape
    (4, 5, 3)
    >>> as_rgb_array(np.zeros((4, 5, 3), np.float32))
    Traceback (most recent call last):
    ...
    ValueError: image must be uint8 RGB (H, W, 3), got dtype float32; scale to 0-255 and cast to uint8
    """
    if isinstance(image, Image.Image):
        return np.asarray(to_rgb(ImageOps.exif_transpose(image)), dtype=np.uint8)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 RGB (H, W, 3), got dtype {array.dtype}; scale to 0-255 and cast to uint8"
        )
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        return np.asarray(to_rgb(Image.fromarray(array, mode="RGBA")), dtype=np.uint8)
    raise ValueError(f"image must be uint8 RGB of shape (H, W, 3), got shape {array.shape}")


@dataclass(frozen=True)
class ImageInput:
    """A photo to read: the file, and its path below the folder it was found in (its name when named directly)."""

    path: Path
    relative: Path


def collect_images(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> tuple[list[ImageInput], list[Path]]:
    """The photos named directly or found in named folders, and the entries skipped.

    Files named directly are kept whatever their suffix (reading them decides), and so are
    missing ones, so that the caller reports them as unreadable rather than dropping them;
    inside a folder (recursively, sorted) only :data:`IMAGE_SUFFIXES` count. Entries that
    exist but are no regular files (named pipes, sockets, devices) are skipped and
    returned, never opened: reading a pipe would wait forever.

    Example:

    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from adiencekit.inference.images import collect_images
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "a").mkdir()
    >>> for name in ("a/x.jpg", "b.PNG", "notes.txt"):
    ...     _ = (root / name).write_bytes(b"")
    >>> os.mkfifo(root / "pipe.jpg")
    >>> found, skipped = collect_images(root)
    >>> [str(item.relative) for item in found], [p.name for p in skipped]
    (['a/x.jpg', 'b.PNG'], ['pipe.jpg'])
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[ImageInput] = []
    skipped: list[Path] = []
    for entry in paths:
        root = Path(entry)
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir():
                    (found.append(ImageInput(path, path.relative_to(root))) if _regular(path)
                     else skipped.append(path))
        elif root.exists() and not _regular(root):
            skipped.append(root)
        else:
            found.append(ImageInput(root, Path(root.name)))
    return found, skipped


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True  # a dangling link or a permission error: reading reports it


def expand_image_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The paths of :func:`collect_images` (named files, then the images of named folders), in order.

    Example:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from adiencekit.inference.images import expand_image_paths
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b.jpg", "a.PNG", "notes.txt"):
    ...     _ = (root / name).write_bytes(b"")
    >>> [p.name for p in expand_image_paths(root)]
    ['a.PNG', 'b.jpg']
    """
    return [item.path for item in collect_images(paths)[0]]
