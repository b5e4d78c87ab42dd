r"""How a command's process starts: the backend it imports, the garbage collector, the exit.

``adiencekit predict`` is often run for one photo, so its start-up is most of its time
(issue 23). Around a command that needs Keras, :func:`backend_started`:

- for ``predict``, runs Keras on JAX where JAX is installed and no backend was chosen
  (:func:`~adiencekit.quiet.prefer_jax_backend`: predicting needs no TensorFlow) and keeps
  JAX's compiled programs between runs (:func:`~adiencekit.quiet.jax_compilation_cache`);
- imports the backend quietly; ``predict`` imports none up front: the bundled model and
  the detector run in ONNX Runtime, and Keras is imported only where a Keras model or
  detector is asked for (:func:`~adiencekit.quiet.defer_backend_import`), then on JAX
  without the optional packages it never uses (:data:`~adiencekit.quiet.KERAS_EXTRAS`:
  IPython, matplotlib, pandas, requests);
- spares the garbage collector the objects the imports made: no collection while importing
  (:func:`~adiencekit.quiet.import_backend`), and :func:`collector_spared` while the command
  runs: they live until the process ends, yet every full collection walked them again;
- spares the interpreter's exit-time collection (:func:`exit_without_final_collection`).

Garbage collection was about 0.5 s of a one-photo ``predict`` on the project's loaded
2-core CPU (timed with ``gc.callbacks``: 528, 47 and 4 collections of generations 0, 1
and 2, two thirds of the time during the imports) and about 0.03 s with the two measures,
besides the 0.6 s that the exit-time collection took. ``benchmarks/bench_startup.py``
times the same function phase by phase.

Example (in a fresh process: it chooses the process's backend):

>>> import subprocess, sys
>>> code = ("import sys; from adiencekit.cli._startup import backend_started\n"
...         "with backend_started('predict'):\n"
...         "    print('keras' in sys.modules)  # nothing imported up front\n"
...         "    from adiencekit.quiet import KERAS_EXTRAS, quiet_backend_import\n"
...         "    quiet_backend_import(); import keras  # what a Keras model or detector does\n"
...         "    print(keras.backend.backend(), sorted(set(sys.modules) & set(KERAS_EXTRAS)))")
>>> out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
>>> out == "False\njax []\n" or out.startswith("False\ntensorflow")  # on JAX: none of them
True
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
from collections.abc import Iterator

from adiencekit.quiet import KERAS_EXTRAS, defer_backend_import, import_backend, jax_compilation_cache, prefer_jax_backend

__all__ = ["backend_started", "collector_spared", "exit_without_final_collection"]


def exit_without_final_collection() -> None:
    """At interpreter exit, spare the garbage collector's passes over every object left.

    Python's shutdown runs full collections over the whole heap; with Keras and its backend
    loaded they took about 0.6 s of a 3.8 s ``adiencekit predict`` on the project's 2-core
    CPU (sampled with ``perf`` after the command's last line: the time was in
    ``gc_collect_main``). ``gc.freeze()`` as the first exit handler takes the objects out
    of those passes: they are still freed by reference counting; only objects caught in
    reference cycles are left to the operating system, and every file a command writes is
    closed before it returns. Registered once per process, at exit only, so a program that
    calls :func:`adiencekit.cli.main` collects its garbage as usual while it runs.
    """
    atexit.unregister(gc.freeze)  # once, whatever the number of calls
    atexit.register(gc.freeze)


@contextlib.contextmanager
def collector_spared() -> Iterator[None]:
    """Leave the objects that exist when the block starts out of the collector's passes until it ends.

    ``gc.freeze()`` on entry, ``gc.unfreeze()`` on exit: garbage made inside the block is
    collected as usual, and a program that calls :func:`adiencekit.cli.main` gets its
    collector back unchanged. Does nothing when the program froze objects itself.

    Example:

    >>> import gc
    >>> from adiencekit.cli._startup import collector_spared
    >>> with collector_spared():
    ...     gc.get_freeze_count() > 0
    True
    >>> gc.get_freeze_count()
    0
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def backend_started(command: str, verbose: bool = False) -> Iterator[None]:
    """Prepare the process for ``command``, import the backend it needs, and run the block (the command).

    Args:
        command: the ``adiencekit`` command about to run (one that needs Keras).
        verbose: show TensorFlow's start-up messages (``--verbose``).
    """
    predict = command == "predict"
    if predict:
        prefer_jax_backend()  # where installed and no backend chosen: predicting needs no TensorFlow
        jax_compilation_cache()  # on JAX, a second predict starts without recompiling
    # predict needs no tf.data (on JAX it runs without TensorFlow) and none of Keras's plotting,
    # notebook, DataFrame and remote-monitor integrations; on JAX alone, the backend measured
    # and tested without them (TensorFlow imports requests itself, and is imported by Keras).
    without = KERAS_EXTRAS if predict and os.environ.get("KERAS_BACKEND") == "jax" else ()
    if predict and not verbose:
        # The bundled model and the detector run in ONNX Runtime: Keras is imported only
        # if a Keras model or detector is asked for, and then quietly.
        defer_backend_import(without)
    else:
        import_backend(verbose=verbose, tensorflow=not predict, without=without)
    exit_without_final_collection()
    with collector_spared():
        yield
