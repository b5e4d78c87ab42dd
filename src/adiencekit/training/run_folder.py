"""The run folder: what a run writes there, its state, its lock, and how it is prepared.

Every file a run (or ``adiencekit evaluate``) writes is listed once, in
:data:`RUN_ARTIFACTS`; ``overwrite=True`` removes exactly these and nothing else.

A folder is in one of four states (:func:`run_state`): ``"empty"``, ``"unfinished"``
(``config.json`` without ``metrics.json``: resumable), ``"finished"`` (``metrics.json``)
or ``"failed"`` (``failed.json``: training diverged; never reported as finished).

Only one process trains in a folder at a time: :class:`RunLock` holds ``run.lock``
(pid, host, start time). A second trainer fails at once with a
:class:`~adiencekit.errors.RunFolderError` naming the holder; a lock left by a process
that no longer runs on this host is taken over with a one-line notice.

Example:

>>> import tempfile
>>> from pathlib import Path
>>> from adiencekit.training.run_folder import RunLock, run_state
>>> run = Path(tempfile.mkdtemp()) / "run"
>>> run_state(run)
'empty'
>>> with RunLock(run):
...     (run / "run.lock").is_file()
True
>>> (run / "run.lock").exists()
False
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from adiencekit.errors import ModelFileError, RunFolderError, damaged_reason, notice
from adiencekit.fileio import atomic_write_text, disk_errors, make_dirs
from adiencekit.training.config import TrainConfig

__all__ = [
    "FAILED_FILE",
    "LOCK_FILE",
    "RUN_ARTIFACTS",
    "RunExistsError",
    "RunFolder",
    "RunLock",
    "check_finished_config",
    "clear_run",
    "is_finished",
    "mark_failed",
    "notice",
    "prepare_run_dir",
    "read_failed",
    "run_state",
]

#: Files and folders a run (or ``adiencekit evaluate``) writes; ``overwrite=True``
#: removes these and nothing else. The one list: add any new artifact here.
RUN_ARTIFACTS = (
    "config.json",
    "best.weights.h5",
    "best.weights.h5.json",
    "best.keras",
    "history.json",
    "history.csv",
    "metrics.json",
    "data_report.txt",
    "failed.json",
    "evaluation.json",
    "evaluation_tta.json",
    "plots",
    "tensorboard",
    "backup",
)

LOCK_FILE = "run.lock"
FAILED_FILE = "failed.json"
#: A lock file this old that cannot be read is treated as left behind by a killed process.
UNREADABLE_LOCK_GRACE_S = 10.0


class RunExistsError(RunFolderError, FileExistsError):
    """The run folder holds a finished or failed run, or an unfinished run of another config."""


# ----------------------------------------------------------------------------- state
def is_finished(run_dir: str | os.PathLike[str]) -> bool:
    """Whether the folder holds a finished run (``metrics.json``, no ``failed.json``)."""
    run = Path(run_dir)
    return (run / "metrics.json").is_file() and not (run / FAILED_FILE).exists()


def read_failed(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The content of ``failed.json`` (``{}`` when unreadable), or ``None`` when absent."""
    path = Path(run_dir) / FAILED_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def run_state(run_dir: str | os.PathLike[str]) -> str:
    """``"empty"``, ``"unfinished"``, ``"finished"`` or ``"failed"``."""
    run = Path(run_dir)
    if read_failed(run) is not None:
        return "failed"
    if is_finished(run):
        return "finished"
    if (run / "config.json").exists() or (run / "backup").exists():
        return "unfinished"
    return "empty"


