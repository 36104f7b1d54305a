"""Using a finished run on new rows: ``tuneforge evaluate`` and ``tuneforge predict``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tuneforge.data.sources import load_table
from tuneforge.data.split import holdout
from tuneforge.engine.module import predict_tensor
from tuneforge.errors import DataError
from tuneforge.evaluate.metrics import final_metrics
from tuneforge.run import load_run


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
    """The input rows with a ``prediction`` column appended."""
    run = load_run(run_dir)
    frame = read_rows(Path(input_file))
    frame["prediction"] = run.predict(frame, source=str(input_file))
    return frame


def evaluate_run(run_dir: Path, data: Path | None = None, part: str = "test") -> dict[str, float]:
    """Scores of a saved model on one of its own splits, or on a labelled file."""
    run = load_run(run_dir)
    cfg = run.config.data
    if data is not None:
        table = load_table(str(data), cfg.target, run.summary["task"], cfg.features)
        rows = np.arange(len(table.target))
    else:
        if part not in ("train", "val", "test"):
            raise DataError(f"--part: expected train, val or test, got {part!r}")
        table = load_table(cfg.source, cfg.target, cfg.task, cfg.features)
        split = holdout(table.target.to_numpy(), table.task, cfg.split.val, cfg.split.test,
                        cfg.split.seed)  # fmt: skip
        rows = dict(zip(("train", "val", "test"), split, strict=True))[part]
    features = table.features.iloc[rows]
    x = torch.as_tensor(run.encoder.transform(features, str(data or cfg.source)))
    try:
        y = run.encoder.encode_target(table.target.iloc[rows])
    except ValueError as exc:  # a label the model never saw
        raise DataError(f"{data or cfg.source}: target column: {exc}") from None
    pred = predict_tensor(run.model, x).numpy()
    enc = run.encoder
    return final_metrics(pred, y, run.summary["task"], enc.target_mean, enc.target_std)
