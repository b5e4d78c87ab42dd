# Cost per training batch of the photo augmentation layers inside tf.data, as `train` maps them:
# PhotoAugmentation (augment="strong") and PhotoDegradation (augment="photo"), alone and
# together, and PhotoDegradation's steps one at a time; plus PIL's JPEG round trip per batch
# (what the layer runs on a NumPy/Grain path).
#
#   python experiments/degradation_cost.py                 # 64 images of 96x96, 12 batches each, ~1-2 min
#   python experiments/degradation_cost.py --size 112      # another side
"""Photo augmentation cost: milliseconds (wall clock and CPU) per batch in tf.data.

Example:

>>> import degradation_cost
>>> sorted(degradation_cost.VARIANTS)[:2]
['PhotoAugmentation (strong)', 'PhotoAugmentation + PhotoDegradation (photo)']
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import numpy as np

import studies  # experiments/studies.py: the benchmark helpers on the path
from studies import common

SUITE = "degradation_cost"
_OFF = dict(resolution=0, yaw=0, gamma=0, side_light=0, noise=0, jpeg=0)
#: name -> (PhotoAugmentation kwargs or None, PhotoDegradation kwargs or None)
VARIANTS: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "PhotoAugmentation (strong)": ({}, None),
    "PhotoDegradation, defaults": (None, {}),
    "PhotoAugmentation + PhotoDegradation (photo)": ({}, {}),
    "PhotoDegradation: down/up scaling only (p=1)": (None, {**_OFF, "resolution": 1.0}),
    "PhotoDegradation: yaw warp only": (None, {**_OFF, "yaw": 0.15}),
    "PhotoDegradation: gamma + side light only": (None, {**_OFF, "gamma": 0.3, "side_light": 0.2}),
    "PhotoDegradation: noise only (p=1)": (None, {**_OFF, "noise": 1.0}),
    "PhotoDegradation: JPEG only (p=1)": (None, {**_OFF, "jpeg": 1.0}),
}


def measure(tf: Any, images: np.ndarray, layers: list[Any], batches: int) -> dict[str, float]:
    """Median wall and CPU milliseconds per batch of a tf.data map over ``layers`` (one warm-up pass)."""
    dataset = tf.data.Dataset.from_tensors(images).repeat(batches)

    def apply(x: Any) -> Any:
        for layer in layers:
            x = layer(x, training=True)
        return x

    dataset = dataset.map(apply)
    for _ in dataset.take(2):
        pass
    walls, cpus = [], []
    iterator = iter(dataset)
    for _ in range(batches):
        wall, cpu = time.perf_counter(), time.process_time()
        next(iterator)
        walls.append(1000 * (time.perf_counter() - wall))
        cpus.append(1000 * (time.process_time() - cpu))
    return {"wall_ms": round(statistics.median(walls), 1), "cpu_ms": round(statistics.median(cpus), 1)}


def main(argv: list[str] | None = None) -> int:
    """Command line: measure every variant, write the JSON, print the table."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96, help="image side (default 96: the shipped recipe's crop)")
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--batches", type=int, default=12, help="timed batches per variant (default 12)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.batches, args.batch = 2, 8
    import tensorflow as tf

    from adiencekit.layers import PhotoAugmentation
    from adiencekit.layers.photo_degradation import PhotoDegradation, _pil_jpeg

    images = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3)).astype("float32")
    rows = []
    for name, (augment, degrade) in VARIANTS.items():
        layers = ([PhotoAugmentation(seed=0, **augment)] if augment is not None else []) + (
            [PhotoDegradation(seed=0, **degrade)] if degrade is not None else [])
        rows.append({"variant": name, **measure(tf, images, layers, args.batches)})
        common.log(f"{name}: {rows[-1]}")
    pixels = images.astype("uint8")
    walls = []
    for _ in range(max(2, args.batches // 3)):
        start = time.perf_counter()
        for image in pixels:
            _pil_jpeg(image, 60)
        walls.append(1000 * (time.perf_counter() - start))
    rows.append({"variant": "PIL JPEG round trip, whole batch (NumPy/Grain path)",
                 "wall_ms": round(statistics.median(walls), 1), "cpu_ms": None})
    payload = {"suite": SUITE, "smoke": args.smoke, **common.environment(), "batch": args.batch, "size": args.size,
               "timed_batches": args.batches, "where": "tf.data map over batches, TensorFlow ops, no parallel calls",
               "rows": rows}
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    common.print_table(rows, ["variant", "wall_ms", "cpu_ms"],
                       title=f"ms per batch of {args.batch} images {args.size}x{args.size}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
