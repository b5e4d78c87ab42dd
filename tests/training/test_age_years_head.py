"""The age-in-years output: head, masked loss and metric, labels through both pipelines, training."""

from __future__ import annotations

import numpy as np
import pytest

from adiencekit.data.pipeline_args import check_pipeline_args
from adiencekit.losses import MaskedAgeYearsLoss
from adiencekit.metrics import MaskedMeanAbsoluteError
from adiencekit.models import face_resnet
from adiencekit.training import get_recipe


def test_loss_ignores_faces_without_an_exact_age():
    loss = MaskedAgeYearsLoss()
    with_missing = float(loss(np.array([30.0, np.nan, 10.0]), np.array([[40.0], [99.0], [10.0]])))
    # (0.5 * 1 ** 2 + 0) / 2 labelled faces: the NaN row adds neither loss nor weight
    assert with_missing == pytest.approx(0.25)
    assert float(loss(np.array([np.nan, np.nan]), np.array([[1.0], [2.0]]))) == 0.0


def test_loss_is_linear_beyond_delta():
    loss = MaskedAgeYearsLoss(scale=10.0, delta=1.0)
    # 30 years off = 3 units: 0.5 * 1 + 1 * (3 - 1) = 2.5
    assert float(loss(np.array([20.0]), np.array([[50.0]]))) == pytest.approx(2.5)


def test_loss_rejects_bad_settings():
    with pytest.raises(ValueError, match="scale"):
        MaskedAgeYearsLoss(scale=0)


def test_metric_is_masked_mae_in_years():
    metric = MaskedMeanAbsoluteError()
    metric.update_state(np.array([30.0, np.nan]), np.array([[36.0], [0.0]]))
    metric.update_state(np.array([10.0]), np.array([[8.0]]))
    assert float(metric.result()) == pytest.approx(4.0)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_head_saves_and_loads(tmp_path):
    import keras

    model = face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True)
    assert set(model.output) == {"gender", "age", "age_years"}
    assert model.heads == ("gender", "age")  # the class heads; age_years is a regression output
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.age_years is True
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(images)["age_years"],
                               model.predict_on_batch(images)["age_years"], rtol=1e-5)


def test_head_needs_multitask_with_a_top():
    with pytest.raises(ValueError, match="multitask"):
        face_resnet(task="age", input_shape=(32, 32, 3), width=8, blocks=(1, 1), age_years=True)
    with pytest.raises(ValueError, match="include_top"):
        face_resnet(input_shape=(32, 32, 3), width=8, blocks=(1, 1), include_top=False, age_years=True)


def test_pipeline_args_keep_exact_ages_as_floats():
    _, labels = check_pipeline_args(["a.jpg", "b.jpg"], {"gender": [0, 1], "age_years": [26.5, np.nan]},
                                    image_size=64, crop_size=56)
    assert labels["gender"].dtype == np.int32
    assert labels["age_years"].dtype == np.float32 and np.isnan(labels["age_years"][1])
    with pytest.raises(ValueError, match="ages >= 0"):
        check_pipeline_args(["a.jpg"], {"age_years": [-3.0]}, image_size=64, crop_size=56)


@pytest.mark.parametrize("engine", ["tf", "grain"])
def test_subset_pipeline_gives_age_years(tmp_path, engine):
    pytest.importorskip("tensorflow" if engine == "tf" else "grain")
    import pandas as pd
    from PIL import Image

    from adiencekit.data.splits import Subset

    paths = []
    for index in range(3):
        path = tmp_path / f"{index}.jpg"
        Image.new("RGB", (40, 40), (index * 40, 90, 90)).save(path)
        paths.append(str(path))
    frame = pd.DataFrame({"path": paths, "gender": [0, 1, 1], "age": [4, 5, 7], "age_years": [26.0, np.nan, 70.0]})
    subset = Subset("val", frame, "multitask")
    dataset = subset.pipeline(training=False, image_size=40, crop_size=32, batch_size=3, format=engine,
                              age_years=True)
    _, labels = next(iter(dataset))
    ages = np.asarray(labels["age_years"])
    assert ages.dtype == np.float32 and ages[0] == 26.0 and np.isnan(ages[1]) and ages[2] == 70.0
    with pytest.raises(Exception, match="multitask"):
        Subset("val", frame, "gender").pipeline(training=False, image_size=40, crop_size=32, format=engine,
                                                age_years=True)


def test_recipe_v2_trains_the_head():
    config = get_recipe("utkface_v2")
    assert config.model_kwargs["age_years"] is True and config.augment == "photo" and config.task == "multitask"
