# GPU suite: training (float32 / mixed_bfloat16 / XLA), batch-size scaling, host vs device
# input feeding, end-to-end training through the input pipeline (float32 and uint8
# output), inference (float32 and bf16 at a large batch) and peak device memory, on one
# GPU under KERAS_BACKEND=jax. Writes its JSON after EVERY measurement, so a run stopped
# by its time limit keeps everything it measured.
#
#   bash benchmarks/run_gpu.sh                  # ~5-6 min on one H100/H200 (installs .whl/ if needed)
#   KERAS_BACKEND=jax python benchmarks/gpu_suite.py --smoke    # ~1-2 min on a CPU
#
# Measurements run in priority order (PLAN) and stop at --budget seconds (default 300);
# each one skipped or failed is recorded in the JSON with the reason.
"""One-command GPU benchmark (JAX backend): training, input pipeline and inference, one JSON file.

Example:

>>> import gpu_suite
>>> gpu_suite.TRAINING_PLAN[0]
('levi_hassner', 'mixed_bfloat16+xla', True)
>>> [step[0] for step in gpu_suite.PLAN][:5]
['training', 'training', 'host_feed', 'host_feed_uint8', 'endtoend']
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

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
#: The bundled preset's network (``face_resnet`` multitask at 96 px, no plain-Keras twin):
#: what training the ``utkface_multitask`` recipe costs on a GPU.
BUNDLED_TRAINING: tuple[str, str, bool] = ("face_resnet_multitask", "mixed_bfloat16+xla", False)
SMOKE_TRAINING_PLAN: list[tuple[str, str, bool]] = [("scratch_cnn", "mixed_bfloat16+xla", True)]

#: Batch sizes of the scaling measurements (mixed_bfloat16+xla): Levi-Hassner, then (lower
#: in the plan) the fine-tuned Inception-v3, whose 4,000 img/s target was missed at 256
#: and met at 512 on the H200.
INCEPTION_SCALING_BATCHES = (128, 256, 512)
SCALING_BATCHES = (128, 256, 512, 1024, 2048)
#: Batch of the bf16 inference measurement.
LARGE_INFERENCE_BATCH = 1024

#: The whole run in priority order: (kind, argument). Kinds: "training" (one
#: TRAINING_PLAN entry), "host_feed" (the first entry with NumPy inputs: what the
#: host-to-device copy costs), "endtoend" (pipeline + fit, float32 and uint8 output),
#: "library_training" (train() through Grain, augment_on host against device),
#: "inference" (float32, batch 64), "inference_bf16" (mixed_bfloat16, large batch),
#: "scaling" (one (model, batch size)), "sync_cost" (the first training row with a sync per step).
PLAN: list[tuple[str, Any]] = [
    ("training", TRAINING_PLAN[0]),
    ("training", TRAINING_PLAN[1]),
    ("host_feed", TRAINING_PLAN[0]),
    ("host_feed_uint8", (TRAINING_PLAN[0][0], TRAINING_PLAN[0][1], False)),
    ("endtoend", "levi_hassner"),
    ("library_training", "levi_hassner"),
    ("training", BUNDLED_TRAINING),
    ("inference_bf16", ["levi_hassner", "modified_inception", "face_resnet_multitask"]),
    *[("scaling", ("levi_hassner", b)) for b in SCALING_BATCHES],
    ("sync_cost", (TRAINING_PLAN[0][0], TRAINING_PLAN[0][1], False)),
    *[("training", item) for item in TRAINING_PLAN[2:]],
    *[("scaling", ("modified_inception", b)) for b in INCEPTION_SCALING_BATCHES],
    ("inference", None),
]
SMOKE_PLAN: list[tuple[str, Any]] = [
    ("training", SMOKE_TRAINING_PLAN[0]),
    ("host_feed", SMOKE_TRAINING_PLAN[0]),
    ("host_feed_uint8", (SMOKE_TRAINING_PLAN[0][0], SMOKE_TRAINING_PLAN[0][1], False)),
    ("endtoend", "levi_hassner"),
    ("library_training", "scratch_cnn"),
    ("inference_bf16", ["scratch_cnn"]),
    ("scaling", ("scratch_cnn", 4)),
    ("sync_cost", (SMOKE_TRAINING_PLAN[0][0], SMOKE_TRAINING_PLAN[0][1], False)),
    ("inference", None),
]
#: How each training kind feeds its batches (see ``bench_training.run_training``).
FEEDS = {"training": "device", "scaling": "device", "host_feed": "host", "host_feed_uint8": "host_uint8",
         "sync_cost": "device"}
#: Training kinds and their step timer (``bench_training.TIMERS``): every row is timed by
#: windows (one sync per fit call) except ``sync_cost``, the first training row again with
#: the per-step callback (a device sync after every step), so the JSON holds what a sync
#: per step costs, measured in the same run.
TIMER = {"training": "window", "scaling": "window", "host_feed": "window", "host_feed_uint8": "window",
         "sync_cost": "per_step"}
#: Seconds each kind is assumed to need at least (a step that would start with less
#: left in the budget is skipped and recorded).
RESERVE_S = {"library_training": 90.0, "sync_cost": 30.0, "training": 40.0, "host_feed": 30.0, "host_feed_uint8": 30.0, "endtoend": 60.0, "inference": 40.0,
             "inference_bf16": 30.0, "scaling": 20.0}


def device_memory() -> dict[str, Any] | None:
    """Bytes in use and peak bytes of the first JAX device (``None`` where not reported, e.g. CPU)."""
    try:
        import jax

        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        return None
    if not stats:
        return None
    keys = ("bytes_in_use", "peak_bytes_in_use", "bytes_limit")
    return {k: int(stats[k]) for k in keys if k in stats}


def sync_cost(window_rows: list[dict[str, Any]], per_step_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a device sync after every step costs: the same model timed both ways, same run.

    Compares each per-step-timed row with the window-timed training row of the same
    model, variant and batch (``None`` when there is no pair).

    >>> row = {"model": "m", "variant": "v", "batch": 512}
    >>> sync_cost([{**row, "library_images_per_s": 40000.0}], [{**row, "library_images_per_s": 35000.0}])
    {'model': 'm', 'variant': 'v', 'batch': 512, 'window_step_ms': 12.8, 'per_step_sync_step_ms': 14.629, 'sync_ms_per_step': 1.829, 'share_of_step': 0.125}
    """
    for slow in per_step_rows:
        for fast in window_rows:
            if all(fast[k] == slow[k] for k in ("model", "variant", "batch")):
                window = 1000.0 * fast["batch"] / fast["library_images_per_s"]
                synced = 1000.0 * slow["batch"] / slow["library_images_per_s"]
                return {"model": fast["model"], "variant": fast["variant"], "batch": fast["batch"],
                        "window_step_ms": round(window, 3), "per_step_sync_step_ms": round(synced, 3),
                        "sync_ms_per_step": round(synced - window, 3), "share_of_step": round((synced - window) / synced, 3)}
    return None


