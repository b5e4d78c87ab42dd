# Training-throughput benchmark: every zoo model (adiencekit create_model + the library's
# compile_model + model.fit) against a hand-written plain-Keras twin of the same
# architecture (benchmarks/baselines.py, plain SGD + SparseCategoricalCrossentropy +
# model.fit), same optimizer, batch and in-memory tensors, same run, interleaved.
#
#   python benchmarks/bench_training.py                       # CPU, TF backend: ~2-4 min on 2 cores
#   KERAS_BACKEND=jax python benchmarks/bench_training.py     # CPU, JAX backend: ~10 min (XLA compiles)
#   python benchmarks/bench_training.py --smoke               # ~20 s (tiny inputs, 2 steps)
#   bash benchmarks/run_gpu.sh                                # GPU profile (JAX, with inference)
#
# Figures: images/s (batch / median step time, compile steps excluded), the ratio
# library/baseline (>= 1.0: no library overhead), analytic forward multiply-adds per
# image, achieved TFLOP/s (training FLOPs per trainable part, flops.train_macs) and, on a
# known GPU, % of its dense peak (common.GPU_PEAK_TFLOPS).
"""Training-throughput benchmark of the adiencekit model zoo.

Works on every Keras backend; the GPU machine runs it with ``KERAS_BACKEND=jax`` and
no TensorFlow installed (nothing here imports TensorFlow or ``adiencekit.data``).

Example:

>>> import bench_training
>>> [spec.key for spec in bench_training.SPECS][:2]
['levi_hassner', 'basic_inception']
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import common

SUITE = "training"
#: The suite name of ``--memory-only`` result files.
MEMORY_SUITE = "memory"

#: Targets of issue 5 on one H100 (train images/s, best precision).
GPU_TARGETS = {"modified_inception": 4000.0, "levi_hassner": 20000.0}


@dataclass(frozen=True)
class ModelSpec:
    """One zoo model to benchmark and its batch sizes per profile.

    Attributes:
        key: row label.
        model: zoo name (``create_model`` and :mod:`baselines`).
        task: ``"gender"``, ``"age"`` or ``"multitask"``.
        size: native input side.
        kwargs: extra builder arguments of the library model.
        batch: batch size per profile (``cpu``, ``gpu``).
        steps: timed steps per round per profile.
    """

    key: str
    model: str
    task: str
    size: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    #: Whether ``baselines.py`` has a plain-Keras twin of this architecture.
    has_baseline: bool = True


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("levi_hassner", "levi_hassner", "gender", 227, {}, {"cpu": 16, "gpu": 512}, {"cpu": 4, "gpu": 20}),
    ModelSpec(
        "basic_inception", "basic_inception", "gender", 299, {"weights": None}, {"cpu": 8, "gpu": 256}, {"cpu": 3, "gpu": 10}
    ),
    # GPU batch 512 for the fine-tuned Inception-v3: on the H200 (2026-11-28) it gave 4,375
    # train img/s against 3,905 at batch 256 (results/training-gpu-h200-20261128.json).
    ModelSpec(
        "modified_inception",
        "modified_inception",
        "gender",
        299,
        {"weights": None},
        {"cpu": 4, "gpu": 512},
        {"cpu": 3, "gpu": 10},
    ),
    ModelSpec("scratch_cnn", "scratch_cnn", "gender", 256, {}, {"cpu": 16, "gpu": 512}, {"cpu": 4, "gpu": 20}),
    ModelSpec(
        "levi_hassner_multitask", "levi_hassner", "multitask", 227, {}, {"cpu": 16, "gpu": 512}, {"cpu": 4, "gpu": 20}
    ),
    ModelSpec(
        "modified_inception_multitask",
        "modified_inception",
        "multitask",
        299,
        {"weights": None},
        {"cpu": 4, "gpu": 512},
        {"cpu": 3, "gpu": 10},
    ),
    # The bundled preset's network (recipe utkface_multitask: width 32, 96 px crops).
    ModelSpec(
        "face_resnet_multitask", "face_resnet", "multitask", 96, {}, {"cpu": 64, "gpu": 1024}, {"cpu": 4, "gpu": 20},
        has_baseline=False,
    ),
)

#: Which specs each profile runs by default (the Inception multitask model only on GPU:
#: on 2 CPU cores its figure adds minutes and nothing the gender model does not show).
PROFILE_SPECS = {
    "cpu": ("levi_hassner", "basic_inception", "modified_inception", "scratch_cnn", "levi_hassner_multitask"),
    "gpu": tuple(s.key for s in SPECS),
    # Smoke: the cheapest single-task and multitask pair (compiling Inception takes minutes).
    "smoke": ("scratch_cnn", "levi_hassner_multitask"),
}


#: Tiny input sides for --smoke. Levi-Hassner needs even pooled map sizes for its
#: "same"-pooling baseline to equal Caffe's round-up pooling: 67 gives 16, 8, 4, 2.
SMOKE_SIZES = {"levi_hassner": 67, "scratch_cnn": 48, "basic_inception": 75, "modified_inception": 75, "face_resnet": 48}


@dataclass(frozen=True)
class Variant:
    """A precision / compilation setting: Keras dtype policy and ``jit_compile``."""

    name: str
    policy: str
    jit_compile: bool


VARIANTS = {
    "float32": Variant("float32", "float32", False),
    "float32+xla": Variant("float32+xla", "float32", True),
    "mixed_bfloat16": Variant("mixed_bfloat16", "mixed_bfloat16", False),
    "mixed_bfloat16+xla": Variant("mixed_bfloat16+xla", "mixed_bfloat16", True),
}


#: How a training step is timed. ``"window"`` (the default): one timed ``fit`` call of N
#: steps, from ``on_epoch_begin`` to ``on_epoch_end``; Keras reads the epoch's logs once at
#: its end, which waits for the last step, so asynchronous backends (JAX) are synchronised
#: once per window, not once per step. ``"per_step"``: a per-batch callback, as used until
#: 2026-12-05; any ``on_train_batch_end`` callback makes Keras convert the logs to Python
#: numbers after every step (``CallbackList`` turns off its asynchronous dispatch), a device
#: sync per step (issue 25 estimated 2 ms on the H200, 14 % of a Levi-Hassner batch-512 step). Kept to
#: measure that cost (the GPU suite's ``sync_cost`` step).
TIMERS = ("window", "per_step")


class StepTimer:
    """Keras callback timing training steps, without (``"window"``) or with a sync per step.

    ``step_seconds()`` returns one entry per step for ``"per_step"`` and, for
    ``"window"``, the mean step time of the window (one entry per ``fit`` call).
    """

    def __new__(cls, mode: str = "window") -> Any:  # built lazily so importing this module does not import Keras
        import keras

        if mode not in TIMERS:
            raise ValueError(f"timer must be one of {TIMERS}, got {mode!r}")

        class _WindowTimer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.begin = self.end = 0.0
                self.steps = 0

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.begin = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                # CallbackList has converted ``logs`` to Python numbers: the last step is done.
                self.end = time.perf_counter()
                self.steps = int(self.params.get("steps") or 0)

            def step_seconds(self) -> list[float]:
                if self.steps < 1:
                    raise RuntimeError("the window timer saw no finished epoch with a known step count")
                return [(self.end - self.begin) / self.steps]

        class _PerStepTimer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.ends: list[float] = []
                self.start = 0.0

            def on_train_begin(self, logs: Any = None) -> None:
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if logs and "loss" in logs:
                    float(np.asarray(logs["loss"]))
                self.ends.append(time.perf_counter())

            def step_seconds(self) -> list[float]:
                edges = [self.start, *self.ends]
                return [b - a for a, b in zip(edges, edges[1:])]

        return _WindowTimer() if mode == "window" else _PerStepTimer()


def synthetic_batch(size: int, count: int, task: str, seed: int = 0) -> tuple[np.ndarray, Any]:
    """In-memory float32 images in [0, 255] and int labels (a dict for multitask)."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, size, size, 3), dtype=np.float32) * np.float32(255.0)
    gender = rng.integers(0, 2, count).astype("int32")
    age = rng.integers(0, 8, count).astype("int32")
    labels: Any = {"gender": gender, "age": age} if task == "multitask" else (gender if task == "gender" else age)
    return images, labels


