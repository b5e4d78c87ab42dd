"""Export a trained model for serving: TensorFlow SavedModel, TFLite (LiteRT) or ONNX.

:func:`export_model` uses Keras's own exporters (``model.export``: ``tf_saved_model``,
``litert`` — ``tf.lite.TFLiteConverter`` under the hood — and ``onnx`` — ``tf2onnx``
on the TensorFlow backend); no graph code is written here. What the exported artefact
holds:

- the whole model, preprocessing included: it takes ``float32`` RGB images in
  ``[0, 255]`` of shape ``(batch, size, size, 3)``, named ``image``;
- a dynamic batch size;
- one output per head, named ``gender`` (2 probabilities: female, male) and/or ``age``
  (8 probabilities, the Adience groups in order), and for a model with an ``age_years``
  output that one too (``age_years``: ``(batch, 1)`` ages in years);
- the record of how a face reaches it (:func:`export_record`: heads, output names, class
  names, where an age in years comes from, the crop spec, ``image_size``, input size and
  the resize/centre-crop rule), so no outside code guesses: in the ONNX file's
  ``metadata_props`` (key :data:`RECORD_KEY`), in ``assets/adiencekit.json`` inside the
  SavedModel folder, and in ``<file>.tflite.json`` beside a TFLite file.
  :func:`read_export_record` reads it back from any of the three.

The heads are asked of the model (:func:`adiencekit.models.heads.model_heads`); a
single-task model is wrapped so that its one output is named after its head too.

Example:

>>> import tempfile
>>> from adiencekit.export import export_model
>>> from adiencekit.models import create_model
>>> model = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3),
...                      conv_layers=2, base_filters=4, dense_units=8)
>>> path = export_model(model, f"{tempfile.mkdtemp()}/gender", format="saved_model")
>>> import tensorflow as tf
>>> sorted(tf.saved_model.load(str(path)).signatures["serving_default"].structured_outputs)
['gender']
>>> from adiencekit.export import read_export_record
>>> record = read_export_record(path)
>>> record["heads"], record["class_names"], record["input_size"]
(['gender'], {'gender': ['female', 'male']}, 32)
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.export_record import PRESET_WEIGHTS_KEY, RECORD_FORMAT, RECORD_KEY, parse_record
from adiencekit.fileio import disk_errors, file_sha256, make_dirs, run_folder_error

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from adiencekit.inference.loading import LoadedModel

__all__ = ["ENSEMBLE_SHARED_FIELDS", "EXPORT_FORMATS", "PRESET_FORMAT", "PRESET_WEIGHTS_KEY", "RECORD_KEY",
           "add_onnx_to_preset", "age_years_record",
           "check_ensemble_runs", "describe_export", "export_model", "export_preset", "export_record", "named_outputs",
           "output_names", "parse_record", "read_export_record", "record_path", "record_preset_tta",
           "with_age_years_head_weight", "write_record"]

#: Formats of :func:`export_model` and the Keras exporter each uses.
EXPORT_FORMATS: dict[str, str] = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}

#: ``adiencekit export --format preset``: a finished run as a preset folder (:func:`export_preset`).
PRESET_FORMAT = "preset"



def output_names(model: keras.Model, heads: Sequence[str] | None = None) -> tuple[str, ...]:
    """The names of an export's outputs: the model's heads, then ``"age_years"`` when it has that output.

    Example:

    >>> from adiencekit.export import output_names
    >>> from adiencekit.models import face_resnet
    >>> output_names(face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True))
    ('gender', 'age', 'age_years')
    """
    from adiencekit.labels import AGE_YEARS
    from adiencekit.models.heads import AGE_YEARS_OUTPUT_SOURCES, age_years_source, model_heads

    chosen = model_heads(model, heads)
    return (*chosen, AGE_YEARS) if age_years_source(model, heads) in AGE_YEARS_OUTPUT_SOURCES else chosen


def age_years_record(model: keras.Model, heads: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Where an exported model's age in years comes from, for outside code (``None``: no age head).

    ``{"source": "head", "output": "age_years", ...}`` for a model with that output
    (``"head and age groups"`` with its ``head_weight`` when that output blends the head with
    the groups' expected age);
    ``{"source": "age groups", "output": None, "representative_ages": [...], ...}`` for
    one with only the age groups: the age is then ``sum(p * ages) / sum(p)`` over the
    ``age`` output (:func:`adiencekit.labels.expected_age`).

    Example:

    >>> from adiencekit.export import age_years_record
    >>> from adiencekit.models import face_resnet
    >>> age_years_record(face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1)))["representative_ages"]
    [1.6, 5.2, 9.9, 18.8, 27.5, 38.9, 51.6, 69.7]
    """
    from adiencekit.labels import AGE_YEARS, GROUP_REPRESENTATIVE_AGES
    from adiencekit.models.heads import (AGE_YEARS_FROM_BLEND, AGE_YEARS_OUTPUT_SOURCES, age_years_head_weight,
                                         age_years_source)

    source = age_years_source(model, heads)
    if source is None:
        return None
    if source in AGE_YEARS_OUTPUT_SOURCES:
        record = {"source": source, "output": AGE_YEARS, "unit": "years", "shape": [None, 1]}
        if source == AGE_YEARS_FROM_BLEND:
            record.update(head_weight=age_years_head_weight(model), representative_ages=list(GROUP_REPRESENTATIVE_AGES),
                          rule="head_weight * head + (1 - head_weight) * sum(age * representative_ages) / sum(age), "
                               "computed inside the model: the output is the blend")
        return record
    return {"source": source, "output": None, "unit": "years", "representative_ages": list(GROUP_REPRESENTATIVE_AGES),
            "rule": "sum(age * representative_ages) / sum(age) over the 'age' output's probabilities"}


