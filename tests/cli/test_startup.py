"""Start-up of ``adiencekit predict`` (issue 23): what a fresh process imports, the collector, the exit.

The import checks run in fresh processes: a module imported by an earlier test of this
session would hide an import made by the code under test.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from adiencekit.cli._startup import collector_spared, exit_without_final_collection
from adiencekit.quiet import KERAS_EXTRAS, _collection_paused, imports_refused

SRC = Path(__file__).resolve().parents[2] / "src"

#: Packages that predicting on JAX does not need, besides TensorFlow.
HEAVY = ("IPython", "matplotlib", "pandas", "requests", "scipy.ndimage", "tensorflow", "adiencekit.plots",
         "adiencekit.training.fit", "adiencekit.data.pipeline")


def _python(code: str, tmp_path: Path, *args: str, backend: str | None = "jax") -> dict:
    """Run ``code`` in a fresh process; it prints one JSON line last, returned parsed."""
    env = {key: value for key, value in os.environ.items() if key not in ("KERAS_BACKEND", "JAX_COMPILATION_CACHE_DIR")}
    env.update(PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
               KERAS_HOME=str(tmp_path / "keras"))
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


_LOADED = "import json, sys; print(json.dumps(sorted(sys.modules)))"


@pytest.mark.requires("jax")
def test_predict_on_jax_imports_none_of_the_heavy_packages_and_they_import_afterwards(tmp_path: Path) -> None:
    """The whole command on a photo, with no backend chosen (predict picks JAX); then the
    refused packages import as usual in the same process."""
    Image.new("RGB", (160, 120), (128, 128, 128)).save(tmp_path / "wall.png")
    code = ("import json, sys\n"
            "from adiencekit.cli import main\n"
            "status = main(['predict', 'wall.png', '--detector', 'mtcnn-keras', '--json', 'out.json'])\n"
            "import keras\n"
            "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('IPython', 'matplotlib', 'pandas',"
            " 'requests', 'scipy', 'tensorflow') or name.startswith('adiencekit.'))\n"
            "import pandas, matplotlib.pyplot\n"  # after the command: as usual
            "print(json.dumps({'status': status, 'backend': keras.backend.backend(), 'loaded': loaded,"
            " 'later': [pandas.DataFrame({'a': [1]}).shape[0], matplotlib.pyplot.__name__]}))")
    record = _python(code, tmp_path, backend=None)
    assert record["status"] == 0 and record["backend"] == "jax"
    assert not set(record["loaded"]) & set(HEAVY), sorted(set(record["loaded"]) & set(HEAVY))
    assert not [name for name in record["loaded"] if name.split(".")[0] in KERAS_EXTRAS]
    assert record["later"] == [1, "matplotlib.pyplot"]
    assert json.loads((tmp_path / "out.json").read_text())["images"][0]["faces"] == []


def test_predict_help_imports_neither_keras_nor_the_heavy_packages(tmp_path: Path) -> None:
    code = ("import contextlib, io, json, sys\n"
            "from adiencekit.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    status = main(['predict', '--help'])\n"
            "print(json.dumps({'status': status, 'usage': 'usage: adiencekit predict' in out.getvalue(),"
            " 'loaded': sorted(sys.modules)}))")
    record = _python(code, tmp_path)
    assert record["status"] == 0 and record["usage"]
    loaded = set(record["loaded"])
    assert not loaded & {"keras", "jax", *HEAVY}, sorted(loaded & {"keras", "jax", *HEAVY})


@pytest.mark.requires("jax")
def test_importing_the_predictor_adds_nothing_heavy_to_what_keras_imports(tmp_path: Path) -> None:
    """A library import leaves Keras whole (its optional integrations are the user's): what
    ``from adiencekit.inference import Predictor`` imports beyond ``import keras`` is our
    inference code and its image library, no TensorFlow, pandas, matplotlib or training code."""
    keras_alone = set(_python("import keras\n" + _LOADED, tmp_path))
    predictor = set(_python("from adiencekit.inference import Predictor\n" + _LOADED, tmp_path))
    added = predictor - keras_alone
    assert "adiencekit.inference.predictor" in added
    assert not {name for name in predictor if name.split(".")[0] == "tensorflow"}
    assert not {name for name in added if name.split(".")[0] in ("IPython", "matplotlib", "pandas", "scipy")}
    assert not added & set(HEAVY), sorted(added & set(HEAVY))


# ----------------------------------------------------------------------------- the helpers
def test_imports_refused_fails_imports_inside_and_restores_them_after() -> None:
    sys.modules.pop("tabnanny", None)
    import email  # noqa: F401  (imported before the block: left alone)

    with pytest.raises(RuntimeError), imports_refused(["tabnanny", "email"]) as refused:
        assert refused == ("tabnanny",)
        with pytest.raises(ImportError):
            import tabnanny  # noqa: F401
        import email  # noqa: F401,F811
        raise RuntimeError("the block fails")
    assert "tabnanny" not in sys.modules  # the refusal is gone, even after an error
    import tabnanny  # noqa: F401,F811

    assert sys.modules["tabnanny"].__name__ == "tabnanny"


def test_imports_refused_keeps_a_module_the_block_imported_by_other_means() -> None:
    sys.modules.pop("tabnanny", None)
    with imports_refused(["tabnanny"]):
        sys.modules["tabnanny"] = module = type(sys)("tabnanny")
    assert sys.modules.pop("tabnanny") is module


def test_collector_spared_freezes_inside_and_leaves_a_frozen_program_alone() -> None:
    assert gc.get_freeze_count() == 0
    with collector_spared():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the program's own
    try:
        frozen = gc.get_freeze_count()
        with collector_spared():
            pass
        assert gc.get_freeze_count() == frozen  # not unfrozen by us
    finally:
        gc.unfreeze()


def test_collection_is_paused_inside_and_restored_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collection_paused():
        assert not gc.isenabled()
        raise RuntimeError("an import fails")
    assert gc.isenabled()
    gc.disable()  # the program's own choice stays
    try:
        with _collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_exit_handler_is_registered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import adiencekit.cli._startup as startup

    handlers: list = []
    fake = type("FakeAtexit", (), {"register": staticmethod(handlers.append),
                                   "unregister": staticmethod(lambda f: handlers.remove(f) if f in handlers else None)})
    monkeypatch.setattr(startup, "atexit", fake)
    exit_without_final_collection()
    exit_without_final_collection()
    assert handlers == [gc.freeze]
