"""Objects handed to the Python API in place of recipe keys: a model class or factory
(``tuneforge.train(cfg, model=ResidualMLP)``) and rows (``data=frame`` or ``data=(X, y)``).

Each is recorded with :func:`tuneforge.usercode.give` and the recipe names it like any user
code (``model.kind: custom`` with ``model.factory``; ``data.source``), so everything downstream
-- trials, cohorts, k-fold, the run directory's config.yaml -- treats it as a named function.
"""

from __future__ import annotations

import copy
from typing import Any

from tuneforge.errors import ConfigError
from tuneforge.usercode import give


def with_given(raw: dict[str, Any], model: Any = None, data: Any = None) -> dict[str, Any]:
    """``raw`` (a recipe mapping) naming ``model`` and ``data`` where they are given."""
    raw = copy.deepcopy(raw)
    if model is not None:
        if not callable(model) or isinstance(model, type) and not _is_module_class(model):
            raise ConfigError(f"model=: expected an nn.Module class or a function returning one, "
                              f"got {model!r}")  # fmt: skip
        if _is_module_instance(model):
            raise ConfigError(f"model=: got an nn.Module instance ({type(model).__name__}); pass "
                              "its class or a factory, so each run builds its own weights")  # fmt: skip
        section = raw.get("model") if isinstance(raw.get("model"), dict) else {}
        args = section.get("args", {}) if section.get("kind") == "custom" else {}
        raw["model"] = {"kind": "custom", "factory": give(model, "model"), "args": args}
    if data is not None:
        if not hasattr(data, "columns") and not isinstance(data, (tuple, list, dict)):
            raise ConfigError(f"data=: expected a DataFrame, (X, y) or a dict of arrays, got "
                              f"{type(data).__name__}")  # fmt: skip
        section = raw.get("data") if isinstance(raw.get("data"), dict) else {}
        raw["data"] = {**section, "source": give(data, "data")}
    return raw


def _is_module_class(obj: Any) -> bool:
    from torch import nn  # only when a class is given (config stays free of torch)

    return issubclass(obj, nn.Module)


def _is_module_instance(obj: Any) -> bool:
    from torch import nn

    return isinstance(obj, nn.Module)