def named_outputs(model: keras.Model, heads: Sequence[str] | None = None) -> keras.Model:
    """``model`` with its outputs as a dict keyed by head (the same layers and weights).

    The heads are the model's own (:func:`~adiencekit.models.heads.model_heads`), and an
    ``age_years`` output is kept under that name (:func:`output_names`); a multitask
    model built by :mod:`adiencekit.models` already returns such a dict and is returned
    as is; a single-output model is wrapped.

    Args:
        model: the model.
        heads: the heads of a model that does not name them, in output order.

    Raises:
        ConfigError: the model does not say which output is which head and ``heads`` is
            not given.
    """
    import keras

    names = output_names(model, heads)
    output = getattr(model, "output", None)  # a Sequential never called has no .output
    if isinstance(output, dict) and set(output) == set(names):
        return model
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    tensors = ({name: output[name] for name in names} if isinstance(output, dict)
               else dict(zip(names, model.outputs, strict=True)))
    return keras.Model(inputs, tensors, name=f"{model.name}_named")


def export_record(loaded: LoadedModel, heads: Sequence[str] | None = None) -> dict[str, Any]:
    """What an exported file records about its model: heads, class names and how a face reaches it.

    The one source of truth of the record every export format carries (and
    :class:`~adiencekit.inference.Predictor` follows the same facts): the crop it cuts
    faces with (:func:`adiencekit.crops.inference_crop`), ``image_size`` and the
    model's ``input_size`` for :data:`adiencekit.crops.INPUT_RULE`.

    Args:
        loaded: the model and its crop (:func:`adiencekit.inference.loading.load_model_source`).
        heads: the heads of a model that does not name them, in output order.

    Returns:
        A JSON-ready dict: ``format``, ``heads``, ``outputs`` (the output names: the
        heads, then ``age_years`` where the model has it), ``class_names``,
        ``age_years`` (:func:`age_years_record`), ``input``, ``input_size``,
        ``image_size``, ``crop``, ``input_rule``, ``source``.
    """
    from adiencekit.crops import INPUT_RULE, inference_crop
    from adiencekit.inference.loading import model_input_size
    from adiencekit.models.heads import head_class_names, model_heads

    chosen = model_heads(loaded.model, heads)
    input_size = model_input_size(loaded.model)
    return {
        "format": RECORD_FORMAT,
        "heads": list(chosen),
        "outputs": list(output_names(loaded.model, heads)),
        "class_names": {head: list(names) for head, names in head_class_names(loaded.model, chosen).items()},
        "age_years": age_years_record(loaded.model, heads),
        "input": {"name": loaded.model.inputs[0].name, "dtype": "float32", "shape": [None, input_size, input_size, 3],
                  "pixels": "RGB in [0, 255], unscaled"},
        "input_size": input_size,
        "image_size": loaded.image_size,
        "crop": inference_crop(loaded.crop, input_size).to_dict(),
        "input_rule": INPUT_RULE,
        "source": loaded.source,
    }


