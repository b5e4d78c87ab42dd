"""Evaluate a model: exact and 1-off accuracy, per-class accuracy, confusion matrix.

Multitask models are scored per head; labels of −1 (missing) are left out of that
head's figures and counted. Accuracies come from :mod:`adiencekit.metrics` (the one
implementation; a head without any labelled image raises a
:class:`~adiencekit.errors.DataError`). With ``tta="ten_crop"`` (or ``True``) each image
is scored by Levi & Hassner's over-sampling, the average of ten crops (four corners and
the centre, and their mirrors) of the full-size image; ``tta="flip"`` averages the
centre crop and its mirror. Both go through :class:`adiencekit.layers.TestTimeAugmentation`,
the implementation ``AgeGenderClassifier.predict_tta`` uses too.

On faces with an exact age (UTKFace; labels ``"age_years"``, NaN where a face has only
a group, as every Adience face does) a model with an age in years
(:func:`adiencekit.models.heads.age_in_years`: its ``age_years`` output, else the
expected age of its age groups) is also scored by its mean absolute error in years
(:class:`AgeYearsEvaluation`); without any exact age that score is not reported.

Example:

>>> import numpy as np, keras
>>> from adiencekit.evaluation import evaluate
>>> inputs = keras.Input((8, 8, 3))
>>> flat = keras.layers.Flatten()(inputs)
>>> model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="gender")(flat))
>>> images = np.random.default_rng(0).uniform(0, 255, (6, 8, 8, 3)).astype("float32")
>>> result = evaluate(model, (images, np.array([0, 1, 0, 1, -1, 1])), task="gender")
>>> result.n, result.heads["gender"].missing, len(result.confusion)
(5, 1, 2)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from adiencekit.errors import DataError
from adiencekit.labels import AGE_YEARS, TASKS, task_heads
from adiencekit.labels import class_names as _class_names
from adiencekit.metrics import MaskedMeanAbsoluteError, exact_accuracy, one_off_accuracy
from adiencekit.models.heads import age_in_years, age_years_source, head_probabilities

__all__ = [
    "AgeYearsEvaluation",
    "EvaluationResult",
    "HeadEvaluation",
    "class_names",
    "evaluate",
    "score_age_years",
    "score_predictions",
]



def class_names(head: str) -> list[str]:
    """Display names of a head's classes (``"female"``, ``"0-2"``, ...), from :mod:`adiencekit.labels`."""
    if head not in ("gender", "age"):
        raise ValueError(f"head must be 'gender' or 'age', got {head!r}")
    return list(_class_names(head))


@dataclass
class HeadEvaluation:
    """Scores of one output head.

    Attributes:
        head: ``"gender"`` or ``"age"``.
        n: number of scored images (labels other than −1).
        missing: number of images with a missing (−1) label, not scored.
        exact: top-1 accuracy.
        one_off: accuracy within one adjacent age group (age only, else ``None``).
        per_class: accuracy per true class name (``None`` for classes with no image).
        confusion: counts, rows = true class, columns = predicted class.
        class_names: the class names, in class-id order.
    """

    head: str
    n: int
    missing: int
    exact: float
    one_off: float | None
    per_class: dict[str, float | None]
    confusion: list[list[int]]
    class_names: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "head": self.head,
            "n": self.n,
            "missing": self.missing,
            "exact": self.exact,
            "one_off": self.one_off,
            "per_class": dict(self.per_class),
            "confusion": [list(row) for row in self.confusion],
            "class_names": list(self.class_names),
        }


def score_predictions(head: str, labels: np.ndarray, probabilities: np.ndarray) -> HeadEvaluation:
    """Score one head's class probabilities against integer labels (−1 = missing).

    Args:
        head: ``"gender"`` or ``"age"``.
        labels: ``(N,)`` integer labels.
        probabilities: ``(N, classes)`` scores.

    Returns:
        The :class:`HeadEvaluation`.
    """
    names = class_names(head)
    labels = np.asarray(labels).astype("int64").reshape(-1)
    probabilities = np.asarray(probabilities, dtype="float64")
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{head}: need (N, classes) probabilities for N labels; got {probabilities.shape} for {labels.shape[0]}"
        )
    if probabilities.shape[1] != len(names):
        raise ValueError(f"{head}: the model gives {probabilities.shape[1]} classes, expected {len(names)}")
    bad = labels[(labels < -1) | (labels >= len(names))]
    if bad.size:
        raise ValueError(f"{head}: labels must be -1 or 0..{len(names) - 1}, found {sorted(set(bad.tolist()))}")
    valid = labels >= 0
    true, predicted = labels[valid], probabilities[valid].argmax(axis=1)
    n = int(valid.sum())
    confusion = np.zeros((len(names), len(names)), dtype="int64")
    np.add.at(confusion, (true, predicted), 1)
    per_class: dict[str, float | None] = {}
    for index, name in enumerate(names):
        total = confusion[index].sum()
        per_class[name] = float(confusion[index, index] / total) if total else None
    if n == 0:
        raise DataError(
            f"{head}: no image has a {head} label (all {labels.shape[0]} are missing, -1); nothing to score"
        )
    exact = exact_accuracy(true, predicted)
    one_off = one_off_accuracy(true, predicted) if head == "age" else None
    return HeadEvaluation(
        head=head,
        n=n,
        missing=int((~valid).sum()),
        exact=exact,
        one_off=one_off,
        per_class=per_class,
        confusion=confusion.tolist(),
        class_names=names,
    )


