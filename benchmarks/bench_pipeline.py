# Input-pipeline benchmark: adiencekit.data.pipeline.build_pipeline against
# keras.utils.image_dataset_from_directory on the same files, same run.
#
#   python benchmarks/bench_pipeline.py            # ~1-2 min on 2 CPU cores (first run also
#                                                  # writes 2,000 816x816 JPEGs, ~2 min)
#   python benchmarks/bench_pipeline.py --smoke    # ~15 s
#
# Both loaders resize to 256, take a random 227 crop, flip, and batch 32; figures are
# images/s of the first (uncached, decoding) epoch and of a cached epoch, and their ratios.
# Also measured: the library with float32 output, with unordered maps, and without
# augmentation (the least work a loader can do: the bound on any cached-epoch ratio).
"""Input-pipeline benchmark (TensorFlow backend: tf.data).

Data sets:

* ``synthetic-816``: a tree of 816x816 JPEGs (the size of the Adience ``faces/`` crops),
  written once into ``benchmarks/_work/`` (git-ignored) from the real UTKFace faces
  (upscaled, with sensor-like noise so the JPEGs have realistic entropy) or, when those
  are absent, from drawn faces;
* ``utkface``: the real 200x200 UTKFace crops in ``../shared/data/utkface`` (skipped,
  and recorded as skipped, when absent).

The Keras loader reads class sub-folders; for UTKFace they are built from symbolic links
(``female/``, ``male/`` by the gender in ``labels.csv``). The OS file cache is warmed by
reading every file once before any timing, so both loaders measure decoding, not the disk.
Runs are interleaved (adiencekit, Keras, adiencekit, Keras, ...) so that load from other
processes on a shared machine hits both alike.

Example:

>>> import bench_pipeline
>>> bench_pipeline.TARGETS["cached_ratio"]
10.0
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tf.data and the Keras loader: this suite always runs on the TensorFlow backend.
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np

import common

SUITE = "pipeline"

#: Targets of issues 5 and 13 on the 2-core CPU (library default vs the fair Keras loader).
TARGETS = {"first_epoch_ratio": 1.5, "cached_ratio": 10.0, "cached_images_per_s": 3000.0}

#: Adience ``faces/`` crop size.
ADIENCE_SIDE = 816


# --------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------


def _utkface_rows(root: Path) -> list[tuple[Path, int]]:
    """``(path, gender)`` of every UTKFace image listed in labels.csv (gender 0 male, 1 female)."""
    rows = []
    with open(root / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            path = root / "images" / row["filename"]
            rows.append((path, int(row["gender"])))
    return rows


def _drawn_face(rng: np.random.Generator, side: int) -> np.ndarray:
    """A face-like image: skin ellipse, eyes, mouth on a gradient background, plus noise."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    background = rng.uniform(40, 200, 3)
    image = background * (0.6 + 0.4 * yy[..., None])
    skin = rng.uniform([150, 100, 80], [240, 190, 160])
    face = ((xx - 0.5) / 0.32) ** 2 + ((yy - 0.5) / 0.42) ** 2 < 1
    image[face] = skin
    for cx in (0.38, 0.62):
        eye = ((xx - cx) / 0.05) ** 2 + ((yy - 0.42) / 0.03) ** 2 < 1
        image[eye] = (30, 30, 40)
    mouth = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.68) / 0.03) ** 2 < 1
    image[mouth] = (150, 50, 60)
    return image


