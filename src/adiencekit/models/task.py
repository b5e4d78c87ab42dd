"""``AgeGenderClassifier``: the task model (backbone + preprocessing + head + class names).

The task model is what every builder of the zoo returns and what a preset holds. It is a
functional ``keras.Model`` built from its arguments::

    image (RGB, [0, 255]) ─ [augmentation] ─ preprocessing ─ backbone ─ head
    head: pooling ("flatten" | "avg" | "max") ─ [input dropout]
          ─ hidden Dense layers (ReLU), each followed by dropout ─ output Dense(s)

``get_config`` records those arguments (the backbone as its own config), so a saved
model says what it is and ``from_config`` rebuilds it; the weights come from the file.
Outputs are float32 probabilities (``classifier_activation="softmax"``) named after the
head(s), also under a mixed-precision policy. ``compile()`` defaults to masked sparse
cross-entropy per head (labels of −1 are missing) with exact accuracy, and 1-off
accuracy for age. :meth:`AgeGenderClassifier.predict_tta` averages flips or the ten
Levi-Hassner crops through :class:`adiencekit.layers.TestTimeAugmentation`.

Example:

>>> import numpy as np
>>> from adiencekit.models import AgeGenderClassifier
>>> from adiencekit.models.backbones import ScratchCNNBackbone
>>> backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
>>> model = AgeGenderClassifier(backbone, task="multitask", pooling="avg", hidden_units=(8,))
>>> model.class_names["age"][:3]
('0-2', '4-6', '8-12')
>>> model.compile(optimizer="adam")            # masked losses and metrics by default
>>> images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
>>> labels = {"gender": np.array([0, 1, -1, 1]), "age": np.array([2, -1, 5, 7])}
>>> history = model.fit(images, labels, epochs=1, verbose=0)
>>> sorted(model.predict_tta(images, mode="flip", verbose=0))
['age', 'gender']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras

from adiencekit.labels import AGE_YEARS, validate_task
from adiencekit.layers.age_years_blend import check_head_weight
from adiencekit.models.heads import HEAD_POOLINGS, classification_head, global_pool, num_classes, validate_pooling
from adiencekit.models.preprocessing import check_preprocessing, preprocessing_layer
from adiencekit.models.presets import plain_json
from adiencekit.models.task_model import TaskModel

__all__ = ["AgeGenderClassifier", "zoo_classifier"]


def _check_rate(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{argument} must be a number in [0, 1), got {value!r}")
    return float(value)


def _initializer(value: Any) -> Any:
    if isinstance(value, Mapping):
        return keras.initializers.deserialize(dict(value))
    return keras.initializers.get(value)


@keras.saving.register_keras_serializable(package="adiencekit")
class AgeGenderClassifier(TaskModel):
    """An age and/or gender classifier: backbone, preprocessing, head and class names.

    Args:
        backbone: the feature extractor, a ``keras.Model`` taking preprocessed images
            (one of :mod:`adiencekit.models.backbones`, or any Keras model).
        task: ``"gender"`` (2 classes), ``"age"`` (the 8 Adience groups) or
            ``"multitask"`` (outputs ``gender`` and ``age``).
        include_top: whether to add the head. Without it the model is a feature
            extractor: its output is the (pooled) backbone output.
        pooling: with a top: ``"flatten"``, ``"avg"`` or ``"max"`` (what the first dense
            layer sees). Without a top: ``None`` (the backbone's map), ``"avg"`` or
            ``"max"``.
        hidden_units: units of the hidden ReLU dense layers of the head.
        hidden_names: names of those layers (default ``"dense"``, or ``"dense_1"``, ...).
        dropout: dropout rate after each hidden layer (0 disables it).
        input_dropout: dropout rate on the pooled features, before the first hidden layer.
        kernel_initializer: initializer of the hidden kernels.
        bias_initializer: initializer of the hidden biases.
        output_kernel_initializer: initializer of the output kernels (biases are zeros).
        classifier_activation: activation of the outputs; ``None`` gives logits.
        classes: class count of a single-task model other than the task's own.
        preprocessing: the in-model pixel preprocessing spec (see
            :func:`adiencekit.models.preprocessing.check_preprocessing`); ``None`` for none.
        augmentation: a layer applied first and only in training, e.g.
            :class:`adiencekit.layers.FaceAugmentation` (random crop, flip, rotation on
            every backend; centre crop in inference).
        input_shape: the model's input shape; defaults to the backbone's. Set it to the
            larger image size when ``augmentation`` crops.
        age_years: add the regression output ``"age_years"`` (an age in years beside the
            age group, trained on exact ages where a face has one); multitask with a top only.
        age_years_head_weight: below 1, the ``age_years`` output at inference blends the
            head with the expected age of the age groups, ``w * head + (1 - w) * groups``
            (:class:`~adiencekit.layers.age_years_blend.AgeYearsBlend`; training uses the
            head alone, so the weight can be set after training, on validation faces).
            Needs ``age_years=True``; 1 (the default) is the head alone.
        name: model name.
    """

    def __init__(
        self,
        backbone: keras.Model,
        task: str = "gender",
        *,
        include_top: bool = True,
        pooling: str | None = "avg",
        hidden_units: Sequence[int] = (),
        hidden_names: Sequence[str] | None = None,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        output_kernel_initializer: Any = "glorot_uniform",
        classifier_activation: str | None = "softmax",
        classes: int | None = None,
        preprocessing: Mapping[str, Any] | None = None,
        augmentation: keras.layers.Layer | None = None,
        input_shape: Sequence[int | None] | None = None,
        age_years: bool = False,
        age_years_head_weight: float = 1.0,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(backbone, keras.Model):
            raise TypeError(f"backbone must be a keras.Model, got {type(backbone).__name__}")
        validate_task(task)
        if not isinstance(include_top, bool):
            raise ValueError(f"include_top must be True or False, got {include_top!r}")
        if include_top:
            if pooling not in HEAD_POOLINGS:
                raise ValueError(f"pooling of a classification top must be one of {HEAD_POOLINGS}, got {pooling!r}")
        else:
            validate_pooling(pooling)
        hidden = tuple(hidden_units)
        if not all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in hidden):
            raise ValueError(f"hidden_units must be positive ints, got {hidden_units!r}")
        if hidden_names is None:
            names = ("dense",) if len(hidden) == 1 else tuple(f"dense_{i}" for i in range(1, len(hidden) + 1))
        else:
            names = tuple(hidden_names)
            if len(names) != len(hidden) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(f"hidden_names needs one name per hidden layer {hidden}, got {hidden_names!r}")
        if not isinstance(age_years, bool):
            raise ValueError(f"age_years must be True or False, got {age_years!r}")
        if age_years and (task != "multitask" or not include_top):
            raise ValueError(f"age_years=True needs task='multitask' with include_top=True, got task={task!r}, "
                             f"include_top={include_top!r}")
        head_weight = check_head_weight(age_years_head_weight)
        if head_weight != 1.0 and not age_years:
            raise ValueError(f"age_years_head_weight={age_years_head_weight!r} needs age_years=True")
        dropout = _check_rate(dropout, "dropout")
        input_dropout = _check_rate(input_dropout, "input_dropout")
        if task != "multitask":
            num_classes(task, classes)
        elif classes is not None:
            raise ValueError(f"classes cannot be set for task='multitask' (gender: 2, age: 8), got {classes!r}")
        spec = check_preprocessing(preprocessing)
        if augmentation is not None and not isinstance(augmentation, keras.layers.Layer):
            raise TypeError(f"augmentation must be a Keras layer or None, got {type(augmentation).__name__}")
        backbone_shape = tuple(backbone.input_shape[1:])
        shape = backbone_shape if input_shape is None else tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
        if augmentation is None and input_shape is not None and shape != backbone_shape:
            raise ValueError(
                f"input_shape {shape} differs from the backbone's {backbone_shape}; only an augmentation "
                f"layer that crops may change the size"
            )
        kernel_init, bias_init = _initializer(kernel_initializer), _initializer(bias_initializer)
        output_init = _initializer(output_kernel_initializer)

        inputs = keras.Input(shape=shape, name="image")
        x = inputs
        if augmentation is not None:
            x = augmentation(x)
        layer = preprocessing_layer(spec)
        if layer is not None:
            x = layer(x)
        x = backbone(x)
        if include_top:
            if pooling == "flatten":
                if len(x.shape) > 2:
                    if None in x.shape[1:]:
                        raise ValueError(
                            f"pooling='flatten' needs a fixed-size feature map, got {tuple(x.shape)}: give the "
                            f"backbone a fixed input_shape or use pooling='avg'/'max'"
                        )
                    x = keras.layers.Flatten(name="flatten")(x)
            else:
                x = global_pool(x, pooling, name="pool")
            if input_dropout:
                x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
            for units, layer_name in zip(hidden, names, strict=True):
                x = keras.layers.Dense(
                    units,
                    activation="relu",
                    kernel_initializer=kernel_init,
                    bias_initializer=bias_init,
                    name=layer_name,
                )(x)
                if dropout:
                    x = keras.layers.Dropout(dropout, name=f"{layer_name}_dropout")(x)
            outputs = classification_head(
                x,
                task,
                classifier_activation,
                classes=classes,
                kernel_initializer=output_init,
                age_years=age_years,
                age_years_head_weight=head_weight,
            )
        else:
            outputs = global_pool(x, pooling, name="pool")
        super().__init__(inputs, outputs, name=name or f"{backbone.name}_{task}", **kwargs)
        self.backbone = backbone
        self.augmentation = augmentation
        self.task = task
        self.include_top = include_top
        self.pooling = pooling
        self.hidden_units = hidden
        self.hidden_names = names
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.kernel_initializer_config = kernel_init
        self.bias_initializer_config = bias_init
        self.output_kernel_initializer_config = output_init
        self.classifier_activation = classifier_activation
        self.classes = classes
        self.preprocessing_config = spec
        self.image_shape = shape
        self.age_years = age_years
        self.age_years_head_weight = head_weight
        #: Metadata of the preset this model was loaded from (``{}`` otherwise).
        self.preset_metadata: dict[str, Any] = {}

    def get_layer(self, name: str | None = None, index: int | None = None) -> keras.layers.Layer:
        """``keras.Model.get_layer``; a name not found here is looked up in the backbone.

        So ``model.get_layer("conv1")`` finds the backbone's ``conv1`` (its ``output`` is a
        tensor of the backbone's own graph: build probes from ``model.backbone.input``).
        """
        try:
            return super().get_layer(name, index)
        except ValueError:
            if name is None:
                raise
            try:
                return self.backbone.get_layer(name)
            except ValueError:
                raise ValueError(
                    f"no layer named {name!r} in {self.name!r} or its backbone {self.backbone.name!r}"
                ) from None

    # ------------------------------------------------------------------ training
    def default_loss(self, *, label_smoothing: float = 0.0, age_neighbour_smoothing: float = 0.0,
                     age_ordinal_weight: float = 0.0) -> Any:
        """Masked sparse cross-entropy per head (labels of −1 are left out), Huber on ``age_years``.

        A model with ``age_years=True`` adds :class:`~adiencekit.losses.MaskedAgeYearsLoss`
        for that output (faces without an exact age, NaN, are left out).

        Args:
            label_smoothing: uniform label smoothing of every head, in [0, 1) (Keras'
                definition; 0 = none).
            age_neighbour_smoothing: share of the age target moved to the adjacent age
                groups, in [0, 1) (0 = none); only for a model with an age head.
            age_ordinal_weight: weight of the ordinal term of the age loss (squared Earth
                Mover's Distance between the cumulative distributions; see
                :class:`~adiencekit.losses.MaskedSparseCategoricalCrossentropy`), in
                [0, 100] (0 = none); only for a model with an age head.

        Returns:
            A :class:`~adiencekit.losses.MaskedSparseCategoricalCrossentropy`, or a dict
            of them (one per head) for a multitask model.

        Raises:
            ConfigError: for a smoothing or weight out of range, or an age option without an
                age head.

        Example:

        >>> from adiencekit.models import AgeGenderClassifier
        >>> from adiencekit.models.backbones import ScratchCNNBackbone
        >>> backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
        >>> model = AgeGenderClassifier(backbone, task="multitask", pooling="avg")
        >>> losses = model.default_loss(label_smoothing=0.1, age_neighbour_smoothing=0.2, age_ordinal_weight=1.0)
        >>> losses["age"].neighbour_smoothing, losses["gender"].neighbour_smoothing, losses["gender"].label_smoothing
        (0.2, 0.0, 0.1)
        >>> losses["age"].ordinal_weight, losses["gender"].ordinal_weight
        (1.0, 0.0)
        >>> model.compile(optimizer="adam", loss=losses)
        """
        from adiencekit.errors import ConfigError
        from adiencekit.losses import MaskedSparseCategoricalCrossentropy

        self._require_top("a default loss")
        for argument, value in (("label_smoothing", label_smoothing),
                                ("age_neighbour_smoothing", age_neighbour_smoothing)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{argument} must be a number in [0, 1), got {value!r}")
        if isinstance(age_ordinal_weight, bool) or not isinstance(age_ordinal_weight, (int, float)) \
                or not 0.0 <= age_ordinal_weight <= 100.0:
            raise ConfigError(f"age_ordinal_weight must be a number in [0, 100], got {age_ordinal_weight!r}")
        for argument, value in (("age_neighbour_smoothing", age_neighbour_smoothing),
                                ("age_ordinal_weight", age_ordinal_weight)):
            if value and "age" not in self.heads:
                raise ConfigError(
                    f"{argument}={value!r} needs an age head; this {self.task} model has none (leave it 0)"
                )
        from_logits = self.classifier_activation is None

        def head_loss(head: str) -> Any:
            age = head == "age"
            return MaskedSparseCategoricalCrossentropy(
                from_logits=from_logits, label_smoothing=label_smoothing,
                neighbour_smoothing=age_neighbour_smoothing if age else 0.0,
                ordinal_weight=age_ordinal_weight if age else 0.0,
            )

        if self.task == "multitask":
            losses = {head: head_loss(head) for head in self.heads}
            if self.age_years:
                from adiencekit.losses import MaskedAgeYearsLoss

                losses[AGE_YEARS] = MaskedAgeYearsLoss()
            return losses
        return head_loss(self.task)

    def default_metrics(self) -> Any:
        """Exact accuracy (``accuracy``) per head, 1-off accuracy (``one_off``) for age, MAE in years for ``age_years``."""
        from adiencekit.metrics import MaskedSparseCategoricalAccuracy, OneOffAccuracy

        self._require_top("default metrics")

        def head_metrics(head: str) -> list[Any]:
            metrics: list[Any] = [MaskedSparseCategoricalAccuracy(name="accuracy")]
            if head == "age":
                metrics.append(OneOffAccuracy(name="one_off"))
            return metrics

        if self.task == "multitask":
            metrics = {head: head_metrics(head) for head in self.heads}
            if self.age_years:
                from adiencekit.metrics import MaskedMeanAbsoluteError

                metrics[AGE_YEARS] = [MaskedMeanAbsoluteError(name="mae")]
            return metrics
        return head_metrics(self.task)

    def _require_top(self, what: str) -> None:
        if not self.include_top:
            from adiencekit.errors import ConfigError

            raise ConfigError(
                f"{self.name} is a feature extractor (include_top=False) and has no {what}; "
                f"pass loss= and metrics= to compile()"
            )

    def compile(
        self,
        optimizer: Any = "adam",
        loss: Any = "auto",
        metrics: Any = "auto",
        **kwargs: Any,
    ) -> None:
        """``keras.Model.compile`` with the task's defaults.

        Args:
            optimizer: any Keras optimizer (default Adam). Under ``mixed_float16`` Keras
                wraps it in a ``LossScaleOptimizer`` itself.
            loss: ``"auto"`` (default): :meth:`default_loss`; or any Keras loss.
            metrics: ``"auto"`` (default): :meth:`default_metrics`; or any Keras metrics.
            **kwargs: the other arguments of ``keras.Model.compile``.
        """
        if isinstance(loss, str) and loss == "auto":
            loss = self.default_loss()
        if isinstance(metrics, str) and metrics == "auto":
            metrics = self.default_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Re-compile a loaded model with its saved compile settings (Keras saving hook)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------------ serialisation
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "task": self.task,
            "include_top": self.include_top,
            "pooling": self.pooling,
            "hidden_units": list(self.hidden_units),
            "hidden_names": list(self.hidden_names),
            "dropout": self.dropout,
            "input_dropout": self.input_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer_config),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer_config),
            "output_kernel_initializer": keras.initializers.serialize(self.output_kernel_initializer_config),
            "classifier_activation": self.classifier_activation,
            "classes": self.classes,
            "preprocessing": plain_json(self.preprocessing_config),
            "augmentation": None
            if self.augmentation is None
            else keras.saving.serialize_keras_object(self.augmentation),
            "input_shape": list(self.image_shape),
            "age_years": self.age_years,
            **({"age_years_head_weight": self.age_years_head_weight} if self.age_years_head_weight != 1.0 else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> AgeGenderClassifier:
        config = dict(config)
        import adiencekit.layers  # noqa: F401  (registers the custom layers)
        import adiencekit.models.backbones  # noqa: F401

        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"], custom_objects=custom_objects)
        if config.get("augmentation") is not None:
            config["augmentation"] = keras.saving.deserialize_keras_object(
                config["augmentation"], custom_objects=custom_objects
            )
        return cls(**config)


def zoo_classifier(
    backbone: keras.Model,
    task: str,
    *,
    include_top: bool,
    pooling: str | None,
    default_pooling: str,
    preprocessing: Mapping[str, Any],
    name: str,
    classifier_activation: str | None,
    classes: int | None,
    **top: Any,
) -> AgeGenderClassifier:
    """The task model a zoo builder returns: one rule for the head arguments of every builder.

    With ``include_top``, the head pools with ``pooling`` (``None``: the architecture's
    ``default_pooling``) and takes the builder's ``top`` settings (hidden units, dropout,
    initialisers); without a top only ``pooling`` applies (keras.applications' feature
    extractor semantics).

    Example:

    >>> from adiencekit.models.backbones import ScratchCNNBackbone
    >>> backbone = ScratchCNNBackbone(input_shape=(32, 32, 3), conv_layers=2, base_filters=4)
    >>> model = zoo_classifier(backbone, "age", include_top=True, pooling=None, default_pooling="flatten",
    ...                        preprocessing=ScratchCNNBackbone.default_preprocessing, name="tiny",
    ...                        classifier_activation="softmax", classes=None, hidden_units=(8,))
    >>> model.output_shape
    (None, 8)
    """
    head: dict[str, Any] = {"pooling": pooling}
    if include_top:
        head = {
            "pooling": default_pooling if pooling is None else pooling,
            "classifier_activation": classifier_activation,
            "classes": classes,
            **top,
        }
    return AgeGenderClassifier(
        backbone, task, include_top=include_top, preprocessing=preprocessing, name=name, **head
    )
