"""A preset's network in 8-bit integers: the int8 ONNX copy that ``adiencekit predict`` runs.

:func:`add_int8_onnx_to_preset` turns a preset's float ONNX copy
(:data:`adiencekit.bundled.ONNX_FILE`, :func:`adiencekit.export.add_onnx_to_preset`) into
:data:`adiencekit.bundled.INT8_ONNX_FILE`: ONNX Runtime's static quantization of the
convolutional trunk (QDQ, per-channel ``int8`` weights, ``uint8`` activations, min-max
ranges; the pooling and the heads stay ``float32``, :func:`head_nodes`) calibrated on faces
drawn from the *training* split of the preset's own training data, never its validation
or test faces. The file keeps the float copy's export record (so it names the weights it
was made from and a loader can tell a stale copy) plus a ``quantization`` entry, and the
preset's ``preset.json`` records how it was calibrated under ``inference.int8``, so that
``adiencekit reproduce`` makes it again.

Why: the bundled network is small, and a photo feeds it one face at a time. On the
project's 2-core CPU (one thread, batch 1) its int8 copy took 0.87 ms a face against
2.85 ms for the float copy, and the two agreed on the validation faces to within a few
tenths of a point on every figure (the model card has the measured table). The time it
saves pays for the mirrored second view that the bundled preset asks for
(``inference.tta``: see :func:`adiencekit.inference.loading.load_model_source`).

Quantizing needs the ``onnx`` package (the export extra); running the result needs only
``onnxruntime``.

Example:

>>> from adiencekit.quantization import calibration_indices
>>> calibration_indices(10, faces=4, seed=0).tolist()
[2, 4, 5, 7]
>>> calibration_indices(3, faces=4, seed=0).tolist()  # fewer training faces than asked: all of them
[0, 1, 2]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError, DataError, ModelFileError

__all__ = [
    "CALIBRATION_FACES",
    "CALIBRATION_SEED",
    "METHOD",
    "POOLING_OPS",
    "add_int8_onnx_to_preset",
    "calibration_indices",
    "calibration_inputs",
    "head_nodes",
    "quantize_onnx",
]

#: Training faces the int8 ranges are measured on, unless told.
CALIBRATION_FACES = 400

#: Seed of the draw of those faces, unless told.
CALIBRATION_SEED = 0

#: How the copy is quantized, as its record and the card say it.
METHOD = ("ONNX Runtime static quantization of the convolutional trunk: QDQ format, per-channel int8 weights, "
          "uint8 activations, min-max ranges over the calibration faces; the global pooling and the heads after it "
          "(classifiers, softmax, age in years) stay float32")


def calibration_indices(available: int, *, faces: int = CALIBRATION_FACES, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """Which of ``available`` training faces calibrate: ``faces`` of them drawn without replacement, sorted."""
    if isinstance(faces, bool) or not isinstance(faces, int) or faces < 1:
        raise ConfigError(f"calibration faces must be a positive int, got {faces!r}")
    if available <= faces:
        return np.arange(available)
    return np.sort(np.random.default_rng(seed).choice(available, size=faces, replace=False))


def calibration_inputs(preset: str | os.PathLike[str], data: str, *, faces: int = CALIBRATION_FACES,
                       seed: int = CALIBRATION_SEED) -> tuple[np.ndarray, dict[str, Any]]:
    """Model inputs of calibration faces: the training split of ``data`` as the preset's training made it.

    Args:
        preset: a preset folder whose ``preset.json`` records its training config.
        data: the data spec of the prepared training data on this machine (the card holds
            only folder names), e.g. ``"utkface:work/data/utkface,work/data/utkface-extra"``.
        faces: how many training faces.
        seed: the draw's seed.

    Returns:
        ``(inputs, record)``: ``(N, S, S, 3)`` float32 RGB ``[0, 255]`` model inputs (crop,
        resize and centre window as at inference) and what they were, for the card.

    Raises:
        ModelFileError: the preset records no training config.
        DataError: the training split is empty.
    """
    metadata = _read_preset(Path(preset))
    recorded = (metadata.get("training_data") or {}).get("config")
    if not isinstance(recorded, Mapping):
        raise ModelFileError(f"{preset}: its preset.json records no training config to draw calibration faces from")
    from PIL import Image

    from adiencekit.crops import model_inputs, resize_square
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.data_loading import load_split

    config = TrainConfig.from_dict({**recorded, "data": data})
    paths = load_split(config).train.paths
    if not paths:
        raise DataError(f"the training split of {data} is empty: no faces to calibrate on")
    chosen = calibration_indices(len(paths), faces=faces, seed=seed)
    crop_size = int((metadata.get("crop") or {}).get("size") or metadata["image_size"])
    crops = []
    for index in chosen:
        with Image.open(paths[index]) as image:
            crops.append(np.asarray(image.convert("RGB")))
    squares = np.stack([resize_square(crop[None], crop_size)[0] for crop in crops])
    input_size = int(metadata["input_shape"][0])
    inputs = model_inputs(squares, input_size, int(metadata["image_size"])).astype(np.float32)
    record = {"faces": len(chosen), "seed": seed, "of": len(paths),
              "from": "the training split of the preset's training data (never its validation or test faces)"}
    return inputs, record


#: The graph's pooling ops: the network's trunk ends at the first of them.
POOLING_OPS = ("GlobalAveragePool", "GlobalMaxPool")


def head_nodes(graph: Any) -> list[str]:
    """The nodes that stay in float: the global pooling and everything it feeds (the classifiers, the softmax,
    the age in years), so that the probabilities are exact softmax outputs that sum to one and no output
    range is clipped to what the calibration faces reached; empty for a graph without global pooling
    (then only the convolutions are quantized)."""
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pending = [node for node in graph.node if node.op_type in POOLING_OPS]
    seen: dict[str, None] = {}
    while pending:
        node = pending.pop()
        if node.name in seen:
            continue
        seen[node.name] = None
        for output in node.output:
            pending.extend(consumers.get(output, []))
    return list(seen)


def quantize_onnx(source: str | os.PathLike[str], target: str | os.PathLike[str], inputs: np.ndarray,
                  record_extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``source``'s int8 copy to ``target``, calibrated on ``inputs``; the record is kept and extended.

    Args:
        source: an adiencekit float ONNX export (one input).
        target: the int8 file to write (replaced atomically).
        inputs: calibration inputs, as the network takes them.
        record_extra: entries added to the record's ``quantization`` entry.

    Raises:
        ConfigError: the ``onnx`` package is missing.
        ModelFileError: ``source`` is not an adiencekit ONNX export.
    """
    try:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as error:
        raise ConfigError(f"int8 quantization needs onnx and onnxruntime ({error.name} is missing): "
                          f"pip install 'adiencekit[export]'") from None
    from adiencekit.export import write_record, read_export_record

    source, target = Path(source), Path(target)
    record = read_export_record(source)
    name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    batches = [{name: inputs[start : start + 16]} for start in range(0, len(inputs), 16)]

    class _Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    staging = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    prepared = target.with_name(f".tmp-{os.getpid()}-pre-{target.name}")
    try:
        quant_pre_process(str(source), str(prepared))
        heads = head_nodes(onnx.load(str(prepared)).graph)
        quantize_static(str(prepared), str(staging), _Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=heads, **({} if heads else {"op_types_to_quantize": ["Conv"]}))
        import onnxruntime

        record["quantization"] = {"method": METHOD, "onnxruntime": onnxruntime.__version__, **dict(record_extra or {})}
        write_record(staging, "onnx", record)
        os.replace(staging, target)
    finally:
        for path in (staging, prepared):
            if path.exists():
                path.unlink()
    return target


