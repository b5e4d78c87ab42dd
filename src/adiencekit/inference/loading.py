"""One place that turns ``--model`` (a model, a ``.keras`` file, a run folder, a preset) into a model.

:func:`load_model_source` returns a :class:`LoadedModel`: the Keras model plus what
inference must know to feed it crops like the ones it was trained on: the crop
(:class:`~adiencekit.crops.CropSpec`; a preset records it in its
``crop`` metadata) and, for a training run, the ``image_size`` the faces were resized
to before the centre ``crop_size`` crop. No model (``None``) means the default model:
the bundled preset :data:`~adiencekit.models.presets.DEFAULT_PRESET`, read from the
package folder (:func:`load_default_model`; never fetched).

Example:

>>> from adiencekit.inference.loading import load_model_source
>>> load_model_source("no/such/model.keras")
Traceback (most recent call last):
...
adiencekit.errors.ModelFileError: no/such/model.keras: no such file or folder; --model takes a .keras file, a training run folder (config.json + best.keras) or a preset
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from adiencekit.crops import CropSpec, metadata_crop
from adiencekit.errors import ModelFileError, damaged_reason
from adiencekit.models import presets
from adiencekit.models.presets import PRESET_FILE
from adiencekit.training.run_folder import RunFolder

__all__ = ["LoadedModel", "load_default_model", "load_model_source", "model_input_size"]


@dataclass
class LoadedModel:
    """A model ready for inference and how to crop faces for it.

    Attributes:
        model: the Keras model (RGB ``[0, 255]`` in, probabilities out).
        crop: the crop the model was trained on, or ``None`` when unknown (the
            :class:`~adiencekit.inference.Predictor` default applies). For a run folder:
            the framing of its dataset (UTKFace or Adience) at the run's ``image_size``.
        image_size: side the crop is resized to before the model's centre crop (a run's
            ``image_size``), or ``None`` to resize straight to the model's input.
        source: what was loaded, for messages.
    """

    model: keras.Model
    crop: CropSpec | None = None
    image_size: int | None = None
    source: str = "<model>"


def model_input_size(model: keras.Model) -> int | None:
    """The model's square input side, or ``None`` when it takes any size."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    if shape[1] != shape[2]:
        raise ModelFileError(f"model {model.name!r} takes {shape[1]}x{shape[2]} inputs; only square inputs are supported")
    return int(shape[1])


def _load_keras_file(path: Path) -> keras.Model:
    import adiencekit.layers  # noqa: F401  (registers the custom layers)
    import adiencekit.models  # noqa: F401

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors, ...
        raise ModelFileError(f"cannot load {path}: {damaged_reason(error)}") from None


def _from_run_folder(run: RunFolder) -> LoadedModel:
    """A training run: its best model, cut faces the way its training faces were made."""
    metadata = run.preset_metadata()
    return LoadedModel(model=run.load_model(), crop=metadata_crop(metadata),
                       image_size=metadata["image_size"], source=str(run.path))


def _from_preset(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    """Load a preset (a name, a folder holding ``preset.json``, a URL).

    Presets belong to :mod:`adiencekit.models` (``AgeGenderClassifier.from_preset``,
    which records ``preset_metadata``); this is the single hook inference uses.
    """
    from adiencekit.models import TaskModel

    model = TaskModel.from_preset(str(name_or_path))
    metadata = getattr(model, "preset_metadata", None) or {}
    return LoadedModel(
        model=model,
        crop=metadata_crop(metadata),
        image_size=metadata.get("image_size"),
        source=str(name_or_path),
    )


def load_default_model() -> LoadedModel:
    """The default model: the bundled preset :data:`~adiencekit.models.presets.DEFAULT_PRESET`.

    It is read from the package's own folder
    (:data:`~adiencekit.models.presets.BUNDLED_DIR`), never from the network, and never
    from a preset registered under the same name.

    Returns:
        The model and its crop settings; ``source`` is the preset's name.

    Raises:
        ModelFileError: the preset is not in this installation (a source tree without
            the weights, or a deleted folder); the message says to pass ``--model``.
    """
    folder = presets.BUNDLED_DIR / presets.DEFAULT_PRESET  # looked up at call time (tests substitute them)
    if not (folder / PRESET_FILE).is_file():
        raise ModelFileError(
            f"no model given and the default model, the bundled preset {presets.DEFAULT_PRESET!r}, is not in "
            f"this installation ({folder / PRESET_FILE} is missing); pass --model (Python: "
            f"Predictor(model=...)) with a preset name or folder, a training run folder or a .keras file"
        )
    loaded = _from_preset(folder)
    loaded.source = presets.DEFAULT_PRESET
    return loaded


def load_model_source(source: Any = None) -> LoadedModel:
    """Resolve ``source`` into a :class:`LoadedModel`.

    Args:
        source: ``None`` for the default model (:func:`load_default_model`); a
            ``keras.Model``; a :class:`LoadedModel` (returned as is); a ``.keras``
            file; a training run folder (``config.json`` + ``best.keras``, see
            :func:`adiencekit.training.train`); a preset folder (``preset.json``) or
            preset name.

    Returns:
        The model and its crop settings.

    Raises:
        ModelFileError: the path does not exist or holds no loadable model, or
            ``source`` is ``None`` and the default preset is not bundled.
    """
    if source is None:
        return load_default_model()
    if isinstance(source, LoadedModel):
        return source
    if isinstance(source, keras.Model):
        return LoadedModel(model=source, source=source.name)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"model must be a keras.Model, a path or a preset name, got {type(source).__name__}")
    if "://" in str(source):  # a preset archive URL
        return _from_preset(str(source))
    path = Path(source).expanduser()
    if path.is_dir():
        run = RunFolder(path)
        if run.is_run():
            return _from_run_folder(run)
        if (path / PRESET_FILE).is_file():
            return _from_preset(path)
        raise ModelFileError(
            f"{path}: neither a training run folder (config.json + best.keras) nor a preset folder ({PRESET_FILE})"
        )
    if path.is_file():
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: expected a .keras model file, got {path.suffix or 'no suffix'}")
        return LoadedModel(model=_load_keras_file(path), source=str(path))
    if path.exists():
        raise ModelFileError(f"{path}: not a regular file or folder")
    if path.suffix or os.sep in str(source) or "/" in str(source) or str(source).startswith("~"):
        raise ModelFileError(
            f"{source}: no such file or folder; --model takes a .keras file, a training run folder "
            f"(config.json + best.keras) or a preset"
        )
    return _from_preset(str(source))
