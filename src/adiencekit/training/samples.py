"""The run's plots: learning curves, confusion matrices and a seeded sample of test predictions.

``predictions.png`` shows a seeded sample of the test set spread over the classes (round
robin over the first head's classes) with the model's mistakes included: about half of
the faces are mistakes when the model makes that many, so the figure shows what the
model gets wrong as well as right, not the first files of the test set.

Example:

>>> from adiencekit.training.samples import pick_samples
>>> classes = [0, 0, 0, 1, 1, 1]
>>> correct = [True, True, False, True, False, False]
>>> order, chosen = pick_samples(classes, correct, count=4, seed=0)
>>> len(chosen), sum(not correct[i] for i in chosen) >= 2, sorted({classes[i] for i in chosen})
(4, True, [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from adiencekit.evaluation import EvaluationResult
from adiencekit.labels import class_names
from adiencekit.fileio import disk_errors

__all__ = ["class_round_robin", "pick_samples", "sample_predictions", "write_plots"]


def class_round_robin(classes: Sequence[int], seed: int) -> list[int]:
    """Indices shuffled within each class (seeded), then interleaved class by class."""
    rng = np.random.default_rng(seed)
    values = np.asarray(classes)
    groups = []
    for value in sorted(set(values.tolist())):
        members = np.flatnonzero(values == value)
        rng.shuffle(members)
        groups.append(members.tolist())
    order: list[int] = []
    while any(groups):
        for group in groups:
            if group:
                order.append(group.pop(0))
    return order


def pick_samples(classes: Sequence[int], correct: Sequence[bool], count: int, seed: int) -> tuple[list[int], list[int]]:
    """Choose ``count`` indices across classes, half of them mistakes when there are enough.

    Args:
        classes: the class of each candidate (the first head's true label).
        correct: whether the model got each candidate right.
        count: how many to choose.
        seed: the sampling seed.

    Returns:
        ``(order, chosen)``: the class-interleaved order and the chosen indices in it.
    """
    order = class_round_robin(classes, seed)
    mistakes = [i for i in order if not correct[i]]
    rights = [i for i in order if correct[i]]
    want_mistakes = min(len(mistakes), max(count // 2, count - len(rights)))
    chosen = set(mistakes[:want_mistakes]) | set(rights[: count - want_mistakes])
    return order, [i for i in order if i in chosen]


def sample_predictions(
    model: keras.Model,
    subset: Any,
    task: str,
    *,
    image_size: int,
    crop_size: int,
    batch_size: int = 32,
    seed: int = 0,
    count: int = 16,
    pool: int = 128,
    input_format: str = "auto",
) -> tuple[np.ndarray, list[str], list[str]] | None:
    """Images and true/predicted captions of a seeded, class-spread sample with mistakes.

    Args:
        model: the trained model.
        subset: the test :class:`~adiencekit.data.Subset`.
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        image_size: resize size of the pipeline.
        crop_size: the model's crop.
        batch_size: prediction batch size.
        seed: sampling seed (the run's seed).
        count: faces to show.
        pool: candidates predicted (a class-spread seeded sample of the subset).
        input_format: the pipeline's engine (``"tf"``, ``"grain"`` or ``"auto"``).

    Returns:
        ``(images, true captions, predicted captions)`` or ``None`` for an empty subset.
    """
    from adiencekit.data.splits import Subset

    frame = subset.frame
    if len(frame) == 0:
        return None
    heads = ["gender", "age"] if task == "multitask" else [task]
    first = next((h for h in heads if (frame[h] >= 0).any()), heads[0])
    candidates = class_round_robin(frame[first].to_numpy().tolist(), seed)[:pool]
    chosen_frame = frame.iloc[candidates].reset_index(drop=True)
    pipeline = Subset(subset.name, chosen_frame, task).pipeline(
        training=False, image_size=image_size, crop_size=crop_size, batch_size=batch_size, format=input_format
    )
    images, predicted = [], {head: [] for head in heads}
    for batch, _labels in pipeline:
        pixels = np.asarray(batch)
        outputs = model(pixels, training=False)
        if not isinstance(outputs, dict):
            outputs = {heads[0]: outputs} if len(heads) == 1 else dict(zip(heads, outputs, strict=True))
        for head in heads:
            predicted[head].append(keras.ops.convert_to_numpy(outputs[head]).argmax(axis=-1))
        images.append(pixels)
    pixels = np.concatenate(images)
    guesses = {head: np.concatenate(values) for head, values in predicted.items()}
    truth = {head: chosen_frame[head].to_numpy() for head in heads}
    correct = [
        all(truth[h][i] < 0 or truth[h][i] == guesses[h][i] for h in heads) for i in range(len(chosen_frame))
    ]
    _, chosen = pick_samples(truth[first].tolist(), correct, count, seed)
    true_text, pred_text = [], []
    for index in chosen:
        true_parts, pred_parts = [], []
        for head in heads:
            names = class_names(head)
            value = int(truth[head][index])
            true_parts.append(names[value] if value >= 0 else "?")
            pred_parts.append(names[int(guesses[head][index])])
        true_text.append(", ".join(true_parts))
        pred_text.append(", ".join(pred_parts))
    return pixels[chosen], true_text, pred_text


def write_plots(run_dir: Path, history: list[dict[str, Any]], evaluation: EvaluationResult, samples: Any) -> None:
    """``plots/curves.png``, ``plots/confusion_<head>.png`` and ``plots/predictions.png``.

    Raises:
        RunFolderError: when the disk is full, read-only or forbidden.
    """
    from adiencekit.plots import plot_confusion_matrix, plot_history, plot_predictions

    plots = run_dir / "plots"
    with disk_errors(plots):
        if history:
            plot_history(history, plots / "curves.png", title=run_dir.name)
        for name, head in evaluation.heads.items():
            plot_confusion_matrix(head.confusion, head.class_names, plots / f"confusion_{name}.png",
                                  title=f"{name} (test, n={head.n})")
        if samples is not None:
            images, captions_true, captions_pred = samples
            plot_predictions(images, captions_true, captions_pred, plots / "predictions.png", title="test faces")
