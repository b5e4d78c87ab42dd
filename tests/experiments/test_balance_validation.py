"""experiments/balance_validation.py: training runs of one split, per age band, on its validation faces."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))

import balance_validation as bv  # noqa: E402  (the experiments folder is not a package)
from test_age_years_blend_study import _run, _utkface_folder  # noqa: E402  (the tiny UTKFace run of that study)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(bv)
    assert result.attempted >= 1 and result.failed == 0


def test_deltas_are_run_minus_baseline_and_none_where_one_lacks_a_figure() -> None:
    assert bv.deltas({"gender": None, "age_exact": 0.7}, {"gender": 0.8, "age_exact": 0.5}) == {
        "gender": None, "age_exact": 0.2}


def test_it_scores_each_run_on_each_band_of_the_validation_faces(tmp_path: Path) -> None:
    data = _utkface_folder(tmp_path / "faces", n=80)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    base, other = _run(tmp_path / "a", data, age_years=True), _run(tmp_path / "b", data, age_years=False)
    other = other.rename(tmp_path / "b" / "balanced")
    out = tmp_path / "bv.json"
    assert bv.main(["--runs", str(base), str(other), "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["data"]["subset"] == "val" and payload["data"]["faces"] == 20  # 25% of 80
    assert payload["baseline"] == "run_years" and set(payload["figures"]) == {"run_years", "balanced"}
    bands = payload["data"]["faces_per_band"]
    assert sum(bands.values()) == 20 and set(bands) <= set(bv.BANDS)
    for figures in payload["figures"].values():
        assert set(figures) == {"all", *bands}
        assert all(figures[band]["n"] == count for band, count in bands.items())
        assert 0.0 <= figures["all"]["age_exact"] <= figures["all"]["age_one_off"] <= 1.0
    # The age in years: the head of the first model, the expected age of the second's age groups.
    assert all(figures["all"]["age_years_mae"] > 0 for figures in payload["figures"].values())


def test_runs_of_different_splits_are_refused(tmp_path: Path) -> None:
    data = _utkface_folder(tmp_path / "faces")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    base = _run(tmp_path / "a", data, age_years=True)
    other = _run(tmp_path / "b", data, age_years=True)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "val_fraction": 0.3}))
    (tmp_path / "b" / "run_years").rename(tmp_path / "b" / "other")
    with pytest.raises(SystemExit, match="do not share one split"):
        bv.main(["--runs", str(base), str(tmp_path / "b" / "other"), "--out", str(tmp_path / "x.json")])
