"""Presets: save_to_preset / from_preset from a folder, a run folder, a name and a URL.

URL tests serve a preset archive from a ``http.server`` on 127.0.0.1 in a thread and use
a temporary Keras cache: they never reach the network.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import tarfile
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit import bundled as bundled_module
from adiencekit.errors import ConfigError, ModelFileError
from adiencekit.models import AgeGenderClassifier, list_presets, register_preset, scratch_cnn
from adiencekit.models import presets as presets_module
from adiencekit.testing import assert_outputs_close

SIZE = 32


def images(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


@pytest.fixture(scope="module")
def trained():
    """A tiny multitask model trained a few steps on random faces."""
    keras.utils.set_random_seed(0)
    model = scratch_cnn(task="multitask", input_shape=(SIZE, SIZE, 3), conv_layers=2, base_filters=4,
                        dense_units=8, pooling="avg")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(0)
    labels = {"gender": rng.integers(0, 2, 16), "age": rng.integers(-1, 8, 16)}
    before = model.get_weights()
    model.fit(images(16), labels, epochs=3, batch_size=8, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    return model


METADATA = {
    "image_size": 36,
    "crop": {"style": "aligned", "margin": 0.25, "size": 36, "shift": -0.11},
    "training_data": {"name": "random test faces", "images": 16},
    "metrics": {"protocol": "none: a test fixture", "gender": 0.5},
    "license": "CC0-1.0",
    "description": "tiny test preset",
}


@pytest.fixture(scope="module")
def preset_dir(trained, tmp_path_factory):
    return trained.save_to_preset(tmp_path_factory.mktemp("presets") / "tiny", **METADATA)


def test_preset_folder_round_trip_gives_identical_predictions(trained, preset_dir):
    document = json.loads((preset_dir / "preset.json").read_text())
    assert document["format"] == "adiencekit-preset" and document["weights"] == "model.weights.h5"
    assert document["task"] == "multitask" and document["input_shape"] == [SIZE, SIZE, 3]
    assert document["class_names"]["age"][0] == "0-2" and document["class_names"]["gender"] == ["female", "male"]
    assert document["preprocessing"]["kind"] == "rescale"
    for key, value in METADATA.items():
        assert document[key] == value
    loaded = AgeGenderClassifier.from_preset(preset_dir)
    assert loaded.preset_metadata["crop"] == METADATA["crop"]
    assert_outputs_close(trained.predict(images(), verbose=0), loaded.predict(images(), verbose=0), atol=0, rtol=0)
    # A loaded preset re-saves with its metadata unless told otherwise.
    again = loaded.save_to_preset(preset_dir.parent / "again")
    assert json.loads((again / "preset.json").read_text())["crop"] == METADATA["crop"]


def test_save_to_preset_refuses_to_overwrite_and_checks_metadata(trained, preset_dir, tmp_path):
    with pytest.raises(ModelFileError, match="not empty; pass overwrite=True"):
        trained.save_to_preset(preset_dir)
    with pytest.raises(ConfigError, match="crop style must be one of"):
        trained.save_to_preset(tmp_path / "a", crop={"style": "loose"})
    with pytest.raises(ConfigError, match="'protocol' entry"):
        trained.save_to_preset(tmp_path / "b", metrics={"gender": 0.9})
    with pytest.raises(ConfigError, match="smaller than the model's input side"):
        trained.save_to_preset(tmp_path / "c", image_size=16)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


def _serve(folder: Path) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def served_archive(preset_dir, tmp_path):
    """The preset as a .tar.gz served on 127.0.0.1; yields (url, sha256, server root)."""
    root = tmp_path / "www"
    root.mkdir()
    archive = root / "tiny-preset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(preset_dir, arcname="tiny")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    server = _serve(root)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{archive.name}", digest, root
    finally:
        server.shutdown()
        server.server_close()


def test_preset_from_a_local_url_is_fetched_once_into_the_cache(trained, served_archive, tmp_path):
    url, digest, root = served_archive
    cache = tmp_path / "keras-cache"
    loaded = AgeGenderClassifier.from_preset(url, sha256=digest, cache_dir=cache)
    assert_outputs_close(trained.predict(images(), verbose=0), loaded.predict(images(), verbose=0), atol=0, rtol=0)
    assert loaded.preset_metadata["license"] == "CC0-1.0"
    assert list((cache / "adiencekit_presets").iterdir())
    (root / "tiny-preset.tar.gz").unlink()  # the server no longer has it: the cache answers
    again = AgeGenderClassifier.from_preset(f"{url}#sha256={digest}", cache_dir=cache)
    assert_outputs_close(loaded.predict(images(), verbose=0), again.predict(images(), verbose=0), atol=0, rtol=0)


def test_a_url_whose_hash_differs_is_refused(served_archive, tmp_path):
    url, digest, _ = served_archive
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(ModelFileError, match="does not match sha256"):
        AgeGenderClassifier.from_preset(url, sha256=wrong, cache_dir=tmp_path / "cache")


def test_url_rules(tmp_path):
    with pytest.raises(ConfigError, match="needs the archive's sha256"):
        AgeGenderClassifier.from_preset("https://example.invalid/p.tar.gz", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="must use https"):
        AgeGenderClassifier.from_preset("http://example.invalid/p.tar.gz", sha256="a" * 64, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="64 hex digits"):
        AgeGenderClassifier.from_preset("https://example.invalid/p.tar.gz", sha256="abc", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="archive ending in"):
        AgeGenderClassifier.from_preset("https://example.invalid/p.bin", sha256="a" * 64, cache_dir=tmp_path)


def test_an_unreachable_url_is_one_clear_error(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelFileError, match="could not fetch the preset archive"):
        AgeGenderClassifier.from_preset(f"http://127.0.0.1:{port}/p.tar.gz", sha256="a" * 64, cache_dir=tmp_path)


def test_names_bundled_and_registered(preset_dir, monkeypatch):
    assert isinstance(list_presets(), list)
    monkeypatch.setattr(presets_module, "_REGISTERED", {})
    monkeypatch.setattr(bundled_module, "BUNDLED_DIR", preset_dir.parent / "no-bundled-presets")
    assert list_presets() == []
    with pytest.raises(ConfigError, match="unknown preset 'nope'; known presets: none are bundled"):
        AgeGenderClassifier.from_preset("nope")
    register_preset("tiny_test", preset_dir, description="test")
    assert list_presets() == ["tiny_test"]
    assert AgeGenderClassifier.from_preset("tiny_test").task == "multitask"
    with pytest.raises(ConfigError, match="unknown preset 'nope'; known presets: tiny_test"):
        AgeGenderClassifier.from_preset("nope")
    with pytest.raises(ConfigError, match="unknown preset 'nope'; known presets: tiny_test"):
        presets_module.preset_metadata("nope")  # a bare name: the same message as loading it
    assert presets_module.preset_metadata("tiny_test")["task"] == "multitask"
    with pytest.raises(ModelFileError, match="is not a preset"):
        presets_module.preset_metadata(preset_dir.parent / "no-such-folder")
    monkeypatch.setattr(bundled_module, "BUNDLED_DIR", preset_dir.parent)  # a package folder of presets
    assert "tiny" in list_presets()


def test_a_training_run_folder_is_not_a_preset(tmp_path):
    """Presets are presets: a run folder is loaded by the model-source resolver (tests/training/test_run_folder.py)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    with pytest.raises(ModelFileError, match="is a training run folder, not a preset: load it with"):
        AgeGenderClassifier.from_preset(run)