def synthetic_jpeg_tree(root: Path, count: int, side: int) -> Path:
    """``count`` random-content ``side x side`` JPEGs in ``root/{female,male}/`` (for the pipeline)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("female", "male"):
        (root / name).mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
    for index in range(count):
        image = np.roll(base, index * 7, axis=1)
        Image.fromarray(image).save(root / ("female" if index % 2 else "male") / f"{index:05d}.jpg", quality=90)
    return root


def run_endtoend_step(profile: str, work: Path) -> dict[str, Any]:
    """Pipeline + ``fit`` (Levi-Hassner, XLA): float32 vs uint8 output vs the Keras loader."""
    try:
        import tensorflow  # noqa: F401 - tf.data is the input pipeline
    except ImportError as error:
        return {"skipped": f"tensorflow is not installed ({error}); the input pipeline is tf.data"}
    import bench_endtoend

    if profile == "smoke":
        cfg = {"image_size": 76, "crop_size": 67, "batch_size": 4, "warmup_steps": 2, "cache": True}
        count, steps, repeats = 16, 2, 1
    else:
        cfg = {"image_size": 256, "crop_size": 227, "batch_size": 256, "warmup_steps": 3, "cache": True}
        count, steps, repeats = 2048, 16, 3
    tree = synthetic_jpeg_tree(work / f"e2e-{count}", count, cfg["image_size"])
    result = bench_endtoend.run_endtoend(tree, cfg, steps=steps, repeats=repeats, jit_compile=True)
    result["config"] = cfg
    result["data"] = f"{count} random-content {cfg['image_size']}px JPEGs, cached after the first pass"
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the plan within the budget, writing the JSON after each step; return the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of measurement (default 300)")
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error(f"--budget must be > 0, got {args.budget}")
    start = time.monotonic()

    import keras

    if keras.backend.backend() != "jax":
        parser.error(f"the GPU suite runs on KERAS_BACKEND=jax, got {keras.backend.backend()!r}")
    import bench_inference
    import bench_training

    env = common.environment()
    kind = env["device"]["kind"]
    if kind != "gpu" and not args.smoke:
        common.log(f"warning: no GPU found ({env['device']}); running the GPU profile on {kind}")
    profile = "smoke" if args.smoke else "gpu"
    plan = SMOKE_PLAN if args.smoke else PLAN
    budget = common.Budget(args.budget)
    out = args.out or common.default_out_path(SUITE, env["device"], smoke=args.smoke)
    payload: dict[str, Any] = {
        "suite": SUITE, "smoke": args.smoke, **env,
        "status": "running", "budget_seconds": args.budget,
        "plan": [[k, a] for k, a in plan],
        "what_is_timed": (
            "every training row is timed in windows: one fit() call of N steps from on_epoch_begin to "
            "on_epoch_end, which waits for the last step once (bench_training.TIMERS); the 'sync_cost' rows "
            "time the first training row again with a per-batch callback that syncs after every step, "
            "and 'sync_cost_summary' says what that sync costs per step. "
            "Training rows with feed='device': batches made on the device and fed to fit() through a "
            "generator (Keras 3 passes jax.Array batches on untouched), so no host-to-device copy is in "
            "the timed steps; the 'host_feed' row feeds NumPy arrays (Keras's array adapter slices them "
            "on the host and copies each batch to the device inside the step, as fit() does with any "
            "in-memory array, jax.Array included, which it converts to NumPy); 'host_feed_uint8' does the "
            "same with uint8 images (a quarter of the bytes, what output_dtype='uint8' gives fit())"
        ),
        "training": {"rows": [], "skipped": []},
        "host_feed": [],
        "host_feed_uint8": [],
        "scaling": [],
        "sync_cost": [],
        "endtoend": None,
        "library_training": None,
        "inference": {"rows": [], "baseline": None, "skipped": []},
        "inference_bf16": {"rows": [], "skipped": []},
        "errors": [],
        "device_memory": [],
    }

    def save(step: str) -> None:
        payload["wall_seconds"] = time.monotonic() - start
        memory = device_memory()
        payload["device_memory"].append({"after": step, **(memory or {})})
        common.write_json(payload, out)

    save("start")
    faces = bench_inference.random_faces(8 if args.smoke else 64)
    face_source = f"{len(faces)} random 500x500 images (timing does not depend on content)"
    work = Path(tempfile.mkdtemp(prefix="adiencekit-gpu-"))
    for step_kind, arg in plan:
        label = f"{step_kind} {arg}"
        if budget.left() < RESERVE_S[step_kind] * (0.1 if args.smoke else 1.0):
            reason = f"time budget: {budget.left():.0f} s left"
            payload.setdefault("skipped", []).append({"step": label, "reason": reason})
            common.log(f"skip {label}: {reason}")
            continue
        common.log(f"step {label} ({budget.left():.0f} s left)")
        try:
            if step_kind in FEEDS:
                if step_kind == "scaling":
                    item = (arg[0], "mixed_bfloat16+xla", False)
                else:
                    item = tuple(arg)
                result = bench_training.run_training(
                    profile, [item], rounds=2, feed=FEEDS[step_kind], timer=TIMER[step_kind],
                    batch_override=arg[1] if step_kind == "scaling" else None,
                )
                for row in result["rows"]:
                    row["device_memory_after"] = device_memory()
                if step_kind == "training":
                    payload["training"]["rows"].extend(result["rows"])
                    payload["training"]["config"] = result["config"]
                    payload["training"]["gpu_targets"] = bench_training.gpu_target_check(payload["training"]["rows"])
                else:
                    payload[step_kind].extend(result["rows"])
                if step_kind == "sync_cost":
                    payload["sync_cost_summary"] = sync_cost(payload["training"]["rows"], payload["sync_cost"])
            elif step_kind == "endtoend":
                # The only step that may import TensorFlow (tf.data); the rest is JAX only.
                payload["tensorflow_imported_before_endtoend"] = "tensorflow" in sys.modules
                payload["endtoend"] = run_endtoend_step(profile, work)
            elif step_kind == "library_training":
                import bench_library_training

                payload["library_training"] = bench_library_training.run_library_training_step(profile, arg, work)
            elif step_kind in ("inference", "inference_bf16"):
                bf16 = step_kind == "inference_bf16"
                if bf16:
                    keras.config.set_dtype_policy("mixed_bfloat16")
                try:
                    result = bench_inference.run_inference(
                        profile, faces=faces, face_source=face_source, models=arg or (["scratch_cnn"] if args.smoke else None),
                        batch=(8 if args.smoke else LARGE_INFERENCE_BATCH) if bf16 else (4 if args.smoke else 64),
                        repeats=1 if args.smoke else 5, budget=budget, reserve_s=3.0 if args.smoke else 20.0,
                    )
                finally:
                    keras.config.set_dtype_policy("float32")
                result["policy"] = "mixed_bfloat16" if bf16 else "float32"
                payload[step_kind] = result
        except Exception as error:  # noqa: BLE001 - one failed step must not lose the others
            payload["errors"].append({"step": label, "error": repr(error), "traceback": traceback.format_exc()[-2000:]})
            common.log(f"step {label} failed: {error!r}")
        save(label)

    payload["status"] = "complete"
    save("end")
    rows = payload["training"]["rows"]
    common.print_table(rows, bench_training.TABLE_COLUMNS, title=f"Training ({env['device']['name']})")
    common.print_table(payload["scaling"], bench_training.TABLE_COLUMNS, title="Batch-size scaling")
    common.print_table(payload["host_feed"], bench_training.TABLE_COLUMNS, title="Host-fed inputs (float32)")
    common.print_table(payload["host_feed_uint8"], bench_training.TABLE_COLUMNS, title="Host-fed inputs (uint8)")
    common.print_table(payload["sync_cost"], bench_training.TABLE_COLUMNS, title="Timed with a sync per step")
    if payload.get("sync_cost_summary"):
        print(f"sync per step: {payload['sync_cost_summary']}")
    for key in ("inference", "inference_bf16"):
        common.print_table(payload[key].get("rows", []), bench_inference.TABLE_COLUMNS, title=key)
    for model, check in payload["training"].get("gpu_targets", {}).items():
        best = check["best_images_per_s"]
        print(f"target {model} >= {check['target_images_per_s']:,.0f} train img/s: "
              f"{ {True: 'met', False: 'MISSED', None: 'not measured'}[check['met']] } (best {best if best is None else round(best)})")
    print(f"wrote {out}")
    return 1 if payload["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
