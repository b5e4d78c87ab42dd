"""The run folder: artifacts, state, lock, validation before writing, data report, samples."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from adiencekit.errors import ConfigError, DataError, RunFolderError
from adiencekit.training import RunExistsError, train
from adiencekit.training import fit as fit_module
from adiencekit.training.run_folder import (
    RUN_ARTIFACTS,
    RunLock,
    clear_run,
    mark_failed,
    prepare_run_dir,
    run_state,
)
from adiencekit.training.samples import pick_samples, sample_predictions

from ._helpers import fast_config, make_small_tree


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_tree(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def finished_run(small_root: Path, tmp_path_factory: pytest.TempPathFactory):
    return train(fast_config(small_root, epochs=2), tmp_path_factory.mktemp("runs") / "run", verbose=0)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ----------------------------------------------------------------------------- lock
def test_second_lock_on_a_folder_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run"):
        holder = json.loads((tmp_path / "run" / "run.lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(RunFolderError, match=rf"in use by another training \(pid {os.getpid()} on host"):
            RunLock(tmp_path / "run").acquire()
    assert not (tmp_path / "run" / "run.lock").exists()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_notice(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    pid = _dead_pid()
    (run / "run.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": "then"}))
    with RunLock(run):
        assert json.loads((run / "run.lock").read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert f"took over the stale lock of {run} (pid {pid}" in err and err.count("\n") == 1


def test_lock_of_another_host_or_a_fresh_unreadable_lock_is_respected(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.lock").write_text(json.dumps({"pid": _dead_pid(), "host": "elsewhere", "started": "t"}))
    with pytest.raises(RunFolderError, match="on host elsewhere"):
        RunLock(run).acquire()
    (run / "run.lock").write_text("")  # a process between creating and writing its lock
    with pytest.raises(RunFolderError, match="still writing run.lock"):
        RunLock(run).acquire()
    old = 1_000_000_000
    os.utime(run / "run.lock", (old, old))  # ... or one killed there long ago
    with RunLock(run) as lock:
        assert lock.held


# ----------------------------------------------------------------------------- state, overwrite
def test_clear_run_removes_every_artifact_and_only_those(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "tensorboard" / "train").mkdir(parents=True)
    for name in ("config.json", "metrics.json", "evaluation.json", "evaluation_tta.json", "failed.json",
                 "data_report.txt", ".tmp-123-best.keras", "notes.txt"):
        (run / name).write_text("x")
    removed = clear_run(run)
    assert set(removed) <= set(RUN_ARTIFACTS)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_overwrite_removes_an_earlier_evaluation(finished_run, small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run.run_dir, run)
    (run / "evaluation.json").write_text("{}")
    (run / "evaluation_tta.json").write_text("{}")
    train(fast_config(small_root, epochs=1), run, overwrite=True, verbose=0)
    assert not (run / "evaluation.json").exists() and not (run / "evaluation_tta.json").exists()
    assert run_state(run) == "finished"


def test_failed_run_is_never_finished_and_is_refused_without_overwrite(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")  # a stale file from before
    mark_failed(run, {"reason": "training diverged: loss is nan at epoch 2", "advice": ["lower the learning rate"]})
    assert run_state(run) == "failed" and not (run / "metrics.json").exists()
    with pytest.raises(RunExistsError, match="holds a failed run .*loss is nan.*lower the learning rate") as caught:
        prepare_run_dir(fast_config(small_root), run, resume=True, overwrite=False)
    # The CLI prints this line: it speaks CLI, not Python keywords.
    assert "and use --overwrite, or choose a new --out" in str(caught.value)
    assert "overwrite=True" not in str(caught.value)


def test_finished_run_message_speaks_cli(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(RunExistsError) as caught:
        prepare_run_dir(fast_config(small_root), run, resume=True, overwrite=False)
    assert str(caught.value) == (f"{run} holds a finished run (metrics.json exists); use --overwrite to train it "
                                 f"again, or choose a new --out")


# ----------------------------------------------------------------------------- validate first
def test_bad_model_kwargs_fail_before_any_folder_is_created(small_root: Path, tmp_path: Path) -> None:
    config = fast_config(small_root, model_kwargs={"base_filters": 4, "dense_unitz": 8})
    with pytest.raises(ConfigError, match=r"model 'scratch_cnn' does not take \['dense_unitz'\]"):
        train(config, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_empty_split_fails_before_any_folder_is_created(small_root: Path, tmp_path: Path) -> None:
    import dataclasses

    from adiencekit.data.splits import Subset
    from adiencekit.training.data_loading import load_split

    config = fast_config(small_root)
    split = load_split(config)
    empty = dataclasses.replace(split, val=Subset("val", split.val.frame.iloc[:0], config.task))
    with pytest.raises(DataError, match="the val set of this split is empty"):
        train(config, tmp_path / "run", split=empty, verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_tilde_is_expanded_in_train_cv_and_sweep(small_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = train(fast_config(small_root, epochs=1), "~/runs/x", verbose=0)
    assert result.run_dir == tmp_path / "home" / "runs" / "x" and (result.run_dir / "metrics.json").is_file()

    seen = []

    def fake_train(config, run_dir, **kwargs):
        seen.append(Path(run_dir))
        test = {"heads": {config.task: {"exact": 0.5, "one_off": None, "n": 1}}}
        return SimpleNamespace(evaluation=SimpleNamespace(as_dict=lambda: test), metrics={"test": test},
                               history=[], best_epoch=None)

    monkeypatch.setattr(fit_module, "train", fake_train)
    from adiencekit.training.cross_validation import cross_validate
    from adiencekit.training.sweeps import run_sweep

    monkeypatch.setattr("adiencekit.training.cross_validation.plot_cv_summary", lambda *a, **k: None, raising=False)
    cross_validate(fast_config(small_root), "~/cv", folds=[0])
    run_sweep("conv_depth", "~/sweep", data=str(small_root))
    assert seen[0] == tmp_path / "home" / "cv" / "fold_0"
    assert all(path.parent == tmp_path / "home" / "sweep" for path in seen[1:]) and len(seen) == 4
    assert not (tmp_path / "~").exists()


# ----------------------------------------------------------------------------- data, output
def test_dropped_images_are_counted_reported_and_saved(small_root: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    shutil.copytree(small_root, root)
    images = sorted((root / "aligned").rglob("*.jpg"))
    images[0].unlink()
    images[1].write_bytes(b"")
    result = train(fast_config(root, epochs=1), tmp_path / "run", verbose=2)
    data = result.metrics["data"]
    assert data["dropped"] == 2 and data["rows_read"] == 40 and data["kept"] == 38
    assert sum(data["dropped_by_reason"].values()) == 2
    report = (tmp_path / "run" / "data_report.txt").read_text()
    assert "dropped" in report and "kept rows" in report
    out = capsys.readouterr().out
    assert f"2 of 40 rows dropped while cleaning (report: {tmp_path / 'run' / 'data_report.txt'})" in out
    assert "Data report:" in out and "TensorBoard: tensorboard --logdir" in out


def test_verbose_auto_is_one_line_per_epoch_off_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(isatty=lambda: False, write=print))
    assert fit_module.resolve_verbose("auto") == 2
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(isatty=lambda: True, write=print))
    assert fit_module.resolve_verbose("auto") == 1
    assert fit_module.resolve_verbose(0) == 0
    with pytest.raises(ConfigError, match="verbose must be"):
        fit_module.resolve_verbose(3)


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_training_without_tensorboard_does_not_crash(small_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fit_module, "_tensorboard_problem", lambda: "not here")
    assert not fit_module.tensorboard_available()
    result = train(fast_config(small_root, epochs=1), tmp_path / "run", verbose=0)
    assert (result.run_dir / "metrics.json").is_file() and not (result.run_dir / "tensorboard").exists()


def test_a_tensorflow_that_does_not_import_means_no_logs_said_in_one_line(monkeypatch) -> None:
    """Installed but broken (a blocked or mismatched install): a note, not a crash when fit starts."""
    real = fit_module.importlib.import_module

    def broken(name: str, *args):
        if name == "tensorflow":
            raise ImportError("numpy.core.multiarray failed to import\nmore detail")
        return real(name, *args)

    monkeypatch.setattr(fit_module.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(fit_module.importlib, "import_module", broken)
    problem = fit_module._tensorboard_problem()
    assert problem == "tensorflow is installed but does not import: numpy.core.multiarray failed to import"
    assert fit_module._tensorboard(Path("."), verbose=0) is None


def test_one_copy_of_the_best_weights_and_the_model_loads(finished_run) -> None:
    run = finished_run.run_dir
    assert sorted(p.name for p in run.glob("*.h5")) == [] and (run / "best.keras").is_file()
    from adiencekit.training import RunFolder

    model = RunFolder(run).load_model()
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model.predict_on_batch(images), finished_run.model.predict_on_batch(images), atol=1e-5)
    assert finished_run.metrics["best_epoch"] in (1, 2)


def test_pick_samples_spreads_classes_and_includes_mistakes() -> None:
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 8, 200).tolist()
    correct = (rng.uniform(size=200) < 0.8).tolist()
    order, chosen = pick_samples(classes, correct, count=16, seed=3)
    assert len(chosen) == 16 and len(set(chosen)) == 16
    assert sum(not correct[i] for i in chosen) == 8  # half mistakes when there are enough
    assert len({classes[i] for i in chosen}) == 8
    assert pick_samples(classes, correct, count=16, seed=3) == (order, chosen)  # seeded
    assert pick_samples(classes, correct, count=16, seed=4)[1] != chosen
    # Too few mistakes: all of them, the rest correct.
    few = [True] * 200
    few[5] = False
    assert 5 in pick_samples(classes, few, count=16, seed=3)[1]


def test_sample_predictions_shows_both_classes_and_the_mistakes(small_root: Path) -> None:
    from adiencekit.data.splits import Subset
    from adiencekit.training.data_loading import load_split

    test = Subset("test", load_split(fast_config(small_root)).train.frame, "gender")  # both genders
    assert set(test.labels.tolist()) == {0, 1}
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros")])
    model.layers[-1].bias.assign([5.0, 0.0])  # always "female"
    images, true, predicted = sample_predictions(model, test, "gender", image_size=40, crop_size=32, count=6)
    assert images.shape == (6, 32, 32, 3) and set(predicted) == {"female"}
    assert set(true) == {"female", "male"} and true.count("male") >= 3  # the mistakes are shown
