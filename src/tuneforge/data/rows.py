"""Rows of image and sequence arrays: their shapes, sequence padding and per-channel scaling.

Below both the array sources (images and sequences) and the :class:`~tuneforge.data.prep.Encoder`
that scales new rows at prediction time, so neither imports the other for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tuneforge.errors import DataError

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler

TOKEN_PAD = -1  # token ids after a sequence's length


def as_rows(x: np.ndarray, shape: str, source: str, lengths: np.ndarray | None = None) -> np.ndarray:
    """``x`` as ``[N, C, H, W]`` images, ``[N, T, F]`` float or ``[N, T]`` token sequences."""
    tokens = np.issubdtype(x.dtype, np.integer)
    if shape == "image":
        if x.ndim not in (3, 4):
            raise DataError(f"{source}: data.shape image needs x of [N, H, W] or [N, C, H, W], "
                            f"got shape {list(x.shape)}")  # fmt: skip
        x = (x[:, None] if x.ndim == 3 else x).astype(np.float32)
        if lengths is not None:
            raise DataError(f"{source}: 'lengths' is for sequences, not images")
        if np.isnan(x).any():
            raise DataError(f"{source}: images hold NaN values")
        return x
    if x.ndim not in (2, 3) or (tokens and x.ndim == 3):
        raise DataError(f"{source}: data.shape sequence needs x of [N, T, F] floats or [N, T] "
                        f"token ids, got shape {list(x.shape)} of {x.dtype}")  # fmt: skip
    x = x.astype(np.int64) if tokens else (x[..., None] if x.ndim == 2 else x).astype(np.float32)
    if lengths is not None:
        x = pad_after(x, lengths, source)
    if not tokens:
        _check_padding_suffix(np.isnan(x).any(-1), source)
    return x


def pad_after(x: np.ndarray, lengths: np.ndarray, source: str) -> np.ndarray:
    """Mark every step at or after a row's length as padding (NaN / -1)."""
    steps = x.shape[1]
    if (lengths < 1).any() or (lengths > steps).any():
        raise DataError(f"{source}: 'lengths' must lie in [1, {steps}] (the padded length)")
    x = x.copy()
    beyond = np.arange(steps)[None, :] >= lengths[:, None]
    x[beyond] = TOKEN_PAD if np.issubdtype(x.dtype, np.integer) else np.nan
    return x


def _check_padding_suffix(padded: np.ndarray, source: str) -> None:
    """NaN steps mean padding, so they must come after every valid step, and one must be valid."""
    if padded[:, 0].any() or (padded[:, :-1] & ~padded[:, 1:]).any():
        raise DataError(f"{source}: NaN inside a sequence; padding (NaN steps) must only follow "
                        "the valid steps, or give 'lengths'")  # fmt: skip


def channels_last(x: np.ndarray, layout: str) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if layout == "image" else x


def fit_scaler(x: np.ndarray, train_rows: np.ndarray, layout: str) -> StandardScaler | None:
    """Per-channel (image) / per-feature (sequence) mean and std of the training rows."""
    if np.issubdtype(x.dtype, np.integer):
        return None  # token ids are not scaled
    from sklearn.preprocessing import StandardScaler

    values = channels_last(x[train_rows], layout)
    return StandardScaler().fit(values.reshape(-1, values.shape[-1]))  # NaN padding is ignored


def scale(scaler: StandardScaler | None, x: np.ndarray, layout: str) -> np.ndarray:
    if scaler is None:
        return x
    values = channels_last(x, layout)
    scaled = scaler.transform(values.reshape(-1, values.shape[-1])).reshape(values.shape)
    return np.ascontiguousarray(channels_last_undo(scaled, layout), dtype=np.float32)


def channels_last_undo(x: np.ndarray, layout: str) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if layout == "image" else x
