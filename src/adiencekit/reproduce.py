"""Re-train a preset from its own card: ``adiencekit reproduce PRESET --data UTKFACE --out DIR``.

A preset exported from runs on a prepared UTKFace root records everything needed to make
it again: how the faces were prepared (crop, padding, split) and the full config of each
network it holds (``training_data`` of ``preset.json``). :func:`reproduce_preset` replays
that record on a raw UTKFace root in one call:

1. ``DIR/data``: :func:`~adiencekit.inference.prepare.prepare_utkface` with the recorded
   crop, padding and split (continues an interrupted preparation);
2. ``DIR/runs/<network>``: :func:`~adiencekit.training.train` with each recorded config,
   its data pointed at ``DIR/data`` (an interrupted run resumes; a finished run of the
   same config is kept as it is);
3. ``DIR/preset``: :func:`~adiencekit.export.export_preset` of the runs (an ensemble for
   several), with the original's licence and description.

So the bundled model is re-made by one command (about an hour on a 2-core CPU)::

    adiencekit reproduce utkface_multitask --data ../shared/data/utkface --out work/utkface_multitask

``--epochs N`` shortens every run for a quick check of the chain; the figures then are not
the preset's.

Example:

>>> from adiencekit.reproduce import recorded_training
>>> plan = recorded_training("utkface_multitask")
>>> [config.seed for config in plan.configs], plan.crop.size, plan.pad
([0, 1], 112, 0.25)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adiencekit.errors import ConfigError

__all__ = ["RecordedTraining", "ReproduceResult", "recorded_training", "reproduce_preset"]

@dataclass(frozen=True)
class RecordedTraining:
    """What a preset's card says about how it was made.

    Attributes:
        name: the preset (name or folder) it was read from.
        configs: the :class:`~adiencekit.training.TrainConfig` of each network, in the
            preset's order, as recorded (their data is the original machine's folder).
        crop: the crop the faces were prepared with.
        pad: the mirror padding before detection.
        val_fraction, test_fraction, split_seed: the split of the raw images.
        license, description: the preset's, carried to the new one.
    """

    name: str
    configs: list[Any]
    crop: Any
    pad: float
    val_fraction: float
    test_fraction: float
    split_seed: int
    license: str | None = None
    description: str | None = None


@dataclass
class ReproduceResult:
    """What :func:`reproduce_preset` made.

    Attributes:
        preset: the new preset folder.
        prepared: the prepared UTKFace root.
        runs: the run folder of each network.
        trained: for each run, ``True`` when it trained in this call, ``False`` when it was
            already finished with the same config.
        prepare_summary: the preparation's summary line(s).
    """

    preset: Path
    prepared: Path
    runs: list[Path]
    trained: list[bool]
    prepare_summary: str


def recorded_training(preset: str | os.PathLike[str]) -> RecordedTraining:
    """Read how ``preset`` was trained from its ``preset.json``.

    Args:
        preset: a bundled preset name or a preset folder.

    Returns:
        The :class:`RecordedTraining`.

    Raises:
        ModelFileError: ``preset`` is not a readable preset.
        ConfigError: its card does not record a UTKFace preparation and the network
            configs (only presets exported from runs on a prepared UTKFace root can be
            re-made this way).
    """
    from adiencekit.crops import CropSpec
    from adiencekit.models.presets import preset_metadata
    from adiencekit.training import TrainConfig

    document = preset_metadata(preset)
    record = document.get("training_data")
    prepared = record.get("prepared_with") if isinstance(record, dict) else None
    raw_configs = None
    if isinstance(record, dict):
        raw_configs = record.get("member_configs") or ([record["config"]] if record.get("config") else None)
    if not isinstance(prepared, dict) or not raw_configs or not isinstance(prepared.get("split"), dict):
        raise ConfigError(
            f"preset {preset}: its preset.json records no UTKFace preparation and network configs "
            "(training_data.prepared_with and config), so it cannot be re-made with reproduce; "
            "only presets exported from runs on an `adiencekit prepare` root can"
        )
    split = prepared["split"]
    try:
        configs = [TrainConfig.from_dict(values) for values in raw_configs]
        crop = CropSpec.from_dict(prepared["crop"])
        return RecordedTraining(
            name=str(preset), configs=configs, crop=crop, pad=float(prepared["pad"]),
            val_fraction=float(split["val_fraction"]), test_fraction=float(split["test_fraction"]),
            split_seed=int(split["seed"]), license=document.get("license"), description=document.get("description"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"preset {preset}: its training record is incomplete or invalid ({error})") from None


def _run_name(config: Any, index: int, configs: list[Any]) -> str:
    """``seed0``, ``seed1``, ... when the seeds tell the networks apart, else ``network0``, ..."""
    seeds = [other.seed for other in configs]
    return f"seed{config.seed}" if len(set(seeds)) == len(seeds) else f"network{index}"


def _finished_with(run: Path, config: Any) -> bool:
    """Whether ``run`` is a finished run of exactly ``config``.

    Raises:
        RunExistsError: ``run`` is a finished run of another config.
    """
    from adiencekit.errors import ModelFileError
    from adiencekit.training.run_folder import RunExistsError, RunFolder

    folder = RunFolder(run)
    if folder.state != "finished":
        return False
    try:
        same = folder.read_config() == config
    except ModelFileError:
        same = False
    if not same:
        raise RunExistsError(
            f"{run} holds a finished run of another config (another --epochs or preset?); "
            "remove it or choose another --out"
        )
    return True


def reproduce_preset(
    preset: str | os.PathLike[str],
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    detector: Any = None,
    verbose: int | str = "auto",
    progress: bool = False,
) -> ReproduceResult:
    """Re-make ``preset`` from a raw UTKFace root, as its card records (see the module docstring).

    Re-running the same call continues where it stopped: the preparation skips the faces
    it has written, an unfinished run resumes from its last epoch, and a finished run of
    the same config is kept.

    Args:
        preset: a bundled preset name or preset folder whose card records its training.
        source: the raw UTKFace root (``images/``).
        out: the working folder: ``data/``, ``runs/`` and ``preset/`` are written there.
        epochs: train every network for this many epochs instead of the recorded number
            (a quick check of the chain, not the preset's figures).
        detector: the face detector for the preparation (default: MTCNN, as recorded).
        verbose: Keras ``fit`` verbosity for the runs.
        progress: show the preparation's progress bar on stderr.

    Returns:
        A :class:`ReproduceResult`.

    Raises:
        ConfigError: the preset records no training to replay, ``epochs`` is invalid, or
            ``out/data`` was prepared with another crop or padding.
        ModelFileError: ``preset`` is not a readable preset.
        DatasetNotFoundError: ``source`` has no ``images/`` folder.
        RunExistsError: a run folder holds a failed run or a run of another config
            (remove it, or choose another ``out``); checked for every network before
            anything is trained.
    """
    from adiencekit.export import export_preset
    from adiencekit.inference.prepare import prepare_utkface
    from adiencekit.training import train

    plan = recorded_training(preset)
    out = Path(out).expanduser().resolve()
    prepared = out / "data"
    changes = {"data": f"utkface:{prepared}", **({"epochs": epochs} if epochs is not None else {})}
    configs = [config.replace(**changes) for config in plan.configs]  # validates epochs
    runs = [out / "runs" / _run_name(config, index, configs) for index, config in enumerate(configs)]
    finished = [_finished_with(run, config) for run, config in zip(runs, configs, strict=True)]
    report = prepare_utkface(
        Path(source).expanduser(), prepared, plan.crop, pad=plan.pad, val_fraction=plan.val_fraction,
        test_fraction=plan.test_fraction, seed=plan.split_seed, detector=detector, progress=progress,
    )
    for run, config, done in zip(runs, configs, finished, strict=True):
        if not done:
            train(config, run, verbose=verbose)
    description = plan.description
    if epochs is not None:
        description = f"{description or plan.name} (re-made with {epochs} epochs per network: not its figures)"
    written = export_preset(runs if len(runs) > 1 else runs[0], out / "preset", license=plan.license,
                            description=description, overwrite=True)
    return ReproduceResult(preset=written, prepared=prepared, runs=runs, trained=[not done for done in finished],
                           prepare_summary=report.summary())
