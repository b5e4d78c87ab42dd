"""Face detectors behind one small interface, and MTCNN as the first implementation.

A :class:`FaceDetector` turns an RGB photo into :class:`Detection` objects (box, score,
five landmarks). The base class does what every detector needs the same way: very large
photos are detected on a downscaled copy (``max_side``) and the boxes and landmarks
mapped back to the original's pixels; faces smaller than the smallest face worth
labelling (the box's shorter side, in the original: ``min_face`` pixels, or
``min_face_share`` of the photo's shorter side where that is larger) are dropped and
counted. A detector that knows its own smallest face (``native_min_face``) searches a
copy shrunk so that this smallest face maps onto it: the larger the faces asked for, the
fewer pixels searched. A new detector implements only
:meth:`FaceDetector._detect` on an image no larger than ``max_side``.

:class:`MTCNNDetector` wraps the ``mtcnn`` package (MIT licence; its weights ship inside
the wheel, so it works offline); it is a dependency of adiencekit.

Example:

>>> import numpy as np
>>> from adiencekit.inference.detection import Detection, FaceDetector
>>> class Centre(FaceDetector):
...     '''A toy detector: one face in the middle of every image.'''
...     def _detect(self, image):
...         h, w = image.shape[:2]
...         return [Detection(box=(w / 4, h / 4, w / 2, h / 2), score=1.0)]
>>> detector = Centre(max_side=500)
>>> [round(v) for v in detector.detect(np.zeros((2000, 1000, 3), np.uint8))[0].box]
[250, 500, 500, 1000]
>>> detector.last_downscale
0.25
"""

from __future__ import annotations

import abc
import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from adiencekit.errors import ConfigError
from adiencekit.inference.images import as_rgb_array
from adiencekit.inference.stage_times import stage

__all__ = ["DETECTORS", "DETECTOR_OF_CLASS", "LANDMARK_NAMES", "MIN_FACE_SHARE", "Detection", "FaceDetector", "MTCNNDetector",
           "get_detector"]

#: Order of the five landmarks (left/right as the viewer sees the image).
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

#: Mirror padding (fraction of the longer side) of the last retry of :class:`MTCNNDetector`.
PAD_RETRY = 0.25

#: Default ``min_face_share``: faces under 1/16 of the photo's shorter side (60 px on a
#: 1280 x 960 photo) are not searched for. The model sees faces at 96 px or more, so
#: smaller faces are upscaled guesses; leaving them out cut MTCNN's time on 1280 x 960
#: group photos by half (see ``benchmarks/README.md``, "Photos: detection").
MIN_FACE_SHARE = 1 / 16


