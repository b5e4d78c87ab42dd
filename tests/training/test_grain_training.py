"""Training, evaluation and the command line through the Grain input pipeline (``input_format``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("grain", reason='the Grain pipeline needs grain: pip install -e ".[jax]"')

from adiencekit.cli import config_from_args, main  # noqa: E402
from adiencekit.cli._parser import build_parser  # noqa: E402
from adiencekit.data import grain_pipeline, pipeline_args  # noqa: E402
from adiencekit.errors import ConfigError  # noqa: E402
from adiencekit.training import TrainConfig, train  # noqa: E402

from ._helpers import fast_config, make_small_tree  # noqa: E402

NOTICE = "adiencekit: TensorFlow is not installed; the input pipeline is Grain (input_format='grain')"


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_tree(tmp_path_factory.mktemp("adience"))


def _count_grain_builds(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    calls: list[bool] = []
    real = grain_pipeline.build_grain_pipeline

    def spy(*args, **kwargs):
        calls.append(kwargs["training"])
        return real(*args, **kwargs)

    monkeypatch.setattr(grain_pipeline, "build_grain_pipeline", spy)
    return calls


def test_train_through_grain_writes_the_whole_run_folder(small_root: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_grain_builds(monkeypatch)
    config = fast_config(small_root, input_format="grain", augment="strong", epochs=2, steps_per_epoch=2)
    result = train(config, tmp_path / "run", verbose=0)
    assert calls == [True, False, False, False]  # train, validation, test evaluation, sample plot
    assert len(result.history) == 2 and result.evaluation.images > 0
    for name in ("best.keras", "metrics.json", "history.json", "config.json", "plots"):
        assert (tmp_path / "run" / name).exists(), name
    assert json.loads((tmp_path / "run" / "config.json").read_text())["input_format"] == "grain"


def test_auto_without_tensorflow_is_grain_with_one_notice(small_root: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline_args, "tensorflow_installed", lambda: False)
    calls = _count_grain_builds(monkeypatch)
    train(fast_config(small_root, epochs=1), tmp_path / "run", verbose=2)
    assert calls == [True, False, False, False]
    assert capsys.readouterr().out.splitlines().count(NOTICE) == 1


def test_a_missing_engine_fails_before_the_run_folder(small_root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_args, "tensorflow_installed", lambda: False)
    with pytest.raises(ConfigError, match="input format 'tf' needs TensorFlow"):
        train(fast_config(small_root, input_format="tf"), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_config_field_checks_and_old_files() -> None:
    with pytest.raises(ConfigError, match=r"input_format must be one of \('auto', 'tf', 'grain'\), got 'torch'"):
        TrainConfig(input_format="torch")
    old = TrainConfig().to_dict()
    del old["input_format"]  # a config.json written before the field existed
    assert TrainConfig.from_dict(old).input_format == "auto"


def test_input_format_option_on_train_cv_and_evaluate(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("train", "cv"):
        args = build_parser().parse_args([command, "--input-format", "grain"])
        assert config_from_args(args).input_format == "grain"
    assert build_parser().parse_args(["evaluate", "--run", "x", "--input-format", "tf"]).input_format == "tf"
    assert main(["train", "--input-format", "torch"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'torch'" in err


@pytest.mark.parametrize("steps_per_epoch", [None, 2])
def test_grain_epochs_end_without_keras_interrupted_warning(small_root: Path, tmp_path: Path,
                                                            steps_per_epoch: int | None) -> None:
    """Each Grain iteration is one epoch (training and validation); Keras's "ran out of data" warning
    would tell a user to fix a dataset that is right."""
    import warnings

    config = fast_config(small_root, input_format="grain", epochs=2, steps_per_epoch=steps_per_epoch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config, tmp_path / "run", verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
