"""export never destroys what it did not write: run folders, presets, the model itself, foreign files;
a failed or killed export leaves the previous file in place; a read-only folder is one line."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import keras
import pytest

from adiencekit.errors import AdienceKitError, ConfigError
from adiencekit.export import export_model
from adiencekit.models import create_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    model = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_never_deletes_a_run_folder_a_preset_or_foreign_files(model_file, tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_text("{}")
    (victim / "notes.txt").write_text("my notes")
    before = _snapshot(victim)
    with pytest.raises(ConfigError, match="is a training run folder; --overwrite never deletes one"):
        export_model(model_file, victim, "saved_model", overwrite=True)
    (tmp_path / "preset").mkdir()
    (tmp_path / "preset" / "preset.json").write_text("{}")
    with pytest.raises(ConfigError, match="is a preset"):
        export_model(model_file, tmp_path / "preset", "saved_model", overwrite=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"holds files an export does not write \(notes.txt\)"):
        export_model(model_file, tmp_path / "mine", "saved_model", overwrite=True)
    assert _snapshot(victim) == before and (tmp_path / "mine" / "notes.txt").read_text() == "x"


def test_overwrite_never_replaces_the_model_being_exported(model_file, tmp_path) -> None:
    copy = tmp_path / "holder" / "copy.keras"
    copy.parent.mkdir()
    copy.write_bytes(model_file.read_bytes())
    with pytest.raises(ConfigError, match="is \\(or holds\\) the model being exported"):
        export_model(copy, copy, "saved_model", overwrite=True)
    with pytest.raises(ConfigError, match="is \\(or holds\\) the model being exported"):
        export_model(copy, copy.parent, "saved_model", overwrite=True)
    other = tmp_path / "other.bin"
    other.write_bytes(b"x")
    with pytest.raises(ConfigError, match="is a file, not a SavedModel folder"):
        export_model(copy, other, "saved_model", overwrite=True)
    assert copy.read_bytes() == model_file.read_bytes() and other.read_bytes() == b"x"


def test_an_earlier_export_is_replaced_and_a_failed_one_keeps_it(model_file, tmp_path, monkeypatch) -> None:
    first = export_model(model_file, tmp_path / "out", "saved_model")
    assert (first / "saved_model.pb").is_file()
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(ConfigError, match="exists; replace it with --overwrite"):
        export_model(model_file, first, "saved_model")
    again = export_model(model_file, first, "saved_model", overwrite=True)
    assert again == first and (first / "saved_model.pb").stat().st_mtime_ns != stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]

    def broken_export(self, filepath, **kwargs):  # an exporter that dies half-way (a kill, a crash)
        Path(filepath).mkdir()
        (Path(filepath) / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("exporter died")

    monkeypatch.setattr(keras.Model, "export", broken_export)
    before = _snapshot(first)
    with pytest.raises(RuntimeError, match="exporter died"):
        export_model(model_file, first, "saved_model", overwrite=True)
    assert _snapshot(first) == before  # the previous export is untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_read_only_folder_is_one_line(model_file, tmp_path, monkeypatch) -> None:
    from adiencekit import export as export_module

    def read_only(folder: Path) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(folder))

    monkeypatch.setattr(export_module, "_probe_writable", read_only)
    with pytest.raises(AdienceKitError, match="Read-only file system") as info:
        export_model(model_file, tmp_path / "ro", "saved_model")
    assert "\n" not in str(info.value)


def test_cli_refuses_in_one_line_and_keeps_the_run(model_file, tmp_path, capsys) -> None:
    from adiencekit.cli import main

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_text(json.dumps({}))
    (victim / "notes.txt").write_text("mine")
    code = main(["export", "--model", str(model_file), "--format", "saved_model", "--out", str(victim),
                 "--overwrite"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "never deletes" in err[0]
    assert (victim / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04truncated"])
@pytest.mark.parametrize("fmt", ["preset", "onnx"])
def test_a_damaged_best_keras_is_one_line_that_says_damaged(tmp_path, capsys, content, fmt) -> None:
    from adiencekit.cli import main
    from adiencekit.training import TrainConfig

    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(model="scratch_cnn", task="gender", image_size=36, crop_size=32,
                model_kwargs={"conv_layers": 2, "base_filters": 4, "dense_units": 8}).to_json(run / "config.json")
    (run / "metrics.json").write_text(json.dumps({"test": {}}))
    (run / "best.keras").write_bytes(content)
    code = main(["export", "--model", str(run), "--format", fmt, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "damaged" in err[0] and "File not found" not in err[0] and "best.keras" in err[0]
