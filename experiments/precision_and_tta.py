# How should `adiencekit predict` run a preset's network: its float32 ONNX copy or its int8 copy
# (adiencekit.quantization), one view or averaged with the mirror image (flip TTA)? Decided on the
# VALIDATION faces of the model's own training run (never its test faces): the model alone on the run's
# prepared validation crops, cut to the model's input exactly as predict does (Predictor.predict_crops),
# gender, age exact, 1-off and age-in-years MAE, overall and for the faces 13 and over and 0-12; and the
# model's time per face at batch 1 (one thread, ONNX Runtime), the four settings side by side.
#
#   python experiments/precision_and_tta.py --run RUN_DIR                # the bundled default model
#   python experiments/precision_and_tta.py --run RUN_DIR --model PRESET # a preset with an int8 copy
#   python experiments/precision_and_tta.py --run RUN_DIR --smoke        # 64 faces, to try the script
#
# The rule, fixed before the figures were read: of the settings no slower per face than float32 one view
# and behind it on no validation figure, the one with the highest validation gender accuracy.
"""Float32 or int8, one view or flip: chosen on a run's validation faces.

Example:

>>> import precision_and_tta as pt
>>> base = {"all": {"gender": 0.90, "age_exact": 0.6, "age_one_off": 0.95, "age_years_mae": 5.0}}
>>> pt.behind({"all": {"gender": 0.91, "age_exact": 0.6, "age_one_off": 0.95, "age_years_mae": 5.1}}, base)
['all age_years_mae']
>>> rows = {"float32": {**base, "ms": 2.0}, "int8+flip": {"all": {**base["all"], "gender": 0.92}, "ms": 1.5}}
>>> pt.choose(rows, "float32")
'int8+flip'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from age_years_blend import folder_names, split_fields
from studies import common

SUITE = "precision_and_tta"
#: The settings, as (precision, tta).
SETTINGS = {"float32": ("float32", False), "float32+flip": ("float32", True),
            "int8": ("int8", False), "int8+flip": ("int8", True)}
#: Ages of the subsets reported (years, inclusive).
SUBSETS = {"all": (0, 200), "13 and over": (13, 200), "0-12": (0, 12)}
#: Figures where larger is better, and the one where smaller is.
HIGHER, LOWER = ("gender", "age_exact", "age_one_off"), ("age_years_mae",)


def behind(row: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    """The figures (``"<subset> <figure>"``) on which ``row`` is behind ``base``."""
    out = []
    for subset, figures in base.items():
        if not isinstance(figures, Mapping):
            continue
        for name in HIGHER:
            if name in figures and row[subset][name] < figures[name]:
                out.append(f"{subset} {name}")
        for name in LOWER:
            if name in figures and row[subset][name] > figures[name]:
                out.append(f"{subset} {name}")
    return out


def choose(rows: Mapping[str, Mapping[str, Any]], base: str) -> str:
    """The rule: no slower per face than ``base``, behind it on nothing, then the highest overall gender."""
    allowed = [name for name, row in rows.items() if row["ms"] <= rows[base]["ms"] and not behind(row, rows[base])]
    return max(allowed, key=lambda name: (rows[name]["all"]["gender"], name == base))


def score(truth: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Figures per subset of ages."""
    from adiencekit.labels import age_to_group

    years = truth["years"]
    groups = np.array([age_to_group(age) for age in years])
    gender, age = out["gender"].argmax(axis=1), out["age"].argmax(axis=1)
    result: dict[str, Any] = {}
    for subset, (low, high) in SUBSETS.items():
        inside = (years >= low) & (years <= high)
        result[subset] = {
            "faces": int(inside.sum()),
            "gender": round(float((gender == truth["gender"])[inside].mean()), 4),
            "age_exact": round(float((age == groups)[inside].mean()), 4),
            "age_one_off": round(float((np.abs(age - groups) <= 1)[inside].mean()), 4),
            "age_years_mae": round(float(np.abs(out["age_years"] - years)[inside].mean()), 3),
        }
    return result


def per_face_ms(predictor: Any, crops: np.ndarray, repeats: int) -> float:
    """Median time of ``predict_crops`` on one face, over ``repeats`` calls (after a warm-up)."""
    one = crops[:1]
    for _ in range(10):
        predictor.predict_crops(one)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictor.predict_crops(one)
        times.append(time.perf_counter() - started)
    return round(float(np.median(times)) * 1000, 3)


def main(argv: list[str] | None = None) -> int:
    """Command line: every setting on the validation faces, the JSON, the table and the choice."""
    parser = studies.parser(__doc__.splitlines()[0], "validation faces")
    parser.add_argument("--run", type=Path, required=True,
                        help="the training run folder that made the model (its config.json gives data and split)")
    parser.add_argument("--repeats", type=int, default=300, help="timed batch-1 calls per setting (default 300)")
    args = parser.parse_args(argv)
    limit = studies.limit(args) if not args.smoke else 64

    from PIL import Image

    from adiencekit.inference import Predictor
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.data_loading import load_split

    config = TrainConfig.from_json(args.run / "config.json")
    frame = load_split(config).val.frame
    frame = frame[frame["age_years"].notna()] if "age_years" in frame else frame
    frame = frame.iloc[:limit]
    crops = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in frame["path"]])
    truth = {"gender": frame["gender"].to_numpy(np.int64), "years": frame["age_years"].to_numpy(np.float64)}
    rows: dict[str, dict[str, Any]] = {}
    for name, (precision, tta) in SETTINGS.items():
        predictor = Predictor(args.model, detector=None, precision=precision, tta=tta, runtime="onnx", threads=1)
        rows[name] = {**score(truth, predictor.predict_crops(crops)),
                      "ms": per_face_ms(predictor, crops, 20 if args.smoke else args.repeats)}
    chosen = choose(rows, "float32")
    payload = {
        "suite": SUITE, "smoke": args.smoke, **common.environment(),
        "model": args.model or "the bundled default",
        "run": args.run.name,
        "data": {"spec": folder_names(config.data), "subset": "val", "faces": len(frame),
                 "crop": "predict's own: the prepared crop resized and centre-cropped (Predictor.predict_crops)",
                 "split": split_fields(config)},
        "timing": "median of the model alone on one face (predict_crops, batch 1, ONNX Runtime, 1 thread)",
        "rule": "of the settings no slower per face than float32 one view and behind it on no validation figure "
                "(gender, age exact, 1-off: not lower; MAE: not higher; all, 13 and over, 0-12), the one with the "
                "highest overall validation gender accuracy",
        "rows": rows,
        "behind_float32": {name: behind(row, rows["float32"]) for name, row in rows.items()},
        "chosen": chosen,
    }
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    table = [{"setting": name, "ms": row["ms"], **{f"{subset} {figure}": row[subset][figure]
                                                  for subset in SUBSETS for figure in (*HIGHER, *LOWER)}}
             for name, row in rows.items()]
    common.print_table(table, list(table[0]), title="validation faces, per setting")
    print(f"chosen: {chosen}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
