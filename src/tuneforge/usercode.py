"""User code named in a recipe as ``module:attribute`` (the Lightning-CLI / Hydra convention).

A recipe may name a model factory (``model.factory``), a data function (``data.source``), a
loss (``train.loss``) and metrics (``train.metrics``) this way. :func:`load` imports the module
from the working directory or ``PYTHONPATH`` and returns the attribute; anything that goes wrong
(no such module, no such attribute, the import itself raises) is one :class:`ConfigError` line
naming the recipe key and the spec, never a traceback.

Objects handed to the Python API (``tuneforge.train(cfg, model=ResidualMLP)``) are recorded
with :func:`give`: the recipe then names them by their import path when they have one, or by
``given:<name>`` when they live in a script's ``__main__``; either way :func:`load` returns the
object itself in this process. Nothing here runs unless a recipe (or the caller) names it.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from tuneforge.errors import ConfigError

#: ``package.module:attribute.path`` -- identifiers only, so file paths and built-in names
#: (``digits``, ``data/rows.csv``, ``C:\\rows.csv``) never look like user code.
SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
GIVEN = "given"  # the module name of objects handed to the Python API from a script
_given: dict[str, Any] = {}


def is_spec(text: object) -> bool:
    """Whether ``text`` names user code (``module:attribute``)."""
    return isinstance(text, str) and SPEC.match(text) is not None


def give(obj: Any, kind: str) -> str:
    """Record an object handed to the API; returns the spec the recipe will name it by.

    Args:
        obj: a class, function, DataFrame or ``(X, y)`` pair.
        kind: what it is, for its ``given:`` name when it has no import path (``data``...).
    """
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str) and "<" not in name:
        spec = f"{module}:{name}"
        if module != "__main__" and _imported(module, name) is obj:
            _given[spec] = obj
            return spec
    short = getattr(obj, "__name__", None)
    spec = f"{GIVEN}:{short if isinstance(short, str) and short.isidentifier() else kind}_{id(obj):x}"
    _given[spec] = obj
    return spec


def load(spec: str, key: str) -> Any:
    """The object ``spec`` (``module:attribute``) names; ``key`` is the recipe key, for errors.

    The working directory is put at the front of ``sys.path`` for this import only, so a
    ``nets.py`` beside the recipe is found without installing anything.
    """
    if spec in _given:
        return _given[spec]
    if not is_spec(spec):
        raise ConfigError(f"{key}: {spec!r} is not 'module:attribute' (e.g. nets:ResidualMLP)")
    module_name, attribute = spec.split(":")
    if module_name == GIVEN:
        raise ConfigError(f"{key}: {spec} was handed to the Python API in another process; "
                          "pass the object again (e.g. load_run(path, model=...))")  # fmt: skip
    module = _import(module_name, spec, key)
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{key}: {spec}: module {module_name!r} has no attribute "
                              f"{attribute!r}")  # fmt: skip
        obj = getattr(obj, part)
    return obj


def _import(module_name: str, spec: str, key: str):
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(f"{key}: {spec}: no module named {module_name!r} in the working "
                              "directory or on PYTHONPATH") from None  # fmt: skip
        raise ConfigError(f"{key}: {spec}: importing {module_name!r} failed "
                          f"(ModuleNotFoundError: {exc})") from None  # fmt: skip
    except Exception as exc:  # the user's module raised while it was imported
        raise ConfigError(f"{key}: {spec}: importing {module_name!r} failed "
                          f"({type(exc).__name__}: {exc})") from None  # fmt: skip
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _imported(module: str, name: str) -> Any:
    """``module.name`` if that module is already imported (it is, for a live object)."""
    obj: Any = sys.modules.get(module)
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


def describe(spec: str) -> str:
    """How error messages name user code: the spec, or the object's own name when given."""
    return spec.split(":", 1)[1].rsplit("_", 1)[0] if spec.startswith(f"{GIVEN}:") else spec