def mark_failed(run_dir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write ``failed.json`` (and remove a stale ``metrics.json``) so the run never reads as finished.

    Args:
        run_dir: the run folder.
        record: what failed: ``reason``, ``epoch``, ``advice``, ...

    Returns:
        The path of ``failed.json``.
    """
    run = Path(run_dir)
    path = run / FAILED_FILE
    stamped = {**record, "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_text(path, json.dumps(stamped, indent=2) + "\n")
    with contextlib.suppress(FileNotFoundError):
        (run / "metrics.json").unlink()
    return path


def clear_run(run_dir: str | os.PathLike[str]) -> list[str]:
    """Remove every :data:`RUN_ARTIFACTS` entry (and leftover temporary files) from the folder.

    Returns:
        The names removed.
    """
    run = Path(run_dir)
    removed = []
    with disk_errors(run, "clear"):
        for name in RUN_ARTIFACTS:
            path = run / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
            removed.append(name)
        _remove_temporaries(run)
    return removed


def _remove_temporaries(run: Path) -> None:
    """Temporary files of writes that a killed process left behind (``.tmp-PID-*``)."""
    for folder in (run, run / "backup"):
        if folder.is_dir():
            for path in folder.glob(".tmp-*"):
                with contextlib.suppress(OSError):
                    path.unlink()


def _differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    before, after = old.to_dict(), new.to_dict()
    return [key for key in after if before.get(key) != after[key]]


#: The copy of ``config.json`` kept with the resume state, so that an unfinished run whose
#: ``config.json`` was deleted is still checked against the settings it was trained with.
BACKUP_CONFIG = Path("backup") / "config.json"


def _recorded_config(run_dir: Path) -> tuple[TrainConfig | None, str | None]:
    """The unfinished run's config: ``config.json``, else the backup's copy; ``(None, why)`` when neither reads."""
    for relative in (Path("config.json"), BACKUP_CONFIG):
        path = run_dir / relative
        if path.is_file():
            try:
                return TrainConfig.from_json(path), None
            except (ValueError, TypeError) as error:
                return None, f"an unreadable {relative.as_posix()} ({_first_line(error)})"
    return None, None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_finished_config(config: TrainConfig, run_dir: Path, what: str) -> None:
    """Refuse to reuse a finished run whose ``config.json`` differs from ``config``.

    Cross-validation and sweeps read a finished fold or setting back instead of training
    it again; that is right only when it was trained with the same settings.

    Args:
        config: the settings the caller would train with.
        run_dir: a finished run folder.
        what: how to name it in the message (``"fold 2"``, ``"setting conv_layers=3"``).

    Raises:
        RunExistsError: when ``config.json`` is missing, unreadable or differs.
    """
    path = run_dir / "config.json"
    try:
        previous = TrainConfig.from_json(path)
    except (OSError, ValueError, TypeError) as error:
        raise RunExistsError(
            f"{what} in {run_dir} is finished but its config.json cannot be read ({_first_line(error)}); "
            "use --overwrite to train it again, or choose a new --out"
        ) from None
    changed = _differences(previous, config)
    if changed:
        raise RunExistsError(
            f"{what} in {run_dir} was finished with other settings ({', '.join(changed)} differ); "
            "use --overwrite to train it again with these, or choose a new --out"
        )


def prepare_run_dir(config: TrainConfig, run_dir: Path, *, resume: bool, overwrite: bool) -> int:
    """Check the run folder and write ``config.json`` (and its copy in ``backup/``).

    Call it with the folder's :class:`RunLock` held. An unfinished run resumes only
    under the config it was started with: ``config.json``, or when that was deleted,
    the copy kept in ``backup/config.json`` (restored to ``config.json``). An unfinished
    run with neither is refused, since its settings cannot be checked.

    Args:
        config: the run's config.
        run_dir: the folder.
        resume: continue an unfinished run of the same config.
        overwrite: remove a previous run's files first.

    Returns:
        The number of epochs the backup records as completed (0 for a fresh run); the
        backup itself is checked and restored when training starts.

    Raises:
        RunExistsError: for a finished or failed run without ``overwrite``, or an
            unfinished run of another (or unknown) config (or with ``resume=False``)
            without ``overwrite``.
        RunFolderError: when the folder cannot be written.
    """
    from adiencekit.training.backup import recorded_epoch

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} exists and is not a folder; choose another --out")
    config_path = run_dir / "config.json"
    failed = read_failed(run_dir)
    if overwrite:
        clear_run(run_dir)
    elif failed is not None:
        raise RunExistsError(
            f"{run_dir} holds a failed run ({failed.get('reason', 'see ' + FAILED_FILE)}); change the config "
            f"({'; '.join(failed.get('advice', [])) or 'see failed.json'}) and use --overwrite, "
            f"or choose a new --out"
        )
    elif is_finished(run_dir):
        raise RunExistsError(
            f"{run_dir} holds a finished run (metrics.json exists); use --overwrite to train it again, "
            f"or choose a new --out"
        )
    else:
        _check_unfinished(config, run_dir, resume=resume, done=recorded_epoch(run_dir / "backup"))
    make_dirs(run_dir)
    _remove_temporaries(run_dir)
    atomic_write_text(config_path, config.to_json())
    make_dirs(run_dir / BACKUP_CONFIG.parent)
    atomic_write_text(run_dir / BACKUP_CONFIG, config.to_json())
    return recorded_epoch(run_dir / "backup")


def _check_unfinished(config: TrainConfig, run_dir: Path, *, resume: bool, done: int) -> None:
    """Refuse to resume an unfinished run under other (or unknown) settings; see :func:`prepare_run_dir`."""
    previous, problem = _recorded_config(run_dir)
    if previous is None:
        trained = done or any((run_dir / name).exists() for name in ("history.json", "history.csv", "best.weights.h5"))
        if problem or trained:
            raise RunExistsError(
                f"{run_dir} holds an unfinished run ({done} epochs done) with "
                f"{problem or 'no config.json (it was deleted)'}, so its settings cannot be checked; put the "
                f"run's config.json back (then run the same command), use --overwrite to start again, or "
                f"choose a new --out"
            )
        return  # nothing was recorded: a fresh start loses nothing
    if not resume:
        raise RunExistsError(f"{run_dir} holds an unfinished run; resume it (resume=True) or use --overwrite")
    changed = _differences(previous, config)
    if changed:
        raise RunExistsError(
            f"{run_dir} holds an unfinished run of a different config ({', '.join(changed)} differ); "
            f"use the same settings to resume, --overwrite to start again, or a new --out"
        )


# ----------------------------------------------------------------------------- lock
def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2:].split()[0] == "Z":  # a zombie: killed, not yet reaped
            return False
    except (OSError, ValueError, IndexError):
        pass
    now = _process_start(pid)
    return not (start and now and start != now)


class RunLock:
    """An exclusive lock on a run folder: the file ``run.lock`` (pid, host, start time).

    Created with ``O_CREAT | O_EXCL``, so two processes cannot both hold it. Use as a
    context manager; the folder is created when missing.

    Args:
        run_dir: the run folder.

    Raises:
        RunFolderError: (on entering) when another live process holds the lock, or the
            folder cannot be written.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.held = False

    def _record(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "process_start": _process_start(os.getpid()),
        }

    def _read(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None

    def _stale_reason(self, holder: dict[str, Any] | None) -> str | None:
        if holder is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return "gone"
            return f"unreadable and {age:.0f} s old" if age > UNREADABLE_LOCK_GRACE_S else None
        if holder.get("host") != socket.gethostname():
            return None  # cannot tell for another machine
        if holder["pid"] == os.getpid():
            return None
        if not _process_alive(holder["pid"], holder.get("process_start")):
            return f"process {holder['pid']} no longer runs"
        return None

    def acquire(self) -> RunLock:
        """Take the lock (see the class)."""
        make_dirs(self.run_dir)
        for _ in range(5):
            try:
                with disk_errors(self.path):
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read()
                reason = self._stale_reason(holder)
                if reason is None:
                    raise RunFolderError(self._busy_message(holder)) from None
                self._take_over(holder, reason)
                continue
            with disk_errors(self.path), os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(self._record()) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            return self
        raise RunFolderError(f"could not take the lock {self.path}: other processes keep taking it")

    def _busy_message(self, holder: dict[str, Any] | None) -> str:
        if holder is None:
            who = "a process that is still writing run.lock"
        else:
            who = f"pid {holder['pid']} on host {holder.get('host')} since {holder.get('started')}"
        return (
            f"{self.run_dir} is in use by another training ({who}); wait for it to finish or use another "
            f"folder (delete {self.path} only if that process is gone)"
        )

    def _take_over(self, holder: dict[str, Any] | None, reason: str) -> None:
        if reason == "gone":
            return
        # Rename first: of two processes taking over at once, only one rename succeeds.
        aside = self.path.with_name(f".{LOCK_FILE}.stale-{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        with contextlib.suppress(OSError):
            aside.unlink()
        who = f"pid {holder['pid']} since {holder.get('started')}" if holder else "unknown process"
        notice(f"took over the stale lock of {self.run_dir} ({who}; {reason})")

    def release(self) -> None:
        """Remove the lock file when this process still holds it."""
        if not self.held:
            return
        self.held = False
        holder = self._read()
        if holder is not None and holder.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ----------------------------------------------------------------------------- the reader
class RunFolder:
    """One training run folder: where each file is, what state it is in, and what it holds.

    The one reader of run folders: every command that takes ``--run`` or ``--model RUN``
    (``evaluate``, ``predict``, ``export``, ``reproduce``) asks it rather than looking for
    files itself.

    Args:
        path: the folder (``~`` is expanded).

    Example:

    >>> import tempfile
    >>> from adiencekit.training import TrainConfig
    >>> from adiencekit.training.run_folder import RunFolder
    >>> run = RunFolder(tempfile.mkdtemp())
    >>> run.state, run.is_run()
    ('empty', False)
    >>> _ = TrainConfig(epochs=1).to_json(run.config_path)
    >>> run.state, run.read_config().epochs
    ('unfinished', 1)
    >>> run.require_finished("export")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    adiencekit.errors.ModelFileError: ...: no best.keras; export needs a finished run's trained model
    """

    CONFIG = "config.json"
    BEST_MODEL = "best.keras"
    BEST_WEIGHTS = "best.weights.h5"
    METRICS = "metrics.json"
    HISTORY = "history.json"
    SPLITS = "splits.csv"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        """``config.json``: the run's :class:`~adiencekit.training.TrainConfig`."""
        return self.path / self.CONFIG

    @property
    def model_path(self) -> Path:
        """``best.keras``: the best model by validation loss (written at each improvement)."""
        return self.path / self.BEST_MODEL

    @property
    def weights_path(self) -> Path:
        """``best.weights.h5``: the best weights (a run still training has these before ``best.keras``)."""
        return self.path / self.BEST_WEIGHTS

    @property
    def metrics_path(self) -> Path:
        """``metrics.json``: the test figures; its presence marks a finished run."""
        return self.path / self.METRICS

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        """``"empty"``, ``"unfinished"``, ``"finished"`` or ``"failed"`` (:func:`run_state`)."""
        return run_state(self.path)

    def is_run(self) -> bool:
        """Whether the folder holds a training run (its ``config.json``)."""
        return self.config_path.is_file()

    def is_locked(self) -> bool:
        """Whether a live process holds the folder's ``run.lock`` (a run training, or an evaluation)."""
        lock = RunLock(self.path)
        if not lock.path.exists():
            return False
        return lock._stale_reason(lock._read()) is None

    def read_config(self) -> TrainConfig:
        """The run's config.

        Raises:
            ModelFileError: the folder holds no ``config.json`` or an unreadable one.
        """
        if not self.config_path.is_file():
            if not self.path.exists():
                raise ModelFileError(f"run folder not found: {self.path} (no {self.CONFIG})")
            raise ModelFileError(f"{self.path} is not a run folder: no {self.CONFIG}")
        try:
            return TrainConfig.from_json(self.config_path)
        except (OSError, ValueError) as error:
            raise ModelFileError(f"{self.config_path}: cannot read the run's config ({error})") from None

    def read_metrics(self) -> dict[str, Any] | None:
        """The content of ``metrics.json`` (``None`` when absent or unreadable)."""
        try:
            metrics = json.loads(self.metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return metrics if isinstance(metrics, dict) else None

    def require_finished(self, purpose: str) -> TrainConfig:
        """The config of a finished run (config, ``best.keras`` and ``metrics.json``, no lock, not failed).

        Args:
            purpose: what needs it, for the message (``"export"``, ``"evaluate"``).

        Raises:
            ModelFileError: naming what is missing and what to do.
        """
        config = self.read_config()
        state = self.state
        if state == "failed":
            record = read_failed(self.path) or {}
            raise ModelFileError(f"{self.path} holds a failed run ({record.get('reason', 'see ' + FAILED_FILE)}); "
                                 f"{purpose} needs a finished run")
        if not self.model_path.is_file():
            raise ModelFileError(f"{self.path}: no {self.BEST_MODEL}; {purpose} needs a finished run's trained model")
        if state != "finished":
            raise ModelFileError(f"{self.path} holds an unfinished run (no {self.METRICS}); {purpose} needs a "
                                 f"finished run: let it finish (run its train command again; it resumes)")
        if self.is_locked():
            raise ModelFileError(f"{self.path} is in use by a training ({LOCK_FILE} is held); {purpose} it when "
                                 f"that has finished")
        return config

    # ------------------------------------------------------------------ what it holds
    def load_model(self, *, float32: bool = False, name: str | None = None) -> Any:
        """The run's best model.

        ``best.keras`` as saved; with ``float32`` (or a ``name``) the network is rebuilt from
        the config in ``float32`` (a run trained under mixed precision keeps float32
        weights; exports and presets must not carry the bfloat16 policy) and the best
        weights loaded. A run still training (``best.weights.h5`` only) is rebuilt too.

        Raises:
            ModelFileError: no trained model yet, or a damaged or foreign model file
                (the message says which file and how to recover).
        """
        import keras

        from adiencekit.training.model_setup import create_run_model

        config = self.read_config()
        source = self.model_path if self.model_path.is_file() else self.weights_path
        if not source.is_file():
            raise ModelFileError(f"{self.path} holds no trained model ({self.BEST_MODEL} or {self.BEST_WEIGHTS}); "
                                 f"is the run started?")
        try:
            if source == self.model_path and not float32 and name is None:
                import adiencekit.layers  # noqa: F401  (registers the custom layers)
                import adiencekit.models  # noqa: F401

                return keras.saving.load_model(source, compile=False)
            previous = keras.config.dtype_policy()
            keras.config.set_dtype_policy("float32")
            try:
                model = create_run_model(config, name=name)
            finally:
                keras.config.set_dtype_policy(previous)
            model.load_weights(source)
            return model
        except Exception as error:  # Keras raises ValueError, OSError, zipfile and h5py errors, ...
            raise ModelFileError(
                f"cannot load {source}: {damaged_reason(error)}; train again with "
                f"`adiencekit train --config {self.config_path} --out {self.path} --overwrite`"
            ) from None

    def recorded_crop(self) -> dict[str, Any]:
        """The crop the run's training faces were made with, as a preset records it (``crop`` of ``preset.json``).

        The ``crop`` of ``prepare.json`` when the run's UTKFace root was made by
        ``adiencekit prepare``; else the dataset's own crops resized to ``image_size``
        (``{"style": "center", ...}``: faces are framed like that dataset).
        """
        from adiencekit.crops import recorded_crop
        from adiencekit.data.prepared import prepared_record

        config = self.read_config()
        return recorded_crop(prepared_record(config.data), int(config.image_size or config.resolved_crop_size()))

    def preset_metadata(self) -> dict[str, Any]:
        """What a preset of this run would record (``preset.json`` fields but ``config``).

        The model's own fields (task, class names, input shape, preprocessing) are read
        from the config and the model builder, so this loads no weights.
        """
        from adiencekit.data.prepared import preparation_card

        config = self.read_config()
        metrics = self.read_metrics()
        test = None if metrics is None else metrics.get("test")
        return {
            "task": config.task,
            "image_size": int(config.image_size or config.resolved_crop_size()),
            "crop": self.recorded_crop(),
            "training_data": {"data": config.data, "faces": config.faces, "age_policy": config.age_policy,
                              "prepared_with": preparation_card(config.data)},
            "metrics": None if test is None else {
                "protocol": f"held-out test split of the run's data ({config.data!r}, test_fold={config.test_fold!r}, "
                            f"seed={config.seed!r}), single centre crop",
                "test": test,
            },
            "license": None,
            "description": f"training run {self.path.name} ({config.model}, {config.task})",
            "source": str(self.path),
        }
