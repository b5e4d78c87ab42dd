"""A registry of model builders, so models can be chosen by name (in configs, on the CLI).

Example:

>>> from adiencekit.models import create_model, list_models, model_defaults
>>> "levi_hassner" in list_models()
True
>>> model_defaults("levi_hassner")["input_shape"]
(227, 227, 3)
>>> model = create_model("scratch_cnn", task="age", input_shape=(32, 32, 3))
>>> model.output_shape
(None, 8)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import keras

__all__ = ["create_model", "list_models", "model_defaults", "register_model"]

Builder = TypeVar("Builder", bound=Callable[..., keras.Model])

_REGISTRY: dict[str, Callable[..., keras.Model]] = {}


def register_model(name: str | None = None) -> Callable[[Builder], Builder]:
    """Decorator registering a model builder under ``name`` (default: the function's name).

    Args:
        name: registry name; must not be taken already.

    Returns:
        The decorator; it returns the builder unchanged.

    Example:

    >>> import keras
    >>> from adiencekit.models import register_model, create_model
    >>> @register_model("tiny_dense_example")
    ... def tiny(task="gender", input_shape=(4,)):
    ...     inputs = keras.Input(input_shape)
    ...     return keras.Model(inputs, keras.layers.Dense(2, name=task)(inputs))
    >>> create_model("tiny_dense_example").output_shape
    (None, 2)
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"register_model: name must be a non-empty string or None, got {name!r}")

    def decorator(builder: Builder) -> Builder:
        if not callable(builder):
            raise TypeError(f"register_model: expected a callable builder, got {builder!r}")
        key = name or builder.__name__
        existing = _REGISTRY.get(key)
        # Re-registering the same function (e.g. after a module reload) is harmless.
        if existing is not None and _identity(existing) != _identity(builder):
            raise ValueError(f"a model named {key!r} is already registered ({existing!r})")
        _REGISTRY[key] = builder
        return builder

    return decorator


def _identity(builder: Callable[..., Any]) -> tuple[str | None, str | None]:
    return getattr(builder, "__module__", None), getattr(builder, "__qualname__", None)


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def _get_builder(name: str) -> Callable[..., keras.Model]:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(list_models())}") from None


def create_model(name: str, /, **kwargs: Any) -> keras.Model:
    """Build the registered model ``name`` with the builder's keyword arguments.

    Args:
        name: a name from :func:`list_models` (positional: ``name=`` in ``kwargs`` is
            the built model's own name, which every builder takes).
        **kwargs: forwarded to the builder (``task``, ``input_shape``, ``weights``,
            ``name``, ...).

    Returns:
        The built (uncompiled) model.

    Raises:
        ValueError: for an unknown name (the message lists the available ones) or an
            argument the builder does not take.
    """
    builder = _get_builder(name)
    parameters = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown and not takes_any:
        raise ValueError(f"model {name!r} does not take {unknown}; it takes {sorted(parameters)}")
    return builder(**kwargs)


def model_defaults(name: str) -> dict[str, Any]:
    """The default keyword arguments of a registered builder (e.g. its native ``input_shape``).

    Args:
        name: a name from :func:`list_models`.

    Returns:
        A dict from argument name to default value.
    """
    builder = _get_builder(name)
    return {
        key: parameter.default
        for key, parameter in inspect.signature(builder).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