def test_files_that_are_not_presets(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="neither a preset"):
        AgeGenderClassifier.from_preset(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "preset.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not readable preset JSON"):
        AgeGenderClassifier.from_preset(tmp_path / "bad")
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "plain.keras")
    with pytest.raises(ModelFileError, match="not an AgeGenderClassifier"):
        AgeGenderClassifier.from_preset(tmp_path / "plain.keras")
    with pytest.raises(ModelFileError, match="no preset, run folder or .keras file"):
        AgeGenderClassifier.from_preset(tmp_path / "missing.keras")


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("weights", w, "'weights' must be a file name inside the preset folder")
      for w in ("/etc/passwd", "../outside.weights.h5", "sub/model.weights.h5", "..", "")],
    *[("image_size", size, "'image_size'") for size in (-5, 0, 2.5, True, SIZE - 1)],
])
def test_untrusted_preset_json_is_refused(preset_dir, tmp_path, field, value, message):
    """A preset from elsewhere cannot read weights outside its folder nor claim a nonsense image size."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(preset_dir, copy)
    document = json.loads((copy / "preset.json").read_text())
    document[field] = value
    (copy / "preset.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=message):
        AgeGenderClassifier.from_preset(copy)


def test_predict_tta_shows_no_progress_bar(trained, capsys):
    trained.predict_tta(images(2), mode="flip")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_preset_loads_on_jax_without_random_initial_values(preset_dir, trained):
    """On JAX the loaded weights replace the variables' first values, which are never drawn."""
    pytest.importorskip("jax", reason='the JAX backend needs jax (pip install -e ".[jax]")')
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import json
        import jax, numpy as np
        drawn = []
        for name in ("uniform", "normal", "truncated_normal"):
            def counting(*args, _draw=getattr(jax.random, name), **kwargs):
                drawn.append(1)
                return _draw(*args, **kwargs)
            setattr(jax.random, name, counting)
        from adiencekit.models import AgeGenderClassifier
        model = AgeGenderClassifier.from_preset({str(preset_dir)!r})
        images = np.random.default_rng(0).uniform(0, 255, (6, {SIZE}, {SIZE}, 3)).astype("float32")
        out = model.predict_on_batch(images)
        again = model.predict_on_batch(images)
        print(json.dumps({{"drawn": len(drawn), "out": {{k: np.asarray(v).tolist() for k, v in out.items()}},
                          "same": all(np.allclose(out[k], again[k]) for k in out)}}))
        """
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(root / "src")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["drawn"] == 0
    assert record["same"]
    expected = trained.predict_on_batch(images())
    for head in ("gender", "age"):
        np.testing.assert_allclose(record["out"][head], np.asarray(expected[head]), atol=1e-4)