#: Optimizer settings the suite compares (``TrainConfig`` fields): ``"tuned"``, the SGD with
#: momentum of the tuned rows, and ``"user_defaults"``, nothing changed: what ``TrainConfig()``
#: gives a user (its optimizer and learning rate; those rows also take its batch size,
#: :func:`user_default_batch`).
SETTINGS: dict[str, dict[str, Any]] = {
    "tuned": {"optimizer": "sgd", "learning_rate": 1e-3, "momentum": 0.9},
    "user_defaults": {},
}


def user_default_batch() -> int:
    """``TrainConfig``'s default batch size (read from the dataclass, not repeated here)."""
    import dataclasses

    from adiencekit.training.config import TrainConfig

    return next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "batch_size")


def build_library_model(spec: ModelSpec, size: int, batch: int, jit_compile: bool, setting: str = "tuned") -> Any:
    """create_model + the library's own compile (masked losses, masked/1-off metrics) and optimizer.

    Returns:
        ``(model, config)``: the compiled model and the ``TrainConfig`` its optimizer came from.
    """
    from adiencekit.models import create_model
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.model_setup import build_optimizer, compile_model

    model = create_model(spec.model, task=spec.task, input_shape=(size, size, 3), **spec.kwargs)
    config = TrainConfig(model=spec.model, task=spec.task, batch_size=batch, **SETTINGS[setting])
    compile_model(model, config, build_optimizer(config, steps_per_epoch=100), jit_compile=jit_compile)
    return model, config


