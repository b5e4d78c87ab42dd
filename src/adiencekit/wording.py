"""How counts read in messages: ``1 image``, ``2 images``, never ``1 images``.

Example:

>>> from adiencekit.wording import counted
>>> counted(1, "image"), counted(2, "image"), counted(0, "face")
('1 image', '2 images', '0 faces')
>>> counted(1, "crop written", "crops written")
'1 crop written'
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` followed by the noun in the number it needs.

    Args:
        count: how many.
        singular: the noun for one (``"image"``).
        plural: the noun for any other count (default ``singular + "s"``).

    Returns:
        ``"1 image"``, ``"3 images"``, ...
    """
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
