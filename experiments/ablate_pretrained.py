# Ablations of the bundled model's recipe (issue 12): what moved the figures. An
# experiment, not a benchmark: it TRAINS models (minutes to hours on a CPU) and scores
# their accuracy; it shares the benchmarks' helpers (benchmarks/common.py) and writes its
# result files beside theirs, in benchmarks/results/ (ablation-*, validation-*).
#
#   python experiments/ablate_pretrained.py --aligned DATA/utk-aligned --raw ../shared/data/utkface
#   python experiments/ablate_pretrained.py ... --variants baseline,raw_crops --epochs 12
#   python experiments/ablate_pretrained.py --runs runs/utkface_multitask runs/utkface_multitask_seed1
#   python experiments/ablate_pretrained.py --runs runs/candidate --preset utkface_multitask
#
# --runs scores finished full-size runs of one split on its validation split, each alone
# and their ensemble (mean probabilities), into a `validation` result file; --preset adds
# a preset (the bundled one, say) scored on the same validation faces.
#
# Every variant is the `utkface_multitask` recipe at a reduced scale (72 px images,
# 64 px crops, --epochs epochs) with one thing changed, trained with the library's own
# `train()` and scored on the VALIDATION split of the fixed UTKFace split (the test split
# is never looked at here: choices are made on validation only). Results are written
# after every variant, and a rerun skips the variants already in the file.
"""Ablations of the ``utkface_multitask`` recipe, scored on the validation split.

Example:

>>> import ablate_pretrained
>>> sorted(ablate_pretrained.VARIANTS)[:3]
['baseline', 'baseline_seed1', 'constant_lr']
>>> ablate_pretrained.variant_config("width_48", "/data/aligned", "/data/raw", 12).model_kwargs["width"]
48
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# The benchmarks' helpers (timing-free here: environment capture, JSON, tables, options).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402  (benchmarks/ is not a package)

SUITE = "ablation"
#: Reduced scale shared by every variant (the full recipe: 112 px images, 96 px crops, 40 epochs).
SCALE: dict[str, Any] = {"image_size": 72, "crop_size": 64}

#: name -> (what changes, data "aligned" | "raw", TrainConfig overrides, tasks trained).
VARIANTS: dict[str, tuple[str, str, dict[str, Any], tuple[str, ...]]] = {
    "baseline": ("the recipe at 64 px", "aligned", {}, ("multitask",)),
    "standard_augmentation": ("crops, flips and rotations only (no scale/shift/colour/blur/grey)", "aligned",
                              {"augment": "standard"}, ("multitask",)),
    "plain_age_targets": ("one-hot age targets (no neighbour smoothing)", "aligned",
                          {"age_neighbour_smoothing": 0.0}, ("multitask",)),
    "uniform_label_smoothing": ("uniform label smoothing 0.1 on both heads instead of neighbour smoothing",
                                "aligned", {"age_neighbour_smoothing": 0.0, "label_smoothing": 0.1},
                                ("multitask",)),
    "raw_crops": ("UTKFace's own crops instead of detected + aligned ones", "raw", {}, ("multitask",)),
    "two_models": ("a gender model and an age model instead of one multitask model", "aligned", {},
                   ("gender", "age")),
    "constant_lr": ("constant learning rate instead of cosine decay", "aligned", {"lr_schedule": "constant"},
                    ("multitask",)),
    "width_48": ("width 48 instead of 32 (2.2x the parameters)", "aligned",
                 {"model_kwargs": {"width": 48, "blocks": [1, 1, 1, 1], "dropout": 0.3}}, ("multitask",)),
    "resolution_96": ("112 px images, 96 px crops (the full recipe's size)", "aligned",
                      {"image_size": 112, "crop_size": 96}, ("multitask",)),
    "gender_weight_2": ("gender loss weighted 2 against the age loss (1)", "aligned",
                        {"gender_loss_weight": 2.0}, ("multitask",)),
    "baseline_seed1": ("the baseline with seed 1 (initialisation and augmentation; same split)", "aligned",
                       {"seed": 1, "split_seed": 0}, ("multitask",)),
    "ordinal_age": ("age loss plus an ordinal term, the squared EMD of the cumulative distributions (weight 1)",
                    "aligned", {"age_ordinal_weight": 1.0}, ("multitask",)),
    "ordinal_age_seed1": ("ordinal_age with seed 1 (same split)", "aligned",
                          {"age_ordinal_weight": 1.0, "seed": 1, "split_seed": 0}, ("multitask",)),
}

#: Rows computed from finished runs: name -> (what, the variants whose probabilities are averaged).
ENSEMBLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ensemble_2_seeds": ("mean of the baseline's and baseline_seed1's probabilities (2x the inference cost)",
                         ("baseline", "baseline_seed1")),
}


def variant_config(name: str, aligned: str, raw: str, epochs: int, task: str = "multitask") -> Any:
    """The TrainConfig of one variant (``task`` for the two-model variant)."""
    from adiencekit.training import get_recipe

    _, data, overrides, _ = VARIANTS[name]
    root = aligned if data == "aligned" else raw
    values = {**SCALE, "epochs": epochs, "data": f"utkface:{root}", **overrides}
    if task == "gender":  # no age head to smooth or to score ordinally
        values["age_neighbour_smoothing"] = 0.0
        values.pop("age_ordinal_weight", None)
    return get_recipe("utkface_multitask", task=task, **values)


#: Re-framed validation crops: ``(name, scale)``; a scale above 1 frames the face looser
#: (more of the surroundings), below 1 tighter. 1.125 is the whole 72 px image in the 64 px
#: input; 1.3 adds mirror padding first.
REFRAMINGS = (("tight", 0.85), ("loose", 1.125), ("looser", 1.3))


def validation_arrays(config: Any) -> tuple[Any, dict[str, Any]]:
    """The whole validation images (``image_size``, float32) and their labels per head."""
    import numpy as np

    from adiencekit.training.data_loading import load_split

    subset = load_split(config).val
    size = config.image_size
    images, labels = [], {"gender": [], "age": []}
    for batch, batch_labels in subset.pipeline(training=False, image_size=size, crop_size=size, batch_size=128):
        images.append(batch.numpy())
        batch_labels = batch_labels if isinstance(batch_labels, dict) else {config.task: batch_labels}
        for head, values in batch_labels.items():
            labels[head].append(values.numpy())
    return np.concatenate(images), {head: np.concatenate(v) for head, v in labels.items() if v}


def view(pixels: Any, crop: int, scale: float = 1.0, mirror: bool = False) -> Any:
    """A centred view of ``scale`` times ``crop`` (mirror-padded beyond the image), resized to ``crop``."""
    import numpy as np
    import tensorflow as tf

    size = pixels.shape[1]
    side = int(round(crop * scale))
    pad = max(0, (side - size + 1) // 2)
    padded = np.pad(pixels, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="symmetric") if pad else pixels
    start = (padded.shape[1] - side) // 2
    cut = padded[:, start:start + side, start:start + side]
    out = cut if side == crop else tf.image.resize(cut, (crop, crop), antialias=True).numpy()
    return out[:, :, ::-1] if mirror else out


def view_scores(predict: Any, config: Any, arrays: tuple[Any, dict[str, Any]] | None = None) -> dict[str, float]:
    """Exact and 1-off accuracy on the validation split: the centre crop, its flip TTA, and
    crops framed tighter and looser (:data:`REFRAMINGS`).

    ``predict`` maps a batch of ``(N, crop, crop, 3)`` images to ``{head: probabilities}``;
    ``arrays`` is :func:`validation_arrays` of ``config``, read here when not given.
    """
    from adiencekit.metrics import exact_accuracy, one_off_accuracy

    pixels, labels = arrays if arrays is not None else validation_arrays(config)
    crop = config.resolved_crop_size()
    centre = predict(view(pixels, crop))
    mirrored = predict(view(pixels, crop, mirror=True))
    outputs = {"": centre, "_flip": {head: (centre[head] + mirrored[head]) / 2 for head in centre}}
    for name, scale in REFRAMINGS:
        outputs[f"_{name}"] = predict(view(pixels, crop, scale))
    scores: dict[str, float] = {"val_images": len(pixels)}
    for suffix, probabilities in outputs.items():
        for head, values in probabilities.items():
            scores[f"{head}{suffix}"] = exact_accuracy(labels[head], values)
            if head == "age":
                scores[f"age_1off{suffix}"] = one_off_accuracy(labels[head], values)
    return scores


def model_predictor(model: Any, task: str) -> Any:
    """``predict`` for :func:`view_scores` from one model."""

    from adiencekit.models.heads import head_probabilities

    def predict(images: Any) -> dict[str, Any]:
        # the class heads only: a model's age_years output is not a class distribution
        return head_probabilities(model, model.predict(images, batch_size=128, verbose=0))

    return predict


def mean_predictor(predictors: list[Any]) -> Any:
    """``predict`` for :func:`view_scores` averaging the probabilities of several ``predict``."""

    def predict(images: Any) -> dict[str, Any]:
        outputs = [member(images) for member in predictors]
        return {head: sum(out[head] for out in outputs) / len(outputs) for head in outputs[0]}

    return predict


def finished_run(run: Path) -> tuple[Any, Any]:
    """A finished run's best model and its config, as it was trained (any process: the
    import registers the library's Keras classes with ``load_model``)."""
    import keras

    import adiencekit.models  # noqa: F401
    from adiencekit.training import TrainConfig

    return keras.saving.load_model(run / "best.keras", compile=False), TrainConfig.from_json(run / "config.json")


