"""Draw face boxes and their labels on a copy of a photo (Pillow only).

The font size follows the photo (about 1/40 of its shorter side, at least 12 px), so
labels stay legible on a phone snapshot and on a 6000 px photo alike; each label sits on
a filled band above its box (below it when the box touches the top edge).

Example:

>>> import numpy as np
>>> from adiencekit.inference.annotate import annotate_image, face_caption
>>> from adiencekit.inference.predictor import FacePrediction, HeadPrediction
>>> face = FacePrediction(box=(10, 20, 40, 40), score=0.99, landmarks=None, heads={
...     "gender": HeadPrediction("female", 0.93, {"female": 0.93, "male": 0.07}),
...     "age": HeadPrediction("25-32", 0.61, {})})
>>> face_caption(face)
'female 93% · 25-32 61%'
>>> face.age_years = 29.4
>>> face_caption(face)
'female 93% · 25-32 61% · 29 y'
>>> annotate_image(np.zeros((100, 120, 3), np.uint8), [face]).size
(120, 100)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from adiencekit.inference.images import as_rgb_array

__all__ = ["annotate_image", "face_caption", "font_for"]

#: Box colours by gender label; other labels (age-only models) use the last one.
_COLOURS = {"female": (230, 60, 140), "male": (40, 120, 230), None: (250, 180, 0)}


def face_caption(face: Any) -> str:
    """``"female 93% · 25-32 61% · 29 y"``: each head's label and probability, then the age in years."""
    parts = [f"{head.label} {head.probability:.0%}" for head in (face.gender, face.age) if head is not None]
    if face.age_years is not None:
        parts.append(f"{face.age_years:.0f} y")
    return " · ".join(parts)


def font_for(image_size: tuple[int, int]) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A font about 1/40 of the photo's shorter side (at least 12 px)."""
    size = max(12, round(min(image_size) / 40))
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: only the fixed bitmap font
        return ImageFont.load_default()


def annotate_image(image: Any, faces: Sequence[Any]) -> Image.Image:
    """A copy of ``image`` with a box and a caption per face.

    Args:
        image: ``(H, W, 3)`` ``uint8`` RGB array or Pillow image.
        faces: :class:`~adiencekit.inference.predictor.FacePrediction` objects.

    Returns:
        A new RGB Pillow image.
    """
    picture = Image.fromarray(as_rgb_array(image)).copy()
    draw = ImageDraw.Draw(picture)
    font = font_for(picture.size)
    line = max(2, round(min(picture.size) / 300))
    for face in faces:
        x, y, w, h = (float(v) for v in face.box)
        gender = face.gender.label if face.gender is not None else None
        colour = _COLOURS.get(gender, _COLOURS[None])
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=line)
        caption = face_caption(face)
        if not caption:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        text_w, text_h = right - left, bottom - top
        pad = max(2, text_h // 4)
        band_top = y - text_h - 2 * pad
        if band_top < 0:
            band_top = min(y + h, picture.size[1] - text_h - 2 * pad)
        band_left = min(max(0.0, x), max(0.0, picture.size[0] - text_w - 2 * pad))
        draw.rectangle([band_left, band_top, band_left + text_w + 2 * pad, band_top + text_h + 2 * pad], fill=colour)
        draw.text((band_left + pad - left, band_top + pad - top), caption, fill=(255, 255, 255), font=font)
    return picture