@dataclass
class AgeYearsEvaluation:
    """Mean absolute error of a model's age in years, over the faces with an exact age.

    Attributes:
        source: where the model's age in years comes from: ``"head"`` (its
            ``age_years`` output) or ``"age groups"`` (the expected age of its age-group
            probabilities).
        n: faces with an exact age (scored).
        missing: faces without one (NaN: e.g. Adience faces, which have only a group).
        mae: mean absolute error in years over the ``n`` faces.
    """

    source: str
    n: int
    missing: int
    mae: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"source": self.source, "n": self.n, "missing": self.missing, "mae": self.mae}


def score_age_years(source: str, ages: np.ndarray, predicted: np.ndarray) -> AgeYearsEvaluation | None:
    """Score ages in years against exact ages (NaN = none); ``None`` when no face has an exact age.

    The error is :class:`adiencekit.metrics.MaskedMeanAbsoluteError`, the metric training reports.

    Example:

    >>> import numpy as np
    >>> from adiencekit.evaluation import score_age_years
    >>> score_age_years("head", np.array([30.0, np.nan, 10.0]), np.array([34.0, 50.0, 9.0]))
    AgeYearsEvaluation(source='head', n=2, missing=1, mae=2.5)
    >>> print(score_age_years("head", np.array([np.nan]), np.array([34.0])))
    None
    """
    ages = np.asarray(ages, dtype="float32").reshape(-1)
    predicted = np.asarray(predicted, dtype="float32").reshape(-1)
    if ages.shape != predicted.shape:
        raise ValueError(f"age_years: {predicted.shape[0]} predictions for {ages.shape[0]} exact ages")
    labelled = np.isfinite(ages)
    if not labelled.any():
        return None
    metric = MaskedMeanAbsoluteError()
    metric.update_state(ages, predicted)
    return AgeYearsEvaluation(source=source, n=int(labelled.sum()), missing=int((~labelled).sum()),
                              mae=round(float(metric.result()), 4))


