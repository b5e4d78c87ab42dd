# Face detector speed (issue 23 groundwork): the mtcnn package's networks on TensorFlow
# (MTCNNDetector, today's default) against the same networks as Keras 3 models
# (KerasMTCNNDetector) on the TensorFlow and the JAX backend, per photo and at start-up.
#
#   python experiments/detector_speed.py            # about 4 minutes on 2 loaded CPU cores
#   python experiments/detector_speed.py --smoke    # one round, fewer photos (under a minute or two)
#
# Photos: the 19 real Adience crops (../shared/data/adience/faces, one or two faces each,
# 444-634 px) and composed group photos (benchmarks/group_photos.py compose_photo, 6
# UTKFace crops of 80-220 px on a 960 x 720 noise background). Each variant runs in its
# own process (a Keras backend is fixed per process): after one untimed pass over all
# photos, every photo is detected --repeats times and the median is kept; the figure is
# the mean of those medians over the photos. Variants are interleaved, --rounds rounds.
# Cold start: a fresh process that imports the detector, builds it and detects one
# Adience crop, timed from outside (time.perf_counter around the subprocess), the
# variants interleaved, --cold-repeats times each. Then what switching `predict` would
# give: Predictor(None, detector=...) on one photo in a fresh process, today's TensorFlow
# path against JAX with the Keras detector, without and with JAX's persistent
# compilation cache (PREDICT_VARIANTS).
"""Detection time per photo and at start-up: MTCNN on TensorFlow against MTCNN as Keras 3 models.

Example:

>>> import detector_speed
>>> sorted(detector_speed.VARIANTS)
['keras-jax', 'keras-tensorflow', 'mtcnn-tensorflow']
>>> detector_speed.VARIANTS["keras-jax"]["backend"]
'jax'
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# The benchmarks' helpers (environment capture, JSON, tables, options; group photos).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402  (benchmarks/ is not a package)

SUITE = "detector"
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ADIENCEKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))

#: Detector class (in adiencekit.inference) and Keras backend of each variant.
VARIANTS: dict[str, dict[str, str]] = {
    "mtcnn-tensorflow": {"module": "detection", "cls": "MTCNNDetector", "backend": "tensorflow"},
    "keras-tensorflow": {"module": "mtcnn_keras", "cls": "KerasMTCNNDetector", "backend": "tensorflow"},
    "keras-jax": {"module": "mtcnn_keras", "cls": "KerasMTCNNDetector", "backend": "jax"},
}

#: Run in a fresh process for the cold start: import, build, detect one photo.
COLD_SCRIPT = """
import sys, time
start = time.perf_counter()
from adiencekit.inference.{module} import {cls}
from adiencekit.inference.images import read_image
imported = time.perf_counter()
detector = {cls}()
built = time.perf_counter()
found = detector.detect(read_image(sys.argv[1]))
done = time.perf_counter()
print({{"import_s": imported - start, "build_s": built - imported, "detect_s": done - built,
       "faces": len(found), "tensorflow_imported": "tensorflow" in sys.modules}})
"""

#: What switching ``predict`` would give: ``Predictor(None, detector=...)`` (the bundled
#: model) on one photo in a fresh process; today's path (TensorFlow, "mtcnn") against the
#: JAX backend with "mtcnn-keras", without and with JAX's persistent compilation cache
#: (warmed by one untimed run). The JAX runs set ADIENCEKIT_VERBOSE=1: otherwise
#: adiencekit.quiet imports TensorFlow whenever it is installed, whatever the backend.
PREDICT_VARIANTS: dict[str, dict[str, Any]] = {
    "predict-tensorflow-mtcnn": {"backend": "tensorflow", "detector": "mtcnn", "jax_cache": False},
    "predict-jax-mtcnn-keras": {"backend": "jax", "detector": "mtcnn-keras", "jax_cache": False},
    "predict-jax-mtcnn-keras-cached": {"backend": "jax", "detector": "mtcnn-keras", "jax_cache": True},
}

PREDICT_SCRIPT = """
import sys, time
start = time.perf_counter()
from adiencekit.inference import Predictor
imported = time.perf_counter()
predictor = Predictor(None, detector=sys.argv[2])
built = time.perf_counter()
result = predictor.predict(sys.argv[1])
done = time.perf_counter()
print({"import_s": imported - start, "build_s": built - imported, "predict_s": done - built,
       "faces": len(result.faces), "tensorflow_imported": "tensorflow" in sys.modules})
