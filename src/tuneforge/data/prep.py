"""Feature and target encoding, fitted on the training rows only and saved with the model.

scikit-learn does the work (``ColumnTransformer`` with imputation, scaling and one-hot encoding);
``skops`` saves it, so a run directory never holds a pickle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tuneforge.config.transforms import PrepConfig
from tuneforge.data.checks import to_numeric
from tuneforge.data.rows import as_rows, scale
from tuneforge.errors import DataError

if TYPE_CHECKING:  # imported where an encoder is fitted: reading one (predict) needs none of it
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder, StandardScaler


@dataclass
class Encoder:
    """Turns a raw feature frame into a float32 matrix and targets into model targets."""

    features: ColumnTransformer | Pipeline | StandardScaler | None  # see `layout`
    labels: LabelEncoder | None  # classification: class value <-> index
    #: regression: y_model = (y - mean) / std; one number per target column when there are several
    target_mean: float | tuple[float, ...] = 0.0
    target_std: float | tuple[float, ...] = 1.0
    columns: tuple[str, ...] = ()
    impute: str | None = None  # data.impute: without it, missing values are an error
    #: table: ``features`` is a ColumnTransformer (a Pipeline with data.prep); image/sequence:
    #: a per-channel StandardScaler (None: not standardized) and ``columns`` names the channels.
    layout: str = "table"
    numeric: tuple[str, ...] = ()  # data.numeric: text in these columns becomes missing
    targets: tuple[str, ...] = ()  # data.target as a list: the columns, in the model's output order

    def transform(self, frame: pd.DataFrame, source: str = "input") -> np.ndarray:
        if self.layout != "table":
            raise DataError(f"{source}: this model takes {self.layout} rows, not table columns; "
                            "give an .npz file with an array 'x'")  # fmt: skip
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: missing feature columns {missing}")
        frame = to_numeric(frame[list(self.columns)], list(self.numeric), source)
        # Without an imputer, NaN would flow through the scaler into silent NaN predictions.
        check_missing(frame, self.impute, source)
        try:
            encoded = self.features.transform(frame)
        except (ValueError, TypeError) as exc:  # e.g. text in a column that was numeric
            raise DataError(f"{source}: cannot encode the feature columns ({exc})") from None
        return np.asarray(encoded, dtype=np.float32)

    def transform_array(self, x: np.ndarray, source: str = "input") -> np.ndarray:
        """Images ``[N, C, H, W]`` or sequences ``[N, T, F]`` / ``[N, T]``, as in training."""
        if self.layout == "table":
            raise DataError(f"{source}: this model takes table rows, not a {x.ndim}-D array")
        x = as_rows(x, self.layout, source)
        channels = x.shape[1] if self.layout == "image" else x.shape[-1] if x.ndim == 3 else 0
        if channels != len(self.columns):
            raise DataError(f"{source}: expected {len(self.columns) or 'token id'} "
                            f"{'channels' if self.layout == 'image' else 'features'} per step "
                            f"as in training, got x of shape {list(x.shape)}")  # fmt: skip
        return scale(self.features, x, self.layout)

    def encode_target(self, y: pd.Series | pd.DataFrame) -> np.ndarray:
        """Model targets: class indices ``[n]``, or values ``[n]`` (``[n, targets]`` for several)."""
        if self.labels is not None:
            return self.labels.transform(y).astype(np.int64)
        if self.targets:
            y = y[list(self.targets)]  # the model's output order
        values = y.to_numpy(dtype=np.float64)
        mean, std = np.asarray(self.target_mean), np.asarray(self.target_std)
        return ((values - mean) / std).astype(np.float32)

    def decode_target(self, values: np.ndarray) -> np.ndarray:
        if self.labels is not None:
            return self.labels.inverse_transform(values)
        return values * np.asarray(self.target_std) + np.asarray(self.target_mean)

    def save(self, path: str | Path) -> None:
        """``path`` (``encoder.skops``), or only ``encoder.json`` beside it when the encoder has
        a plain form (data/plain.py: it spares every run the ~2 s import of skops)."""
        from tuneforge.data.plain import write_plain

        if write_plain(self, Path(path).with_suffix(".json")):
            Path(path).unlink(missing_ok=True)  # a stale one would disagree with encoder.json
            return
        import skops.io  # imported on use: it costs ~2 s of start-up

        skops.io.dump(
            {
                "features": self.features,
                "labels": self.labels,
                "target": [self.target_mean, self.target_std],
                "columns": list(self.columns),
                "impute": self.impute,
                "layout": self.layout,
                "numeric": list(self.numeric),
                "targets": list(self.targets),
            },
            path,
        )

    @classmethod
    def load_plain(cls, path: str | Path) -> Encoder | None:
        """The encoder saved at ``path`` from its plain ``.json`` form, or None if it has none."""
        from tuneforge.data.plain import read_plain

        parts = read_plain(Path(path).with_suffix(".json"))
        return None if parts is None else cls(**parts)

    @classmethod
    def from_state(cls, state: dict) -> Encoder:
        """The encoder :meth:`save` wrote, from :func:`read_encoder_state`'s dict (a text
        encoder's state is read by ``tuneforge.data.reuse.load_encoder``)."""
        mean, std = (tuple(v) if isinstance(v, list) else v for v in state["target"])
        columns = tuple(state["columns"])
        return cls(state["features"], state["labels"], mean, std, columns, state.get("impute"),
                   state.get("layout", "table"), tuple(state.get("numeric", ())),
                   tuple(state.get("targets", ())))  # fmt: skip


