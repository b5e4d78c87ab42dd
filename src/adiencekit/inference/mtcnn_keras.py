"""MTCNN as Keras 3 models: face detection on any Keras backend, without TensorFlow.

The ``mtcnn`` package builds its three networks with TensorFlow, and ``import mtcnn``
imports TensorFlow (four seconds on a small CPU). This module rebuilds the networks of
Zhang et al. 2016 ("Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks") with ``keras.layers`` only, loads the package's weights from
its installed folder without importing it (``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``,
read with joblib), and runs the three detection stages in NumPy:

1. P-Net, fully convolutional, on an image pyramid whose first scale maps the smallest
   face worth finding onto P-Net's 12-pixel cell, all scales packed on one canvas and
   run in one pass (:func:`pyramid_mosaic`); every cell scoring above the first
   threshold proposes a box, corrected by its regression; non-maximum suppression per
   scale, then across scales.
2. R-Net on 24 x 24 crops of the squared proposals (one batch): score, box regression,
   non-maximum suppression.
3. O-Net on 48 x 48 crops (one batch): score, box regression, five landmarks; a last
   suppression that compares overlaps with the smaller box.

The numerical conventions (pixel normalisation, area-averaged pyramid, crop sampling,
box and landmark decoding, suppression) follow ``mtcnn`` 1.0, so that
:class:`KerasMTCNNDetector` finds the same faces as
:class:`~adiencekit.inference.detection.MTCNNDetector` (on the 19 real Adience crops
and composed group photos: the same faces, boxes at IoU >= 0.9; the one-canvas P-Net
pass moves a few scores and boxes slightly). The networks run as compiled functions
(:mod:`~adiencekit.inference.compiled`; on JAX fed shapes rounded up to a few sizes).

Example:

>>> import numpy as np
>>> from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector, square_boxes
>>> detector = KerasMTCNNDetector()
>>> detector.detect(np.full((120, 160, 3), 200, np.uint8))  # a blank photo
[]
>>> square_boxes(np.array([[0.0, 0.0, 10.0, 4.0]]))
array([[ 0., -3., 10.,  7.]])
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.inference.compiled import run_compiled
from adiencekit.inference.detection import Detection, MTCNNDetector
from adiencekit.inference.stage_times import stage

__all__ = [
    "KerasMTCNNDetector",
    "area_resize",
    "build_onet",
    "build_pnet",
    "build_rnet",
    "crop_patches",
    "load_mtcnn_weights",
    "mtcnn_networks",
    "non_max_suppression",
    "pyramid_mosaic",
    "pyramid_scales",
    "square_boxes",
]

#: P-Net's receptive field (pixels) and the stride of its output cells.
PNET_CELL = 12
PNET_STRIDE = 2
#: Ratio between two pyramid scales (the paper's 0.709, about 1/sqrt(2)).
SCALE_FACTOR = 0.709
#: Overlap thresholds of the suppressions: within a scale, across scales, after R-Net, after O-Net.
NMS_PER_SCALE = 0.5
NMS_ACROSS_SCALES = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7
#: Input sides of R-Net and O-Net.
RNET_SIDE = 24
ONET_SIDE = 48
#: The P-Net canvas is rounded up to a multiple of this many pixels (and R-/O-Net batches to
#: :func:`~adiencekit.inference.compiled.batch_bucket` sizes on JAX): few distinct shapes to compile.
CANVAS_STEP = 64


# ----------------------------------------------------------------------------- networks
class _WeightFeed:
    """Hands the loaded arrays to the layers as their initializers, in creation order.

    The variables are created from the arrays directly: no random initialisation (which
    the JAX backend compiles once per weight shape, seconds per network on a small CPU)
    and no second copy through ``set_weights``. On JAX each array is handed over as a
    device array: Keras converts a NumPy array with ``jnp.asarray``, which compiles one
    program per shape (36 shapes for 50 arrays; 0.5-1.5 s of a fresh process on a loaded 2-core CPU).
    Without arrays the layers' default initializers are used.
    """

    def __init__(self, name: str, weights: list[np.ndarray] | None) -> None:
        self.name = name
        self.weights = None if weights is None else list(weights)
        self.used = 0

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        assert self.weights is not None
        if self.used >= len(self.weights) or tuple(self.weights[self.used].shape) != tuple(shape):
            found = [tuple(w.shape) for w in self.weights]
            raise ModelFileError(f"MTCNN weights for {self.name} do not fit: a layer needs {tuple(shape)} "
                                 f"as array {self.used}; the file holds {found}")
        self.used += 1
        return _backend_array(self.weights[self.used - 1])

    def kwargs(self, *names: str) -> dict[str, Any]:
        """``{name: self}`` for the layer's initializer arguments (nothing when no arrays)."""
        return {} if self.weights is None else dict.fromkeys(names, self)

    def finish(self, model: Any) -> Any:
        if self.weights is not None and self.used != len(self.weights):
            raise ModelFileError(f"MTCNN weights for {self.name}: the file holds {len(self.weights)} arrays, "
                                 f"the network uses {self.used}")
        return model