@dataclass
class Detection:
    """One face found by a detector.

    Attributes:
        box: ``(x, y, w, h)`` in pixels of the photo.
        score: the detector's confidence in [0, 1].
        landmarks: ``(5, 2)`` ``(x, y)`` pixels in :data:`LANDMARK_NAMES` order, or
            ``None`` for a detector without landmarks.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = field(default=None)

    def shifted(self, dx: float, dy: float) -> Detection:
        """The same detection moved by ``(dx, dy)`` pixels."""
        x, y, w, h = self.box
        landmarks = None if self.landmarks is None else np.asarray(self.landmarks, np.float64) + [dx, dy]
        return Detection(box=(x + dx, y + dy, w, h), score=self.score, landmarks=landmarks)  # type: ignore[arg-type]

    def scaled(self, factor: float) -> Detection:
        """The same detection with all coordinates multiplied by ``factor``."""
        box = tuple(float(v) * factor for v in self.box)
        landmarks = None if self.landmarks is None else np.asarray(self.landmarks, np.float64) * factor
        return Detection(box=box, score=self.score, landmarks=landmarks)  # type: ignore[arg-type]


def _check_positive(value: Any, name: str, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


class FaceDetector(abc.ABC):
    """Base class of face detectors.

    Args:
        min_face: drop faces whose box's shorter side is below this many pixels of the
            original photo (``0`` keeps all).
        max_side: detect on a copy whose longer side is at most this many pixels
            (``None``: always full size). Boxes and landmarks are mapped back.
        min_score: drop detections scoring below this.
        min_face_share: also drop faces smaller than this share of the photo's shorter
            side (in ``[0, 1)``; ``0``: ``min_face`` alone). The larger of the two bounds
            applies, photo by photo (:meth:`smallest_face`).

    Attributes:
        native_min_face: the smallest face the detector finds at full size (class
            attribute; ``None``: unknown). When the photo's smallest face worth
            labelling (:meth:`smallest_face`) is larger, the photo is shrunk by
            ``native_min_face / smallest face`` before detection: the faces asked for
            are still found, and the search is several times faster.
        last_downscale: factor of the last :meth:`detect` call (1.0 = full size).
        last_min_face: the smallest face (original pixels) of the last call.
        last_too_small: faces dropped as too small in the last call.
    """

    native_min_face: float | None = None

    def __init__(
        self,
        *,
        min_face: float = 40,
        max_side: int | None = 1280,
        min_score: float = 0.0,
        min_face_share: float = MIN_FACE_SHARE,
    ) -> None:
        if isinstance(min_face, bool) or not isinstance(min_face, (int, float)) or min_face < 0:
            raise ConfigError(f"min_face must be a number of pixels >= 0, got {min_face!r}")
        if isinstance(min_face_share, bool) or not isinstance(min_face_share, (int, float)) \
                or not 0.0 <= min_face_share < 1.0:
            raise ConfigError(f"min_face_share must be a number in [0, 1), got {min_face_share!r}")
        self.min_face = float(min_face)
        self.min_face_share = float(min_face_share)
        self.max_side = _check_positive(max_side, "max_side", allow_none=True)
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"min_score must be in [0, 1], got {min_score!r}")
        self.min_score = float(min_score)
        self.last_downscale = 1.0
        self.last_min_face = self.min_face
        self.last_too_small = 0

    def smallest_face(self, height: int, width: int) -> float:
        """The smallest face worth labelling in a ``height x width`` photo, in its pixels.

        Example:

        >>> from adiencekit.inference.detection import FaceDetector
        >>> class Nothing(FaceDetector):
        ...     def _detect(self, image):
        ...         return []
        >>> Nothing(min_face=40).smallest_face(960, 1280), Nothing(min_face=40).smallest_face(444, 444)
        (60.0, 40.0)
        """
        return max(self.min_face, self.min_face_share * min(height, width))

    @abc.abstractmethod
    def _detect(self, image: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` ``uint8`` image no larger than ``max_side``."""

    def detect(self, image: Any) -> list[Detection]:
        """Faces in one photo, in the photo's pixel coordinates, highest score first.

        Args:
            image: ``(H, W, 3)`` ``uint8`` RGB (see
                :func:`~adiencekit.inference.images.as_rgb_array` for other forms).

        Returns:
            The detections kept after the smallest-face and ``min_score`` filters.
        """
        image = as_rgb_array(image)
        height, width = image.shape[:2]
        min_face = self.last_min_face = self.smallest_face(height, width)
        factor = 1.0
        if self.max_side is not None and max(height, width) > self.max_side:
            factor = self.max_side / max(height, width)
        if self.native_min_face is not None and min_face > self.native_min_face:
            factor = min(factor, self.native_min_face / min_face)
        small = image
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            with stage("downscale"):
                small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
            # The effective factor per axis after rounding the size.
            factor = small.shape[1] / width
        self.last_downscale = factor
        found = self._detect(small)
        if factor != 1.0:
            found = [d.scaled(1.0 / factor) for d in found]
        kept = [d for d in found if d.score >= self.min_score]
        big_enough = [d for d in kept if min(d.box[2], d.box[3]) >= min_face]
        self.last_too_small = len(kept) - len(big_enough)
        return sorted(big_enough, key=lambda d: d.score, reverse=True)


