"""What both input pipelines accept: argument checks and the choice of engine, without TensorFlow.

The ``tf.data`` pipeline (:mod:`adiencekit.data.pipeline`) and its Grain twin
(:mod:`adiencekit.data.grain_pipeline`) take the same arguments; this module checks them
once for both, so that a mistake gives the same message whichever engine runs. It also
says which engines exist (:data:`PIPELINE_FORMATS`, Keras's ``format="tf" | "grain"``)
and which one ``"auto"`` means here (:func:`resolve_format`): ``"tf"`` when TensorFlow is
installed, ``"grain"`` otherwise.

Example:

>>> from adiencekit.data.pipeline_args import check_pipeline_args
>>> paths, labels = check_pipeline_args(["a.jpg", "b.jpg"], {"gender": [0, -1]}, image_size=64, crop_size=56)
>>> paths, labels["gender"].tolist()
(['a.jpg', 'b.jpg'], [0, -1])
>>> check_pipeline_args(["a.jpg"], [0], image_size=32, crop_size=56)
Traceback (most recent call last):
...
ValueError: crop_size (56) must be <= image_size (32)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError
from adiencekit.labels import AGE_YEARS

__all__ = [
    "JPEG_DECODE_RATIOS",
    "OUTPUT_DTYPES",
    "PIPELINE_FORMATS",
    "augments",
    "check_cache_folder",
    "check_format",
    "check_pipeline_args",
    "resolve_format",
    "tensorflow_installed",
]

#: The input pipeline engines, as ``keras.utils.image_dataset_from_directory`` names them.
PIPELINE_FORMATS: tuple[str, ...] = ("tf", "grain")
#: The DCT scaling ratios libjpeg supports for reduced-size decoding.
JPEG_DECODE_RATIOS: tuple[int, ...] = (1, 2, 4, 8)
#: The image dtypes a pipeline can yield.
OUTPUT_DTYPES: tuple[str, ...] = ("float32", "uint8")


def tensorflow_installed() -> bool:
    """Whether the ``tensorflow`` package can be imported here (it is not imported)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"] is not None
    return importlib.util.find_spec("tensorflow") is not None


def check_format(format: Any, *, allow_auto: bool = False) -> str:  # noqa: A002 (Keras's name)
    """``format`` itself when it names an engine (or ``"auto"`` when allowed), else a ConfigError.

    Example:

    >>> from adiencekit.data.pipeline_args import check_format
    >>> check_format("grain")
    'grain'
    >>> check_format("torch")
    Traceback (most recent call last):
    ...
    adiencekit.errors.ConfigError: format must be 'tf' or 'grain', got 'torch'
    """
    allowed = (*PIPELINE_FORMATS, "auto") if allow_auto else PIPELINE_FORMATS
    if format not in allowed:
        names = " or ".join(repr(name) for name in allowed) if len(allowed) == 2 else (
            ", ".join(repr(name) for name in allowed[:-1]) + f" or {allowed[-1]!r}")
        raise ConfigError(f"format must be {names}, got {format!r}")
    return str(format)


def resolve_format(format: str = "auto", *, notice: Callable[[str], None] | None = None) -> str:  # noqa: A002
    """The engine ``format`` means here: ``"auto"`` is ``"tf"`` with TensorFlow installed, else ``"grain"``.

    Args:
        format: ``"auto"``, ``"tf"`` or ``"grain"``.
        notice: called with one line when ``"auto"`` falls back to Grain (e.g. ``print``).

    Returns:
        ``"tf"`` or ``"grain"``.

    Raises:
        ConfigError: for an unknown format, or one whose package (``tensorflow``,
            ``grain``) is not installed.

    Example:

    >>> import pytest; _ = pytest.importorskip("grain", reason="the Grain pipeline needs grain")
    >>> from adiencekit.data.pipeline_args import resolve_format
    >>> resolve_format("grain")
    'grain'
    """
    format = check_format(format, allow_auto=True)
    if format == "auto":
        if tensorflow_installed():
            return "tf"
        if notice is not None:
            notice("adiencekit: TensorFlow is not installed; the input pipeline is Grain (input_format='grain')")
        format = "grain"
    if format == "grain" and importlib.util.find_spec("grain") is None:
        raise ConfigError(
            "input format 'grain' needs the grain package: pip install grain (or pip install \"adiencekit[jax]\")"
        )
    if format == "tf" and not tensorflow_installed():
        raise ConfigError(
            "input format 'tf' needs TensorFlow, which is not installed: pip install tensorflow, or use "
            "format 'grain' (pip install grain)"
        )
    return format


def augments(image_size: int, crop_size: int, *, flip: bool, rotation: float) -> bool:
    """Whether a training pipeline has per-image work after loading: a crop smaller than
    the image, a flip or a rotation (without any, it only shuffles and batches).

    >>> augments(256, 227, flip=True, rotation=0.0), augments(256, 256, flip=False, rotation=0.0)
    (True, False)
    """
    return int(crop_size) < int(image_size) or bool(flip) or float(rotation) > 0