def _backend_array(array: np.ndarray) -> Any:
    """``array`` as the backend's own array where converting it later would compile (JAX), else as is."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.device_put(array)
    return array


def _conv(x: Any, feed: _WeightFeed, filters: int, kernel: int, name: str, activation: str | None = None) -> Any:
    import keras

    layer = keras.layers.Conv2D(filters, kernel, padding="valid", activation=activation, name=name,
                                **feed.kwargs("kernel_initializer", "bias_initializer"))
    return layer(x)


def _dense(x: Any, feed: _WeightFeed, units: int, name: str, activation: str | None = None) -> Any:
    import keras

    layer = keras.layers.Dense(units, activation=activation, name=name,
                               **feed.kwargs("kernel_initializer", "bias_initializer"))
    return layer(x)


def _prelu(x: Any, feed: _WeightFeed, name: str, shared_axes: list[int] | None = None) -> Any:
    import keras

    return keras.layers.PReLU(shared_axes=shared_axes, name=name, **feed.kwargs("alpha_initializer"))(x)


def _conv_prelu(x: Any, feed: _WeightFeed, filters: int, kernel: int, name: str) -> Any:
    return _prelu(_conv(x, feed, filters, kernel, name), feed, f"prelu_{name}", shared_axes=[1, 2])


def _dense_prelu_trunk(x: Any, feed: _WeightFeed, units: int, name: str) -> Any:
    """Caffe's flatten order (width before height), then a dense layer and a PReLU."""
    import keras

    x = keras.layers.Permute((2, 1, 3), name="caffe_order")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return _prelu(_dense(x, feed, units, name), feed, f"prelu_{name}")


def build_pnet(weights: list[np.ndarray] | None = None) -> Any:
    """P-Net (proposals): a fully convolutional net on images of any size.

    Args:
        weights: the arrays of :func:`load_mtcnn_weights` (``None``: random weights).

    Returns:
        A ``keras.Model`` from ``(batch, H, W, 3)`` normalised pixels to box regressions
        ``(batch, h, w, 4)`` and face probabilities ``(batch, h, w, 2)`` (column 1: face),
        one cell per 12-pixel window at stride 2.

    Example:

    >>> from adiencekit.inference.mtcnn_keras import build_pnet
    >>> [tuple(out.shape) for out in build_pnet().outputs]
    [(None, None, None, 4), (None, None, None, 2)]
    """
    import keras

    feed = _WeightFeed("pnet", weights)
    inputs = keras.Input((None, None, 3), name="pixels")
    x = _conv_prelu(inputs, feed, 10, 3, "conv1")
    x = keras.layers.MaxPooling2D(2, 2, padding="same", name="pool1")(x)
    x = _conv_prelu(x, feed, 16, 3, "conv2")
    x = _conv_prelu(x, feed, 32, 3, "conv3")
    boxes = _conv(x, feed, 4, 1, "boxes")
    faces = _conv(x, feed, 2, 1, "faces", activation="softmax")
    return feed.finish(keras.Model(inputs, [boxes, faces], name="pnet"))


