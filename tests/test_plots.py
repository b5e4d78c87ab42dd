"""Tests for adiencekit.plots (headless PNGs)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from adiencekit.plots import plot_confusion_matrix, plot_cv_summary, plot_history, plot_predictions


def _is_png(path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_history_from_rows_and_columns(tmp_path) -> None:
    rows = [{"epoch": e, "loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "gender_accuracy": 0.5 + e / 10,
             "val_gender_accuracy": 0.5 + e / 20, "age_accuracy": 0.2, "val_age_accuracy": 0.2} for e in range(4)]
    width, height = _is_png(plot_history(rows, tmp_path / "a" / "curves.png", title="run"))
    assert width > 300 and height > 300
    _is_png(plot_history({"loss": [1.0, 0.5]}, tmp_path / "b.png"))
    with pytest.raises(ValueError, match="history has no 'loss' column"):
        plot_history({"accuracy": [0.1]}, tmp_path / "c.png")
    with pytest.raises(ValueError, match="must end in '.png'"):
        plot_history(rows, tmp_path / "c.jpg")


def test_confusion_matrix(tmp_path) -> None:
    matrix = np.arange(64).reshape(8, 8)
    _is_png(plot_confusion_matrix(matrix, [str(i) for i in range(8)], tmp_path / "cm.png"))
    with pytest.raises(ValueError, match=r"one row per class \(2\), got shape \(8, 8\)"):
        plot_confusion_matrix(matrix, ["f", "m"], tmp_path / "bad.png")


def test_prediction_grid(tmp_path) -> None:
    images = np.random.default_rng(0).uniform(0, 255, (5, 16, 16, 3))
    true, predicted = ["f", "m", "f", "m", "f"], ["f", "f", "f", "m", "m"]
    path = plot_predictions(images, true, predicted, tmp_path / "grid.png", columns=3)
    _is_png(path)
    with pytest.raises(ValueError, match="5 images, 4 true, 5 predicted"):
        plot_predictions(images, ["f"] * 4, ["f"] * 5, tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, 3\)"):
        plot_predictions(np.zeros((2, 4)), ["f"] * 2, ["f"] * 2, tmp_path / "bad.png")


def test_cv_summary(tmp_path) -> None:
    scores = {"age exact": [0.5, 0.52, 0.48, 0.51, 0.49], "age 1-off": [0.85, 0.84, 0.86, 0.83, 0.85]}
    _is_png(plot_cv_summary(scores, tmp_path / "cv.png"))
    with pytest.raises(ValueError, match="at least one metric"):
        plot_cv_summary({}, tmp_path / "cv2.png")


def test_a_one_epoch_history_draws_its_points_at_epoch_1(tmp_path) -> None:
    from adiencekit.plots import _history_figure

    figure = _history_figure([{"epoch": 1, "loss": 0.7, "val_loss": 0.6, "accuracy": 0.6, "val_accuracy": 0.65}])
    lines = [line for axes in figure.axes for line in axes.lines]
    assert len(lines) == 4
    for line in lines:
        assert line.get_marker() == "o" and list(line.get_xdata()) == [1]  # a visible point, 1-based
    _is_png(plot_history({"loss": [0.7], "val_loss": [0.6]}, tmp_path / "one.png"))


@pytest.mark.parametrize(
    ("epochs", "expected"), [([0, 1, 2], [1, 2, 3]), ([1, 2, 3], [1, 2, 3]), (None, [1, 2, 3])]
)
def test_history_epochs_are_1_based(epochs, expected) -> None:
    from adiencekit.plots import _history_figure, history_epochs

    columns = {"loss": [0.9, 0.5, 0.3]}
    if epochs is not None:
        columns["epoch"] = epochs
    assert history_epochs(columns) == expected
    (line,) = _history_figure(columns).axes[1].lines
    assert list(line.get_xdata()) == expected


def test_cv_summary_legend_and_labels_stay_off_the_bars() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from adiencekit.plots import _cv_summary_figure

    scores = {"gender exact": [0.99, 1.0, 0.97, 0.995, 0.98], "age exact": [0.6, 0.72, 0.55, 0.7, 0.66],
              "age 1-off": [0.97, 0.99, 0.95, 0.98, 1.0]}
    figure = _cv_summary_figure(scores, "cv")
    canvas = FigureCanvasAgg(figure)
    figure.tight_layout()
    canvas.draw()
    renderer = canvas.get_renderer()
    (axes,) = figure.axes
    legend = axes.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in axes.patches if patch.get_height() > 0.2]
    assert len(bars) == 15
    assert not any(legend.overlaps(bar) for bar in bars)
    assert axes.get_ylim()[1] > 1.05  # headroom above a 1.0 bar
    assert not axes.texts  # no value label drawn over the last fold's bars
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "gender exact: 0.987 ± 0.011" in labels
