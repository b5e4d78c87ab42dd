"""Export parity: each exported format, run in its own runtime, agrees with Keras on real faces."""

from __future__ import annotations

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from adiencekit.errors import ConfigError
from adiencekit.export import EXPORT_FORMATS, export_model, named_outputs
from adiencekit.models import create_model

#: float32 exports must match Keras to this (max abs difference of probabilities).
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(1)
    return create_model("scratch_cnn", task="multitask", input_shape=(64, 64, 3), conv_layers=3,
                        base_filters=8, dense_units=16, batch_norm=True)


@pytest.fixture(scope="module")
def faces(adience_faces_dir: Path) -> np.ndarray:
    """The 19 real Adience crops, resized to 64 px, as float32 RGB 0-255."""
    files = sorted(adience_faces_dir.rglob("*.jpg"))
    if not files:
        pytest.skip(f"no Adience crops under {adience_faces_dir}")
    return np.stack([np.asarray(Image.open(f).convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
                     for f in files]).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, model) -> dict[str, Path]:
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    root = tmp_path_factory.mktemp("exports")
    return {fmt: export_model(model, root / f"model_{fmt}", format=fmt) for fmt in EXPORT_FORMATS}


def _keras(model, x):
    out = model(x, training=False)
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def _run_saved_model(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](image=tf.constant(x))
    return {k: v.numpy() for k, v in out.items()}


def _run_tflite(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # the LiteRT wheel is not installed: TensorFlow's own interpreter
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    return {k: np.asarray(v) for k, v in runner(image=x).items()}


def _run_onnx(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: x})))


RUNTIMES = {"saved_model": _run_saved_model, "tflite": _run_tflite, "onnx": _run_onnx}


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_parity_on_real_faces(fmt, model, faces, exported) -> None:
    expected = _keras(model, faces)
    for batch in (faces, faces[:1], faces[3:8]):  # the batch size is dynamic
        got = RUNTIMES[fmt](exported[fmt], batch)
        assert sorted(got) == ["age", "gender"], f"{fmt} outputs are named {sorted(got)}"
        reference = _keras(model, batch)
        for head in ("gender", "age"):
            assert got[head].shape == reference[head].shape
            difference = float(np.abs(got[head] - reference[head]).max())
            assert difference <= TOLERANCE, f"{fmt} {head}: max abs difference {difference:.2e}"
    assert expected["age"].shape == (19, 8)


def test_single_task_output_is_named_after_the_task(tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    model = create_model("scratch_cnn", task="age", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8)
    assert list(named_outputs(model).output) == ["age"]
    path = export_model(model, tmp_path / "age.onnx", format="onnx")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    got = _run_onnx(path, x)
    np.testing.assert_allclose(got["age"], keras.ops.convert_to_numpy(model(x)), atol=TOLERANCE)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_an_ensemble_exports_as_one_graph_with_named_outputs(tmp_path: Path, fmt: str) -> None:
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    from adiencekit.models import AgeGenderEnsemble

    members = [create_model("scratch_cnn", task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                            dense_units=8, name=f"member_{i}") for i in range(2)]
    ensemble = AgeGenderEnsemble(members)
    path = export_model(ensemble, tmp_path / f"ensemble.{fmt}", format=fmt)
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    got = RUNTIMES[fmt](path, x)
    reference = _keras(ensemble, x)
    assert sorted(got) == ["age", "gender"]
    for head in ("gender", "age"):
        np.testing.assert_allclose(got[head], reference[head], atol=TOLERANCE)


def test_export_from_a_keras_file_and_suffixes(tmp_path: Path) -> None:
    model = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8)
    model.save(tmp_path / "m.keras")
    path = export_model(tmp_path / "m.keras", tmp_path / "out", format="tflite")
    assert path.name == "out.tflite" and path.stat().st_size > 1000
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(_run_tflite(path, x)["gender"], keras.ops.convert_to_numpy(model(x)), atol=TOLERANCE)


def test_export_refuses_bad_requests(tmp_path: Path) -> None:
    model = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8)
    with pytest.raises(ConfigError, match="format must be one of"):
        export_model(model, tmp_path / "x", format="caffe")
    export_model(model, tmp_path / "sm", format="saved_model")
    with pytest.raises(ConfigError, match="exists"):
        export_model(model, tmp_path / "sm", format="saved_model")
    export_model(model, tmp_path / "sm", format="saved_model", overwrite=True)
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        mixed = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3), conv_layers=2,
                             base_filters=4, dense_units=8)
    finally:
        keras.config.set_dtype_policy(previous)
    with pytest.raises(ConfigError, match="float32"):
        export_model(mixed, tmp_path / "mixed", format="onnx")


def test_every_format_carries_its_record(exported) -> None:
    """Heads, class names and how a face reaches the model travel with each exported file."""
    import onnxruntime as ort

    from adiencekit.crops import INPUT_RULE, CropSpec
    from adiencekit.export import read_export_record, record_path

    for fmt, path in exported.items():
        record = read_export_record(path)
        assert record["heads"] == ["gender", "age"], fmt
        assert record["class_names"]["gender"] == ["female", "male"] and len(record["class_names"]["age"]) == 8
        assert record["input_size"] == 64 and record["image_size"] is None and record["input_rule"] == INPUT_RULE
        assert CropSpec.from_dict(record["crop"]) == CropSpec(size=64)  # what Predictor cuts for this model
    assert (exported["saved_model"] / "assets" / "adiencekit.json").is_file()
    assert record_path(exported["tflite"]).name == "model_tflite.tflite.json"
    metadata = ort.InferenceSession(str(exported["onnx"])).get_modelmeta().custom_metadata_map
    assert read_export_record(exported["onnx"]) == __import__("json").loads(metadata["adiencekit"])