#: R-Net and O-Net, layer by layer: ``(filters, kernel, pooling)`` per convolution
#: (pooling: ``(size, stride, padding)`` or ``None``), the dense layer's units, and the
#: heads ``(name, units, activation)`` in the weight files' order.
RNET_LAYERS = {
    "convs": [(28, 3, (3, 2, "same")), (48, 3, (3, 2, "valid")), (64, 2, None)],
    "units": 128,
    "heads": [("boxes", 4, None), ("faces", 2, "softmax")],
}
ONET_LAYERS = {
    "convs": [(32, 3, (3, 2, "same")), (64, 3, (3, 2, "valid")), (64, 3, (2, 2, "same")), (128, 2, None)],
    "units": 256,
    "heads": [("boxes", 4, None), ("landmarks", 10, None), ("faces", 2, "softmax")],
}


def _crop_network(name: str, side: int, layers: dict[str, Any], weights: list[np.ndarray] | None) -> Any:
    """R-Net or O-Net: convolutions with PReLU and pooling, a dense trunk, the heads."""
    import keras

    feed = _WeightFeed(name, weights)
    x = inputs = keras.Input((side, side, 3), name="pixels")
    for index, (filters, kernel, pooling) in enumerate(layers["convs"], start=1):
        x = _conv_prelu(x, feed, filters, kernel, f"conv{index}")
        if pooling is not None:
            size, stride, padding = pooling
            x = keras.layers.MaxPooling2D(size, stride, padding=padding, name=f"pool{index}")(x)
    x = _dense_prelu_trunk(x, feed, layers["units"], "trunk")
    outputs = [_dense(x, feed, units, head, activation=activation) for head, units, activation in layers["heads"]]
    return feed.finish(keras.Model(inputs, outputs, name=name))


def build_rnet(weights: list[np.ndarray] | None = None) -> Any:
    """R-Net (refinement) on 24 x 24 crops (layers: :data:`RNET_LAYERS`).

    Args:
        weights: the arrays of :func:`load_mtcnn_weights` (``None``: random weights).

    Returns:
        A ``keras.Model`` from ``(batch, 24, 24, 3)`` to box regressions ``(batch, 4)``
        and face probabilities ``(batch, 2)``.

    Example:

    >>> from adiencekit.inference.mtcnn_keras import build_rnet
    >>> build_rnet().count_params()
    100178
    """
    return _crop_network("rnet", RNET_SIDE, RNET_LAYERS, weights)


def build_onet(weights: list[np.ndarray] | None = None) -> Any:
    """O-Net (output) on 48 x 48 crops, with the five landmarks (layers: :data:`ONET_LAYERS`).

    Args:
        weights: the arrays of :func:`load_mtcnn_weights` (``None``: random weights).

    Returns:
        A ``keras.Model`` from ``(batch, 48, 48, 3)`` to box regressions ``(batch, 4)``,
        landmarks ``(batch, 10)`` (five x, then five y, relative to the crop) and face
        probabilities ``(batch, 2)``.

    Example:

    >>> from adiencekit.inference.mtcnn_keras import build_onet
    >>> [tuple(out.shape) for out in build_onet().outputs]
    [(None, 4), (None, 10), (None, 2)]
    """
    return _crop_network("onet", ONET_SIDE, ONET_LAYERS, weights)


