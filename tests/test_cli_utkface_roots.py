"""``--data utkface:PATH1,PATH2`` on the command line: every root is checked, and training runs on both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.cli import main


def _utk_root(root: Path, count: int, day: int) -> Path:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(day)
    for i in range(count):
        age, gender = (5, 30, 70)[i % 3], i % 2
        pixels = rng.uniform(0, 255, (48, 48, 3)).astype("uint8")
        Image.fromarray(pixels).save(root / "images" / f"{age}_{gender}_{i % 5}_2017{day:02d}{i:04d}.jpg.chip.jpg")
    return root


def test_a_missing_root_of_several_is_named_in_one_line(capsys, tmp_path: Path) -> None:
    present = _utk_root(tmp_path / "a", 4, 1)
    code = main(["train", "--data", f"utkface:{present},{tmp_path / 'nope'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == f"adiencekit: error: dataset folder not found: {tmp_path / 'nope'}"


@pytest.mark.slow
def test_train_on_two_utkface_roots(capsys, tmp_path: Path) -> None:
    first, second = _utk_root(tmp_path / "a", 30, 1), _utk_root(tmp_path / "b", 20, 2)
    out = tmp_path / "run"
    code = main(["train", "--recipe", "quick", "--task", "multitask", "--augment", "photo", "--epochs", "1",
                 "--data", f"utkface:{first},{second}", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert sum(metrics["sizes"].values()) == 50
