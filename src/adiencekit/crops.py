"""How a face reaches a model: the crop spec, the crop styles, each dataset's framing, the resize.

This module owns every fact about the pixels a model is fed, from training to export:

* :class:`CropSpec` says how a face is cut out of a photo: its style (one of
  :data:`CROP_STYLES`), the border around the face, where the face sits, the side.
* Each dataset's framing: :data:`ADIENCE_CROP` and :data:`UTKFACE_CROP` frame a detected
  face as that dataset's own crops do; :data:`UTKFACE_TRAINING_CROP` is the crop
  ``adiencekit prepare`` cuts UTKFace into for training.
* A model records the crop it was trained on (``preset.json``'s ``crop``, an exported
  file's record) as a :class:`CropSpec` dict, or as the marker
  ``{"style": "center", "size": image_size}`` (:data:`DATASET_CROP`): "trained on a
  dataset's own crops, resized and centre-cropped; cut faces framed like that dataset".
  :func:`recorded_crop` says what a training run records (from the ``prepare.json`` of
  its data, :mod:`adiencekit.data.prepared`, if any), :func:`crop_spec` turns a
  record plus the training data into the :class:`CropSpec` to cut with. A preset, a run
  folder and an exported file of the same model therefore give the same crop.
* The one resize (:func:`resize_square`) and centre crop (:func:`center_crop`) used at
  inference, joined by :func:`model_inputs`: a face crop is resized to the model's
  ``image_size`` and its centre ``input_size`` window is fed (:data:`INPUT_RULE`).

It imports only NumPy, Pillow and the error types, so every layer can use it.

Example:

>>> from adiencekit.crops import crop_spec, recorded_crop
>>> record = recorded_crop(None, image_size=72)     # not trained on `adiencekit prepare` crops
>>> record
{'style': 'center', 'margin': 0.0, 'size': 72}
>>> crop_spec(record, "utkface:/data/utkface")       # framed like UTKFace's own crops
CropSpec(style='aligned', margin=-0.09, size=72, shift=-0.14)
>>> crop_spec({"style": "aligned", "margin": 0.2, "size": 96}, "synthetic")
CropSpec(style='aligned', margin=0.2, size=96, shift=-0.11)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from adiencekit.errors import ConfigError

__all__ = [
    "ADIENCE_CROP",
    "CROP_STYLES",
    "DATASET_CROP",
    "INPUT_RULE",
    "UTKFACE_CROP",
    "UTKFACE_TRAINING_CROP",
    "CropSpec",
    "center_crop",
    "check_recorded_crop",
    "crop_spec",
    "inference_crop",
    "metadata_crop",
    "model_inputs",
    "recorded_crop",
    "resize_square",
]

#: How a face is cut out of a photo. ``"aligned"``: similarity transform of the five
#: landmarks onto the template (rotates tilted faces upright). ``"box"``: the square
#: around the detector's box, not rotated (for models trained on plain detector crops).
CROP_STYLES: tuple[str, ...] = ("aligned", "box")

#: The recorded crop style that means "trained on a dataset's own crops": faces are cut
#: framed like that dataset (:data:`ADIENCE_CROP`, :data:`UTKFACE_CROP`) at the recorded
#: size. Only a model's record holds it; a :class:`CropSpec` never does.
DATASET_CROP = "center"

#: How a face crop becomes the model's input, as an exported file records it.
INPUT_RULE = (
    "resize the face crop to image_size x image_size (Pillow bilinear, reducing_gap=2.0), then take the "
    "centre input_size x input_size window (offset (image_size - input_size) // 2); feed RGB float32 in [0, 255]"
)

_UTKFACE_DATA = "utkface:"  # the prefix of a UTKFace training-data spec (adiencekit.data)


@dataclass(frozen=True)
class CropSpec:
    """How a face is cut out of a photo.

    Args:
        style: one of :data:`CROP_STYLES`.
        margin: border on each side as a fraction of the face square: of the template
            square for ``"aligned"``, of the box's longer side for ``"box"``. Negative
            values crop tighter (down to -0.4).
        size: side of the square output crop in pixels.
        shift: moves the face down (positive) or up (negative) in the crop, as a
            fraction of the face square (in ``[-0.5, 0.5]``); negative values keep more
            of the chin and neck, as photo crops usually do.

    Example:

    >>> from adiencekit.crops import CropSpec
    >>> CropSpec.from_dict({"style": "aligned", "margin": 0.1, "size": 64})
    CropSpec(style='aligned', margin=0.1, size=64, shift=-0.11)
    >>> CropSpec(size=0)
    Traceback (most recent call last):
    ...
    adiencekit.errors.ConfigError: CropSpec.size must be an int >= 8, got 0
    """

    style: str = "aligned"
    margin: float = 0.25
    size: int = 256
    shift: float = -0.11

    def __post_init__(self) -> None:
        if self.style not in CROP_STYLES:
            raise ConfigError(f"CropSpec.style must be one of {CROP_STYLES}, got {self.style!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, float)) or not -0.4 <= self.margin <= 2.0:
            raise ConfigError(f"CropSpec.margin must be a number in [-0.4, 2], got {self.margin!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8:
            raise ConfigError(f"CropSpec.size must be an int >= 8, got {self.size!r}")
        if isinstance(self.shift, bool) or not isinstance(self.shift, (int, float)) or not -0.5 <= self.shift <= 0.5:
            raise ConfigError(f"CropSpec.shift must be a number in [-0.5, 0.5], got {self.shift!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CropSpec:
        """Build from a preset's ``crop`` dict (``style``, ``margin``, ``size``, ``shift``; all optional)."""
        unknown = sorted(set(values) - {"style", "margin", "size", "shift"})
        if unknown:
            raise ConfigError(f"unknown crop settings {unknown}; allowed: style, margin, size, shift")
        return cls(**dict(values))

    def replace(self, **changes: Any) -> CropSpec:
        """A copy with some fields changed."""
        return CropSpec(**{**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """The ``crop`` dict of a preset."""
        return asdict(self)


#: Framing of the Adience ``faces``/``aligned`` crops (the :class:`CropSpec` defaults):
#: measured with MTCNN on the 19 real Adience crops, the eyes are 0.21 of the crop's
#: width apart and 0.40 of its height from the top.
ADIENCE_CROP = CropSpec()
#: Framing of UTKFace's aligned-and-cropped faces: tighter, eyes higher (0.38 apart at 0.29).
UTKFACE_CROP = CropSpec(margin=-0.09, shift=-0.14)
#: The crop the bundled model is trained on (``adiencekit prepare``): aligned, template
#: square plus no margin, face slightly high, 112 px. Training cuts random 96 px windows
#: of it; inference takes the centre window, which frames faces about as UTKFace's own
#: crops do (:data:`UTKFACE_CROP`).
UTKFACE_TRAINING_CROP = CropSpec(style="aligned", margin=0.0, shift=-0.12, size=112)


# ----------------------------------------------------------------------------- records
def _dataset_framing(data: str | None) -> CropSpec:
    """How a dataset's own crops frame a face: UTKFace's for a ``utkface:`` spec, else Adience's."""
    return UTKFACE_CROP if str(data or "").startswith(_UTKFACE_DATA) else ADIENCE_CROP


def recorded_crop(prepared: Mapping[str, Any] | None, image_size: int) -> dict[str, Any]:
    """The crop a model trained at ``image_size`` records.

    Faces cut by ``adiencekit prepare`` record the crop they were cut with (the ``crop``
    of the root's ``prepare.json``); a dataset's own crops record :data:`DATASET_CROP`
    at ``image_size``.

    Args:
        prepared: the training root's ``prepare.json`` record
            (:func:`adiencekit.data.prepared.prepared_record`), or ``None``.
        image_size: the side the training faces were resized to.

    Returns:
        The ``crop`` dict, checked (:func:`check_recorded_crop`).
    """
    return check_recorded_crop(None if prepared is None else prepared["crop"], image_size)


def check_recorded_crop(crop: Any, image_size: int) -> dict[str, Any]:
    """A model's ``crop`` record, checked and completed; ``None`` is :data:`DATASET_CROP` at ``image_size``.

    Example:

    >>> from adiencekit.crops import check_recorded_crop
    >>> check_recorded_crop({"style": "box", "margin": 0.1}, 64)
    {'style': 'box', 'margin': 0.1, 'size': 64, 'shift': -0.11}
    >>> check_recorded_crop({"style": "tight"}, 64)
    Traceback (most recent call last):
    ...
    adiencekit.errors.ConfigError: crop style must be one of ('aligned', 'box', 'center'), got 'tight'
    """
    if crop is None:
        return {"style": DATASET_CROP, "margin": 0.0, "size": int(image_size)}
    if not isinstance(crop, Mapping):
        raise ConfigError(f"crop must be a dict {{'style', 'margin', 'size'}}, got {crop!r}")
    style = crop.get("style", DATASET_CROP)
    if style not in (*CROP_STYLES, DATASET_CROP):
        raise ConfigError(f"crop style must be one of {(*CROP_STYLES, DATASET_CROP)}, got {style!r}")
    if style != DATASET_CROP:
        return CropSpec.from_dict({"size": image_size, **crop}).to_dict()
    unknown = sorted(set(crop) - {"style", "margin", "size"})
    if unknown:
        raise ConfigError(
            f"a {DATASET_CROP!r} crop takes the keys 'style', 'margin' and 'size', got extra keys {unknown}"
        )
    margin = crop.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= margin <= 2.0:
        raise ConfigError(
            f"crop margin must be a number in [0, 2] (share of the face box added per side), got {margin!r}"
        )
    size = crop.get("size", image_size)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"crop size must be a positive int (pixels), got {size!r}")
    return {"style": style, "margin": float(margin), "size": size}


def crop_spec(crop: Mapping[str, Any] | None, data: str | None = None) -> CropSpec | None:
    """The :class:`CropSpec` to cut faces with for a model's recorded ``crop``, or ``None`` without one.

    Args:
        crop: the model's ``crop`` record (``preset.json``, :func:`recorded_crop`, an
            exported file's record).
        data: the model's training data spec; it picks the framing of a
            :data:`DATASET_CROP` record (:data:`UTKFACE_CROP` for ``utkface:`` data, else
            :data:`ADIENCE_CROP`).

    Raises:
        ConfigError: a record that is not a crop dict.
    """
    if crop is None:
        return None
    if not isinstance(crop, Mapping):
        raise ConfigError(f"a model's crop must be a dict with style, margin and size, got {crop!r}")
    if crop.get("style") == DATASET_CROP:
        framing = _dataset_framing(data)
        return framing.replace(size=int(crop.get("size", framing.size)))
    return CropSpec.from_dict(crop)


def metadata_crop(metadata: Mapping[str, Any]) -> CropSpec | None:
    """The :class:`CropSpec` of a model's metadata (``preset.json``, an export record), or ``None`` without a crop.

    Reads its ``crop`` and, for the framing of a :data:`DATASET_CROP` record, its
    ``training_data["data"]`` (see :func:`crop_spec`).

    Example:

    >>> from adiencekit.crops import metadata_crop
    >>> metadata_crop({"crop": {"style": "center", "margin": 0.0, "size": 72},
    ...                "training_data": {"data": "utkface:/data/utkface"}})
    CropSpec(style='aligned', margin=-0.09, size=72, shift=-0.14)
    """
    training_data = metadata.get("training_data")
    data = training_data.get("data") if isinstance(training_data, Mapping) else None
    return crop_spec(metadata.get("crop"), data)


def inference_crop(crop: CropSpec | None, input_size: int | None) -> CropSpec:
    """The crop to cut faces with at inference: the model's own, else :data:`ADIENCE_CROP` at its input size.

    Example:

    >>> from adiencekit.crops import inference_crop
    >>> inference_crop(None, 64)
    CropSpec(style='aligned', margin=0.25, size=64, shift=-0.11)
    """
    return crop if crop is not None else ADIENCE_CROP.replace(size=input_size or ADIENCE_CROP.size)


# ----------------------------------------------------------------------------- pixels
def resize_square(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W, 3)`` ``uint8`` images to ``size`` squares (Pillow bilinear, ``reducing_gap=2.0``).

    Example:

    >>> import numpy as np
    >>> from adiencekit.crops import resize_square
    >>> resize_square(np.zeros((2, 50, 40, 3), np.uint8), 32).shape
    (2, 32, 32, 3)
    """
    images = np.asarray(images)
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return np.stack([
        np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))
        for image in images
    ])


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """The centre ``size`` window of ``(N, S, S, C)`` images (offset ``(S - size) // 2``).

    Example:

    >>> import numpy as np
    >>> from adiencekit.crops import center_crop
    >>> center_crop(np.arange(25).reshape(1, 5, 5, 1), 3)[0, ..., 0].tolist()
    [[6, 7, 8], [11, 12, 13], [16, 17, 18]]
    """
    side = images.shape[1]
    if size > side:
        raise ConfigError(f"cannot take a centre {size} px window of {side} px images")
    offset = (side - size) // 2
    return images[:, offset : offset + size, offset : offset + size]


def model_inputs(crops: np.ndarray, input_size: int | None, image_size: int | None = None) -> np.ndarray:
    """Face crops -> a model's input (:data:`INPUT_RULE`): resize to ``image_size``, centre ``input_size`` window.

    Args:
        crops: ``(N, S, S, 3)`` ``uint8`` face crops.
        input_size: the model's input side (``None``: any size; the crops are returned).
        image_size: the side the model's training faces were resized to before the
            centre crop; ``None`` (or smaller than ``input_size``) resizes straight to
            ``input_size``.

    Example:

    >>> import numpy as np
    >>> from adiencekit.crops import model_inputs
    >>> model_inputs(np.zeros((1, 120, 120, 3), np.uint8), 96, image_size=112).shape
    (1, 96, 96, 3)
    """
    if input_size is None:
        return crops
    if image_size is not None and image_size >= input_size:
        return center_crop(resize_square(crops, image_size), input_size)
    return resize_square(crops, input_size)
