"""Group photos made of real face crops, with known face positions (benchmarks, tests, the photo guide).

A benchmark helper, not part of the installed library: scripts in ``benchmarks/`` import
it directly, the tests and the docs put ``benchmarks/`` on ``sys.path``.

:func:`compose_photo` pastes several face crops (e.g. UTKFace's 200 px crops) at
different scales onto a larger canvas with a plain or noisy background, without overlap,
and returns where each one went. A detector run on the result can then be scored face by
face (:func:`match_faces`, IoU against the placed squares).

Example:

>>> import numpy as np
>>> from group_photos import compose_photo, iou
>>> faces = [np.full((200, 200, 3), v, np.uint8) for v in (50, 150)]
>>> photo, placed = compose_photo(faces, canvas=(400, 300), sizes=(80, 120), seed=0)
>>> photo.shape, len(placed)
((300, 400, 3), 2)
>>> iou(placed[0].box, placed[0].box)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["Placement", "compose_photo", "iou", "match_faces"]


@dataclass(frozen=True)
class Placement:
    """Where one face crop was pasted.

    Attributes:
        index: position of the crop in the list given to :func:`compose_photo`.
        box: ``(x, y, w, h)`` of the pasted square on the canvas.
    """

    index: int
    box: tuple[int, int, int, int]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = width * height
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def compose_photo(
    faces: Sequence[np.ndarray],
    *,
    canvas: tuple[int, int] = (1280, 960),
    sizes: tuple[int, int] = (90, 260),
    background: str = "noise",
    seed: int = 0,
    max_tries: int = 500,
) -> tuple[np.ndarray, list[Placement]]:
    """Paste ``faces`` at random sizes and positions, without overlap, on a canvas.

    Args:
        faces: ``uint8`` RGB face crops.
        canvas: ``(width, height)`` of the photo.
        sizes: smallest and largest side of a pasted face, in pixels.
        background: ``"noise"`` (smoothed colour noise), ``"plain"`` (one colour) or
            ``"gradient"``.
        seed: random seed.
        max_tries: placement attempts per face before giving up with ``ValueError``.

    Returns:
        The ``(height, width, 3)`` ``uint8`` photo and one :class:`Placement` per face.
    """
    rng = np.random.default_rng(seed)
    width, height = canvas
    if background == "noise":
        small = rng.integers(0, 256, size=(max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
        base = np.clip(base + rng.integers(-12, 13, size=base.shape), 0, 255).astype(np.uint8)
    elif background == "plain":
        base = np.empty((height, width, 3), np.uint8)
        base[:] = rng.integers(0, 256, size=3, dtype=np.uint8)
    elif background == "gradient":
        ramp = np.linspace(0, 1, width)[None, :, None]
        start, end = rng.integers(0, 256, size=(2, 3))
        base = np.broadcast_to(start + (end - start) * ramp, (height, width, 3)).astype(np.uint8)
    else:
        raise ValueError(f"background must be 'noise', 'plain' or 'gradient', got {background!r}")
    photo = Image.fromarray(np.ascontiguousarray(base))
    placed: list[Placement] = []
    for index, face in enumerate(faces):
        for _ in range(max_tries):
            side = int(rng.integers(sizes[0], sizes[1] + 1))
            if side >= width or side >= height:
                continue
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            box = (x, y, side, side)
            if all(iou(box, p.box) == 0.0 for p in placed):
                break
        else:
            raise ValueError(f"could not place face {index} without overlap; use a larger canvas or fewer faces")
        tile = Image.fromarray(np.asarray(face, np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
        photo.paste(tile, (x, y))
        placed.append(Placement(index=index, box=box))
    return np.asarray(photo), placed


def match_faces(
    placements: Sequence[Placement], boxes: Sequence[Sequence[float]], threshold: float = 0.4
) -> dict[int, int]:
    """Match placed faces to detected boxes, greedily by IoU (each used once).

    Args:
        placements: from :func:`compose_photo`.
        boxes: detected ``(x, y, w, h)`` boxes.
        threshold: smallest IoU for a match (a detector's box is tighter than the pasted
            square: about 0.75 IoU for UTKFace crops).

    Returns:
        ``{placement index: box index}`` for the matched placements.
    """
    pairs: list[tuple[float, int, int]] = []
    for p_index, placement in enumerate(placements):
        for b_index, box in enumerate(boxes):
            overlap = iou(placement.box, box)
            if overlap >= threshold:
                pairs.append((overlap, p_index, b_index))
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _, p_index, b_index in sorted(pairs, reverse=True):
        if placements[p_index].index in matched or b_index in used:
            continue
        matched[placements[p_index].index] = b_index
        used.add(b_index)
    return matched
