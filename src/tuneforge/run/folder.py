"""What a run leaves on disk (SPEC §4), and reading it back: :class:`Run`, :func:`load_run`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tuneforge.config import Config, dump_config, load_config, to_dict, validate
from tuneforge.config.given import with_given
from tuneforge.data import Encoder, load_encoder
from tuneforge.engine.module import predict_tensor
from tuneforge.errors import DataError
from tuneforge.models import build_model


@dataclass
class Run:
    """A trained recipe: its model, history and summary, and how to use it on new rows."""

    config: Config
    model: nn.Module
    encoder: Encoder
    history: list[dict]
    summary: dict
    path: Path | None = None

    def predict(self, rows: pd.DataFrame | np.ndarray, *, source: str = "rows") -> np.ndarray:
        """Predicted class labels (classification) or values (regression) for raw rows:
        ``[n]``, or ``[n, targets]`` for several regression targets (``encoder.targets``).

        Args:
            rows: the raw feature columns (a frame by name, or an array in training order);
                for image / sequence runs an array of rows (``[N, C, H, W]``, ``[N, T, F]``...).
            source: what to call ``rows`` in error messages, e.g. the file they came from.
        """
        out = self._outputs(rows, source)
        if self.encoder.labels is None:
            return self.encoder.decode_target(out if self.encoder.targets else out[:, 0])
        index = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(1)
        return self.encoder.decode_target(index)

    def _outputs(self, rows: pd.DataFrame | np.ndarray, source: str = "rows") -> np.ndarray:
        if self.encoder.layout != "table":  # images / sequences: an array of whole rows
            x = self.encoder.transform_array(np.asarray(rows), source)
            return predict_tensor(self.model, torch.as_tensor(x, device=_device_of(self.model))).cpu().numpy()
        if not isinstance(rows, pd.DataFrame):
            rows = np.asarray(rows)
            if rows.ndim != 2 or rows.shape[1] != len(self.encoder.columns):
                raise DataError(f"{source}: expected rows of {len(self.encoder.columns)} feature "
                                f"columns {list(self.encoder.columns)}, got shape {rows.shape}")  # fmt: skip
            rows = pd.DataFrame(rows, columns=list(self.encoder.columns))
        x = torch.as_tensor(self.encoder.transform(rows, source), device=_device_of(self.model))
        return predict_tensor(self.model, x).cpu().numpy()


def load_run(path: str | Path, *, model: Any = None, for_prediction: bool = False) -> Run:
    """Read a run directory written by ``train`` (safetensors + skops: nothing unpickled).

    A ``model.kind: custom`` run imports its ``model.factory`` again.

    Args:
        path: the run directory.
        model: the class or factory of a custom run instead of importing it again (needed
            when it was handed to ``train`` from a script's ``__main__``).
        for_prediction: the run will only predict (``tuneforge predict``): read the encoder's
            plain form when it has one, which starts faster (``tuneforge.data.load_encoder``).
    """
    folder = Path(path)
    needed = ["config.yaml", "summary.json", "model.safetensors"]
    missing = [name for name in needed if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in ("encoder.skops", "encoder.json")):
        missing.append("encoder.skops or encoder.json")
    if missing:
        raise DataError(f"{folder}: not a finished run directory (missing {', '.join(missing)})")
    cfg = load_config(folder / "config.yaml")
    if model is not None:
        cfg = validate(with_given(to_dict(cfg), model), source=str(folder / "config.yaml"))
    summary = json.loads((folder / "summary.json").read_text())
    shape = summary["model"]
    net = build_model(cfg.model, shape["inputs"], shape["outputs"])
    net.load_state_dict(load_file(folder / "model.safetensors"))
    net.eval()
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
               if line.strip()] if (folder / "metrics.jsonl").is_file() else []  # fmt: skip
    encoder = load_encoder(folder / "encoder.skops", for_prediction=for_prediction)
    return Run(cfg, net, encoder, history, summary, folder)


def save_run(run: Run, folder: str | Path) -> Run:
    """Write a trained ``run`` held in memory (e.g. a study's best trial) as the run directory
    ``train(cfg, folder)`` would have left: config, encoder, metrics, weights, summary, report.
    There is no ``checkpoint/``: the run is finished, so there is nothing to resume."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dump_config(run.config, folder / "config.yaml")
    run.encoder.save(folder / "encoder.skops")
    MetricsWriter(folder / "metrics.jsonl", run.history)
    write_outputs(run.config, folder, run.model, run.summary)
    run.path = folder
    return run


def write_outputs(cfg: Config, folder: Path, model: nn.Module, summary: dict) -> None:
    """The finished run's weights, summary and (unless ``logging.report`` is off) report."""
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              folder / "model.safetensors")  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=jsonable))
    if cfg.logging.report:
        from tuneforge.report import write_report  # matplotlib: imported only when used

        write_report(folder)


class MetricsWriter:
    """Appends each epoch's record to ``metrics.jsonl`` (rewritten from history on resume)."""

    def __init__(self, path: Path, history: list[dict]):
        self.path = path
        path.write_text("".join(json.dumps(r, default=jsonable) + "\n" for r in history))

    def __call__(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=jsonable) + "\n")


def jsonable(value):
    """``json.dumps``' fallback for NumPy and torch scalars."""
    if isinstance(value, (np.generic, torch.Tensor)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
