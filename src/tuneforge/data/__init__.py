"""Data: sources, splits, encoding fitted on training rows, tensors on the device, batches.

``prepare(cfg.data)`` is the one entry point the engines use; it knows nothing of models.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from tuneforge.config.schema import DataConfig
from tuneforge.data.arrays import from_arrays
from tuneforge.data.batches import Batches
from tuneforge.data.checks import (
    check_finite,
    check_numeric_features,
    check_target,
    column_warnings,
    to_numeric,
)
from tuneforge.data.prep import Encoder, categorical_columns, check_missing, fit_encoder
from tuneforge.data.reuse import load_encoder, reuse_encoder
from tuneforge.data.sources import BUILTIN, Table, load_table
from tuneforge.data.split import holdout, kfold
from tuneforge.data.tensors import ArraySource, fit_array_encoder, load_arrays
from tuneforge.data.text import encode_text, text_table
from tuneforge.data.usersource import load_user_source
from tuneforge.errors import DataError
from tuneforge.usercode import is_spec

__all__ = ["BUILTIN", "Batches", "Dataset", "Encoder", "from_arrays", "load_encoder", "load_table",
           "prepare"]

PARTS = ("train", "val", "test")


@dataclass
class Dataset:
    """Encoded tensors for each part (``train``, ``val``, ``test``) and how they were made."""

    task: str
    encoder: Encoder
    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    feature_names: list[str]
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # row positions in the source
    #: Doubts about the data (data/checks.py): they go into summary.json, the report and the console.
    warnings: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int | list[int]:
        """Feature count of table rows; the row shape (``[C, H, W]``, ``[T, F]``, ``[T]``) else."""
        x = self.x["train"]
        return x.shape[1] if x.ndim == 2 and x.is_floating_point() else list(x.shape[1:])

    @property
    def targets(self) -> tuple[str, ...]:
        """The target columns when there are several (``data.target: [...]``), else ``()``."""
        return self.encoder.targets

    @property
    def classes(self) -> list | None:
        labels = self.encoder.labels
        return None if labels is None else labels.classes_.tolist()

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def size(self, part: str) -> int:
        return len(self.x[part])

    def to(self, device: torch.device | str) -> Dataset:
        """This data set with its tensors on ``device``; itself when they are there already.

        The engines train where ``train.device`` says; a data set prepared elsewhere (a caller's,
        made on the CPU) follows the model rather than failing inside the first step.
        """
        device = torch.device(device)
        tensors = [*self.x.values(), *self.y.values()]
        if all(_on(t, device) for t in tensors):
            return self
        return replace(self, x={k: v.to(device) for k, v in self.x.items()},
                       y={k: v.to(device) for k, v in self.y.items()})  # fmt: skip


def _on(tensor: torch.Tensor, device: torch.device) -> bool:
    """Whether ``tensor`` lies on ``device`` (``cuda`` without an index: the current GPU)."""
    here = tensor.device
    return here.type == device.type and (device.index is None or here.index == device.index)


def prepare(
    cfg: DataConfig,
    device: torch.device | str = "cpu",
    fold: int | None = None,
    refit: bool = False,
) -> Dataset:
    """Load, split and encode ``cfg``'s data; tensors land on ``device``.

    Args:
        fold: for k-fold runs, which of ``cfg.folds`` folds of the non-test rows is validation.
        refit: train on train+val (no validation part), e.g. to refit a tuned recipe.
    """
    if isinstance(cfg.target, list) and (cfg.shape in ("image", "sequence") or cfg.text is not None):
        raise DataError(f"data.target: several target columns are for table rows, not "
                        f"{cfg.shape or 'text'} rows; name one target")  # fmt: skip
    if is_spec(cfg.source):  # the user's function, or rows given to the Python API
        table = load_user_source(cfg)
    elif cfg.shape in ("image", "sequence"):
        table = load_arrays(cfg)
    else:
        table = load_table(cfg.source, cfg.target, cfg.task, cfg.features)
    check_target(table.target, table.task, table.name)
    if cfg.shape not in ("image", "sequence") and cfg.text is None:  # text: checked when tokenized
        check_missing(table.features, cfg.impute, table.name)
        check_finite(table.features, table.name)
    several = isinstance(table.target, pd.DataFrame)  # checked column by column (sources.py)
    if table.task == "regression" and not several and not pd.api.types.is_numeric_dtype(table.target):
        raise DataError(f"{table.name}: target column {table.target.name!r} is not numeric, "
                        "so data.task cannot be regression")  # fmt: skip
    y = table.target.to_numpy()
    split = holdout(y, table.task, cfg.split.val, cfg.split.test, cfg.split.seed)
    rows = dict(zip(PARTS, split, strict=True))
    if fold is not None:
        rest = np.concatenate([rows["train"], rows["val"]])
        train_pos, val_pos = kfold(y[rest], table.task, cfg.folds, cfg.split.seed)[fold]
        rows["train"], rows["val"] = rest[train_pos], rest[val_pos]
    if refit:
        rows["train"] = np.concatenate([rows["train"], rows["val"]])
        rows["val"] = rows["val"][:0]
    if isinstance(table, ArraySource):
        return encode_arrays(table, rows, cfg, device)
    if cfg.text is not None:  # a text column for a pretrained Hugging Face model (text.py)
        return encode_text(text_table(table, cfg.text), rows, cfg, device)
    return encode(table, rows, cfg, device)


def encode_arrays(src: ArraySource, rows: dict[str, np.ndarray], cfg: DataConfig, device) -> Dataset:
    encoder = fit_array_encoder(src, rows["train"], cfg)
    features = encoder.transform_array(src.x, src.name)
    targets = encoder.encode_target(src.target)
    x = {part: torch.as_tensor(features[idx], device=device) for part, idx in rows.items()}
    y = {part: torch.as_tensor(targets[idx], device=device) for part, idx in rows.items()}
    return Dataset(src.task, encoder, x, y, list(encoder.columns), rows)


def encode(table: Table, rows: dict[str, np.ndarray], cfg: DataConfig, device) -> Dataset:
    frame = to_numeric(table.features, cfg.numeric, table.name)
    categorical = categorical_columns(frame, cfg.categorical)
    unknown = [c for c in categorical if c not in frame.columns]
    if unknown:
        raise DataError(f"data.categorical: columns {unknown} are not in {table.name}")
    check_numeric_features(frame, [c for c in frame.columns if c not in categorical], table.name)
    inferred = categorical if cfg.categorical is None else []  # listed ones were decided
    warnings = [f"{table.name}: {w}" for w in column_warnings(frame, inferred, cfg.impute)]
    encoder = fit_encoder(
        frame, table.target, rows["train"], table.task, categorical,
        cfg.impute, cfg.standardize, cfg.standardize_target, cfg.prep, cfg.split.seed,
    )  # fmt: skip
    encoder.numeric = tuple(cfg.numeric or ())
    if cfg.encoder_from is not None:  # fine-tuning a run: keep its feature scaling (reuse.py)
        encoder = reuse_encoder(encoder, cfg.encoder_from, table.features)
    features = encoder.transform(table.features, table.name)
    targets = encoder.encode_target(table.target)
    x = {part: torch.as_tensor(features[idx], device=device) for part, idx in rows.items()}
    y = {part: torch.as_tensor(targets[idx], device=device) for part, idx in rows.items()}
    names = list(encoder.features.get_feature_names_out())
    return Dataset(table.task, encoder, x, y, names, rows, warnings)
