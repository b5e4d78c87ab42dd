"""Tests for adiencekit.training.cross_validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adiencekit.training import RunExistsError, cross_validate
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


def _finished(run_dir: Path, config) -> None:
    """A finished run folder as cross-validation and sweeps read it (config + metrics)."""
    run_dir.mkdir(parents=True)
    config.to_json(run_dir / "config.json")
    heads = {"gender": {"exact": 0.9, "one_off": None, "n": 10}}
    (run_dir / "metrics.json").write_text(json.dumps({"test": {"heads": heads}, "best_epoch": 1}))


def test_a_finished_fold_of_other_settings_is_refused_before_training(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, task="gender", epochs=2)
    out = tmp_path / "cv"
    _finished(out / "fold_2", config.replace(test_fold=2))
    with pytest.raises(RunExistsError, match=r"fold 2 in .* was finished with other settings \(task, learning_rate "
                                             r"differ\); use --overwrite to train it again"):
        cross_validate(config.replace(task="age", learning_rate=1e-4), out, verbose=0)
    assert sorted(p.name for p in out.iterdir()) == ["fold_2"]  # nothing trained, no table written


def test_cli_cv_over_a_finished_cv_of_another_task_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """The issue's `cvk` example: `cv --epochs 2 --out cvk`, then `cv --task age --learning-rate 0.0001 ...`."""
    from adiencekit.cli import build_parser, config_from_args, main

    monkeypatch.chdir(tmp_path)
    first = config_from_args(build_parser().parse_args(["cv", "--epochs", "2", "--out", "cvk"]))
    for fold in range(5):
        _finished(tmp_path / "cvk" / f"fold_{fold}", first.replace(test_fold=fold))
    code = main(["cv", "--task", "age", "--learning-rate", "0.0001", "--epochs", "2", "--out", "cvk"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "fold 0 in cvk/fold_0 was finished with other settings (task, learning_rate differ)" in err[0]
    assert not (tmp_path / "cvk" / "cv.md").exists()
