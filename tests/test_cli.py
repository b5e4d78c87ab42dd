"""Tests for the ``adiencekit`` command line (in-process, plus real console-script runs)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adiencekit import __version__
from adiencekit import cli as cli_module
from adiencekit.cli import build_parser, config_from_args, main
from adiencekit.quiet import native_stderr_captured
from adiencekit.errors import ConfigError, DataError, ModelFileError
from adiencekit.training import TrainConfig

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from adiencekit.data import make_synthetic_adience

    return make_synthetic_adience(tmp_path_factory.mktemp("adience"), users_per_fold=4, images_per_user=16,
                                  image_sizes=(56,), seed=0)


@pytest.fixture(scope="module")
def synthetic_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ADIENCEKIT_HOME for the embedded synthetic set (built once per module)."""
    return tmp_path_factory.mktemp("adiencekit-home")


def _run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_in_process(capsys, "--version")
    assert code == 0 and out.strip() == f"adiencekit {__version__}"
    code, out, _ = _run_in_process(capsys, "models")
    assert code == 0
    for name in ("scratch_cnn", "levi_hassner", "modified_inception", "quick", "scratch_5conv_age256"):
        assert name in out
    assert "(227, 227, 3)" in out


def test_data_summarises_the_embedded_synthetic_set(capsys, monkeypatch, synthetic_home: Path) -> None:
    monkeypatch.setenv("ADIENCEKIT_HOME", str(synthetic_home))
    code, out, _ = _run_in_process(capsys, "data")
    assert code == 0
    assert str(synthetic_home) in out and "cleaning report" in out.lower()


