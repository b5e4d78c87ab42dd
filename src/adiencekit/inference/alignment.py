"""Face alignment: a similarity transform from five landmarks to a canonical template.

:func:`similarity_transform` is the least-squares similarity (rotation, uniform scale,
translation; Umeyama 1991) between two point sets. :func:`align_face` uses it to map a
detected face's five landmarks (eyes, nose tip, mouth corners; image-left first) onto
:data:`TEMPLATE`, the widely used five-point template of 112 px face crops (InsightFace's
ArcFace template) scaled to the unit square, and warps the photo with Pillow's affine
transform. A :class:`~adiencekit.crops.CropSpec` says how much border to keep around the
template square (``margin``, a fraction of its side on each side), where the face sits
(``shift``) and the output side (``size``); :mod:`adiencekit.crops` owns it and each
dataset's framing (``margin=0.25, shift=-0.11``, the defaults, puts the template's eyes
0.21 of the crop apart at 0.40 of its height, as in the Adience crops).

The same function prepares training data (:func:`align_faces_in_folder`), so that a
model trained on its crops sees the same kind of crop at inference.

Example:

>>> import numpy as np
>>> from adiencekit.crops import CropSpec
>>> from adiencekit.inference.alignment import template_points
>>> spec = CropSpec(margin=0.25, shift=-0.11, size=100)
>>> template_points(spec)[:2].round(1).tolist()  # the two eyes in the output crop
[[39.5, 40.1], [60.4, 40.0]]
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from adiencekit.crops import CropSpec
from adiencekit.errors import ConfigError
from adiencekit.inference.images import ImageReadError, expand_image_paths, read_image
from adiencekit.wording import counted

if TYPE_CHECKING:  # pragma: no cover
    from adiencekit.inference.detection import Detection, FaceDetector

__all__ = [
    "TEMPLATE",
    "AlignReport",
    "align_face",
    "align_faces_in_folder",
    "crop_box",
    "crop_face",
    "similarity_transform",
    "template_points",
]

#: Five-point template (left eye, right eye, nose tip, left and right mouth corner, in
#: image coordinates: "left" is the viewer's left) in the unit square: InsightFace's
#: 112 x 112 ArcFace template divided by 112.
TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
) / 112.0

def template_points(spec: CropSpec) -> np.ndarray:
    """Where :data:`TEMPLATE`'s five points land in a crop of ``spec`` (pixel units, ``(5, 2)``)."""
    return (TEMPLATE + [0.0, spec.shift] + spec.margin) / (1.0 + 2.0 * spec.margin) * spec.size


def similarity_transform(src: Any, dst: Any) -> np.ndarray:
    """Least-squares similarity transform taking ``src`` points onto ``dst`` (Umeyama).

    Finds scale ``s``, rotation ``R`` (no reflection) and translation ``t`` minimising
    ``sum ||s R src_i + t - dst_i||^2``.

    Args:
        src: ``(n, 2)`` points, ``n >= 2``, not all equal.
        dst: ``(n, 2)`` points.

    Returns:
        The ``(2, 3)`` matrix ``[s R | t]``.

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.alignment import similarity_transform
    >>> src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> angle = np.pi / 6
    >>> rot = 2 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    >>> matrix = similarity_transform(src, src @ rot.T + [3.0, -1.0])
    >>> np.allclose(matrix, np.hstack([rot, [[3.0], [-1.0]]]))
    True
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"need two (n, 2) point arrays of the same shape with n >= 2, got {src.shape} and {dst.shape}")
    mean_src, mean_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    var_src = (src_c**2).sum() / len(src)
    if var_src <= 1e-12:
        raise ValueError("source points are all the same point; no transform is defined")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = float((singular * d).sum() / var_src)
    translation = mean_dst - scale * rotation @ mean_src
    return np.hstack([scale * rotation, translation[:, None]])


def _mirrored_region(image: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """``image[top:bottom, left:right]``, the parts beyond the photo mirrored from inside it.

    Equal to cutting the box out of the whole photo mirror-padded (``np.pad`` mode
    ``"symmetric"``) — how :func:`align_faces_in_folder` pads tight face crops — but only
    the box is copied. A photo of one pixel side (nothing to mirror) is edge-padded.
    """
    height, width = image.shape[:2]
    inner = image[max(0, top):max(0, min(height, bottom)), max(0, left):max(0, min(width, right))]
    pads = ((max(0, -top), max(0, bottom - height)), (max(0, -left), max(0, right - width)), (0, 0))
    if not any(before or after for before, after in pads[:2]):
        return np.ascontiguousarray(inner)
    if inner.size == 0:  # the box misses the photo entirely: mirror the nearest edge
        rows = np.clip(np.arange(top, bottom), 0, height - 1)
        cols = np.clip(np.arange(left, right), 0, width - 1)
        return np.ascontiguousarray(image[rows][:, cols])
    return np.pad(inner, pads, mode="symmetric")


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp ``image`` with the forward ``(2, 3)`` similarity ``matrix`` into a ``size`` square.

    Coordinates are pixel-centre based (pixel ``i`` covers ``[i - 0.5, i + 0.5]``), as
    landmarks are. Strong reductions are first box-filtered with ``Image.reduce`` on the
    region the crop covers, so that a face crop of a 6000 px photo does not alias.
    """
    linear, translation = matrix[:, :2], matrix[:, 2]
    scale = math.sqrt(abs(np.linalg.det(linear)))
    inverse = np.linalg.inv(linear)
    # Source region covered by the output square (corners mapped back).
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    source = (corners - translation) @ inverse.T
    left, top = np.floor(source.min(axis=0)).astype(int) - 2
    right, bottom = np.ceil(source.max(axis=0)).astype(int) + 2
    region = Image.fromarray(_mirrored_region(image, int(left), int(top), int(right), int(bottom)))
    factor = max(1, int(math.floor(1.0 / scale / 1.5))) if scale > 0 else 1
    if factor > 1:
        region = region.reduce(factor)
    # Output pixel centre (x + 0.5 in Pillow's corner convention) -> source pixel centre.
    # In centre coordinates: src = inverse @ (out - t); then shift into the region and
    # the reduced grid: region = (src + 0.5 - left) / factor - 0.5, Pillow adds/removes 0.5.
    a = inverse / factor
    offset = (-inverse @ translation + 0.5 - np.array([left, top])) / factor
    # Pillow samples input (corner coords) at a @ (x_out_corner) + c; x_out_corner = x_c + 0.5.
    c = offset - a @ np.array([0.5, 0.5])
    data = (a[0, 0], a[0, 1], c[0], a[1, 0], a[1, 1], c[1])
    warped = region.transform((size, size), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    return np.asarray(warped, dtype=np.uint8)


def _landmarks(landmarks: Any) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"landmarks must be a finite (5, 2) array (eyes, nose, mouth corners), got shape {points.shape}")
    return points