def record_path(path: str | os.PathLike[str]) -> Path:
    """Where the export record of ``path`` lives: in a SavedModel folder's ``assets``, beside any other file.

    (An ONNX file also holds it in its ``metadata_props``.)

    Example:

    >>> from adiencekit.export import record_path
    >>> record_path("exported/utk.tflite").as_posix()
    'exported/utk.tflite.json'
    """
    target = Path(path)
    if target.is_dir():
        return target / "assets" / f"{RECORD_KEY}.json"
    return target.with_name(target.name + ".json")


def write_record(target: Path, format: str, record: dict[str, Any]) -> None:  # noqa: A002 - the export format
    """Write ``record`` into an exported ``target`` (an ONNX file's ``metadata_props``, else :func:`record_path`)."""
    from adiencekit.fileio import atomic_write_text

    text = json.dumps(record, indent=2)
    if format == "onnx":
        import onnx

        graph = onnx.load(str(target))
        kept = [prop for prop in graph.metadata_props if prop.key != RECORD_KEY]
        del graph.metadata_props[:]
        graph.metadata_props.extend(kept)
        graph.metadata_props.add(key=RECORD_KEY, value=text)
        tmp = target.with_name(f".{target.name}.tmp")
        onnx.save(graph, str(tmp))
        os.replace(tmp, target)
        return
    path = record_path(target)
    path.parent.mkdir(exist_ok=True)  # a SavedModel's assets folder, when Keras wrote none
    atomic_write_text(path, text + "\n")


