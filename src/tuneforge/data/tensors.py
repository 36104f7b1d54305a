"""Image and sequence data (``data.shape: image | sequence``): arrays with more than 2 dims.

Rows are ``[C, H, W]`` images, ``[T, F]`` float sequences or ``[T]`` integer token ids. Sources:
the built-in ``digits`` (8x8 images, or 8 steps of 8 pixels as a sequence) and ``sine`` (noisy
sine-wave forecasting), an ``.npz`` (``x`` and a target array, optional ``lengths``) or an image
folder (one sub-folder per class, read with Pillow, resized to ``data.image_size``).

Variable-length sequences are padded on the right, and the padding travels inside the tensor:
NaN for float features, -1 for token ids. So batches, augmentation and prediction need nothing
extra, and every sequence model masks those steps (docs/models.md).

Standardization is per channel (images) or per feature (sequences): a scikit-learn
``StandardScaler`` fitted on the training rows' pixels / valid steps only, saved with skops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tuneforge.config.schema import DataConfig
from tuneforge.data.prep import Encoder
from tuneforge.data.rows import as_rows, fit_scaler
from tuneforge.data.sources import BUILTIN, infer_task
from tuneforge.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class ArraySource:
    """Raw rows before any split: ``x`` with the row shape of ``data.shape``, and the target."""

    x: np.ndarray
    target: pd.Series
    task: str
    name: str


def sine_source(n: int = 1000, length: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine-wave forecasting: from ``length`` noisy samples, predict the next one.

    Each row draws an amplitude in [0.5, 1.5], a frequency in [0.15, 0.45] rad/step and a phase;
    every sample carries Gaussian noise (σ = 0.1). Fixed seed: the data set is always the same.
    """
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    frequency = rng.uniform(0.15, 0.45, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    wave = amplitude * np.sin(frequency * np.arange(length + 1) + phase)
    noisy = wave + rng.normal(0.0, 0.1, wave.shape)
    return noisy[:, :length, None].astype(np.float32), noisy[:, length]


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``[N, 8, 8]`` pixel values 0..16."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32), bunch.target


#: Built-in array data sets: name -> (loader, task).
ARRAY_BUILTIN = {"digits": (digits_images, "classification"), "sine": (sine_source, "regression")}


def load_arrays(cfg: DataConfig) -> ArraySource:
    """Read ``cfg.source`` as images or sequences (``cfg.shape``)."""
    check_table_keys(cfg)
    source = cfg.source
    path = Path(source)
    lengths = None
    if source in ARRAY_BUILTIN:
        loader, task = ARRAY_BUILTIN[source]
        x, y = loader()
        task = cfg.task or task
    elif path.is_dir():
        x, y = read_image_folder(path, cfg.image_size)
        task = cfg.task or "classification"
    elif path.suffix.lower() == ".npz":
        x, y, lengths = read_npz_arrays(path, cfg.target or "y")
        task = cfg.task or infer_task(pd.Series(y))
    else:
        table_only = f"{source} is a table data set" if source in BUILTIN else f"{source!r} is not"
        raise DataError(f"data.source: {table_only} {cfg.shape} data; data.shape: {cfg.shape} "
                        f"takes {', '.join(ARRAY_BUILTIN)}, an .npz file or an image folder")  # fmt: skip
    x = as_rows(x, cfg.shape, source, lengths)
    return ArraySource(x, pd.Series(y, name=cfg.target or "y"), task, source)


def check_table_keys(cfg: DataConfig) -> None:
    prep = [name for name in ("polynomial", "select", "pca") if getattr(cfg.prep, name)]
    if prep:
        raise DataError(f"data.prep: {', '.join(prep)} work on table rows, not {cfg.shape} data")
    for key in ("features", "categorical", "impute"):
        if getattr(cfg, key) is not None:
            raise DataError(f"data.{key}: applies to table columns, not {cfg.shape} data")


def read_npz_arrays(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``x`` (or ``X``), the ``target`` array (None: not needed) and optional ``lengths``."""
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:  # a corrupt zip raises several types
        raise DataError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None
    x = arrays.get("x", arrays.get("X"))
    if x is None or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{path}: expected a numeric array named 'x' (images or sequences)")
    y = None
    if target is not None:
        if target not in arrays:
            raise DataError(f"{path}: data.target array {target!r} not found in {sorted(arrays)}")
        y = arrays[target]
        if y.shape != (len(x),):
            raise DataError(f"{path}: target {target!r} has shape {y.shape}, expected ({len(x)},)")
    lengths = arrays.get("lengths")
    if lengths is not None and (lengths.shape != (len(x),) or not np.issubdtype(lengths.dtype, np.integer)):
        raise DataError(f"{path}: 'lengths' must hold one integer per row, shape ({len(x)},)")
    return x, y, lengths


def read_image_folder(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Images under ``path/<class>/``, resized to ``size`` [H, W]; values scaled to [0, 1].

    Grayscale when every image is grayscale (1 channel), else RGB (3 channels).
    """
    from PIL import Image, UnidentifiedImageError

    folders = sorted(d for d in path.iterdir() if d.is_dir())
    images, labels = [], []
    for folder in folders:
        for file in sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            try:
                with Image.open(file) as image:
                    images.append(image.copy())
            except (OSError, UnidentifiedImageError) as exc:
                raise DataError(f"{file}: cannot read the image ({exc})") from None
            labels.append(folder.name)
    if len({*labels}) < 2:
        raise DataError(f"{path}: an image folder needs one sub-folder of images per class "
                        f"(found {len({*labels})} class with images)")  # fmt: skip
    gray = all(image.mode in ("1", "L", "LA", "I", "I;16", "F") for image in images)
    mode = "L" if gray else "RGB"
    height, width = size
    pixels = [np.asarray(image.convert(mode).resize((width, height), Image.BILINEAR), np.float32)
              for image in images]  # fmt: skip
    x = np.stack(pixels) / 255.0
    x = x[:, None] if gray else x.transpose(0, 3, 1, 2)
    return x.astype(np.float32), np.array(labels)


def fit_array_encoder(src: ArraySource, train_rows: np.ndarray, cfg: DataConfig):
    """The :class:`~tuneforge.data.prep.Encoder` of array data, fitted on ``train_rows`` only."""
    from sklearn.preprocessing import LabelEncoder

    scaler = fit_scaler(src.x, train_rows, cfg.shape) if cfg.standardize else None
    if src.task == "classification":
        return Encoder(scaler, LabelEncoder().fit(src.target), layout=cfg.shape,
                       columns=row_channels(src.x, cfg.shape))  # fmt: skip
    mean, std = 0.0, 1.0
    if cfg.standardize_target:
        values = src.target.iloc[train_rows].to_numpy(dtype=np.float64)
        mean, std = float(values.mean()), float(values.std()) or 1.0
    return Encoder(scaler, None, mean, std, row_channels(src.x, cfg.shape), layout=cfg.shape)


def row_channels(x: np.ndarray, layout: str) -> tuple[str, ...]:
    """Names of the channels (images) or features (sequences); () for token ids."""
    if np.issubdtype(x.dtype, np.integer):
        return ()
    count = x.shape[1] if layout == "image" else x.shape[-1]
    return tuple(f"{'c' if layout == 'image' else 'f'}{i}" for i in range(count))
