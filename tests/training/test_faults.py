"""Fault injection: kills, full and read-only disks, two trainers, divergence, damaged backups.

Every case ends in a clear one-line error (a :class:`~adiencekit.errors.AdienceKitError`)
or a clean resume: a rerun of the same command finishes with a valid run folder and no
finished epoch lost. Writes are made to fail or pause through the single write path of
:mod:`adiencekit.fileio` (``set_write_hook`` in-process, ``ADIENCEKIT_WRITE_FAULT`` in a
subprocess), and processes are killed for real with ``SIGKILL``.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from adiencekit import fileio
from adiencekit.errors import AdienceKitError, RunFolderError, TrainingDivergedError
from adiencekit.training import RunExistsError, train
from adiencekit.training.backup import recorded_epoch
from adiencekit.training.run_folder import run_state

from ._helpers import InterruptAfter, fast_config, make_small_tree

SRC = Path(__file__).resolve().parents[2] / "src"
EPOCHS = 3

_TRAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    from adiencekit.training import TrainConfig, train
    result = train(TrainConfig.from_json(sys.argv[1]), sys.argv[2], verbose=0)
    print("resumed_from", result.resumed_from_epoch, flush=True)
    """
)


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_tree(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def write_log(small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The names written, in order, by a clean run of the fault config (index 0 = write 1)."""
    names: list[str] = []
    previous = fileio.set_write_hook(lambda path, stage: names.append(path.name) if stage == "start" else None)
    try:
        train(fast_config(small_root, epochs=EPOCHS), tmp_path_factory.mktemp("clean") / "run", verbose=0)
    finally:
        fileio.set_write_hook(previous)
    return names


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _script(tmp_path: Path, small_root: Path) -> tuple[Path, Path]:
    config_path = tmp_path / "config.json"
    fast_config(small_root, epochs=EPOCHS).to_json(config_path)
    script = tmp_path / "train.py"
    script.write_text(_TRAIN_SCRIPT)
    return script, config_path


def _start(script: Path, config_path: Path, run: Path, fault: str | None = None) -> subprocess.Popen[str]:
    env = _env(ADIENCEKIT_WRITE_FAULT=fault) if fault else _env()
    return subprocess.Popen([sys.executable, str(script), str(config_path), str(run)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_pause(process: subprocess.Popen[str], timeout: float = 240) -> str:
    """Read stderr until the write fault announces its pause; return that line."""
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"process ended (rc {process.wait()}) before the paused write")
        if line.startswith("adiencekit-fault:"):
            return line
    raise AssertionError("no paused write within the timeout")


def _rerun_and_check(script: Path, config_path: Path, run: Path) -> None:
    """The rerun finishes; the folder is valid; every epoch finished before the kill is kept."""
    before_epoch = recorded_epoch(run / "backup")
    before_rows = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
    kept = [row for row in before_rows if row["epoch"] <= before_epoch]
    assert len(kept) == before_epoch  # the backup never runs ahead of the history
    rerun = subprocess.run([sys.executable, str(script), str(config_path), str(run)], env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resumed_from {before_epoch}" in rerun.stdout  # no finished epoch lost
    assert "Traceback" not in rerun.stderr
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
    assert history[: len(kept)] == kept
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == EPOCHS and run_state(run) == "finished"
    assert not list(run.rglob(".tmp-*")) and not (run / "run.lock").exists() and not (run / "backup").exists()
    assert keras.saving.load_model(run / "best.keras", compile=False).count_params() > 0


# ----------------------------------------------------------------------------- kill -9
@pytest.mark.slow
def test_kill_during_the_first_epoch_backup_write_resumes_cleanly(
    small_root: Path, write_log: list[str], tmp_path: Path
) -> None:
    """The reported case: SIGKILL while the first epoch's backup weights are being written."""
    number = write_log.index("epoch_0001.weights.h5") + 1
    script, config_path = _script(tmp_path, small_root)
    run = tmp_path / "run"
    process = _start(script, config_path, run, f"{number}:sleep:120")
    assert "epoch_0001.weights.h5" in _wait_for_pause(process)
    process.kill()
    assert process.wait() == -signal.SIGKILL
    assert list((run / "backup").glob(".tmp-*"))  # the half-done write is really there
    _rerun_and_check(script, config_path, run)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(4))
def test_kill_at_random_moments_then_rerun_finishes(
    small_root: Path, write_log: list[str], tmp_path: Path, case: int
) -> None:
    """Seeded random moments: inside a random write (paused or self-killed there), or after a random delay."""
    rng = np.random.default_rng(1000 + case)
    number = int(rng.integers(1, len(write_log) + 1))
    script, config_path = _script(tmp_path, small_root)
    run = tmp_path / "run"
    if case == 3:  # a random point in time once the run holds its folder, wherever it is then
        process = _start(script, config_path, run)
        deadline = time.monotonic() + 240
        while not (run / "run.lock").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.5, 4.0)))
        process.kill()
        process.wait()
    elif case == 2:  # the process kills itself between writing and renaming
        process = _start(script, config_path, run, f"{number}:kill")
        assert process.wait() == -signal.SIGKILL, f"write {number} ({write_log[number - 1]})"
    else:
        process = _start(script, config_path, run, f"{number}:sleep:120")
        _wait_for_pause(process)
        process.kill()
        process.wait()
    if not run.exists() or run_state(run) == "finished":
        pytest.skip(f"the kill landed outside the run folder's life (state {run_state(run)}); nothing to resume")
    _rerun_and_check(script, config_path, run)