def align_face(image: np.ndarray, landmarks: Any, spec: CropSpec = CropSpec()) -> np.ndarray:
    """Cut out one face so that its five landmarks land on the template.

    Args:
        image: ``(H, W, 3)`` ``uint8`` RGB photo.
        landmarks: ``(5, 2)`` ``(x, y)`` pixel coordinates: left eye, right eye, nose,
            left mouth corner, right mouth corner (left = the viewer's left).
        spec: margin and size of the crop (its ``style`` is not consulted).

    Returns:
        ``(spec.size, spec.size, 3)`` ``uint8``; parts beyond the photo are mirrored from
        inside it (a face at the edge of a photo, or a tight face crop, gets the kind of
        surroundings the training crops of :func:`align_faces_in_folder` have, not black).

    Example:

    >>> import numpy as np
    >>> from adiencekit.crops import CropSpec
    >>> from adiencekit.inference.alignment import align_face, template_points
    >>> spec = CropSpec(margin=0.0, size=112, shift=0.0)
    >>> image = np.zeros((300, 300, 3), np.uint8)
    >>> points = template_points(spec) * 2 + 40      # a face twice the template's size
    >>> for x, y in points.round().astype(int):
    ...     image[y - 1:y + 2, x - 1:x + 2] = 255
    >>> crop = align_face(image, points, spec)
    >>> crop.shape
    (112, 112, 3)
    >>> y, x = np.unravel_index(crop[:60, :56, 0].argmax(), (60, 56))  # left eye's blob
    >>> bool(abs(x - 38.3) < 1.5 and abs(y - 51.7) < 1.5)
    True
    """
    matrix = similarity_transform(_landmarks(landmarks), template_points(spec))
    return _warp(image, matrix, spec.size)


def crop_box(image: np.ndarray, box: Any, spec: CropSpec = CropSpec(style="box")) -> np.ndarray:
    """Cut out the square around a detector box (no rotation), ``spec.margin`` of its side added.

    ``spec.shift`` moves the face down (positive) or up in the crop by that fraction of
    the box's longer side.

    Args:
        image: ``(H, W, 3)`` ``uint8`` RGB photo.
        box: ``[x, y, w, h]`` in pixels.
        spec: margin and size of the crop.

    Returns:
        ``(spec.size, spec.size, 3)`` ``uint8``.

    Example:

    >>> import numpy as np
    >>> from adiencekit.crops import CropSpec
    >>> from adiencekit.inference.alignment import crop_box
    >>> image = np.zeros((100, 100, 3), np.uint8); image[40:60, 40:60] = 255
    >>> crop = crop_box(image, [40, 40, 20, 20], CropSpec(style="box", margin=0.5, size=40, shift=0.0))
    >>> int(crop[20, 20, 0]), int(crop[2, 2, 0])
    (255, 0)
    """
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive width and height, got {list(box)}")
    side = max(w, h) * (1.0 + 2.0 * spec.margin)
    scale = spec.size / side
    centre = np.array([x + w / 2.0 - 0.5, y + h / 2.0 - 0.5 - spec.shift * max(w, h)])  # pixel-centre coords
    matrix = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    matrix[:, 2] = (spec.size - 1) / 2.0 - scale * centre
    return _warp(image, matrix, spec.size)


