"""experiments/age_years_blend.py: the head weight of the age in years, chosen on a run's validation faces."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))

import age_years_blend as ab  # noqa: E402  (the experiments folder is not a package)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(ab)
    assert result.attempted >= 3 and result.failed == 0


def test_ties_go_to_the_head() -> None:
    assert ab.best_weight({0.2: 5.0, 0.8: 5.0, 1.0: 5.1}) == 0.8
    assert ab.best_weight({0.0: 4.0, 1.0: 5.0}) == 0.0


def _utkface_folder(root: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    for i in range(n):
        age, gender, race = int(rng.integers(1, 90)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{age}_{gender}_{race}_2017011{i:04d}.jpg.chip.jpg")
    return root


def _run(tmp_path: Path, data: Path, *, age_years: bool) -> Path:
    from adiencekit.models import face_resnet
    from adiencekit.training.config import TrainConfig

    run = tmp_path / ("run_years" if age_years else "run_groups")
    run.mkdir()
    kwargs = {"age_years": True} if age_years else {}
    (run / "config.json").write_text(TrainConfig(
        task="multitask", model="face_resnet", data=f"utkface:{data}", image_size=36, crop_size=32,
        val_fraction=0.25, test_fraction=0.25, model_kwargs={"width": 4, "blocks": [1, 1], **kwargs}).to_json())
    face_resnet(input_shape=(32, 32, 3), width=4, blocks=(1, 1), **kwargs).save(run / "best.keras")
    return run


def test_it_measures_every_weight_on_the_validation_faces_and_picks_the_lowest(tmp_path: Path) -> None:
    data = _utkface_folder(tmp_path / "faces")
    run = _run(tmp_path, data, age_years=True)
    out = tmp_path / "blend.json"
    assert ab.main(["--run", str(run), "--model", str(run), "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["data"]["subset"] == "val" and payload["data"]["spec"] == "utkface:faces"
    assert payload["data"]["faces_with_exact_age"] == 15  # 25% of 60
    weights = [row["head_weight"] for row in payload["rows"]]
    assert weights == list(ab.WEIGHTS)
    overall = {row["head_weight"]: row["all"] for row in payload["rows"]}
    assert payload["chosen_head_weight"] == ab.best_weight(overall)
    assert overall[payload["chosen_head_weight"]] == min(overall.values())


def test_a_model_without_the_head_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path, _utkface_folder(tmp_path / "faces"), age_years=False)
    with pytest.raises(SystemExit, match="no age_years head"):
        ab.main(["--run", str(run), "--model", str(run), "--out", str(tmp_path / "x.json")])
