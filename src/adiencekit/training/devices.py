"""Device setup: precision, XLA and distribution on existing engines.

* Precision ``"auto"``: ``mixed_bfloat16`` on GPUs with compute capability 8.0 or
  newer (Ampere, Hopper) and on TPUs, ``mixed_float16`` (with loss scaling) on older
  GPUs, ``float32`` on CPUs. Models keep float32 softmax outputs.
* ``jit_compile="auto"``: XLA on accelerators and on JAX (Keras checks the model
  supports it), off for TensorFlow on CPUs, where compile time dominates short runs.
* Distribution: ``tf.distribute.MirroredStrategy`` on the TensorFlow backend (one
  machine, several GPUs, or several logical CPU devices); ``keras.distribution.
  DataParallel`` on JAX. Several machines on TensorFlow use
  ``tf.distribute.MultiWorkerMirroredStrategy``: set ``TF_CONFIG`` on every worker,
  create the strategy yourself and pass it as ``strategy=`` to :func:`setup_devices`.
  The global batch is the per-replica batch times the number of replicas.
* TensorFlow GPUs get memory growth so that several processes can share a card.

Example:

>>> from adiencekit.training import TrainConfig
>>> from adiencekit.training.devices import resolve_precision, setup_devices
>>> resolve_precision("auto", kind="gpu", compute_capability=(9, 0))
'mixed_bfloat16'
>>> resolve_precision("auto", kind="gpu", compute_capability=(7, 5))
'mixed_float16'
>>> setup = setup_devices(TrainConfig(distribution="none", precision="float32"))
>>> setup.replicas, setup.global_batch_size(32)
(1, 32)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras

from adiencekit.training.config import TrainConfig

__all__ = [
    "DeviceSetup",
    "accelerator",
    "enable_memory_growth",
    "precision_policy",
    "resolve_jit_compile",
    "resolve_precision",
    "setup_devices",
]


def accelerator() -> tuple[str, tuple[int, int] | None, int]:
    """The accelerator the current Keras backend sees.

    Returns:
        ``(kind, compute_capability, count)`` with kind ``"gpu"``, ``"tpu"`` or
        ``"cpu"``; the compute capability of the first GPU (or ``None``); and the
        number of devices of that kind.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            capability = details.get("compute_capability")
            return "gpu", tuple(capability) if capability else None, len(gpus)
        tpus = tf.config.list_physical_devices("TPU")
        if tpus:
            return "tpu", None, len(tpus)
        return "cpu", None, len(tf.config.list_logical_devices("CPU"))
    if backend == "jax":
        import jax

        devices = jax.devices()
        platform = devices[0].platform
        if platform == "gpu":
            raw = getattr(devices[0], "compute_capability", None)
            capability = tuple(int(part) for part in str(raw).split(".")[:2]) if raw else None
            return "gpu", capability, len(devices)
        return ("tpu" if platform == "tpu" else "cpu"), None, len(devices)
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return "gpu", tuple(torch.cuda.get_device_capability(0)), torch.cuda.device_count()
        return "cpu", None, 1
    return "cpu", None, 1


def resolve_precision(
    requested: str, *, kind: str, compute_capability: tuple[int, int] | None = None
) -> str:
    """The Keras dtype policy name for a requested precision.

    Args:
        requested: ``"auto"``, ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        compute_capability: the GPU's ``(major, minor)``, when known.

    Returns:
        A policy name for :func:`keras.mixed_precision.set_global_policy`.
    """
    allowed = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
    if requested not in allowed:
        raise ValueError(f"precision must be one of {allowed}, got {requested!r}")
    if requested != "auto":
        return requested
    if kind == "tpu":
        return "mixed_bfloat16"
    if kind == "gpu":
        if compute_capability is not None and tuple(compute_capability) >= (8, 0):
            return "mixed_bfloat16"
        return "mixed_float16"
    return "float32"


def resolve_jit_compile(requested: str | bool, *, kind: str, backend: str | None = None) -> str | bool:
    """``jit_compile`` for :meth:`keras.Model.compile`.

    Args:
        requested: ``"auto"`` or a bool.
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        backend: the Keras backend (default: the current one).

    Returns:
        ``"auto"`` on accelerators and on JAX (Keras then compiles with XLA when the
        model supports it; JAX without jit would run op by op), ``False`` for
        TensorFlow on CPUs, where XLA compile time dominates short runs, or the
        explicit bool.
    """
    backend = backend or keras.backend.backend()
    if requested == "auto":
        return "auto" if kind in ("gpu", "tpu") or backend == "jax" else False
    if not isinstance(requested, bool):
        raise ValueError(f"jit_compile must be 'auto', True or False, got {requested!r}")
    return requested


