"""Re-framed copies of test photos for the robustness check of the pretrained benchmark (issue 22).

"Re-cropped looser and tighter, and pasted into larger photos, the test faces keep their
accuracy within 2 points." Each variant turns one raw 200x200 UTKFace photo into another
photo that then goes end to end through each method's own detector, like the plain
photo:

* ``tighter``: the central :data:`TIGHT_KEEP` (80%) of the photo, resized back to its size
  (the face fills more of the frame, forehead and chin may be cut);
* ``looser``: the photo padded by :data:`LOOSE_PAD` (25%) of its side on each side with
  mirrored pixels (``numpy.pad(mode="reflect")``; the face fills less of the frame);
* ``pasted``: the photo resized to a random side in ``sizes`` and pasted at a random place
  on a ``canvas`` square of smoothed colour noise (:func:`group_photos.compose_photo`,
  seeded by the face's position in the list, so a run of the same faces makes the same
  photos).

A benchmark helper, not part of the installed library. :class:`VariantPhotos` makes the
photos one at a time when asked (thousands of 600 px canvases would hold gigabytes).

Example:

>>> import numpy as np
>>> import face_variants
>>> photo = np.zeros((200, 200, 3), np.uint8)
>>> face_variants.tighter(photo).shape, face_variants.looser(photo).shape
((200, 200, 3), (300, 300, 3))
>>> face_variants.pasted(photo, 0, canvas=600, sizes=(120, 160)).shape
(600, 600, 3)
>>> face_variants.within_points({"gender": 0.90}, {"gender": 0.885}, ["gender"])
{'gender': True}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

#: Share of the photo's side kept by the tighter crop.
TIGHT_KEEP = 0.8
#: Padding of the looser photo on each side, as a share of the photo's side.
LOOSE_PAD = 0.25
#: Default canvas side and pasted-photo sides of the ``pasted`` variant.
PASTE_CANVAS, PASTE_SIZES = 600, (120, 160)
#: Seed offset of the pasted photos (face ``i`` uses ``PASTE_SEED + i``).
PASTE_SEED = 10_000
#: The check of issue 22: a variant keeps each figure within this many points (0.02) of the plain photos.
POINTS = 0.02


def tighter(photo: np.ndarray, keep: float = TIGHT_KEEP) -> np.ndarray:
    """The central ``keep`` share of ``photo`` (each side), resized back to the photo's size (bicubic)."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    height, width = photo.shape[:2]
    crop_h, crop_w = max(1, round(height * keep)), max(1, round(width * keep))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    centre = Image.fromarray(np.ascontiguousarray(photo[top:top + crop_h, left:left + crop_w]))
    return np.asarray(centre.resize((width, height), Image.Resampling.BICUBIC))


def looser(photo: np.ndarray, pad: float = LOOSE_PAD) -> np.ndarray:
    """``photo`` padded by ``pad`` of its height / width on each side with mirrored pixels."""
    if not 0.0 <= pad < 1.0:
        raise ValueError(f"pad must be in [0, 1), got {pad}")
    height, width = photo.shape[:2]
    dy, dx = round(height * pad), round(width * pad)
    return np.pad(photo, ((dy, dy), (dx, dx), (0, 0)), mode="reflect")


def pasted(photo: np.ndarray, index: int, canvas: int = PASTE_CANVAS,
           sizes: tuple[int, int] = PASTE_SIZES) -> np.ndarray:
    """``photo`` at a random side in ``sizes`` on a ``canvas`` square of smoothed noise (seeded by ``index``)."""
    from group_photos import compose_photo

    image, _ = compose_photo([photo], canvas=(canvas, canvas), sizes=sizes, background="noise",
                             seed=PASTE_SEED + index)
    return image


def variants(canvas: int = PASTE_CANVAS, sizes: tuple[int, int] = PASTE_SIZES
             ) -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    """``{name: make(photo, index)}`` of the three variants, in report order."""
    return {"tighter": lambda photo, index: tighter(photo),
            "looser": lambda photo, index: looser(photo),
            "pasted": lambda photo, index: pasted(photo, index, canvas, sizes)}


def describe(canvas: int = PASTE_CANVAS, sizes: tuple[int, int] = PASTE_SIZES) -> dict[str, str]:
    """How each variant is made, for the result file."""
    return {"tighter": f"the central {TIGHT_KEEP:.0%} of the photo (each side), resized back (bicubic)",
            "looser": f"the photo padded by {LOOSE_PAD:.0%} of its side on each side, mirrored pixels "
                      "(numpy.pad mode='reflect')",
            "pasted": f"the photo resized to a random side in [{sizes[0]}, {sizes[1]}] px at a random place on a "
                      f"{canvas}x{canvas} canvas of smoothed colour noise (group_photos.compose_photo, "
                      f"seed {PASTE_SEED} + the face's position among the re-framed faces)"}


class VariantPhotos(Sequence[np.ndarray]):
    """``make(photos[i], i)`` for each ``i``, computed when asked.

    Example:

    >>> import numpy as np
    >>> photos = VariantPhotos([np.zeros((10, 10, 3), np.uint8)], lambda photo, index: photo + index + 1)
    >>> len(photos), int(photos[0].max())
    (1, 1)
    """

    def __init__(self, photos: Sequence[np.ndarray], make: Callable[[np.ndarray, int], np.ndarray]) -> None:
        self.photos, self.make = photos, make

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not 0 <= index < len(self.photos):
            raise IndexError(index)
        return self.make(self.photos[index], index)


def within_points(plain: Mapping[str, Any], variant: Mapping[str, Any], keys: Sequence[str],
                  points: float = POINTS) -> dict[str, bool | None]:
    """Whether each figure of ``variant`` is within ``points`` of ``plain`` (``None`` where one is missing).

    A small tolerance (1e-9) absorbs float rounding at exactly ``points``.
    """
    out: dict[str, bool | None] = {}
    for key in keys:
        a, b = plain.get(key), variant.get(key)
        out[key] = None if a is None or b is None else abs(a - b) <= points + 1e-9
    return out
