"""Training: configs and recipes, single runs, cross-validation, devices, callbacks.

Example:

>>> from adiencekit.training import TrainConfig, get_recipe
>>> get_recipe("quick").model
'scratch_cnn'
>>> TrainConfig().early_stopping_patience
10
"""

from __future__ import annotations

import importlib
from typing import Any

from adiencekit.training.config import TrainConfig
from adiencekit.training.recipes import conv_depth_sweep, dense_units_sweep, get_recipe, list_recipes

# ``train`` and ``cross_validate`` pull in TensorFlow (through adiencekit.data); they
# are imported on first use so that configs and recipes stay cheap to import.
_LAZY = {
    "train": "adiencekit.training.fit",
    "RunResult": "adiencekit.training.fit",
    "RunExistsError": "adiencekit.training.run_folder",
    "RunFolder": "adiencekit.training.run_folder",
    "load_split": "adiencekit.training.data_loading",
    "compile_model": "adiencekit.training.model_setup",
    "build_optimizer": "adiencekit.training.model_setup",
    "RunLock": "adiencekit.training.run_folder",
    "RUN_ARTIFACTS": "adiencekit.training.run_folder",
    "run_state": "adiencekit.training.run_folder",
    "cross_validate": "adiencekit.training.cross_validation",
    "CVResult": "adiencekit.training.cross_validation",
    "setup_devices": "adiencekit.training.devices",
    "DeviceSetup": "adiencekit.training.devices",
}

__all__ = [
    "TrainConfig",
    "conv_depth_sweep",
    "dense_units_sweep",
    "get_recipe",
    "list_recipes",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adiencekit.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
