"""`adiencekit evaluate --run` refuses what it cannot score honestly (issue 26): a run that is
unfinished, failed or held by a training, and a data folder that changed since the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adiencekit.cli import main
from adiencekit.training import train

from ._helpers import fast_config, make_small_tree


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, finished run folder), trained once for the module."""
    base = tmp_path_factory.mktemp("evaluate")
    root = make_small_tree(base / "data")
    run = base / "run"
    train(fast_config(root, epochs=1), run, verbose=0)
    return root, run


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _evaluate(capsys, run: Path) -> tuple[int, list[str]]:
    code = main(["evaluate", "--run", str(run), "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_evaluate_scores_the_recorded_split(capsys, finished, tmp_path: Path) -> None:
    _, run = finished
    run = _copy(run, tmp_path)
    code, err = _evaluate(capsys, run)
    assert code == 0, err
    recorded = json.loads((run / "metrics.json").read_text())
    scored = json.loads((run / "evaluation.json").read_text())["heads"]["gender"]
    assert scored["n"] + scored["missing"] == recorded["sizes"]["test"]
    assert scored["exact"] == pytest.approx(recorded["test"]["heads"]["gender"]["exact"])


def test_evaluate_refuses_when_images_were_added_to_the_data(capsys, finished, tmp_path: Path) -> None:
    root, run = finished
    data = tmp_path / "data"
    shutil.copytree(root, data)
    run = _copy(run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["data"] = str(data)
    (run / "config.json").write_text(json.dumps(config))
    # One more face of a user of the test fold: the test set grows.
    fold = data / "fold_0_data.txt"
    header, first, *rest = fold.read_text().splitlines()
    user, original, face_id, *labels = first.split("\t")
    shutil.copy(data / "aligned" / user / f"landmark_aligned_face.{face_id}.{original}",
                data / "aligned" / user / f"landmark_aligned_face.99.{original}")
    fold.write_text("\n".join([header, first, "\t".join([user, original, "99", *labels]), *rest]) + "\n")
    code, err = _evaluate(capsys, run)
    assert code == 2 and len(err) == 1, err
    assert f"the data of {run} changed since it was trained (test" in err[0] and "recorded" in err[0]
    assert not (run / "evaluation.json").exists()


@pytest.mark.parametrize("state", ["unfinished", "locked", "failed"])
def test_evaluate_refuses_a_run_that_is_not_finished_and_writes_nothing(
    capsys, finished, tmp_path: Path, state: str
) -> None:
    _, run = finished
    run = _copy(run, tmp_path)
    if state == "unfinished":  # killed in its final evaluation: no metrics.json yet
        (run / "metrics.json").unlink()
        (run / "run.lock").write_text('{"pid": 1}')
    elif state == "locked":  # trained again with --overwrite right now
        (run / "run.lock").write_text('{"pid": 1}')
    else:
        (run / "failed.json").write_text('{"reason": "training diverged: loss is nan"}')
    before = sorted(p.name for p in run.iterdir())
    code, err = _evaluate(capsys, run)
    assert code == 2 and len(err) == 1, err
    expected = {"unfinished": "holds an unfinished run", "locked": "is in use by a training",
                "failed": "holds a failed run (training diverged: loss is nan)"}[state]
    assert expected in err[0]
    assert sorted(p.name for p in run.iterdir()) == before
