"""``TaskModel``: the base of every adiencekit task model (a single network or an ensemble).

What a task model answers to, whatever its layers: its heads and their class names,
test-time-augmented prediction, and presets. :class:`~adiencekit.models.AgeGenderClassifier`
(one network) and :class:`~adiencekit.models.AgeGenderEnsemble` (several, averaged) are its
subclasses. As in keras-hub, ``from_preset`` returns an instance of the class it is called
on: ``TaskModel.from_preset(name)`` loads whatever the preset holds,
``AgeGenderClassifier.from_preset(name)`` refuses a preset that holds an ensemble.

Example:

>>> from adiencekit.models import AgeGenderClassifier, AgeGenderEnsemble, DEFAULT_PRESET, TaskModel
>>> model = TaskModel.from_preset(DEFAULT_PRESET)        # the bundled model, read from the package
>>> type(model).__name__, model.heads, model.age_years
('AgeGenderClassifier', ('gender', 'age'), True)
>>> AgeGenderEnsemble.from_preset(DEFAULT_PRESET)
Traceback (most recent call last):
...
adiencekit.errors.ModelFileError: preset 'utkface_v2' holds an AgeGenderClassifier, not an AgeGenderEnsemble; load it with AgeGenderClassifier.from_preset or TaskModel.from_preset
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import keras

from adiencekit.errors import ModelFileError
from adiencekit.labels import CLASS_NAMES, TASK_CLASSES, task_heads

__all__ = ["TaskModel"]

_T = TypeVar("_T", bound="TaskModel")


class TaskModel(keras.Model):
    """The base of adiencekit's task models: heads, class names, test-time augmentation, presets.

    A subclass builds a functional model whose outputs are probabilities (a dict keyed by
    head for ``task="multitask"``) and sets ``task`` and ``classes``.
    """

    task: str
    classes: int | None

    # ------------------------------------------------------------------ vocabulary
    @property
    def heads(self) -> tuple[str, ...]:
        """The output heads: ``("gender",)``, ``("age",)`` or ``("gender", "age")``."""
        return task_heads(self.task)

    @property
    def class_names(self) -> dict[str, tuple[str, ...]]:
        """Class names of each head, in class-id order (age groups spelled ``"0-2"`` ...).

        A single-task model with a ``classes`` override has names ``"0"``, ``"1"``, ...
        """
        if self.classes is not None and self.classes != TASK_CLASSES[self.task]:
            return {self.task: tuple(str(i) for i in range(self.classes))}
        return {head: CLASS_NAMES[head] for head in self.heads}

    # ------------------------------------------------------------------ prediction
    def predict_tta(
        self,
        x: Any,
        mode: str = "flip",
        *,
        batch_size: int = 32,
        verbose: Any = 0,
        crop_size: int | Sequence[int] | None = None,
    ) -> Any:
        """Predict with test-time augmentation: the mean over each image's views.

        Args:
            x: images ``(N, H, W, 3)``, RGB in [0, 255]. For ``"ten_crop"`` they must be
                larger than the model's input (e.g. 256 px for 227 px crops); for
                ``"flip"`` they may be the model's size (the centre crop is used).
            mode: ``"flip"`` (image and mirror) or ``"ten_crop"`` (Levi & Hassner).
            batch_size: images per batch (each gives 2 or 10 views).
            verbose: Keras ``predict`` verbosity (default 0: no progress bar).
            crop_size: view size; default the model's input size.

        Returns:
            The averaged outputs (a dict for a multitask model).
        """
        from adiencekit.layers.oversampling import TestTimeAugmentation

        wrapper = TestTimeAugmentation(self, crop_size=crop_size, mode=mode)
        return wrapper.predict(x, batch_size=batch_size, verbose=verbose)

    def predict(self, x: Any, *args: Any, tta: str | None = None, **kwargs: Any) -> Any:
        """``keras.Model.predict``; ``tta="flip"`` or ``"ten_crop"`` calls :meth:`predict_tta`."""
        if tta is None:
            return super().predict(x, *args, **kwargs)
        if args:
            raise TypeError("predict(..., tta=...) takes batch_size and verbose as keywords")
        allowed = {"batch_size", "verbose"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"predict(..., tta={tta!r}) takes only {sorted(allowed)}, got {unknown}")
        if kwargs.get("batch_size") is None:
            kwargs.pop("batch_size", None)
        return self.predict_tta(x, mode=tta, **kwargs)

    # ------------------------------------------------------------------ presets
    @classmethod
    def from_preset(cls: type[_T], preset: str | os.PathLike[str], **kwargs: Any) -> _T:
        """Load a preset: a bundled name, a preset folder, a ``.keras`` file or an https URL with a sha256.

        Returns an instance of the class it is called on (``TaskModel.from_preset``
        returns whatever the preset holds). A training run folder is not a preset: load
        it with :func:`adiencekit.inference.load_model_source`, or make it one with
        ``adiencekit export --format preset``. See
        :func:`adiencekit.models.presets.load_preset` for the arguments.

        Raises:
            ModelFileError: the preset holds another kind of task model, or cannot be read.
        """
        from adiencekit.models.presets import load_preset

        model = load_preset(preset, **kwargs)
        if not isinstance(model, cls):
            held = type(model).__name__
            name = os.fspath(preset) if isinstance(preset, os.PathLike) else preset
            raise ModelFileError(f"preset {name!r} holds an {held}, not an {cls.__name__}; load it with "
                                 f"{held}.from_preset or TaskModel.from_preset")
        return model

    def save_to_preset(self, preset_dir: str | os.PathLike[str], **metadata: Any) -> Any:
        """Write this model as a preset folder (``preset.json`` + ``model.weights.h5``).

        See :func:`adiencekit.models.presets.save_preset` for the metadata arguments.
        """
        from adiencekit.models.presets import save_preset

        return save_preset(self, preset_dir, **metadata)
