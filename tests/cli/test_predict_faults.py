"""predict with what users actually pass: nested folders, pipes, outputs over inputs, odd names and numbers,
downloads that hang or print."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from adiencekit.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, small_model) -> Path:
    path = tmp_path_factory.mktemp("model") / "small.keras"
    small_model.save(path)
    return path


def _photo(path: Path, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (shade, 120, 60)).save(path)
    return path


def test_annotate_mirrors_the_input_folders_and_the_json_says_where(tmp_path, model_file, capsys) -> None:
    photos = tmp_path / "photos"
    _photo(photos / "nest" / "a" / "x.jpg", 10)
    _photo(photos / "nest" / "b" / "x.jpg", 200)
    out = tmp_path / "annotated"
    code = main(["predict", str(photos), "--model", str(model_file), "--no-detect", "--annotate", str(out),
                 "--json", str(tmp_path / "faces.json"), "--quiet"])
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg")) == ["nest/a/x.jpg", "nest/b/x.jpg"]
    images = json.loads((tmp_path / "faces.json").read_text())["images"]
    assert {Path(i["path"]).parent.name: Path(i["annotated"]).parent.name for i in images} == {"a": "a", "b": "b"}


def test_never_writes_over_an_input(tmp_path, model_file, capsys) -> None:
    photos = tmp_path / "photos"
    photo = _photo(photos / "p.jpg")
    before = photo.read_bytes()
    for argv in (["--annotate", str(photos)], ["--annotate", str(photos / "inside")], ["--json", str(photo)]):
        code = main(["predict", str(photos), "--model", str(model_file), "--no-detect", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, (argv, err)
        assert "input" in err[0]
    assert photo.read_bytes() == before and sorted(p.name for p in photos.iterdir()) == ["p.jpg"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_is_skipped_not_opened(tmp_path, model_file, capsys) -> None:
    good = _photo(tmp_path / "good.jpg")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    code = main(["predict", str(good), str(fifo), "--model", str(model_file), "--no-detect"])
    out, err = capsys.readouterr()
    assert code == 0 and "good.jpg" in out
    assert "skipped 1 entries that are not regular files" in err
    code = main(["predict", str(fifo), "--model", str(model_file), "--no-detect"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not regular files" in err[0]


def test_a_missing_photo_is_one_line_not_a_warning_and_an_error(tmp_path, model_file, capsys) -> None:
    code = main(["predict", str(tmp_path / "nope.jpg"), "--model", str(model_file)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("adiencekit: error: the one file given could not be read")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc"])
def test_min_face_must_be_a_finite_size(value, capsys) -> None:
    assert main(["predict", "x.jpg", "--min-face", value]) == 2
    assert "--min-face" in capsys.readouterr().err


def test_tilde_is_expanded_in_the_equals_form(tmp_path, model_file, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    _photo(tmp_path / "p.jpg")
    (tmp_path / "m.keras").write_bytes(model_file.read_bytes())
    code = main(["predict", "~/p.jpg", "--model=~/m.keras", "--no-detect", "--json=~/out.json", "--annotate=~/ann",
                 "--quiet"])
    assert code == 0 and (tmp_path / "out.json").is_file() and (tmp_path / "ann" / "p.jpg").is_file()
    assert not Path("~").exists()


def test_a_name_that_is_not_utf8_prints(tmp_path, model_file) -> None:
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not valid UTF-8
    _photo(tmp_path / name)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    run = subprocess.run([sys.executable, "-m", "adiencekit.cli", "predict", os.fsencode(tmp_path / name),
                          "--model", str(model_file), "--no-detect"], capture_output=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert b"caf\\udce9.jpg" in run.stdout and b"Traceback" not in run.stderr


class _Silent:
    """A server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_download_that_never_answers_times_out_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    server = _Silent()
    monkeypatch.setenv("ADIENCEKIT_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _photo(tmp_path / "p.jpg")
    try:
        code = main(["predict", str(tmp_path / "p.jpg"), "--json", "-",
                     "--model", f"http://127.0.0.1:{server.port}/p.tar.gz#sha256={'a' * 64}"])
    finally:
        server.close()
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()  # Keras's "Downloading data from ..." goes to stderr, never to stdout
    assert "no answer within 1 s" in lines[-1] and lines[-1].startswith("adiencekit: error:"), lines
    assert "Traceback" not in err


def test_the_detector_choices_are_the_registered_detectors() -> None:
    from adiencekit.cli.predict import DETECTOR_NAMES
    from adiencekit.inference.detection import DETECTORS

    assert set(DETECTOR_NAMES) == set(DETECTORS)


@pytest.mark.realdata
def test_predict_with_the_keras_detector_finds_the_faces_the_package_finds(tmp_path, model_file, adience_faces_dir,
                                                                         capsys) -> None:
    pytest.importorskip("mtcnn", reason="the detectors read the mtcnn package's weights")
    photos = sorted(adience_faces_dir.rglob("*.jpg"))[:3]
    counts = {}
    pytest.importorskip("tensorflow", reason="the mtcnn package runs on TensorFlow")
    for detector in ("mtcnn-package", "mtcnn"):
        code = main(["predict", *map(str, photos), "--model", str(model_file), "--detector", detector,
                     "--json", str(tmp_path / f"{detector}.json"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        payload = json.loads((tmp_path / f"{detector}.json").read_text())
        assert payload["detector"] == detector  # the result says what made it
        images = payload["images"]
        counts[detector] = [len(image["faces"]) for image in images]
    assert counts["mtcnn"] == counts["mtcnn-package"] and sum(counts["mtcnn"]) >= 3


def test_predict_on_jax_imports_no_tensorflow_and_keeps_its_compilations(tmp_path, model_file) -> None:
    """KERAS_BACKEND=jax: no TensorFlow on the predict path, JAX's compilation cache under $KERAS_HOME."""
    pytest.importorskip("jax", reason='the JAX backend needs jax (pip install "adiencekit[jax]")')
    _photo(tmp_path / "p.jpg")
    code = ("import runpy, sys\n"
            "sys.argv = ['adiencekit', 'predict', 'p.jpg', '--no-detect', '--model', sys.argv[1], '--quiet']\n"
            "try:\n    runpy.run_module('adiencekit.cli', run_name='__main__')\n"
            "except SystemExit as exit_:\n    assert exit_.code in (0, None), exit_.code\n"
            "print('tensorflow' in sys.modules)\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    env.update(KERAS_BACKEND="jax", KERAS_HOME=str(tmp_path / "keras"))
    run = subprocess.run([sys.executable, "-c", code, str(model_file)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"  # TensorFlow never imported
    assert any((tmp_path / "keras" / "adiencekit_jax_cache").iterdir())