def plain_optimizer(config: Any) -> Any:
    """The Keras optimizer a user would write by hand for ``config``'s optimizer and learning rate."""
    import keras

    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.learning_rate)
    raise ValueError(f"no plain twin for optimizer {config.optimizer!r}; known: sgd, adam")


def build_baseline_model(spec: ModelSpec, size: int, jit_compile: bool, config: Any) -> Any:
    """The hand-written twin, compiled the plain way: ``config``'s optimizer, SparseCategoricalCrossentropy, accuracy."""
    import keras

    import baselines

    model = baselines.build_baseline(spec.model, spec.task, (size, size, 3))
    heads = ("gender", "age") if spec.task == "multitask" else None
    loss: Any = keras.losses.SparseCategoricalCrossentropy()
    metrics: Any = ["accuracy"]
    if heads:
        loss = {h: keras.losses.SparseCategoricalCrossentropy() for h in heads}
        metrics = {h: ["accuracy"] for h in heads}
    model.compile(
        optimizer=plain_optimizer(config), loss=loss, metrics=metrics, jit_compile=jit_compile
    )
    return model


def _trainable_count(model: Any) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _is_jax_array(value: Any) -> bool:
    return type(value).__module__.startswith("jax")


def fit_steps(model: Any, images: Any, labels: Any, batch: int, steps: int, timer: str = "window") -> list[float]:
    """Run ``steps`` training steps with one ``model.fit`` call; returns the timer's step seconds.

    With ``timer="window"`` the list holds one entry, the window's mean step time; with
    ``"per_step"`` one entry per step (see :data:`TIMERS`).

    NumPy inputs go through Keras's array adapter (on JAX: a host-to-device copy of each
    batch inside the timed step). JAX arrays are cut into device-resident batches first
    and fed through a generator, which Keras 3 passes on untouched (its array adapter
    would turn a ``jax.Array`` into NumPy and copy every batch back to the device).
    """
    count = batch * steps
    callback = StepTimer(timer)
    if _is_jax_array(images):
        xs = [images[i * batch : (i + 1) * batch] for i in range(steps)]
        if isinstance(labels, dict):
            ys = [{k: v[i * batch : (i + 1) * batch] for k, v in labels.items()} for i in range(steps)]
        else:
            ys = [labels[i * batch : (i + 1) * batch] for i in range(steps)]
        for x in xs:
            x.block_until_ready()
        pairs = list(zip(xs, ys))

        def batches() -> Any:  # a generator: Keras's generator adapter keeps jax.Array batches as they are
            yield from pairs

        model.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[callback])
        return callback.step_seconds()
    x = images[:count]
    y = {k: v[:count] for k, v in labels.items()} if isinstance(labels, dict) else labels[:count]
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    return callback.step_seconds()