def crop_face(image: np.ndarray, detection: Detection, spec: CropSpec) -> np.ndarray:
    """The crop of one detection in ``spec.style``: aligned on its landmarks or its box."""
    if spec.style == "aligned" and detection.landmarks is not None:
        return align_face(image, detection.landmarks, spec)
    return crop_box(image, detection.box, spec)


@dataclass
class AlignReport:
    """What :func:`align_faces_in_folder` did.

    Attributes:
        written: crops written (one per image, or one per face with ``all_faces``).
        images: images read.
        no_face: images in which no face was found (nothing written for them).
        unreadable: ``(path, message)`` of files that could not be read.
        skipped_existing: outputs that existed already and were kept.
    """

    written: int = 0
    images: int = 0
    no_face: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    skipped_existing: int = 0

    def summary(self) -> str:
        """One line: counts of every outcome."""
        return (
            f"{counted(self.images, 'image')} read, {counted(self.written, 'crop')} written, "
            f"{len(self.no_face)} without a face, "
            f"{len(self.unreadable)} unreadable, {self.skipped_existing} kept as they were"
        )


def align_faces_in_folder(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    spec: CropSpec = CropSpec(),
    *,
    detector: FaceDetector | None = None,
    all_faces: bool = False,
    overwrite: bool = False,
    quality: int = 95,
    pad: float = 0.0,
    progress: bool = False,
) -> AlignReport:
    """Detect and align the faces of every image under ``src``; write the crops under ``dst``.

    The folder layout is kept (``src/a/b.jpg`` -> ``dst/a/b.jpg``), so label files that
    name images by relative path still apply. By default only the largest face of each
    image is written (datasets of one labelled face per image); ``all_faces=True`` writes
    ``b_0.jpg``, ``b_1.jpg``, ... for every face, largest first.

    Args:
        src: folder of images (searched recursively).
        dst: output folder (created).
        spec: crop style, margin and size — the same :class:`CropSpec` the model will be
            used with.
        detector: a :class:`~adiencekit.inference.detection.FaceDetector`; default MTCNN.
        all_faces: write every face rather than the largest.
        overwrite: rewrite outputs that exist already (default: keep them, so an
            interrupted run continues).
        quality: JPEG quality of the crops.
        pad: mirror-pad every image by this fraction of its longer side on each side
            before detecting and cutting (0 = off). For datasets of tight face crops
            (UTKFace's faces touch the border): the detector then finds faces it misses
            at the edge, and crops looser than the source show mirrored surroundings
            instead of black corners.
        progress: show a progress bar (tqdm) on stderr.

    Returns:
        An :class:`AlignReport` counting crops, images without a face and unreadable files.
    """
    from adiencekit.inference.detection import MTCNNDetector

    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.is_dir():
        raise ImageReadError(f"{src}: not a folder of images")
    if isinstance(pad, bool) or not isinstance(pad, (int, float)) or not 0.0 <= pad <= 1.0:
        raise ConfigError(f"pad must be a number in [0, 1], got {pad!r}")
    detector = detector if detector is not None else MTCNNDetector()
    report = AlignReport()
    paths = expand_image_paths(src)
    if progress:
        from tqdm import tqdm

        paths = tqdm(paths, unit="image", desc="align", leave=False)
    for path in paths:
        relative = path.relative_to(src)
        target = dst / relative.with_suffix(".jpg")
        if not all_faces and target.exists() and not overwrite:
            report.skipped_existing += 1
            continue
        try:
            image = read_image(path)
        except ImageReadError as error:
            report.unreadable.append((str(path), str(error)))
            continue
        report.images += 1
        if pad:
            border = int(round(pad * max(image.shape[:2])))
            image = np.pad(image, ((border, border), (border, border), (0, 0)), mode="symmetric")
        detections = sorted(detector.detect(image), key=lambda d: d.box[2] * d.box[3], reverse=True)
        if not detections:
            report.no_face.append(str(path))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        chosen = detections if all_faces else detections[:1]
        for index, detection in enumerate(chosen):
            out = target.with_name(f"{target.stem}_{index}.jpg") if all_faces else target
            if out.exists() and not overwrite:
                report.skipped_existing += 1
                continue
            crop = crop_face(image, detection, spec)
            tmp = out.with_name(f".{out.name}.tmp")
            Image.fromarray(crop).save(tmp, format="JPEG", quality=quality)
            os.replace(tmp, out)
            report.written += 1
    return report