class MTCNNDetector(FaceDetector):
    """MTCNN (Zhang et al. 2016) from the ``mtcnn`` package: boxes, scores, five landmarks.

    Its image pyramid starts at faces of 20 px (:attr:`native_min_face`); a larger
    ``min_face`` shrinks the photo first, which makes detection several times faster
    (the faces are still cut out of the full-size photo).

    Args:
        min_face: see :class:`FaceDetector`; below 20 it also lowers MTCNN's own
            smallest pyramid face (never below 12 px).
        max_side: see :class:`FaceDetector`.
        min_score: see :class:`FaceDetector`.
        thresholds: MTCNN's three stage thresholds (P-, R-, O-net).
        retry: when nothing is found, look again on a contrast-stretched copy
            (``ImageOps.autocontrast``, 1% cut) with ``retry_thresholds`` (dim,
            washed-out photos: 2 of the 19 real Adience crops are then found), then on a
            copy mirror-padded by :data:`PAD_RETRY` of its side (face crops whose face
            touches the border: about 1% of UTKFace's crops). Costs time only on photos
            without a face.
        retry_thresholds: the thresholds of that second look.
        device: TensorFlow device the networks run on.
        min_face_share: see :class:`FaceDetector`.
    """

    native_min_face = 20.0

    def __init__(
        self,
        *,
        min_face: float = 40,
        max_side: int | None = 1280,
        min_score: float = 0.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
        retry: bool = True,
        retry_thresholds: tuple[float, float, float] = (0.5, 0.6, 0.7),
        device: str = "CPU:0",
        min_face_share: float = MIN_FACE_SHARE,
    ) -> None:
        super().__init__(min_face=min_face, max_side=max_side, min_score=min_score, min_face_share=min_face_share)
        for name, values in (("thresholds", thresholds), ("retry_thresholds", retry_thresholds)):
            if len(values) != 3 or not all(0.0 < t < 1.0 for t in values):
                raise ConfigError(f"{name} must be three numbers in (0, 1), got {values!r}")
        self.thresholds = tuple(float(t) for t in thresholds)
        self.retry = bool(retry)
        self.retry_thresholds = tuple(float(t) for t in retry_thresholds)
        self._build_networks(device)

    def _build_networks(self, device: str) -> None:
        """Get the three networks for ``device`` (here: the ``mtcnn`` package's, shared)."""
        self._mtcnn = _shared_mtcnn(device)

    def _pyramid_min_face(self) -> int:
        """The pyramid's smallest face in the detection copy's pixels (12 to 20).

        The smallest face is in original pixels; the pyramid's is in the copy's. mtcnn 1.0
        sizes its pyramid for a smallest face of 20 px and fails silently (no faces) above
        that, so larger smallest faces shrink the photo instead (:meth:`FaceDetector.detect`).
        """
        return int(min(self.native_min_face, max(12, math.floor(self.last_min_face * self.last_downscale))))

    def _detect(self, image: np.ndarray) -> list[Detection]:
        found = self._run(image, self.thresholds)
        if not found and self.retry:
            stretched = np.asarray(ImageOps.autocontrast(Image.fromarray(image), cutoff=1))
            found = self._run(stretched, self.retry_thresholds)
        if not found and self.retry:
            found = self._run_padded(image)
        return found

    def _run_padded(self, image: np.ndarray) -> list[Detection]:
        """Look again on a mirror-padded copy: a face crop whose face touches the border.

        MTCNN misses faces that fill the whole picture (UTKFace-style crops, a face cut
        out by another tool); with a quarter of the side mirrored around it the face is
        found. Only detections centred inside the original picture are kept (the
        mirrored borders may hold half faces).
        """
        height, width = image.shape[:2]
        border = max(1, round(PAD_RETRY * max(height, width)))
        padded = np.pad(image, ((border, border), (border, border), (0, 0)), mode="symmetric")
        kept = []
        for detection in self._run(padded, self.thresholds):
            moved = detection.shifted(-border, -border)
            x, y, w, h = moved.box
            if 0 <= x + w / 2 < width and 0 <= y + h / 2 < height:
                kept.append(moved)
        return kept

    def _run(self, image: np.ndarray, thresholds: tuple[float, ...]) -> list[Detection]:
        with stage("mtcnn package"):
            rows = self._mtcnn.detect_faces(
                image,
                output_type="numpy",
                box_format="xywh",
                min_face_size=self._pyramid_min_face(),
                threshold_pnet=thresholds[0],
                threshold_rnet=thresholds[1],
                threshold_onet=thresholds[2],
            )
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 16)
        # Row layout (mtcnn 1.0): image id, x, y, w, h, score, five landmark x, five y.
        return [
            Detection(
                box=(row[1], row[2], row[3], row[4]),
                score=float(row[5]),
                landmarks=np.stack([row[6:11], row[11:16]], axis=1),
            )
            for row in rows
            if row[3] > 0 and row[4] > 0
        ]