def _weights_dir() -> Path:
    """The installed ``mtcnn`` package's weight folder, found without importing the package."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the MTCNN weights ship in the 'mtcnn' package; install it with pip install 'mtcnn>=1.0,<2'")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def load_mtcnn_weights(name: str, folder: str | Path | None = None) -> list[np.ndarray]:
    """The weights of one network (``"pnet"``, ``"rnet"`` or ``"onet"``) as arrays.

    Args:
        name: which network.
        folder: where ``<name>.lz4`` lies; by default the installed ``mtcnn`` package's
            ``assets/weights`` folder (the package itself is not imported).

    Returns:
        The arrays in the layers' order (kernel, bias, PReLU slope, ...; the last layers:
        boxes, [landmarks,] faces).

    Raises:
        ConfigError: unknown name, or the ``mtcnn`` package is not installed.
        ModelFileError: the file is missing or unreadable.

    Example:

    >>> from adiencekit.inference.mtcnn_keras import load_mtcnn_weights
    >>> [w.shape for w in load_mtcnn_weights("pnet")][:3]
    [(3, 3, 3, 10), (10,), (1, 1, 10)]
    """
    if name not in ("pnet", "rnet", "onet"):
        raise ConfigError(f"unknown MTCNN network {name!r}; expected 'pnet', 'rnet' or 'onet'")
    path = (Path(folder) if folder is not None else _weights_dir()) / f"{name}.lz4"
    if not path.is_file():
        raise ModelFileError(f"MTCNN weights not found: {path} (reinstall the 'mtcnn' package)")
    import joblib

    try:
        weights = joblib.load(path)
    except Exception as error:  # joblib raises many types on a damaged file
        raise ModelFileError(f"MTCNN weights {path} are damaged: {type(error).__name__}: {error}") from None
    return [np.asarray(w, np.float32) for w in weights]


@functools.lru_cache(maxsize=None)
def mtcnn_networks() -> tuple[Any, Any, Any]:
    """P-Net, R-Net and O-Net with the ``mtcnn`` package's weights (built once per process).

    Example:

    >>> from adiencekit.inference.mtcnn_keras import mtcnn_networks
    >>> [net.name for net in mtcnn_networks()]
    ['pnet', 'rnet', 'onet']
    """
    return tuple(build(load_mtcnn_weights(name))  # type: ignore[return-value]
                 for name, build in (("pnet", build_pnet), ("rnet", build_rnet), ("onet", build_onet)))


# ----------------------------------------------------------------------------- NumPy stages
def pyramid_scales(height: int, width: int, min_face: float) -> np.ndarray:
    """Scales of the image pyramid: the first maps a ``min_face`` face onto P-Net's 12 px.

    The number of scales follows ``mtcnn`` 1.0 (from the shorter side over 12 px, with
    factor :data:`SCALE_FACTOR`); scales whose shorter side would be under 12 px are left out.

    Example:

    >>> from adiencekit.inference.mtcnn_keras import pyramid_scales
    >>> [round(float(s), 3) for s in pyramid_scales(200, 300, min_face=20)]
    [0.6, 0.425, 0.302, 0.214, 0.152, 0.107, 0.076]
    """
    shorter = min(height, width)
    if shorter < PNET_CELL:
        return np.empty(0)
    count = max(0, round(math.log(shorter / PNET_CELL) / -math.log(SCALE_FACTOR) - 1))
    scales = PNET_CELL / min_face * SCALE_FACTOR ** np.arange(count)
    return scales[np.floor(shorter * scales) >= PNET_CELL]


@functools.lru_cache(maxsize=256)
def _area_weights(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: the input indices it covers and their area weights (rows sum to 1).

    Cached: photos of one size share their pyramid's weights (read-only arrays).
    """
    step = size_in / size_out
    starts = np.arange(size_out) * step
    span = math.ceil(step) + 1
    index = np.floor(starts)[:, None] + np.arange(span)[None, :]
    left = np.maximum(index, starts[:, None])
    right = np.minimum(index + 1, (starts + step)[:, None])
    weights = np.clip(right - left, 0.0, None) / step
    index, weights = np.minimum(index, size_in - 1).astype(np.intp), weights.astype(np.float32)
    index.flags.writeable = weights.flags.writeable = False
    return index, weights


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Shrink ``(H, W, C)`` by area averaging (each output pixel: the mean of what it covers).

    The same resampling as TensorFlow's ``method="area"``, in NumPy; cost linear in the
    number of pixels.

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.mtcnn_keras import area_resize
    >>> area_resize(np.arange(16, dtype=np.float32).reshape(4, 4, 1), 2, 2)[..., 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    rows, row_w = _area_weights(image.shape[0], height)
    cols, col_w = _area_weights(image.shape[1], width)
    tall = np.einsum("ok,okwc->owc", row_w, image[rows])
    return np.einsum("ok,hokc->hoc", col_w, tall[:, cols])


def _overlap(low: np.ndarray, high: np.ndarray, rows: slice, stop: int) -> np.ndarray:
    """Overlap along one axis of the boxes in ``rows`` with the first ``stop`` boxes."""
    return np.clip(np.minimum(high[rows, None], high[None, :stop]) - np.maximum(low[rows, None], low[None, :stop]), 0, None)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Non-maximum suppression as ``mtcnn`` 1.0 does it: indices kept, highest score first.

    A box is dropped when it overlaps *any* higher-scoring box by more than
    ``threshold``, whether that box is kept or not (stricter than greedy suppression,
    which compares with kept boxes only). Computed in blocks, so memory stays bounded.

    Args:
        boxes: ``(N, 4)`` ``x1, y1, x2, y2``.
        scores: ``(N,)``.
        threshold: the overlap above which the lower-scoring box is dropped.
        mode: ``"union"`` (intersection over union) or ``"min"`` (over the smaller area).

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.mtcnn_keras import non_max_suppression
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    >>> non_max_suppression(boxes, np.array([0.8, 0.9, 0.7]), 0.5).tolist()
    [1, 2]
    """
    if mode not in ("union", "min"):
        raise ConfigError(f"mode must be 'union' or 'min', got {mode!r}")
    order = np.argsort(-np.asarray(scores), kind="stable")
    x1, y1, x2, y2 = np.asarray(boxes, np.float64)[order].T
    areas = (x2 - x1) * (y2 - y1)
    dropped = np.zeros(order.size, bool)
    block = 512
    for start in range(0, order.size, block):
        rows = slice(start, min(start + block, order.size))
        stop = rows.stop  # only higher-scoring boxes (earlier in the order) can drop a box
        inter = _overlap(x1, x2, rows, stop) * _overlap(y1, y2, rows, stop)
        if mode == "min":
            base = np.minimum(areas[rows, None], areas[None, :stop])
        else:
            base = areas[rows, None] + areas[None, :stop] - inter
        overlap = np.divide(inter, base, out=np.zeros_like(inter), where=base > 0)
        earlier = np.arange(stop)[None, :] < np.arange(rows.start, stop)[:, None]
        dropped[rows] = ((overlap > threshold) & earlier).any(axis=1)
    return order[~dropped]


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` boxes grown to squares (the longer side) around the same centre."""
    boxes = np.array(boxes, dtype=np.float64)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    boxes[:, 0] += (width - side) / 2
    boxes[:, 1] += (height - side) / 2
    boxes[:, 2:4] = boxes[:, 0:2] + side[:, None]
    return boxes


def crop_patches(image: np.ndarray, boxes: np.ndarray, side: int) -> np.ndarray:
    """Bilinear ``side x side`` crops of ``boxes`` (``x1, y1, x2, y2``); outside the image is 0.

    Sampling follows ``mtcnn`` 1.0 (TensorFlow's ``crop_and_resize`` on box corners
    divided by the image size).

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.mtcnn_keras import crop_patches
    >>> crop_patches(np.ones((10, 10, 3), np.float32), np.array([[0, 0, 10, 10.0]]), 4).shape
    (1, 4, 4, 3)
    """
    height, width = image.shape[:2]
    steps = np.arange(side) / max(side - 1, 1)

    def axis(low: np.ndarray, high: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
        at = (low[:, None] + (high - low)[:, None] * steps[None, :]) * (size - 1) / size
        inside = (at >= 0) & (at <= size - 1)
        base = np.clip(np.floor(at), 0, size - 1).astype(np.intp)
        frac = (at - base).astype(np.float32)
        return base, np.minimum(base + 1, size - 1), frac, inside

    y0, y1, fy, in_y = axis(boxes[:, 1], boxes[:, 3], height)
    x0, x1, fx, in_x = axis(boxes[:, 0], boxes[:, 2], width)
    # The four neighbours by flat index (np.take: a third of the time of 2-D fancy indexing).
    flat = np.asarray(image, np.float32).reshape(-1, image.shape[2])
    row0, row1 = (y0 * width)[:, :, None], (y1 * width)[:, :, None]
    col0, col1 = x0[:, None, :], x1[:, None, :]
    wx, wy = fx[:, None, :, None], fy[:, :, None, None]
    top = np.take(flat, row0 + col0, axis=0)
    top += (np.take(flat, row0 + col1, axis=0) - top) * wx
    bottom = np.take(flat, row1 + col0, axis=0)
    bottom += (np.take(flat, row1 + col1, axis=0) - bottom) * wx
    top += (bottom - top) * wy
    top *= in_y[:, :, None, None] & in_x[:, None, :, None]  # outside the image: 0
    return top


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def pyramid_mosaic(image: np.ndarray, scales: np.ndarray,
                   step: int = CANVAS_STEP) -> tuple[np.ndarray, list[tuple[float, int, int, int, int]]]:
    """All pyramid levels of ``image`` on one canvas, so that P-Net runs once per photo.

    The levels are shelf-packed at even offsets (P-Net's cells keep their alignment);
    the canvas is rounded up to ``step`` (:data:`CANVAS_STEP` by default), so photos of
    similar sizes share one shape and a compiled P-Net is reused (a runtime that compiles
    nothing per shape, ONNX Runtime, passes a small step: less canvas to run P-Net on). Cells are read back per level
    (``_level_cells``), each from its own level's pixels.

    Args:
        image: ``(H, W, 3)`` float image.
        scales: the pyramid's scales, largest first.
        step: the canvas's sides are rounded up to a multiple of it (even).

    Returns:
        The canvas and one ``(scale, top, left, height, width)`` per level.

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.mtcnn_keras import pyramid_mosaic
    >>> canvas, levels = pyramid_mosaic(np.zeros((100, 200, 3), np.float32), np.array([0.5, 0.25]))
    >>> canvas.shape, levels
    ((128, 128, 3), [(0.5, 0, 0, 50, 100), (0.25, 50, 0, 25, 50)])
    """
    height, width = image.shape[:2]
    sizes = [(int(height * scale), int(width * scale)) for scale in scales]
    canvas_width = _round_up(sizes[0][1], 2) if sizes else 0
    levels, top, left, shelf = [], 0, 0, 0
    for scale, (level_height, level_width) in zip(scales, sizes):
        if left and left + level_width > canvas_width:
            top, left, shelf = top + shelf, 0, 0
        levels.append((float(scale), top, left, level_height, level_width))
        left += _round_up(level_width, 2)
        shelf = max(shelf, _round_up(level_height, 2))
    canvas = np.zeros((_round_up(top + shelf, step), _round_up(canvas_width, step), 3), np.float32)
    for scale, top, left, level_height, level_width in levels:
        canvas[top:top + level_height, left:left + level_width] = area_resize(image, level_height, level_width)
    return canvas, levels


def _level_cells(output: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The P-Net cells of one level of the mosaic (those P-Net gives on the level alone)."""
    rows, cols = (height - 1) // PNET_STRIDE - 4, (width - 1) // PNET_STRIDE - 4
    top, left = top // PNET_STRIDE, left // PNET_STRIDE
    return output[top:top + max(rows, 0), left:left + max(cols, 0)]


def _run_network(network: Any, batch: np.ndarray, bucket: bool = True) -> list[np.ndarray]:
    """``network`` on ``batch`` as float64 NumPy arrays, in output order.

    A Keras network runs compiled (:mod:`adiencekit.inference.compiled`; with ``bucket`` the
    batch is padded to a bucketed size where the backend compiles per shape); a network with
    a ``run_numpy`` method (the ONNX Runtime networks of
    :mod:`~adiencekit.inference.mtcnn_onnx`) runs through that.
    """
    run_numpy = getattr(network, "run_numpy", None)
    outputs = run_numpy(batch) if run_numpy is not None else run_compiled(network, batch, bucket=bucket)
    return [np.asarray(out, np.float64) for out in outputs]


def _proposals(pnet: Any, normalized: np.ndarray, scales: np.ndarray, threshold: float,
               canvas_step: int = CANVAS_STEP) -> np.ndarray:
    """Stage 1: ``(N, 5)`` rows ``x1, y1, x2, y2, score`` in the image's pixels."""
    if scales.size == 0:
        return np.empty((0, 5))
    with stage("pyramid"):
        canvas, levels = pyramid_mosaic(normalized, scales, canvas_step)
    with stage("pnet"):
        regression_all, probability_all = (out[0] for out in _run_network(pnet, canvas[None], bucket=False))
    with stage("pnet boxes + nms"):
        return _pnet_boxes(regression_all, probability_all, levels, threshold)


def _pnet_boxes(regression_all: np.ndarray, probability_all: np.ndarray, levels: list[tuple[float, int, int, int, int]],
                threshold: float) -> np.ndarray:
    """P-Net's cells above ``threshold`` as boxes in the image's pixels, suppressed per level, then across."""
    found, level_of = [], []
    for level, (scale, *place) in enumerate(levels):
        regression, probability = _level_cells(regression_all, *place), _level_cells(probability_all, *place)
        ys, xs = np.nonzero(probability[..., 1] > threshold)
        if ys.size == 0:
            continue
        # Cell (y, x) sees the window [2x + 1, 2x + 12] of the scaled image (mtcnn 1.0).
        corners = np.stack([xs, ys, xs, ys], axis=1) * PNET_STRIDE + [1, 1, PNET_CELL, PNET_CELL]
        boxes = (corners + regression[ys, xs] * (PNET_CELL - 1)) / scale
        found.append(np.column_stack([boxes, probability[ys, xs, 1]]))
        level_of.append(np.full(ys.size, level))
    if not found:
        return np.empty((0, 5))
    rows = np.concatenate(found)
    # Suppression within each level, all levels in one call: each level's boxes are moved
    # apart (by more than any box spans) so that boxes of two levels never overlap.
    apart = rows[:, :4] + (np.concatenate(level_of) * (np.abs(rows[:, :4]).max() * 2 + 1))[:, None]
    rows = rows[np.sort(non_max_suppression(apart, rows[:, 4], NMS_PER_SCALE))]
    return rows[non_max_suppression(rows[:, :4], rows[:, 4], NMS_ACROSS_SCALES)]


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply R-/O-Net box regressions (fractions of the box's side, ``+1`` as in mtcnn 1.0)."""
    sides = np.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1] * 2, axis=1)
    return boxes[:, :4] + offsets * sides


def _checked_device(device: str) -> str:
    """``device`` if the Keras backend accepts it, else a one-line :class:`ConfigError`."""
    import keras

    try:
        with keras.device(str(device)):
            pass
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"device {device!r} is not usable on the {keras.backend.backend()} backend: "
                          f"{str(error).splitlines()[0]}") from None
    return str(device)


class KerasMTCNNDetector(MTCNNDetector):
    """MTCNN as Keras 3 models (any backend; no TensorFlow on JAX or PyTorch).

    The constructor, retries and :class:`Detection` output of
    :class:`~adiencekit.inference.detection.MTCNNDetector` (it reuses that class's
    retry rules and the scaling and filters of
    :class:`~adiencekit.inference.detection.FaceDetector`); only the networks and
    stages are this module's. The weights come from the installed ``mtcnn`` package,
    which is never imported.

    Args:
        min_face: see :class:`~adiencekit.inference.detection.FaceDetector`; below 20 it
            also lowers the smallest pyramid face (never below 12 px).
        max_side: see :class:`~adiencekit.inference.detection.FaceDetector`.
        min_score: see :class:`~adiencekit.inference.detection.FaceDetector`.
        thresholds: the three stage thresholds (P-, R-, O-net).
        retry: see :class:`~adiencekit.inference.detection.MTCNNDetector`.
        retry_thresholds: the thresholds of the contrast-stretched retry.
        device: Keras device the networks run on (``"CPU:0"``, ``"GPU:0"``, ...).
        min_face_share: see :class:`~adiencekit.inference.detection.FaceDetector`.

    Example:

    >>> import numpy as np
    >>> from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector
    >>> detector = KerasMTCNNDetector(min_face=30, retry=False)
    >>> detector.detect(np.zeros((64, 64, 3), np.uint8)), detector.last_too_small
    ([], 0)
    """

    #: P-Net's canvas is rounded up to a multiple of this many pixels (:func:`pyramid_mosaic`).
    canvas_step = CANVAS_STEP

    def _build_networks(self, device: str) -> None:
        """The Keras networks (built once per process); ``device`` checked first (Keras imported quietly)."""
        from adiencekit.quiet import quiet_backend_import

        quiet_backend_import()
        self.device = _checked_device(device)
        self._pnet, self._rnet, self._onet = mtcnn_networks()

    def _device_scope(self) -> Any:
        """Where the networks run: the Keras device chosen at construction."""
        import keras

        return keras.device(self.device)

    def _run(self, image: np.ndarray, thresholds: tuple[float, ...]) -> list[Detection]:
        with self._device_scope():
            rows = self._stages(image, thresholds, self._pyramid_min_face())
        height, width = image.shape[:2]
        rows[:, [0, 2]] = np.clip(rows[:, [0, 2]], 0, width - 1)
        rows[:, [1, 3]] = np.clip(rows[:, [1, 3]], 0, height - 1)
        return [
            Detection(
                box=(row[0], row[1], row[2] - row[0], row[3] - row[1]),
                score=float(row[4]),
                landmarks=np.stack([row[5:10], row[10:15]], axis=1),
            )
            for row in rows
            if row[2] > row[0] and row[3] > row[1]
        ]

    def _stages(self, image: np.ndarray, thresholds: tuple[float, ...], pyramid_min: float) -> np.ndarray:
        """The three stages: ``(N, 15)`` rows ``x1, y1, x2, y2, score``, five landmark x, five y."""
        with stage("pyramid"):
            normalized = (image.astype(np.float32) - 127.5) / 128.0
            scales = pyramid_scales(*image.shape[:2], min_face=pyramid_min)
        rows = _proposals(self._pnet, normalized, scales, thresholds[0], self.canvas_step)
        if len(rows) == 0:
            return np.empty((0, 15))
        with stage("rnet patches"):
            boxes = square_boxes(rows[:, :4])
            patches = crop_patches(normalized, boxes, RNET_SIDE)
        with stage("rnet"):
            offsets, probability = _run_network(self._rnet, patches)
        with stage("rnet boxes + nms"):
            keep = probability[:, 1] > thresholds[1]
            boxes, scores = _refine(boxes[keep], offsets[keep]), probability[keep, 1]
            boxes = square_boxes(boxes[non_max_suppression(boxes, scores, NMS_RNET)])
        if len(boxes) == 0:
            return np.empty((0, 15))
        with stage("onet patches"):
            patches = crop_patches(normalized, boxes, ONET_SIDE)
        with stage("onet"):
            offsets, landmarks, probability = _run_network(self._onet, patches)
        with stage("onet boxes + nms"):
            return _onet_rows(boxes, offsets, landmarks, probability, thresholds[2])


def _onet_rows(boxes: np.ndarray, offsets: np.ndarray, landmarks: np.ndarray, probability: np.ndarray,
               threshold: float) -> np.ndarray:
    """O-Net's outputs as ``(N, 15)`` rows above ``threshold``, suppressed (overlap over the smaller box)."""
    sides = np.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], axis=1)
    # Landmarks: fractions of the crop's side, from its corner (mtcnn 1.0 counts from -1).
    xs = landmarks[:, :5] * sides[:, :1] + boxes[:, :1] - 1
    ys = landmarks[:, 5:] * sides[:, 1:] + boxes[:, 1:2] - 1
    rows = np.column_stack([_refine(boxes, offsets), probability[:, 1], xs, ys])
    rows = rows[probability[:, 1] > threshold]
    return rows[non_max_suppression(rows[:, :4], rows[:, 4], NMS_ONET, mode="min")]