def measure(
    spec: ModelSpec,
    variant: Variant,
    *,
    size: int,
    batch: int,
    steps: int,
    warmup: int,
    rounds: int,
    with_baseline: bool,
    device: dict[str, str],
    feed: str = "device",
    timer: str = "window",
    setting: str = "tuned",
) -> dict[str, Any]:
    """Time the library model (and its baseline) under one variant.

    Both models are built and compiled first; then ``rounds`` rounds alternate
    library/baseline ``fit`` calls (order swapped each round), each timed by ``timer``
    (:data:`TIMERS`). Before its first round each model runs ``warmup`` steps in a ``fit``
    call of their own (tracing and compilation), timed step by step and kept apart.
    """
    import keras

    keras.config.set_dtype_policy(variant.policy)
    keras.utils.set_random_seed(0)
    try:
        library, config = build_library_model(spec, size, batch, variant.jit_compile, setting)
        impls: dict[str, Any] = {"library": library}
        if with_baseline:
            impls["baseline"] = build_baseline_model(spec, size, variant.jit_compile, config)
        count = batch * (warmup + steps)
        if keras.backend.backend() == "jax" and feed == "device":
            # Inputs made on the device and fed as device-resident batches (fit_steps):
            # no host-to-device copy inside the timed steps (the same for both sides).
            import jax

            _, labels = synthetic_batch(1, count, spec.task)
            images = jax.random.uniform(jax.random.key(0), (count, size, size, 3), "float32", 0.0, 255.0)
            labels = jax.device_put(labels)
        else:
            images, labels = synthetic_batch(size, count, spec.task)
            if feed == "host_uint8":  # what the pipeline's output_dtype="uint8" hands to fit()
                images = images.astype(np.uint8)
        step_times: dict[str, list[float]] = {k: [] for k in impls}
        warm_times: dict[str, list[float]] = {k: [] for k in impls}
        for round_index in range(rounds):
            order = list(impls) if round_index % 2 == 0 else list(reversed(impls))
            for key in order:
                if round_index == 0:  # tracing and compilation: a fit call of its own, timed apart
                    warm_times[key] = fit_steps(impls[key], images, labels, batch, warmup, timer="per_step")
                step_times[key].extend(fit_steps(impls[key], images, labels, batch, steps, timer=timer))
        lib = impls["library"]
        macs = _flops().forward_macs(lib)
        row: dict[str, Any] = {
            "model": spec.key,
            "zoo_name": spec.model,
            "task": spec.task,
            "variant": variant.name,
            "feed": feed if keras.backend.backend() == "jax" else "numpy",
            "input_size": size,
            "batch": batch,
            "params": lib.count_params(),
            "trainable_params": _trainable_count(lib),
            "forward_gmacs_per_image": macs / 1e9,
            # Per trainable part: a frozen base costs its forward pass only (flops.train_macs).
            "train_gflops_per_image": _flops().train_flops_per_image(lib) / 1e9,
            "train_gflops_per_image_if_all_trainable": 2 * macs * _flops().TRAIN_FLOPS_PER_FORWARD / 1e9,
        }
        if with_baseline:
            base = impls["baseline"]
            row["baseline_params"] = base.count_params()
            row["baseline_forward_gmacs_per_image"] = _flops().forward_macs(base) / 1e9
            row["same_architecture"] = (
                base.count_params() == lib.count_params()
                and _trainable_count(base) == _trainable_count(lib)
                and _flops().forward_macs(base) == macs
            )
        math = common.float32_math()
        peak = common.peak_tflops(device, variant.policy, math)
        for key in impls:
            timing = common.Timing(step_times[key], warm_times[key])
            ips = batch / timing.median
            row[f"{key}_step"] = timing.as_dict()
            row[f"{key}_images_per_s"] = ips
            # Compilation: what the warm-up steps took beyond as many timed steps.
            row[f"{key}_compile_seconds"] = max(0.0, sum(warm_times[key]) - len(warm_times[key]) * timing.median)
            tflops = ips * row["train_gflops_per_image"] / 1e3
            row[f"{key}_tflops"] = tflops
            row[f"{key}_peak_percent"] = common.peak_percent(tflops, peak)
        row["peak_tflops"] = peak
        row["peak_basis"] = common.peak_basis(variant.policy, math)
        row["timer"] = timer
        row["setting"] = setting
        row["optimizer"] = config.optimizer
        row["learning_rate"] = config.learning_rate
        if with_baseline:
            row["ratio_library_vs_baseline"] = common.ratio(row["library_images_per_s"], row["baseline_images_per_s"])
        return row
    finally:
        keras.config.set_dtype_policy("float32")
        keras.backend.clear_session()
        gc.collect()


