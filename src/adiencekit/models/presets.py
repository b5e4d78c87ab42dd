"""Presets (keras-hub sense): a trained task model as a folder that says what it is.

A preset folder holds::

    preset.json          what the model is and how it was made (below)
    model.weights.h5     its weights (or a whole-model ``model.keras``)

``preset.json`` records ``class_name`` and ``config`` (the
:class:`~adiencekit.models.AgeGenderClassifier` config: backbone, task, head,
preprocessing; or the :class:`~adiencekit.models.AgeGenderEnsemble` config: its members'
configs, whose weights share the one weights file), ``task``, ``class_names``, ``input_shape``
(the crop the model takes), ``image_size`` (the side faces are resized to before
cropping), ``preprocessing``, ``crop`` (how face crops are cut from a photo: a
:class:`~adiencekit.crops.CropSpec` dict, or ``{"style": "center", "size": int}`` for a
model trained on a dataset's own crops; :mod:`adiencekit.crops` reads it),
``training_data``, ``metrics`` (test figures, with their ``protocol``), ``license`` and
``description``.

:func:`load_preset` (``AgeGenderClassifier.from_preset``) takes:

* the name of a preset shipped inside the package (:func:`list_presets`; bundled presets
  live in ``adiencekit/models/bundled/<name>/``, :data:`BUNDLED_DIR`, and are read from
  disk, never fetched) or registered with :func:`register_preset`;
* a local preset folder or a ``.keras`` file holding a task model (a training run
  folder is not a preset: :func:`adiencekit.inference.load_model_source` loads it, and
  ``adiencekit export --format preset`` makes one of it);
* the URL of a preset archive (``.tar.gz``, ``.tgz``, ``.tar`` or ``.zip``) with its
  sha256 (``sha256=`` or a ``#sha256=<hex>`` suffix), fetched once into the Keras cache
  (``~/.keras/adiencekit_presets``) by ``keras.utils.get_file``. URLs must be ``https``;
  plain ``http`` is accepted only for the loopback host (127.0.0.1, localhost, ::1),
  which tests use. A file whose hash differs raises :class:`~adiencekit.errors.ModelFileError`.

Example:

>>> import tempfile, numpy as np
>>> from adiencekit.models import AgeGenderClassifier, scratch_cnn
>>> model = scratch_cnn(input_shape=(32, 32, 3), conv_layers=2, base_filters=4, dense_units=8)
>>> folder = model.save_to_preset(tempfile.mkdtemp() + "/tiny", image_size=36, license="MIT")
>>> sorted(p.name for p in folder.iterdir())
['model.weights.h5', 'preset.json']
>>> loaded = AgeGenderClassifier.from_preset(folder)
>>> loaded.preset_metadata["crop"]
{'style': 'center', 'margin': 0.0, 'size': 36}
>>> images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
>>> bool(np.allclose(model.predict(images, verbose=0), loaded.predict(images, verbose=0)))
True
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import socket
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from adiencekit import bundled
from adiencekit.bundled import PRESET_FILE, WEIGHTS_FILE
from adiencekit.crops import check_recorded_crop
from adiencekit.errors import ConfigError, ModelFileError

__all__ = [
    "BUNDLED_DIR",
    "DEFAULT_PRESET",
    "PRESET_FILE",
    "WEIGHTS_FILE",
    "list_presets",
    "load_preset",
    "preset_metadata",
    "register_preset",
    "save_preset",
]

FORMAT = "adiencekit-preset"
FORMAT_VERSION = 2
#: The preset format version each model class needs: an ensemble preset (version 2) tells
#: an older adiencekit (which reads up to 1) to upgrade instead of failing to build it.
_CLASS_FORMAT_VERSIONS = {"AgeGenderClassifier": 1, "AgeGenderEnsemble": 2}

#: Folder of the presets shipped inside the package (one sub-folder per preset), and the
#: bundled preset :class:`~adiencekit.inference.Predictor` and ``adiencekit predict`` use
#: when no model is given: said once, without Keras, in :mod:`adiencekit.bundled` (read
#: from there at call time; these names are copies for users of this module).
BUNDLED_DIR = bundled.BUNDLED_DIR
DEFAULT_PRESET = bundled.DEFAULT_PRESET

_REGISTERED: dict[str, dict[str, Any]] = {}
#: Seconds a download waits for the server to answer (``$ADIENCEKIT_DOWNLOAD_TIMEOUT`` overrides it).
DOWNLOAD_TIMEOUT_S = 60.0

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_LOOPBACK_NAMES = {"localhost"}


# ----------------------------------------------------------------------------- registry
def register_preset(name: str, source: str | os.PathLike[str], *, sha256: str | None = None,
                    description: str = "") -> None:
    """Register a named preset: a folder or an https archive URL (with its sha256).

    Args:
        name: the preset name, e.g. ``"utkface_multitask_64"``.
        source: a preset folder or the URL of a preset archive.
        sha256: the archive's sha256 (required for a URL).
        description: one line shown by the CLI.
    """
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise ConfigError(f"preset name must be letters, digits, '_', '.' or '-', got {name!r}")
    if _is_url(os.fspath(source)) and sha256 is None:
        raise ConfigError(f"preset {name!r}: a URL source needs its sha256")
    _REGISTERED[name] = {"source": os.fspath(source), "sha256": sha256, "description": description}


def _bundled() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if bundled.BUNDLED_DIR.is_dir():
        for folder in sorted(bundled.BUNDLED_DIR.iterdir()):
            if (folder / PRESET_FILE).is_file():
                found[folder.name] = {"source": str(folder), "sha256": None, "description": ""}
    return {**found, **_REGISTERED}


def list_presets() -> list[str]:
    """Names of the presets shipped with the package (and registered ones), sorted.

    Example:

    >>> from adiencekit.models import list_presets
    >>> isinstance(list_presets(), list)
    True
    """
    return sorted(_bundled())


# ----------------------------------------------------------------------------- metadata
def plain_json(value: Any) -> Any:
    """Keras' tracked dicts and lists (and NumPy scalars) back to plain JSON-ready values.

    Example:

    >>> import numpy as np
    >>> plain_json({"size": np.int64(3), "mean": (1.0, 2.0)})
    {'size': 3, 'mean': [1.0, 2.0]}
    """
    if isinstance(value, Mapping):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"preset {what} must be JSON data (no NaN), got {value!r}: {error}") from None


def save_preset(
    model: keras.Model,
    preset_dir: str | os.PathLike[str],
    *,
    image_size: int | None = None,
    crop: Mapping[str, Any] | None = None,
    training_data: Any = None,
    metrics: Mapping[str, Any] | None = None,
    license: str | None = None,  # noqa: A002 - the preset field's name
    description: str | None = None,
    age_years: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a preset folder: ``preset.json`` and ``model.weights.h5``.

    Fields not given are taken from ``model.preset_metadata`` (a model loaded from a
    preset keeps its metadata), else defaults.

    Args:
        model: an :class:`~adiencekit.models.AgeGenderClassifier` or
            :class:`~adiencekit.models.AgeGenderEnsemble`.
        preset_dir: the folder (created; must be empty or absent unless ``overwrite``).
        image_size: side faces are resized to before the model's crop (default: the
            model's input side).
        crop: how faces are cut from a photo (:func:`adiencekit.crops.check_recorded_crop`):
            a :class:`~adiencekit.crops.CropSpec` dict or ``{"style": "center",
            "margin": 0.0, "size": image_size}`` (the default).
        training_data: what the model was trained on (text or a JSON dict).
        metrics: test figures; include a ``"protocol"`` entry saying how they were
            measured.
        license: licence of the weights (e.g. data terms that carry over).
        description: one line.
        age_years: how the model's ``age_years`` output was chosen (its head weight and on
            what faces), kept as the card's ``age_years`` entry.
        overwrite: replace an existing preset in ``preset_dir``.

    Returns:
        The preset folder.
    """
    from adiencekit.fileio import atomic_save_weights, atomic_write_text

    class_name = type(model).__name__
    if class_name not in _CLASS_FORMAT_VERSIONS or not isinstance(model, _model_classes()[class_name]):
        raise TypeError(f"save_preset needs an AgeGenderClassifier or AgeGenderEnsemble, got {class_name}")
    folder = Path(preset_dir)
    if folder.exists() and not folder.is_dir():
        raise ModelFileError(f"preset folder {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ModelFileError(f"preset folder {folder} is not empty; pass overwrite=True or choose a new folder")
    previous = dict(getattr(model, "preset_metadata", {}) or {})
    side = model.image_shape[0]
    if image_size is None:
        image_size = previous.get("image_size") or side
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ConfigError(f"image_size must be a positive int, got {image_size!r}")
    if side is not None and image_size < side:
        raise ConfigError(f"image_size {image_size} is smaller than the model's input side {side}")
    metrics_value = previous.get("metrics") if metrics is None else metrics
    if metrics_value is not None and (not isinstance(metrics_value, Mapping) or "protocol" not in metrics_value):
        raise ConfigError("preset metrics must be a dict with a 'protocol' entry saying how they were measured")
    age_years_value = previous.get("age_years") if age_years is None else age_years
    document = {
        "format": FORMAT,
        "format_version": _CLASS_FORMAT_VERSIONS[class_name],
        "class_name": class_name,
        "config": plain_json(model.get_config()),
        "weights": WEIGHTS_FILE,
        "task": model.task,
        "class_names": {head: list(names) for head, names in model.class_names.items()},
        "input_shape": list(model.image_shape),
        "image_size": image_size,
        "preprocessing": plain_json(model.preprocessing_config),
        "crop": check_recorded_crop(crop if crop is not None else previous.get("crop"), image_size),
        "training_data": _jsonable(training_data if training_data is not None else previous.get("training_data"),
                                   "training_data"),
        "metrics": _jsonable(plain_json(metrics_value), "metrics"),
        **({"age_years": _jsonable(plain_json(age_years_value), "age_years")} if age_years_value else {}),
        "license": license if license is not None else previous.get("license"),
        "description": description if description is not None else previous.get("description", ""),
        "versions": {"adiencekit": _version(), "keras": keras.__version__},
    }
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save_weights(model, folder / WEIGHTS_FILE)
    atomic_write_text(folder / PRESET_FILE, json.dumps(document, indent=2) + "\n")
    return folder


def _version() -> str:
    try:
        from adiencekit import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


# ----------------------------------------------------------------------------- loading
def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def download_timeout() -> float:
    """Seconds a preset download may wait for the server: ``$ADIENCEKIT_DOWNLOAD_TIMEOUT``, default 60.

    Raises:
        ConfigError: the variable is not a positive number.
    """
    text = os.environ.get("ADIENCEKIT_DOWNLOAD_TIMEOUT", str(DOWNLOAD_TIMEOUT_S))
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"ADIENCEKIT_DOWNLOAD_TIMEOUT must be a positive number of seconds, got {text!r}")
    return value


