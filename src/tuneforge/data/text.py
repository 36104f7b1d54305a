"""Text columns for pretrained Hugging Face models: tokenized once, up front, into tensors.

Every row becomes a ``[2, L]`` int64 block (token ids, attention mask), so a part of the data
is one ``[N, 2, L]`` tensor and :class:`~tuneforge.data.Batches` slices it like any other
(no DataLoader, no per-batch tokenization). ``L`` is the longest text in the table, capped at
``data.max_length``. The tokenizer is read from a local folder or the local cache only
(``local_files_only=True``): nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tuneforge.data.prep import Encoder
from tuneforge.errors import ConfigError, DataError


@lru_cache(maxsize=4)
def load_tokenizer(name: str):
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("data.text: tokenizing needs transformers; pip install "
                          "'tuneforge[hf]'") from None  # fmt: skip
    if name.startswith(("/", ".", "~")) and not Path(name).expanduser().is_dir():
        raise ConfigError(f"model.hf/model.source: {name}: no such directory")
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"model.hf/model.source: no tokenizer in {name!r} or in the local "
                          f"Hugging Face cache; nothing is downloaded ({first})") from None  # fmt: skip


@dataclass
class TextEncoder(Encoder):
    """An :class:`Encoder` whose features are one text column, tokenized."""

    tokenizer: str = ""
    max_length: int = 128

    def transform(self, frame: pd.DataFrame, source: str = "input") -> np.ndarray:
        (column,) = self.columns
        if column not in frame.columns:
            raise DataError(f"{source}: missing text column {column!r} (data.text)")
        texts = frame[column]
        if texts.isna().any():
            raise DataError(f"{source}: text column {column!r} has {int(texts.isna().sum())} "
                            "missing values")  # fmt: skip
        tokens = load_tokenizer(self.tokenizer)(
            texts.astype(str).tolist(), padding="longest", truncation=True,
            max_length=self.max_length, return_tensors="np",
        )  # fmt: skip
        return np.stack([tokens["input_ids"], tokens["attention_mask"]], axis=1).astype(np.int64)

    def save(self, path: str | Path) -> None:
        import skops.io

        skops.io.dump({"labels": self.labels, "target": [self.target_mean, self.target_std],
                       "columns": list(self.columns), "text": {"tokenizer": self.tokenizer,
                       "max_length": self.max_length}}, path)  # fmt: skip


def fit_text_encoder(table, rows: dict[str, np.ndarray], cfg) -> TextEncoder:
    """Class labels (whole column) or the target's mean and scale (training rows only)."""
    labels, mean, std = None, 0.0, 1.0
    if table.task == "classification":
        from sklearn.preprocessing import LabelEncoder

        labels = LabelEncoder().fit(table.target)
    elif cfg.standardize_target:
        values = table.target.iloc[rows["train"]].to_numpy(dtype=np.float64)
        mean, std = float(values.mean()), float(values.std()) or 1.0
    return TextEncoder(None, labels, mean, std, (cfg.text,), None,
                       tokenizer=cfg.tokenizer, max_length=cfg.max_length)  # fmt: skip


def encode_text(table, rows: dict[str, np.ndarray], cfg, device):
    """The :class:`~tuneforge.data.Dataset` of a text table: ``x[part]`` is ``[n, 2, L]`` int64."""
    from tuneforge.data import Dataset  # the package imports this module

    if cfg.tokenizer is None:
        raise ConfigError("data.text: text needs a tokenizer; use model.kind: pretrained with a "
                          "Hugging Face model (model.hf or model.source)")  # fmt: skip
    encoder = fit_text_encoder(table, rows, cfg)
    tokens = encoder.transform(table.features, table.name)
    targets = encoder.encode_target(table.target)
    x = {part: torch.as_tensor(tokens[idx], device=device) for part, idx in rows.items()}
    y = {part: torch.as_tensor(targets[idx], device=device) for part, idx in rows.items()}
    return Dataset(table.task, encoder, x, y, ["input_ids", "attention_mask"], rows)


def text_table(table, column: str):
    """``table`` with its features cut down to the text column (checked by name)."""
    if column not in table.features.columns:
        raise DataError(f"{table.name}: data.text column {column!r} not found in "
                        f"{list(table.features.columns)}")  # fmt: skip
    table.features = table.features[[column]]
    return table


def load_text_encoder(state: dict) -> TextEncoder:
    mean, std = state["target"]
    text = state["text"]
    return TextEncoder(None, state["labels"], mean, std, tuple(state["columns"]), None,
                       tokenizer=text["tokenizer"], max_length=int(text["max_length"]))  # fmt: skip