def read_export_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The export record (:func:`export_record`) of an exported SavedModel folder, TFLite or ONNX file.

    Raises:
        ModelFileError: ``path`` holds no readable record (not exported by adiencekit).
    """
    target = Path(path)
    try:
        if target.suffix == ".onnx" and target.is_file():
            import onnx

            props = {prop.key: prop.value for prop in onnx.load(str(target), load_external_data=False).metadata_props}
            if RECORD_KEY not in props:
                raise ModelFileError(f"{target}: its metadata_props hold no {RECORD_KEY!r} record")
            text = props[RECORD_KEY]
        else:
            text = record_path(target).read_text(encoding="utf-8")
    except OSError as error:
        raise ModelFileError(f"{target}: no readable adiencekit export record ({error})") from None
    return parse_record(text, target)


def describe_export(path: str | os.PathLike[str]) -> str:
    """One line on what an exported file takes and gives, from its record (its own heads, not a guess).

    Example:

    >>> import json, tempfile, pathlib
    >>> from adiencekit.export import describe_export, record_path
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "assets").mkdir()
    >>> _ = record_path(folder).write_text(json.dumps({"format": "adiencekit-export", "heads": ["gender"],
    ...                                                "input_size": 64}))
    >>> describe_export(folder)
    "input 'image': float32 RGB 0-255, 64 px; output 'gender'"
    """
    record = read_export_record(path)
    names = record.get("outputs") or record["heads"]  # records before the age_years output list only heads
    outputs = ("output " if len(names) == 1 else "outputs ") + ", ".join(repr(name) for name in names)
    size = f", {record['input_size']} px" if record.get("input_size") else ""
    return f"input 'image': float32 RGB 0-255{size}; {outputs}"


def export_model(
    model: Any,
    path: str | os.PathLike[str],
    format: str = "saved_model",
    *,
    heads: Sequence[str] | None = None,
    overwrite: bool = False,
    verbose: bool = False,
    record_extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` in ``format``, with its record (:func:`export_record`).

    Args:
        model: a ``keras.Model``, a ``.keras`` file, a training run folder or a preset
            (anything :class:`~adiencekit.inference.Predictor` takes).
        path: output: a folder for ``saved_model``; a file for ``tflite``/``onnx``
            (``.tflite``/``.onnx`` is appended when missing).
        format: ``"saved_model"``, ``"tflite"`` or ``"onnx"``.
        heads: the heads of a model that does not name them (a plain ``keras.Model``
            whose outputs are not named ``gender``/``age``), in output order.
        overwrite: replace an existing output (default: refuse).
        verbose: let Keras and the converters print their progress.
        record_extra: more entries for the record (e.g. the weights it was made from).

    Returns:
        The path written.

    Raises:
        ConfigError: unknown format, a model that is not float32 (ONNX/TFLite export
            needs a float32 dtype policy), an existing output without ``overwrite``,
            a converter package that is not installed, a model that does not say
            which output is which head (without ``heads``).
        ModelFileError: the model cannot be loaded.
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {sorted(EXPORT_FORMATS)}, got {format!r}")
    from adiencekit.inference.loading import load_model_source

    source = load_model_source(model, runtime="keras")  # the Keras network is what is exported
    loaded = source.model
    record = {**export_record(source, heads), **(record_extra or {})}
    if loaded.dtype_policy.name != "float32":
        raise ConfigError(
            f"model {loaded.name!r} uses dtype policy {loaded.dtype_policy.name!r}; export needs a float32 model "
            f"(rebuild it under keras.config.set_dtype_policy('float32') and load its weights)"
        )
    target = Path(path).expanduser()
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(format)
    if suffix and target.suffix != suffix:
        target = target.with_name(target.name + suffix)
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise ConfigError(f"{target} exists; replace it with --overwrite (Python: overwrite=True)")
        check_replaceable(target, model, format)
    wrapped = named_outputs(loaded, heads)
    if not getattr(wrapped, "_called", True):  # Keras's ONNX exporter wants a model that has run once
        shape = [1] + [dim or 64 for dim in wrapped.inputs[0].shape[1:]]
        wrapped(np.zeros(shape, "float32"), training=False)
    make_dirs(target.parent)
    # Written beside the target and renamed over it: a killed export leaves the old file in place.
    staging = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    try:
        with quiet, disk_errors(target, "export"):
            _probe_writable(target.parent)
            wrapped.export(str(staging), format=EXPORT_FORMATS[format], verbose=verbose)
            if format != "tflite":
                write_record(staging, format, record)
        _replace(staging, target)
    except ImportError as error:
        raise ConfigError(
            f"exporting to {format} needs an extra package ({error}); pip install 'adiencekit[export]'"
        ) from None
    except Exception as error:
        if type(error).__name__ == "PermissionDeniedError":  # TensorFlow's own error type for EACCES/EROFS
            raise run_folder_error(OSError(errno.EACCES, "Permission denied"), target, "export") from None
        raise
    finally:
        _remove(staging)
    if format == "tflite":  # its record is a file beside it; the others carry theirs inside
        write_record(target, format, record)
    return target


#: What an export writes into a SavedModel folder; ``--overwrite`` replaces such a folder and no other.
_SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "variables", "assets", "fingerprint.pb", "keras_metadata.pb"})


def check_replaceable(target: Path, source: Any, format: str) -> None:  # noqa: A002 - the export format
    """Refuse to replace ``target`` unless it is an earlier export of this kind, and not the model itself.

    ``--overwrite`` replaces a previous export; it never deletes a training run folder, a
    preset, the model being exported, nor a folder that holds files an export does not write.

    Raises:
        ConfigError: naming what ``target`` is and why it is kept.
    """
    resolved = target.resolve()
    if isinstance(source, (str, os.PathLike)) and "://" not in os.fspath(source):
        origin = Path(source).expanduser().resolve()
        if origin == resolved or resolved in origin.parents:
            raise ConfigError(f"{target} is (or holds) the model being exported; choose another --out")
    if target.is_dir() and not target.is_symlink():
        if (target / "config.json").is_file() or (target / "preset.json").is_file():
            kind = "a training run folder" if (target / "config.json").is_file() else "a preset"
            raise ConfigError(f"{target} is {kind}; --overwrite never deletes one: choose another --out")
        foreign = sorted(p.name for p in target.iterdir() if p.name not in _SAVED_MODEL_ENTRIES
                         and not p.name.startswith(".tmp-"))
        if format != "saved_model" or foreign:
            what = f"files an export does not write ({', '.join(foreign[:3])})" if foreign else "a folder"
            raise ConfigError(f"{target} holds {what}; --overwrite replaces only an earlier export: "
                              f"choose another --out")
    elif format == "saved_model":
        raise ConfigError(f"{target} is a file, not a SavedModel folder; choose another --out")


def _probe_writable(folder: Path) -> None:
    """Fail early, as a one-line disk error, where the folder cannot be written (read-only, no permission)."""
    probe = folder / f".tmp-{os.getpid()}-probe"
    probe.write_bytes(b"")
    probe.unlink()


def _replace(staging: Path, target: Path) -> None:
    """Move a finished export onto ``target`` (a file atomically; a folder by two renames)."""
    if staging.is_dir():
        previous = target.with_name(f".tmp-{os.getpid()}-old-{target.name}")
        if target.exists():
            os.replace(target, previous)
        os.replace(staging, target)
        _remove(previous)
    else:
        os.replace(staging, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(OSError):
            path.unlink()


def portable_data_spec(spec: str) -> str:
    """A data spec as a preset records it: the data's kind and folder name, never a path of the training machine.

    Example:

    >>> portable_data_spec("utkface:/home/me/experiments/utk-aligned")
    'utkface:utk-aligned'
    >>> portable_data_spec("synthetic"), portable_data_spec("/data/AdienceBenchmark/")
    ('synthetic', 'AdienceBenchmark')
    >>> portable_data_spec("utkface:/data/utkface,/data/utkface-extra")
    'utkface:utkface,utkface-extra'
    """
    from adiencekit.data.datasets import UTKFACE_PREFIX
    from adiencekit.data.utkface import ROOT_SEPARATOR

    text = str(spec)
    prefix = UTKFACE_PREFIX if text.startswith(UTKFACE_PREFIX) else ""
    parts = text[len(prefix):].split(ROOT_SEPARATOR) if prefix else [text]
    return prefix + ROOT_SEPARATOR.join(Path(part.rstrip("/" + os.sep)).name or part for part in parts)


def _portable_config(config: Any) -> dict[str, Any]:
    values = config.to_dict()
    values["data"] = portable_data_spec(values["data"])
    if values.get("folds_dir"):
        values["folds_dir"] = Path(str(values["folds_dir"])).name
    return values


#: What the runs of an ensemble preset must share: the data, the split and the crop. Their
#: network, schedule, augmentation and seed may differ.
ENSEMBLE_SHARED_FIELDS: tuple[str, ...] = ("task", "data", "folds_dir", "faces", "age_policy", "test_fold",
                                           "val_fraction", "test_fraction", "image_size", "crop_size")


def _split_file(config: Any) -> str | None:
    """The ``splits.csv`` file(s) that fix the split of a UTKFace spec whatever the seed, or ``None``.

    A spec of several roots (``utkface:A,B``) is fixed only when every root has its file.
    """
    from adiencekit.data.datasets import parse_dataset_spec
    from adiencekit.data.utkface import SPLITS_FILE, utkface_roots

    kind, root = parse_dataset_spec(config.data)
    if kind != "utkface" or root is None:
        return None
    files = [path / SPLITS_FILE for path in utkface_roots(root)]
    if not files or not all(path.is_file() for path in files):
        return None
    return ", ".join(map(str, files))


def check_ensemble_runs(runs: Sequence[Path], configs: Sequence[Any]) -> None:
    """Check that runs may be members of one ensemble: one data set, split and crop; no config twice.

    The split seed must match too, except on a root whose ``splits.csv`` fixes the split
    (``adiencekit prepare`` writes one): there every seed gives the same split.

    Args:
        runs: the run folders (for messages).
        configs: their :class:`~adiencekit.training.TrainConfig`, in the same order.

    Raises:
        ConfigError: naming the first difference, or the repeated config.
    """

    def shared(config: Any) -> dict[str, Any]:
        fixed = _split_file(config)
        return {**{name: getattr(config, name) for name in ENSEMBLE_SHARED_FIELDS},
                "split seed": f"fixed by {fixed}" if fixed is not None else config.resolved_split_seed()}

    first = shared(configs[0])
    for run, config in zip(runs[1:], configs[1:], strict=True):
        differs = [key for key, value in shared(config).items() if first[key] != value]
        if differs:
            raise ConfigError(
                f"{run} differs from {runs[0]} in {', '.join(differs)}: the runs of an ensemble must share the "
                f"data, the split and the crop (train them with --seed N --split-seed S, one S for all), else one "
                f"member's test faces may be another's training faces"
            )
    seen: dict[str, Path] = {}
    for run, config in zip(runs, configs, strict=True):
        key = config.to_json()
        if key in seen:
            raise ConfigError(f"{run} and {seen[key]} have the same config (seed {config.seed}): the same model twice; "
                              f"the runs of an ensemble need different --seed values (or recipes)")
        seen[key] = run


def with_age_years_head_weight(model: Any, head_weight: float) -> Any:
    """The same network (weights shared by copy) whose ``age_years`` output is
    ``head_weight * head + (1 - head_weight) * the expected age of its age groups``.

    How a preset's age in years is set after training: the weight is chosen on the run's
    validation faces (``experiments/age_years_blend.py``); :func:`export_preset` applies it.

    Args:
        model: an :class:`~adiencekit.models.AgeGenderClassifier` with an ``age_years`` output.
        head_weight: the head's share, from 0 (the age groups alone) to 1 (the head alone).

    Returns:
        A new model; ``model`` is left as it was.

    Raises:
        ConfigError: ``model`` has no ``age_years`` output (or is an ensemble), or the
            weight is not a number from 0 to 1.

    Example:

    >>> import numpy as np
    >>> from adiencekit.export import with_age_years_head_weight
    >>> from adiencekit.models import face_resnet
    >>> model = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True)
    >>> blended = with_age_years_head_weight(model, 0.3)
    >>> blended.age_years_head_weight, model.age_years_head_weight
    (0.3, 1.0)
    >>> faces = np.zeros((1, 32, 32, 3), np.float32)
    >>> bool(np.allclose(blended.predict(faces, verbose=0)["age"], model.predict(faces, verbose=0)["age"]))
    True
    """
    from adiencekit.layers.age_years_blend import check_head_weight
    from adiencekit.models.heads import age_years_head_weight

    try:
        weight = check_head_weight(head_weight)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not getattr(model, "age_years", False) or age_years_head_weight(model) is None:
        raise ConfigError(f"age_years_head_weight needs one network with an age_years output; "
                          f"{getattr(model, 'name', model)!r} has none")
    rebuilt = type(model).from_config({**model.get_config(), "age_years_head_weight": weight})
    rebuilt.set_weights(model.get_weights())
    rebuilt.preset_metadata = dict(getattr(model, "preset_metadata", {}) or {})
    return rebuilt


def export_preset(
    run_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    metrics: Any = None,
    license: str | None = None,  # noqa: A002 - the preset field's name
    description: str | None = None,
    age_years_head_weight: float | None = None,
    age_years: Mapping[str, Any] | None = None,
    tta: str | None = None,
    tta_chosen_on: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Turn a finished training run, or several, into a preset folder (float32, with its crop and data).

    The run's model is rebuilt in ``float32`` (a run trained under mixed precision keeps
    float32 weights; the preset must not carry the bfloat16 compute policy) and its best
    weights are loaded. The photo crop is the one the training images were made with
    (:func:`adiencekit.crops.recorded_crop`: the ``crop`` of ``prepare.json`` when the
    run's UTKFace root was made by :func:`adiencekit.inference.prepare.prepare_utkface`,
    else the dataset's own framing, ``{"style": "center"}``).

    Several runs make an :class:`~adiencekit.models.AgeGenderEnsemble` preset (their
    probabilities averaged). They must share the data, the split and the crop
    (:data:`ENSEMBLE_SHARED_FIELDS`, and the split seed unless the root's ``splits.csv``
    fixes the split; typically one recipe trained with
    ``adiencekit train --seed N --split-seed S``), so that no member has seen the test
    faces of another; networks, schedules and seeds may differ, but not all at once
    (the same config twice is refused).

    Args:
        run_dir: a finished run folder (``config.json``, ``best.keras``, ``metrics.json``),
            or a sequence of two or more of them for an ensemble.
        out: the preset folder to write.
        metrics: the figures to record (a dict with a ``"protocol"`` entry); default the
            run's test figures from ``metrics.json`` (for an ensemble: each member's, as
            the members were not measured together).
        license: the weights' licence (carry the training data's terms over).
        description: one line.
        age_years_head_weight: one network with an ``age_years`` output: report
            ``w * head + (1 - w) * the expected age of the age groups``
            (:func:`with_age_years_head_weight`); default the run's own (the head alone).
        age_years: how that weight was chosen (on what faces, with what figures), kept as
            the card's ``age_years`` entry beside the weight and its rule.
        tta: ``"flip"``: the preset asks inference to average each face with its mirror
            (:func:`record_preset_tta`); ``None``: one view.
        tta_chosen_on: how that was chosen, kept in the card.
        overwrite: replace an existing preset folder.

    Returns:
        The preset folder.

    Raises:
        ModelFileError: a run is not finished or cannot be read.
        ConfigError: ensemble runs that differ in data, split or crop, or repeat a config;
            a head weight for a model without an ``age_years`` output, or not in [0, 1];
            ``tta`` other than ``"flip"`` or ``None``, or ``tta_chosen_on`` without it.
    """
    from adiencekit.models.presets import save_preset

    _check_tta(tta, tta_chosen_on)
    from adiencekit.training.run_folder import RunFolder

    given = [run_dir] if isinstance(run_dir, (str, os.PathLike)) else list(run_dir)
    folders = [RunFolder(run) for run in given]
    runs = [folder.path for folder in folders]
    if not runs:
        raise ConfigError("export_preset needs at least one training run folder")
    configs = [folder.require_finished("export --format preset") for folder in folders]
    config = configs[0]
    if len(runs) == 1:
        model = folders[0].load_model(float32=True)
    else:
        from adiencekit.models.ensemble import AgeGenderEnsemble

        check_ensemble_runs(runs, configs)
        members = [folder.load_model(float32=True, name=f"member{index}_{member.model}_seed{member.seed}")
                   for index, (folder, member) in enumerate(zip(folders, configs, strict=True))]
        model = AgeGenderEnsemble(members, name=f"{config.model}_{config.task}_ensemble{len(members)}")
    card: dict[str, Any] | None = None
    if age_years_head_weight is not None:
        if len(runs) > 1:
            raise ConfigError("age_years_head_weight applies to one network; an ensemble averages its members' own")
        model = with_age_years_head_weight(model, age_years_head_weight)
        weight = model.age_years_head_weight
        card = {"source": "head and age groups" if weight < 1.0 else "head", "head_weight": weight,
                "rule": f"age_years = {weight:g} * the regression head + {1 - weight:g} * the expected age of the "
                        "age-group probabilities (AgeYearsBlend, inside the model)",
                **dict(age_years or {})}
    elif age_years is not None:
        raise ConfigError("age_years (how the head weight was chosen) needs age_years_head_weight")
    recorded = folders[0].preset_metadata()
    image_size, crop = recorded["image_size"], recorded["crop"]
    if metrics is None:
        measured = [(folder.read_metrics() or {}).get("test") for folder in folders]
        data = portable_data_spec(config.data)  # no folder of the training machine in the card
        if len(runs) == 1:
            metrics = {"protocol": f"test split of the run's data ({data}), centre crop, no TTA",
                       "test": measured[0]}
        else:
            metrics = {"protocol": f"each member alone on the test split of its run ({data}, one split for "
                                   f"all), centre crop, no TTA; the ensemble itself was not measured at export",
                       "members": [{"seed": member.seed, "test": test}
                                   for member, test in zip(configs, measured, strict=True)]}
    training_data: dict[str, Any] = {"data": portable_data_spec(config.data),
                                     "config": _portable_config(config)}
    if len(runs) > 1:
        training_data["member_seeds"] = [member.seed for member in configs]
        training_data["member_configs"] = [_portable_config(member) for member in configs]
    training_data["prepared_with"] = recorded["training_data"]["prepared_with"]
    written = save_preset(model, Path(out).expanduser(), image_size=image_size, crop=crop,
                          training_data=training_data, metrics=metrics, license=license, description=description,
                          age_years=card, overwrite=overwrite)
    if tta is not None:
        record_preset_tta(written, tta, tta_chosen_on)
    return written


