"""The plain (JSON) form of the common encoder, so runs are written and read without skops.

Why ours and not only skops: importing ``skops.io`` lists every scikit-learn estimator (it
imports all of scikit-learn and scans every loaded module for each type without a module name):
2-3 s in a process that has torch loaded, for writing or reading two arrays. Most runs' encoder
is just the standard scaler over numeric columns and a label encoder, i.e. two arrays and a list
of classes. Those runs keep only ``encoder.json`` (the complete record: ``predict``, ``evaluate``,
fine-tuning and the estimators read it); every other encoder is written to ``encoder.skops``.
The arithmetic is scikit-learn's own, in its order (float64: subtract ``mean_``, divide by
``scale_``; labels by their sorted classes), so the numbers are identical
(tests/data/test_plain_encoder.py compares them with the fitted scikit-learn encoder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class StandardizedColumns:
    """``StandardScaler().transform`` over every column of a frame, in order (the encoder's
    ``ColumnTransformer`` with one ``num`` part, whose output names it also gives)."""

    def __init__(self, mean: list[float], scale: list[float], columns: tuple[str, ...] = ()):
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.columns = tuple(columns)

    def get_feature_names_out(self) -> np.ndarray:
        return np.asarray(self.columns, dtype=object)  # verbose_feature_names_out=False

    def transform(self, frame) -> np.ndarray:
        x = frame.to_numpy(dtype=np.float64, copy=True)  # text in a column raises ValueError
        if not np.isfinite(x).all():  # scikit-learn's check_array refuses these too
            raise ValueError("Input X contains infinity or a value too large for dtype('float64')")
        x -= self.mean_
        x /= self.scale_
        return x


class PlainLabels:
    """A fitted ``LabelEncoder``: class value <-> index in its sorted ``classes_``."""

    def __init__(self, classes: list):
        self.classes_ = np.asarray(classes)

    def transform(self, values) -> np.ndarray:
        values = np.asarray(values)
        index = np.clip(np.searchsorted(self.classes_, values), 0, len(self.classes_) - 1)
        unseen = self.classes_[index] != values
        if unseen.any():  # scikit-learn's message
            raise ValueError(f"y contains previously unseen labels: {sorted(set(values[unseen].tolist()))}")
        return index

    def inverse_transform(self, index: np.ndarray) -> np.ndarray:
        return self.classes_[np.asarray(index, dtype=np.int64)]


def plain_form(encoder) -> dict | None:
    """The JSON form of ``encoder`` (a :class:`tuneforge.data.prep.Encoder`), or None.

    None unless it is the common case: table rows, no imputation, no ``data.prep`` steps, no
    categorical columns, numeric columns standardized, and class values JSON keeps exactly.
    """
    features, labels = encoder.features, encoder.labels
    if isinstance(features, StandardizedColumns):  # read back from an encoder.json: plain already
        return _form(encoder, features.mean_, features.scale_, labels and labels.classes_.tolist())
    if encoder.layout != "table" or encoder.impute is not None:
        return None
    if type(features).__name__ != "ColumnTransformer" or features.remainder != "drop":
        return None
    parts = {name: (step, list(columns)) for name, step, columns in features.transformers_}
    numeric = parts.get("num")
    if numeric is None or numeric[1] != list(encoder.columns) or len(parts.get("cat", (0, []))[1]):
        return None
    steps = getattr(numeric[0], "steps", [])
    if [type(step).__name__ for _, step in steps] != ["StandardScaler"]:
        return None
    scaler = steps[0][1]
    if not (scaler.with_mean and scaler.with_std):
        return None
    if encoder.targets:  # several targets: the complete .skops form keeps their statistics
        return None
    classes = None
    if labels is not None:
        classes = labels.classes_.tolist()
        if not all(type(c) in (int, str) for c in classes):  # floats, bools, None: skops only
            return None
    return _form(encoder, scaler.mean_, scaler.scale_, classes)


def _form(encoder, mean: np.ndarray, scale: np.ndarray, classes: list | None) -> dict:
    return {"columns": list(encoder.columns), "mean": mean.tolist(), "scale": scale.tolist(),
            "classes": classes, "target": [encoder.target_mean, encoder.target_std]}  # fmt: skip


def write_plain(encoder, path: Path) -> bool:
    """Write ``path`` (``encoder.json``) when the encoder has a plain form (True); else remove it."""
    form = plain_form(encoder)
    if form is None:
        path.unlink(missing_ok=True)  # a stale one would disagree with encoder.skops
        return False
    path.write_text(json.dumps(form))
    return True


def read_plain(path: Path) -> dict | None:
    """The parts of an ``Encoder`` stored in ``path``, or None when there is no such file."""
    if not path.is_file():
        return None
    form = json.loads(path.read_text())
    labels = None if form["classes"] is None else PlainLabels(form["classes"])
    mean, std = form["target"]
    return {"features": StandardizedColumns(form["mean"], form["scale"], form["columns"]), "labels": labels,
            "target_mean": mean, "target_std": std, "columns": tuple(form["columns"])}  # fmt: skip