"""


def _env(backend: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "2",
            **extra}


def _predict_env(spec: dict[str, Any], cache: Path) -> dict[str, str]:
    extra = {"ADIENCEKIT_VERBOSE": "1"} if spec["backend"] == "jax" else {}
    if spec["jax_cache"]:
        extra.update(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                     JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return _env(spec["backend"], **extra)


def make_photos(folder: Path, group_count: int, adience_count: int) -> dict[str, list[Path]]:
    """Write the photos every variant detects on (PNG, lossless) and return their paths by kind."""
    from group_photos import compose_photo
    from PIL import Image

    from adiencekit.inference.images import read_image

    adience = sorted((SHARED_DATA / "adience" / "faces").rglob("*.jpg"))[:adience_count]
    utk = sorted((SHARED_DATA / "utkface" / "images").glob("*.jpg"))
    if len(adience) < adience_count or len(utk) < 100:
        raise SystemExit(f"detector_speed: needs the real data under {SHARED_DATA} (adience/faces, utkface/images)")
    groups = []
    for seed in range(group_count):
        rng = np.random.default_rng(seed)
        faces = [read_image(utk[i]) for i in rng.choice(len(utk), 6, replace=False)]
        photo, _ = compose_photo(faces, canvas=(960, 720), sizes=(80, 220), seed=seed)
        path = folder / f"group_{seed}.png"
        Image.fromarray(photo).save(path)
        groups.append(path)
    return {"single": adience, "group": groups}


def worker(variant: str, photos: dict[str, list[str]], repeats: int) -> dict[str, Any]:
    """In a process of ``variant``'s backend: ms per photo by kind (mean over photos of the median)."""
    import importlib

    from adiencekit.inference.images import read_image

    spec = VARIANTS[variant]
    detector = getattr(importlib.import_module(f"adiencekit.inference.{spec['module']}"), spec["cls"])()
    images = {kind: [read_image(p) for p in paths] for kind, paths in photos.items()}
    faces = {kind: sum(len(detector.detect(image)) for image in batch) for kind, batch in images.items()}  # warm-up
    result: dict[str, Any] = {"faces": faces}
    for kind, batch in images.items():
        medians = []
        for image in batch:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                detector.detect(image)
                times.append(time.perf_counter() - start)
            medians.append(statistics.median(times))
        result[f"{kind}_ms_per_photo"] = 1000 * statistics.fmean(medians)
    import keras

    result["backend"] = keras.backend.backend()
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    return result


