"""One model, one crop: loaded as a run folder, as a preset made from the run, through the
preset loader, or exported, a trained model cuts the same face the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adiencekit.crops import UTKFACE_CROP, CropSpec, metadata_crop, model_inputs
from adiencekit.export import export_model, export_preset, read_export_record
from adiencekit.inference import Predictor
from adiencekit.inference.alignment import crop_face, template_points
from adiencekit.inference.detection import Detection
from adiencekit.training import TrainConfig
from adiencekit.training.run_folder import RunFolder

from training._helpers import make_small_tree
from test_export_preset import _prepared_root, _train

_NETWORK = {"model": "face_resnet", "model_kwargs": {"width": 4, "blocks": [1, 1]}, "task": "multitask",
            "image_size": 40, "crop_size": 32, "batch_size": 8, "epochs": 1, "early_stopping_patience": None}


@pytest.fixture(scope="module")
def prepared_run(tmp_path_factory) -> Path:
    """A finished run on a root made by ``adiencekit prepare`` (its prepare.json records the crop)."""
    root = _prepared_root(tmp_path_factory.mktemp("utk") / "aligned")
    return _train(TrainConfig(data=f"utkface:{root}", **_NETWORK), tmp_path_factory.mktemp("runs") / "prepared")


@pytest.fixture(scope="module")
def raw_utkface_run(prepared_run, tmp_path_factory) -> Path:
    """The same kind of run on a UTKFace root without prepare.json: the faces are UTKFace's own crops."""
    root = tmp_path_factory.mktemp("utk") / "raw"
    root.mkdir()
    for name in ("images", "splits.csv"):
        (root / name).symlink_to(Path(TrainConfig.from_json(prepared_run / "config.json").data[len("utkface:"):])
                                 / name)
    return _train(TrainConfig(data=f"utkface:{root}", **_NETWORK), tmp_path_factory.mktemp("runs") / "raw")


@pytest.fixture(scope="module")
def adience_run(tmp_path_factory) -> Path:
    """A run on an Adience-format tree (the synthetic one): Adience framing."""
    tree = make_small_tree(tmp_path_factory.mktemp("adience"))
    return _train(TrainConfig(data=str(tree), val_fraction=0.25, **{**_NETWORK, "task": "gender"}),
                  tmp_path_factory.mktemp("runs") / "adience")


def _photo() -> tuple[np.ndarray, Detection]:
    """A textured photo and a detection whose landmarks sit on a tilted face-sized template."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    points = template_points(CropSpec(margin=0.0, shift=0.0, size=70)) + [60.0, 40.0]
    angle = 0.2
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (points - points.mean(axis=0)) @ rotation.T + points.mean(axis=0)
    return photo, Detection(box=(55.0, 35.0, 80.0, 80.0), score=0.99, landmarks=points)


def _crops_of_every_loading(run: Path, tmp_path: Path) -> dict[str, tuple[CropSpec, int | None]]:
    """``(crop, image_size)`` of one run's model by every path that loads it."""
    preset = export_preset(run, tmp_path / "preset")
    exported = export_model(run, tmp_path / "model.onnx", format="onnx")
    record = read_export_record(exported)
    recorded = RunFolder(run).preset_metadata()  # what the run folder records, as a preset of it would
    crops = {name: (predictor.crop, predictor.image_size) for name, predictor in {
        "run folder": Predictor(run, detector=None),
        "preset": Predictor(preset, detector=None),
    }.items()}
    crops["run folder record"] = (metadata_crop(recorded), recorded["image_size"])
    crops["export record"] = (CropSpec.from_dict(record["crop"]), record["image_size"])
    return crops


@pytest.mark.parametrize("which", ["prepared_run", "raw_utkface_run", "adience_run"])
def test_every_loading_of_a_model_cuts_the_same_pixels(which, request, tmp_path) -> None:
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    run = request.getfixturevalue(which)
    crops = _crops_of_every_loading(run, tmp_path)
    specs = {name: spec for name, (spec, _) in crops.items()}
    assert len(set(specs.values())) == 1, f"the loadings disagree on the crop: {specs}"
    assert {size for _, size in crops.values()} == {40}
    spec = next(iter(specs.values()))
    expected = {
        "prepared_run": CropSpec(style="aligned", margin=0.0, size=40, shift=-0.12),  # prepare.json's crop
        "raw_utkface_run": UTKFACE_CROP.replace(size=40),
        "adience_run": CropSpec(size=40),
    }[which]
    assert spec == expected
    photo, detection = _photo()
    pixels = {name: model_inputs(crop_face(photo, detection, spec)[None], 32, size)
              for name, (spec, size) in crops.items()}
    first = next(iter(pixels.values()))
    assert first.shape == (1, 32, 32, 3)
    for name, values in pixels.items():
        np.testing.assert_array_equal(values, first, err_msg=name)
