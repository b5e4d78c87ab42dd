# Which age in years should a model with an "age_years" head report: the head, the expected age of its
# eight age-group probabilities, or a weighted mean of the two? Decided on the VALIDATION faces of the
# model's own training run (never its test faces): the model alone on the run's prepared validation
# crops (centre crop, no detection, no TTA), MAE in years per head weight, overall and per age band.
#
#   python experiments/age_years_blend.py --run RUN_DIR               # the bundled default model
#   python experiments/age_years_blend.py --run RUN_DIR --model RUN_DIR
#   python experiments/age_years_blend.py --run RUN_DIR --smoke       # 64 faces, to try the script
#
# RUN_DIR is the `adiencekit train` run folder that made the model (its config.json names the data and
# the split). The chosen weight is the one with the lowest overall validation MAE; ties go to the head.
"""Age in years: the head, the age groups or a blend, chosen on a run's validation faces.

Example:

>>> import numpy as np
>>> import age_years_blend
>>> age_years_blend.blend(np.array([30.0, 10.0]), np.array([20.0, 20.0]), 0.5).tolist()
[25.0, 15.0]
>>> age_years_blend.best_weight({0.0: 6.0, 0.5: 5.8, 1.0: 6.1})
0.5
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from studies import common

SUITE = "age_years_blend"
#: Head weights tried: 0 is the age groups alone, 1 the head alone.
WEIGHTS = tuple(round(w / 10, 1) for w in range(11))
#: Age bands reported beside the overall figure (years, inclusive).
BANDS = {"0-12": (0, 12), "13-19": (13, 19), "20-39": (20, 39), "40-59": (40, 59), "60+": (60, 200)}


def blend(head: np.ndarray, groups: np.ndarray, weight: float) -> np.ndarray:
    """``weight * head + (1 - weight) * groups``."""
    return weight * np.asarray(head, np.float64) + (1.0 - weight) * np.asarray(groups, np.float64)


def best_weight(maes: Mapping[float, float]) -> float:
    """The weight with the lowest MAE; on a tie the larger weight (closer to the head alone)."""
    return min(maes, key=lambda w: (maes[w], -w))


def folder_names(spec: str) -> str:
    """A data spec with each path cut to its folder name (no machine paths in results files).

    >>> folder_names("utkface:/data/a/utkface-aligned,/data/b/utkface-extra-aligned")
    'utkface:utkface-aligned,utkface-extra-aligned'
    """
    kind, _, paths = str(spec).partition(":")
    if not paths:
        return Path(kind).name
    return f"{kind}:" + ",".join(Path(path).name for path in paths.split(","))


def split_fields(config: Any) -> dict[str, Any]:
    """What fixes a run's split, for a results file: validation and test fractions and the split seed."""
    return {"val_fraction": config.val_fraction, "test_fraction": config.test_fraction,
            "seed": config.resolved_split_seed()}


def collect(model: Any, dataset: Any, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(head years, group probabilities, true years)`` over ``dataset``'s batches (``limit`` faces)."""
    heads, probabilities, truths, seen = [], [], [], 0
    for images, labels in dataset:
        outputs = model(images, training=False)
        heads.append(np.asarray(outputs["age_years"], np.float64).reshape(-1))
        probabilities.append(np.asarray(outputs["age"], np.float64))
        truths.append(np.asarray(labels["age_years"], np.float64).reshape(-1))
        seen += len(truths[-1])
        if limit is not None and seen >= limit:
            break
    head, probs, truth = np.concatenate(heads), np.concatenate(probabilities), np.concatenate(truths)
    keep = slice(None, limit)
    return head[keep], probs[keep], truth[keep]


def main(argv: list[str] | None = None) -> int:
    """Command line: measure every weight on the validation faces, write the JSON, print the table."""
    parser = studies.parser(__doc__.splitlines()[0], "validation faces")
    parser.add_argument("--run", type=Path, required=True,
                        help="the training run folder that made the model (its config.json gives data and split)")
    args = parser.parse_args(argv)
    limit = studies.limit(args) if not args.smoke else 64

    from adiencekit.inference.loading import load_model_source
    from adiencekit.labels import expected_age
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.data_loading import load_split

    loaded = load_model_source(args.model)
    model = loaded.model
    from adiencekit.models.heads import AGE_YEARS_FROM_HEAD, age_years_source

    if age_years_source(model) != AGE_YEARS_FROM_HEAD:
        raise SystemExit(f"{loaded.source} has no age_years head: there is nothing to blend")
    config = TrainConfig.from_json(args.run / "config.json")
    split = load_split(config)
    started = time.perf_counter()
    dataset = split.val.pipeline(training=False, image_size=config.image_size, crop_size=config.crop_size,
                                 batch_size=128, age_years=True, format="tf")
    head, probabilities, truth = collect(model, dataset, limit)
    seconds = time.perf_counter() - started
    exact = ~np.isnan(truth)
    head, probabilities, truth = head[exact], probabilities[exact], truth[exact]
    groups = np.asarray(expected_age(probabilities), np.float64)

    rows, overall = [], {}
    for weight in WEIGHTS:
        error = np.abs(blend(head, groups, weight) - truth)
        overall[weight] = round(float(error.mean()), 3)
        row: dict[str, Any] = {"head_weight": weight, "all": overall[weight]}
        for band, (low, high) in BANDS.items():
            inside = (truth >= low) & (truth <= high)
            row[band] = round(float(error[inside].mean()), 3) if inside.any() else None
        rows.append(row)
    chosen = best_weight(overall)
    counts = {band: int(((truth >= low) & (truth <= high)).sum()) for band, (low, high) in BANDS.items()}
    payload = {
        "suite": SUITE, "smoke": args.smoke, **common.environment(),
        "model": loaded.source,
        "run": args.run.name,
        "data": {"spec": folder_names(config.data), "subset": "val", "faces_with_exact_age": int(exact.sum()),
                 "faces_per_band": counts, "crop": f"centre {config.crop_size} of {config.image_size}",
                 "split": split_fields(config)},
        "rule": "age_years = w * head + (1 - w) * expected_age(age probabilities); MAE in years on the "
                "validation faces with an exact age; the chosen w has the lowest overall MAE (ties: larger w)",
        "seconds": round(seconds, 1),
        "rows": rows,
        "chosen_head_weight": chosen,
    }
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    common.print_table(rows, ["head_weight", "all", *BANDS], title="age in years, validation MAE per head weight")
    print(f"chosen head weight {chosen} (validation MAE {overall[chosen]}); wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