def _fetch(url: str, sha256: str | None, cache_dir: str | os.PathLike[str] | None) -> Path:
    """Download and unpack a preset archive once into the Keras cache; return its folder."""
    if "#" in url:
        url, fragment = url.split("#", 1)
        if fragment.startswith("sha256="):
            given = fragment[len("sha256="):]
            if sha256 is not None and sha256.lower() != given.lower():
                raise ConfigError(f"two different sha256 values for {url}: {sha256} and {given}")
            sha256 = given
    if sha256 is None:
        raise ConfigError(
            f"a preset URL needs the archive's sha256: from_preset({url!r}, sha256='<64 hex digits>') "
            f"or {url}#sha256=<64 hex digits>"
        )
    if not _SHA256.match(sha256):
        raise ConfigError(f"sha256 must be 64 hex digits, got {sha256!r}")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise ConfigError(f"preset URLs must use https (plain http only for 127.0.0.1/localhost), got {url}")
    name = os.path.basename(parsed.path)
    suffix = next((s for s in _ARCHIVE_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise ConfigError(f"a preset URL must name an archive ending in {', '.join(_ARCHIVE_SUFFIXES)}, got {url}")
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", name[: -len(suffix)]) or "preset"
    fname = f"{stem}-{sha256[:16].lower()}{suffix}"
    if cache_dir is not None:
        # keras.utils.get_file falls back to /tmp/.keras when the folder is not writable yet.
        Path(cache_dir).expanduser().mkdir(parents=True, exist_ok=True)
    timeout = download_timeout()
    previous_timeout = socket.getdefaulttimeout()
    try:
        # get_file has no timeout of its own (a server that never answers would hang the
        # caller) and prints "Downloading data from ..." and a progress bar on stdout,
        # which must hold only the caller's output (``predict --json -``).
        socket.setdefaulttimeout(timeout)
        with contextlib.redirect_stdout(sys.stderr):
            folder = keras.utils.get_file(
                fname,
                url,
                file_hash=sha256.lower(),
                hash_algorithm="sha256",
                extract=True,
                cache_subdir="adiencekit_presets",
                cache_dir=None if cache_dir is None else os.fspath(cache_dir),
            )
    except ValueError as error:
        if "hash" in str(error).lower():
            raise ModelFileError(
                f"the preset archive at {url} does not match sha256 {sha256} (corrupt or changed file); "
                f"it was not used"
            ) from error
        raise ModelFileError(f"could not fetch the preset archive {url}: {error}") from error
    except Exception as error:  # keras raises a bare Exception for URL failures
        reason = " ".join(str(error).split())[:300]
        if isinstance(error, TimeoutError) or "timed out" in reason:
            reason = f"no answer within {timeout:g} s (set ADIENCEKIT_DOWNLOAD_TIMEOUT to wait longer)"
        raise ModelFileError(f"could not fetch the preset archive {url}: {reason}") from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    root = Path(folder)
    if (root / PRESET_FILE).is_file():
        return root
    inner = [p for p in root.iterdir() if p.is_dir() and (p / PRESET_FILE).is_file()] if root.is_dir() else []
    if len(inner) == 1:
        return inner[0]
    raise ModelFileError(f"the archive {url} holds no {PRESET_FILE} at its top or in one sub-folder")


def preset_metadata(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``preset.json`` content of a local preset folder or bundled preset name (without loading the model).

    Raises:
        ConfigError: a bare name that is neither a bundled preset nor a folder (the
            message lists the bundled ones).
        ModelFileError: a folder without a readable adiencekit ``preset.json``.

    Example:

    >>> from adiencekit.models import DEFAULT_PRESET
    >>> from adiencekit.models.presets import preset_metadata
    >>> preset_metadata(DEFAULT_PRESET)["task"]
    'multitask'
    """
    folder = Path(source)
    if not folder.is_dir():
        presets_known = _bundled()
        known = presets_known.get(str(source))
        if known is not None and not _is_url(str(known["source"])):
            folder = Path(known["source"])
        elif known is None and _is_bare_name(str(source)):
            raise _unknown_name(str(source), presets_known)
    source = folder
    path = folder / PRESET_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{Path(source)} is not a preset: {path} is missing") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path} is not readable preset JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or "config" not in document:
        raise ModelFileError(f"{path} is not an adiencekit preset (no 'format': {FORMAT!r} and 'config')")
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has preset format version {document['format_version']}; this adiencekit reads up to "
            f"{FORMAT_VERSION}: upgrade adiencekit"
        )
    _check_document(document, path)
    return document


def _check_document(document: dict[str, Any], path: Path) -> None:
    """Refuse a ``preset.json`` whose fields point outside its folder or make no sense.

    A preset may come from anywhere (a URL, a shared folder): its ``weights`` must be a
    file name inside the preset folder, never an absolute path or one that climbs out.
    """
    weights = document.get("weights", WEIGHTS_FILE)
    if not isinstance(weights, str) or not weights or Path(weights).name != weights or weights in (".", ".."):
        raise ModelFileError(f"{path}: 'weights' must be a file name inside the preset folder, got {weights!r}")
    size = document.get("image_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ModelFileError(f"{path}: 'image_size' must be a positive whole number of pixels, got {size!r}")
    shape = document.get("input_shape")
    if size is not None and isinstance(shape, list) and shape and isinstance(shape[0], int) and size < shape[0]:
        raise ModelFileError(f"{path}: 'image_size' {size} is smaller than the model's input side {shape[0]}")


def _model_classes() -> dict[str, type]:
    """The task model classes a preset may hold, by ``class_name``.

    They are looked up in Keras' registry of serialisable classes: importing this module
    runs ``adiencekit.models``' ``__init__`` first, which registers them.
    """
    classes = {name: keras.saving.get_registered_object(f"adiencekit>{name}") for name in _CLASS_FORMAT_VERSIONS}
    return {name: cls for name, cls in classes.items() if cls is not None}


def _load_preset_folder(folder: Path) -> keras.Model:
    document = preset_metadata(folder)
    class_name = document.get("class_name", "AgeGenderClassifier")
    model_class = _model_classes().get(class_name)
    if model_class is None:
        raise ModelFileError(f"{folder / PRESET_FILE} holds a {class_name!r}; this adiencekit loads "
                             f"{' and '.join(_model_classes())} presets: upgrade adiencekit")
    weights_name = document.get("weights", WEIGHTS_FILE)
    weights = folder / weights_name
    if not weights.is_file():
        raise ModelFileError(f"preset {folder}: its weights file {weights} is missing")
    try:
        if weights_name.endswith(".keras"):
            model = _load_keras_file(weights)
        else:
            model = _build_and_load(model_class, document["config"], weights)
    except (ValueError, OSError, KeyError, TypeError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(f"preset {folder}: cannot build the model or load {weights.name}: {error}") from error
    model.preset_metadata = {key: value for key, value in document.items() if key not in ("config",)}
    return model


def _build_and_load(model_class: type, config: dict[str, Any], weights: Path) -> keras.Model:
    """The model of ``config`` with the weights of ``weights``, skipping random initial values on JAX.

    On the JAX backend every initializer call compiles a small program per weight shape,
    and ``load_weights`` overwrites the values right after: most of a preset's load time
    in a fresh process (1.2-1.7 s of 1.5-2.1 s for the two-network default, measured on a
    loaded 2-core CPU). There the model is built inside ``keras.StatelessScope``, which
    defers each variable's initial value; the weights then set them, and only variables the
    file does not hold get their initializer's value. Other backends, or a Keras without
    the expected internals, build and load as usual.
    """
    try:
        from keras.src.backend.common import global_state, variables
    except ImportError:  # pragma: no cover - depends on the Keras version
        global_state = None
    if keras.backend.backend() != "jax" or global_state is None or keras.StatelessScope is None \
            or global_state.get_global_attribute("stateless_scope") is not None:
        model = model_class.from_config(config)
        model.load_weights(weights)
        return model
    outer = list(global_state.get_global_attribute("uninitialized_variables") or [])
    global_state.set_global_attribute("uninitialized_variables", [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = model_class.from_config(config)
        model.load_weights(weights)
        deferred = global_state.get_global_attribute("uninitialized_variables") or []
        global_state.set_global_attribute("uninitialized_variables", [v for v in deferred if v._value is None])
        variables.initialize_all_variables()  # what the file did not hold, e.g. a random seed's state
    finally:
        global_state.set_global_attribute("uninitialized_variables", outer)
    return model


def _load_keras_file(path: Path) -> keras.Model:
    import adiencekit.layers  # noqa: F401  (registers the custom layers)

    classes = tuple(_model_classes().values())
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, TypeError) as error:
        raise ModelFileError(f"{path} is not a readable Keras model file: {error}") from error
    if not isinstance(model, classes):
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not an AgeGenderClassifier or AgeGenderEnsemble (a model "
            f"saved by an older adiencekit); load it with keras.saving.load_model, or retrain"
        )
    return model


def load_preset(
    preset: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> keras.Model:
    """Load an :class:`~adiencekit.models.AgeGenderClassifier` (or an
    :class:`~adiencekit.models.AgeGenderEnsemble`) from a preset.

    Args:
        preset: a bundled preset name (:func:`list_presets`), a preset folder, a
            ``.keras`` file holding a task model, or a preset archive URL.
        sha256: the archive's sha256 for a URL (or give it as ``URL#sha256=<hex>``).
        cache_dir: the Keras cache folder for URLs (default ``~/.keras`` or
            ``$KERAS_HOME``).

    Returns:
        The model, uncompiled, with ``model.preset_metadata`` holding the preset's
        ``preset.json`` fields (crop style, image size, figures, licence, ...).

    Raises:
        ConfigError: an unknown preset name (the message lists the known ones), a URL
            without a sha256 or with plain http to a remote host.
        ModelFileError: a folder or file that is not a preset, a download that fails or
            does not match its sha256.
    """
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    if not isinstance(preset, str) or not preset:
        raise ConfigError(f"preset must be a name, a folder, a .keras file or a URL, got {preset!r}")
    if _is_url(preset):
        if preset.startswith("http://") and not _is_loopback(urllib.parse.urlparse(preset).hostname):
            raise ConfigError(f"preset URLs must use https (plain http only for 127.0.0.1/localhost), got {preset}")
        return _load_preset_folder(_fetch(preset, sha256, cache_dir))
    path = Path(preset).expanduser()
    if path.is_dir():
        if (path / PRESET_FILE).is_file():
            return _load_preset_folder(path)
        if (path / "config.json").is_file():
            raise ModelFileError(
                f"{path} is a training run folder, not a preset: load it with "
                f"adiencekit.inference.load_model_source, or make it a preset with "
                f"`adiencekit export --model {path} --format preset --out DIR`"
            )
        raise ModelFileError(f"{path} is neither a preset ({PRESET_FILE}) nor a training run folder (config.json)")
    if path.is_file() and path.suffix == ".keras":
        return _load_keras_file(path)
    known = _bundled()
    if preset in known:
        entry = known[preset]
        source = entry["source"]
        if _is_url(source):
            return _load_preset_folder(_fetch(source, entry["sha256"], cache_dir))
        return _load_preset_folder(Path(source))
    if not _is_bare_name(preset):
        raise ModelFileError(f"no preset, run folder or .keras file at {path}")
    raise _unknown_name(preset, known)


def _is_bare_name(text: str) -> bool:
    """Whether ``text`` reads as a preset name rather than a path (no separator, no suffix)."""
    return not (os.sep in text or "/" in text or Path(text).suffix)


def _unknown_name(preset: str, known: dict[str, Any]) -> Exception:
    """The error for a bare name that is neither a bundled preset nor a folder here."""
    names = ", ".join(sorted(known)) or "none are bundled with this version"
    return ConfigError(f"unknown preset {preset!r}; known presets: {names}. A folder, a .keras file or an "
                       f"https URL of a preset archive also work")

