"""``run_sweep``: the reference report's hyper-parameter sweeps, one run folder per setting.

The report tuned its CNN from scratch with two sweeps and reported, for each setting,
the validation loss and accuracy of the best epoch:

- ``conv_depth``: 3, 4 or 5 conv blocks (Dense 128), for gender;
- ``dense_units``: a hidden Dense layer of 128, 256 or 512 units (5 conv blocks), for age.

:func:`run_sweep` trains each setting with :func:`adiencekit.training.train` (so every
setting has a complete, resumable run folder) and writes the comparison table.

Output folder::

    out_dir/<setting>     run folders, e.g. ``conv_layers=3``
    out_dir/sweep.json    per setting: best epoch, val loss/accuracy, test scores
    out_dir/sweep.md      the same as a Markdown table

Example:

>>> from adiencekit.training.sweeps import SWEEPS, sweep_configs
>>> sorted(SWEEPS)
['conv_depth', 'dense_units']
>>> [label for label, _ in sweep_configs("dense_units")]
['dense_units=128', 'dense_units=256', 'dense_units=512']
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adiencekit.fileio import atomic_write_text, make_dirs
from adiencekit.training.callbacks import HistoryRecorder
from adiencekit.training.config import TrainConfig
from adiencekit.training.recipes import SWEEPS

__all__ = ["SWEEPS", "SweepResult", "run_sweep", "sweep_configs"]

def sweep_configs(name: str, task: str | None = None, **overrides: Any) -> list[tuple[str, TrainConfig]]:
    """The labelled configs of a named sweep.

    Args:
        name: ``"conv_depth"`` or ``"dense_units"``.
        task: the task; default the one the report swept (gender / age).
        **overrides: :class:`TrainConfig` fields set on every config (e.g. ``data``,
            ``epochs``, ``crop_size``).

    Returns:
        ``[(label, config), ...]`` with labels like ``"conv_layers=3"``.

    Raises:
        KeyError: for an unknown sweep name.
    """
    if name not in SWEEPS:
        raise KeyError(f"unknown sweep {name!r}; available sweeps: {', '.join(SWEEPS)}")
    factory, option, default_task = SWEEPS[name]
    configs = factory(task or default_task)
    return [(f"{option}={config.model_kwargs[option]}", config.replace(**overrides)) for config in configs]


@dataclass
class SweepResult:
    """What :func:`run_sweep` produced.

    Attributes:
        out_dir: the sweep folder.
        name: the sweep's name.
        rows: one dict per setting (``setting``, ``run_dir``, ``best_epoch``,
            ``val_loss``, ``val_accuracy``, ``test``: per-head test scores).
    """

    out_dir: Path
    name: str
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {"sweep": self.name, "rows": self.rows}

    def to_markdown(self) -> str:
        """The report-style table: one row per setting, best epoch by validation loss."""
        heads = sorted({head for row in self.rows for head in row["test"]})
        header = ["setting", "best epoch", "val loss", "val accuracy"]
        for head in heads:
            header += [f"test {head}"] + (["test age 1-off"] if head == "age" else [])
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            cells = [row["setting"], _fmt(row["best_epoch"], "d"), _fmt(row["val_loss"]), _fmt(row["val_accuracy"])]
            for head in heads:
                scores = row["test"].get(head, {})
                cells.append(_fmt(scores.get("exact")))
                if head == "age":
                    cells.append(_fmt(scores.get("one_off")))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _best_row(history: Sequence[dict[str, Any]], best_epoch: int | None) -> dict[str, Any]:
    """Validation loss and accuracy at the best epoch (multitask: the mean of the heads)."""
    if best_epoch is None:
        return {"val_loss": None, "val_accuracy": None}
    epoch = next((row for row in history if row.get("epoch") == best_epoch), {})
    accuracies = [value for key, value in epoch.items() if key.startswith("val_") and key.endswith("accuracy")]
    return {
        "val_loss": epoch.get("val_loss"),
        "val_accuracy": sum(accuracies) / len(accuracies) if accuracies else None,
    }


def run_sweep(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    task: str | None = None,
    overwrite: bool = False,
    verbose: int | str = "auto",
    **overrides: Any,
) -> SweepResult:
    """Train every setting of a named sweep and write the comparison table.

    A setting whose run folder is already finished is read back, not trained again,
    so an interrupted sweep resumes where it stopped; that holds only for a run of the
    same config: a finished setting trained otherwise is refused before anything is
    trained (or trained again with ``overwrite=True``).

    Args:
        name: ``"conv_depth"`` or ``"dense_units"``.
        out_dir: the sweep folder (``~`` is expanded).
        task: the task; default the one the report swept.
        overwrite: retrain settings that are already finished.
        verbose: Keras ``fit`` verbosity.
        **overrides: :class:`TrainConfig` fields set on every config.

    Returns:
        The :class:`SweepResult`; also written to ``sweep.json`` and ``sweep.md``.

    Raises:
        RunExistsError: when a finished setting was trained with other settings and
            ``overwrite`` is false.
    """
    from adiencekit.training.fit import train
    from adiencekit.training.run_folder import check_finished_config, is_finished

    out = Path(out_dir).expanduser()
    settings = sweep_configs(name, task, **overrides)
    if not overwrite:  # before any training: a finished setting of other settings is never reused
        for label, config in settings:
            if is_finished(out / label):
                check_finished_config(config, out / label, f"setting {label}")
    rows = []
    for label, config in settings:
        run_dir = out / label
        metrics_path = run_dir / "metrics.json"
        if is_finished(run_dir) and not overwrite:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
            history = HistoryRecorder.load(run_dir / "history.json")
            best_epoch = metrics.get("best_epoch")
        else:
            result = train(config, run_dir, overwrite=overwrite, verbose=verbose)
            metrics, history, best_epoch = result.metrics, result.history, result.best_epoch
        test = {
            head: {"exact": scores.get("exact"), "one_off": scores.get("one_off"), "n": scores.get("n")}
            for head, scores in metrics["test"]["heads"].items()
        }
        rows.append({"setting": label, "run_dir": str(run_dir), "best_epoch": best_epoch,
                     **_best_row(history, best_epoch), "test": test})
    result = SweepResult(out, name, rows)
    make_dirs(out)
    atomic_write_text(out / "sweep.json", json.dumps(result.as_dict(), indent=2) + "\n")
    atomic_write_text(out / "sweep.md", result.to_markdown())
    return result
