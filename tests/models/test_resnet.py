"""face_resnet: exact sizes, the residual structure, validation, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adiencekit.models import FaceResNetBackbone, face_resnet
from adiencekit.testing import assert_saving_round_trip


@pytest.mark.parametrize(
    "kwargs, params",
    [({}, 1_231_850), ({"task": "gender"}, 1_229_794), ({"task": "age"}, 1_231_336), ({"width": 48}, 2_764_762)],
)
def test_parameter_counts_at_full_size(kwargs, params):
    assert face_resnet(**kwargs).count_params() == params


def test_trunk_shape_and_blocks():
    trunk = FaceResNetBackbone(input_shape=(96, 96, 3))
    assert trunk.output_shape == (None, 6, 6, 256)
    assert trunk.count_params() == 1_229_280
    adds = [layer.name for layer in trunk.layers if isinstance(layer, keras.layers.Add)]
    assert adds == [f"stage{i}_block1_add" for i in range(1, 5)]
    # Projections only where the shape changes (stages 2-4), identity in stage 1.
    projections = [layer.name for layer in trunk.layers if layer.name.endswith("_proj_conv")]
    assert projections == [f"stage{i}_block1_proj_conv" for i in range(2, 5)]


def test_deeper_stages_add_identity_blocks():
    trunk = FaceResNetBackbone(input_shape=(32, 32, 3), width=4, blocks=(2, 1))
    assert [layer.name for layer in trunk.layers if isinstance(layer, keras.layers.Add)] == [
        "stage1_block1_add", "stage1_block2_add", "stage2_block1_add"]


def test_head_dropout_and_preprocessing():
    model = face_resnet(input_shape=(32, 32, 3), width=4, blocks=(1, 1), dropout=0.5)
    assert model.input_dropout == 0.5
    assert model.preprocessing_config["scale"] == pytest.approx(1 / 127.5)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = model.predict(images, verbose=0)
    assert out["gender"].shape == (2, 2) and out["age"].shape == (2, 8)
    np.testing.assert_allclose(out["age"].sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"width": 0}, "width must be a positive int"), ({"blocks": ()}, "blocks must be a sequence of 1 to 6"),
     ({"blocks": (1, 0)}, r"blocks\[i\] must be a positive int"), ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
     ({"input_shape": (8, 8, 3)}, "height and width must be ints >= 16")],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        face_resnet(**kwargs)


def test_saving_round_trip(tmp_path):
    model = face_resnet(input_shape=(32, 32, 3), width=4, blocks=(1, 1))
    assert_saving_round_trip(model, np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32"), tmp_path)