# ----------------------------------------------------------------------------- two trainers
@pytest.mark.slow
def test_second_trainer_fails_at_once_and_a_killed_holder_is_taken_over(
    small_root: Path, tmp_path: Path, capsys
) -> None:
    script, config_path = _script(tmp_path, small_root)
    run = tmp_path / "run"
    holder = _start(script, config_path, run, "2:sleep:120")
    try:
        _wait_for_pause(holder)
        config = fast_config(small_root, epochs=EPOCHS)
        started = time.monotonic()
        with pytest.raises(RunFolderError, match=rf"in use by another training \(pid {holder.pid} on host"):
            train(config, run, verbose=0)
        assert time.monotonic() - started < 30  # at once, not after training
        assert json.loads((run / "run.lock").read_text())["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    result = train(config, run, verbose=0)
    assert f"took over the stale lock of {run} (pid {holder.pid}" in capsys.readouterr().err
    assert [row["epoch"] for row in result.history] == list(range(1, EPOCHS + 1))


# ----------------------------------------------------------------------------- full / read-only disk
def _fail_on(name: str, code: int):
    def hook(path: Path, stage: str) -> None:
        if stage == "start" and path.name == name:
            raise OSError(code, os.strerror(code), str(path))

    return hook


@pytest.mark.parametrize(
    "name",
    [
        "epoch_0002.weights.h5",
        pytest.param("history.json", marks=pytest.mark.slow),
        pytest.param("training_metadata.json", marks=pytest.mark.slow),
        pytest.param("best.keras", marks=pytest.mark.slow),
        pytest.param("metrics.json", marks=pytest.mark.slow),
    ],
)
@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_full_disk_is_one_clear_error_and_the_run_resumes(small_root: Path, tmp_path: Path, name: str) -> None:
    config = fast_config(small_root, epochs=EPOCHS)
    run = tmp_path / "run"
    previous = fileio.set_write_hook(_fail_on(name, errno.ENOSPC))
    try:
        with pytest.raises(RunFolderError) as caught:
            train(config, run, verbose=0)
    finally:
        fileio.set_write_hook(previous)
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC and "\n" not in message
    assert message.startswith(f"cannot write {name}: No space left on device") and "free some disk space" in message
    assert run_state(run) == "unfinished" and not (run / "run.lock").exists() and not list(run.rglob(".tmp-*"))
    result = train(config, run, verbose=0)
    assert [row["epoch"] for row in result.history] == list(range(1, EPOCHS + 1))


def test_read_only_disk_via_the_write_hook(small_root: Path, tmp_path: Path) -> None:
    previous = fileio.set_write_hook(_fail_on("config.json", errno.EROFS))
    try:
        with pytest.raises(RunFolderError, match="cannot write config.json: Read-only file system .*choose another"):
            train(fast_config(small_root, epochs=1), tmp_path / "run", verbose=0)
    finally:
        fileio.set_write_hook(previous)
    assert not (tmp_path / "run" / "run.lock").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="runs as root, where chmod does not stop writes (the write-hook test covers EROFS)")