@functools.cache
def _shared_mtcnn(device: str) -> Any:
    """The MTCNN networks of ``device``, compiled once and shared by every detector.

    They hold no per-call state (thresholds and the smallest face are arguments of each
    call). A new copy per detector traced its three networks again, and after a few
    detectors (``align_faces_in_folder`` called folder after folder) TensorFlow warned
    about excessive ``tf.function`` retracing.
    """
    from adiencekit.quiet import quiet_backend_import

    quiet_backend_import()  # the package's networks are TensorFlow models: its start-up block stays off stderr
    try:
        from mtcnn import MTCNN
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"face detection needs the 'mtcnn' package ({error}); install it with pip install 'mtcnn>=1.0,<2'"
        ) from None
    mtcnn = MTCNN(device=device)
    _compile_stages(mtcnn)
    return mtcnn


def _compile_stages(mtcnn: Any) -> None:
    """Run the three MTCNN networks as ``tf.function`` graphs instead of eagerly.

    mtcnn 1.0 calls its Keras networks eagerly, once per pyramid scale; as graphs (traced
    with relaxed shapes, so photos of new sizes do not retrace) detection takes less than
    half the time on a CPU. Left as it is if the package's layout is not the expected one.
    """
    import tensorflow as tf

    for stage in getattr(mtcnn, "stages", []):
        network = getattr(stage, "_model", None)
        if network is not None and callable(network) and not getattr(network, "_adiencekit_graph", False):
            stage._model = _empty_safe(tf.function(network.__call__, reduce_retracing=True))


def _empty_safe(graph: Any) -> Any:
    """``graph`` that answers an empty batch with empty outputs instead of running on it.

    When a stage passes no candidate on (a photo without a face), mtcnn 1.0 still calls
    the next network on a batch of zero images, which fails inside TensorFlow and logs
    "Local rendezvous is aborting ... Incompatible shapes" on stderr. Here the network
    runs on one blank image to learn its output shapes and returns them cut to zero rows.
    """
    import tensorflow as tf

    def call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if inputs.shape[0] == 0:
            probe = graph(tf.zeros((1, *inputs.shape[1:]), inputs.dtype), *args, **kwargs)
            return tf.nest.map_structure(lambda tensor: tensor[:0], probe)
        return graph(inputs, *args, **kwargs)

    call._adiencekit_graph = True  # type: ignore[attr-defined]
    return call


def _mtcnn_package(**kwargs: Any) -> FaceDetector:
    """MTCNN run by the ``mtcnn`` package itself (it imports TensorFlow, whatever Keras's backend)."""
    from adiencekit.quiet import quiet_backend_import

    quiet_backend_import()
    try:
        import tensorflow  # noqa: F401  (the package's own networks are TensorFlow models)
    except ImportError as error:
        raise ConfigError("the 'mtcnn-package' detector needs TensorFlow (pip install tensorflow); "
                          "'mtcnn' runs the same networks on any Keras backend") from error
    return MTCNNDetector(**kwargs)


