"""Tests for the ``adiencekit`` command line (in-process, plus real console-script runs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from adiencekit import __version__
from adiencekit.cli import main
from adiencekit.training import TrainConfig


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
    saved = json.loads((out_dir / "evaluation.json").read_text())
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert saved["heads"]["age"]["exact"] == pytest.approx(metrics["test"]["heads"]["age"]["exact"])
    code, out, err = _run_in_process(capsys, "evaluate", "--run", str(out_dir), "--tta")
    assert code == 0, err
    tta = json.loads((out_dir / "evaluation_tta.json").read_text())
    assert tta["tta"] is True and tta["heads"]["age"]["n"] == saved["heads"]["age"]["n"]


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
        (["data", "--root", "/no/such/root"], "dataset folder not found"),
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
