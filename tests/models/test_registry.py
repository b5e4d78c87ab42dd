"""Tests of adiencekit.models.registry and the package's import hygiene."""

from __future__ import annotations

import keras
import pytest

import adiencekit.models as models
from adiencekit.models import registry
from adiencekit.testing import assert_runs_without_tensorflow


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, so registrations made by a test do not leak."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_the_zoo_is_registered():
    assert models.list_models() == ["basic_inception", "face_resnet", "levi_hassner", "modified_inception", "scratch_cnn"]


def test_package_exports():
    for name in ("create_model", "list_models", "register_model", "levi_hassner", "basic_inception",
                 "modified_inception", "scratch_cnn", "TASKS", "AgeGenderEnsemble"):
        assert hasattr(models, name), name
    assert models.TASKS == ("gender", "age", "multitask")


def test_create_model_builds_by_name():
    model = models.create_model("scratch_cnn", task="multitask", input_shape=(16, 16, 3), conv_layers=2)
    assert {task: tensor.shape for task, tensor in model.output.items()} == {"age": (None, 8), "gender": (None, 2)}


def test_create_model_passes_the_models_own_name_to_the_builder():
    model = models.create_model("scratch_cnn", task="gender", input_shape=(16, 16, 3), conv_layers=2, name="member_1")
    assert model.name == "member_1"


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet50'.*basic_inception.*scratch_cnn"):
        models.create_model("resnet50")


def test_unknown_argument_is_reported():
    with pytest.raises(ValueError, match=r"does not take \['input_size'\]"):
        models.create_model("levi_hassner", input_size=227)


def test_model_defaults_give_native_input_sizes():
    sizes = {name: models.model_defaults(name)["input_shape"] for name in models.list_models()}
    assert sizes == {
        "basic_inception": (299, 299, 3),
        "face_resnet": (96, 96, 3),
        "levi_hassner": (227, 227, 3),
        "modified_inception": (299, 299, 3),
        "scratch_cnn": (256, 256, 3),
    }
    assert models.model_defaults("modified_inception")["weights"] == "imagenet"


def test_register_model(scratch_registry):
    @models.register_model()
    def tiny_test_model(task="gender", input_shape=(3,)):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(2, name=task)(inputs))

    assert "tiny_test_model" in models.list_models()
    assert models.create_model("tiny_test_model").output_shape == (None, 2)

    def other(**kwargs):
        return tiny_test_model()

    with pytest.raises(ValueError, match="already registered"):
        models.register_model("tiny_test_model")(other)
    # **kwargs builders accept anything.
    models.register_model("other_test_model")(other)
    assert models.create_model("other_test_model", anything=1).output_shape == (None, 2)


@pytest.mark.parametrize("name", ["", 3])
def test_register_model_rejects_bad_names(name):
    with pytest.raises(ValueError, match="non-empty string"):
        models.register_model(name)


@pytest.mark.slow  # long (over 5 s); CI runs it with -m slow
@pytest.mark.requires("jax")
def test_models_never_import_tensorflow():
    """The zoo must build under JAX on a machine without TensorFlow."""
    assert_runs_without_tensorflow("import adiencekit.models as m; m.levi_hassner(input_shape=(64, 64, 3))")
