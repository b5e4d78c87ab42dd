"""adiencekit: age and gender classification of faces in the wild, on Keras 3.

The top-level names are imported lazily so that ``import adiencekit.models``
works on a machine that has Keras and JAX but no TensorFlow, and so that
``import adiencekit`` itself stays cheap: it imports neither Keras nor TensorFlow.

Saved models load by themselves: once ``adiencekit`` is imported, the library's custom
losses, metrics and layers are registered with Keras as soon as Keras is imported (at
once when Keras is already imported, otherwise by a small import hook that runs right
after ``import keras`` finishes). So ``keras.saving.load_model("run/best.keras")`` works
without ``custom_objects``. Registration imports only Keras-level modules, never
TensorFlow.

Example:

>>> import adiencekit
>>> adiencekit.__version__
'0.1.0.dev0'
>>> "modified_inception" in adiencekit.list_models()
True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__version__ = "0.1.0.dev0"

_LAZY = {
    "AdienceDataset": "adiencekit.data",
    "UTKFaceDataset": "adiencekit.data",
    "create_model": "adiencekit.models",
    "list_models": "adiencekit.models",
}

#: Modules whose import registers adiencekit's Keras-serializable classes
#: (``@keras.saving.register_keras_serializable(package="adiencekit")``).
SERIALIZABLE_MODULES = ("adiencekit.losses", "adiencekit.metrics", "adiencekit.layers", "adiencekit.models")

__all__ = ["SERIALIZABLE_MODULES", "__version__", "register_serializables", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adiencekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def register_serializables() -> None:
    """Register the library's custom losses, metrics and layers with Keras.

    Imports :data:`SERIALIZABLE_MODULES` (each registers its classes on import). Called
    automatically when Keras is imported after ``adiencekit``; harmless to call again.
    """
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(name)


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


_PENDING: list[str] = []


def _register_quietly(names: Sequence[str] = SERIALIZABLE_MODULES) -> None:
    """Import each registering module, never breaking ``import keras``.

    When Keras is first imported from inside one of these modules (``import
    adiencekit.losses`` before Keras), a module that needs the half-imported one cannot
    be imported yet; it is retried as soon as an ``adiencekit`` submodule finishes
    importing (:class:`_Package`).
    """
    for name in names:
        if _initializing(name):
            continue  # being imported right now: it registers its classes when it finishes
        try:
            importlib.import_module(name)
        except ImportError as error:
            if "partially initialized" in str(error):
                if name not in _PENDING:
                    _PENDING.append(name)
                continue
            _warn(error)
        except Exception as error:  # never break ``import keras`` because of us
            _warn(error)
        else:
            if name in _PENDING:
                _PENDING.remove(name)


def _warn(error: BaseException) -> None:
    warnings.warn(
        f"adiencekit could not register its Keras classes ({type(error).__name__}: {error}); "
        "saved models may need `import adiencekit.layers, adiencekit.losses, adiencekit.metrics, adiencekit.models`",
        RuntimeWarning,
        stacklevel=3,
    )


class _Package(ModuleType):
    """The ``adiencekit`` package's module type: Python sets ``adiencekit.<child>`` right
    after a submodule finishes importing, the moment to retry pending registrations."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if _PENDING and isinstance(value, ModuleType):
            _register_quietly(list(_PENDING))


class _RegisterAfterLoad(importlib.abc.Loader):
    """Wraps Keras's own loader: executes ``keras`` as usual, then registers."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _remove_hook()  # Keras is loaded: the hook has done its job
        _register_quietly()

    def __getattr__(self, name: str) -> Any:  # get_data, get_filename, ... for tools
        return getattr(self._loader, name)


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """A ``sys.meta_path`` finder that only watches for the top-level ``keras`` package.

    It stays in place until Keras is actually loaded: ``importlib.util.find_spec("keras")``
    (TensorFlow and the CLI ask it before importing) must not use it up.
    """

    _searching = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras" or self._searching:
            return None
        self._searching = True  # the lookup below asks every finder, this one included
        try:
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if finder is not self and find is not None else None
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _RegisterAfterLoad(spec.loader)
                    return spec
            return None
        finally:
            self._searching = False


def _remove_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _KerasImportHook)]


def _install() -> None:
    sys.modules[__name__].__class__ = _Package
    if "keras" in sys.modules:
        _register_quietly()
    elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())


_install()