#: The test-time augmentation a preset may ask of inference (``preset.json``'s ``inference.tta``).
PRESET_TTA_MODES = ("flip",)


def _check_tta(tta: str | None, chosen_on: str | None) -> None:
    if tta is not None and tta not in PRESET_TTA_MODES:
        raise ConfigError(f"tta must be one of {', '.join(PRESET_TTA_MODES)} or None, got {tta!r}")
    if chosen_on is not None and tta is None:
        raise ConfigError("tta_chosen_on says how the preset's test-time augmentation was chosen; give tta too")


def record_preset_tta(folder: str | os.PathLike[str], tta: str, chosen_on: str | None = None) -> Path:
    """Record in a preset's ``preset.json`` that inference should use ``tta`` (``"flip"``), and how it was chosen.

    :class:`~adiencekit.inference.Predictor` (and ``adiencekit predict``) then average each
    face with its mirror unless told ``tta=False`` (``--no-tta``).

    Returns:
        The ``preset.json`` file.

    Raises:
        ConfigError: an unknown ``tta``.
        ModelFileError: ``folder`` is not a readable preset.
    """
    from adiencekit.bundled import PRESET_FILE
    from adiencekit.fileio import atomic_write_text

    _check_tta(tta, chosen_on)
    path = Path(folder).expanduser() / PRESET_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable preset ({error})") from None
    inference = dict(metadata.get("inference") or {})
    inference["tta"] = tta
    inference["tta_rule"] = "average every output over the face crop and its horizontal mirror"
    if chosen_on is not None:
        inference["tta_chosen_on"] = chosen_on
    metadata["inference"] = inference
    atomic_write_text(path, json.dumps(metadata, indent=2) + "\n")
    return path


