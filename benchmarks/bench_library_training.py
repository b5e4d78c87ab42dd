# End-to-end training through the library: train() with the random crop and flip in the
# input pipeline (TrainConfig.augment_on="host") against in the training step ("device").
#
#   KERAS_BACKEND=jax python benchmarks/bench_library_training.py          # ~2 min on 2 CPU cores
#   KERAS_BACKEND=jax python benchmarks/bench_library_training.py --smoke  # ~30 s
#
# On a GPU the same comparison (Levi-Hassner, 256 px, batch 256) is a step of gpu_suite.py.
"""End-to-end training: ``train()`` with ``augment_on`` host against device, same data, model and settings.

Runs on any backend with the Grain input pipeline (no TensorFlow needed). Rounds
alternate host and device; each round trains from scratch into its own run folder and
reads the train images/s of every epoch from the run's ``history.json``.

Example:

>>> import bench_library_training
>>> sorted(bench_library_training.PROFILES)
['cpu', 'gpu', 'smoke']
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import common

SUITE = "library_training"

#: Data (``make_synthetic_adience`` arguments) and ``TrainConfig`` settings per profile.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"data": {"users_per_fold": 2, "images_per_user": 8, "image_sizes": (80,)},
              "settings": {"image_size": 72, "crop_size": 64, "batch_size": 8, "epochs": 2, "precision": "float32"}},
    # the quick recipe's sizes, for a few CPU cores: 1,200 faces
    "cpu": {"data": {"users_per_fold": 4, "images_per_user": 60, "image_sizes": (80,)},
            "settings": {"image_size": 72, "crop_size": 64, "batch_size": 32, "epochs": 4, "precision": "float32"}},
    # Levi-Hassner's protocol sizes on a GPU: 4,000 faces
    "gpu": {"data": {"users_per_fold": 8, "images_per_user": 100, "image_sizes": (256,)},
            "settings": {"image_size": 256, "crop_size": None, "batch_size": 256, "epochs": 4,
                         "precision": "mixed_bfloat16"}},
}


def run_library_training_step(profile: str, model: str, work: Path) -> dict[str, Any]:
    """``train()`` end to end through the library's own path (Grain pipeline, run folder, no
    TensorFlow), the random crop and flip on the host against in the training step on the
    device (``TrainConfig.augment_on``), same data, model and settings, one after the other.

    Train images/s per epoch come from the run's ``history.json`` (``ThroughputLogger``:
    training images over the epoch's fit time, validation excluded); the first epoch
    decodes and compiles, the later ones read the in-memory cache.
    """
    from adiencekit.data import make_synthetic_adience
    from adiencekit.errors import TrainingDivergedError
    from adiencekit.training import TrainConfig, train

    data, settings = PROFILES[profile]["data"], PROFILES[profile]["settings"]
    root = work / f"library-training-{profile}"
    if not (root / "fold_0_data.txt").is_file():  # made once, reused by a second call
        make_synthetic_adience(root, seed=0, **data)
    rows = []
    for place in ("host", "device"):
        config = TrainConfig(data=str(root), model=model, cache=True, input_format="grain", jit_compile=True,
                             augment_on=place, early_stopping_patience=None, seed=0, **settings)
        run = work / f"library-training-{place}"
        start = time.perf_counter()
        outcome = "finished"
        try:
            train(config, run, overwrite=True, verbose=0)
        except TrainingDivergedError as error:  # the speed was still measured; say how it ended
            outcome = f"diverged: {error}"
        except Exception as error:  # noqa: BLE001 - e.g. no matplotlib for the plots after the epochs
            if not (run / "history.json").is_file():
                raise
            outcome = f"failed after its epochs: {type(error).__name__}: {error}"
        history = json.loads((run / "history.json").read_text())
        rates = [row["images_per_second"] for row in history]
        rows.append({
            "augment_on": place, "model": model, "outcome": outcome,
            "wall_seconds": round(time.perf_counter() - start, 2),
            "images_per_second_per_epoch": [round(r, 1) for r in rates],
            "cached_epochs_images_per_s_median": round(float(np.median(rates[1:])), 1) if len(rates) > 1 else None,
        })
        common.log(f"library training {model}, augment_on={place}: {rows[-1]['images_per_second_per_epoch']} img/s")
    host, device = (row["cached_epochs_images_per_s_median"] for row in rows)
    return {"config": {**settings, "model": model, "data": data, "input_format": "grain"}, "rows": rows,
            "device_over_host_cached": round(device / host, 3) if host and device else None}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison ``--rounds`` times; returns the process exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="host-then-device rounds (default 2)")
    parser.add_argument("--model", default="scratch_cnn", help="zoo model (default scratch_cnn; the GPU suite uses "
                        "levi_hassner)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="sizes (default: smoke with --smoke, gpu on a GPU, cpu otherwise)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    env = common.environment()
    profile = args.profile or ("smoke" if args.smoke else "gpu" if env["device"]["kind"] == "gpu" else "cpu")
    load_at_start = common.load_average()
    work = Path(tempfile.mkdtemp(prefix="adiencekit-library-training-"))
    rounds = [run_library_training_step(profile, args.model, work) for _ in range(args.rounds)]
    rows = [{"round": index + 1, **row} for index, result in enumerate(rounds) for row in result["rows"]]
    ratios = [result["device_over_host_cached"] for result in rounds]
    lines = [f"device / host cached-epoch train img/s per round: {ratios}"]
    return common.finish(
        SUITE, args, env, {
            "profile": profile, "config": rounds[0]["config"], "rounds": rounds,
            "device_over_host_cached_per_round": ratios,
            "load_average_start_end": [load_at_start, common.load_average()],
        },
        tables=[(rows, ["round", "augment_on", "model", "outcome", "cached_epochs_images_per_s_median",
                        "wall_seconds"], "train() end to end, crop and flip on the host vs on the device")],
        lines=lines,
    )


if __name__ == "__main__":
    sys.exit(main())
