"""Rows from the user's code: ``data.source: module:function``, or objects given to the API.

The function (called with no arguments) or the object given to ``tuneforge.train(cfg,
data=...)`` is one of:

- a DataFrame holding the target column ``data.target``;
- ``(X, y)``: X a DataFrame or an array (2-D table rows; ``[N, H, W]``/``[N, C, H, W]`` images or
  ``[N, T, F]``/``[N, T]`` sequences with ``data.shape``), y one target per row;
- a dict of named arrays: ``X`` (or ``x``) beside 1-D arrays, the target among them
  (``data.target``, default ``y``), like an ``.npz`` file; without ``X``, 1-D columns.

From here on the rows are treated exactly like a file's: splits, encoding, prep, k-fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tuneforge.config.schema import DataConfig
from tuneforge.data.rows import as_rows, pad_after
from tuneforge.data.sources import Table, frame_table, infer_task, select_columns
from tuneforge.data.tensors import ArraySource, check_table_keys
from tuneforge.errors import ConfigError, DataError
from tuneforge.usercode import describe, load

EXPECTED = "a DataFrame (with data.target), (X, y) arrays or a dict of named arrays"


def load_user_source(cfg: DataConfig) -> Table | ArraySource:
    """Call (or take) ``cfg.source``'s object and read it as table or array rows."""
    name = describe(cfg.source)
    if cfg.shape in ("image", "sequence"):
        check_table_keys(cfg)
    value = _produce(cfg.source, name)
    if isinstance(value, pd.DataFrame):
        if cfg.shape in ("image", "sequence"):
            raise DataError(f"data.source: {name} returned a DataFrame, but data.shape is "
                            f"{cfg.shape}; return (X, y) arrays for {cfg.shape} rows")  # fmt: skip
        return frame_table(value, name, cfg.target, cfg.task, cfg.features)
    if isinstance(cfg.target, list):  # several targets: columns of a frame (sources.py)
        raise DataError(f"data.target: several target columns are read from a DataFrame; "
                        f"{name} returned a {type(value).__name__}")  # fmt: skip
    if isinstance(value, (tuple, list)) and len(value) == 2:
        x, y = value
        return _pair(x, y, cfg, name)
    if isinstance(value, dict):
        return _named_arrays(value, cfg, name)
    raise DataError(f"data.source: {name} returned a {type(value).__name__}; expected {EXPECTED}")


def _produce(spec: str, name: str) -> Any:
    source = load(spec, "data.source")
    if not callable(source):
        return source  # data given to the Python API
    try:
        return source()
    except (ConfigError, DataError):
        raise
    except Exception as exc:  # the user's code
        raise DataError(f"data.source: {name}() raised {type(exc).__name__}: {exc}") from None


def _pair(x: Any, y: Any, cfg: DataConfig, name: str, lengths=None) -> Table | ArraySource:
    target = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y)
    if target.ndim != 1 or len(target) != len(x):
        raise DataError(f"data.source: {name}: y must hold one target per row of X "
                        f"({len(x)} rows), got shape {list(target.shape)}")  # fmt: skip
    y_series = pd.Series(target, name=cfg.target or (y.name if isinstance(y, pd.Series) else "y"))
    task = cfg.task or infer_task(y_series)
    if cfg.shape in ("image", "sequence"):
        rows = as_rows(np.asarray(x), cfg.shape, name)
        if lengths is not None:
            rows = pad_after(rows, np.asarray(lengths), name)
        return ArraySource(rows, y_series, task, name)
    frame = x if isinstance(x, pd.DataFrame) else _table_rows(np.asarray(x), name)
    frame = frame.reset_index(drop=True)
    return Table(select_columns(frame, cfg.features, name), y_series, task, name)


def _table_rows(x: np.ndarray, name: str) -> pd.DataFrame:
    if x.ndim != 2:
        raise DataError(f"data.source: {name}: X must be 2-D table rows (or set data.shape: image "
                        f"or sequence), got shape {list(x.shape)}")  # fmt: skip
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])


def _named_arrays(arrays: dict, cfg: DataConfig, name: str) -> Table | ArraySource:
    target = cfg.target or "y"
    if target not in arrays:
        raise DataError(f"data.source: {name}: data.target array {target!r} not found in "
                        f"{sorted(map(str, arrays))}")  # fmt: skip
    arrays = dict(arrays)
    x = arrays.pop("X", arrays.pop("x", None))
    y = arrays.pop(target)
    if x is None:  # named 1-D columns
        return frame_table(pd.DataFrame({**arrays, target: y}), name, target, cfg.task, cfg.features)
    lengths = arrays.pop("lengths", None) if cfg.shape == "sequence" else None
    if cfg.shape in ("image", "sequence"):
        return _pair(x, y, cfg, name, lengths)
    frame = _table_rows(np.asarray(x), name)
    for key, column in arrays.items():
        frame[str(key)] = np.asarray(column)
    return _pair(frame, y, cfg, name)
