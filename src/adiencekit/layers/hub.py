"""A Keras 3 bridge to TF-Hub modules and other TF2 SavedModels (TensorFlow backend only).

``tensorflow_hub.KerasLayer`` is a ``tf_keras`` (Keras 2) layer and cannot sit inside a
Keras 3 model. :class:`TFHubLayer` does the same job for Keras 3: it resolves a TF-Hub
handle (a URL goes through ``tensorflow_hub``'s resolver and cache; a local folder is used
as it is), loads the SavedModel with ``tf.saved_model.load`` and exposes the variables the
loaded function uses as the layer's own Keras variables. The Keras variables *wrap* the
loaded ``tf.Variable`` objects (no copy), so when the layer is trainable ``model.fit``
updates exactly the variables the SavedModel computes with.

TensorFlow (and ``tensorflow_hub``, for URLs) are imported only when a layer is created,
so importing this module never needs TensorFlow.

To use a TF-Hub image feature vector as the backbone of an age/gender model, wrap it in
:class:`adiencekit.models.TFHubBackbone` and pass that to
:class:`adiencekit.models.AgeGenderClassifier`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras

__all__ = ["TFHubLayer", "resolve_handle"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def resolve_handle(handle: str | os.PathLike[str]) -> str:
    """Turn a TF-Hub handle into a folder ``tf.saved_model.load`` can read.

    ``http(s)://`` handles (tfhub.dev, Kaggle Models, any hub server) are resolved by
    ``tensorflow_hub.resolve``, which downloads once into its cache
    (``TFHUB_CACHE_DIR``); other URL schemes (``gs://`` ...) are returned unchanged for
    TensorFlow's file system layer; local paths must be an existing SavedModel folder.

    Args:
        handle: a URL or a local SavedModel folder.

    Returns:
        The folder to load.

    Raises:
        TypeError: if ``handle`` is not a string or path.
        FileNotFoundError: if a local handle is not a SavedModel folder.
        ImportError: if a URL needs ``tensorflow_hub`` and it is not installed.

    Example:

    >>> import tempfile
    >>> resolve_handle("gs://bucket/model")
    'gs://bucket/model'
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     try:
    ...         resolve_handle(empty)
    ...     except FileNotFoundError as error:
    ...         print("not a SavedModel" in str(error))
    True
    """
    if isinstance(handle, os.PathLike):
        handle = os.fspath(handle)
    if not isinstance(handle, str) or not handle:
        raise TypeError(f"handle must be a URL or a path to a SavedModel folder, got {handle!r}")
    if handle.startswith(("http://", "https://")):
        try:
            import tensorflow_hub
        except ImportError as error:
            raise ImportError(
                f"resolving the TF-Hub URL {handle!r} needs the tensorflow_hub package "
                "(pip install tensorflow-hub), or pass the path of a downloaded SavedModel"
            ) from error
        return str(tensorflow_hub.resolve(handle))
    if _URL.match(handle):
        return handle
    path = Path(handle).expanduser()
    if not path.is_dir() or not any((path / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")):
        raise FileNotFoundError(
            f"{handle!r} is not a SavedModel folder (expected {path / 'saved_model.pb'}); "
            "pass a TF-Hub URL or the folder of an exported SavedModel"
        )
    return str(path)


def _unique_variables(variables: Any) -> list[Any]:
    seen: set[int] = set()
    unique = []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


@keras.saving.register_keras_serializable(package="adiencekit")
class TFHubLayer(keras.layers.Layer):
    """A TF-Hub module or TF2 SavedModel as a Keras 3 layer (TensorFlow backend only).

    Args:
        handle: a TF-Hub URL (resolved and cached by ``tensorflow_hub``) or the path of a
            SavedModel folder. Stored in the config, so a saved model reloads the module
            from the same handle and then restores the fine-tuned values on top.
        trainable: fine-tune the module's trainable variables. When false the module is
            frozen: none of its variables are trainable and it is always called in
            inference mode.
        signature: name of a signature to call (e.g. ``"serving_default"``), or ``None``
            to call the module object itself (the TF-Hub convention for reusable
            SavedModels, which also lets ``training`` reach modules that accept it).
        output_key: which entry to return when the module returns a dict. ``None``
            returns the only entry of a one-entry dict, or the whole dict.
        arguments: extra keyword arguments for every call of the module (must be JSON
            serializable).
        name: layer name.

    Raises:
        RuntimeError: if the Keras backend is not TensorFlow.

    Notes:
        Loading a ``.keras`` file that contains this layer loads and runs the SavedModel
        its handle names; load only files whose handles you trust.

    Example:

    >>> import os, tempfile, keras, numpy as np
    >>> if keras.backend.backend() == "tensorflow":
    ...     import tensorflow as tf
    ...     class Scale(tf.Module):
    ...         def __init__(self):
    ...             self.w = tf.Variable([2.0, 3.0])
    ...         @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    ...         def __call__(self, x):
    ...             return x * self.w
    ...     folder = os.path.join(tempfile.mkdtemp(), "scale")
    ...     tf.saved_model.save(Scale(), folder)
    ...     layer = TFHubLayer(folder, trainable=True)
    ...     result = (np.asarray(layer(np.ones((1, 2), "float32"))).tolist(), len(layer.trainable_weights))
    ... else:
    ...     result = ([[2.0, 3.0]], 1)
    >>> result
    ([[2.0, 3.0]], 1)
    """

    def __init__(
        self,
        handle: str | os.PathLike[str],
        trainable: bool = False,
        signature: str | None = None,
        output_key: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "TFHubLayer loads TensorFlow SavedModels and needs the TensorFlow backend "
                f"(KERAS_BACKEND=tensorflow); the current Keras backend is {keras.backend.backend()!r}"
            )
        if not isinstance(trainable, bool):
            raise TypeError(f"trainable must be True or False, got {trainable!r}")
        if signature is not None and not isinstance(signature, str):
            raise TypeError(f"signature must be a signature name or None, got {signature!r}")
        if output_key is not None and not isinstance(output_key, str):
            raise TypeError(f"output_key must be a string or None, got {output_key!r}")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping) or not all(isinstance(key, str) for key in arguments):
            raise TypeError(f"arguments must be a dict with string keys, got {arguments!r}")
        kwargs.pop("trainable", None)
        super().__init__(name=name, **kwargs)

        import tensorflow as tf

        self.handle = os.fspath(handle) if isinstance(handle, os.PathLike) else handle
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments)
        # The loaded object is deliberately kept out of Keras' tracking: only the Keras
        # variables below belong to the layer.
        loaded = tf.saved_model.load(resolve_handle(self.handle))
        object.__setattr__(self, "_loaded", loaded)
        function, variables, trainable_ids = self._resolve_function(loaded)
        object.__setattr__(self, "_function", function)
        parameters = getattr(getattr(function, "function_type", None), "parameters", {}) or {}
        self._accepts_training = signature is None and "training" in parameters
        self._module_variables = [
            keras.Variable(
                initializer=variable,  # wraps the loaded tf.Variable, no copy
                shape=tuple(variable.shape),
                dtype=variable.dtype.name,
                trainable=id(variable) in trainable_ids,
                name=variable.name.split(":")[0].replace("/", "_"),
            )
            for variable in variables
        ]
        # Setting the flag after the variables exist makes Keras freeze (or unfreeze) all
        # of them, while the module's own non-trainable variables stay non-trainable.
        self.trainable = trainable
        self.built = True

    def _resolve_function(self, loaded: Any) -> tuple[Any, list[Any], set[int]]:
        """The function to call, the variables it uses and the ids of the trainable ones."""
        if self.signature is not None:
            signatures = getattr(loaded, "signatures", {})
            if self.signature not in signatures:
                raise ValueError(
                    f"the SavedModel at {self.handle!r} has no signature {self.signature!r}; "
                    f"available: {sorted(signatures)} (or signature=None to call the module itself)"
                )
            function = signatures[self.signature]
            variables = _unique_variables(function.variables)
            trainable = {id(v) for v in function.trainable_variables}
            return function, variables, trainable
        if not callable(loaded):
            raise ValueError(
                f"the SavedModel at {self.handle!r} is not callable; pick one of its signatures "
                f"{sorted(getattr(loaded, 'signatures', {}))} with signature=..."
            )
        function = loaded.__call__
        if hasattr(loaded, "variables"):
            # Reusable SavedModels (the TF-Hub format) list their variables explicitly.
            variables = _unique_variables(loaded.variables)
            trainable = {id(v) for v in getattr(loaded, "trainable_variables", [])}
        else:
            concrete = getattr(function, "concrete_functions", [])
            variables = _unique_variables(v for c in concrete for v in c.variables)
            trainable = {id(v) for c in concrete for v in c.trainable_variables}
        return function, variables, trainable

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kwargs = dict(self.arguments)
        if self._accepts_training:
            kwargs["training"] = bool(training) and self.trainable
        if isinstance(inputs, Mapping):
            outputs = self._function(**inputs, **kwargs)
        elif self.signature is not None:
            # Signatures take keyword arguments only, named after their inputs.
            names = sorted(set(self._function.structured_input_signature[1]) - set(kwargs))
            if len(names) != 1:
                raise ValueError(
                    f"signature {self.signature!r} takes the inputs {names}; pass a dict keyed by them"
                )
            outputs = self._function(**{names[0]: inputs}, **kwargs)
        else:
            outputs = self._function(inputs, **kwargs)
        if isinstance(outputs, Mapping):
            if self.output_key is not None:
                if self.output_key not in outputs:
                    raise KeyError(
                        f"the module returned outputs {sorted(outputs)}, not output_key={self.output_key!r}"
                    )
                return outputs[self.output_key]
            if len(outputs) == 1:
                return next(iter(outputs.values()))
            return dict(outputs)
        if self.output_key is not None:
            raise ValueError(f"output_key={self.output_key!r} was given but the module returns a single tensor")
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            handle=self.handle,
            signature=self.signature,
            output_key=self.output_key,
            arguments=dict(self.arguments),
        )
        return config
