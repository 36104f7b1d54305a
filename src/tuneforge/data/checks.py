"""What tuneforge checks in a table before fitting anything (docs/data.md lists every check).

Refusals raise :class:`DataError` (exit code 2, one line naming the file and the column); doubts
become warnings that travel with the :class:`~tuneforge.data.Dataset` into ``summary.json``, the
run report and the console. Rows are counted from 1, the header not counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tuneforge.errors import DataError

#: A text column is "numeric with stray text" when at least this share of its values are numbers.
MOSTLY_NUMERIC = 0.5


def check_target(y: pd.Series | pd.DataFrame, task: str, source: str) -> None:
    """A target must vary (one value leaves nothing to learn) and be finite when it is numeric.

    Several targets (a frame): each column is checked so.
    """
    if isinstance(y, pd.DataFrame):
        for name in y.columns:
            check_target(y[name], task, source)
        return
    if len(y) == 0:
        raise DataError(f"{source}: no rows (the file holds only a header)")
    if y.nunique(dropna=True) == 1:
        value = y.dropna().iloc[0]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(f"{source}: target column {y.name!r} has a single value ({value!r}) "
                        "in every row: there is nothing to learn")  # fmt: skip
    if task == "regression" and pd.api.types.is_numeric_dtype(y):
        _refuse_infinite(y, f"target column {y.name!r}", source)


def check_finite(frame: pd.DataFrame, source: str) -> None:
    """No ±inf in a numeric feature column: scalers and the loss would turn it into NaN."""
    for name in frame.columns:
        column = frame[name]
        if isinstance(column, pd.Series) and pd.api.types.is_float_dtype(column):
            _refuse_infinite(column, f"column {name!r}", source)


def _refuse_infinite(column: pd.Series, what: str, source: str) -> None:
    infinite = np.isinf(column.to_numpy(dtype=np.float64, na_value=np.nan))
    if infinite.any():
        row = int(np.argmax(infinite))
        many = int(infinite.sum())
        raise DataError(f"{source}: {what} holds {column.iloc[row]} in row {row + 1} ({many} "
                        f"row{'s' if many > 1 else ''} in all); only finite numbers can be learned")  # fmt: skip


def check_features_exclude_target(features: list[str] | None, target: str | None, source: str) -> None:
    if features is not None and target is not None and target in features:
        raise DataError(f"{source}: data.features lists {target!r}, which is data.target (the "
                        "column predicted); remove it from data.features")  # fmt: skip


def to_numeric(frame: pd.DataFrame, columns: list[str] | None, source: str) -> pd.DataFrame:
    """``data.numeric``: these columns read as numbers; a value that is not one becomes missing."""
    if not columns:
        return frame
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise DataError(f"data.numeric: columns {unknown} are not in {source}")
    frame = frame.copy()
    for name in columns:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return frame


def column_warnings(frame: pd.DataFrame, categorical: list[str], impute: str | None) -> list[str]:
    """Warnings about columns the encoder would treat in a way the user likely did not mean."""
    found = []
    for name in categorical:
        if name in frame.columns and (stray := _stray_text(frame[name])) is not None:
            share, example, row = stray
            found.append(f"column {name!r}: {share:.0%} of its values are numbers, but not "
                         f"{example!r} (row {row}); it is one-hot encoded as categories. Set "
                         "data.numeric to read it as numbers (text becomes missing) or list it in "
                         "data.categorical to keep it")  # fmt: skip
    if impute is not None:
        for name in frame.columns[frame.isna().all().to_numpy()]:
            found.append(f"column {name!r}: every value is missing, so data.impute drops it")
    return found


def _stray_text(column: pd.Series) -> tuple[float, str, int] | None:
    """(share of numbers, first text value, its row) for a text column that is mostly numbers."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    present = column.dropna()
    if present.empty:
        return None
    numbers = pd.to_numeric(present, errors="coerce").notna().to_numpy()
    share = float(numbers.mean())
    if share < MOSTLY_NUMERIC or share == 1.0:
        return None
    first = int(np.argmin(numbers))
    row = column.index.get_loc(present.index[first]) + 1
    return share, str(present.iloc[first]), int(row)


def check_numeric_features(frame: pd.DataFrame, numeric: list[str], source: str) -> None:
    """Columns the encoder scales as numbers must hold numbers (``data.categorical`` given)."""
    for name in numeric:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        present = column.dropna()
        bad = pd.to_numeric(present, errors="coerce").isna().to_numpy()
        if bad.any():
            example = present.iloc[int(np.argmax(bad))]
            raise DataError(f"{source}: column {name!r} is not in data.categorical but holds the "
                            f"text {str(example)!r}; list it in data.categorical or data.numeric")  # fmt: skip