@dataclass
class EvaluationResult:
    """Scores of a model on one dataset.

    Attributes:
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        heads: one :class:`HeadEvaluation` per output head.
        tta: the test-time augmentation used: ``False``, ``True`` (ten crops, as passed),
            ``"ten_crop"`` or ``"flip"``.
        images: number of images evaluated (scored or not).
        age_years: the MAE of the model's age in years over the faces with an exact age
            (:class:`AgeYearsEvaluation`), ``None`` when the model has no age in years or
            no face an exact age (Adience).
    """

    task: str
    heads: dict[str, HeadEvaluation]
    tta: bool | str = False
    images: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    age_years: AgeYearsEvaluation | None = None

    def _single(self) -> HeadEvaluation:
        if len(self.heads) != 1:
            raise AttributeError(
                f"this {self.task} result has heads {sorted(self.heads)}; use result.heads[name]"
            )
        return next(iter(self.heads.values()))

    @property
    def exact(self) -> float:
        """Exact accuracy of a single-task result."""
        return self._single().exact

    @property
    def one_off(self) -> float | None:
        """1-off accuracy of a single-task age result."""
        return self._single().one_off

    @property
    def n(self) -> int:
        """Scored images of a single-task result."""
        return self._single().n

    @property
    def confusion(self) -> list[list[int]]:
        """Confusion matrix of a single-task result."""
        return self._single().confusion

    @property
    def per_class(self) -> dict[str, float | None]:
        """Per-class accuracy of a single-task result."""
        return self._single().per_class

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``"age_years"`` only where it was measured)."""
        return {
            "task": self.task,
            "tta": self.tta,
            "images": self.images,
            "heads": {name: head.as_dict() for name, head in self.heads.items()},
            **({} if self.age_years is None else {AGE_YEARS: self.age_years.as_dict()}),
            **self.extra,
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """JSON text of :meth:`as_dict`; also written to ``path`` when given."""
        text = json.dumps(self.as_dict(), indent=2) + "\n"
        if path is not None:
            from adiencekit.fileio import atomic_write_text

            atomic_write_text(path, text)
        return text

    def to_markdown(self) -> str:
        """A Markdown summary: one table of scores, then per-class accuracy per head."""
        lines = ["| head | n | exact | 1-off |", "|---|---|---|---|"]
        for name, head in self.heads.items():
            one_off = "–" if head.one_off is None else f"{head.one_off:.3f}"
            lines.append(f"| {name} | {head.n} | {head.exact:.3f} | {one_off} |")
        if self.age_years is not None:
            years = self.age_years
            lines += ["", "| age in years | n | MAE (years) |", "|---|---|---|",
                      f"| {years.source} | {years.n} | {years.mae:.2f} |"]
        for name, head in self.heads.items():
            lines += ["", f"Per-class accuracy ({name}):", "", "| class | accuracy |", "|---|---|"]
            for cls, value in head.per_class.items():
                lines.append(f"| {cls} | {'–' if value is None else f'{value:.3f}'} |")
        return "\n".join(lines) + "\n"


def _head_names(task: str) -> list[str]:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return list(task_heads(task))


def _tta_mode(tta: Any) -> str | None:
    if tta is False or tta is None:
        return None
    if tta is True:
        return "ten_crop"
    from adiencekit.layers.oversampling import check_tta_mode

    return check_tta_mode(tta)


def _model_crop(model: keras.Model) -> tuple[int, int]:
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    height, width = shape[1], shape[2]
    if height is None or width is None:
        raise ValueError("test-time augmentation needs a model with a fixed input size")
    return int(height), int(width)


def _check_finite(images: np.ndarray, seen: int) -> None:
    if not np.issubdtype(images.dtype, np.floating):
        return
    finite = np.isfinite(images)
    if not finite.all():
        bad_images = int((~finite.reshape(images.shape[0], -1)).any(axis=1).sum())
        bad_values = int((~finite).sum())
        raise DataError(
            f"evaluate: {bad_images} image(s) in the batch starting at image {seen} hold {bad_values} NaN or "
            f"infinite pixel value(s); images must be finite RGB values in [0, 255]"
        )


def _predict(model: keras.Model, images: np.ndarray, heads: list[str],
             wrapper: keras.Model | None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Each head's probabilities, and the age in years (``None`` for a model without one)."""
    if wrapper is not None:
        if images.shape[1] < wrapper.crop_size[0] or images.shape[2] < wrapper.crop_size[1]:
            raise ValueError(
                f"{wrapper.mode} evaluation needs images of at least {wrapper.crop_size} px, got {images.shape[1:3]}"
            )
        outputs = wrapper(images, training=False)
    else:
        outputs = model(images, training=False)
    by_head = head_probabilities(model, outputs, heads)  # the model's own heads; it must have these
    years = age_in_years(model, outputs, heads)
    return {head: by_head[head] for head in heads}, None if years is None else years[0]


def _batches(data: Any, tta: str | None, batch_size: int, image_size: int, model: keras.Model,
             input_format: str = "auto", age_years: bool = False) -> Iterable[Any]:
    if hasattr(data, "pipeline") and hasattr(data, "frame"):
        crop = image_size if tta == "ten_crop" else _model_crop(model)[0]
        # exact ages only from a multitask subset that has some (UTKFace; Adience has none)
        exact = age_years and data.task == "multitask" and bool(np.isfinite(data.age_years).any())
        return data.pipeline(training=False, image_size=image_size, crop_size=crop, batch_size=batch_size,
                             format=input_format, **({"age_years": True} if exact else {}))
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        images, labels = data
        count = images.shape[0]

        def numpy_batches() -> Iterable[Any]:
            for start in range(0, count, batch_size):
                stop = start + batch_size
                if isinstance(labels, Mapping):
                    yield images[start:stop], {key: np.asarray(value)[start:stop] for key, value in labels.items()}
                else:
                    yield images[start:stop], np.asarray(labels)[start:stop]

        return numpy_batches()
    return data


