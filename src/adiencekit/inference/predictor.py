"""``Predictor``: photos in, labelled faces out.

For each photo the predictor reads the file (:func:`~adiencekit.inference.images.read_image`),
finds the faces (a :class:`~adiencekit.inference.detection.FaceDetector`, MTCNN by
default), cuts each face out the way the model was trained
(:func:`~adiencekit.inference.alignment.crop_face`), and runs the model on the faces of
several photos at once (``batch_size`` faces per call). Each face gets, per head of the
model, the label, its probability and the full distribution (age: the eight Adience
groups in order, named ``"0-2"`` ... ``"60-100"``), and an age in years
(:func:`~adiencekit.models.heads.age_in_years`: the model's ``age_years`` output when it
has one, else the expected age of its age groups; :attr:`Predictor.age_years_source`
says which).

A photo that cannot be read gives an :class:`ImageResult` with ``error`` set (the batch
goes on); a photo without a face gives an empty ``faces`` list. :func:`summarize` counts
both.

Example:

>>> import numpy as np
>>> from adiencekit.inference import Predictor
>>> from adiencekit.models import create_model
>>> model = create_model("scratch_cnn", task="multitask", input_shape=(32, 32, 3),
...                      conv_layers=2, base_filters=4, dense_units=8)
>>> predictor = Predictor(model, detector=None)
>>> result = predictor.predict(np.full((50, 40, 3), 128, np.uint8), detect=False)
>>> face = result.faces[0]
>>> face.box, sorted(face.heads), len(face.age.probabilities)
((0.0, 0.0, 40.0, 50.0), ['age', 'gender'], 8)
>>> face.gender.label in ("female", "male")
True
>>> predictor.age_years_source, 1.6 <= face.age_years <= 69.7
('age groups', True)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from adiencekit.crops import CropSpec, inference_crop, model_inputs, resize_square
from adiencekit.errors import ConfigError
from adiencekit.inference.alignment import crop_face
from adiencekit.inference.detection import LANDMARK_NAMES, Detection, FaceDetector, get_detector
from adiencekit.inference.images import ImageReadError, as_rgb_array, expand_image_paths, read_image
from adiencekit.inference.loading import load_model_source, model_input_size
from adiencekit.inference.onnx_model import OnnxFaceModel
from adiencekit.inference.read_ahead import default_decode_workers, read_ahead
from adiencekit.inference.stage_times import stage
from adiencekit.labels import AGE_YEARS, as_probabilities
from adiencekit.wording import counted

__all__ = [
    "FacePrediction",
    "HeadPrediction",
    "ImageResult",
    "PredictionSummary",
    "Predictor",
    "summarize",
]

@dataclass
class HeadPrediction:
    """One head's answer for one face.

    Attributes:
        label: the most probable class (``"female"``, ``"25-32"``, ...).
        probability: its probability.
        probabilities: every class and its probability, in class order.
    """

    label: str
    probability: float
    probabilities: dict[str, float]


@dataclass
class FacePrediction:
    """One face: where it is and what the model says.

    Attributes:
        box: ``(x, y, w, h)`` in pixels of the photo (the whole photo with ``detect=False``).
        score: the detector's confidence (``None`` with ``detect=False``).
        landmarks: ``(5, 2)`` landmarks in :data:`~adiencekit.inference.detection.LANDMARK_NAMES`
            order, or ``None``.
        heads: ``{"gender": HeadPrediction, "age": HeadPrediction}`` (the model's heads).
        age_years: the age in years (``None`` for a model without an age head); where it
            comes from is the predictor's :attr:`Predictor.age_years_source`.
    """

    box: tuple[float, float, float, float]
    score: float | None
    landmarks: np.ndarray | None
    heads: dict[str, HeadPrediction] = field(default_factory=dict)
    age_years: float | None = None

    @property
    def gender(self) -> HeadPrediction | None:
        """The gender head's answer, or ``None`` for an age-only model."""
        return self.heads.get("gender")

    @property
    def age(self) -> HeadPrediction | None:
        """The age head's answer, or ``None`` for a gender-only model."""
        return self.heads.get("age")

    def to_dict(self) -> dict[str, Any]:
        """The face in the documented JSON schema (see ``docs/predict.md``)."""
        out: dict[str, Any] = {
            "box": [round(float(v), 1) for v in self.box],
            "score": None if self.score is None else round(float(self.score), 4),
            "landmarks": None
            if self.landmarks is None
            else {name: [round(float(x), 1), round(float(y), 1)] for name, (x, y) in zip(LANDMARK_NAMES, self.landmarks)},
        }
        if self.gender is not None:
            out["gender"] = self.gender.label
            out["gender_probability"] = round(self.gender.probability, 4)
            out["gender_probabilities"] = {k: round(v, 4) for k, v in self.gender.probabilities.items()}
        if self.age is not None:
            out["age_group"] = self.age.label
            out["age_probability"] = round(self.age.probability, 4)
            out["age_probabilities"] = {k: round(v, 4) for k, v in self.age.probabilities.items()}
        if self.age_years is not None:
            out["age_years"] = round(float(self.age_years), 1)
        return out


@dataclass
class ImageResult:
    """The faces of one photo, or why there are none.

    Attributes:
        path: the file, or ``None`` for an in-memory image.
        faces: the faces found, highest detector score first (empty: no face).
        size: ``(width, height)`` of the upright photo, ``None`` when unreadable.
        error: one line saying why the photo could not be read, else ``None``.
        too_small: faces the detector found but dropped by ``min_face``.
    """

    path: str | None
    faces: list[FacePrediction] = field(default_factory=list)
    size: tuple[int, int] | None = None
    error: str | None = None
    too_small: int = 0

    @property
    def ok(self) -> bool:
        """Whether the photo was read."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The photo in the documented JSON schema."""
        return {
            "path": self.path,
            "size": None if self.size is None else list(self.size),
            "error": self.error,
            "faces": [face.to_dict() for face in self.faces],
        }


@dataclass
class PredictionSummary:
    """Counts over a batch of :class:`ImageResult`.

    Attributes:
        images: photos given.
        read: photos read.
        unreadable: photos that could not be read.
        no_face: photos read in which no face was found.
        faces: faces labelled.
        too_small: faces dropped by ``min_face``.
    """

    images: int
    read: int
    unreadable: int
    no_face: int
    faces: int
    too_small: int

    def __str__(self) -> str:
        return (
            f"{counted(self.images, 'image')}: {counted(self.faces, 'face')}, {self.no_face} without a face, "
            f"{self.unreadable} unreadable"
            + (f", {counted(self.too_small, 'face')} below --min-face" if self.too_small else "")
        )


def summarize(results: Iterable[ImageResult]) -> PredictionSummary:
    """Count photos, faces, photos without a face and unreadable files.

    Example:

    >>> from adiencekit.inference.predictor import ImageResult, summarize
    >>> print(summarize([ImageResult("a.jpg", size=(9, 9)), ImageResult("b.jpg", error="b.jpg: broken")]))
    2 images: 0 faces, 1 without a face, 1 unreadable
    """
    results = list(results)
    read = [r for r in results if r.ok]
    return PredictionSummary(
        images=len(results),
        read=len(read),
        unreadable=len(results) - len(read),
        no_face=sum(1 for r in read if not r.faces),
        faces=sum(len(r.faces) for r in read),
        too_small=sum(r.too_small for r in read),
    )


class Predictor:
    """Detect, align and label the faces in photos with an age/gender model.

    Args:
        model: a ``keras.Model``, a ``.keras`` or adiencekit ``.onnx`` file, a training run
            folder or a preset (see :func:`~adiencekit.inference.loading.load_model_source`). The model takes
            RGB ``[0, 255]`` images and has a ``gender`` and/or an ``age`` output.
            ``None`` (the default): the bundled preset
            :data:`~adiencekit.bundled.DEFAULT_PRESET`, loaded from the package
            folder without network; :class:`~adiencekit.errors.ModelFileError` when this
            installation does not have it.
        detector: ``"mtcnn"``, a :class:`~adiencekit.inference.detection.FaceDetector`,
            or ``None`` (only ``detect=False`` then works).
        crop: how faces are cut out: a :class:`CropSpec` or its dict; default: the
            model's own (preset or run folder), else ``CropSpec(size=<model input>)``.
        min_face: smallest face in pixels (shorter box side) when ``detector`` is a name.
        batch_size: faces per model call (faces of several photos share a call).
        tta: also run the horizontally flipped faces and average the probabilities
            (:class:`~adiencekit.layers.TestTimeAugmentation`, ``mode="flip"``, the
            one implementation that ``predict_tta`` uses too). ``None`` (default): what
            the model's record asks for (:attr:`LoadedModel.tta
            <adiencekit.inference.loading.LoadedModel.tta>`; the bundled default asks
            for it), else no.
        heads: the heads of the model's outputs, in output order, for a model that
            does not say them itself (a plain ``keras.Model`` whose outputs are not
            named ``gender``/``age``), e.g. ``("gender",)``; see
            :func:`~adiencekit.models.heads.model_heads`.
        decode_workers: threads that decode the next photos of a list or folder while the
            current one is detected and labelled
            (:func:`~adiencekit.inference.read_ahead.read_ahead`); ``None``: one per spare
            core, at most two, none on one core
            (:func:`~adiencekit.inference.read_ahead.default_decode_workers`); 0: none.
        runtime: what runs the networks: ``"auto"`` (default: ONNX Runtime for a model
            with an ONNX copy, such as the bundled default, and for the detector, where
            ``onnxruntime`` is installed; Keras otherwise), ``"onnx"`` or ``"keras"``
            (:mod:`~adiencekit.inference.onnx_model`).
        threads: ONNX Runtime intra-op threads of each network (default: one per idle
            core, at most two, :func:`~adiencekit.inference.onnx_model.default_threads`).
        precision: ``"auto"`` (default: a preset's int8 ONNX copy where it has one, such
            as the bundled default, and the runtime is ONNX Runtime), ``"float32"`` or
            ``"int8"`` (:mod:`~adiencekit.inference.loading`).

    Attributes:
        model: the Keras model, or ``None`` when the network runs in ONNX Runtime.
        onnx: the :class:`~adiencekit.inference.onnx_model.OnnxFaceModel`, or ``None``.
        runtime: ``"onnx"`` or ``"keras"``: what runs the model.
        precision: ``"int8"`` (a quantized ONNX copy) or ``"float32"``.
        tta: whether each face is averaged with its mirror.
        heads: the model's heads, e.g. ``["gender", "age"]``.
        age_years_source: where each face's ``age_years`` comes from: ``"head"`` (the
            model's ``age_years`` output), ``"age groups"`` (the expected age of its age
            probabilities) or ``None`` (no age head, no age in years).
        class_names: class names of each head, in class order.
        crop: the :class:`CropSpec` in use.
        input_size: the model's input side (``None``: any; the crop is fed as is).
    """

    def __init__(
        self,
        model: Any = None,
        *,
        detector: str | FaceDetector | None = "mtcnn",
        crop: CropSpec | dict[str, Any] | None = None,
        min_face: float = 40,
        batch_size: int = 32,
        tta: bool | None = None,
        heads: Sequence[str] | None = None,
        decode_workers: int | None = None,
        runtime: str = "auto",
        threads: int | None = None,
        precision: str = "auto",
    ) -> None:
        loaded = load_model_source(model, runtime=runtime, threads=threads, precision=precision)
        self.model: Any = loaded.model
        self.onnx: OnnxFaceModel | None = loaded.onnx
        self.runtime = loaded.runtime
        self.precision = loaded.precision
        self.source = loaded.source
        self._named_heads = None if heads is None else tuple(heads)
        if self.onnx is not None:
            if self._named_heads is not None and list(self._named_heads) != self.onnx.heads:
                raise ConfigError(f"heads {list(self._named_heads)} do not match the ONNX file's own "
                                  f"{self.onnx.heads} ({self.onnx.path})")
            self.heads = list(self.onnx.heads)
            self.class_names = dict(self.onnx.class_names)
            self.age_years_source = self.onnx.age_years_source
            self.input_size = self.onnx.input_size
        else:
            from adiencekit.models.heads import age_years_source, head_class_names, model_heads

            self.heads = list(model_heads(self.model, self._named_heads))
            self.class_names = head_class_names(self.model, self.heads)
            self.age_years_source = age_years_source(self.model, self._named_heads)
            self.input_size = model_input_size(self.model)
        if isinstance(crop, dict):
            crop = CropSpec.from_dict(crop)
        self.crop: CropSpec = crop if crop is not None else inference_crop(loaded.crop, self.input_size)
        self.image_size = loaded.image_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.tta = loaded.tta if tta is None else bool(tta)
        self._flip: Any = None
        self.detector = None if detector is None else get_detector(detector, min_face=min_face, runtime=runtime,
                                                                   threads=threads)
        if decode_workers is None:
            decode_workers = default_decode_workers()
        if isinstance(decode_workers, bool) or not isinstance(decode_workers, int) or decode_workers < 0:
            raise ConfigError(f"decode_workers must be 0 or more, got {decode_workers!r}")
        self.decode_workers = decode_workers

    # ------------------------------------------------------------------ model
    def _model_inputs(self, crops: np.ndarray) -> np.ndarray:
        """Crops (``crop.size`` square) -> the model's input (:func:`adiencekit.crops.model_inputs`)."""
        return model_inputs(crops, self.input_size, self.image_size)

    def predict_crops(self, crops: Any) -> dict[str, np.ndarray]:
        """Class probabilities and ages in years of face crops.

        Args:
            crops: ``(N, S, S, 3)`` ``uint8`` face crops in the predictor's crop style.

        Returns:
            ``{head: (N, classes) float64}`` probabilities and, unless
            :attr:`age_years_source` is ``None``, ``"age_years"``: ``(N,)`` float64 years.
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise ValueError(f"crops must be (N, S, S, 3), got shape {crops.shape}")
        empty = {head: np.zeros((0, len(names))) for head, names in self.class_names.items()}
        if self.age_years_source is not None:
            empty[AGE_YEARS] = np.zeros((0,))
        out: dict[str, list[np.ndarray]] = {name: [] for name in empty}
        for start in range(0, len(crops), self.batch_size):
            batch = self._model_inputs(crops[start : start + self.batch_size]).astype(np.float32)
            for name, values in self._call(batch).items():
                out[name].append(values)
        return {name: np.concatenate(parts) if parts else empty[name] for name, parts in out.items()}

    def _call(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.onnx is not None:
            return self.onnx.predict(batch, tta=self.tta)
        from adiencekit.inference.compiled import run_compiled
        from adiencekit.models.heads import age_in_years, head_probabilities

        # The compiled forward pass (adiencekit.inference.compiled; a concrete tf.function
        # on TensorFlow, jit on JAX): several times faster per face than an eager call for
        # the small batches of one photo, and without predict_on_batch's per-call work.
        # The flip wrapper is built once, so that it is compiled once too.
        runner = self.model
        if self.tta:
            if self._flip is None:
                from adiencekit.layers.oversampling import TestTimeAugmentation

                self._flip = TestTimeAugmentation(self.model, crop_size=batch.shape[1:3], mode="flip")
            runner = self._flip
        outputs = run_compiled(runner, batch)
        out = {head: as_probabilities(values)
               for head, values in head_probabilities(self.model, outputs, self._named_heads).items()}
        years = age_in_years(self.model, outputs, self._named_heads)
        if years is not None:
            out[AGE_YEARS] = years[0]
        return out

    # ------------------------------------------------------------------ photos
    def _faces_of(self, image: np.ndarray, detect: bool) -> tuple[list[Detection], list[np.ndarray], int]:
        if not detect:
            height, width = image.shape[:2]
            crop = resize_square(image[None], self.crop.size)[0]
            return [Detection(box=(0.0, 0.0, float(width), float(height)), score=float("nan"))], [crop], 0
        if self.detector is None:
            raise ConfigError("this Predictor has no detector; pass detector='mtcnn' or predict(..., detect=False)")
        detections = self.detector.detect(image)
        with stage("align"):
            crops = [crop_face(image, d, self.crop) for d in detections]
        return detections, crops, self.detector.last_too_small

    def _label(self, pending: list[tuple[ImageResult, list[Detection], list[np.ndarray], bool]]) -> None:
        crops = [c for _, _, image_crops, _ in pending for c in image_crops]
        if not crops:
            return
        with stage("model"):
            probabilities = self.predict_crops(np.stack(crops))
        row = 0
        for result, detections, _, detect in pending:
            for detection in detections:
                heads = {}
                for head in self.heads:
                    p = probabilities[head][row]
                    best = int(np.argmax(p))
                    names = self.class_names[head]
                    heads[head] = HeadPrediction(
                        label=names[best], probability=float(p[best]), probabilities=dict(zip(names, map(float, p)))
                    )
                years = probabilities.get(AGE_YEARS)
                result.faces.append(
                    FacePrediction(
                        box=tuple(float(v) for v in detection.box),  # type: ignore[arg-type]
                        score=detection.score if detect else None,
                        landmarks=detection.landmarks,
                        heads=heads,
                        age_years=None if years is None else float(years[row]),
                    )
                )
                row += 1

    def iter_predict(
        self, inputs: Sequence[Any], *, detect: bool = True, progress: bool = False
    ) -> Iterable[ImageResult]:
        """Yield one :class:`ImageResult` per input, in order, faces batched across photos.

        Args:
            inputs: paths and/or ``(H, W, 3)`` ``uint8`` arrays (folders are expanded by
                :meth:`predict`, not here); with :attr:`decode_workers`, the next paths are
                decoded in threads while one is labelled.
            detect: find faces; ``False`` treats each image as one face crop.
            progress: show a progress bar (tqdm) on stderr.
        """
        several = not isinstance(inputs, Sequence) or len(inputs) > 1
        decoded: Iterable[tuple[Any, Any]] = read_ahead(inputs, self.decode_workers if several else 0)
        if progress:
            from tqdm import tqdm

            total = len(inputs) if isinstance(inputs, Sequence) else None
            decoded = tqdm(decoded, total=total, unit="image", desc="predict", leave=False)
        pending: list[tuple[ImageResult, list[Detection], list[np.ndarray], bool]] = []
        waiting = 0
        iterator = iter(decoded)
        while True:
            with stage("decode"):  # with threads: the wait for a photo decoded ahead
                decoded_item = next(iterator, None)
            if decoded_item is None:
                break
            item, image = decoded_item
            result = ImageResult(path=str(item) if isinstance(item, (str, os.PathLike)) else None)
            if isinstance(image, ImageReadError):
                result.error = str(image)
                pending.append((result, [], [], detect))
                continue
            result.size = (int(image.shape[1]), int(image.shape[0]))
            detections, crops, result.too_small = self._faces_of(image, detect)
            pending.append((result, detections, crops, detect))
            waiting += len(crops)
            if waiting >= self.batch_size:
                self._label(pending)
                yield from (entry[0] for entry in pending)
                pending, waiting = [], 0
        self._label(pending)
        yield from (entry[0] for entry in pending)

    def predict(self, x: Any, *, detect: bool = True, progress: bool = False) -> ImageResult | list[ImageResult]:
        """Label the faces of one photo or many.

        Args:
            x: a path to an image, a ``(H, W, 3)`` ``uint8`` RGB array (one result), or a
                folder (its images, recursively), a list of paths/arrays (one result each).
            detect: find faces with the detector; ``False`` treats each image as one face
                crop (for datasets of crops).
            progress: show a progress bar.

        Returns:
            An :class:`ImageResult` for a single path or array, else a list of them.
        """
        if isinstance(x, np.ndarray) or isinstance(x, Image.Image):
            return next(iter(self.iter_predict([x], detect=detect, progress=progress)))
        if isinstance(x, (str, os.PathLike)):
            if Path(x).is_dir():
                return list(self.iter_predict(expand_image_paths(x), detect=detect, progress=progress))
            return next(iter(self.iter_predict([x], detect=detect, progress=progress)))
        items: list[Any] = []
        for entry in x:
            if isinstance(entry, (str, os.PathLike)) and Path(entry).is_dir():
                items.extend(expand_image_paths(entry))
            else:
                items.append(entry)
        return list(self.iter_predict(items, detect=detect, progress=progress))
