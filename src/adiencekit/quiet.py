"""Keep TensorFlow's start-up chatter out of the terminal (``adiencekit --verbose`` keeps it).

Used by the command line and by ``from adiencekit.inference import ...`` (the photo
path a Python user touches first): both import the backend quietly unless asked not to
(``--verbose``, or ``ADIENCEKIT_VERBOSE=1`` in Python), and set ``TF_CPP_MIN_LOG_LEVEL``
only where the user has not set it.

Importing TensorFlow prints, from C++ and before any Python setting can apply, a block
like ``WARNING: All log messages before absl::InitializeLog() is called are written to
STDERR`` / ``oneDNN custom operations are on`` / ``Could not find cuda drivers`` (twice,
once per TensorFlow library). ``TF_CPP_MIN_LOG_LEVEL=3`` silences what TensorFlow logs
after start-up (``failed call to cuInit`` ...) but not that block: absl writes it
before its log level is read. So the CLI imports the backend with the process's
standard error (file descriptor 2) sent to a temporary file, and shows what was caught
only when the import fails. ``TF_ENABLE_ONEDNN_OPTS`` is left alone: it changes the
numerics, not just the logs.

Example:

>>> import os
>>> from adiencekit.quiet import native_stderr_captured
>>> with native_stderr_captured():
...     _ = os.write(2, b"noise from C++\\n")   # not shown
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator

__all__ = ["KERAS_EXTRAS", "defer_backend_import", "import_backend", "imports_refused", "jax_compilation_cache", "native_stderr_captured",
           "prefer_jax_backend", "quiet_backend_import", "quiet_environment"]

#: Environment settings for a quiet run; a value the user set already wins.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}

#: Packages that ``import keras`` imports when they are installed, each for a feature that
#: predicting never uses: ``{package: the Keras feature}``. Keras imports each inside
#: ``try: ... except ImportError`` and runs without the feature when it is missing. On the
#: project's 2-core CPU they were about a third of ``import keras`` on JAX (cumulative import
#: times: matplotlib.pyplot 0.38 s, pandas 0.22 s, IPython 0.20 s of keras's 2.43 s,
#: ``benchmarks/results/startup-cpu-20261205.json``; requests 0.05 s on a loaded machine).
KERAS_EXTRAS: dict[str, str] = {
    "IPython": "the notebook view of keras.saving.KerasFileEditor",
    "matplotlib": "keras.visualization's image and bounding-box plots",
    "pandas": "pandas DataFrame and Series inputs to fit, evaluate and predict",
    "requests": "keras.callbacks.RemoteMonitor",
}

#: Python warnings issued from these packages are hidden unless ``--verbose``.
NOISY_PACKAGES = r"(tensorflow|tf_keras|keras|absl|jax|jaxlib|h5py|google\.protobuf)(\.|$)"


def quiet_environment() -> None:
    """Set the quiet log levels, before TensorFlow is imported (later they have no effect)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", module=NOISY_PACKAGES)
    for name in ("tensorflow", "absl", "jax._src.xla_bridge", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow; JAX-only installs may lack it
        return
    absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Send what is written on file descriptor 2 to a temporary file while the block runs.

    Python's ``sys.stderr`` is flushed first so nothing of ours is lost; if the block
    raises, the caught text is written to the real standard error before the exception
    propagates, so a failing import still explains itself.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (e.g. a closed stderr)
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                os.write(2, sink.read())


@contextlib.contextmanager
def imports_refused(names: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """While the block runs, ``import NAME`` fails with ``ImportError`` for each of ``names`` not imported yet.

    It uses Python's documented rule that a ``None`` entry in ``sys.modules`` makes an
    import of that name (and of its submodules) raise ``ModuleNotFoundError``. When the
    block ends those entries are removed, so a later import loads the real package as
    usual. A package imported before the block is left alone. Yields the names refused.

    Example:

    >>> import sys
    >>> from adiencekit.quiet import imports_refused
    >>> _ = sys.modules.pop("tabnanny", None)  # a module this process has not imported
    >>> with imports_refused(["tabnanny", "sys"]) as refused:  # sys is imported already
    ...     try:
    ...         import tabnanny
    ...     except ImportError:
    ...         print("refused")
    refused
    >>> refused
    ('tabnanny',)
    >>> import tabnanny  # after the block: as usual
    >>> tabnanny.__name__
    'tabnanny'
    """
    refused = tuple(name for name in dict.fromkeys(names) if name not in sys.modules)
    for name in refused:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield refused
    finally:
        for name in refused:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No automatic garbage collection while the block runs, then the collector as it was.

    Imports make objects that live on, not garbage, yet each automatic collection walks
    them: during ``adiencekit predict``'s imports on JAX that was 0.3-0.5 s of about 2.2 s
    on the project's loaded 2-core CPU (timed with ``gc.callbacks``).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_backend(verbose: bool = False, *, tensorflow: bool = True, without: Iterable[str] = ()) -> None:
    """Import TensorFlow (when installed) and Keras now, quietly unless ``verbose``, with no garbage collection.

    Args:
        verbose: show TensorFlow's start-up messages as they come.
        tensorflow: import TensorFlow even when Keras runs on another backend (the
            command line does: its data pipelines may use ``tf.data``); with ``False``
            only Keras is imported, which imports TensorFlow itself on that backend alone.
        without: optional packages Keras is to be imported without (see
            :data:`KERAS_EXTRAS` and :func:`imports_refused`). Keras then lacks the features
            they bring for the rest of the process, even if the packages are imported
            later: only a process that needs none of them passes any (``adiencekit predict``).
    """
    wanted = ("tensorflow", "keras") if tensorflow else ("keras",)
    names = [name for name in wanted if name not in sys.modules and importlib.util.find_spec(name)]
    if not names:
        return
    with contextlib.nullcontext() if verbose else native_stderr_captured(), imports_refused(without), \
            _collection_paused():
        for name in names:
            importlib.import_module(name)


#: Optional packages a deferred Keras import leaves out (:func:`defer_backend_import`).
_DEFERRED_WITHOUT: tuple[str, ...] = ()


def defer_backend_import(without: Iterable[str] = ()) -> None:
    """Say how Keras is to be imported later, when (and if) the process needs it.

    ``adiencekit predict`` runs the bundled model and the detector in ONNX Runtime and
    needs no Keras at all; only a Keras model or detector imports it, through
    :func:`quiet_backend_import`, which then leaves out ``without`` (see
    :func:`import_backend`).
    """
    global _DEFERRED_WITHOUT
    _DEFERRED_WITHOUT = tuple(without)


def quiet_backend_import() -> None:
    """Import the backend, when it is needed, without TensorFlow's start-up block on stderr.

    Sets the quiet log levels where the user has not set them (no warnings filters or
    logger levels are touched: those belong to the user's program) and imports
    TensorFlow and Keras with file descriptor 2 captured. ``ADIENCEKIT_VERBOSE=1`` skips it.
    The inference path calls it just before it first needs Keras (a Keras model or
    detector), not on import: the ONNX Runtime path never does.
    """
    if "keras" in sys.modules or os.environ.get("ADIENCEKIT_VERBOSE", "").strip() not in ("", "0"):
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # On JAX, predicting needs no TensorFlow. Keras keeps its optional integrations
    # (KERAS_EXTRAS) unless the command said otherwise (defer_backend_import): the user's
    # program may use them, now or after importing pandas.
    import_backend(verbose=False, tensorflow=False, without=_DEFERRED_WITHOUT)


def prefer_jax_backend() -> str | None:
    """Run Keras on JAX where JAX is installed and the user has not chosen a backend.

    ``adiencekit predict`` calls it first: on JAX the photo path never imports TensorFlow;
    on the project's 2-core CPU a one-photo run took 2.10 s against 4.64 s on the
    TensorFlow path (``benchmarks/results/startup-cpu-20261205-b.json``). Sets
    ``KERAS_BACKEND=jax`` only when ``KERAS_BACKEND`` is unset, Keras is not imported yet
    and ``jax`` is importable; returns ``"jax"`` then, else ``None``.

    Example:

    >>> import keras  # once Keras runs, its backend is fixed for the process
    >>> from adiencekit.quiet import prefer_jax_backend
    >>> prefer_jax_backend() is None
    True
    """
    if os.environ.get("KERAS_BACKEND") or "keras" in sys.modules or importlib.util.find_spec("jax") is None:
        return None
    os.environ["KERAS_BACKEND"] = "jax"
    return "jax"


def jax_compilation_cache() -> str | None:
    """Keep JAX's compiled programs between processes, where the user has not chosen otherwise.

    On the JAX backend, building a model compiles one small program per weight shape for
    its initial values, in every new process: a cold ``adiencekit predict`` spent most of
    its start-up there. JAX's persistent compilation cache keeps them on disk; measured on
    the project's 2-core CPU, ``adiencekit predict face.jpg --detector mtcnn-keras`` under
    ``KERAS_BACKEND=jax`` started in 4.4 s with the cache warm against 8.3 s without it
    (and 6.3 s for the default TensorFlow path), medians of 5 runs each, side by side.
    Since presets skip their random initial values and the detector's weights load as
    device arrays, less is left to compile: 2.10 s warm against 2.75 s with an empty
    cache (``benchmarks/results/startup-cpu-20261205-b.json``).

    Sets ``JAX_COMPILATION_CACHE_DIR`` (``$KERAS_HOME/adiencekit_jax_cache``, default
    ``~/.keras/adiencekit_jax_cache``) and caches every program, only when the backend is
    JAX, JAX is not imported yet and the user set no cache folder. Returns the folder used,
    or ``None`` when nothing was set.
    """
    backend = os.environ.get("KERAS_BACKEND", "")
    if backend != "jax" or "jax" in sys.modules or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    folder = os.path.join(home, "adiencekit_jax_cache")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    return folder
