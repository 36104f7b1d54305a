"""Where rows come from: scikit-learn's bundled data sets, a synthetic line, or a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tuneforge.data.checks import check_features_exclude_target
from tuneforge.errors import DataError

#: Integer targets with at most this many distinct values are taken as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass
class Table:
    """Raw rows before any split or fitting: feature columns and the target column (a frame of
    columns for several regression targets)."""

    features: pd.DataFrame
    target: pd.Series | pd.DataFrame
    task: str
    name: str


def linear_source(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """The classic first regression: y = 3x + Gaussian noise (σ = 0.5), x uniform on [0, 2]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2.0, size=n)
    y = 3.0 * x + rng.normal(0.0, 0.5, size=n)
    return pd.DataFrame({"x": x}), pd.Series(y, name="y")


def _sklearn_source(loader: str) -> Callable[[], tuple[pd.DataFrame, pd.Series]]:
    """``sklearn.datasets.<loader>`` as (features, target); scikit-learn is imported when a
    built-in set is read, not by every command that only names the table (``predict``)."""

    def load() -> tuple[pd.DataFrame, pd.Series]:
        from sklearn import datasets

        bunch = getattr(datasets, loader)(as_frame=True)
        return bunch.data, bunch.target

    return load


#: Built-in sources by name, with their task. None of them downloads anything.
BUILTIN: dict[str, tuple[Callable[[], tuple[pd.DataFrame, pd.Series]], str]] = {
    "linear": (linear_source, "regression"),
    "digits": (_sklearn_source("load_digits"), "classification"),
    "breast_cancer": (_sklearn_source("load_breast_cancer"), "classification"),
    "wine": (_sklearn_source("load_wine"), "classification"),
    "iris": (_sklearn_source("load_iris"), "classification"),
    "diabetes": (_sklearn_source("load_diabetes"), "regression"),
}


def load_table(
    source: str,
    target: str | None = None,
    task: str | None = None,
    features: list[str] | None = None,
) -> Table:
    """Read a built-in data set or a ``.csv``/``.parquet``/``.npz`` file into a :class:`Table`."""
    if source in BUILTIN:
        if isinstance(target, list):
            raise DataError(f"data.target: {source} is a built-in set with one target of its own; "
                            "several target columns are read from a file or a DataFrame")  # fmt: skip
        loader, builtin_task = BUILTIN[source]
        frame, y = loader()
        check_features_exclude_target(features, y.name, source)
        return Table(select_columns(frame, features, source), y, task or builtin_task, source)
    path = Path(source)
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".npz": _read_npz}
    suffix = path.suffix.lower()
    if suffix not in readers:
        raise DataError(
            f"data.source: {source!r} is neither a built-in data set ({', '.join(BUILTIN)}) "
            "nor a .csv, .parquet or .npz file"
        )
    if not path.is_file():
        raise DataError(f"{source}: data file not found")
    try:
        frame = readers[suffix](path)
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        raise DataError(f"{source}: cannot read the file ({type(exc).__name__}: {exc})") from None
    return frame_table(frame, source, target, task, features)


def frame_table(
    frame: pd.DataFrame, source: str, target: str | list[str] | None, task: str | None,
    features: list[str] | None,
) -> Table:  # fmt: skip
    """A :class:`Table` from a whole frame and the name of its target column (or columns).

    ``source`` names the file (or function) as the user wrote it, so messages point at it.
    """
    if isinstance(target, list):
        return _several_targets(frame, source, target, task, features)
    if target is None:
        raise DataError(f"data.target: {source} needs the name of its target column")
    if target not in frame.columns:
        raise DataError(f"{source}: data.target column {target!r} not found in {list(frame.columns)}")
    check_features_exclude_target(features, target, source)
    frame = frame.copy()
    y = frame.pop(target)
    if y.isna().any():
        raise DataError(f"{source}: target column {target!r} has {int(y.isna().sum())} missing values")
    return Table(select_columns(frame, features, source), y, task or infer_task(y), source)


def _several_targets(frame: pd.DataFrame, source: str, targets: list[str], task: str | None,
                     features: list[str] | None) -> Table:  # fmt: skip
    """``data.target: [y1, y2, ...]``: numeric columns without gaps, regressed together."""
    missing = [name for name in targets if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: data.target columns {missing} not found in {list(frame.columns)}")
    for name in targets:
        check_features_exclude_target(features, name, source)
    if task == "classification":
        raise DataError(f"data.target: {source}: several target columns need data.task: regression")
    y = frame[targets]
    text = [name for name in targets if not pd.api.types.is_numeric_dtype(y[name])
            or pd.api.types.is_bool_dtype(y[name])]  # fmt: skip
    if text:
        raise DataError(f"{source}: target columns {text} are not numeric; several targets are "
                        "regressed together (one classification target at a time)")  # fmt: skip
    gaps = {name: int(n) for name, n in y.isna().sum().items() if n}
    if gaps:
        raise DataError(f"{source}: target columns have missing values {gaps}")
    rest = frame.drop(columns=targets)
    return Table(select_columns(rest, features, source), y.copy(), "regression", source)


def infer_task(y: pd.Series) -> str:
    """Classification for text, boolean and categorical targets and for integers with few values."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    integral = pd.api.types.is_integer_dtype(y) or bool(np.all(np.mod(y.to_numpy(), 1) == 0))
    return "classification" if integral and y.nunique() <= MAX_INFERRED_CLASSES else "regression"


def select_columns(frame: pd.DataFrame, features: list[str] | None, source: str) -> pd.DataFrame:
    if features is None:
        return frame
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: data.features names missing columns {missing}")
    return frame[features]


def _read_npz(path: Path) -> pd.DataFrame:
    """An ``.npz`` with a 2-D ``X`` and 1-D arrays beside it (the target among them)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    if "X" not in arrays or arrays["X"].ndim != 2:
        raise DataError(f"{path}: expected a 2-D array named 'X' and a 1-D target array")
    x = arrays.pop("X")
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    for key, column in arrays.items():
        if column.shape != (len(frame),):
            raise DataError(f"{path}: array {key!r} has shape {column.shape}, expected ({len(frame)},)")
        frame[key] = column
    return frame
