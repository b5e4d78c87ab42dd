# End-to-end training throughput: the input pipeline feeding model.fit, same model, same run.
#
#   python benchmarks/bench_endtoend.py            # ~3-4 min on 2 CPU cores (Levi-Hassner 227)
#   python benchmarks/bench_endtoend.py --smoke    # ~30 s (tiny sizes)
#
# Loaders: adiencekit's build_pipeline as train() builds it (uint8 batches, the cast in the
# model), the same with float32 output, and the fair Keras loader of bench_pipeline.py; all
# feed the same compiled model. Needs TensorFlow (tf.data), whatever the Keras backend.
"""End-to-end training benchmark: input pipeline + ``model.fit``, library vs the Keras loader.

Example:

>>> import bench_endtoend
>>> bench_endtoend.LOADERS
('adiencekit', 'adiencekit_float32', 'keras')
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import common

SUITE = "endtoend"

LOADERS = ("adiencekit", "adiencekit_float32", "keras")
LOADER_DESCRIPTIONS = {
    "adiencekit": "bench_pipeline.adiencekit_loader(cache=<cache>): build_pipeline(training=True, seed=0) "
                  "with uint8 batches (the zoo model casts to float itself), as train() builds it",
    "adiencekit_float32": "as 'adiencekit' with output_dtype='float32' (train()'s configuration before 2026-11-28)",
    "keras": "bench_pipeline.keras_loader(cache=<cache>): image_dataset_from_directory, per-image RandomCrop + "
             "RandomFlip, reshuffled each epoch (cache before batching when <cache>)",
}


def build_loader(key: str, directory: Path, cfg: dict[str, Any]) -> Any:
    """An endless (``.repeat()``) training dataset of one loader over a class tree."""
    import bench_pipeline

    paths, labels = bench_pipeline.class_tree_files(directory)
    if key == "keras":
        return bench_pipeline.keras_loader(directory, cfg, len(paths), cache=cfg["cache"]).repeat()
    output_dtype = "float32" if key == "adiencekit_float32" else None
    return bench_pipeline.adiencekit_loader(paths, labels, cfg, output_dtype=output_dtype, cache=cfg["cache"]).repeat()


def run_endtoend(
    directory: Path, cfg: dict[str, Any], *, model_key: str = "levi_hassner", steps: int, repeats: int,
    loaders: tuple[str, ...] = LOADERS, jit_compile: bool = False,
) -> dict[str, Any]:
    """Images/s of ``fit`` fed by each loader, one model, interleaved repeats.

    One model is built and compiled once; each loader gets a warm-up ``fit`` (tracing,
    the first batches, filling a cache) that is not timed, then ``repeats`` timed ``fit``
    calls of ``steps`` steps each, loaders interleaved in rotating order.
    """
    import bench_training

    spec = {s.key: s for s in bench_training.SPECS}[model_key]
    model, _ = bench_training.build_library_model(spec, cfg["crop_size"], cfg["batch_size"], jit_compile)
    datasets = {key: build_loader(key, directory, cfg) for key in loaders}
    warm: dict[str, float] = {}
    for key, ds in datasets.items():
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=cfg["warmup_steps"], epochs=1, verbose=0)
        warm[key] = time.perf_counter() - start
    seconds: dict[str, list[float]] = {k: [] for k in loaders}
    loads = [common.load_average()]
    for repeat in range(repeats):
        keys = list(loaders)
        keys = keys[repeat % len(keys):] + keys[: repeat % len(keys)]
        for key in keys:
            start = time.perf_counter()
            history = model.fit(datasets[key], steps_per_epoch=steps, epochs=1, verbose=0)
            float(history.history["loss"][-1])
            seconds[key].append(time.perf_counter() - start)
        loads.append(common.load_average())
        common.log(f"end-to-end repeat {repeat + 1}/{repeats}: "
                   + ", ".join(f"{k} {steps * cfg['batch_size'] / seconds[k][-1]:.1f}" for k in loaders) + " img/s")
    images = steps * cfg["batch_size"]
    result: dict[str, Any] = {
        "model": model_key, "images_per_repeat": images, "steps": steps, "repeats": repeats,
        "warmup_seconds": warm, "load_average_samples": loads, "jit_compile": jit_compile,
    }
    for key in loaders:
        result[f"{key}_seconds"] = [round(s, 4) for s in seconds[key]]
        result[f"{key}_images_per_s"] = images / float(np.median(seconds[key]))
    if "keras" in loaders:
        import bench_pipeline

        for key in (k for k in loaders if k != "keras"):
            result[f"{key}_vs_keras"] = bench_pipeline.ratio_stats(seconds[key], seconds["keras"])
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the exit code."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="UTKFace images in the training set (default 1024)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per fit call (default 12)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    parser.add_argument("--cache", action="store_true", help="cache decoded images (train() default: no cache)")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--work-dir", type=Path, default=common.WORK_DIR)
    args = parser.parse_args(argv)
    if min(args.images, args.steps, args.repeats) < 1:
        parser.error("--images, --steps and --repeats must be >= 1")
    import bench_pipeline

    if args.smoke:
        cfg = {"image_size": 76, "crop_size": 67, "batch_size": 4, "warmup_steps": 2, "cache": args.cache}
        count, steps, repeats = 16, 2, 2
    else:
        cfg = {"image_size": 256, "crop_size": 227, "batch_size": 32, "warmup_steps": 3, "cache": args.cache}
        count, steps, repeats = args.images, args.steps, args.repeats
    utk = args.shared_data / "utkface"
    if (utk / "labels.csv").exists():
        tree = bench_pipeline.link_utkface_tree(utk, args.work_dir / f"utkface-links-e2e-{count}", count)
        source = f"first {count} UTKFace 200x200 crops"
    else:
        tree = bench_pipeline.write_adience_size_tree(args.work_dir / f"drawn-e2e-{count}", count, 256)
        source = f"{count} drawn 256x256 faces (no shared data)"
    env = common.environment()
    result = run_endtoend(tree, cfg, steps=steps, repeats=repeats)
    result.update({"config": cfg, "data": source, "loaders": LOADER_DESCRIPTIONS,
                   "note": "cache=False is train()'s default (TrainConfig.cache)"})
    lines = [f"{key}: {result[f'{key}_images_per_s']:.1f} train img/s" for key in LOADERS]
    for key in LOADERS[:-1]:
        stats = result[f"{key}_vs_keras"]
        lines.append(f"{key} / keras: median {stats['median']:.3f} "
                     f"(quartiles {stats['lower_quartile']:.3f}-{stats['upper_quartile']:.3f})")
    return common.finish(SUITE, args, env, result, lines=lines)


if __name__ == "__main__":
    sys.exit(main())
