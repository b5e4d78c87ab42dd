"""The model zoo as ``adiencekit models`` lists it, without importing Keras.

Importing the registry (:mod:`adiencekit.models.registry`) imports Keras and its
backend, five seconds or more of TensorFlow start-up for a command that only prints a
table. This static copy keeps ``adiencekit models`` instant; ``tests/test_cli.py``
checks it against the registry (names and native input shapes), so it cannot drift.

Example:

>>> from adiencekit.cli._catalog import MODELS
>>> MODELS["levi_hassner"]
(227, 227, 3)
"""

from __future__ import annotations

__all__ = ["MODELS"]

#: ``{registered model name: default input_shape}``, sorted by name like ``list_models()``.
MODELS: dict[str, tuple[int, int, int]] = {
    "basic_inception": (299, 299, 3),
    "face_resnet": (96, 96, 3),
    "levi_hassner": (227, 227, 3),
    "modified_inception": (299, 299, 3),
    "scratch_cnn": (256, 256, 3),
}
