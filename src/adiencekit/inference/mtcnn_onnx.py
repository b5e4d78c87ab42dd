"""MTCNN's three networks in ONNX Runtime: face detection without Keras.

:class:`OnnxMTCNNDetector` is :class:`~adiencekit.inference.mtcnn_keras.KerasMTCNNDetector`
(the same pyramid, stages, thresholds, retries and decoding, in NumPy) with P-, R- and
O-Net run by ONNX Runtime from the ONNX files shipped in the package
(:data:`MTCNN_ONNX_DIR`). Those files are the Keras networks of
:mod:`~adiencekit.inference.mtcnn_keras` with the ``mtcnn`` package's weights, exported by
:func:`write_mtcnn_onnx` (Keras's ONNX exporter); each records the sha256 of the weight
file it was made from. ``tests/inference/test_mtcnn_onnx.py`` checks that they give the
Keras networks' outputs (within 1e-4) on the installed package's weights and the same
faces on real photos.

On the project's 2-core CPU, one thread, R-Net on 8 crops took 0.46 ms in ONNX Runtime
against 0.76 ms as a compiled TensorFlow function and O-Net on 2 crops 0.68 against
1.08 ms; P-Net on a 256 x 320 canvas was the same (5.9 ms). The weights are the ``mtcnn``
package's (MIT licence, Copyright (c) 2019-2024 Iván de Paz Centeno; see
``weights/NOTICE.md``), from the networks of Zhang et al. 2016.

Example:

>>> import numpy as np
>>> from adiencekit.inference.mtcnn_onnx import OnnxMTCNNDetector
>>> detector = OnnxMTCNNDetector(retry=False)
>>> detector.detect(np.full((120, 160, 3), 200, np.uint8))  # a blank photo
[]
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector

__all__ = ["MTCNN_ONNX_DIR", "NETWORKS", "OnnxMTCNNDetector", "OnnxNetwork", "mtcnn_onnx_available",
           "onnx_networks", "write_mtcnn_onnx"]

#: Where the three ONNX files ship: ``mtcnn-pnet.onnx``, ``mtcnn-rnet.onnx``, ``mtcnn-onet.onnx``.
MTCNN_ONNX_DIR = Path(__file__).resolve().parent / "weights"

#: The networks, in the order of the stages.
NETWORKS: tuple[str, ...] = ("pnet", "rnet", "onet")

#: The metadata key of each file's record (format, network, the weight file's sha256).
_RECORD_KEY = "adiencekit_mtcnn"


def _file(name: str, folder: Path | None = None) -> Path:
    return (MTCNN_ONNX_DIR if folder is None else folder) / f"mtcnn-{name}.onnx"


def mtcnn_onnx_available() -> bool:
    """Whether ``onnxruntime`` is installed and the three ONNX files are in the package."""
    from adiencekit.inference.onnx_model import onnx_runtime_available

    return onnx_runtime_available() and all(_file(name).is_file() for name in NETWORKS)


class OnnxNetwork:
    """One MTCNN network in an ONNX Runtime session; :meth:`run_numpy` gives its outputs in the Keras order."""

    def __init__(self, name: str, path: Path, threads: int | None = None) -> None:
        from adiencekit.inference.onnx_model import open_session

        self.name = name
        self.path = path
        self._session = open_session(path, threads)
        self._input = self._session.get_inputs()[0].name
        self._outputs = [output.name for output in self._session.get_outputs()]

    def run_numpy(self, batch: np.ndarray) -> list[np.ndarray]:
        """The network on a float32 batch of normalised pixels (``(N, H, W, 3)``)."""
        if len(batch) == 0:  # nothing to run on: empty outputs of the right width
            probe = self._session.run(self._outputs, {self._input: np.zeros((1, *batch.shape[1:]), np.float32)})
            return [value[:0] for value in probe]
        return self._session.run(self._outputs, {self._input: np.ascontiguousarray(batch, np.float32)})


@functools.lru_cache(maxsize=None)
def onnx_networks(threads: int | None = None) -> tuple[OnnxNetwork, OnnxNetwork, OnnxNetwork]:
    """P-, R- and O-Net in ONNX Runtime sessions (opened once per process and thread count).

    Raises:
        ConfigError: ``onnxruntime`` is not installed.
        ModelFileError: a file is missing from this installation.
    """
    for name in NETWORKS:
        if not _file(name).is_file():
            raise ModelFileError(f"{_file(name)} is missing from this installation (reinstall adiencekit, "
                                 f"or use --detector mtcnn-keras)")
    return tuple(OnnxNetwork(name, _file(name), threads) for name in NETWORKS)  # type: ignore[return-value]


class OnnxMTCNNDetector(KerasMTCNNDetector):
    """MTCNN with its networks in ONNX Runtime (CPU); everything else as :class:`KerasMTCNNDetector`.

    Args:
        threads: ONNX Runtime intra-op threads of each network (default one).
        device: only ``"CPU:0"`` (or ``"cpu"``): the sessions run on the CPU.
        **kwargs: as :class:`~adiencekit.inference.mtcnn_keras.KerasMTCNNDetector`.
    """

    #: ONNX Runtime compiles nothing per input shape: P-Net's canvas needs only even sides
    #: (a quarter less canvas than the Keras path's 64-pixel steps on 200 px photos).
    canvas_step = 2

    def __init__(self, *, threads: int | None = None, device: str = "CPU:0", **kwargs: Any) -> None:
        self.threads = threads
        super().__init__(device=device, **kwargs)

    def _build_networks(self, device: str) -> None:
        if str(device).lower() not in ("cpu", "cpu:0", "/cpu:0"):
            raise ConfigError(f"the ONNX Runtime MTCNN runs on the CPU only, got device {device!r}; "
                              f"use --detector mtcnn-keras for another device")
        self.device = "CPU:0"
        self._pnet, self._rnet, self._onet = onnx_networks(self.threads)

    def _device_scope(self) -> Any:
        return contextlib.nullcontext()


def write_mtcnn_onnx(folder: str | os.PathLike[str] | None = None, weights_folder: str | Path | None = None) -> list[Path]:
    """Export the Keras MTCNN networks with the ``mtcnn`` package's weights to ONNX files (maintainers' tool).

    Needs TensorFlow and the export extra (``tf2onnx``, ``onnx``). Each file's metadata
    records the sha256 of the weight file it was made from.

    Args:
        folder: where to write (default :data:`MTCNN_ONNX_DIR`, the package's copy).
        weights_folder: where the ``.lz4`` weights lie (default: the installed package's).

    Returns:
        The three files written.
    """
    import io
    import json

    import onnx

    from adiencekit.fileio import file_sha256
    from adiencekit.inference.mtcnn_keras import _weights_dir, build_onet, build_pnet, build_rnet, load_mtcnn_weights

    target = MTCNN_ONNX_DIR if folder is None else Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    source = Path(weights_folder) if weights_folder is not None else _weights_dir()
    written = []
    for name, build in zip(NETWORKS, (build_pnet, build_rnet, build_onet), strict=True):
        network = build(load_mtcnn_weights(name, source))
        shape = [1] + [side or 48 for side in network.inputs[0].shape[1:]]
        network(np.zeros(shape, np.float32))  # Keras's ONNX exporter wants a model that has run
        path = _file(name, target)
        with contextlib.redirect_stdout(io.StringIO()):
            network.export(str(path), format="onnx", verbose=False)
        graph = onnx.load(str(path))
        record = {"format": "adiencekit-mtcnn", "network": name, "weights": f"{name}.lz4",
                  "weights_sha256": file_sha256(source / f"{name}.lz4"),
                  "outputs": [output.name for output in network.outputs]}
        graph.metadata_props.add(key=_RECORD_KEY, value=json.dumps(record))
        onnx.save(graph, str(path))
        written.append(path)
    return written
