"""Tests of ``benchmarks/split_check.py``: a run folder's training faces against the benchmark's test faces."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import split_check  # noqa: E402  (the benchmarks folder is not a package)


def _root(root: Path, splits: list[str]) -> list[str]:
    """A UTKFace root with a fixed split (``splits.csv``), as ``adiencekit prepare`` leaves one; its file names."""
    (root / "images").mkdir(parents=True)
    names, rows = [], ["filename,split"]
    for i, part in enumerate(splits):
        name = f"{20 + i}_{i % 2}_{i % 5}_2017{i:04d}.jpg.chip.jpg"
        Image.fromarray(np.full((32, 32, 3), 10 * i, np.uint8)).save(root / "images" / name)
        names.append(name)
        rows.append(f"{name},{part}")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    return names


def _run(folder: Path, data: str) -> Path:
    from adiencekit.training import TrainConfig

    folder.mkdir()
    (folder / "config.json").write_text(TrainConfig(task="multitask", data=data, image_size=40, crop_size=32).to_json())
    return folder


def test_a_run_folder_that_left_the_test_faces_out_passes_and_one_that_trained_on_them_is_counted(tmp_path) -> None:
    names = _root(tmp_path / "utk", ["train"] * 6 + ["val"] * 2 + ["test"] * 2)
    run = _run(tmp_path / "run", f"utkface:{tmp_path / 'utk'}")
    clean = split_check.training_overlap(run, names[8:])
    assert clean["checked"] and clean["test_faces_seen_in_training"] == 0 and clean["run_train_val_faces"] == 8
    leaked = split_check.training_overlap(str(run), names[6:])  # two of these were the run's validation faces
    assert leaked["test_faces_seen_in_training"] == 2 and leaked["examples"] == sorted(names[6:8])


def test_no_run_folder_or_no_data_is_not_checked_and_says_why(tmp_path) -> None:
    assert "not a training run folder" in split_check.training_overlap("utkface_v2", ["a"])["reason"]
    assert not split_check.training_overlap(tmp_path, ["a"])["checked"]  # a folder without config.json
    gone = split_check.training_overlap(_run(tmp_path / "run", f"utkface:{tmp_path / 'absent'}"), ["a"])
    assert not gone["checked"] and "could not be rebuilt" in gone["reason"]