def check_cache_folder(folder: Path) -> None:
    """Create a file cache's folder, or raise a ConfigError saying why it cannot be used."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the cache folder {folder}: {error.strerror or error}; pass another cache path, "
            "cache=True (memory) or cache=False"
        ) from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(
            f"the cache folder {folder} is not writable; pass another cache path, cache=True (memory) or cache=False"
        )


def check_pipeline_args(
    paths: Any,
    labels: Any = None,
    *,
    image_size: Any = 256,
    crop_size: Any = 227,
    batch_size: Any = 32,
    rotation: Any = 0.0,
    seed: Any = None,
    cache: Any = False,
    shuffle_buffer: Any = None,
    output_dtype: Any = "float32",
    check_images: bool = False,
) -> tuple[list[str], np.ndarray | dict[str, np.ndarray] | None]:
    """Check the arguments both pipelines share; return the paths as strings and the labels as ``int32``.

    A label dict may also hold ``"age_years"`` (exact ages, kept as ``float32`` with NaN
    where a face has none) for a model with an ``age_years`` output.

    See :func:`adiencekit.data.pipeline.build_pipeline` for what each argument means.

    Returns:
        ``(paths, labels)``: ``list[str]`` and ``None``, an ``int32`` array or a dict of them.

    Raises:
        ValueError: on inconsistent arguments (sizes, lengths, label values, ...), or when
            ``check_images`` finds missing or undecodable files.
        TypeError: when ``paths`` is not a sequence of paths.
    """
    path_list = _as_path_strings(paths)
    label_arrays = _as_labels(labels, len(path_list))
    _check_sizes(image_size, crop_size)
    if output_dtype not in OUTPUT_DTYPES:
        raise ValueError(f"output_dtype must be 'float32' or 'uint8', got {output_dtype!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(rotation, bool) or not isinstance(rotation, (int, float)) or not 0 <= rotation <= 180:
        raise ValueError(f"rotation must be a number of degrees in [0, 180], got {rotation!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise ValueError(f"cache must be False, True (memory) or a file path prefix, got {cache!r}")
    if shuffle_buffer is not None and (not isinstance(shuffle_buffer, (int, np.integer)) or shuffle_buffer < 1):
        raise ValueError(f"shuffle_buffer must be a positive int or None, got {shuffle_buffer!r}")
    if check_images:
        _check_images_exist(path_list)
    return path_list, label_arrays


def _check_sizes(image_size: Any, crop_size: Any) -> None:
    for name, value in (("image_size", image_size), ("crop_size", crop_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if crop_size > image_size:
        raise ValueError(f"crop_size ({crop_size}) must be <= image_size ({image_size})")


def _as_path_strings(paths: Any) -> list[str]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be a sequence of file paths, got a single {type(paths).__name__}: {paths!r}")
    try:
        items = list(paths)
    except TypeError:
        raise TypeError(f"paths must be a sequence of file paths, got {type(paths).__name__}") from None
    out = []
    for index, item in enumerate(items):
        if isinstance(item, bytes):
            item = item.decode()
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"paths[{index}] must be a str or os.PathLike, got {type(item).__name__}: {item!r}")
        out.append(os.fspath(item))
    return out


def _as_label_array(values: Any, count: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) != count:
        raise ValueError(f"{name} has {len(array)} entries but there are {count} paths; they must match")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array) & (array == np.round(array))):
            raise ValueError(f"{name} must hold integer class indices (-1 = missing), got dtype {array.dtype}")
    array = array.astype(np.int32)
    if array.size and array.min() < -1:
        raise ValueError(f"{name} must be class indices >= 0 or -1 for missing, got minimum {array.min()}")
    return array


def _as_age_years(values: Any, count: int, name: str) -> np.ndarray:
    """Exact ages as ``float32`` (NaN = no exact age); negative or infinite ages are refused."""
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold ages in years (NaN = missing), got {values!r:.80}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) != count:
        raise ValueError(f"{name} has {len(array)} entries but there are {count} paths; they must match")
    bad = np.isinf(array) | (array < 0)
    if bad.any():
        raise ValueError(f"{name} must be ages >= 0 in years or NaN for missing, got {array[bad][:5].tolist()}")
    return array


def _as_labels(labels: Any, count: int) -> np.ndarray | dict[str, np.ndarray] | None:
    if labels is None:
        return None
    if isinstance(labels, Mapping):
        if not labels:
            raise ValueError("labels is an empty dict; give at least one task, e.g. {'gender': [...]}")
        return {
            str(key): (_as_age_years if key == AGE_YEARS else _as_label_array)(value, count, f"labels[{key!r}]")
            for key, value in labels.items()
        }
    return _as_label_array(labels, count, "labels")


def _check_images_exist(paths: Sequence[str]) -> None:
    from adiencekit.data.images import scan_images

    bad = [info for info in scan_images(paths) if not info.ok]
    if bad:
        listed = "\n".join(f"  {info.problem}: {info.path}" for info in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise ValueError(f"{len(bad)} of {len(paths)} images cannot be decoded:\n{listed}{more}")