def _flops() -> Any:
    import flops

    return flops


def make_plan(keys: list[str], variants: list[str], baseline_variants: list[str]) -> list[tuple[str, str, bool]]:
    """Every ``(model key, variant, with_baseline)`` of ``keys`` x ``variants``, checked."""
    by_key = {s.key for s in SPECS}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ValueError(f"unknown model keys {unknown}; known: {sorted(by_key)}")
    bad = [v for v in [*variants, *baseline_variants] if v not in VARIANTS]
    if bad:
        raise ValueError(f"unknown variants {bad}; known: {sorted(VARIANTS)}")
    twins = {s.key for s in SPECS if s.has_baseline}
    return [(key, name, name in baseline_variants and key in twins) for key in keys for name in variants]


def run_training(
    profile: str,
    plan: list[tuple[str, str, bool]],
    *,
    rounds: int = 2,
    warmup: int = 2,
    budget: common.Budget | None = None,
    reserve_s: float = 60.0,
    feed: str = "device",
    batch_override: int | None = None,
    timer: str = "window",
    setting: str = "tuned",
) -> dict[str, Any]:
    """Run the measurements of ``plan`` and return JSON-ready results.

    Args:
        profile: ``"cpu"``, ``"gpu"`` or ``"smoke"`` (batch sizes and steps).
        plan: ``(model key, variant name, with_baseline)`` triples (see :func:`make_plan`).
        rounds: alternating library/baseline rounds per measurement.
        warmup: compile/warm-up steps left out of the timing.
        budget: a measurement that would start with less than ``reserve_s`` left is
            skipped and recorded in ``"skipped"``.
        reserve_s: time a measurement is assumed to need.
        feed: on JAX, ``"device"`` (batches already on the device, fed by a generator),
            ``"host"`` (float32 NumPy arrays: Keras copies each batch to the device inside
            the step) or ``"host_uint8"`` (the same with ``uint8`` images, a quarter of the
            bytes, cast to float in the model).
        batch_override: batch size instead of the spec's (batch-size scaling).
        timer: how steps are timed (:data:`TIMERS`).
        setting: a key of :data:`SETTINGS` (both sides use its optimizer).

    Returns:
        ``{"rows": [...], "skipped": [...], "config": {...}}``.
    """
    import keras

    device = common.keras_device()
    by_key = {s.key: s for s in SPECS}
    hw = "gpu" if profile == "gpu" else "cpu"
    rows, skipped = [], []
    for key, name, with_baseline in plan:
        spec, variant = by_key[key], VARIANTS[name]
        if budget is not None and budget.left() < reserve_s:
            skipped.append({"model": key, "variant": name, "reason": f"time budget: {budget.left():.0f} s left"})
            common.log(f"skip {key} [{name}]: time budget ({budget.left():.0f} s left)")
            continue
        if profile == "smoke":
            size, batch, steps = SMOKE_SIZES[spec.model], batch_override or 2, 1
        else:
            size, batch, steps = spec.size, batch_override or spec.batch[hw], spec.steps[hw]
        if not variant.jit_compile and keras.backend.backend() == "jax" and profile != "smoke":
            steps = min(steps, 3)  # op-by-op JAX is slow; a few steps suffice
        common.log(f"training {key} [{name}] size {size} batch {batch} steps {steps}")
        start = time.perf_counter()
        row = measure(
            spec,
            variant,
            size=size,
            batch=batch,
            steps=steps,
            warmup=1 if profile == "smoke" else warmup,
            rounds=1 if profile == "smoke" else rounds,
            with_baseline=with_baseline,
            device=device,
            feed=feed,
            timer=timer,
            setting=setting,
        )
        row["wall_seconds"] = time.perf_counter() - start
        rows.append(row)
        common.log(
            f"  library {row['library_images_per_s']:.1f} img/s"
            + (f", baseline {row['baseline_images_per_s']:.1f} img/s" if "baseline_images_per_s" in row else "")
        )
    return {
        "rows": rows,
        "skipped": skipped,
        "config": {
            "profile": profile,
            "plan": [list(item) for item in plan],
            "rounds": 1 if profile == "smoke" else rounds,
            "warmup": 1 if profile == "smoke" else warmup,
            "inputs": (
                ("device-resident jax batches fed by a generator (no host-to-device copy in the timed step)"
                 if feed == "device" else
                 f"{'uint8' if feed == 'host_uint8' else 'float32'} numpy arrays (Keras slices them on the host "
                 "and copies each batch to the device inside the step)")
                if keras.backend.backend() == "jax" else "numpy arrays"
            ),
            "setting": setting,
            "train_config_overrides": SETTINGS[setting],
            "timer": timer,
        },
    }


