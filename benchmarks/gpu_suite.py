# GPU suite: training (float32 / mixed_bfloat16 / XLA) and inference of the zoo on one
# GPU under KERAS_BACKEND=jax, on in-memory tensors, with no TensorFlow. Writes ONE JSON.
#
#   bash benchmarks/run_gpu.sh                  # ~5-6 min on one H100 (installs .whl/ if needed)
#   KERAS_BACKEND=jax python benchmarks/gpu_suite.py --smoke    # ~1 min on a CPU
#
# Measurements run in priority order and stop at --budget seconds (default 300), each
# skipped one recorded in the JSON, so the whole command stays under 6 minutes.
"""One-command GPU benchmark (JAX backend): training and inference suites, one JSON file.

Example:

>>> import gpu_suite
>>> gpu_suite.TRAINING_PLAN[0]
('levi_hassner', 'mixed_bfloat16+xla', True)
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import common

SUITE = "gpu"

#: Training measurements in priority order: (model key, variant, with baseline).
#: "+xla" = jit_compile=True; on JAX the variant without it runs the train step op by op.
TRAINING_PLAN: list[tuple[str, str, bool]] = [
    ("levi_hassner", "mixed_bfloat16+xla", True),
    ("modified_inception", "mixed_bfloat16+xla", True),
    ("levi_hassner", "float32+xla", False),
    ("modified_inception", "float32+xla", False),
    ("scratch_cnn", "mixed_bfloat16+xla", True),
    ("basic_inception", "mixed_bfloat16+xla", True),
    ("levi_hassner_multitask", "mixed_bfloat16+xla", True),
    ("modified_inception_multitask", "mixed_bfloat16+xla", False),
    ("levi_hassner", "mixed_bfloat16", False),
    ("scratch_cnn", "mixed_bfloat16", False),
]
SMOKE_PLAN: list[tuple[str, str, bool]] = [("scratch_cnn", "mixed_bfloat16+xla", True)]


def main(argv: list[str] | None = None) -> int:
    """Run training then inference within the budget; write one JSON; return the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of measurement (default 300)")
    parser.add_argument(
        "--training-share", type=float, default=0.7, help="share of the budget for training (default 0.7)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.training_share <= 1:
        parser.error(f"--training-share must be in (0, 1], got {args.training_share}")
    start = time.monotonic()

    import keras

    if keras.backend.backend() != "jax":
        parser.error(f"the GPU suite runs on KERAS_BACKEND=jax, got {keras.backend.backend()!r}")
    import bench_inference
    import bench_training

    env = common.environment()
    if "tensorflow" in sys.modules:
        common.log("warning: tensorflow was imported; the GPU path should not need it")
    env["tensorflow_imported"] = "tensorflow" in sys.modules
    kind = env["device"]["kind"]
    if kind != "gpu" and not args.smoke:
        common.log(f"warning: no GPU found ({env['device']}); running the GPU profile on {kind}")
    profile = "smoke" if args.smoke else "gpu"

    total = common.Budget(args.budget)
    training_budget = common.Budget(args.budget * args.training_share)
    training = bench_training.run_training(
        profile,
        SMOKE_PLAN if args.smoke else TRAINING_PLAN,
        rounds=2,
        budget=training_budget,
        reserve_s=5.0 if args.smoke else 45.0,
    )
    training["gpu_targets"] = bench_training.gpu_target_check(training["rows"])
    common.print_table(training["rows"], bench_training.TABLE_COLUMNS, title=f"Training ({env['device']['name']})")

    faces = bench_inference.random_faces(8 if args.smoke else 64)
    inference = bench_inference.run_inference(
        profile,
        faces=faces,
        face_source=f"{len(faces)} random 500x500 images (timing does not depend on content)",
        models=["scratch_cnn"] if args.smoke else None,
        batch=4 if args.smoke else 64,
        repeats=1 if args.smoke else 5,
        budget=total,
        reserve_s=3.0 if args.smoke else 20.0,
    )
    common.print_table(inference["rows"], bench_inference.TABLE_COLUMNS, title=f"Inference ({env['device']['name']})")
    for model, check in training["gpu_targets"].items():
        best = check["best_images_per_s"]
        print(f"target {model} >= {check['target_images_per_s']:,.0f} train img/s: "
              f"{'met' if check['met'] else 'MISSED'} (best {best if best is None else round(best)})")

    common.save_results(
        SUITE, args, env,
        {"training": training, "inference": inference, "wall_seconds": time.monotonic() - start},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
