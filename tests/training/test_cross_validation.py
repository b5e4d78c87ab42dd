"""Tests for adiencekit.training.cross_validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adiencekit.training import cross_validate
from adiencekit.training.cross_validation import summarize_folds

from ._helpers import make_tiny_tree, tiny_config


@pytest.mark.slow
def test_five_folds_table_chart_and_per_fold_resume(tmp_path: Path) -> None:
    root = make_tiny_tree(tmp_path / "data")
    config = tiny_config(root, task="age", epochs=1, steps_per_epoch=2, validation_steps=1, cache=False)
    out = tmp_path / "cv"
    result = cross_validate(config, out, verbose=0)
    assert [fold["fold"] for fold in result.folds] == [0, 1, 2, 3, 4]
    for fold in range(5):
        metrics = json.loads((out / f"fold_{fold}" / "metrics.json").read_text())
        assert metrics["test_fold"] == fold
        assert json.loads((out / f"fold_{fold}" / "config.json").read_text())["test_fold"] == fold
    saved = json.loads((out / "cv.json").read_text())
    exact = [fold["heads"]["age"]["exact"] for fold in saved["folds"]]
    assert saved["summary"]["age"]["exact_mean"] == pytest.approx(sum(exact) / 5)
    assert saved["summary"]["age"]["one_off_mean"] is not None
    table = (out / "cv.md").read_text()
    assert "| fold | age exact | age 1-off |" in table and "mean ± std" in table
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == 1 + 5 + 1
    assert (out / "cv_summary.png").stat().st_size > 0

    # Resumable per fold: a finished fold is read back, a missing one is trained again.
    stamp = (out / "fold_3" / "metrics.json").stat().st_mtime_ns
    (out / "fold_1" / "metrics.json").unlink()
    again = cross_validate(config, out, verbose=0)
    assert (out / "fold_3" / "metrics.json").stat().st_mtime_ns == stamp
    assert (out / "fold_1" / "metrics.json").is_file()
    assert [fold["fold"] for fold in again.folds] == [0, 1, 2, 3, 4]


def test_cross_validation_rejects_utkface_and_bad_folds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="UTKFace has none"):
        cross_validate(tiny_config(tmp_path).replace(data=f"utkface:{tmp_path}"), tmp_path / "cv")
    with pytest.raises(ValueError, match="folds must be a non-empty subset of 0-4"):
        cross_validate(tiny_config(tmp_path), tmp_path / "cv", folds=[5])


def test_summarize_folds_mean_and_std() -> None:
    folds = [{"fold": k, "heads": {"age": {"exact": e, "one_off": o, "n": 5}}}
             for k, (e, o) in enumerate([(0.4, 0.8), (0.6, 0.9)])]
    summary = summarize_folds(folds)["age"]
    assert summary["exact_mean"] == pytest.approx(0.5) and summary["exact_std"] == pytest.approx(0.1)
    assert summary["one_off_mean"] == pytest.approx(0.85) and summary["folds"] == 2