def add_onnx_to_preset(folder: str | os.PathLike[str], *, verbose: bool = False) -> Path:
    """Write a preset's network to ONNX inside the preset: ``<folder>/model.onnx`` (replaced if there).

    The file is :func:`export_model`'s ONNX export of the preset, its record naming the
    sha256 of the weights it was made from (:data:`PRESET_WEIGHTS_KEY`), so that a loader
    can tell a stale copy (weights changed after the export) and use the weights instead
    (:func:`adiencekit.inference.loading.load_model_source`). ``adiencekit predict`` runs a
    preset through this file with ONNX Runtime, without importing Keras.

    Args:
        folder: a preset folder (``preset.json`` and ``model.weights.h5``).
        verbose: let the converter print its progress.

    Returns:
        The ONNX file.

    Raises:
        ModelFileError: ``folder`` is not a preset with weights.
        ConfigError: the export extra (``tf2onnx``) is not installed.
    """
    from adiencekit.bundled import ONNX_FILE, PRESET_FILE, WEIGHTS_FILE

    preset = Path(folder).expanduser()
    weights = preset / WEIGHTS_FILE
    if not (preset / PRESET_FILE).is_file() or not weights.is_file():
        raise ModelFileError(f"{preset}: not a preset folder with weights ({PRESET_FILE} and {WEIGHTS_FILE})")
    staging = preset / f".tmp-{os.getpid()}-{ONNX_FILE}"
    try:
        export_model(preset, staging, format="onnx", verbose=verbose,
                     record_extra={PRESET_WEIGHTS_KEY: file_sha256(weights), "source": f"preset {preset.name}"})
        os.replace(staging, preset / ONNX_FILE)
    finally:
        _remove(staging)
    return preset / ONNX_FILE