def write_adience_size_tree(
    root: Path, count: int, side: int = ADIENCE_SIDE, seed: int = 0, utk: Path | None = None
) -> Path:
    """Write ``count`` ``side x side`` JPEG faces as ``root/{female,male}/NNNNN.jpg`` (once).

    The tree is reused when it already holds ``count`` files of that side (a marker file
    records the parameters). Faces are upscaled real UTKFace crops when the shared data is
    present, drawn faces otherwise; Gaussian noise (sigma 6) gives camera-like JPEG sizes.

    Args:
        root: folder to write into.
        count: number of images (split evenly between the two class folders).
        side: image side in pixels.
        seed: random seed.
        utk: the UTKFace folder whose faces are upscaled (drawn faces when ``None`` or
            absent).

    Returns:
        ``root``.
    """
    from PIL import Image

    marker = root / "COMPLETE"
    expected = f"count={count} side={side} seed={seed}\n"
    if marker.exists() and marker.read_text() == expected:
        return root
    sources = [p for p, _ in _utkface_rows(utk)] if utk is not None and (utk / "labels.csv").exists() else []
    rng = np.random.default_rng(seed)
    common.log(f"writing {count} {side}x{side} JPEGs into {root} ({'UTKFace' if sources else 'drawn'} faces)")
    for name in ("female", "male"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        if sources:
            base = np.asarray(
                Image.open(sources[index % len(sources)]).convert("RGB").resize((side, side), Image.BICUBIC),
                np.float32,
            )
        else:
            base = _drawn_face(rng, side)
        noisy = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        folder = "female" if index % 2 == 0 else "male"
        Image.fromarray(noisy).save(root / folder / f"{index:05d}.jpg", quality=90)
    marker.write_text(expected)
    return root


def link_utkface_tree(utk_root: Path, out: Path, limit: int | None) -> Path:
    """Class sub-folders of symbolic links to UTKFace images, for the Keras loader.

    Args:
        utk_root: the UTKFace folder (``images/`` + ``labels.csv``).
        out: folder to create ``female/`` and ``male/`` in (rebuilt each call).
        limit: use only the first ``limit`` listed images (``None``: all).

    Returns:
        ``out``.
    """
    rows = _utkface_rows(utk_root)[:limit]
    missing = [str(p) for p, _ in rows if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} UTKFace files listed in labels.csv are missing, e.g. {missing[:3]}")
    for name in ("female", "male"):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
    for path, gender in rows:
        (out / ("female" if gender == 1 else "male") / path.name).symlink_to(path.resolve())
    return out


def class_tree_files(root: Path) -> tuple[list[str], np.ndarray]:
    """Paths and labels of a ``root/<class>/*`` tree, classes in sorted order like Keras."""
    paths, labels = [], []
    for label, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                paths.append(str(path))
                labels.append(label)
    return paths, np.asarray(labels, np.int32)


def warm_file_cache(paths: list[str]) -> int:
    """Read every file once so the OS page cache holds it; returns the bytes read."""
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += len(handle.read())
    return total


# --------------------------------------------------------------------------------------
# The two loaders
# --------------------------------------------------------------------------------------


#: What each loader does, recorded in the JSON (issue 13: the work must be the same).
LOADER_DESCRIPTIONS = {
    "adiencekit": (
        "build_pipeline(training=True, seed=0, cache=True, output_dtype='uint8'): the configuration "
        "train() uses (a seed makes the parallel maps deterministic; uint8 batches, the model casts "
        "on its device); read file, reduced-ratio JPEG decode, area resize to image_size (uint8), "
        "in-memory cache of the uint8 images, shuffle of the whole set re-drawn each epoch, "
        "per-image random crop + random flip, batch, prefetch"
    ),
    "adiencekit_float32": (
        "as 'adiencekit' with output_dtype='float32' (one float32 cast per batch in the pipeline): "
        "train()'s configuration before 2026-11-28, and the output type of the Keras loader"
    ),
    "adiencekit_unordered": (
        "as 'adiencekit' with deterministic=False (elements may leave the parallel maps out of "
        "order; each keeps its own augmentation): what making it train()'s default would bring"
    ),
    "adiencekit_no_augmentation": (
        "as 'adiencekit' but training=False with shuffle=True: the centre crop instead of random "
        "crops and flips (a fixed slice), still reshuffled each epoch: the least work a loader of "
        "this output can do, an upper bound for any per-image random crop, not a training setting"
    ),
    "adiencekit_grain": (
        "as 'adiencekit' with format='grain' (build_grain_pipeline: Pillow decode with the same "
        "reduced-ratio rule, NumPy area resize, in-memory cache, whole-set shuffle re-drawn each "
        "epoch, per-image random crop + flip, os.cpu_count() threads, batch, prefetch; no TensorFlow)"
    ),
    "keras": (
        "keras.utils.image_dataset_from_directory(batch_size=None, image_size, bilinear resize, "
        "float32), .cache() of the unbatched decoded images, .shuffle(whole set, "
        "reshuffle_each_iteration=True), per-image keras.layers.RandomCrop + RandomFlip('horizontal') "
        "in a parallel .map, .batch, .prefetch"
    ),
}
LOADERS = tuple(LOADER_DESCRIPTIONS)


def adiencekit_loader(
    paths: list[str], labels: np.ndarray, cfg: dict[str, int], *, deterministic: bool | None = None,
    output_dtype: str | None = None, augment: bool = True, cache: bool = True,
) -> Any:
    """adiencekit's training pipeline as ``train()`` builds it (seed given; ``cache=True`` by default).

    ``output_dtype`` defaults to train()'s (``TRAINING_INPUT_DTYPE``); ``augment=False``
    takes the centre crop (still reshuffled): the no-augmentation bound.
    """
    from adiencekit.data.pipeline import build_pipeline
    from adiencekit.training.fit import TRAINING_INPUT_DTYPE

    return build_pipeline(
        paths,
        labels,
        training=augment,
        shuffle=True,
        image_size=cfg["image_size"],
        crop_size=cfg["crop_size"],
        batch_size=cfg["batch_size"],
        seed=0,
        cache=cache,
        deterministic=deterministic,
        output_dtype=output_dtype or TRAINING_INPUT_DTYPE,
    )


def keras_loader(directory: Path, cfg: dict[str, int], count: int, *, cache: bool = True) -> Any:
    """The plain Keras way, doing the library's work: per-image crop and flip, reshuffled epochs.

    ``cache`` puts ``.cache()`` before the shuffle (unbatched decoded images).
    """
    import keras
    import tensorflow as tf

    ds = keras.utils.image_dataset_from_directory(
        directory,
        labels="inferred",
        label_mode="int",
        image_size=(cfg["image_size"], cfg["image_size"]),
        batch_size=None,
        shuffle=True,
        seed=0,
        follow_links=True,
        verbose=False,
    )
    crop = keras.layers.RandomCrop(cfg["crop_size"], cfg["crop_size"], seed=0)
    flip = keras.layers.RandomFlip("horizontal", seed=1)
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(count, seed=0, reshuffle_each_iteration=True)
    ds = ds.map(lambda x, y: (flip(crop(x, training=True), training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(cfg["batch_size"]).prefetch(tf.data.AUTOTUNE)


def epoch_seconds(dataset: Any, expected_images: int, crop_size: int) -> float:
    """Seconds to iterate one epoch; checks the image count and crop shape."""
    start = time.perf_counter()
    images = 0
    for batch_images, _ in dataset:
        images += int(batch_images.shape[0])
        shape = tuple(batch_images.shape[1:])
    elapsed = time.perf_counter() - start
    if images != expected_images:
        raise RuntimeError(f"epoch yielded {images} images, expected {expected_images}")
    if shape != (crop_size, crop_size, 3):
        raise RuntimeError(f"epoch yielded images of shape {shape}, expected {(crop_size, crop_size, 3)}")
    return elapsed


def ratio_stats(library_seconds: list[float], baseline_seconds: list[float]) -> dict[str, Any]:
    """Per-repeat speed ratios (baseline time / library time, > 1 = library faster) and their spread.

    Repeats are paired in the order they ran (interleaved), so each ratio compares two
    epochs measured under nearly the same machine load.

    Example:

    >>> stats = ratio_stats([1.0, 1.0, 2.0, 1.0], [2.0, 3.0, 2.0, 4.0])
    >>> stats["per_repeat"], stats["median"], stats["lower_quartile"]
    ([2.0, 3.0, 1.0, 4.0], 2.5, 1.75)
    """
    ratios = [b / a for a, b in zip(library_seconds, baseline_seconds)]
    q1, q2, q3 = (float(q) for q in np.quantile(ratios, [0.25, 0.5, 0.75]))
    return {
        "per_repeat": [round(r, 4) for r in ratios],
        "median": round(q2, 4),
        "lower_quartile": round(q1, 4),
        "upper_quartile": round(q3, 4),
        "min": round(min(ratios), 4),
        "max": round(max(ratios), 4),
    }


def _spread(seconds: list[float], count: int) -> dict[str, Any]:
    rates = [count / s for s in seconds]
    q1, q2, q3 = (float(q) for q in np.quantile(rates, [0.25, 0.5, 0.75]))
    return {"median": round(q2, 1), "lower_quartile": round(q1, 1), "upper_quartile": round(q3, 1),
            "min": round(min(rates), 1), "max": round(max(rates), 1)}


def measure_dataset(
    name: str, directory: Path, cfg: dict[str, int], first_repeats: int, cached_repeats: int,
    loaders: tuple[str, ...] = LOADERS,
) -> dict[str, Any]:
    """First-epoch and cached-epoch images/s of every loader on one class tree, interleaved.

    Every first-epoch repeat builds a fresh pipeline of each loader in turn (the order
    rotates each repeat); the last repeat's filled pipelines then run ``cached_repeats``
    cached epochs, again in rotating order. The load average is sampled after every round.
    """
    paths, labels = class_tree_files(directory)
    count = len(paths)
    size_bytes = warm_file_cache(paths)
    builders: dict[str, Callable[[], Any]] = {
        "adiencekit": lambda: adiencekit_loader(paths, labels, cfg),
        "adiencekit_float32": lambda: adiencekit_loader(paths, labels, cfg, output_dtype="float32"),
        "adiencekit_unordered": lambda: adiencekit_loader(paths, labels, cfg, deterministic=False),
        "adiencekit_no_augmentation": lambda: adiencekit_loader(paths, labels, cfg, augment=False),
        "keras": lambda: keras_loader(directory, cfg, count),
        "adiencekit_grain": lambda: grain_loader(paths, labels, cfg),
    }
    builders = {k: builders[k] for k in loaders}
    first: dict[str, list[float]] = {k: [] for k in builders}
    cached: dict[str, list[float]] = {k: [] for k in builders}
    filled: dict[str, Any] = {}
    loads: list[list[float] | None] = [common.load_average()]

    def rotated(repeat: int) -> list[str]:
        keys = list(builders)
        shift = repeat % len(keys)
        return keys[shift:] + keys[:shift]

    for repeat in range(first_repeats):
        for key in rotated(repeat):
            filled.pop(key, None)
            dataset = builders[key]()
            first[key].append(epoch_seconds(dataset, count, cfg["crop_size"]))
            filled[key] = dataset
        loads.append(common.load_average())
        common.log(f"{name}: first epochs, repeat {repeat + 1}/{first_repeats}: "
                   + ", ".join(f"{k} {count / first[k][-1]:.0f}" for k in builders) + f" img/s; load {loads[-1]}")
    for repeat in range(cached_repeats):
        for key in rotated(repeat):
            cached[key].append(epoch_seconds(filled[key], count, cfg["crop_size"]))
        loads.append(common.load_average())
    filled.clear()
    common.log(f"{name}: cached epochs (median): "
               + ", ".join(f"{k} {count / float(np.median(cached[k])):.0f}" for k in builders) + " img/s")

    result: dict[str, Any] = {
        "dataset": name, "images": count, "megabytes": round(size_bytes / 2**20, 1),
        "first_repeats": first_repeats, "cached_repeats": cached_repeats,
        "load_average_samples": loads,
    }
    for key in builders:
        result[f"{key}_first_epoch"] = common.Timing(first[key]).as_dict()
        result[f"{key}_cached_epoch"] = common.Timing(cached[key]).as_dict()
        result[f"{key}_first_images_per_s"] = count / common.Timing(first[key]).median
        result[f"{key}_cached_images_per_s"] = count / common.Timing(cached[key]).median
        result[f"{key}_first_images_per_s_spread"] = _spread(first[key], count)
        result[f"{key}_cached_images_per_s_spread"] = _spread(cached[key], count)
    if "keras" in builders:
        for key in (k for k in builders if k != "keras"):
            suffix = "" if key == "adiencekit" else key[len("adiencekit"):]
            first_stats = ratio_stats(first[key], first["keras"])
            cached_stats = ratio_stats(cached[key], cached["keras"])
            result[f"first_epoch_ratio{suffix}_stats"] = first_stats
            result[f"cached_ratio{suffix}_stats"] = cached_stats
            result[f"first_epoch_ratio{suffix}"] = first_stats["median"]
            result[f"cached_ratio{suffix}"] = cached_stats["median"]
        first_stats, cached_stats = result["first_epoch_ratio_stats"], result["cached_ratio_stats"]
        result["targets_met"] = {
            # "met": the median of the per-repeat ratios reaches the target; the lower quartile is
            # reported beside it ("robustly met" when it too reaches the target).
            "first_epoch_ratio>=1.5": first_stats["median"] >= TARGETS["first_epoch_ratio"],
            "cached_ratio>=10": cached_stats["median"] >= TARGETS["cached_ratio"],
            "cached_images_per_s>=3000": result["adiencekit_cached_images_per_s"] >= TARGETS["cached_images_per_s"],
        }
        result["targets_met_lower_quartile"] = {
            "first_epoch_ratio>=1.5": first_stats["lower_quartile"] >= TARGETS["first_epoch_ratio"],
            "cached_ratio>=10": cached_stats["lower_quartile"] >= TARGETS["cached_ratio"],
        }
    result.update(grain_against_tf_data(first, cached))
    return result


# --------------------------------------------------------------------------------------
# Grain beside tf.data (issue 24): the same work through the two engines, same run
# --------------------------------------------------------------------------------------

#: Issue 24: Grain's first epoch at least as fast as tf.data's, its cached epoch within 20%.
GRAIN_TARGETS = {"grain_first_epoch_ratio": 1.0, "grain_cached_ratio": 0.8}


def default_loaders() -> tuple[str, ...]:
    """Every loader, less ``adiencekit_grain`` where the ``grain`` package is not installed."""
    import importlib.util

    return tuple(k for k in LOADERS if k != "adiencekit_grain" or importlib.util.find_spec("grain") is not None)


def grain_loader(paths: list[str], labels: np.ndarray, cfg: dict[str, int]) -> Any:
    """adiencekit's training pipeline as ``train()`` builds it, through Grain (``format="grain"``)."""
    from adiencekit.data.grain_pipeline import build_grain_pipeline
    from adiencekit.training.fit import TRAINING_INPUT_DTYPE

    return build_grain_pipeline(
        paths, labels, training=True, shuffle=True, image_size=cfg["image_size"], crop_size=cfg["crop_size"],
        batch_size=cfg["batch_size"], seed=0, cache=True, output_dtype=TRAINING_INPUT_DTYPE,
    )


def grain_against_tf_data(first: dict[str, list[float]], cached: dict[str, list[float]]) -> dict[str, Any]:
    """Grain's speed ratios against tf.data (tf.data seconds / Grain seconds: > 1 = Grain faster).

    Empty unless both ``adiencekit`` (tf.data) and ``adiencekit_grain`` ran.

    Example:

    >>> out = grain_against_tf_data({"adiencekit": [2.0], "adiencekit_grain": [1.0]},
    ...                             {"adiencekit": [1.0], "adiencekit_grain": [2.0]})
    >>> out["grain_first_epoch_ratio"], out["grain_cached_ratio"], out["grain_targets_met"]
    (2.0, 0.5, {'grain_first_epoch_ratio>=1': True, 'grain_cached_ratio>=0.8': False})
    """
    if "adiencekit" not in first or "adiencekit_grain" not in first:
        return {}
    first_stats = ratio_stats(first["adiencekit_grain"], first["adiencekit"])
    cached_stats = ratio_stats(cached["adiencekit_grain"], cached["adiencekit"])
    return {
        "grain_first_epoch_ratio_stats": first_stats,
        "grain_cached_ratio_stats": cached_stats,
        "grain_first_epoch_ratio": first_stats["median"],
        "grain_cached_ratio": cached_stats["median"],
        "grain_targets_met": {
            f"grain_first_epoch_ratio>={GRAIN_TARGETS['grain_first_epoch_ratio']:g}":
                first_stats["median"] >= GRAIN_TARGETS["grain_first_epoch_ratio"],
            f"grain_cached_ratio>={GRAIN_TARGETS['grain_cached_ratio']:g}":
                cached_stats["median"] >= GRAIN_TARGETS["grain_cached_ratio"],
        },
    }


def print_grain_row(row: dict[str, Any]) -> None:
    """One line: Grain and tf.data images/s side by side, their ratios and the issue 24 targets."""
    if "grain_first_epoch_ratio" not in row:
        return
    met = ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in row["grain_targets_met"].items())
    print(f"{row['dataset']}: Grain vs tf.data, first epoch {row['adiencekit_grain_first_images_per_s']:.0f} vs "
          f"{row['adiencekit_first_images_per_s']:.0f} img/s (ratio {row['grain_first_epoch_ratio']:.2f}), cached "
          f"{row['adiencekit_grain_cached_images_per_s']:.0f} vs {row['adiencekit_cached_images_per_s']:.0f} img/s "
          f"(ratio {row['grain_cached_ratio']:.2f}); {met}")


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns the process exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--synthetic-count", type=int, default=2000, help="816x816 JPEGs to generate (default 2000)")
    parser.add_argument("--utkface-limit", type=int, default=3000, help="UTKFace images to use (default 3000; 0 = all)")
    parser.add_argument("--first-repeats", type=int, default=5, help="fresh pipelines per loader (default 5)")
    parser.add_argument("--cached-repeats", type=int, default=9, help="cached epochs per loader (default 9)")
    parser.add_argument("--loaders", nargs="+", choices=LOADERS, default=list(default_loaders()),
                        help="loaders to compare (default all; ratios need 'keras'; Grain's need 'adiencekit')")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--work-dir", type=Path, default=common.WORK_DIR, help="where generated images go")
    args = parser.parse_args(argv)

    if args.smoke:
        cfg = {"image_size": 64, "crop_size": 56, "batch_size": 8}
        count, side, utk_limit, first_repeats, cached_repeats = 16, 96, 16, 2, 2
        work = args.work_dir / "smoke"
    else:
        cfg = {"image_size": 256, "crop_size": 227, "batch_size": 32}
        count, side = args.synthetic_count, ADIENCE_SIDE
        utk_limit = args.utkface_limit or None
        first_repeats, cached_repeats = args.first_repeats, args.cached_repeats
        work = args.work_dir
    if min(count, first_repeats, cached_repeats) < 1:
        parser.error("--synthetic-count, --first-repeats and --cached-repeats must be >= 1")

    env = common.environment()
    load_at_start = common.load_average()
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}

    utk = args.shared_data / "utkface"
    tree = write_adience_size_tree(work / f"adience{side}-{count}", count, side, utk=utk)
    results.append(measure_dataset(f"synthetic-{side}", tree, cfg, first_repeats, cached_repeats, tuple(args.loaders)))

    if (utk / "labels.csv").exists():
        linked = link_utkface_tree(utk, work / f"utkface-links-{utk_limit or 'all'}", utk_limit)
        results.append(measure_dataset("utkface-200", linked, cfg, first_repeats, cached_repeats, tuple(args.loaders)))
    else:
        skipped["utkface"] = f"not found at {utk} (see shared/data/README.md)"
        common.log(f"skipping UTKFace: {skipped['utkface']}")

    columns = common.PIPELINE_COLUMNS
    common.print_table(results, columns, title=f"Input pipeline, images/s (batch {cfg['batch_size']}, resize {cfg['image_size']}, crop {cfg['crop_size']})")
    for row in results:
        met = ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in row.get("targets_met", {}).items())
        print(f"{row['dataset']}: {met}")
        print_grain_row(row)
    common.save_results(
        SUITE, args, env, {
            "config": cfg, "targets": TARGETS, "loaders": {k: LOADER_DESCRIPTIONS[k] for k in args.loaders},
            "statistic": "ratio = median over repeats of (Keras epoch seconds / library epoch seconds), "
                         "repeats interleaved; 'met' when that median reaches the target, the lower "
                         "quartile is in targets_met_lower_quartile",
            "load_average_start_end": [load_at_start, common.load_average()],
            "results": results, "skipped": skipped,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
