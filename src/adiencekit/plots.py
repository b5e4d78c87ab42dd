"""Headless plots for runs: learning curves, confusion matrices, face grids, CV summary.

Everything draws on matplotlib's ``Agg`` canvas (no display needed) and writes PNG
files; each function returns the path it wrote.

Example:

>>> import tempfile
>>> from pathlib import Path
>>> from adiencekit.plots import plot_confusion_matrix, plot_history
>>> history = {"loss": [0.9, 0.6], "val_loss": [0.8, 0.7],
...            "accuracy": [0.5, 0.7], "val_accuracy": [0.55, 0.65]}
>>> with tempfile.TemporaryDirectory() as tmp:
...     curves = plot_history(history, Path(tmp) / "curves.png")
...     matrix = plot_confusion_matrix([[5, 1], [2, 4]], ["female", "male"], Path(tmp) / "cm.png")
...     print(curves.name, curves.stat().st_size > 0, matrix.name)
curves.png True cm.png
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["history_epochs", "plot_confusion_matrix", "plot_cv_summary", "plot_history", "plot_predictions"]


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"plots are written as PNG; the path must end in '.png', got {target.name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.tight_layout()
    # "tight" keeps legends placed outside the axes inside the image.
    figure.savefig(target, dpi=100, bbox_inches="tight")
    return target


def history_epochs(columns: Mapping[str, Sequence[Any]]) -> list[int]:
    """The 1-based epoch numbers of a history's rows.

    The rule: epochs are shown 1-based, as on the console. A history with an ``epoch``
    column is plotted as given, except that a column holding a 0 is taken as 0-based
    and shifted by one; without the column, rows are epochs 1, 2, ...

    Args:
        columns: ``{metric: [value per epoch]}``, with or without ``epoch``.

    Returns:
        One epoch number per row.

    Example:

    >>> history_epochs({"epoch": [0, 1, 2], "loss": [3, 2, 1]})
    [1, 2, 3]
    >>> history_epochs({"epoch": [1, 2], "loss": [2, 1]})
    [1, 2]
    >>> history_epochs({"loss": [0.5]})
    [1]
    """
    if "epoch" not in columns:
        return list(range(1, len(columns["loss"]) + 1))
    epochs = [int(value) for value in columns["epoch"]]
    return [epoch + 1 for epoch in epochs] if epochs and min(epochs) == 0 else epochs


def _history_columns(history: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    if isinstance(history, Mapping):
        return {key: list(values) for key, values in history.items()}
    columns: dict[str, list[Any]] = {}
    for row in history:
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return columns


def _accuracy_keys(columns: Mapping[str, Any]) -> list[str]:
    return [
        key
        for key in columns
        if not key.startswith("val_") and "accuracy" in key and f"val_{key}" in columns
    ]


def plot_history(
    history: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Training and validation accuracy (top) and loss (bottom) against the epoch.

    This is the figure of the reference report, one line pair per metric; multitask
    runs get one accuracy pair per head. Every value is drawn with a marker, so a
    1-epoch run shows its points; epochs are 1-based (see :func:`history_epochs`).

    Args:
        history: ``{metric: [value per epoch]}`` (``History.history``) or a list of
            per-epoch dicts (``history.json``).
        path: the PNG file to write.
        title: optional figure title.

    Returns:
        The written path.

    Raises:
        ValueError: when the history has no ``loss`` column.
    """
    return _save(_history_figure(history, title), path)