def run_variant(name: str, args: Any) -> dict[str, Any]:
    """Train one variant (one or two runs) and score it on validation."""
    from adiencekit.training import train

    row: dict[str, Any] = {"variant": name, "change": VARIANTS[name][0]}
    seconds = 0.0
    params = 0
    for task in VARIANTS[name][3]:
        config = variant_config(name, str(args.aligned), str(args.raw), args.epochs, task)
        start = time.perf_counter()
        result = train(config, args.work / f"{name}-{task}", overwrite=True, verbose=0)
        seconds += time.perf_counter() - start
        params += result.model.count_params()
        row.update(view_scores(model_predictor(result.model, task), config))
        row[f"best_epoch_{task}"] = result.best_epoch
    row.update({"train_seconds": round(seconds, 1), "params": params})
    return row


COLUMNS = ["variant", "gender", "age", "age_1off", "gender_flip", "age_flip", "gender_tight", "age_tight",
           "gender_looser", "age_looser", "params", "train_seconds"]


def ensemble_row(name: str, args: Any) -> dict[str, Any] | None:
    """Validation scores of an ensemble of finished multitask variants (their mean probabilities)."""
    what, members = ENSEMBLES[name]
    runs = [args.work / f"{member}-multitask" for member in members]
    if not all((run / "best.keras").is_file() for run in runs):
        return None
    models, configs = zip(*(finished_run(run) for run in runs), strict=True)
    predict = mean_predictor([model_predictor(model, "multitask") for model in models])
    row: dict[str, Any] = {"variant": name, "change": what, **view_scores(predict, configs[0])}
    row["params"] = sum(model.count_params() for model in models)
    return row