def read_encoder_state(path: str | Path) -> dict:
    """What :meth:`Encoder.save` wrote, loaded with skops trusting scikit-learn and numpy only."""
    import skops.io

    trusted = skops.io.get_untrusted_types(file=path)
    # Only scikit-learn and numpy types may be untrusted-by-default here; anything else is refused.
    unexpected = [t for t in trusted if not t.startswith(("sklearn.", "numpy."))]
    if unexpected:
        raise DataError(f"{path}: refusing to load unexpected types {unexpected}")
    return skops.io.load(path, trusted=trusted)


def check_missing(frame: pd.DataFrame, impute: str | None, source: str) -> None:
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    if len(counts) and impute is None:
        listed = ", ".join(f"{name!r} ({int(n)} rows)" for name, n in counts.items())
        noun = "column" if len(counts) == 1 else "columns"
        raise DataError(
            f"{source}: missing values in {noun} {listed}; set data.impute to mean, median "
            "or most_frequent, or clean the file"
        )


def categorical_columns(frame: pd.DataFrame, given: list[str] | None) -> list[str]:
    if given is not None:
        return given
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
            or pd.api.types.is_bool_dtype(frame[c])]  # fmt: skip


def fit_encoder(
    frame: pd.DataFrame,
    y: pd.Series,
    train_rows: np.ndarray,
    task: str,
    categorical: list[str],
    impute: str | None,
    standardize: bool,
    standardize_target: bool,
    prep: PrepConfig | None = None,
    seed: int = 0,
) -> Encoder:
    """Fit every statistic (means, scales, categories, imputed values) on ``train_rows`` only.

    ``prep`` (``data.prep``) adds polynomial/select/pca steps, fitted on the same rows; ``seed``
    seeds the randomized ones (mutual information, forest importances).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    from tuneforge.data.reduce import fit_prep

    numeric = [c for c in frame.columns if c not in categorical]
    num_steps = ([SimpleImputer(strategy=impute)] if impute else []) + (
        [StandardScaler()] if standardize else []
    )
    cat_steps = ([SimpleImputer(strategy="most_frequent")] if impute else []) + [
        OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    ]
    features = ColumnTransformer(
        [
            ("num", make_pipeline(*num_steps) if num_steps else "passthrough", numeric),
            ("cat", make_pipeline(*cat_steps), categorical),
        ],
        verbose_feature_names_out=False,
    )
    train = frame.iloc[train_rows]
    with warnings.catch_warnings():  # said once, naming the column, by checks.column_warnings
        warnings.filterwarnings("ignore", "Skipping features without any observed values")
        features.fit(train)
    if task == "classification":
        labels = LabelEncoder().fit(y)  # the label set is the whole column's, not a statistic
        y_train = labels.transform(y.iloc[train_rows])
        features = fit_prep(features, prep, train, y_train, task, seed)
        return Encoder(features, labels, columns=tuple(frame.columns), impute=impute)
    if prep is not None:
        features = fit_prep(features, prep, train, y.iloc[train_rows].to_numpy(np.float64), task, seed)
    mean, std = 0.0, 1.0
    if standardize_target:
        values = y.iloc[train_rows].to_numpy(dtype=np.float64)
        mean, std = values.mean(0), values.std(0)
        mean, std = (float(mean), float(std) or 1.0) if values.ndim == 1 else (
            tuple(mean.tolist()), tuple(s or 1.0 for s in std.tolist()))  # fmt: skip
    elif isinstance(y, pd.DataFrame):
        mean, std = (0.0,) * y.shape[1], (1.0,) * y.shape[1]
    targets = tuple(y.columns) if isinstance(y, pd.DataFrame) else ()
    return Encoder(features, None, mean, std, tuple(frame.columns), impute, targets=targets)
