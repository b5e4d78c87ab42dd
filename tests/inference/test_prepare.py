"""prepare_utkface: the raw split is kept, crops are written like inference cuts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.data import UTKFaceDataset
from adiencekit.errors import ConfigError
from adiencekit.crops import CropSpec
from adiencekit.inference.alignment import template_points
from adiencekit.inference.detection import Detection
from adiencekit.inference.prepare import PREPARE_FILE, prepare_utkface


class _CentreFace:
    """Finds one face at the template position of a 0-margin crop of the whole image,
    except in plain red images (no face)."""

    last_too_small = 0

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, image):
        self.sizes.append(image.shape[:2])
        red, green, blue = image.reshape(-1, 3).mean(axis=0)
        if red > 200 and green < 50 and blue < 50:
            return []
        side = image.shape[0]
        points = template_points(CropSpec(margin=0.0, shift=0.0, size=side))
        return [Detection(box=(0.0, 0.0, float(side), float(side)), score=0.99, landmarks=points)]


def _raw_root(tmp_path: Path, count: int = 20) -> Path:
    root = tmp_path / "raw"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["filename,age,gender,race"]
    for i in range(count):
        name = f"{5 + 3 * i}_{i % 2}_{i % 5}_2017{i:04d}.jpg.chip.jpg"
        pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        if i == 3:
            pixels[:] = (255, 0, 0)
        Image.fromarray(pixels).save(root / "images" / name, quality=100)
        rows.append(f"{name},{5 + 3 * i},{i % 2},{i % 5}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_split_of_the_raw_root_is_kept(tmp_path):
    raw = _raw_root(tmp_path)
    detector = _CentreFace()
    report = prepare_utkface(raw, tmp_path / "aligned", CropSpec(margin=0.0, size=32), detector=detector,
                             val_fraction=0.2, test_fraction=0.2, seed=3)
    assert report.align.written == 19 and len(report.align.no_face) == 1
    assert report.split_sizes == {"train": 12, "val": 4, "test": 4}
    # Detection ran on mirror-padded copies (25% of 40 px on each side).
    assert set(detector.sizes) == {(60, 60)}
    expected = UTKFaceDataset(raw).split(task="multitask", val_fraction=0.2, test_fraction=0.2, seed=3)
    prepared = UTKFaceDataset(tmp_path / "aligned")
    fixed = prepared.split(task="multitask", seed=99)
    assert fixed.protocol == "fixed split (splits.csv)"
    for want, got in zip(expected, fixed):
        missing = {Path(p).name for p in report.align.no_face}
        assert set(got.frame["filename"]) == set(want.frame["filename"]) - missing
    record = json.loads((tmp_path / "aligned" / PREPARE_FILE).read_text())
    assert record["crop"]["size"] == 32 and record["no_face"] == [Path(report.align.no_face[0]).name]
    assert record["split"]["seed"] == 3
    with Image.open(next((tmp_path / "aligned" / "images").iterdir())) as crop:
        assert crop.size == (32, 32)


def test_rerun_continues_and_refuses_a_prepared_source(tmp_path):
    raw = _raw_root(tmp_path, count=10)
    out = tmp_path / "aligned"
    prepare_utkface(raw, out, CropSpec(size=16), detector=_CentreFace())
    again = prepare_utkface(raw, out, CropSpec(size=16), detector=_CentreFace())
    assert again.align.written == 0 and again.align.skipped_existing == 9
    with pytest.raises(ConfigError, match="prepared with other settings"):  # crops would be mixed
        prepare_utkface(raw, out, CropSpec(size=20), detector=_CentreFace())
    with pytest.raises(ConfigError, match="prepared with other settings"):
        prepare_utkface(raw, out, CropSpec(size=16), pad=0.5, detector=_CentreFace())
    assert json.loads((out / PREPARE_FILE).read_text())["crop"]["size"] == 16
    redone = prepare_utkface(raw, out, CropSpec(size=20), detector=_CentreFace(), overwrite=True)
    assert redone.align.written == 9
    with pytest.raises(ConfigError, match="pass the raw UTKFace root"):
        prepare_utkface(out, tmp_path / "twice", detector=_CentreFace())
    with pytest.raises(ConfigError, match="must differ"):
        prepare_utkface(raw, raw, detector=_CentreFace())


def test_real_faces_are_found_and_aligned(utk_files, detector, tmp_path):
    """Twelve real UTKFace crops through MTCNN: every face found, eyes where the template puts them."""
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    for path in utk_files[:: len(utk_files) // 12][:12]:
        shutil.copyfile(path, raw / "images" / path.name)
    spec = CropSpec(margin=0.0, shift=-0.12, size=112)
    report = prepare_utkface(raw, tmp_path / "aligned", spec, detector=detector, val_fraction=0.25,
                             test_fraction=0.25)
    assert report.align.written == 12, report.summary()
    eyes = template_points(spec)[:2]
    for crop_path in sorted((tmp_path / "aligned" / "images").iterdir())[:4]:
        crop = np.asarray(Image.open(crop_path).convert("RGB"))
        found = detector.detect(crop)
        assert found, crop_path.name
        np.testing.assert_allclose(found[0].landmarks[:2], eyes, atol=6.0)


def test_cli_prepare(tmp_path, capsys, monkeypatch):
    import adiencekit.inference.prepare as prepare_module
    from adiencekit.cli import main

    raw = _raw_root(tmp_path, count=10)
    original = prepare_module.prepare_utkface

    asked = []

    def with_fake_detector(*args, detector, **kwargs):
        asked.append(detector)
        return original(*args, detector=_CentreFace(), **kwargs)

    monkeypatch.setattr(prepare_module, "prepare_utkface", with_fake_detector)
    assert main(["prepare", f"utkface:{raw}", "--out", str(tmp_path / "out"), "--seed", "1"]) == 0
    assert asked == ["mtcnn"]  # predict's own detector by default
    out = capsys.readouterr().out
    assert "9 crops written, 1 without a face" in out and "--recipe utkface_multitask" in out
    assert (tmp_path / "out" / "splits.csv").is_file()
    assert main(["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "UTKFace images not found" in err[0]
    assert main(["prepare", str(raw), "--out", str(tmp_path / "o3"), "--pad", "3"]) == 2
    assert "pad must be a number in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()  # checked before anything is written
    assert main(["prepare", str(raw), "--out", str(tmp_path / "o4"), "--detector", "haar"]) == 2
    assert "invalid choice: 'haar'" in capsys.readouterr().err and not (tmp_path / "o4").exists()


def test_a_root_prepared_with_another_detector_is_not_continued(tmp_path) -> None:
    class OtherFace(_CentreFace):
        pass

    raw = _raw_root(tmp_path, count=6)
    out = tmp_path / "out"
    prepare_utkface(raw, out, detector=_CentreFace(), val_fraction=0.2, test_fraction=0.2)
    assert json.loads((out / PREPARE_FILE).read_text())["detector"] == "_CentreFace"
    stamp = (out / "splits.csv").stat().st_mtime_ns
    with pytest.raises(ConfigError, match="prepared with the _CentreFace detector, not OtherFace"):
        prepare_utkface(raw, out, detector=OtherFace(), val_fraction=0.2, test_fraction=0.2)
    assert (out / "splits.csv").stat().st_mtime_ns == stamp  # refused before anything is written
    report = prepare_utkface(raw, out, detector=OtherFace(), val_fraction=0.2, test_fraction=0.2, overwrite=True)
    assert report.align.written == 5 and json.loads((out / PREPARE_FILE).read_text())["detector"] == "OtherFace"