#: Detector names accepted by :func:`get_detector`: ``"mtcnn"`` (the default: MTCNN's
#: networks with the ``mtcnn`` package's weights, in ONNX Runtime where it is installed and
#: the runtime allows, :class:`~adiencekit.inference.mtcnn_onnx.OnnxMTCNNDetector`, else as
#: compiled Keras 3 models, :class:`~adiencekit.inference.mtcnn_keras.KerasMTCNNDetector`),
#: ``"mtcnn-onnx"`` and ``"mtcnn-keras"`` (one of the two, by name), and ``"mtcnn-package"``
#: (the ``mtcnn`` package's own TensorFlow implementation, the default before 2026-12-05:
#: the same faces, boxes and landmarks within a pixel on 46 real photos, and 16.2 against
#: 12.2 ms per single-face photo end to end on TensorFlow, one thread,
#: ``benchmarks/results/pretrained-cpu-20261205-c-*.json``). The three MTCNN versions run
#: the same networks and stages; only the engine differs.
DETECTORS = {"mtcnn": lambda **kwargs: _default_mtcnn(**kwargs),
             "mtcnn-onnx": lambda **kwargs: _onnx_mtcnn(**kwargs),
             "mtcnn-keras": lambda **kwargs: _keras_mtcnn()(**_without_threads(kwargs)),
             "mtcnn-package": lambda **kwargs: _mtcnn_package(**_without_threads(kwargs))}


def _without_threads(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a detector that sizes no ONNX Runtime session (``threads`` dropped)."""
    return {key: value for key, value in kwargs.items() if key != "threads"}


def _keras_mtcnn() -> type[FaceDetector]:
    """:class:`~adiencekit.inference.mtcnn_keras.KerasMTCNNDetector`, imported on first use."""
    from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector

    return KerasMTCNNDetector


def _onnx_mtcnn(**kwargs: Any) -> FaceDetector:
    """:class:`~adiencekit.inference.mtcnn_onnx.OnnxMTCNNDetector`, imported on first use."""
    from adiencekit.inference.mtcnn_onnx import OnnxMTCNNDetector

    return OnnxMTCNNDetector(**kwargs)


def _default_mtcnn(runtime: str = "auto", **kwargs: Any) -> FaceDetector:
    """``"mtcnn"``: in ONNX Runtime unless ``runtime`` is ``"keras"`` or (``"auto"``) it is not installed."""
    from adiencekit.inference.mtcnn_onnx import mtcnn_onnx_available

    if runtime == "onnx" or (runtime == "auto" and mtcnn_onnx_available()):
        return _onnx_mtcnn(**kwargs)
    return _keras_mtcnn()(**_without_threads(kwargs))


#: The :data:`DETECTORS` name of each MTCNN class, as a preparation records the class
#: (``prepare.json``'s ``detector``): how ``adiencekit reproduce`` finds the detector a preset's
#: faces were cut with.
DETECTOR_OF_CLASS = {"MTCNNDetector": "mtcnn-package", "KerasMTCNNDetector": "mtcnn-keras",
                     "OnnxMTCNNDetector": "mtcnn-onnx"}


def get_detector(detector: str | FaceDetector, runtime: str = "auto", **kwargs: Any) -> FaceDetector:
    """A detector instance from a name in :data:`DETECTORS` (``kwargs`` go to it) or as is.

    Args:
        detector: a name or a :class:`FaceDetector` (returned as is).
        runtime: for ``"mtcnn"``: ``"auto"`` (ONNX Runtime where installed, else Keras),
            ``"onnx"`` or ``"keras"``.
        **kwargs: the detector's arguments; ``threads`` (ONNX Runtime intra-op threads)
            is used by the ONNX Runtime version only.
    """
    if isinstance(detector, FaceDetector):
        return detector
    if detector not in DETECTORS:
        raise ConfigError(f"unknown detector {detector!r}; available: {sorted(DETECTORS)}")
    if detector == "mtcnn":
        return _default_mtcnn(runtime=runtime, **kwargs)
    return DETECTORS[detector](**kwargs)
