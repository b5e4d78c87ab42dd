# Accuracy against speed across the model zoo, one short fixed recipe (issue 25), so a
# user can pick a model. An experiment: it TRAINS every model (about 10 minutes on 2
# loaded CPU cores with the defaults).
#
#   python experiments/zoo_accuracy_speed.py                 # the recipe below, every model
#   python experiments/zoo_accuracy_speed.py --smoke         # 40 faces, 1 epoch, 2 models (~1 min)
#
# The recipe (RECIPE): UTKFace's own 200x200 crops (../shared/data/utkface), the fixed
# split UTKFaceDataset(root).split(task="multitask", val_fraction=0.1, test_fraction=0.2,
# seed=0) (the bundled preset's split); the first --train-faces training faces; every
# face resized (area) to 80x80 once, no augmentation; multitask models (gender + age
# heads) from create_model(name, task="multitask", input_shape=(80, 80, 3), weights=None)
# (every model from random weights, Inception-v3 included: no ImageNet download), compiled by
# the library (compile_model) with TrainConfig's defaults (Adam 1e-3, batch 32),
# --epochs epochs, seed 0; scored on the whole validation split (never the test split).
# Speed: training images/s (the median epoch after the first), batch-1 model ms per face
# and batch-64 images/s of the trained model, on the same process and threads.
"""Accuracy against speed across the model zoo on UTKFace, one short fixed recipe.

Example:

>>> import zoo_accuracy_speed
>>> zoo_accuracy_speed.RECIPE["image_size"], zoo_accuracy_speed.RECIPE["optimizer"]
(80, 'adam')
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# The benchmarks' helpers (environment capture, JSON, tables, options).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402  (benchmarks/ is not a package)

SUITE = "zoo"

#: The fixed recipe every model is trained with (recorded in the JSON).
RECIPE: dict[str, Any] = {
    "data": "UTKFace's own 200x200 crops, area-resized to 80x80 once, no augmentation",
    "split": "UTKFaceDataset(root).split(task='multitask', val_fraction=0.1, test_fraction=0.2, seed=0)",
    "image_size": 80,
    "task": "multitask",
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "seed": 0,
    "weights": None,
}
#: Zoo models trained from scratch (``basic_inception`` is left out: a frozen base is only
#: meaningful with ImageNet weights, which this machine cannot download).
MODELS = ("scratch_cnn", "levi_hassner", "face_resnet", "modified_inception")
COLUMNS = ["model", "params", "forward_gmacs_per_image", "gender", "age_exact", "age_one_off",
           "train_images_per_s", "batch1_ms", "batch64_images_per_s"]


def load_faces(paths: list[str], size: int) -> np.ndarray:
    """Every image decoded and area-resized to ``size x size`` uint8 RGB."""
    from PIL import Image

    out = np.empty((len(paths), size, size, 3), np.uint8)
    for index, path in enumerate(paths):
        with Image.open(path) as image:
            out[index] = np.asarray(image.convert("RGB").resize((size, size), Image.BOX))
    return out


class EpochTimer:
    """Keras callback recording each epoch's seconds (no per-batch hook: no sync per step)."""

    def __new__(cls) -> Any:
        import keras

        class _EpochTimer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.seconds: list[float] = []
                self._start = 0.0

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                self.seconds.append(time.perf_counter() - self._start)

        return _EpochTimer()