TABLE_COLUMNS = common.TRAINING_COLUMNS


def gpu_target_check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Best library images/s per targeted model against :data:`GPU_TARGETS`."""
    out = {}
    for model, target in GPU_TARGETS.items():
        best = max((r["library_images_per_s"] for r in rows if r["model"] == model), default=None)
        # met: None when the file holds no row of the model (not measured, not missed).
        out[model] = {"target_images_per_s": target, "best_images_per_s": best, "met": None if best is None else best >= target}
    return out


def default_variants(backend: str, kind: str) -> tuple[list[str], list[str]]:
    """Variants and baseline variants for a backend and device kind."""
    if kind == "gpu":
        return ["mixed_bfloat16+xla", "float32+xla", "mixed_bfloat16"], ["mixed_bfloat16+xla"]
    # CPU: JAX always compiles (jit) a train step; TF runs graph mode without XLA by default.
    name = "float32+xla" if backend == "jax" else "float32"
    return [name], [name]


#: Keras backends ``--backends`` may compare (each runs in a process of its own).
BACKENDS = ("tensorflow", "jax", "torch")


def _child_argv(args: Any, out: Path) -> list[str]:
    """The command line of one backend's run: this suite with the parent's options."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "--rounds", str(args.rounds)]
    for flag, value in (("--models", args.models), ("--variants", args.variants)):
        if value:
            argv += [flag, *value]
    if args.budget is not None:
        argv += ["--budget", str(args.budget)]
    flags = (("--user-defaults", args.user_defaults), ("--memory", args.memory), ("--smoke", args.smoke))
    return argv + [flag for flag, on in flags if on]


