"""Loading a run's fitted encoder, and reusing it (``data.encoder_from``, set by fine-tuning).

Fine-tuning a tuneforge run on new rows of the same kind of data should feed the body inputs
scaled exactly as in pre-training: the body learned on the source run's means, scales,
categories and ``data.prep`` steps. So when the new table has the same feature columns as the
source, its fitted feature transform is reused unchanged (the target encoding is fitted anew:
the new task may have other classes). With other columns, a new encoder is fitted on the new
training rows, and the model checks that the input width still matches.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from tuneforge.data.prep import Encoder, read_encoder_state
from tuneforge.data.text import load_text_encoder
from tuneforge.errors import DataError


def load_encoder(path: str | Path, for_prediction: bool = False) -> Encoder:
    """A run's encoder, saved as ``path`` (``encoder.skops``): a table / array encoder, or a text
    column's tokenizer settings; read from its plain ``encoder.json`` when there is one.

    ``for_prediction``: read the plain form even when an ``encoder.skops`` is beside it (runs
    written before the plain form became the only record keep both)."""
    if for_prediction or not Path(path).is_file():
        if (plain := Encoder.load_plain(path)) is not None:
            return plain
    state = read_encoder_state(path)
    if "text" in state:  # a tokenized text column (data/text.py)
        return load_text_encoder(state)
    return Encoder.from_state(state)


def reuse_encoder(fresh: Encoder, run_dir: str, frame: pd.DataFrame) -> Encoder:
    """``fresh`` with the feature transform of ``run_dir`` when the feature columns match."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise DataError(f"model.source: {run_dir}: no such directory (expected a tuneforge run "
                        "directory or a Hugging Face model folder)")  # fmt: skip
    path = folder / "encoder.skops"
    if not path.is_file() and not path.with_suffix(".json").is_file():
        if (folder / "config.json").is_file():
            raise DataError(f"model.source: {run_dir} is a Hugging Face model folder; set "
                            "data.text to the text column to fine-tune it")  # fmt: skip
        raise DataError(f"model.source: {run_dir} is not a finished tuneforge run (missing "
                        "encoder.skops or encoder.json); set model.encoder: refit to fit a new encoder")  # fmt: skip
    source = load_encoder(path)
    if list(source.columns) != list(frame.columns):
        return fresh
    return replace(fresh, features=source.features, impute=source.impute, numeric=source.numeric)