def evaluate(
    model: keras.Model,
    data: Any,
    task: str,
    tta: bool | str = False,
    batch_size: int = 32,
    image_size: int = 256,
    steps: int | None = None,
    verbose: bool | int = False,
    input_format: str = "auto",
) -> EvaluationResult:
    """Score ``model`` on a dataset.

    Args:
        model: a trained model (single output named after the task, or the two
            multitask outputs ``gender`` and ``age``).
        data: an ``adiencekit.data.Subset`` (its evaluation pipeline is built here), a
            batched ``tf.data.Dataset`` / iterable of ``(images, labels)``, or a tuple
            of NumPy arrays ``(images, labels)``; multitask labels are dicts with keys
            ``gender`` and ``age``, and optionally ``age_years`` (exact ages, NaN where
            a face has none; a multitask Subset with exact ages gives them itself).
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        tta: test-time augmentation: ``False`` (default, one view), ``"ten_crop"`` or
            ``True`` (Levi & Hassner over-sampling: the images must be larger than the
            model's input; a Subset is read at ``image_size`` without cropping) or
            ``"flip"`` (centre crop and its mirror).
        batch_size: batch size when the batches are built here.
        image_size: size the images of a Subset are resized to.
        steps: evaluate at most this many batches.
        verbose: show a Keras progress bar over the batches (for the command line).
        input_format: the engine of a Subset's pipeline: ``"tf"``, ``"grain"`` or
            ``"auto"`` (``tf.data`` when TensorFlow is installed, else Grain).

    Returns:
        The :class:`EvaluationResult`; its ``age_years`` holds the MAE in years where the
        labels have exact ages and the model an age in years.

    Raises:
        DataError: for NaN or infinite pixels (naming how many), or a head without any
            labelled image.
        ValueError: for an unknown task, mismatched outputs or labels, or no data.
    """
    heads = _head_names(task)
    mode = _tta_mode(tta)
    wrapper = None
    if mode is not None:
        from adiencekit.layers.oversampling import TestTimeAugmentation

        wrapper = TestTimeAugmentation(model, crop_size=_model_crop(model), mode=mode)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer or None, got {steps!r}")
    labels: dict[str, list[np.ndarray]] = {head: [] for head in heads}
    probabilities: dict[str, list[np.ndarray]] = {head: [] for head in heads}
    source = age_years_source(model, heads)
    exact_ages: list[np.ndarray] = []
    predicted_ages: list[np.ndarray] = []
    images_seen = 0
    progress = None
    if verbose:
        total = steps
        if total is None and isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
            total = -(-data[0].shape[0] // batch_size)
        elif total is None and hasattr(data, "frame"):
            total = -(-len(data) // batch_size)
        progress = keras.utils.Progbar(total, unit_name="batch")
    for index, batch in enumerate(_batches(data, mode, batch_size, image_size, model, input_format,
                                           age_years=source is not None)):
        if steps is not None and index >= steps:
            break
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("each batch must be an (images, labels) pair")
        images, batch_labels = np.asarray(batch[0]), batch[1]
        _check_finite(images, images_seen)
        images_seen += images.shape[0]
        predictions, years = _predict(model, images, heads, wrapper)
        if years is not None and isinstance(batch_labels, Mapping) and AGE_YEARS in batch_labels:
            exact_ages.append(np.asarray(batch_labels[AGE_YEARS], dtype="float32").reshape(-1))
            predicted_ages.append(years)
        if progress is not None:
            progress.update(index + 1)
        for head in heads:
            if isinstance(batch_labels, Mapping):
                if head not in batch_labels:
                    raise ValueError(f"labels {sorted(batch_labels)} lack the {head!r} head")
                head_labels = batch_labels[head]
            elif len(heads) == 1:
                head_labels = batch_labels
            else:
                raise ValueError("multitask evaluation needs labels as a dict with 'gender' and 'age'")
            labels[head].append(np.asarray(head_labels).reshape(-1))
            probabilities[head].append(predictions[head])
    if progress is not None and images_seen and progress.target is None:
        progress.update(index + 1, finalize=True)
    if images_seen == 0:
        raise ValueError("evaluate: the dataset is empty")
    results = {
        head: score_predictions(head, np.concatenate(labels[head]), np.concatenate(probabilities[head]))
        for head in heads
    }
    age_years = (score_age_years(source, np.concatenate(exact_ages), np.concatenate(predicted_ages))
                 if source is not None and exact_ages else None)
    # ``tta`` is reported as given (True stays True, as in earlier result files).
    return EvaluationResult(task=task, heads=results, tta=True if tta is True else (mode or False), images=images_seen,
                            age_years=age_years)