def _history_figure(
    history: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]], title: str | None = None
) -> Figure:
    columns = _history_columns(history)
    if "loss" not in columns:
        raise ValueError(f"history has no 'loss' column; got columns {sorted(columns)}")
    epochs = history_epochs(columns)
    style = {"marker": "o", "markersize": 4}
    figure = Figure(figsize=(7, 7))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for key in _accuracy_keys(columns):
        top.plot(epochs, columns[key], label=f"training {key}", **style)
        top.plot(epochs, columns[f"val_{key}"], label=f"validation {key}", **style)
    top.set_title("Training and Validation Accuracy")
    top.set_ylabel("accuracy")
    if top.lines:
        top.legend(loc="best", fontsize="small")
    bottom.plot(epochs, columns["loss"], label="training loss", **style)
    if "val_loss" in columns:
        bottom.plot(epochs, columns["val_loss"], label="validation loss", **style)
    bottom.set_title("Training and Validation Loss")
    bottom.set_ylabel("cross entropy")
    bottom.set_xlabel("epoch")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(epochs) == 1:  # one point: give it room instead of a zero-width axis
        bottom.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    bottom.legend(loc="best", fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def plot_confusion_matrix(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "Confusion matrix",
) -> Path:
    """A confusion matrix with true classes as rows and predicted classes as columns.

    Args:
        confusion: square matrix of counts.
        class_names: one name per class.
        path: the PNG file to write.
        title: figure title.

    Returns:
        The written path.
    """
    matrix = np.asarray(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(class_names):
        raise ValueError(
            f"confusion must be square with one row per class ({len(class_names)}), got shape {matrix.shape}"
        )
    size = 2.5 + 0.6 * len(class_names)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(class_names))
    axes.set_xticks(ticks, labels=list(class_names), rotation=45, ha="right")
    axes.set_yticks(ticks, labels=list(class_names))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size and matrix.max() else 0
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            axes.text(
                column, row, str(value), ha="center", va="center",
                color="white" if value > threshold else "black", fontsize="small",
            )
    return _save(figure, path)


def plot_predictions(
    images: np.ndarray | Sequence[Any],
    true_labels: Sequence[str],
    predicted_labels: Sequence[str],
    path: str | os.PathLike[str],
    columns: int = 4,
    title: str | None = None,
) -> Path:
    """A grid of faces captioned with predicted and true labels (green when right).

    Args:
        images: ``(N, H, W, 3)`` pixels in [0, 255] (or [0, 1]).
        true_labels: ``N`` label strings.
        predicted_labels: ``N`` label strings.
        path: the PNG file to write.
        columns: images per row.
        title: optional figure title.

    Returns:
        The written path.
    """
    pixels = np.asarray(images, dtype="float32")
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"images must have shape (N, H, W, 3), got {pixels.shape}")
    count = pixels.shape[0]
    if not (len(true_labels) == len(predicted_labels) == count):
        raise ValueError(
            f"need one true and one predicted label per image: {count} images, "
            f"{len(true_labels)} true, {len(predicted_labels)} predicted"
        )
    if count == 0:
        raise ValueError("plot_predictions needs at least one image")
    if pixels.max() > 1.0:
        pixels = pixels / 255.0
    pixels = np.clip(pixels, 0.0, 1.0)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    figure = Figure(figsize=(2.4 * columns, 2.7 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for index, axis in enumerate(axes):
        axis.axis("off")
        if index >= count:
            continue
        axis.imshow(pixels[index].squeeze())
        right = true_labels[index] == predicted_labels[index]
        axis.set_title(
            f"pred: {predicted_labels[index]}\ntrue: {true_labels[index]}",
            fontsize="small", color="green" if right else "red",
        )
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_cv_summary(
    fold_scores: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    title: str = "Cross-validation accuracy per fold",
) -> Path:
    """Bar chart of per-fold scores with the mean ± std drawn as a line and band.

    The legend (one entry per metric, with its mean ± std) sits above the plot, clear
    of the bars, and the y axis leaves headroom above 1.0.

    Args:
        fold_scores: ``{metric name: [score per fold]}`` in [0, 1], e.g.
            ``{"gender exact": [...], "age 1-off": [...]}``.
        path: the PNG file to write.
        title: figure title.

    Returns:
        The written path.
    """
    return _save(_cv_summary_figure(fold_scores, title), path)


def _cv_summary_figure(fold_scores: Mapping[str, Sequence[float]], title: str) -> Figure:
    if not fold_scores:
        raise ValueError("plot_cv_summary needs at least one metric")
    names = list(fold_scores)
    folds = max(len(values) for values in fold_scores.values())
    width = 0.8 / len(names)
    figure = Figure(figsize=(1.5 + 1.2 * folds, 4.5))
    axes = figure.subplots()
    positions = np.arange(folds)
    for index, name in enumerate(names):
        values = np.asarray(fold_scores[name], dtype="float64")
        offset = (index - (len(names) - 1) / 2) * width
        mean, std = float(values.mean()), float(values.std())
        bars = axes.bar(positions[: len(values)] + offset, values, width, label=f"{name}: {mean:.3f} ± {std:.3f}")
        color = bars.patches[0].get_facecolor() if bars.patches else None
        axes.axhline(mean, color=color, linestyle="--", linewidth=1)
        axes.axhspan(mean - std, mean + std, color=color, alpha=0.1)
    axes.set_xticks(positions, labels=[f"fold {k}" for k in range(folds)])
    axes.set_xlim(-0.6, folds - 0.4)
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("accuracy")
    figure.suptitle(title)
    # Above the axes, never over the bars; mean ± std (dashed line and band) per metric.
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=min(len(names), 2), fontsize="small",
                frameon=False, title="metric: mean ± std over folds (dashed line, band)", title_fontsize="small")
    return figure