def add_int8_onnx_to_preset(folder: str | os.PathLike[str], data: str, *, faces: int = CALIBRATION_FACES,
                            seed: int = CALIBRATION_SEED) -> Path:
    """Write a preset's int8 ONNX copy (:data:`~adiencekit.bundled.INT8_ONNX_FILE`) and record it in ``preset.json``.

    The preset must hold its float ONNX copy (:func:`adiencekit.export.add_onnx_to_preset`),
    made from its current weights.

    Args:
        folder: the preset folder.
        data: the data spec of its prepared training data here (see :func:`calibration_inputs`).
        faces: calibration faces drawn from the training split.
        seed: the draw's seed.

    Returns:
        The int8 file.

    Raises:
        ModelFileError: no current float ONNX copy, or no training config recorded.
        ConfigError: the ``onnx`` package is missing; ``faces`` is not a positive int.
    """
    from adiencekit.bundled import INT8_ONNX_FILE, ONNX_FILE, PRESET_FILE, WEIGHTS_FILE
    from adiencekit.export_record import PRESET_WEIGHTS_KEY
    from adiencekit.fileio import atomic_write_text, file_sha256

    preset = Path(folder).expanduser()
    float_copy = preset / ONNX_FILE
    if not float_copy.is_file():
        raise ModelFileError(f"{preset} has no {ONNX_FILE} to quantize; write it first (export --format preset --onnx)")
    from adiencekit.export import read_export_record

    if read_export_record(float_copy).get(PRESET_WEIGHTS_KEY) != file_sha256(preset / WEIGHTS_FILE):
        raise ModelFileError(f"{float_copy} was not made from this preset's weights; remake it first "
                             f"(adiencekit.export.add_onnx_to_preset)")
    inputs, calibration = calibration_inputs(preset, data, faces=faces, seed=seed)
    written = quantize_onnx(float_copy, preset / INT8_ONNX_FILE, inputs, {"calibration": calibration})
    metadata = _read_preset(preset)
    inference = dict(metadata.get("inference") or {})
    inference["int8"] = {"file": INT8_ONNX_FILE, "method": METHOD, "calibration": calibration}
    metadata["inference"] = inference
    atomic_write_text(preset / PRESET_FILE, json.dumps(metadata, indent=2) + "\n")
    return written


def _read_preset(preset: Path) -> dict[str, Any]:
    from adiencekit.bundled import PRESET_FILE

    try:
        metadata = json.loads((preset / PRESET_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{preset}: not a readable preset ({PRESET_FILE}: {error})") from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{preset}: {PRESET_FILE} is not a JSON object")
    return metadata
