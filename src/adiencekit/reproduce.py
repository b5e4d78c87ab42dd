"""Re-train a preset from its own card: ``adiencekit reproduce PRESET --data UTKFACE --out DIR``.

A preset exported from runs on prepared UTKFace roots records everything needed to make
it again (``training_data`` of ``preset.json``): how the faces were prepared (crop and
padding; for each root, the raw root it was cut from, by folder name, its image count
and its split) and the full config of each network it holds. :func:`reproduce_preset`
replays that record on the raw UTKFace roots in one call:

1. ``DIR/data``: :func:`~adiencekit.inference.prepare.prepare_utkface` with the recorded
   crop, padding, split and detector (continues an interrupted preparation); a preset trained on
   several roots gets one prepared folder per root, ``DIR/data/<raw folder name>``;
2. ``DIR/runs/<network>``: :func:`~adiencekit.training.train` with each recorded config,
   its data pointed at the prepared folder(s) (an interrupted run resumes; a finished run
   of the same config is kept as it is);
3. ``DIR/preset``: :func:`~adiencekit.export.export_preset` of the runs (an ensemble for
   several), with the original's licence and description, and the head weight of its age
   in years (chosen after training on the original run's validation faces, so replayed
   from the card, not chosen again), and its inference setting: the mirrored second view
   (``inference.tta``) and, where the card records one, the int8 ONNX copy quantized as
   recorded (:func:`~adiencekit.quantization.add_int8_onnx_to_preset`: the same number of
   faces drawn with the same seed from the new training split).

So the bundled model is re-made by one command; the raw roots are given in the card's
order, as ``train`` takes several roots::

    adiencekit reproduce utkface_v2 --data utkface:../shared/data/utkface,../shared/data/utkface-extra --out work/v2

A count of roots other than the card's is refused before anything is written.
``--epochs N`` shortens every run for a quick check of the chain; the figures then are
not the preset's.

Example:

>>> from adiencekit.reproduce import recorded_training
>>> plan = recorded_training("utkface_v2")
>>> [config.seed for config in plan.configs], plan.crop.size, plan.pad, plan.age_years_head_weight
([0], 112, 0.25, 0.4)
>>> plan.detector  # the mtcnn package cut its faces: reproduce prepares with "mtcnn-package"
'MTCNNDetector'
>>> plan.tta, plan.int8["calibration"]["faces"], plan.int8["calibration"]["seed"]
('flip', 400, 0)
>>> [(root.raw, root.split_seed, root.test_fraction) for root in plan.roots]
[('utkface', 0, 0.2), ('utkface-extra', 0, 0.2)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adiencekit.errors import ConfigError

__all__ = ["RecordedRoot", "RecordedTraining", "ReproduceResult", "recorded_training", "reproduce_preset"]

@dataclass(frozen=True)
class RecordedRoot:
    """One prepared UTKFace root of a preset's card: where it came from and how it was split.

    Attributes:
        raw: the folder name of the raw root it was prepared from (``utkface``), or
            ``None`` where the card does not say (cards written before several roots
            were recorded).
        images: the raw images it was split from, or ``None`` where not recorded.
        val_fraction, test_fraction, split_seed: the split of the raw images.
    """

    raw: str | None
    images: int | None
    val_fraction: float
    test_fraction: float
    split_seed: int


@dataclass(frozen=True)
class RecordedTraining:
    """What a preset's card says about how it was made.

    Attributes:
        name: the preset (name or folder) it was read from.
        configs: the :class:`~adiencekit.training.TrainConfig` of each network, in the
            preset's order, as recorded (their data is the original machine's folder).
        crop: the crop the faces were prepared with (every root's).
        pad: the mirror padding before detection.
        roots: each prepared root (:class:`RecordedRoot`), in the order the networks
            were trained on them.
        license, description: the preset's, carried to the new one.
        age_years_head_weight: the head's share of the ``age_years`` output of a one-network
            preset that blends it with its age groups (chosen after training, on the run's
            validation faces, and not part of the training config), or ``None``.
        age_years: the card's ``age_years`` entry (how that weight was chosen), or ``None``.
        detector: the class of the face detector the faces were cut with
            (``MTCNNDetector``: the ``mtcnn`` package), or ``None`` where not recorded.
        tta: the test-time augmentation the preset asks of inference (``"flip"``) or ``None``.
        tta_chosen_on: how that was chosen (the card's words), or ``None``.
        int8: the card's ``inference.int8`` entry (how its int8 ONNX copy was calibrated),
            or ``None`` when it has none.
    """

    name: str
    configs: list[Any]
    crop: Any
    pad: float
    roots: list[RecordedRoot]
    license: str | None = None
    description: str | None = None
    age_years_head_weight: float | None = None
    age_years: dict[str, Any] | None = None
    detector: str | None = None
    tta: str | None = None
    tta_chosen_on: str | None = None
    int8: dict[str, Any] | None = None


@dataclass
class ReproduceResult:
    """What :func:`reproduce_preset` made.

    Attributes:
        preset: the new preset folder.
        prepared: the prepared UTKFace root of each recorded root.
        runs: the run folder of each network.
        trained: for each run, ``True`` when it trained in this call, ``False`` when it was
            already finished with the same config.
        prepare_summary: the preparation's summary, one line per root.
        onnx: the preset's ONNX copy (:func:`adiencekit.export.add_onnx_to_preset`, what
            ``predict`` runs in ONNX Runtime) and, where the card records one, its int8 copy,
            or why there is none (a line to print).
    """

    preset: Path
    prepared: list[Path]
    runs: list[Path]
    trained: list[bool]
    prepare_summary: str
    onnx: str = ""


def recorded_training(preset: str | os.PathLike[str]) -> RecordedTraining:
    """Read how ``preset`` was trained from its ``preset.json``.

    Reads both forms of ``training_data.prepared_with``: ``roots`` (one entry per
    prepared root, :func:`adiencekit.data.prepared.preparation_card`) and the one
    ``split`` of a card written before several roots were recorded (the bundled
    ``utkface_multitask``).

    Args:
        preset: a bundled preset name or a preset folder.

    Returns:
        The :class:`RecordedTraining`.

    Raises:
        ModelFileError: ``preset`` is not a readable preset.
        ConfigError: its card does not record a UTKFace preparation and the network
            configs (only presets exported from runs on prepared UTKFace roots can be
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
    roots = None
    if isinstance(prepared, dict):
        roots = prepared.get("roots") or ([{"split": prepared["split"]}] if prepared.get("split") else None)
    if not raw_configs or not isinstance(roots, list):
        raise ConfigError(
            f"preset {preset}: its preset.json records no UTKFace preparation and network configs "
            "(training_data.prepared_with and config), so it cannot be re-made with reproduce; "
            "only presets exported from runs on `adiencekit prepare` roots can"
        )
    try:
        configs = [TrainConfig.from_dict(values) for values in raw_configs]
        _check_root_count(preset, configs, roots)
        crop = CropSpec.from_dict(prepared["crop"])
        head_weight = (document.get("config") or {}).get("age_years_head_weight") if len(configs) == 1 else None
        age_years = document.get("age_years")
        inference = document.get("inference") if isinstance(document.get("inference"), dict) else {}
        return RecordedTraining(
            name=str(preset), configs=configs, crop=crop, pad=float(prepared["pad"]),
            roots=[_recorded_root(root) for root in roots], license=document.get("license"),
            description=document.get("description"),
            age_years_head_weight=None if head_weight is None else float(head_weight),
            age_years=age_years if isinstance(age_years, dict) else None,
            detector=prepared.get("detector") if isinstance(prepared.get("detector"), str) else None,
            tta=inference.get("tta"), tta_chosen_on=inference.get("tta_chosen_on"),
            int8=inference.get("int8") if isinstance(inference.get("int8"), dict) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"preset {preset}: its training record is incomplete or invalid ({error})") from None


def _check_root_count(preset: str | os.PathLike[str], configs: list[Any], roots: list[Any]) -> None:
    """Refuse a card whose networks were trained on another number of roots than it records prepared.

    (An adiencekit that predates ``roots`` recorded the split of the first root only.)
    """
    from adiencekit.data.datasets import parse_dataset_spec
    from adiencekit.data.utkface import utkface_roots

    for config in configs:
        kind, root = parse_dataset_spec(config.data)
        trained_on = len(utkface_roots(root)) if kind == "utkface" and root is not None else 1
        if trained_on != len(roots):
            raise ConfigError(
                f"preset {preset}: its networks were trained on {trained_on} UTKFace roots ({config.data}) but its "
                f"card records the preparation of {len(roots)}; export the runs again with this adiencekit "
                "(adiencekit export --format preset), which records every root"
            )


def _recorded_root(root: dict[str, Any]) -> RecordedRoot:
    split = root["split"]
    images = root.get("images")
    return RecordedRoot(raw=root.get("raw"), images=None if images is None else int(images),
                        val_fraction=float(split["val_fraction"]), test_fraction=float(split["test_fraction"]),
                        split_seed=int(split["seed"]))


def _prepared_folders(out: Path, roots: list[RecordedRoot]) -> list[Path]:
    """``out/data`` for one root; ``out/data/<raw name>`` for several (``root0``, ... where the names do not do)."""
    from adiencekit.data.utkface import ROOT_SEPARATOR

    if len(roots) == 1:
        return [out / "data"]
    names = [root.raw for root in roots]
    usable = all(name and name not in (".", "..") and Path(name).name == name and ROOT_SEPARATOR not in name
                 for name in names)
    if not usable or len(set(names)) != len(names):
        names = [f"root{index}" for index in range(len(roots))]
    return [out / "data" / str(name) for name in names]


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
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    detector: Any = None,
    verbose: int | str = "auto",
    progress: bool = False,
) -> ReproduceResult:
    """Re-make ``preset`` from raw UTKFace roots, as its card records (see the module docstring).

    Re-running the same call continues where it stopped: the preparation skips the faces
    it has written, an unfinished run resumes from its last epoch, and a finished run of
    the same config is kept.

    Args:
        preset: a bundled preset name or preset folder whose card records its training.
        source: the raw UTKFace root (``images/``), or one per root the card records,
            in its order: a list of folders or ``"PATH1,PATH2"``.
        out: the working folder: ``data/``, ``runs/`` and ``preset/`` are written there.
        epochs: train every network for this many epochs instead of the recorded number
            (a quick check of the chain, not the preset's figures).
        detector: the face detector for the preparation (a detector or a name of
            :data:`~adiencekit.inference.detection.DETECTORS`); default the one the card
            records (``mtcnn-package`` for ``MTCNNDetector``), else ``"mtcnn"``.
        verbose: Keras ``fit`` verbosity for the runs.
        progress: show the preparation's progress bar on stderr.

    Returns:
        A :class:`ReproduceResult`.

    Raises:
        ConfigError: the preset records no training to replay, ``source`` names another
            number of roots than the card, ``epochs`` is invalid, or a folder under
            ``out/data`` was prepared with another crop or padding.
        ModelFileError: ``preset`` is not a readable preset.
        DatasetNotFoundError: a root of ``source`` has no ``images/`` folder (checked
            for every root before anything is written).
        RunExistsError: a run folder holds a failed run or a run of another config
            (remove it, or choose another ``out``); checked for every network before
            anything is trained.
    """
    from adiencekit.data import UTKFaceDataset
    from adiencekit.data.utkface import ROOT_SEPARATOR, utkface_roots
    from adiencekit.export import export_preset
    from adiencekit.inference.prepare import prepare_utkface
    from adiencekit.training import train

    plan = recorded_training(preset)
    raws = utkface_roots(source)
    if len(raws) != len(plan.roots):
        recorded = ", ".join(root.raw or "a raw UTKFace root" for root in plan.roots)
        raise ConfigError(
            f"preset {plan.name} was trained on {len(plan.roots)} UTKFace root(s) ({recorded}), but {len(raws)} "
            f"given; pass one raw root per recorded root, in that order"
            + (f" (utkface:PATH1{ROOT_SEPARATOR}PATH2)" if len(plan.roots) > 1 else "")
        )
    out = Path(out).expanduser().resolve()
    prepared = _prepared_folders(out, plan.roots)
    if len(prepared) > 1 and any(ROOT_SEPARATOR in os.fspath(folder) for folder in prepared):
        raise ConfigError(f"--out {out}: a folder name with {ROOT_SEPARATOR!r} cannot hold several UTKFace roots "
                          f"(a data spec separates its roots with it); choose another --out")
    data = "utkface:" + ROOT_SEPARATOR.join(os.fspath(folder) for folder in prepared)
    changes = {"data": data, **({"epochs": epochs} if epochs is not None else {})}
    configs = [config.replace(**changes) for config in plan.configs]  # validates epochs
    UTKFaceDataset(raws, check_images=False)  # every raw root has its images/ (one line naming the first that does not)
    runs = [out / "runs" / _run_name(config, index, configs) for index, config in enumerate(configs)]
    finished = [_finished_with(run, config) for run, config in zip(runs, configs, strict=True)]
    if detector is None:
        from adiencekit.inference.detection import DETECTOR_OF_CLASS

        detector = DETECTOR_OF_CLASS.get(plan.detector or "", "mtcnn")
    summaries = []
    for root, raw, folder in zip(plan.roots, raws, prepared, strict=True):
        report = prepare_utkface(
            raw, folder, plan.crop, pad=plan.pad, val_fraction=root.val_fraction, test_fraction=root.test_fraction,
            seed=root.split_seed, detector=detector, progress=progress,
        )
        summaries.append(_prepare_line(root, raw, folder, report, several=len(prepared) > 1))
    for run, config, done in zip(runs, configs, finished, strict=True):
        if not done:
            train(config, run, verbose=verbose)
    description = plan.description
    if epochs is not None:
        description = f"{description or plan.name} (re-made with {epochs} epochs per network: not its figures)"
    replayed = None
    if plan.age_years_head_weight is not None:
        chosen = (plan.age_years or {}).get("chosen_on", "not recorded")
        replayed = {"chosen_on": f"the weight recorded by {plan.name}'s card, replayed by adiencekit reproduce "
                                 f"(there: {chosen})"}
    tta_chosen = None
    if plan.tta is not None:
        tta_chosen = (f"the setting recorded by {plan.name}'s card, replayed by adiencekit reproduce "
                      f"(there: {plan.tta_chosen_on or 'not recorded'})")
    written = export_preset(runs if len(runs) > 1 else runs[0], out / "preset", license=plan.license,
                            description=description, age_years_head_weight=plan.age_years_head_weight,
                            age_years=replayed, tta=plan.tta, tta_chosen_on=tta_chosen, overwrite=True)
    return ReproduceResult(preset=written, prepared=prepared, runs=runs, trained=[not done for done in finished],
                           prepare_summary="\n".join(summaries), onnx=_onnx_copy(written, plan.int8, data))


def _onnx_copy(preset: Path, int8: dict[str, Any] | None, data: str) -> str:
    """Add the preset's ONNX copy (and its int8 copy where the card has one) where the export extra is
    installed; a line saying what happened."""
    import importlib.util

    from adiencekit.export import add_onnx_to_preset

    missing = [name for name in ("tf2onnx", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"no ONNX copy (the export extra is not installed: pip install 'adiencekit[export]'); predict runs "
                f"this preset in Keras")
    line = f"ONNX copy (predict runs it in ONNX Runtime): {add_onnx_to_preset(preset)}"
    if int8 is not None:
        from adiencekit.quantization import CALIBRATION_FACES, CALIBRATION_SEED, add_int8_onnx_to_preset

        calibration = int8.get("calibration") or {}
        written = add_int8_onnx_to_preset(preset, data, faces=int(calibration.get("faces", CALIBRATION_FACES)),
                                          seed=int(calibration.get("seed", CALIBRATION_SEED)))
        line += f"; its int8 copy, calibrated as the card records (predict prefers it): {written}"
    return line


def _prepare_line(root: RecordedRoot, raw: Path, folder: Path, report: Any, *, several: bool) -> str:
    """The preparation's summary of one root; it says so where the raw root holds another number of images."""
    line = report.summary()
    if several:
        line = f"{raw} -> {folder}: {line}"
    images = sum(report.split_sizes.values())
    if root.images is not None and images != root.images:
        line += f" (the card records {root.images} images for {root.raw or 'this root'}: not the same raw root?)"
    return line
