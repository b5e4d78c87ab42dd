# Does group-balanced sampling (TrainConfig.balance) help the faces that are rare in training? Training
# runs of one split compared side by side on its VALIDATION faces (never the test faces): per age band
# of the exact age, gender accuracy, age-group exact and 1-off accuracy and the age-in-years MAE, each
# scored by adiencekit.evaluation.evaluate on the run's prepared crops (centre crop, no detection, no TTA).
#
#   python experiments/balance_validation.py --runs RUN_A RUN_B            # the first is the baseline
#   python experiments/balance_validation.py --runs RUN_A RUN_B --smoke    # 64 validation faces
#
# Each RUN is an `adiencekit train` run folder (config.json + best.keras); the runs must share data and
# split (the script refuses otherwise).
"""Balanced against plain sampling: training runs of one split, per age band, on its validation faces.

Example:

>>> import balance_validation
>>> balance_validation.deltas({"gender": 0.9, "age_exact": 0.5, "n": 10}, {"gender": 0.8, "age_exact": 0.6, "n": 10})
{'gender': 0.1, 'age_exact': -0.1}
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from age_years_blend import BANDS, folder_names, split_fields
from studies import common

SUITE = "balance_validation"
#: The config fields that make the split; the runs compared must agree on them.
SPLIT_FIELDS = ("data", "task", "val_fraction", "test_fraction", "image_size", "crop_size")
#: The figures compared, in table order.
FIGURES = ("gender", "age_exact", "age_one_off", "age_years_mae")


def deltas(run: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float | None]:
    """``run - baseline`` for each figure both have (rounded to 4 places; ``None`` where one lacks it)."""
    out: dict[str, float | None] = {}
    for key in FIGURES:
        if key in run or key in baseline:
            a, b = run.get(key), baseline.get(key)
            out[key] = None if a is None or b is None else round(a - b, 4)
    return out


def scores(model: Any, subset: Any, config: Any) -> dict[str, Any]:
    """Gender, age exact and 1-off, age-years MAE of ``model`` on ``subset`` (library evaluation)."""
    from adiencekit.evaluation import evaluate

    gender_labelled = int((subset.frame["gender"] >= 0).sum())
    result = evaluate(model, subset, "multitask", batch_size=128, image_size=config.image_size, input_format="tf")
    age = result.heads["age"]
    row: dict[str, Any] = {"n": len(subset), "gender_n": gender_labelled,
                           "gender": round(result.heads["gender"].exact, 4) if gender_labelled else None,
                           "age_exact": round(age.exact, 4), "age_one_off": round(age.one_off, 4)}
    if result.age_years is not None:
        row["age_years_mae"] = round(result.age_years.mae, 3)
    return row


def band_subsets(subset: Any, limit: int | None) -> dict[str, Any]:
    """``{"all": subset, band: the faces whose exact age is in the band}`` (the first ``limit`` faces)."""
    from adiencekit.data import Subset

    frame = subset.frame.iloc[slice(None, limit)]
    years = Subset(subset.name, frame, subset.task).age_years
    out = {"all": Subset(subset.name, frame, subset.task)}
    for band, (low, high) in BANDS.items():
        inside = (years >= low) & (years <= high)
        if inside.any():
            out[band] = Subset(subset.name, frame[inside], subset.task)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: score every run on every band, write the JSON, print the table."""
    parser = studies.parser(__doc__.splitlines()[0], "validation faces")
    parser.add_argument("--runs", type=Path, nargs="+", required=True,
                        help="training run folders of one split; the first is the baseline")
    args = parser.parse_args(argv)
    limit = studies.limit(args) if not args.smoke else 64

    from adiencekit.inference.loading import load_model_source
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.data_loading import load_split

    if len({run.name for run in args.runs}) != len(args.runs):
        raise SystemExit(f"the run folders need distinct names (they key the results): {[str(r) for r in args.runs]}")
    configs = [TrainConfig.from_json(run / "config.json") for run in args.runs]
    split_of = [({f: getattr(c, f) for f in SPLIT_FIELDS}, c.resolved_split_seed()) for c in configs]
    if any(other != split_of[0] for other in split_of[1:]):
        raise SystemExit(f"the runs do not share one split ({', '.join(SPLIT_FIELDS)}, split seed): {split_of}")
    config = configs[0]
    val = load_split(config).val
    subsets = band_subsets(val, limit)
    started = time.perf_counter()
    figures: dict[str, dict[str, Any]] = {}
    for run in args.runs:
        model = load_model_source(str(run), runtime="keras").model
        figures[run.name] = {band: scores(model, subset, config) for band, subset in subsets.items()}
    seconds = time.perf_counter() - started

    baseline = args.runs[0].name
    rows = []
    for band in subsets:
        for name, per_band in figures.items():
            row = {"band": band, "run": name, **per_band[band]}
            if name != baseline:
                row.update({f"d_{k}": v for k, v in deltas(per_band[band], figures[baseline][band]).items()})
            rows.append(row)
    payload = {
        "suite": SUITE, "smoke": args.smoke, **common.environment(),
        "runs": {run.name: {"balance": c.balance, "seed": c.seed, "epochs": c.epochs} for run, c in zip(args.runs, configs)},
        "baseline": baseline,
        "data": {"spec": folder_names(config.data), "subset": "val", "faces": len(subsets["all"]),
                 "faces_per_band": {band: len(subset) for band, subset in subsets.items() if band != "all"},
                 "crop": f"centre {config.crop_size} of {config.image_size}",
                 "split": split_fields(config)},
        "rule": "adiencekit.evaluation.evaluate per band of the exact age (ends included); gender over the faces "
                "with a gender label; d_* = run - baseline",
        "seconds": round(seconds, 1),
        "figures": figures,
    }
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    columns = ["band", "run", "n", *FIGURES, *(f"d_{k}" for k in FIGURES)]
    common.print_table(rows, columns, title="validation faces per age band")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