def test_data_with_a_root(capsys, tiny_root: Path) -> None:
    code, out, _ = _run_in_process(capsys, "data", "--root", str(tiny_root), "--age-policy", "map")
    assert code == 0 and str(tiny_root) in out and "age policy 'map'" in out


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_train_evaluate_and_refuse_to_overwrite(capsys, tiny_root: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    argv = ["train", "--data", str(tiny_root), "--recipe", "quick", "--task", "age", "--fold", "2", "--epochs", "2",
            "--batch-size", "16", "--image-size", "48", "--crop-size", "40", "--out", str(out_dir), "--quiet"]
    code, out, err = _run_in_process(capsys, *argv)
    assert code == 0, err
    assert f"Run folder: {out_dir}" in out and "| age |" in out
    config = TrainConfig.from_json(out_dir / "config.json")
    assert (config.task, config.test_fold, config.epochs, config.crop_size) == ("age", 2, 2, 40)
    assert (out_dir / "metrics.json").is_file()

    code, _, err = _run_in_process(capsys, *argv)
    assert code == 2 and "holds a finished run" in err and "--overwrite" in err
    code, _, err = _run_in_process(capsys, *argv, "--overwrite")
    assert code == 0, err

    code, out, err = _run_in_process(capsys, "evaluate", "--run", str(out_dir))
    assert code == 0, err
    assert "Loading" in out and "Evaluating" in out and "test images" in out  # progress, stage by stage
    saved = json.loads((out_dir / "evaluation.json").read_text())
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert saved["heads"]["age"]["exact"] == pytest.approx(metrics["test"]["heads"]["age"]["exact"])
    code, out, err = _run_in_process(capsys, "evaluate", "--run", str(out_dir), "--tta")
    assert code == 0, err
    tta = json.loads((out_dir / "evaluation_tta.json").read_text())
    assert tta["tta"] is True and tta["heads"]["age"]["n"] == saved["heads"]["age"]["n"]


@pytest.mark.slow
def test_cv_writes_the_summary_table(capsys, tiny_root: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "quick.json"
    TrainConfig(data=str(tiny_root), model_kwargs={"conv_layers": 2, "base_filters": 4, "dense_units": 8,
                                                   "pooling": "avg"},
                image_size=40, crop_size=32, batch_size=16, epochs=1, steps_per_epoch=1, validation_steps=1,
                test_steps=1).to_json(config_path)
    code, out, err = _run_in_process(capsys, "cv", "--config", str(config_path), "--out", str(tmp_path / "cv"))
    assert code == 0, err
    assert "mean ± std" in out and (tmp_path / "cv" / "cv.md").is_file()
    assert sorted(p.name for p in (tmp_path / "cv").glob("fold_*")) == [f"fold_{k}" for k in range(5)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--fold", "7"], "test_fold must be an Adience fold 0-4, got 7"),
        (["train", "--fold", "x"], "invalid int value: 'x'"),
        (["train", "--recipe", "nope"], "unknown recipe 'nope'"),
        (["train", "--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["train", "--data", "/no/such/adience"], "dataset folder not found: /no/such/adience"),
        (["train", "--data", "utkface:/no/such/utk"], "dataset folder not found: /no/such/utk"),
        (["train", "--config", "/no/such/config.json"], "config file not found"),
        (["train", "--config", "x.json", "--recipe", "quick"], "either --config or --recipe"),
        (["train", "--epochs", "0"], "epochs must be a positive integer, got 0"),
        (["cv", "--data", "utkface:/"], "UTKFace has none"),
        (["evaluate", "--run", "/no/such/run"], "run folder not found"),
        (["evaluate"], "the following arguments are required: --run"),
        (["data", "--root", "/no/such/root"], "Adience fold files not found in /no/such/root"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_user_mistakes_give_one_line_and_status_2(capsys, argv: list[str], message: str) -> None:
    code, _, err = _run_in_process(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adiencekit: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err


def test_unreadable_config_and_non_run_folder(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": "many"}')
    code, _, err = _run_in_process(capsys, "train", "--config", str(bad))
    assert code == 2 and "epochs must be a positive integer" in err
    code, _, err = _run_in_process(capsys, "evaluate", "--run", str(tmp_path))
    assert code == 2 and "is not a run folder" in err


@pytest.mark.slow
def test_console_script_end_to_end(tmp_path: Path, synthetic_home: Path) -> None:
    """A real `adiencekit` process: the new-user flow on the synthetic set, and an error."""
    script = shutil.which("adiencekit")
    if script is None:
        pytest.skip("the adiencekit console script is not installed (pip install -e .)")
    env = {**os.environ, "ADIENCEKIT_HOME": str(synthetic_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    failed = subprocess.run([script, "train", "--fold", "5"], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stderr.strip() == "adiencekit: error: TrainConfig.test_fold must be an Adience fold 0-4, got 5"
    run = tmp_path / "first-run"
    done = subprocess.run([script, "train", "--epochs", "1", "--out", str(run), "--quiet"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Run folder: {run}" in done.stdout and "| gender |" in done.stdout
    assert TrainConfig.from_json(run / "config.json").model_kwargs["pooling"] == "avg"  # the quick recipe


@pytest.mark.slow
def test_sweep_command_runs_the_report_sweep(capsys, tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    code, stdout, _ = _run_in_process(
        capsys, "sweep", "dense_units", "--data", str(tiny_root), "--epochs", "1", "--image-size", "36",
        "--crop-size", "32", "--out", str(out), "--quiet",
    )
    assert code == 0
    assert "| dense_units=128 |" in stdout and "| dense_units=512 |" in stdout and "test age 1-off" in stdout
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "dense_units=128", "dense_units=256", "dense_units=512"
    ]
    config = json.loads((out / "dense_units=256" / "config.json").read_text())
    assert config["task"] == "age" and config["model_kwargs"]["dense_units"] == 256


def test_sweep_command_user_errors(capsys, tmp_path: Path) -> None:
    code, _, err = _run_in_process(capsys, "sweep", "width")
    assert code == 2 and "invalid choice: 'width'" in err
    code, _, err = _run_in_process(capsys, "sweep", "conv_depth", "--data", str(tmp_path / "nowhere"))
    assert code == 2 and err.startswith("adiencekit: error: dataset folder not found")
    code, _, err = _run_in_process(capsys, "sweep", "conv_depth", "--fold", "7")
    assert code == 2 and "fold" in err


# --------------------------------------------------------------------------- fast paths
def test_models_help_and_version_do_not_import_keras() -> None:
    """`models`, `--help` and `--version` stay instant: no Keras, no TensorFlow."""
    script = (
        "import sys\n"
        "from adiencekit.cli import main\n"
        "for argv in (['models'], ['--help'], ['--version'], ['train', '--help']):\n"
        "    assert main(argv) == 0, argv\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "levi_hassner" in done.stdout and "usage: adiencekit train" in done.stdout


def test_the_static_model_table_matches_the_registry() -> None:
    from adiencekit.cli._catalog import MODELS
    from adiencekit.models import list_models, model_defaults

    assert list(MODELS) == list_models()
    assert {name: tuple(model_defaults(name)["input_shape"]) for name in list_models()} == MODELS


def test_native_stderr_is_hidden_and_replayed_on_failure(capfd: pytest.CaptureFixture[str]) -> None:
    with native_stderr_captured():
        os.write(2, b"C++ start-up noise\n")
    assert "noise" not in capfd.readouterr().err
    with pytest.raises(ImportError), native_stderr_captured():
        os.write(2, b"why the import failed\n")
        raise ImportError("no backend")
    assert "why the import failed" in capfd.readouterr().err


@pytest.mark.slow
def test_a_real_command_prints_no_tensorflow_noise(tiny_root: Path) -> None:
    """A fresh process: TensorFlow's start-up block must not reach stderr (it did, twice)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "adiencekit.cli", "data", "--root", str(tiny_root)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == "", done.stderr[-2000:]
    assert "cleaning report" in done.stdout.lower()


def test_verbosity_follows_the_terminal() -> None:
    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    args = build_parser().parse_args(["train"])
    assert cli_module._verbosity(args, Stream(True)) == "auto"  # progress bars on a terminal
    assert cli_module._verbosity(args, Stream(False)) == 2  # a log file: one line per epoch
    args = build_parser().parse_args(["train", "--quiet"])
    assert cli_module._verbosity(args, Stream(True)) == 2


def test_verbose_is_accepted_before_and_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["--verbose", "models"]).verbose is True
    assert parser.parse_args(["models", "--verbose"]).verbose is True
    assert parser.parse_args(["models"]).verbose is False


# --------------------------------------------------------------------------- options
def test_tilde_is_expanded_in_every_path_option(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    parser = build_parser()
    args = parser.parse_args(["train", "--out", "~/runs/x", "--config", "~/c.json", "--data", "utkface:~/utk",
                              "--folds-dir", "~/folds"])
    assert (args.out, args.config, args.data, args.folds_dir) == (
        f"{tmp_path}/runs/x", f"{tmp_path}/c.json", f"utkface:{tmp_path}/utk", f"{tmp_path}/folds")
    assert parser.parse_args(["data", "--root", "~/adience"]).root == f"{tmp_path}/adience"
    assert parser.parse_args(["evaluate", "--run", "~/runs/x"]).run == f"{tmp_path}/runs/x"
    assert parser.parse_args(["cv", "--data", "~/a"]).data == f"{tmp_path}/a"
    assert parser.parse_args(["sweep", "conv_depth", "--out", "~/s"]).out == f"{tmp_path}/s"


def test_every_path_option_of_the_training_commands_expands_tilde_in_the_equals_form(monkeypatch, tmp_path) -> None:
    """`--opt=~/x` gets no expansion from the shell: the option's type must do it (issue 26)."""
    import argparse

    from adiencekit.cli._parser import expanded_path

    monkeypatch.setenv("HOME", str(tmp_path))
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    checked = []
    for name in ("data", "train", "cv", "sweep", "evaluate"):
        for action in commands.choices[name]._actions:
            if action.type is expanded_path:
                argv = [name, *(["conv_depth"] if name == "sweep" else []), f"{action.option_strings[-1]}=~/x"]
                assert getattr(parser.parse_args(argv), action.dest) == f"{tmp_path}/x", argv
                checked.append(f"{name} {action.option_strings[-1]}")
    assert {"train --out", "train --config", "train --imagenet-weights", "cv --folds-dir", "evaluate --run",
            "sweep --out"} <= set(checked)


def test_train_out_with_tilde_writes_under_home(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_train(config, out, **kwargs):
        seen["out"] = Path(out)

    monkeypatch.setattr("adiencekit.training.fit.train", fake_train)
    code, out, err = _run_in_process(capsys, "train", "--out", "~/runs/x")
    assert code == 0, err
    assert seen["out"] == tmp_path / "home" / "runs" / "x" and not (tmp_path / "~").exists()


def test_common_training_options_set_the_config() -> None:
    args = build_parser().parse_args(["train", "--learning-rate", "0.01", "--val-fraction", "0.2", "--seed", "3"])
    config = config_from_args(args)
    assert (config.learning_rate, config.val_fraction, config.seed) == (0.01, 0.2, 3)
    args = build_parser().parse_args(["sweep", "dense_units", "--learning-rate", "0.5", "--seed", "9"])
    assert cli_module.option_changes(args, TrainConfig()) == {"learning_rate": 0.5, "seed": 9}
    args = build_parser().parse_args(["train", "--seed", "1", "--split-seed", "0"])
    config = config_from_args(args)
    assert (config.seed, config.split_seed, config.resolved_split_seed()) == (1, 0, 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--val-fraction", "0"], "val_fraction"),
        (["train", "--learning-rate", "-1"], "learning_rate"),
        (["train", "--seed", "-2"], "seed must be a non-negative integer"),
        (["train", "--split-seed", "-1"], "split_seed must be None or a non-negative integer"),
        (["train", "--learning-rate", "fast"], "invalid float value: 'fast'"),
        (["data", "--folds-dir", "/no/such/folds"], "folds_dir='/no/such/folds' does not apply to the synthetic set"),
        (["data", "--root", "utkface:/no/such/utk"], "UTKFace images not found: expected the folder /no/such/utk/images"),
        (["data", "--root", "utkface:/", "--faces", "faces"], "faces='faces' does not apply to UTKFace"),
    ],
)
def test_new_option_mistakes_give_one_line(capsys, argv: list[str], message: str) -> None:
    code, _, err = _run_in_process(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_train_folds_dir_reaches_the_config_or_is_refused_clearly(capsys, tmp_path: Path) -> None:
    args = build_parser().parse_args(["train", "--data", str(tmp_path), "--folds-dir", str(tmp_path)])
    assert str(config_from_args(args).folds_dir) == str(tmp_path)
    # The synthetic set has its fold files beside its images: the option is refused in one line.
    code, _, err = _run_in_process(capsys, "train", "--folds-dir", str(tmp_path))
    assert code == 2 and "folds_dir" in err and len(err.strip().splitlines()) == 1


def test_data_reads_fold_files_from_another_folder(capsys, tiny_root: Path, tmp_path: Path) -> None:
    images = tmp_path / "images-only"
    shutil.copytree(tiny_root, images)
    folds = tmp_path / "folds"
    folds.mkdir()
    for fold_file in images.glob("fold_*_data.txt"):
        fold_file.rename(folds / fold_file.name)
    code, _, err = _run_in_process(capsys, "data", "--root", str(images))
    assert code == 2 and "fold" in err.lower()  # no fold files beside the images: one line
    code, out, err = _run_in_process(capsys, "data", "--root", str(images), "--folds-dir", str(folds))
    assert code == 0, err
    assert f"Fold files: {folds}" in out and "cleaning report" in out.lower()


def test_data_accepts_utkface(capsys, tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    for name in ("1_0_0_20170110.jpg.chip.jpg", "35_1_2_20170111.jpg.chip.jpg"):
        Image.new("RGB", (16, 16), (90, 80, 70)).save(tmp_path / "images" / name)
    code, out, err = _run_in_process(capsys, "data", "--root", f"utkface:{tmp_path}")
    assert code == 0, err
    assert f"UTKFace folder: {tmp_path}" in out and "UTKFace" in out


# --------------------------------------------------------------------------- errors: one line, exit 2
def _fails_with(monkeypatch, error: BaseException) -> None:
    def fail(args):
        raise error

    monkeypatch.setitem(cli_module._COMMANDS, "models", fail)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (DataError("fold_0_data.txt line 3: 11 fields, expected 12"), "fold_0_data.txt line 3: 11 fields"),
        (ConfigError("model_kwargs: unknown argument 'dense_unit'\nmore detail"), "unknown argument 'dense_unit'"),
        (OSError(errno.ENOSPC, "No space left on device", "/runs/x/best.keras"),
         "No space left on device: /runs/x/best.keras (free some disk space"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/run"),
         "Read-only file system: /mnt/ro/run (choose a writable folder: --out for runs"),
        (PermissionError(errno.EACCES, "Permission denied", "/data/cache"), "Permission denied: /data/cache"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/fold_0_data.txt"),
         "No such file or directory: /x/fold_0_data.txt"),
        (OSError("Unable to synchronously open file (truncated file)"), "Unable to synchronously open file"),
        (json.JSONDecodeError("Expecting value", "{", 1), "not valid JSON: Expecting value (line 1, column 2)"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8 text (invalid start byte"),
    ],
)
def test_user_and_environment_errors_are_one_line(capsys, monkeypatch, error, message) -> None:
    _fails_with(monkeypatch, error)
    code, _, err = _run_in_process(capsys, "models")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("adiencekit: error: ") and message in err, err


def test_a_bug_keeps_its_traceback_and_ctrl_c_is_one_line(capsys, monkeypatch) -> None:
    _fails_with(monkeypatch, ZeroDivisionError("a real bug"))
    with pytest.raises(ZeroDivisionError, match="a real bug"):
        main(["models"])
    _fails_with(monkeypatch, KeyboardInterrupt())
    code, _, err = _run_in_process(capsys, "models")
    assert code == 130 and err == "adiencekit: error: interrupted\n"


def test_malformed_labels_csv_is_one_line_naming_the_file(capsys, tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "images" / "1_0_0_20170110.jpg.chip.jpg")
    labels = tmp_path / "labels.csv"
    for content in (b"filename,age,gender,race\nx,1,0,0\ny,1,2,3,4,5,6\n", b"filename,age\n\xff\xfe,1\n", b""):
        labels.write_bytes(content)
        code, _, err = _run_in_process(capsys, "data", "--root", f"utkface:{tmp_path}")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "labels.csv" in err, err
        assert "Traceback" not in err


def test_unparsable_config_names_the_file(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"epochs": 3,')
    code, _, err = _run_in_process(capsys, "train", "--config", str(bad))
    assert code == 2 and "broken.json" in err and len(err.strip().splitlines()) == 1, err


def test_damaged_best_keras_is_one_line(capsys, tiny_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(data=str(tiny_root), image_size=40, crop_size=32).to_json(run / "config.json")
    (run / "metrics.json").write_text("{}")  # finished, as far as evaluate checks
    for content in (b"PK\x03\x04 truncated zip", b"", b"not a model at all"):
        (run / "best.keras").write_bytes(content)
        code, _, err = _run_in_process(capsys, "evaluate", "--run", str(run))
        assert code == 2, err
        assert err.count("\n") == 1 and f"cannot load {run / 'best.keras'}" in err and "--overwrite" in err, err
    assert issubclass(ModelFileError, OSError)


def test_out_below_a_file_is_one_line(capsys, monkeypatch, tmp_path: Path, synthetic_home: Path) -> None:
    monkeypatch.setenv("ADIENCEKIT_HOME", str(synthetic_home))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = _run_in_process(capsys, "train", "--epochs", "1", "--out", str(blocker / "run"))
    assert code == 2 and err.count("\n") == 1 and str(blocker / "run") in err, err


def test_zero_usable_images_is_an_error_that_suggests_the_other_folder(capsys, tiny_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "faces-only"
    shutil.copytree(tiny_root, root)
    (root / "aligned").rename(root / "faces")
    code, out, err = _run_in_process(capsys, "data", "--root", str(root))
    assert code == 2, out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"adiencekit: error: Adience image folder not found: {root / 'aligned'}")
    assert lines[0].endswith(f"The folder {root / 'faces'} exists: pass faces='faces' (command line: --faces faces).")


def test_training_options_augment_and_smoothing_set_the_config() -> None:
    argv = ["--augment", "strong", "--label-smoothing", "0.1", "--age-neighbour-smoothing", "0.2"]
    config = config_from_args(build_parser().parse_args(["train", "--task", "multitask", *argv]))
    assert (config.augment, config.label_smoothing, config.age_neighbour_smoothing) == ("strong", 0.1, 0.2)
    config = config_from_args(build_parser().parse_args(["cv", "--task", "age", *argv]))
    assert (config.augment, config.label_smoothing, config.age_neighbour_smoothing) == ("strong", 0.1, 0.2)
    args = build_parser().parse_args(["sweep", "dense_units", *argv])
    assert cli_module.option_changes(args, TrainConfig()) == {
        "augment": "strong", "label_smoothing": 0.1, "age_neighbour_smoothing": 0.2
    }
    default = config_from_args(build_parser().parse_args(["train"]))
    assert (default.augment, default.label_smoothing, default.age_neighbour_smoothing) == ("standard", 0.0, 0.0)
    weighted = config_from_args(build_parser().parse_args(["train", "--task", "multitask",
                                                           "--gender-loss-weight", "2"]))
    assert (weighted.gender_loss_weight, default.gender_loss_weight) == (2.0, 1.0)
    ordinal = config_from_args(build_parser().parse_args(["train", "--task", "age", "--age-ordinal-weight", "1"]))
    assert (ordinal.age_ordinal_weight, default.age_ordinal_weight) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--augment", "heavy"], "invalid choice: 'heavy'"),
        (["train", "--label-smoothing", "1"], "label_smoothing must be a number in [0, 1)"),
        (["cv", "--label-smoothing", "lots"], "invalid float value: 'lots'"),
        (["train", "--task", "age", "--age-neighbour-smoothing", "-0.1"], "age_neighbour_smoothing must be a number"),
        (["train", "--task", "gender", "--age-neighbour-smoothing", "0.2"], "needs an age head"),
        (["train", "--task", "age", "--label-smoothing", "0.6", "--age-neighbour-smoothing", "0.5"],
         "must be less than 1"),
        (["sweep", "dense_units", "--label-smoothing", "1.5"], "label_smoothing must be a number in [0, 1)"),
        (["train", "--task", "gender", "--gender-loss-weight", "2"], "task 'gender' has one head"),
        (["train", "--task", "multitask", "--gender-loss-weight", "0"], "gender_loss_weight must be a number"),
        (["cv", "--task", "multitask", "--gender-loss-weight", "x"], "invalid float value: 'x'"),
        (["train", "--task", "age", "--age-ordinal-weight", "-1"], "age_ordinal_weight must be a number in [0, 100]"),
        (["train", "--task", "gender", "--age-ordinal-weight", "1"], "needs an age head"),
    ],
)
def test_training_option_mistakes_give_one_line(capsys, argv: list[str], message: str) -> None:
    code, _, err = _run_in_process(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