def rescore(rows: dict[str, Any], args: Any) -> None:
    """Add the re-framed scores to rows measured before they existed (from the saved runs),
    and the ensemble rows whose members are finished."""
    for name in ENSEMBLES:
        if name not in rows:
            row = ensemble_row(name, args)
            if row is not None:
                rows[name] = row
    for name, row in rows.items():
        if name in ENSEMBLES:
            continue
        if "gender_looser" in row or "age_looser" in row:
            continue
        for task in VARIANTS[name][3]:
            model, config = finished_run(args.work / f"{name}-{task}")
            scores = view_scores(model_predictor(model, task), config)
            row.update({key: value for key, value in scores.items() if key not in row})


VALIDATION_SUITE = "validation"


def preset_rows(preset: str, config: Any, arrays: tuple[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation scores of a multitask preset on the split of ``config``: each of its
    networks alone when it is an ensemble, then the preset itself.

    Raises SystemExit (one line) when the preset does not take the runs' image and crop
    sizes or is not a multitask model.
    """
    from adiencekit.models.presets import load_preset

    model = load_preset(preset)
    meta = model.preset_metadata
    sizes = (meta.get("image_size"), (meta.get("input_shape") or [None])[0])
    wanted = (config.image_size, config.resolved_crop_size())
    if meta.get("task") != "multitask" or sizes != wanted:
        raise SystemExit(f"ablate_pretrained: error: preset {preset!r} ({meta.get('task')}, image and crop "
                         f"{sizes}) cannot be scored beside runs of multitask {wanted} crops")
    rows = [{"variant": f"{preset}: {member.name}", "change": "one network of the preset",
             **view_scores(model_predictor(member, "multitask"), config, arrays), "params": member.count_params()}
            for member in getattr(model, "members", [])]
    rows.append({"variant": str(preset), "change": meta.get("description", "the preset"),
                 **view_scores(model_predictor(model, "multitask"), config, arrays), "params": model.count_params()})
    return rows


def score_runs(runs: list[Path], preset: str | None = None) -> list[dict[str, Any]]:
    """Validation scores of finished runs of one split: each run alone, then their ensemble,
    then ``preset`` (its networks and itself; :func:`preset_rows`) on the same faces."""
    models, configs = (list(items) for items in zip(*(finished_run(run) for run in runs), strict=True))
    if len(runs) > 1:
        from adiencekit.errors import ConfigError
        from adiencekit.export import check_ensemble_runs

        try:  # one data set, split and crop: the same validation faces for every run
            check_ensemble_runs(runs, configs)
        except ConfigError as error:
            raise SystemExit(f"ablate_pretrained: error: {error}") from None
    arrays = validation_arrays(configs[0])
    predictors = [model_predictor(model, config.task) for model, config in zip(models, configs, strict=True)]
    rows = []
    for run, config, model, predict in zip(runs, configs, models, predictors, strict=True):
        change = f"seed {config.seed}, {config.epochs} epochs, {config.resolved_crop_size()} px crops"
        rows.append({"variant": run.name, "change": change, **view_scores(predict, config, arrays),
                     "params": model.count_params()})
    if len(runs) > 1:
        rows.append({"variant": f"ensemble of {len(runs)}", "change": "mean of the runs' probabilities",
                     **view_scores(mean_predictor(predictors), configs[0], arrays),
                     "params": sum(model.count_params() for model in models)})
    if preset is not None:
        rows.extend(preset_rows(preset, configs[0], arrays))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the ablations from the command line; returns the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--aligned", type=Path, default=None, help="UTKFace root made by prepare_utkface")
    parser.add_argument("--raw", type=Path, default=None, help="the raw UTKFace root")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names (default: all)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (default 10)")
    parser.add_argument("--work", type=Path, default=common.WORK_DIR / "ablation", help="run folders")
    parser.add_argument("--rescore", action="store_true",
                        help="only add the re-framed scores to finished rows that lack them (from their run folders)")
    parser.add_argument("--runs", type=Path, nargs="+", default=None, metavar="RUN",
                        help="instead of ablations: score these finished runs (one split) on validation, alone "
                             "and as an ensemble, into a 'validation' result file")
    parser.add_argument("--preset", default=None, metavar="NAME|DIR",
                        help="with --runs: also score this multitask preset (e.g. a multitask preset folder; "
                             "its networks alone and together) on the same validation faces")
    args = parser.parse_args(argv)
    if args.runs is not None:
        missing = [str(run) for run in args.runs if not (run / "best.keras").is_file()]
        if missing:
            parser.error(f"not finished training runs (no best.keras): {', '.join(missing)}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        out = args.out or common.default_out_path(VALIDATION_SUITE, {"kind": "cpu"}, smoke=args.smoke)
        rows = score_runs(args.runs, args.preset)
        common.write_json({"suite": VALIDATION_SUITE, "smoke": args.smoke, **common.environment(),
                           "runs": [str(run) for run in args.runs], "preset": args.preset,
                           "scored_on": "validation split of the runs' shared split (never the test split)",
                           "reframings": {name: scale for name, scale in REFRAMINGS}, "rows": rows}, out)
        common.print_table(rows, COLUMNS)
        print(f"wrote {out}")
        return 0
    if args.preset is not None:
        parser.error("--preset is scored beside --runs; give the runs too")
    if args.aligned is None or args.raw is None:
        parser.error("the ablations need --aligned (the prepared UTKFace root) and --raw (the raw one)")
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = args.out or common.default_out_path(SUITE, {"kind": "cpu"}, smoke=args.smoke)
    done: dict[str, Any] = {}
    if out.is_file():
        done = {row["variant"]: row for row in json.loads(out.read_text()).get("rows", [])}
    env = common.environment()
    header = {"suite": SUITE, "smoke": args.smoke, **env, "scale": {**SCALE, "epochs": args.epochs},
              "scored_on": "validation split of the fixed UTKFace split (never the test split)",
              "reframings": {name: scale for name, scale in REFRAMINGS}}
    if args.rescore:
        rescore(done, args)
        common.write_json({**header, "rows": list(done.values())}, out)
        common.print_table(list(done.values()), COLUMNS)
        return 0
    for name in names:
        if name in done:
            common.log(f"{name}: already in {out}, skipped")
            continue
        common.log(f"{name}: {VARIANTS[name][0]}")
        done[name] = run_variant(name, args)
        common.write_json({**header, "rows": list(done.values())}, out)
        common.print_table(list(done.values()), COLUMNS)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
