"""The architecture zoo: Levi & Hassner, Inception-v3 (basic and modified), scratch CNNs, a face ResNet.

Every builder returns an :class:`AgeGenderClassifier` (a ``keras.Model`` that owns its
backbone, task, head, preprocessing and class names; presets save and load it) and follows the ``keras.applications`` signature where it fits
(``task, input_shape, weights, include_top, pooling, classifier_activation, name``),
takes RGB pixels in [0, 255] (each model preprocesses inside), and supports
``task="gender"`` (2 classes), ``"age"`` (8 groups) and ``"multitask"`` (a dict with
``"gender"`` and ``"age"`` outputs). Builders are registered by name.

This package never imports TensorFlow: it runs under ``KERAS_BACKEND=jax`` or
``torch`` on a machine without TensorFlow.

Example:

>>> from adiencekit.models import create_model, list_models
>>> list_models()
['basic_inception', 'face_resnet', 'levi_hassner', 'modified_inception', 'scratch_cnn']
>>> model = create_model("levi_hassner", task="multitask", input_shape=(64, 64, 3))
>>> {task: tensor.shape for task, tensor in model.output.items()}
{'gender': (None, 2), 'age': (None, 8)}
"""

from __future__ import annotations

from adiencekit.labels import TASK_CLASSES, TASKS
from adiencekit.models.backbones import (
    Backbone,
    FaceResNetBackbone,
    InceptionV3Backbone,
    LeviHassnerBackbone,
    ScratchCNNBackbone,
    TFHubBackbone,
)
from adiencekit.models.ensemble import AgeGenderEnsemble
from adiencekit.models.heads import classification_head
from adiencekit.models.inception import basic_inception, modified_inception, set_trainable_blocks
from adiencekit.models.levi_hassner import levi_hassner
from adiencekit.models.presets import DEFAULT_PRESET, list_presets, register_preset
from adiencekit.models.registry import create_model, list_models, model_defaults, register_model
from adiencekit.models.resnet import face_resnet
from adiencekit.models.scratch import scratch_cnn
from adiencekit.models.task import AgeGenderClassifier
from adiencekit.models.task_model import TaskModel

__all__ = [
    "AgeGenderClassifier",
    "AgeGenderEnsemble",
    "Backbone",
    "DEFAULT_PRESET",
    "FaceResNetBackbone",
    "InceptionV3Backbone",
    "LeviHassnerBackbone",
    "ScratchCNNBackbone",
    "TFHubBackbone",
    "TaskModel",
    "TASKS",
    "TASK_CLASSES",
    "basic_inception",
    "classification_head",
    "create_model",
    "face_resnet",
    "levi_hassner",
    "list_models",
    "list_presets",
    "model_defaults",
    "modified_inception",
    "register_model",
    "register_preset",
    "scratch_cnn",
    "set_trainable_blocks",
]
