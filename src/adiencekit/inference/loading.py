"""One place that turns ``--model`` (a model, a ``.keras`` or ``.onnx`` file, a run folder, a preset) into a model.

:func:`load_model_source` returns a :class:`LoadedModel`: the network (a Keras model, or
an :class:`~adiencekit.inference.onnx_model.OnnxFaceModel` run by ONNX Runtime) plus what
inference must know to feed it crops like the ones it was trained on: the crop
(:class:`~adiencekit.crops.CropSpec`; a preset records it in its ``crop`` metadata, an
ONNX export in its record) and, for a training run, the ``image_size`` the faces were
resized to before the centre ``crop_size`` crop. No model (``None``) means the default
model: the bundled preset :data:`adiencekit.bundled.DEFAULT_PRESET`, read from the
package folder (:func:`load_default_model`; never fetched).

Which runtime (``runtime``, :data:`~adiencekit.inference.onnx_model.RUNTIMES`):

- ``"auto"`` (the default): a preset folder that holds its network's ONNX copy
  (:data:`adiencekit.bundled.ONNX_FILE`, made from the same weights:
  :func:`adiencekit.export.add_onnx_to_preset`; the bundled default has one) and an
  ``.onnx`` file run in ONNX Runtime when ``onnxruntime`` is installed, without importing
  Keras; everything else, and a preset whose ONNX copy was made from other weights (a
  warning says so), runs in Keras;
- ``"onnx"``: ONNX Runtime or a one-line error saying why not;
- ``"keras"``: Keras always (an ``.onnx`` file is then refused).

Which precision (``precision``, :data:`~adiencekit.inference.onnx_model.PRECISIONS`): a
preset may also hold an int8 copy of its network (:data:`adiencekit.bundled.INT8_ONNX_FILE`,
:mod:`adiencekit.quantization`; the bundled default has one). ``"auto"`` (the default)
runs it where it is current and the runtime is ONNX Runtime, else the float network;
``"float32"`` never runs it; ``"int8"`` runs it or says why not in one line.

What the model asks of inference: a preset's ``preset.json`` may say ``"inference":
{"tta": "flip"}`` (the bundled default does: chosen on its validation faces, see its card);
:attr:`LoadedModel.tta` carries it, and a :class:`~adiencekit.inference.Predictor` then
averages each face with its mirror unless told ``tta=False``.

Importing this module does not import Keras; loading a Keras model does.

Example:

>>> from adiencekit.inference.loading import load_model_source
>>> load_model_source("no/such/model.keras")
Traceback (most recent call last):
...
adiencekit.errors.ModelFileError: no/such/model.keras: no such file or folder; --model takes a .keras or .onnx file, a training run folder (config.json + best.keras) or a preset
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adiencekit import bundled
from adiencekit.bundled import INT8_ONNX_FILE, ONNX_FILE, PRESET_FILE, WEIGHTS_FILE
from adiencekit.crops import CropSpec, metadata_crop
from adiencekit.errors import ConfigError, ModelFileError, damaged_reason
from adiencekit.inference.onnx_model import OnnxFaceModel, check_precision, check_runtime, onnx_runtime_available
from adiencekit.training.run_folder import RunFolder

__all__ = ["LoadedModel", "load_default_model", "load_model_source", "model_input_size", "preset_onnx_model",
           "preset_tta"]


@dataclass
class LoadedModel:
    """A model ready for inference and how to crop faces for it.

    Attributes:
        model: the Keras model (RGB ``[0, 255]`` in, probabilities out), or ``None`` when
            the network runs in ONNX Runtime (:attr:`onnx`).
        crop: the crop the model was trained on, or ``None`` when unknown (the
            :class:`~adiencekit.inference.Predictor` default applies). For a run folder:
            the framing of its dataset (UTKFace or Adience) at the run's ``image_size``.
        image_size: side the crop is resized to before the model's centre crop (a run's
            ``image_size``), or ``None`` to resize straight to the model's input.
        source: what was loaded, for messages.
        onnx: the network in ONNX Runtime, or ``None`` when it runs in Keras (:attr:`model`).
        tta: whether the model's own record asks for the mirrored second view at
            inference (a preset's ``inference.tta`` of ``"flip"``); a
            :class:`~adiencekit.inference.Predictor` follows it unless told.
    """

    model: Any = None
    crop: CropSpec | None = None
    image_size: int | None = None
    source: str = "<model>"
    onnx: OnnxFaceModel | None = None
    tta: bool = False

    @property
    def runtime(self) -> str:
        """``"onnx"`` or ``"keras"``: what runs the network."""
        return "onnx" if self.onnx is not None else "keras"

    @property
    def precision(self) -> str:
        """``"int8"`` for a quantized ONNX copy, else ``"float32"``."""
        return self.onnx.precision if self.onnx is not None else "float32"


def model_input_size(model: Any) -> int | None:
    """The model's square input side, or ``None`` when it takes any size."""
    if isinstance(model, OnnxFaceModel):
        return model.input_size
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    if shape[1] != shape[2]:
        raise ModelFileError(f"model {model.name!r} takes {shape[1]}x{shape[2]} inputs; only square inputs are supported")
    return int(shape[1])


def _keras_quietly() -> None:
    """Import Keras (and its backend) now, quietly: a Keras model is about to be loaded."""
    from adiencekit.quiet import quiet_backend_import

    quiet_backend_import()


def _load_keras_file(path: Path) -> Any:
    _keras_quietly()
    import keras

    import adiencekit.layers  # noqa: F401  (registers the custom layers)
    import adiencekit.models  # noqa: F401

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors, ...
        raise ModelFileError(f"cannot load {path}: {damaged_reason(error)}") from None


def _from_run_folder(run: RunFolder) -> LoadedModel:
    """A training run: its best model, cut faces the way its training faces were made."""
    metadata = run.preset_metadata()
    _keras_quietly()
    return LoadedModel(model=run.load_model(), crop=metadata_crop(metadata),
                       image_size=metadata["image_size"], source=str(run.path))


def _from_onnx_file(path: Path, threads: int | None) -> LoadedModel:
    """An adiencekit ONNX export: its network in ONNX Runtime, its crop from its record."""
    network = OnnxFaceModel(path, threads=threads)
    return LoadedModel(crop=CropSpec.from_dict(network.crop), image_size=network.image_size, source=str(path),
                       onnx=network)


def preset_onnx_model(folder: str | os.PathLike[str], threads: int | None = None, *,
                      int8: bool = False) -> tuple[OnnxFaceModel | None, str]:
    """A preset folder's ONNX copy of its network in ONNX Runtime, if it is current, and why not otherwise.

    ``int8=True`` asks for its int8 copy (:data:`~adiencekit.bundled.INT8_ONNX_FILE`) instead
    of the float one (:data:`~adiencekit.bundled.ONNX_FILE`).

    Current means made from the preset's weights as they are: the copy's record names the
    sha256 of the weights file it was exported from
    (:data:`adiencekit.export.PRESET_WEIGHTS_KEY`), compared with the file's.

    Returns:
        ``(network, "")`` for a current copy, else ``(None, reason)``.
    """
    from adiencekit.export_record import PRESET_WEIGHTS_KEY
    from adiencekit.fileio import file_sha256

    preset = Path(folder)
    name = INT8_ONNX_FILE if int8 else ONNX_FILE
    path = preset / name
    if not path.is_file():
        return None, f"{preset} has no {name}"
    if not onnx_runtime_available():
        return None, "onnxruntime is not installed"
    weights = preset / WEIGHTS_FILE
    try:
        network = OnnxFaceModel(path, threads=threads)
        current = file_sha256(weights) if weights.is_file() else None
    except (OSError, ModelFileError) as error:
        return None, str(error)
    if network.record.get(PRESET_WEIGHTS_KEY) != current:
        return None, (f"{path} was not made from this preset's weights ({weights.name} changed after the export; "
                      f"remake it with adiencekit.export.add_onnx_to_preset)")
    return network, ""


def preset_tta(metadata: Any) -> bool:
    """Whether a preset's ``preset.json`` (its dict) asks for the mirrored second view: ``inference.tta == "flip"``.

    Example:

    >>> from adiencekit.inference.loading import preset_tta
    >>> preset_tta({"inference": {"tta": "flip"}}), preset_tta({}), preset_tta(None)
    (True, False, False)
    """
    inference = metadata.get("inference") if isinstance(metadata, dict) else None
    return isinstance(inference, dict) and inference.get("tta") == "flip"


def _read_preset_metadata(folder: Path | None) -> dict[str, Any]:
    import json

    if folder is None:
        return {}
    try:
        metadata = json.loads((folder / PRESET_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # the Keras loader reports an unreadable preset.json in its own words
    return metadata if isinstance(metadata, dict) else {}


def _preset_network(folder: Path | None, precision: str, threads: int | None) -> tuple[OnnxFaceModel | None, str]:
    """The preset's ONNX network ``precision`` allows (int8 first under ``"auto"``), or why none."""
    if folder is None:
        return None, "not a local folder"
    reasons = []
    for int8 in {"auto": (True, False), "int8": (True,), "float32": (False,)}[precision]:
        if int8 and not (folder / INT8_ONNX_FILE).is_file() and precision == "auto":
            continue  # a preset without an int8 copy: nothing to say
        network, reason = preset_onnx_model(folder, threads, int8=int8)
        if network is not None and int8 and network.precision != "int8":
            network, reason = None, f"{folder / INT8_ONNX_FILE} holds no quantized network (its record says so)"
        if network is not None:
            return network, ""
        reasons.append(reason)
    return None, "; ".join(reasons)


def _from_preset(name_or_path: str | os.PathLike[str], runtime: str = "keras",
                 threads: int | None = None, precision: str = "auto") -> LoadedModel:
    """Load a preset (a name, a folder holding ``preset.json``, a URL), in ONNX Runtime where ``runtime`` allows.

    Presets belong to :mod:`adiencekit.models` (``AgeGenderClassifier.from_preset``,
    which records ``preset_metadata``); this is the single hook inference uses.
    """
    folder = _local_preset_folder(name_or_path)
    if precision == "int8" and runtime == "keras":
        raise ConfigError("--precision int8 runs a preset's int8 ONNX copy in ONNX Runtime; not with --runtime keras")
    if runtime != "keras":
        network, reason = _preset_network(folder, precision, threads)
        if network is not None:
            return LoadedModel(crop=CropSpec.from_dict(network.crop), image_size=network.image_size,
                               source=str(name_or_path), onnx=network,
                               tta=preset_tta(_read_preset_metadata(folder)))
        if precision == "int8":
            raise ConfigError(f"--precision int8: the preset {name_or_path} has no int8 copy to run ({reason}); "
                              f"use --precision auto or float32")
        if runtime == "onnx":
            raise ConfigError(f"--runtime onnx: cannot run the preset {name_or_path} in ONNX Runtime ({reason}); "
                              f"use --runtime keras")
        if folder is not None and (folder / ONNX_FILE).is_file() and onnx_runtime_available():
            warnings.warn(f"{reason}; running the preset in Keras instead", stacklevel=3)
    _keras_quietly()
    from adiencekit.models import TaskModel

    model = TaskModel.from_preset(str(name_or_path))
    metadata = getattr(model, "preset_metadata", None) or {}
    return LoadedModel(
        model=model,
        crop=metadata_crop(metadata),
        image_size=metadata.get("image_size"),
        source=str(name_or_path),
        tta=preset_tta(metadata),
    )


def _local_preset_folder(name_or_path: str | os.PathLike[str]) -> Path | None:
    """The folder of a local preset (a folder with ``preset.json``, or a bundled preset's name), else ``None``."""
    text = os.fspath(name_or_path)
    if "://" in text:
        return None
    path = Path(text).expanduser()
    if (path / PRESET_FILE).is_file():
        return path
    candidate = bundled.BUNDLED_DIR / text
    if os.sep not in text and "/" not in text and (candidate / PRESET_FILE).is_file():
        return candidate
    return None


def load_default_model(runtime: str = "auto", threads: int | None = None, precision: str = "auto") -> LoadedModel:
    """The default model: the bundled preset :data:`adiencekit.bundled.DEFAULT_PRESET`.

    It is read from the package's own folder (:data:`adiencekit.bundled.BUNDLED_DIR`),
    never from the network, and never from a preset registered under the same name; with
    ``runtime="auto"`` its ONNX copy runs in ONNX Runtime where ``onnxruntime`` is installed.

    Args:
        runtime: see the module's note.
        threads: ONNX Runtime intra-op threads.
        precision: see the module's note.

    Returns:
        The model and its crop settings; ``source`` is the preset's name.

    Raises:
        ModelFileError: the preset is not in this installation (a source tree without
            the weights, or a deleted folder); the message says to pass ``--model``.
    """
    folder = bundled.default_preset_dir()  # looked up at call time (tests substitute the folder)
    if not (folder / PRESET_FILE).is_file():
        raise ModelFileError(
            f"no model given and the default model, the bundled preset {bundled.DEFAULT_PRESET!r}, is not in "
            f"this installation ({folder / PRESET_FILE} is missing); pass --model (Python: "
            f"Predictor(model=...)) with a preset name or folder, a training run folder or a .keras file"
        )
    loaded = _from_preset(folder, check_runtime(runtime), threads, check_precision(precision))
    loaded.source = bundled.DEFAULT_PRESET
    return loaded


def _keras_model_class() -> Any:
    """``keras.Model`` if Keras is imported (a model object can only exist then), else ``None``."""
    keras = sys.modules.get("keras")
    return getattr(keras, "Model", None)


def load_model_source(source: Any = None, runtime: str = "auto", threads: int | None = None,
                      precision: str = "auto") -> LoadedModel:
    """Resolve ``source`` into a :class:`LoadedModel`.

    Args:
        source: ``None`` for the default model (:func:`load_default_model`); a
            ``keras.Model``; a :class:`LoadedModel` (returned as is); a ``.keras``
            file; an ``.onnx`` file exported by adiencekit; a training run folder
            (``config.json`` + ``best.keras``, see :func:`adiencekit.training.train`); a
            preset folder (``preset.json``) or preset name.
        runtime: ``"auto"``, ``"onnx"`` or ``"keras"`` (see the module's note).
        threads: ONNX Runtime intra-op threads (default
            :func:`~adiencekit.inference.onnx_model.default_threads`).
        precision: ``"auto"``, ``"float32"`` or ``"int8"`` (see the module's note).

    Returns:
        The model and its crop settings.

    Raises:
        ModelFileError: the path does not exist or holds no loadable model, or
            ``source`` is ``None`` and the default preset is not bundled.
        ConfigError: ``runtime`` cannot run this source (``"onnx"`` for a Keras-only
            source, ``"keras"`` for an ``.onnx`` file, ``"onnx"`` without ``onnxruntime``),
            or ``precision`` asks for what it does not have (``"int8"`` without an int8
            copy, ``"float32"`` for an int8 ``.onnx`` file).
    """
    check_runtime(runtime)
    check_precision(precision)
    loaded = _resolve(source, runtime, threads, precision)
    if precision != "auto" and loaded.precision != precision:
        raise ConfigError(f"--precision {precision}: {loaded.source} runs in {loaded.precision} "
                          f"({'an int8 ONNX file' if loaded.precision == 'int8' else 'it has no int8 copy'}); "
                          f"use --precision auto")
    return loaded


def _resolve(source: Any, runtime: str, threads: int | None, precision: str) -> LoadedModel:
    if source is None:
        return load_default_model(runtime, threads, precision)
    if isinstance(source, LoadedModel):
        return source
    keras_model = _keras_model_class()
    if keras_model is not None and isinstance(source, keras_model):
        _refuse_onnx(runtime, f"the Keras model {source.name!r}")
        return LoadedModel(model=source, source=source.name)
    if isinstance(source, OnnxFaceModel):
        return _from_onnx_file(source.path, threads) if runtime != "keras" else _refuse_keras(source.path)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"model must be a keras.Model, a path or a preset name, got {type(source).__name__}")
    if "://" in str(source):  # a preset archive URL
        return _from_preset(str(source), runtime, threads, precision)
    path = Path(source).expanduser()
    if path.is_dir():
        run = RunFolder(path)
        if run.is_run():
            _refuse_onnx(runtime, f"the training run {path}")
            return _from_run_folder(run)
        if (path / PRESET_FILE).is_file():
            return _from_preset(path, runtime, threads, precision)
        raise ModelFileError(
            f"{path}: neither a training run folder (config.json + best.keras) nor a preset folder ({PRESET_FILE})"
        )
    if path.is_file():
        if path.suffix == ".onnx":
            return _from_onnx_file(path, threads) if runtime != "keras" else _refuse_keras(path)
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: expected a .keras or .onnx model file, got {path.suffix or 'no suffix'}")
        _refuse_onnx(runtime, str(path))
        return LoadedModel(model=_load_keras_file(path), source=str(path))
    if path.exists():
        raise ModelFileError(f"{path}: not a regular file or folder")
    if path.suffix or os.sep in str(source) or "/" in str(source) or str(source).startswith("~"):
        raise ModelFileError(
            f"{source}: no such file or folder; --model takes a .keras or .onnx file, a training run folder "
            f"(config.json + best.keras) or a preset"
        )
    return _from_preset(str(source), runtime, threads, precision)


def _refuse_onnx(runtime: str, what: str) -> None:
    if runtime == "onnx":
        raise ConfigError(f"--runtime onnx: {what} runs in Keras only; export it first "
                          f"(adiencekit export --format onnx) or use --runtime auto")


def _refuse_keras(path: Path) -> LoadedModel:
    raise ConfigError(f"--runtime keras: {path} is an ONNX file, which runs in ONNX Runtime only; "
                      f"use --runtime auto or onnx")
