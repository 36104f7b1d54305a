"""Using a finished run on new rows: ``tuneforge evaluate`` and ``tuneforge predict``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tuneforge.data.rows import as_rows
from tuneforge.data.sources import load_table
from tuneforge.data.split import holdout
from tuneforge.data.tensors import load_arrays, read_npz_arrays
from tuneforge.data.usersource import load_user_source
from tuneforge.engine.module import predict_tensor
from tuneforge.errors import DataError
from tuneforge.evaluate.metrics import final_metrics
from tuneforge.evaluate.scorers import extra_scores
from tuneforge.run import load_run
from tuneforge.usercode import is_spec

#: data.source of a model fitted through tuneforge.sklearn (sklearn/_recipe.py).
ARRAYS = "arrays"


def read_rows(path: Path) -> pd.DataFrame:
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet}
    if path.suffix.lower() not in readers:
        raise DataError(f"{path}: expected a .csv or .parquet file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return readers[path.suffix.lower()](path)
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        raise DataError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None


def predict_file(run_dir: Path, input_file: Path) -> pd.DataFrame:
    """The input rows with a ``prediction`` column appended (``prediction_<target>`` per
    target when the run has several).

    Image and sequence runs read an ``.npz`` (array ``x``, optional ``lengths``) and return one
    row per input row: its position (``row``) and its ``prediction``.
    """
    run = load_run(run_dir, for_prediction=True)
    input_file = Path(input_file)
    layout = run.encoder.layout
    if layout == "table":
        frame = read_rows(input_file)
        values = run.predict(frame, source=str(input_file))
        if run.encoder.targets:  # several targets: one column each, in data.target's order
            return frame.assign(**{f"prediction_{t}": values[:, i]
                                   for i, t in enumerate(run.encoder.targets)})  # fmt: skip
        frame["prediction"] = values
        return frame
    if input_file.suffix.lower() != ".npz":
        raise DataError(f"{input_file}: this run's model takes {layout} rows; give an .npz file "
                        "with an array 'x' (and 'lengths' for padded sequences)")  # fmt: skip
    x, _, lengths = read_npz_arrays(input_file, None)
    x = as_rows(x, layout, str(input_file), lengths)
    return pd.DataFrame({"row": np.arange(len(x)), "prediction": run.predict(x, source=str(input_file))})


def evaluate_run(run_dir: Path, data: Path | None = None, part: str = "test") -> dict[str, float]:
    """Scores of a saved model on one of its own splits, or on a labelled file."""
    run = load_run(run_dir)
    cfg = run.config.data
    if data is None and part not in ("train", "val", "test"):
        raise DataError(f"--part: expected train, val or test, got {part!r}")
    if data is None and cfg.source == ARRAYS:
        raise DataError(f"{run_dir}: fitted on in-memory arrays (tuneforge.sklearn), whose rows are "
                        "not stored; score it on a labelled file with --data FILE")  # fmt: skip
    name = str(data or cfg.source)
    if run.encoder.layout == "table":
        features, target = _table_rows(run, data, part)
        x = run.encoder.transform(features, name)
    else:
        x, target = _array_rows(run, data, part)
        x = run.encoder.transform_array(x, name)
    try:
        y = run.encoder.encode_target(target)
    except ValueError as exc:  # a label the model never saw
        raise DataError(f"{name}: target column: {exc}") from None
    pred = predict_tensor(run.model, torch.as_tensor(x)).numpy()
    enc, task = run.encoder, run.summary["task"]
    extra = extra_scores(run.config.train.metrics, pred, y, task, enc.target_mean, enc.target_std)
    return final_metrics(pred, y, task, enc.target_mean, enc.target_std, enc.targets) | extra


def _table_rows(run, data: Path | None, part: str) -> tuple[pd.DataFrame, pd.Series]:
    cfg = run.config.data
    if data is not None:
        table = load_table(str(data), cfg.target, run.summary["task"], cfg.features)
        return table.features, table.target
    if is_spec(cfg.source):  # the user's data function, imported again
        table = load_user_source(cfg)
    else:
        table = load_table(cfg.source, cfg.target, cfg.task, cfg.features)
    rows = _split_rows(table.target, table.task, cfg, part)
    return table.features.iloc[rows], table.target.iloc[rows]


def _array_rows(run, data: Path | None, part: str) -> tuple[np.ndarray, pd.Series]:
    cfg = run.config.data
    if data is not None:
        x, y, lengths = read_npz_arrays(Path(data), cfg.target or "y")
        return as_rows(x, cfg.shape, str(data), lengths), pd.Series(y)
    src = load_user_source(cfg) if is_spec(cfg.source) else load_arrays(cfg)
    rows = _split_rows(src.target, src.task, cfg, part)
    return src.x[rows], src.target.iloc[rows]


def _split_rows(target: pd.Series, task: str, cfg, part: str) -> np.ndarray:
    split = holdout(target.to_numpy(), task, cfg.split.val, cfg.split.test, cfg.split.seed)
    return dict(zip(("train", "val", "test"), split, strict=True))[part]
