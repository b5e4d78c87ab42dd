"""Fast inspection of image files: format, size, colour mode and what is wrong with them.

:func:`inspect_image` reads only the header of a file (PIL opens images lazily) and checks
that the file ends the way its format says it must (the JPEG end-of-image marker, the PNG
``IEND`` chunk, the GIF trailer, the BMP file size). Only a file that fails that cheap test
is fully decoded, to tell a truncated file from one with harmless trailing bytes. Missing
paths cost one ``stat`` call, so scanning the ~20k paths of an Adience fold table where
most images are absent takes well under a second.

Example:

>>> import tempfile, pathlib
>>> from PIL import Image
>>> from adiencekit.data.images import inspect_image, count_problems, scan_images
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> Image.new("RGB", (40, 30), "white").save(tmp / "ok.jpg")
>>> _ = (tmp / "empty.jpg").write_bytes(b"")
>>> info = inspect_image(tmp / "ok.jpg")
>>> (info.format, info.width, info.height, info.mode, info.problem, info.ok)
('JPEG', 40, 30, 'RGB', None, True)
>>> infos = scan_images([tmp / "ok.jpg", tmp / "empty.jpg", tmp / "gone.jpg"])
>>> [i.problem for i in infos]
[None, 'empty', 'missing']
>>> count_problems(infos)
{'missing': 1, 'empty': 1, 'truncated': 0, 'corrupt': 0, 'unsupported': 0}
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

__all__ = [
    "IMAGE_PROBLEMS",
    "SUPPORTED_FORMATS",
    "ImageInfo",
    "count_problems",
    "inspect_image",
    "scan_images",
]

#: Every value :attr:`ImageInfo.problem` can take besides ``None``, in order of severity
#: of "how much is there": no file, a zero-byte file, a file cut short, bytes that are not
#: a readable image, and a readable image in a format the pipeline cannot decode.
IMAGE_PROBLEMS: tuple[str, ...] = ("missing", "empty", "truncated", "corrupt", "unsupported")

#: PIL format names that :mod:`adiencekit.data.pipeline` decodes (``tf.io.decode_image``
#: formats). Whatever the file extension says, the content decides.
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP")

# How far from the end the format's end marker may sit before the file is decoded in
# full to find out whether it is truncated (cameras append padding and trailers).
_TAIL_BYTES = 4096
_PNG_END = b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`inspect_image` found out about one file.

    Attributes:
        path: the path that was inspected, as given.
        format: PIL format name (``"JPEG"``, ``"PNG"``, ``"GIF"``, ``"BMP"``, ...), or
            ``None`` when the file could not be identified.
        width: width in pixels, or ``None`` when unknown.
        height: height in pixels, or ``None`` when unknown.
        mode: PIL mode such as ``"RGB"``, ``"L"`` or ``"CMYK"``, or ``None``.
        problem: ``None`` for a usable image, else one of :data:`IMAGE_PROBLEMS`.
        detail: a short human-readable explanation of the problem (``""`` if none).
    """

    path: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    problem: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.problem is not None and self.problem not in IMAGE_PROBLEMS:
            raise ValueError(f"problem must be None or one of {IMAGE_PROBLEMS}, got {self.problem!r}")

    @property
    def ok(self) -> bool:
        """``True`` when the image is present, complete and decodable by the pipeline."""
        return self.problem is None


def _tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        return handle.read()


def _ends_properly(path: Path, image_format: str, size: int) -> bool:
    """Cheap completeness check from the last bytes of the file (or its declared size)."""
    if image_format == "BMP":
        with open(path, "rb") as handle:
            header = handle.read(6)
        declared = struct.unpack("<I", header[2:6])[0] if len(header) == 6 else 0
        return declared == 0 or size >= declared
    tail = _tail(path, size).rstrip(b"\x00\r\n\t ")
    if image_format == "JPEG":
        return tail.endswith(b"\xff\xd9")
    if image_format == "PNG":
        return tail.endswith(_PNG_END)
    if image_format == "GIF":
        return tail.endswith(b";")
    return True


