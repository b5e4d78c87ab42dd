"""Tests for adiencekit.training.sweeps (the report's conv-depth and dense-width sweeps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adiencekit.training.recipes import SWEEPS
from adiencekit.training.sweeps import run_sweep, sweep_configs
from ._helpers import make_tiny_tree


def test_sweep_configs_follow_the_report() -> None:
    depth = sweep_configs("conv_depth")
    assert [label for label, _ in depth] == ["conv_layers=3", "conv_layers=4", "conv_layers=5"]
    assert {config.task for _, config in depth} == {"gender"}
    assert {config.model_kwargs["dense_units"] for _, config in depth} == {128}
    dense = sweep_configs("dense_units", epochs=3)
    assert [config.model_kwargs["dense_units"] for _, config in dense] == [128, 256, 512]
    assert {config.task for _, config in dense} == {"age"} and {config.epochs for _, config in dense} == {3}
    assert {config.model_kwargs["conv_layers"] for _, config in dense} == {5}
    with pytest.raises(KeyError, match="unknown sweep 'width'; available sweeps: conv_depth, dense_units"):
        sweep_configs("width")
    assert set(SWEEPS) == {"conv_depth", "dense_units"}


@pytest.mark.slow
def test_run_sweep_writes_one_run_per_setting_and_the_table(tmp_path: Path) -> None:
    root = make_tiny_tree(tmp_path / "data")
    tiny = {"data": str(root), "image_size": 36, "crop_size": 32, "batch_size": 16, "epochs": 2,
            "early_stopping_patience": None, "cache": True, "val_fraction": 0.25}
    out = tmp_path / "sweep"
    result = run_sweep("conv_depth", out, verbose=0, **tiny)
    assert [row["setting"] for row in result.rows] == ["conv_layers=3", "conv_layers=4", "conv_layers=5"]
    for row in result.rows:
        assert (Path(row["run_dir"]) / "metrics.json").is_file()
        assert row["best_epoch"] in (1, 2)  # 1-based
        assert row["val_loss"] > 0 and 0.0 <= row["val_accuracy"] <= 1.0
        assert 0.0 <= row["test"]["gender"]["exact"] <= 1.0
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["sweep"] == "conv_depth" and len(saved["rows"]) == 3
    table = (out / "sweep.md").read_text()
    assert table.splitlines()[0] == "| setting | best epoch | val loss | val accuracy | test gender |"
    assert len(table.splitlines()) == 5
    # A finished sweep is read back, not retrained.
    before = {row["setting"]: (Path(row["run_dir"]) / "metrics.json").stat().st_mtime_ns for row in result.rows}
    again = run_sweep("conv_depth", out, verbose=0, **tiny)
    assert again.rows == result.rows
    assert before == {row["setting"]: (Path(row["run_dir"]) / "metrics.json").stat().st_mtime_ns for row in again.rows}


def test_a_finished_setting_of_other_settings_is_refused_before_training(tmp_path: Path) -> None:
    from adiencekit.training import RunExistsError

    out = tmp_path / "sw"
    run = out / "conv_layers=4"
    run.mkdir(parents=True)
    sweep_configs("conv_depth", epochs=2, data=str(tmp_path))[1][1].to_json(run / "config.json")
    (run / "metrics.json").write_text(json.dumps({"test": {"heads": {}}, "best_epoch": 1}))
    with pytest.raises(RunExistsError, match=r"setting conv_layers=4 in .* was finished with other settings "
                                             r"\(epochs differ\); use --overwrite"):
        run_sweep("conv_depth", out, verbose=0, epochs=3, data=str(tmp_path))
    assert sorted(p.name for p in out.iterdir()) == ["conv_layers=4"]  # nothing trained, no table
