"""``cross_validate``: the Adience 5-fold protocol, one run folder per fold.

Each fold in turn is the test set; the other four are training data with validation
users carved out of them (subject-exclusive, via
:meth:`adiencekit.data.AdienceDataset.cross_validation`). A finished fold is read
back from its ``metrics.json`` instead of trained again, so an interrupted
cross-validation resumes where it stopped (and the fold in progress resumes from its
last epoch). A finished fold is reused only when its ``config.json`` matches the
settings asked for; otherwise :func:`cross_validate` refuses before training anything
(or, with ``overwrite=True``, trains it again).

Output folder::

    out_dir/fold_0 ... fold_4   run folders (see :func:`adiencekit.training.train`)
    out_dir/cv.json             per-fold scores, mean and std
    out_dir/cv.md               the same as a Markdown table
    out_dir/cv_summary.png      bar chart of the folds with mean ± std

Example:

>>> from adiencekit.training.cross_validation import summarize_folds
>>> folds = [{"fold": k, "heads": {"gender": {"exact": acc, "one_off": None, "n": 10}}}
...          for k, acc in enumerate([0.8, 0.9])]
>>> summary = summarize_folds(folds)
>>> round(summary["gender"]["exact_mean"], 3), round(summary["gender"]["exact_std"], 3)
(0.85, 0.05)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adiencekit.fileio import atomic_write_text, make_dirs
from adiencekit.labels import NUM_FOLDS
from adiencekit.training.config import TrainConfig

__all__ = ["CVResult", "cross_validate", "summarize_folds"]



def summarize_folds(folds: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Mean and standard deviation (over folds, ``ddof=0``) of each head's scores.

    Args:
        folds: one dict per fold with ``heads: {head: {"exact", "one_off", "n"}}``.

    Returns:
        ``{head: {"exact_mean", "exact_std", "one_off_mean", "one_off_std", "folds"}}``;
        the 1-off entries are ``None`` for gender.
    """
    heads: dict[str, dict[str, list[float]]] = {}
    for fold in folds:
        for head, scores in fold["heads"].items():
            entry = heads.setdefault(head, {"exact": [], "one_off": []})
            entry["exact"].append(float(scores["exact"]))
            if scores.get("one_off") is not None:
                entry["one_off"].append(float(scores["one_off"]))
    summary: dict[str, dict[str, float | None]] = {}
    for head, values in heads.items():
        exact, one_off = np.asarray(values["exact"]), np.asarray(values["one_off"])
        summary[head] = {
            "exact_mean": float(exact.mean()),
            "exact_std": float(exact.std()),
            "one_off_mean": float(one_off.mean()) if one_off.size else None,
            "one_off_std": float(one_off.std()) if one_off.size else None,
            "folds": len(exact),
        }
    return summary


