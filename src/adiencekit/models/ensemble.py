"""``AgeGenderEnsemble``: several trained task models as one, their probabilities averaged.

Members are :class:`~adiencekit.models.AgeGenderClassifier` models of one task, one
input shape and one preprocessing (typically one recipe trained with different seeds on
one split: ``adiencekit train --seed N --split-seed 0``). The ensemble is a functional
``keras.Model``::

    image ─┬─ member 1 ─┐
           ├─ member 2 ─┼─ mean per head ─ {"gender": (N, 2), "age": (N, 8)}
           └─ ...      ─┘

so it predicts, evaluates, exports (SavedModel, TFLite, ONNX) and saves as a preset
exactly like one model: its outputs carry the head names, and it answers to ``task``,
``heads``, ``class_names``, ``image_shape`` and :meth:`predict_tta`. Averaging
probabilities costs one forward pass per member; what it bought for the first bundled
model, ``utkface_multitask`` (steadier figures, better ones on re-framed crops), is
measured on the model cards page.

When every member has the ``"age_years"`` output (an age in years, built with
``age_years=True``), the ensemble has it too: the mean of the members' ages. Otherwise
it has none, and an age in years comes from its averaged age groups
(:func:`adiencekit.models.heads.age_in_years`).

Example:

>>> import numpy as np
>>> from adiencekit.models import AgeGenderEnsemble, scratch_cnn
>>> members = [scratch_cnn(task="multitask", input_shape=(32, 32, 3), conv_layers=2, base_filters=4,
...                        dense_units=8, name=f"member_{i}") for i in range(2)]
>>> ensemble = AgeGenderEnsemble(members)
>>> images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
>>> out = ensemble.predict(images, verbose=0)
>>> parts = [member.predict(images, verbose=0) for member in members]
>>> bool(np.allclose(out["age"], (parts[0]["age"] + parts[1]["age"]) / 2, atol=1e-6))
True
>>> ensemble.heads, len(ensemble.members), ensemble.age_years
(('gender', 'age'), 2, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from adiencekit.labels import AGE_YEARS
from adiencekit.models.presets import plain_json
from adiencekit.models.task import AgeGenderClassifier
from adiencekit.models.task_model import TaskModel

__all__ = ["AgeGenderEnsemble"]


def _check_members(members: Sequence[Any]) -> list[AgeGenderClassifier]:
    """The members as a list, checked to be classifiers of one task, input and preprocessing."""
    members = list(members)
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    for index, member in enumerate(members):
        if not isinstance(member, AgeGenderClassifier):
            raise TypeError(f"ensemble member {index} must be an AgeGenderClassifier, got {type(member).__name__}")
        if not member.include_top or member.classifier_activation != "softmax":
            raise ValueError(f"ensemble member {index} ({member.name!r}) must end in a softmax classification head "
                             f"(include_top=True, classifier_activation='softmax'): only probabilities average")
    first = members[0]
    for index, member in enumerate(members[1:], start=1):
        for what, mine, theirs in (
            ("task", member.task, first.task),
            ("class names", member.class_names, first.class_names),
            ("input shape", tuple(member.image_shape), tuple(first.image_shape)),
            ("preprocessing", plain_json(member.preprocessing_config), plain_json(first.preprocessing_config)),
        ):
            if mine != theirs:
                raise ValueError(f"ensemble member {index} ({member.name!r}) has {what} {mine!r}; member 0 "
                                 f"({first.name!r}) has {theirs!r}: members must share task, classes, input "
                                 f"shape and preprocessing")
    names = [member.name for member in members]
    if len(set(names)) != len(names):
        raise ValueError(f"ensemble members need distinct names (their weights are stored under them), got {names}")
    return members


@keras.saving.register_keras_serializable(package="adiencekit")
class AgeGenderEnsemble(TaskModel):
    """Task models of one kind as one model whose outputs are their mean probabilities.

    Args:
        members: two or more :class:`~adiencekit.models.AgeGenderClassifier` with one
            task, class names, input shape and preprocessing, ending in softmax heads,
            with distinct names.
        name: model name (default ``"<first member>_ensemble<count>"``).
            Members that all have the ``"age_years"`` output give the ensemble one (their
            mean); if any member lacks it, the ensemble has none.
        **kwargs: the other ``keras.Model`` arguments.

    Raises:
        TypeError: a member that is not an ``AgeGenderClassifier``.
        ValueError: fewer than two members, members that differ in task, classes, input
            shape or preprocessing, heads without softmax, or repeated member names.
    """

    def __init__(self, members: Sequence[AgeGenderClassifier], *, name: str | None = None, **kwargs: Any) -> None:
        checked = _check_members(members)
        first = checked[0]
        inputs = keras.Input(shape=tuple(first.image_shape), name="image")
        per_member = [out if isinstance(out, dict) else {first.task: out}
                      for out in (member(inputs) for member in checked)]
        age_years = all(member.age_years for member in checked)
        averaged = {name: keras.layers.Average(name=name, dtype="float32")([out[name] for out in per_member])
                    for name in (*first.heads, *((AGE_YEARS,) if age_years else ()))}
        outputs: Any = averaged if first.task == "multitask" else averaged[first.task]
        super().__init__(inputs, outputs, name=name or f"{first.name}_ensemble{len(checked)}", **kwargs)
        self.members = checked
        self.task = first.task
        self.classes = first.classes
        self.preprocessing_config = first.preprocessing_config
        self.image_shape = tuple(first.image_shape)
        #: Whether the ensemble has the ``"age_years"`` output: the mean of its members'
        #: ages in years, when every member has that output.
        self.age_years = age_years
        #: Metadata of the preset this model was loaded from (``{}`` otherwise).
        self.preset_metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------ serialisation
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "members": [keras.saving.serialize_keras_object(member) for member in self.members],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> AgeGenderEnsemble:
        config = dict(config)  # each member's own from_config registers what it needs
        config["members"] = [keras.saving.deserialize_keras_object(member, custom_objects=custom_objects)
                             for member in config["members"]]
        return cls(**config)