def _full_decode_problem(path: Path) -> tuple[str | None, str]:
    """Decode the whole image; classify a failure as ``truncated`` or ``corrupt``."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.load()
    except OSError as error:
        message = str(error)
        if "truncated" in message.lower() or "premature" in message.lower():
            return "truncated", message
        return "corrupt", message
    except Exception as error:  # PIL raises assorted errors on bad data  # noqa: BLE001
        return "corrupt", f"{type(error).__name__}: {error}"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    return None, ""


def inspect_image(path: str | os.PathLike[str]) -> ImageInfo:
    """Inspect one image file without decoding it (unless it looks cut short).

    Args:
        path: path to the file.

    Returns:
        An :class:`ImageInfo`. ``problem`` is ``"missing"`` (no such file, or not a
        regular file), ``"empty"`` (zero bytes), ``"truncated"`` (the data stops early),
        ``"corrupt"`` (not a readable image), ``"unsupported"`` (a readable image whose
        format is not in :data:`SUPPORTED_FORMATS`), or ``None``.

    Example:

    >>> from adiencekit.data.images import inspect_image
    >>> inspect_image("/no/such/face.jpg").problem
    'missing'
    """
    name = os.fspath(path)
    file_path = Path(name)
    try:
        stat = file_path.stat()
    except OSError as error:
        return ImageInfo(name, problem="missing", detail=f"{type(error).__name__}: {error.strerror or error}")
    if not file_path.is_file():
        return ImageInfo(name, problem="missing", detail="not a regular file")
    if stat.st_size == 0:
        return ImageInfo(name, problem="empty", detail="zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(file_path) as image:
                image_format, (width, height), mode = image.format, image.size, image.mode
    except UnidentifiedImageError:
        return ImageInfo(name, problem="corrupt", detail="not a recognised image format")
    except Exception as error:  # truncated or malformed headers  # noqa: BLE001
        return ImageInfo(name, problem="corrupt", detail=f"unreadable header: {type(error).__name__}: {error}")
    info = {"format": image_format, "width": width, "height": height, "mode": mode}
    if image_format not in SUPPORTED_FORMATS:
        return ImageInfo(
            name,
            **info,
            problem="unsupported",
            detail=f"format {image_format!r} is not one of {SUPPORTED_FORMATS}",
        )
    if not _ends_properly(file_path, image_format, stat.st_size):
        problem, detail = _full_decode_problem(file_path)
        if problem is not None:
            return ImageInfo(name, **info, problem=problem, detail=detail)
    return ImageInfo(name, **info)


def scan_images(paths: Iterable[str | os.PathLike[str]], progress: bool = False) -> list[ImageInfo]:
    """Inspect many files, in order.

    Args:
        paths: file paths.
        progress: show a ``tqdm`` progress bar.

    Returns:
        One :class:`ImageInfo` per path, in the order given.

    Example:

    >>> from adiencekit.data.images import scan_images
    >>> [info.problem for info in scan_images(["/no/a.jpg", "/no/b.jpg"])]
    ['missing', 'missing']
    """
    items = list(paths)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="checking images", unit="img")
    return [inspect_image(path) for path in items]


def count_problems(infos: Iterable[ImageInfo]) -> dict[str, int]:
    """Count the problems among inspected images.

    Args:
        infos: results of :func:`inspect_image` / :func:`scan_images`.

    Returns:
        A dict with every kind of :data:`IMAGE_PROBLEMS` as key (zero when absent), in
        that order.

    Example:

    >>> from adiencekit.data.images import ImageInfo, count_problems
    >>> count_problems([ImageInfo("a.jpg", problem="missing"), ImageInfo("b.jpg")])["missing"]
    1
    """
    counts = Counter(info.problem for info in infos if info.problem is not None)
    return {kind: counts.get(kind, 0) for kind in IMAGE_PROBLEMS}
