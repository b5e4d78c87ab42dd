"""Fault injection on resuming and finishing a run: deleted config or history, a kill in the
final evaluation, and divergence that stays finite (issue 26)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adiencekit.errors import TrainingDivergedError
from adiencekit.training import RunExistsError, train
from adiencekit.training import fit as fit_module
from adiencekit.training.backup import recorded_epoch
from adiencekit.training.callbacks import ResumableEarlyStopping
from adiencekit.training.run_folder import run_state

from ._helpers import InterruptAfter, fast_config, make_small_tree

EPOCHS = 4


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_tree(tmp_path_factory.mktemp("small"))


def _interrupted(small_root: Path, run: Path, **changes):
    config = fast_config(small_root, epochs=EPOCHS, **changes)
    with pytest.raises(KeyboardInterrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(2)])
    assert recorded_epoch(run / "backup") == 2
    return config


def _epochs(run: Path) -> list[int]:
    return [row["epoch"] for row in json.loads((run / "history.json").read_text())]


def test_deleted_config_json_is_checked_against_the_backup_copy(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _interrupted(small_root, run)
    (run / "config.json").unlink()
    other = config.replace(learning_rate=config.learning_rate * 3, batch_size=4)
    with pytest.raises(RunExistsError, match=r"different config \(batch_size, learning_rate differ\)"):
        train(other, run, verbose=0)
    assert not (run / "config.json").exists()  # nothing claims the new settings
    result = train(config, run, verbose=0)  # the same settings resume
    assert result.resumed_from_epoch == 2 and _epochs(run) == [1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["learning_rate"] == config.learning_rate


def test_unfinished_run_without_any_config_is_refused(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _interrupted(small_root, run)
    (run / "config.json").unlink()
    (run / "backup" / "config.json").unlink()
    with pytest.raises(RunExistsError, match=r"unfinished run \(2 epochs done\) with no config.json .*cannot be "
                                             r"checked; put the run's config.json back"):
        train(config.replace(learning_rate=1.0), run, verbose=0)
    assert run_state(run) == "unfinished" and not (run / "config.json").exists()


def test_deleted_history_json_is_rebuilt_from_the_csv(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _interrupted(small_root, run)
    (run / "history.json").write_text("garbage{")
    train(config, run, verbose=0)
    assert _epochs(run) == [1, 2, 3, 4]


def test_both_history_files_deleted_is_said_and_resumes(small_root: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    config = _interrupted(small_root, run)
    (run / "history.json").unlink()
    (run / "history.csv").unlink()
    capsys.readouterr()
    train(config, run, verbose=0)
    err = capsys.readouterr().err
    assert "the history of epochs 1-2 is missing" in err and "resuming after epoch 2" in err
    assert _epochs(run) == [3, 4]


def test_kill_in_the_final_evaluation_of_an_early_stopped_run_trains_no_extra_epoch(
    small_root: Path, tmp_path: Path, monkeypatch
) -> None:
    # Only the first epoch improves, so patience 1 stops after epoch 2 of 4.
    monkeypatch.setattr(ResumableEarlyStopping, "_is_improvement", lambda self, value, best: best == float("inf"))
    config = fast_config(small_root, epochs=EPOCHS, early_stopping_patience=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    real = fit_module.evaluate
    monkeypatch.setattr(fit_module, "evaluate", killed)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, run, verbose=0)
    assert _epochs(run) == [1, 2] and run_state(run) == "unfinished"
    monkeypatch.setattr(fit_module, "evaluate", real)
    result = train(config, run, verbose=0)
    assert _epochs(run) == [1, 2] and result.metrics["epochs_completed"] == 2


def test_a_finite_exploding_loss_fails_the_run(small_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"training diverged: .* at epoch 1.*run marked failed"):
        train(fast_config(small_root, learning_rate=10.0, epochs=3), run, verbose=0)
    failed = json.loads((run / "failed.json").read_text())
    assert failed["epoch"] == 1 and run_state(run) == "failed"
    assert not (run / "metrics.json").exists() and not (run / "best.keras").exists()


def test_a_model_that_learned_nothing_fails_the_run(small_root: Path, tmp_path: Path, monkeypatch) -> None:
    # Confidently wrong (twice a uniform guess's loss) and no better than one class for every face.
    from adiencekit.training import divergence

    monkeypatch.setattr(fit_module, "learned_nothing",
                        lambda heads, loss, task: divergence.learned_nothing(
                            {name: (0.0, confusion) for name, (_, confusion) in heads.items()},
                            divergence.WORSE_THAN_GUESS_FACTOR * divergence.uniform_loss(task), task))
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"every head scores at or below predicting one class"):
        train(fast_config(small_root, epochs=1), run, verbose=0)
    assert run_state(run) == "failed" and not (run / "best.keras").exists()


def test_cli_train_learning_rate_10_is_a_failed_run_and_exit_2(small_root: Path, tmp_path: Path, capsys) -> None:
    from adiencekit.cli import main

    config_path = tmp_path / "fast.json"
    fast_config(small_root, epochs=3).to_json(config_path)
    run = tmp_path / "run"
    code = main(["train", "--config", str(config_path), "--learning-rate", "10", "--epochs", "3", "--out", str(run),
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1, captured.err
    assert "training diverged: loss is" in captured.err and "above the limit" in captured.err
    assert "--learning-rate" in captured.err and "run finished" not in captured.out
    assert run_state(run) == "failed" and not (run / "metrics.json").exists()