def backend_comparison(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model, batch, optimizer and dtype policy measured on every backend.

    Variants are matched on their dtype policy (on a CPU, TensorFlow runs graph mode and
    JAX always compiles its step with XLA: each backend's own default; the row names both).

    >>> row = {"model": "m", "batch": 16, "optimizer": "sgd", "library_images_per_s": 10.0, "library_compile_seconds": 1.0}
    >>> runs = {"tensorflow": {"rows": [{**row, "variant": "float32"}]},
    ...         "jax": {"rows": [{**row, "variant": "float32+xla", "library_images_per_s": 12.0}]}}
    >>> backend_comparison(runs)[0]["jax_vs_tensorflow"]
    1.2
    """
    names = list(runs)
    out = []
    for first in runs[names[0]]["rows"]:
        policy = VARIANTS[first["variant"]].policy
        key = (first["model"], first["batch"], first.get("optimizer"), policy)
        found = {names[0]: first}
        for name in names[1:]:
            for other in runs[name]["rows"]:
                if (other["model"], other["batch"], other.get("optimizer"), VARIANTS[other["variant"]].policy) == key:
                    found[name] = other
        if len(found) < len(names):
            continue
        row: dict[str, Any] = {"model": key[0], "batch": key[1], "optimizer": key[2], "policy": policy}
        for name, measured in found.items():
            row[f"{name}_variant"] = measured["variant"]
            row[f"{name}_images_per_s"] = measured["library_images_per_s"]
            row[f"{name}_compile_seconds"] = measured.get("library_compile_seconds")
        for name in names[1:]:
            row[f"{name}_vs_{names[0]}"] = common.ratio(row[f"{name}_images_per_s"], row[f"{names[0]}_images_per_s"])
        out.append(row)
    return out


def _rss_mib() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MiB (Linux ``/proc/self/status``)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":")
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def memory_of_one_model(key: str, profile: str, steps: int = 3) -> dict[str, Any]:
    """Peak resident memory of training one library model for ``steps`` steps (run in a fresh process).

    Reported: the process's peak before the model is built (Python, Keras, the backend),
    its peak after ``steps`` training steps, and the difference, the model's share
    (weights, optimizer state, activations and gradients of a batch, the compiled step).
    """
    import keras

    spec = {s.key: s for s in SPECS}[key]
    size = SMOKE_SIZES[spec.model] if profile == "smoke" else spec.size
    batch = 2 if profile == "smoke" else spec.batch["cpu"]
    images, labels = synthetic_batch(size, batch * steps, spec.task)
    _, before = _rss_mib()
    model, _ = build_library_model(spec, size, batch, jit_compile=False)
    fit_steps(model, images, labels, batch, steps)
    _, peak = _rss_mib()
    return {"model": key, "backend": keras.backend.backend(), "input_size": size, "batch": batch, "steps": steps,
            "peak_rss_mib_before_model": round(before, 1), "peak_rss_mib": round(peak, 1),
            "model_peak_mib": round(peak - before, 1)}


def run_memory(keys: list[str], smoke: bool) -> list[dict[str, Any]]:
    """:func:`memory_of_one_model` for every key, each in a fresh process (peaks never reset)."""
    import json
    import subprocess

    rows = []
    for key in keys:
        argv = [sys.executable, str(Path(__file__).resolve()), "--memory-of", key, *(["--smoke"] if smoke else [])]
        common.log(f"peak memory: {key}")
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def run_backends(args: Any) -> int:
    """``--backends``: this suite once per backend, one after the other, merged into one JSON."""
    import json
    import subprocess
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="adiencekit-backends-"))
    runs: dict[str, dict[str, Any]] = {}
    for backend in args.backends:
        out = work / f"{backend}.json"
        common.log(f"backend {backend}: {' '.join(_child_argv(args, out)[1:])}")
        subprocess.run(_child_argv(args, out), env=dict(os.environ, KERAS_BACKEND=backend), check=True)
        runs[backend] = json.loads(out.read_text())
    env = common.environment(with_keras=False)
    env["backend"] = "+".join(args.backends)
    env["device"] = runs[args.backends[0]]["device"]
    comparison = backend_comparison(runs)
    result = {
        "backends": {name: {k: run[k] for k in ("backend", "versions", "machine", "device", "rows", "skipped", "config",
                                                 "memory") if k in run}
                     for name, run in runs.items()},
        "rows": [row for run in runs.values() for row in ({**r, "backend": run["backend"]} for r in run["rows"])],
        "backend_comparison": comparison,
        "note": "backends run one after the other, each in its own process (a backend is chosen at import)",
    }
    columns = ["model", "batch", "optimizer", "policy"] + [f"{b}_images_per_s" for b in args.backends] + \
        [f"{b}_vs_{args.backends[0]}" for b in args.backends[1:]] + [f"{b}_compile_seconds" for b in args.backends]
    return common.finish(SUITE, args, env, result, tables=[(comparison, columns, "Training: backends compared")])


def main(argv: list[str] | None = None) -> int:
    """Run the suite from the command line; returns the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help=f"spec keys (default per profile): {[s.key for s in SPECS]}")
    parser.add_argument("--variants", nargs="+", default=None, help=f"of {sorted(VARIANTS)} (default per device)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating library/baseline rounds (default 3)")
    parser.add_argument("--budget", type=float, default=None, help="seconds; later measurements are skipped")
    parser.add_argument("--user-defaults", action="store_true",
                        help="also time every model as TrainConfig() leaves it (its optimizer, learning rate and batch), "
                             "beside the tuned rows (SGD + momentum, the spec's batch)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure each model's peak resident memory in training, each in a fresh process")
    parser.add_argument("--memory-only", action="store_true", help="--memory without the throughput rounds")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=None,
                        help="run the suite once per Keras backend (each in its own process) and write one JSON "
                             "with every row and a backend comparison")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if args.memory_of:  # the child of --memory: one model, one JSON line on stdout
        import json

        print(json.dumps(memory_of_one_model(args.memory_of, "smoke" if args.smoke else "cpu")))
        return 0
    if args.backends:
        if len(set(args.backends)) < 2:
            parser.error(f"--backends needs two different backends, got {args.backends}")
        return run_backends(args)

    env = common.environment()
    kind = env["device"]["kind"]
    profile = "smoke" if args.smoke else ("gpu" if kind == "gpu" else "cpu")
    variants, baseline_variants = default_variants(env["backend"], kind)
    if args.variants:
        variants = baseline_variants = list(args.variants)
    if args.smoke:
        variants = baseline_variants = variants[:1]
    plan = make_plan(args.models or list(PROFILE_SPECS[profile]), variants, baseline_variants)
    budget = common.Budget(args.budget)
    if args.memory_only:
        result = {"rows": [], "skipped": [], "config": {"profile": profile, "plan": [list(item) for item in plan]},
                  "memory": run_memory(list(dict.fromkeys(key for key, _, _ in plan)), args.smoke)}
        # A suite of its own in the results folder, so that the newest "training" file stays a throughput run.
        return common.finish(MEMORY_SUITE, args, env, result,
                             tables=[(result["memory"], common.MEMORY_COLUMNS, "Peak memory")])
    result = run_training(profile, plan, rounds=args.rounds, budget=budget)
    if args.user_defaults:
        defaults = run_training(profile, plan, rounds=args.rounds, budget=budget, setting="user_defaults",
                                batch_override=2 if args.smoke else user_default_batch())
        result["rows"] += defaults["rows"]
        result["skipped"] += defaults["skipped"]
        result["config"]["user_defaults"] = defaults["config"]
    if profile == "gpu":
        result["gpu_targets"] = gpu_target_check(result["rows"])
    if args.memory:
        result["memory"] = run_memory(list(dict.fromkeys(key for key, _, _ in plan)), args.smoke)
    title = f"Training throughput ({env['backend']}, {env['device']['name']})"
    return common.finish(SUITE, args, env, result, tables=[(result["rows"], TABLE_COLUMNS, title)])


if __name__ == "__main__":
    sys.exit(main())
