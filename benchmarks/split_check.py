"""Did a model's training run see the benchmark's test faces? (issue 22: a test split "never tuned on").

For a training run folder, :func:`training_overlap` rebuilds the run's own split the way
training built it (:func:`adiencekit.training.data_loading.load_split` of the run's
``config.json``; a prepared root's ``splits.csv`` included) and counts the benchmark's
test file names among the run's training and validation faces. A preset or a model file
records no split, so the check says it was not made, and why.

Example:

>>> import split_check
>>> split_check.training_overlap(None, ["a.jpg"])["checked"]
False
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def training_overlap(source: str | os.PathLike[str] | None, test_names: Iterable[str]) -> dict[str, Any]:
    """How many of ``test_names`` the run folder ``source`` trained or validated on.

    Args:
        source: the model source the benchmark measured (a run folder is checked).
        test_names: the benchmark's test file names.

    Returns:
        ``{"checked": False, "reason": ...}``, or ``{"checked": True, "run", "data",
        "run_train_val_faces", "test_faces_seen_in_training", "examples"}``.
    """
    from adiencekit.errors import AdienceKitError
    from adiencekit.training.data_loading import load_split
    from adiencekit.training.run_folder import RunFolder

    if source is None or not Path(source).is_dir() or not RunFolder(source).is_run():
        return {"checked": False, "reason": "not a training run folder (a preset or model file records no split)"}
    try:
        config = RunFolder(source).read_config()
        split = load_split(config)
    except (AdienceKitError, OSError) as error:
        return {"checked": False, "reason": f"the run's split could not be rebuilt: {error}"}
    seen = set(split.train.frame["filename"]) | set(split.val.frame["filename"])
    overlap = sorted(set(test_names) & seen)
    return {"checked": True, "run": str(source), "data": config.data, "run_train_val_faces": len(seen),
            "test_faces_seen_in_training": len(overlap), "examples": overlap[:5]}