def train_and_score(name: str, data: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Train one zoo model with :data:`RECIPE` and score it on the validation faces."""
    import keras

    import flops
    from adiencekit.metrics import exact_accuracy, one_off_accuracy
    from adiencekit.models import create_model
    from adiencekit.training.config import TrainConfig
    from adiencekit.training.model_setup import build_optimizer, compile_model

    keras.utils.set_random_seed(RECIPE["seed"])
    size = RECIPE["image_size"]
    model = create_model(name, task="multitask", input_shape=(size, size, 3), weights=None)
    config = TrainConfig(model=name, task="multitask", optimizer=RECIPE["optimizer"],
                         learning_rate=RECIPE["learning_rate"], batch_size=RECIPE["batch_size"], seed=RECIPE["seed"])
    steps = int(np.ceil(len(data["x_train"]) / config.batch_size))
    compile_model(model, config, build_optimizer(config, steps_per_epoch=steps))
    timer = EpochTimer()
    model.fit(data["x_train"], data["y_train"], batch_size=config.batch_size, epochs=epochs, shuffle=True,
              verbose=0, callbacks=[timer])
    steady = timer.seconds[1:] or timer.seconds
    predicted = model.predict(data["x_val"], batch_size=64, verbose=0)
    gender = np.argmax(np.asarray(predicted["gender"]), axis=-1)
    age = np.argmax(np.asarray(predicted["age"]), axis=-1)
    truth = data["y_val"]
    one = data["x_val"][:1]
    batch = data["x_val"][:64]
    model.predict_on_batch(one)
    model.predict_on_batch(batch)
    single = common.time_call(lambda: np.asarray(model.predict_on_batch(one)["gender"]), warmup=2, repeats=20)
    many = common.time_call(lambda: np.asarray(model.predict_on_batch(batch)["gender"]), warmup=1, repeats=3)
    row = {
        "model": name,
        "params": model.count_params(),
        "forward_gmacs_per_image": flops.forward_macs(model) / 1e9,
        # The metrics ignore missing labels (-1).
        "gender": float(exact_accuracy(truth["gender"], gender)),
        "age_exact": float(exact_accuracy(truth["age"], age)),
        "age_one_off": float(one_off_accuracy(truth["age"], age)),
        "epoch_seconds": [round(s, 3) for s in timer.seconds],
        "train_images_per_s": len(data["x_train"]) / statistics.median(steady),
        "batch1_ms": 1e3 * single.median,
        "batch64_images_per_s": len(batch) / many.median,
        "val_faces": {"gender": int((truth["gender"] >= 0).sum()), "age": int((truth["age"] >= 0).sum())},
    }
    keras.backend.clear_session()
    return row


def main(argv: list[str] | None = None) -> int:
    """Train and score every model; returns the exit code."""
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--train-faces", type=int, default=2000, help="first N training faces (default 2000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per model (default 3)")
    parser.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    if min(args.train_faces, args.epochs) < 1:
        parser.error("--train-faces and --epochs must be >= 1")
    root = args.shared_data / "utkface"
    if not (root / "labels.csv").exists():
        parser.error(f"UTKFace not found at {root} (see shared/data/README.md)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from adiencekit.data import UTKFaceDataset

    models = args.models[:2] if args.smoke else args.models
    train_faces, epochs = (40, 1) if args.smoke else (args.train_faces, args.epochs)
    split = UTKFaceDataset(root).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0)
    val_paths = split.val.paths[:20] if args.smoke else split.val.paths
    common.log(f"decoding {min(train_faces, len(split.train))} training and {len(val_paths)} validation faces")
    data = {
        "x_train": load_faces(list(split.train.paths[:train_faces]), RECIPE["image_size"]),
        "y_train": {k: np.asarray(v)[:train_faces] for k, v in split.train.labels.items()},
        "x_val": load_faces(list(val_paths), RECIPE["image_size"]),
        "y_val": {k: np.asarray(v)[: len(val_paths)] for k, v in split.val.labels.items()},
    }
    env = common.environment()
    result: dict[str, Any] = {
        "recipe": {**RECIPE, "train_faces": len(data["x_train"]), "epochs": epochs, "val_faces": len(data["x_val"])},
        "scored_on": "validation split (never the test split)", "rows": [], "errors": [], "status": "running",
    }
    out = args.out or common.default_out_path(SUITE, env["device"], smoke=args.smoke)
    for name in models:
        common.log(f"{name}: training {epochs} epochs on {len(data['x_train'])} faces")
        try:
            row = train_and_score(name, data, epochs)
        except Exception as error:  # noqa: BLE001 - one model's failure must not lose the others
            result["errors"].append({"model": name, "error": f"{type(error).__name__}: {error}"[:1000]})
            common.log(f"{name}: failed: {type(error).__name__}: {str(error)[:200]}")
            continue
        result["rows"].append(row)
        common.write_json({"suite": SUITE, "smoke": args.smoke, **env, **result}, out)  # kept if a later model fails
        common.log(f"{name}: gender {row['gender']:.3f}, age exact {row['age_exact']:.3f}, "
                   f"{row['train_images_per_s']:.0f} train img/s, {row['batch1_ms']:.1f} ms per face")
    result["status"] = "complete"
    args.out = out
    common.finish(SUITE, args, env, result, tables=[(result["rows"], COLUMNS, "Zoo: accuracy against speed")])
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