@dataclass
class CVResult:
    """Scores of a cross-validation.

    Attributes:
        out_dir: the cross-validation folder.
        config: the base config (``test_fold`` varies per fold).
        folds: per fold: ``fold``, ``run_dir``, ``heads`` (exact, one_off, n per head).
        summary: per head: mean and std of exact (and 1-off) accuracy.
    """

    out_dir: Path
    config: TrainConfig
    folds: list[dict[str, Any]]
    summary: dict[str, dict[str, float | None]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the content of ``cv.json``)."""
        return {
            "model": self.config.model,
            "task": self.config.task,
            "data": self.config.data,
            "folds": self.folds,
            "summary": self.summary,
        }

    def to_markdown(self) -> str:
        """Per-fold scores and mean ± std as a Markdown table (percent)."""
        heads = list(self.summary)
        header = ["fold"]
        for head in heads:
            header.append(f"{head} exact")
            if self.summary[head]["one_off_mean"] is not None:
                header.append(f"{head} 1-off")
        lines = [
            f"Cross-validation of `{self.config.model}` ({self.config.task}), {len(self.folds)} folds",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for fold in self.folds:
            cells = [str(fold["fold"])]
            for head in heads:
                scores = fold["heads"][head]
                cells.append(f"{100 * scores['exact']:.1f}")
                if self.summary[head]["one_off_mean"] is not None:
                    cells.append(f"{100 * scores['one_off']:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        cells = ["mean ± std"]
        for head in heads:
            entry = self.summary[head]
            cells.append(f"{100 * entry['exact_mean']:.1f} ± {100 * entry['exact_std']:.1f}")
            if entry["one_off_mean"] is not None:
                cells.append(f"{100 * entry['one_off_mean']:.1f} ± {100 * entry['one_off_std']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def _fold_scores(fold: int, run_dir: Path, test: dict[str, Any]) -> dict[str, Any]:
    return {
        "fold": fold,
        "run_dir": str(run_dir),
        "heads": {
            name: {"exact": head["exact"], "one_off": head["one_off"], "n": head["n"]}
            for name, head in test["heads"].items()
        },
    }


def cross_validate(
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    folds: Iterable[int] = range(NUM_FOLDS),
    overwrite: bool = False,
    verbose: int | str = "auto",
) -> CVResult:
    """Run the subject-exclusive 5-fold protocol of Adience.

    Args:
        config: the base config; its ``data`` must be an Adience tree (or
            ``"synthetic"``); ``test_fold`` is set per fold.
        out_dir: the cross-validation folder (``~`` is expanded).
        folds: which folds to run (default all five).
        overwrite: retrain folds that are already finished.
        verbose: Keras ``fit`` verbosity.

    Returns:
        The :class:`CVResult`.

    Raises:
        ValueError: for a UTKFace dataset (it has no folds) or fold numbers outside 0-4.
        RunExistsError: when a finished fold was trained with other settings and
            ``overwrite`` is false.
    """
    from adiencekit.training.data_loading import load_dataset
    from adiencekit.training.fit import train
    from adiencekit.training.run_folder import check_finished_config, is_finished

    if config.dataset_kind == "utkface":
        raise ValueError("cross-validation follows the Adience folds; UTKFace has none (use train)")
    wanted = sorted(set(folds))
    bad = [k for k in wanted if k not in range(NUM_FOLDS)]
    if bad or not wanted:
        raise ValueError(f"folds must be a non-empty subset of 0-4, got {list(folds)}")
    config.validate()
    out = Path(out_dir).expanduser()
    if not overwrite:  # before any training: a finished fold of other settings is never reused
        for fold in wanted:
            if is_finished(out / f"fold_{fold}"):
                check_finished_config(config.replace(test_fold=fold), out / f"fold_{fold}", f"fold {fold}")
    dataset = load_dataset(config)
    make_dirs(out)
    results: list[dict[str, Any]] = []
    splits = dataset.cross_validation(task=config.task, val_fraction=config.val_fraction,
                                      seed=config.resolved_split_seed())
    for index, split in enumerate(splits):
        fold = split.test_fold if split.test_fold is not None else index
        if fold not in wanted:
            continue
        run_dir = out / f"fold_{fold}"
        fold_config = config.replace(test_fold=fold)
        metrics_path = run_dir / "metrics.json"
        if is_finished(run_dir) and not overwrite:
            test = json.loads(metrics_path.read_text(encoding="utf-8"))["test"]
            if verbose:
                print(f"adiencekit: fold {fold} already finished in {run_dir}; reusing its metrics")
        else:
            test = train(
                fold_config, run_dir, split=split, overwrite=overwrite, verbose=verbose, data_report=dataset.report()
            ).evaluation.as_dict()
        results.append(_fold_scores(fold, run_dir, test))

    result = CVResult(out, config, results, summarize_folds(results))
    atomic_write_text(out / "cv.json", json.dumps(result.as_dict(), indent=2) + "\n")
    atomic_write_text(out / "cv.md", result.to_markdown())
    from adiencekit.plots import plot_cv_summary

    scores: dict[str, list[float]] = {}
    for fold_result in results:
        for head, entry in fold_result["heads"].items():
            scores.setdefault(f"{head} exact", []).append(entry["exact"])
            if entry["one_off"] is not None:
                scores.setdefault(f"{head} 1-off", []).append(entry["one_off"])
    plot_cv_summary(scores, out / "cv_summary.png", title=f"{config.model} ({config.task}): accuracy per fold")
    return result