def enable_memory_growth() -> int:
    """Turn on TensorFlow GPU memory growth (no-op on other backends or without GPUs).

    Returns:
        The number of GPUs configured (0 when TensorFlow was already initialised).
    """
    if keras.backend.backend() != "tensorflow":
        return 0
    import tensorflow as tf

    configured = 0
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            configured += 1
        except RuntimeError:  # TensorFlow already initialised its devices.
            pass
    return configured


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set the global Keras dtype policy inside the block and restore it afterwards.

    Args:
        name: a policy name such as ``"mixed_bfloat16"``.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclass
class DeviceSetup:
    """Resolved device choices for one run.

    Attributes:
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        precision: the Keras dtype policy name.
        jit_compile: the value for :meth:`keras.Model.compile`.
        distribution: ``"none"``, ``"mirrored"`` or ``"data_parallel"``.
        replicas: number of model replicas (1 without distribution).
        strategy: the ``tf.distribute.Strategy`` (TensorFlow) or ``None``.
        keras_distribution: the ``keras.distribution.Distribution`` (JAX) or ``None``.
    """

    kind: str
    precision: str
    jit_compile: str | bool
    distribution: str
    replicas: int = 1
    strategy: Any = None
    keras_distribution: Any = None

    def global_batch_size(self, per_replica: int) -> int:
        """Per-replica batch size times the number of replicas."""
        return per_replica * self.replicas

    def learning_rate(self, base: float, scale_with_replicas: bool) -> float:
        """The base learning rate, times the replicas when ``scale_with_replicas``."""
        return base * self.replicas if scale_with_replicas else base

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and compile models inside this block (dtype policy + distribution)."""
        with precision_policy(self.precision):
            if self.strategy is not None:
                with self.strategy.scope():
                    yield
            elif self.keras_distribution is not None:
                previous = keras.distribution.distribution()
                keras.distribution.set_distribution(self.keras_distribution)
                try:
                    yield
                finally:
                    keras.distribution.set_distribution(previous)
            else:
                yield

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (written into the run's metrics)."""
        return {
            "backend": keras.backend.backend(),
            "kind": self.kind,
            "precision": self.precision,
            "jit_compile": self.jit_compile,
            "distribution": self.distribution,
            "replicas": self.replicas,
        }


def _mirrored_strategy(kind: str) -> Any:
    import tensorflow as tf

    if kind == "gpu":
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    else:
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def setup_devices(config: TrainConfig, *, strategy: Any = None) -> DeviceSetup:
    """Resolve precision, XLA and distribution for ``config`` on this machine.

    Args:
        config: the run's config (``precision``, ``jit_compile``, ``distribution``).
        strategy: an existing ``tf.distribute.Strategy`` to use instead (e.g. a
            ``MultiWorkerMirroredStrategy``); TensorFlow backend only.

    Returns:
        The :class:`DeviceSetup`.

    Raises:
        ValueError: when the distribution does not exist on the current backend.
    """
    backend = keras.backend.backend()
    kind, capability, count = accelerator()
    enable_memory_growth()
    precision = resolve_precision(config.precision, kind=kind, compute_capability=capability)
    jit_compile = resolve_jit_compile(config.jit_compile, kind=kind, backend=backend)

    if strategy is not None:
        if backend != "tensorflow":
            raise ValueError(f"a tf.distribute strategy needs the TensorFlow backend, not {backend!r}")
        return DeviceSetup(kind, precision, jit_compile, "mirrored", strategy.num_replicas_in_sync, strategy)

    mode = config.distribution
    if mode == "auto":
        if kind == "gpu" and count > 1 and backend == "tensorflow":
            mode = "mirrored"
        elif kind in ("gpu", "tpu") and count > 1 and backend == "jax":
            mode = "data_parallel"
        else:
            mode = "none"
    if mode == "none":
        return DeviceSetup(kind, precision, jit_compile, "none")
    if mode == "mirrored":
        if backend != "tensorflow":
            raise ValueError(
                f"distribution='mirrored' uses tf.distribute and needs KERAS_BACKEND=tensorflow, "
                f"got {backend!r}; use distribution='data_parallel' on JAX"
            )
        mirrored = _mirrored_strategy(kind)
        return DeviceSetup(kind, precision, jit_compile, "mirrored", mirrored.num_replicas_in_sync, mirrored)
    # data_parallel
    if backend != "jax":
        raise ValueError(
            f"distribution='data_parallel' uses keras.distribution and needs KERAS_BACKEND=jax, "
            f"got {backend!r}; use distribution='mirrored' on TensorFlow"
        )
    devices = keras.distribution.list_devices()
    data_parallel = keras.distribution.DataParallel(devices=devices)
    return DeviceSetup(kind, precision, jit_compile, "data_parallel", len(devices), None, data_parallel)