def test_a_model_that_does_not_name_its_heads_is_refused_unless_named(tmp_path: Path) -> None:
    """No head is guessed from a class count: a plain 2-class model needs heads=('gender',)."""
    from adiencekit.export import read_export_record

    plain = keras.Sequential([keras.Input((16, 16, 3), name="image"), keras.layers.Flatten(),
                             keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ConfigError, match="does not say which output is which head"):
        export_model(plain, tmp_path / "plain", format="saved_model")
    with pytest.raises(ConfigError, match="has 2 classes, the age head has 8"):
        export_model(plain, tmp_path / "plain", format="saved_model", heads=("age",))
    path = export_model(plain, tmp_path / "plain", format="tflite", heads=("gender",))
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(_run_tflite(path, x)["gender"], keras.ops.convert_to_numpy(plain(x)), atol=TOLERANCE)
    assert read_export_record(path)["heads"] == ["gender"]


def test_a_gender_only_export_names_only_its_head(tmp_path: Path, capsys) -> None:
    from adiencekit.cli import main

    model = create_model("scratch_cnn", task="gender", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
                         dense_units=8)
    model.save(tmp_path / "gender.keras")
    assert main(["export", "--model", str(tmp_path / "gender.keras"), "--format", "tflite",
                 "--out", str(tmp_path / "gender.tflite")]) == 0
    out = capsys.readouterr().out
    assert "output 'gender'" in out and "'age'" not in out


def test_tflite_export_needs_no_export_extra(tmp_path: Path) -> None:
    """TFLite goes through TensorFlow's own converter: it works with tf2onnx, onnx, onnxruntime and
    ai-edge-litert all unimportable (the docs say so)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "for name in ('ai_edge_litert', 'tf2onnx', 'onnx', 'onnxruntime'):\n"
        "    sys.modules[name] = None\n"
        "from adiencekit.export import export_model\n"
        "from adiencekit.models import create_model\n"
        "model = create_model('scratch_cnn', task='gender', input_shape=(32, 32, 3), conv_layers=2, base_filters=4,"
        " dense_units=8)\n"
        f"print(export_model(model, {str(tmp_path / 'm')!r}, format='tflite'))\n"
        "import numpy as np, tensorflow as tf\n"
        f"interpreter = tf.lite.Interpreter(model_path={str(tmp_path / 'm.tflite')!r})\n"
        "runner = interpreter.get_signature_runner('serving_default')\n"
        "print(sorted(runner(image=np.zeros((2, 32, 32, 3), np.float32))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "['gender']" in done.stdout
    assert (tmp_path / "m.tflite").stat().st_size > 1000


@pytest.mark.realdata
def test_the_onnx_example_of_the_docs_gives_predictors_labels(tmp_path: Path, adience_faces_dir: Path, monkeypatch,
                                                               capsys) -> None:
    """docs/export.md's onnxruntime block, run on a real photo with the bundled model, prints exactly
    Predictor's labels, with probabilities within 1e-4."""
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    pytest.importorskip("mtcnn", reason="face detection needs the mtcnn package")
    import shutil

    from adiencekit.inference import Predictor
    from adiencekit.models import DEFAULT_PRESET
    from test_docs import DOCS, _blocks

    block = next(body for body in _blocks(DOCS / "export.md", "python") if "onnxruntime" in body)
    photo = sorted(adience_faces_dir.rglob("*.jpg"))[0]
    shutil.copyfile(photo, tmp_path / "photo.jpg")
    export_model(DEFAULT_PRESET, tmp_path / "exported" / "utk.onnx", format="onnx")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "docs/export.md onnxruntime block", "exec"), namespace)  # noqa: S102 - the page's own code
    printed = [ast.literal_eval(line) for line in capsys.readouterr().out.splitlines()]
    # The exported file is the float32 network, one view: predict set the same way (its default is int8 + flip).
    faces = Predictor(precision="float32", tta=False).predict(tmp_path / "photo.jpg").faces
    assert faces, "the bundled model's detector found no face in the test photo"
    assert [{"gender": p["gender"], "age": p["age"]} for p in printed] == [
        {"gender": face.gender.label, "age": face.age.label} for face in faces]
    for labels, face in zip(printed, faces, strict=True):  # rounded to 1 decimal: within 0.05 + float noise
        assert abs(labels["age_years"] - face.age_years) <= 0.051
    for head in ("gender", "age"):
        expected = np.array([list(face.heads[head].probabilities.values()) for face in faces])
        np.testing.assert_allclose(namespace["outputs"][head], expected, atol=1e-4)


def test_levi_hassner_exports_to_an_onnx_graph_that_takes_the_image_alone(tmp_path: Path) -> None:
    """Its mean subtraction was a Normalization layer whose constants became two extra ONNX inputs."""
    pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the export extra)")
    ort = pytest.importorskip("onnxruntime")
    model = create_model("levi_hassner", task="gender", input_shape=(64, 64, 3))
    path = export_model(model, tmp_path / "lh.onnx", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [node.name for node in session.get_inputs()] == ["image"]
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    out = session.run(None, {"image": x})[0]
    np.testing.assert_allclose(out, np.asarray(model.predict(x, verbose=0)), atol=1e-4)
