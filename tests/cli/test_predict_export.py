"""The predict and export commands, through an argparse parser built with their add_* functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.cli.export import add_export_parser, run_export
from adiencekit.cli.predict import add_predict_parser, run_predict


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="adiencekit")
    commands = parser.add_subparsers(dest="command", required=True)
    add_predict_parser(commands)
    add_export_parser(commands)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, small_model) -> Path:
    path = tmp_path_factory.mktemp("model") / "small.keras"
    small_model.save(path)
    return path


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (80, 60), (120, 90, 60)).save(folder / "one.jpg")
    Image.new("RGBA", (50, 50), (10, 200, 10, 128)).save(folder / "two.png")
    (folder / "three.jpg").write_bytes(b"broken")
    return folder


def test_predict_no_detect_table_and_summary(photos: Path, model_file: Path, capsys) -> None:
    status = run_predict(_parse(["predict", str(photos), "--model", str(model_file), "--no-detect", "--quiet"]))
    out, err = capsys.readouterr()
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["image", "face", "box", "score", "gender", "p", "age", "p", "age", "(years)"]
    assert len(lines) == 3 and "one.jpg" in lines[1] and "0,0,80x60" in lines[1]
    assert "3 images: 2 faces, 0 without a face, 1 unreadable" in err


def test_predict_json_to_stdout_and_file(photos: Path, model_file: Path, tmp_path: Path, capsys) -> None:
    status = run_predict(_parse(["predict", str(photos), "--model", str(model_file), "--no-detect", "--json", "-"]))
    out, err = capsys.readouterr()
    assert status == 0
    payload = json.loads(out)  # stdout holds only the JSON
    assert payload["schema_version"] == 1 and payload["summary"]["unreadable"] == 1
    images = {Path(i["path"]).name: i for i in payload["images"]}
    assert images["three.jpg"]["error"].endswith("not an image format Pillow knows)")
    face = images["one.jpg"]["faces"][0]
    assert face["box"] == [0.0, 0.0, 80.0, 60.0] and face["gender"] in ("female", "male")
    assert list(face["age_probabilities"]) == ["0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100"]
    assert "warning: " in err and "three.jpg" in err
    target = tmp_path / "out" / "results.json"
    assert run_predict(_parse(["predict", str(photos / "one.jpg"), "--model", str(model_file), "--no-detect",
                               "--json", str(target), "--quiet"])) == 0
    assert json.loads(target.read_text())["summary"]["faces"] == 1


def test_progress_bar_from_five_files_on_a_terminal(tmp_path: Path, model_file: Path, capsys, monkeypatch) -> None:
    for index in range(5):
        Image.new("RGB", (40, 40), (index * 40, 0, 0)).save(tmp_path / f"{index}.png")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # a terminal
    assert run_predict(_parse(["predict", str(tmp_path), "--model", str(model_file), "--no-detect"])) == 0
    assert "predict:" in capsys.readouterr().err  # the tqdm bar
    monkeypatch.undo()  # a log file: no bar
    assert run_predict(_parse(["predict", str(tmp_path), "--model", str(model_file), "--no-detect"])) == 0
    assert "predict:" not in capsys.readouterr().err
    assert run_predict(_parse(["predict", str(tmp_path), "--model", str(model_file), "--no-detect", "--quiet"])) == 0
    assert "predict:" not in capsys.readouterr().err


def test_predict_nothing_readable_exits_2(tmp_path: Path, model_file: Path, capsys) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"x")
    status = run_predict(_parse(["predict", str(tmp_path / "bad.jpg"), str(tmp_path / "gone.png"),
                                 "--model", str(model_file), "--quiet"]))
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().count("\n") == 0 and err.startswith("adiencekit: error: none of the 2 files could be read")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_predict(_parse(["predict", str(empty), "--model", str(model_file)])) == 2
    assert "no image files" in capsys.readouterr().err


def test_predict_bad_model_is_one_line(photos: Path, capsys) -> None:
    assert run_predict(_parse(["predict", str(photos), "--model", "missing/model.keras"])) == 2
    assert capsys.readouterr().err.startswith("adiencekit: error: missing/model.keras: no such file")


def test_predict_rejects_bad_options() -> None:
    with pytest.raises(SystemExit):
        _parse(["predict", "x.jpg", "--model", "m.keras", "--batch-size", "0"])
    with pytest.raises(SystemExit):
        _parse(["predict"])  # no PATH
    assert _parse(["predict", "x.jpg"]).model is None  # the bundled default (tests/inference/test_default_model.py)


@pytest.mark.realdata
def test_predict_detects_and_annotates(tmp_path: Path, model_file: Path, utk_faces, detector, capsys) -> None:
    from group_photos import compose_photo

    photo, _ = compose_photo(utk_faces[:3], canvas=(900, 600), sizes=(120, 180), seed=5)
    Image.fromarray(photo).save(tmp_path / "group.jpg", quality=92)
    Image.new("RGB", (300, 200), (128, 128, 128)).save(tmp_path / "wall.png")
    status = run_predict(_parse(["predict", str(tmp_path / "group.jpg"), str(tmp_path / "wall.png"),
                                 "--model", str(model_file), "--annotate", str(tmp_path / "annotated"), "--tta"]))
    out, err = capsys.readouterr()
    assert status == 0
    assert sum(1 for line in out.splitlines() if line.startswith(str(tmp_path / "group.jpg"))) == 3
    assert "2 images: 3 faces, 1 without a face, 0 unreadable" in err
    annotated = np.asarray(Image.open(tmp_path / "annotated" / "group.jpg")).astype(int)
    assert annotated.shape == photo.shape
    assert np.abs(annotated - photo.astype(int)).max() > 100  # boxes and labels were drawn
    assert (tmp_path / "annotated" / "wall.png").is_file()


def test_export_command(tmp_path: Path, model_file: Path, capsys) -> None:
    out = tmp_path / "exported"
    assert run_export(_parse(["export", "--model", str(model_file), "--format", "saved_model", "--out", str(out)])) == 0
    assert (out / "saved_model.pb").is_file()
    assert "exported saved_model" in capsys.readouterr().out
    assert run_export(_parse(["export", "--model", str(model_file), "--format", "saved_model", "--out", str(out)])) == 2
    assert "exists; replace it with --overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["export", "--model", str(model_file), "--format", "caffe", "--out", str(out)])