def test_read_only_run_folder_with_chmod(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o555)
    try:
        with pytest.raises(RunFolderError, match="Permission denied"):
            train(fast_config(small_root, epochs=1), run, verbose=0)
    finally:
        run.chmod(0o755)


def test_weights_are_not_written_when_the_disk_has_no_room(tmp_path: Path, monkeypatch) -> None:
    """HDF5 can crash the process on a full disk (seen: exit 139); the free space is checked first."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    called = []
    monkeypatch.setattr(model, "save_weights", lambda *a, **k: called.append(a))
    monkeypatch.setattr(fileio.shutil, "disk_usage", lambda _path: type("U", (), {"free": 3_117_056})())
    with pytest.raises(RunFolderError) as caught:
        fileio.atomic_save_weights(model, tmp_path / "run" / "best.weights.h5")
    assert caught.value.errno == errno.ENOSPC and not called
    # The margin is named, so "3.1 MB free" and "about 0.0 MB" do not contradict each other.
    assert str(caught.value).startswith(
        "cannot write run: not enough free space: 3.1 MB free, under the 4.2 MB this write needs (about 0.0 MB "
        "plus a safety margin of 4.2 MB)"
    )


def test_file_size_limit_is_one_whole_line(tmp_path: Path) -> None:
    """Under `ulimit -f` HDF5 reports EFBIG over several lines; the reason must not be cut."""
    from adiencekit.cli._errors import one_line

    def too_large(path, stage):
        raise OSError(errno.EFBIG, "Can't synchronously write data (file write failed: time = now\n, errno = 27)")

    previous = fileio.set_write_hook(too_large)
    try:
        with pytest.raises(RunFolderError) as caught:
            fileio.atomic_write_text(tmp_path / "history.json", "[]")
    finally:
        fileio.set_write_hook(previous)
    line = one_line(caught.value)
    assert line == (f"cannot write history.json: File too large ({tmp_path / 'history.json'}); the file is larger "
                    f"than this process may write (see `ulimit -f`); raise that limit, then run the same command "
                    f"again to resume")


# ----------------------------------------------------------------------------- divergence
class _Poison(keras.callbacks.Callback):
    """Makes the weights NaN after the first batch of epoch ``epoch`` (1-based), as a blow-up would.

    (TrainConfig caps the learning rate at 10, where these tiny models do not reach NaN.)
    """

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 0:
            for variable in self.model.trainable_variables:
                variable.assign(np.full(variable.shape, np.nan, dtype=variable.dtype))


def test_divergence_stops_marks_the_run_failed_and_is_never_finished(small_root: Path, tmp_path: Path) -> None:
    config = fast_config(small_root, learning_rate=0.01, epochs=EPOCHS)
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"training diverged: loss is nan at epoch 2, batch 2") as caught:
        train(config, run, verbose=0, callbacks=[_Poison(epoch=2)])
    message = str(caught.value)
    assert "lower the learning rate (now 0.01; --learning-rate)" in message and "clip gradients" in message and "\n" not in message
    failed = json.loads((run / "failed.json").read_text())
    assert failed["epoch"] == 2 and failed["batch"] == 2 and failed["advice"][0].startswith("lower the learning rate")
    assert not (run / "metrics.json").exists() and not (run / "best.keras").exists()
    assert [row["epoch"] for row in json.loads((run / "history.json").read_text())] == [1]  # nothing for epoch 2
    # The best checkpoint still holds epoch 1's finite weights, never the NaN ones.
    assert json.loads((run / "best.weights.h5.json").read_text())["epoch"] == 1
    import h5py

    with h5py.File(run / "best.weights.h5") as handle:
        arrays = []
        handle.visititems(lambda _n, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    assert arrays and all(np.isfinite(a).all() for a in arrays if a.dtype.kind == "f")
    assert run_state(run) == "failed" and not (run / "run.lock").exists()
    with pytest.raises(RunExistsError, match="holds a failed run .*loss is nan"):
        train(config, run, verbose=0)
    fixed = train(config.replace(learning_rate=1e-3), run, overwrite=True, verbose=0)
    assert run_state(run) == "finished" and not (run / "failed.json").exists() and fixed.best_epoch is not None
    assert isinstance(caught.value, AdienceKitError)


def test_checkpoint_never_saves_non_finite_weights(tmp_path: Path) -> None:
    from adiencekit.training.callbacks import AtomicBestCheckpoint

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.layers[0].kernel.assign(np.full((3, 1), np.nan, "float32"))
    checkpoint = AtomicBestCheckpoint(tmp_path / "best.weights.h5")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 0.5})  # a finite score from NaN weights is not trusted
    assert not (tmp_path / "best.weights.h5").exists() and checkpoint.best is None


# ----------------------------------------------------------------------------- damaged backups
def _interrupted_run(small_root: Path, run: Path, epochs_done: int = 2):
    config = fast_config(small_root, epochs=EPOCHS)
    with pytest.raises(KeyboardInterrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(epochs_done)])
    assert recorded_epoch(run / "backup") == epochs_done and not (run / "run.lock").exists()
    return config


@pytest.mark.parametrize(
    "damage", ["empty", pytest.param("truncated", marks=pytest.mark.slow), pytest.param("garbage", marks=pytest.mark.slow)]
)
@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_damaged_training_metadata_falls_back_to_the_previous_copy(
    small_root: Path, tmp_path: Path, capsys, damage: str
) -> None:
    run = tmp_path / "run"
    config = _interrupted_run(small_root, run)
    metadata = run / "backup" / "training_metadata.json"
    metadata.write_text({"empty": "", "truncated": metadata.read_text()[:7], "garbage": "[1, 2]"}[damage])
    result = train(config, run, verbose=0)
    err = capsys.readouterr().err
    assert "damaged backup" in err and "resuming from the previous copy after epoch 1" in err
    assert result.resumed_from_epoch == 1
    assert [row["epoch"] for row in result.history] == list(range(1, EPOCHS + 1))


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
def test_truncated_backup_weights_fall_back_to_the_previous_epoch(small_root: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    config = _interrupted_run(small_root, run)
    weights = run / "backup" / "epoch_0002.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = train(config, run, verbose=0)
    err = capsys.readouterr().err
    assert "epoch_0002.weights.h5 is damaged" in err and "after epoch 1" in err
    assert result.resumed_from_epoch == 1 and len(result.history) == EPOCHS


@pytest.mark.slow
def test_truncated_keras_style_backup_is_discarded_and_training_restarts(
    small_root: Path, tmp_path: Path, capsys
) -> None:
    """The layout Keras's BackupAndRestore leaves after a kill inside its first write."""
    run = tmp_path / "run"
    config = fast_config(small_root, epochs=EPOCHS)
    (run / "backup").mkdir(parents=True)
    config.to_json(run / "config.json")
    (run / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    result = train(config, run, verbose=0)
    err = capsys.readouterr().err
    assert "latest.weights.h5 is damaged" in err and "discarded it, training restarts from epoch 1" in err
    assert result.resumed_from_epoch == 0 and len(result.history) == EPOCHS


def test_hdf5_style_disk_errors_without_errno_are_recognised(tmp_path: Path, monkeypatch) -> None:
    """h5py reports a full disk as an OSError whose errno is None, the code only in its text."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    def full(filepath, overwrite=True):
        raise OSError("Unable to synchronously create file (unable to open file: name = 'x', errno = 28, "
                      "error message = 'No space left on device', flags = 13, o_flags = 242)")

    monkeypatch.setattr(model, "save_weights", full)
    with pytest.raises(RunFolderError, match="cannot write best.weights.h5: No space left on device") as caught:
        fileio.atomic_save_weights(model, tmp_path / "best.weights.h5")
    assert caught.value.errno == errno.ENOSPC and not list(tmp_path.iterdir())
