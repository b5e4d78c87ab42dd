"""``experiments/ablate_pretrained.py`` end to end on a tiny UTKFace-format root (about 40 s: slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))

import ablate_pretrained  # noqa: E402


def _tiny_root(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(40):
        name = f"{3 + 2 * i}_{i % 2}_{i % 5}_2017{i:04d}.jpg.chip.jpg"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(root / "images" / name)
    return root


def test_every_variant_is_a_valid_recipe_config():
    for name, (_, _, _, tasks) in ablate_pretrained.VARIANTS.items():
        for task in tasks:
            config = ablate_pretrained.variant_config(name, "/a", "/r", 3, task)
            assert config.epochs == 3 and config.image_size in (72, 112)
            assert config.data == ("utkface:/r" if name == "raw_crops" else "utkface:/a")
    assert set(ablate_pretrained.ENSEMBLES["ensemble_2_seeds"][1]) <= set(ablate_pretrained.VARIANTS)
    # The ensemble's second member changes the seed, never the split its validation faces come from.
    seed1 = ablate_pretrained.variant_config("baseline_seed1", "/a", "/r", 3)
    assert (seed1.seed, seed1.resolved_split_seed()) == (1, 0)


@pytest.mark.slow
def test_two_variants_their_ensemble_and_the_reframed_scores(tmp_path, monkeypatch):
    root = _tiny_root(tmp_path / "utk")
    monkeypatch.setattr(ablate_pretrained, "SCALE", {"image_size": 40, "crop_size": 32})
    out = tmp_path / "ablation.json"
    args = ["--aligned", str(root), "--raw", str(root), "--epochs", "1", "--out", str(out),
            "--work", str(tmp_path / "runs")]
    assert ablate_pretrained.main([*args, "--variants", "baseline,baseline_seed1"]) == 0
    rows = {row["variant"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"baseline", "baseline_seed1"}
    for row in rows.values():
        for key in ("gender", "age", "age_1off", "gender_flip", "gender_tight", "age_looser"):
            assert 0.0 <= row[key] <= 1.0
        assert row["val_images"] == 4  # 10% of 40
    # --rescore in a new process (nothing imported or registered yet): the runs are read
    # back with their own configs, so the reduced SCALE patched above is not needed there.
    done = subprocess.run([sys.executable, str(REPO / "experiments" / "ablate_pretrained.py"), *args, "--rescore"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(out.read_text())
    ensemble = {row["variant"]: row for row in payload["rows"]}["ensemble_2_seeds"]
    assert ensemble["params"] == 2 * rows["baseline"]["params"]
    assert payload["scored_on"].startswith("validation split")
    # --runs: the finished runs scored on their shared validation split, alone and together.
    validation = tmp_path / "validation.json"
    runs = [str(tmp_path / "runs" / f"{name}-multitask") for name in ("baseline", "baseline_seed1")]
    assert ablate_pretrained.main(["--runs", *runs, "--out", str(validation)]) == 0
    scored = json.loads(validation.read_text())
    assert scored["suite"] == "validation" and scored["scored_on"].startswith("validation split")
    names = [row["variant"] for row in scored["rows"]]
    assert names == ["baseline-multitask", "baseline_seed1-multitask", "ensemble of 2"]
    assert scored["rows"][0]["gender"] == pytest.approx(rows["baseline"]["gender"])
    assert scored["rows"][2]["gender"] == pytest.approx(ensemble["gender"])
    with pytest.raises(SystemExit):  # no finished run there
        ablate_pretrained.main(["--runs", str(tmp_path / "runs"), "--out", str(validation)])
    # --preset: a preset made of those runs, scored beside them on the same faces.
    from adiencekit.export import export_preset

    preset = export_preset(runs, tmp_path / "preset")
    assert ablate_pretrained.main(["--runs", runs[0], "--preset", str(preset), "--out", str(validation)]) == 0
    scored = json.loads(validation.read_text())
    assert scored["preset"] == str(preset)
    names = [row["variant"] for row in scored["rows"]]
    assert names[0] == "baseline-multitask" and names[-1] == str(preset) and len(names) == 4
    assert all(name.startswith(f"{preset}: ") for name in names[1:3])
    assert scored["rows"][-1]["params"] == 2 * rows["baseline"]["params"]
    assert all(0.0 <= row["gender"] <= 1.0 and 0.0 <= row["age_looser"] <= 1.0 for row in scored["rows"])
    with pytest.raises(SystemExit, match="cannot be scored beside runs"):  # 96 px crops against 32 px runs
        ablate_pretrained.main(["--runs", runs[0], "--preset", "utkface_v2", "--out", str(validation)])
    with pytest.raises(SystemExit):  # a preset alone has no validation split to be scored on
        ablate_pretrained.main(["--preset", str(preset), "--out", str(validation)])