def _run_worker(variant: str, photos: dict[str, list[Path]], repeats: int) -> dict[str, Any]:
    payload = json.dumps({kind: [str(p) for p in paths] for kind, paths in photos.items()})
    command = [sys.executable, __file__, "--worker", variant, "--repeats", str(repeats)]
    done = subprocess.run(command, input=payload, capture_output=True, text=True,
                          env=_env(VARIANTS[variant]["backend"]), timeout=1200)
    if done.returncode != 0:
        raise SystemExit(f"detector_speed: worker {variant} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fresh_process(script: str, argv: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; its last stdout line (a dict) plus the wall time."""
    import ast

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"detector_speed: {what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return {"wall_s": wall, **ast.literal_eval(done.stdout.strip().splitlines()[-1])}


def _cold_start(variant: str, photo: Path) -> dict[str, Any]:
    spec = VARIANTS[variant]
    return _fresh_process(COLD_SCRIPT.format(**spec), [str(photo)], _env(spec["backend"]), f"cold start of {variant}")


def _predict_start(variant: str, photo: Path, cache: Path) -> dict[str, Any]:
    spec = PREDICT_VARIANTS[variant]
    return _fresh_process(PREDICT_SCRIPT, [str(photo), spec["detector"]], _predict_env(spec, cache), variant)


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the per-photo workers")
    parser.add_argument("--repeats", type=int, default=3, help="timed detections of each photo per worker")
    parser.add_argument("--cold-repeats", type=int, default=3, help="fresh processes per variant")
    parser.add_argument("--worker", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(sys.stdin.read()), args.repeats)))
        return 0
    if args.smoke:
        args.rounds, args.repeats, args.cold_repeats = 1, 1, 1
    env = common.environment(with_keras=False)
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp), group_count=2 if args.smoke else 4, adience_count=4 if args.smoke else 19)
        per_photo: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
        for round_ in range(args.rounds):
            for name in VARIANTS:
                common.log(f"round {round_ + 1}/{args.rounds}: {name}")
                per_photo[name].append(_run_worker(name, photos, args.repeats))
        cold: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
        for repeat in range(args.cold_repeats):
            for name in VARIANTS:
                common.log(f"cold start {repeat + 1}/{args.cold_repeats}: {name}")
                cold[name].append(_cold_start(name, photos["single"][0]))
        cache = Path(tmp) / "jax-cache"
        common.log("warming the JAX compilation cache (untimed)")
        _predict_start("predict-jax-mtcnn-keras-cached", photos["single"][0], cache)
        predict: dict[str, list[dict[str, Any]]] = {name: [] for name in PREDICT_VARIANTS}
        for repeat in range(args.cold_repeats):
            for name in PREDICT_VARIANTS:
                common.log(f"predict one photo {repeat + 1}/{args.cold_repeats}: {name}")
                predict[name].append(_predict_start(name, photos["single"][0], cache))
    rows = []
    for name in VARIANTS:
        runs, starts = per_photo[name], cold[name]
        rows.append({
            "variant": name,
            "backend": VARIANTS[name]["backend"],
            "single_ms_per_photo": min(r["single_ms_per_photo"] for r in runs),
            "group_ms_per_photo": min(r["group_ms_per_photo"] for r in runs),
            "faces_single": runs[0]["faces"]["single"],
            "faces_group": runs[0]["faces"]["group"],
            "cold_start_s": statistics.median(s["wall_s"] for s in starts),
            "cold_load_s": statistics.median(s["import_s"] + s["build_s"] for s in starts),
            "cold_detect_s": statistics.median(s["detect_s"] for s in starts),
            "tensorflow_imported": starts[0]["tensorflow_imported"],
        })
    baseline = rows[0]
    for row in rows:
        row["single_vs_mtcnn_tf"] = common.ratio(row["single_ms_per_photo"], baseline["single_ms_per_photo"])
        row["cold_vs_mtcnn_tf"] = common.ratio(row["cold_start_s"], baseline["cold_start_s"])
    columns = ["variant", "single_ms_per_photo", "group_ms_per_photo", "faces_single", "faces_group",
               "cold_start_s", "cold_load_s", "cold_detect_s", "tensorflow_imported"]
    common.print_table(rows, columns, title="Face detection, ms per photo (best round) and cold start (median)")
    predict_rows = [
        {"variant": name, "backend": spec["backend"], "detector": spec["detector"], "jax_cache": spec["jax_cache"],
         "cold_start_s": statistics.median(r["wall_s"] for r in predict[name]),
         **{key: statistics.median(r[key] for r in predict[name]) for key in ("import_s", "build_s", "predict_s")},
         "faces": predict[name][0]["faces"], "tensorflow_imported": predict[name][0]["tensorflow_imported"]}
        for name, spec in PREDICT_VARIANTS.items()
    ]
    common.print_table(predict_rows, ["variant", "cold_start_s", "import_s", "build_s", "predict_s", "faces",
                                      "tensorflow_imported"],
                       title="Predictor(None, detector=...) on one photo in a fresh process (median)")
    env["machine"]["load_average_at_end"] = common.load_average()
    results = {
        "note": "2-core CPU shared with other developers' jobs, loaded; see load_average_at_start/end",
        "photos": {"single": [p.name for p in photos["single"]],
                   "group": "compose_photo, 6 UTKFace crops of 80-220 px on 960x720 noise, seeds "
                            f"0..{len(photos['group']) - 1}"},
        "method": {"rounds": args.rounds, "repeats": args.repeats, "cold_repeats": args.cold_repeats,
                   "per_photo": "mean over photos of the median of repeats, after one untimed pass; best round",
                   "cold_start": "wall time of a fresh python process: import, build, detect one Adience crop",
                   "predict": "wall time of a fresh python process: import Predictor, Predictor(None, detector=...), "
                              "predict one Adience crop; JAX runs with ADIENCEKIT_VERBOSE=1 (see PREDICT_VARIANTS)"},
        "rows": rows,
        "predict_rows": predict_rows,
        "runs": {"per_photo": per_photo, "cold": cold, "predict": predict},
    }
    if args.out is None:
        date = time.strftime("%Y%m%d", time.gmtime())
        args.out = common.RESULTS_DIR / f"{SUITE}-cpu-{date}{'-smoke' if args.smoke else ''}.json"
    common.save_results(SUITE, args, env, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
