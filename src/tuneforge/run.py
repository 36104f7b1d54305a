"""One training run: data -> model -> module engine -> run directory (SPEC §4).

``train(cfg)`` is the public entry point; ``load_run(path)`` reads a finished run back for
``evaluate`` and ``predict``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tuneforge.config import Config, dump_config, load_config, to_dict, validate
from tuneforge.data import Dataset, Encoder, prepare
from tuneforge.diagnose import GradientHealth, diagnose_run
from tuneforge.engine import checkpoint, distributed
from tuneforge.engine.module import (
    EpochCallback,
    FitResult,
    ModuleTrainer,
    evaluate,
    predict_tensor,
)
from tuneforge.errors import ConfigError, DataError
from tuneforge.evaluate.metrics import final_metrics
from tuneforge.models import build_model, count_parameters
from tuneforge.recipe import Recipe
from tuneforge.report.trackers import Trackers


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
        """Predicted class labels (classification) or values (regression) for raw rows.

        Args:
            rows: the raw feature columns (a frame by name, or an array in training order);
                for image / sequence runs an array of rows (``[N, C, H, W]``, ``[N, T, F]``...).
            source: what to call ``rows`` in error messages, e.g. the file they came from.
        """
        out = self._outputs(rows, source)
        if self.encoder.labels is None:
            return self.encoder.decode_target(out[:, 0])
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


def train(
    cfg: Config | str | Path,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
    fold: int | None = None,
    refit: bool = False,
    data: Dataset | None = None,
) -> Run:
    """Train one recipe; with ``out``, write the run directory there (resumable with ``resume``).

    ``data`` reuses a data set already made by ``prepare(cfg.data, device, fold, refit)`` (a
    study's trials share one instead of loading and encoding the same rows again).

    Under ``torchrun`` every rank calls this: each trains on its shard of every global batch
    (DDP), all ranks read a checkpoint to resume, and only rank 0 writes to ``out``.
    """
    cfg = cfg if isinstance(cfg, Config) else load_config(cfg)
    started = time.perf_counter()
    world = distributed.world_from_env()
    trackers = Trackers(cfg, out, enabled=world.is_main)  # checks the logging packages exist
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    device = distributed.setup(world, resolve_device(cfg.train.device))
    data = data if data is not None else prepare(cfg.data, device, fold=fold, refit=refit)
    check_against_data(cfg, data)
    recipe = Recipe.build(cfg.train, data)
    cfg = resolve(cfg, data, recipe)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed).to(device)
    if world.distributed:  # a dropout stream per rank (the weights are rank 0's: DDP broadcasts)
        torch.manual_seed(cfg.train.seed + world.rank)
    health = GradientHealth(model, cfg.train.diagnostics) if cfg.train.diagnostics.grad_every else None
    trainer = ModuleTrainer(model, data, recipe, seed=cfg.train.seed, probe=health, world=world)
    folder = Path(out) if out is not None else None
    writers: list[EpochCallback] = [health] if health is not None else []  # first: fills the record
    if folder is not None:
        if resume and (found := checkpoint.latest(folder / "checkpoint")) is not None:
            trainer.load(found)  # every rank: a multi-node job needs the folder on shared storage
        if world.is_main:
            folder.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, folder / "config.yaml")
            data.encoder.save(folder / "encoder.skops")
            writers.append(MetricsWriter(folder / "metrics.jsonl", trainer.history))
    checkpoints = folder / "checkpoint" if folder is not None else None
    with trackers:
        result = trainer.fit([*writers, *trackers.callbacks, *callbacks], checkpoints)
        summary = summarize(cfg, data, recipe, model, result, time.perf_counter() - started)
        if folder is not None and world.is_main:
            _write_outputs(cfg, folder, model, summary)
        trackers.finish(summary, folder)
    distributed.barrier(world)  # every rank returns once rank 0's outputs are on disk
    distributed.teardown(world)
    return Run(cfg, model, data.encoder, result.history, summary, folder)


def check_inputs(cfg: Config) -> None:
    """What ``train`` checks before its first step, without training: the data, the loss and
    model against it, augmentation, device and logging packages. ``train --nproc`` runs it once
    before starting the ranks, so bad input fails with exit code 2 and one line, not in N
    processes under torchrun's failure report."""
    from tuneforge.data.augment import Augmenter

    Trackers(cfg, None)
    resolve_device(cfg.train.device)
    data = prepare(cfg.data, torch.device("cpu"))
    check_against_data(cfg, data)
    recipe = Recipe.build(cfg.train, data)
    build_model(resolve(cfg, data, recipe).model, data.n_features, recipe.n_outputs)
    Augmenter.build(cfg.train.augment, data.x["train"], cfg.train.seed)


def _write_outputs(cfg: Config, folder: Path, model: nn.Module, summary: dict) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              folder / "model.safetensors")  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=_jsonable))
    if cfg.logging.report:
        from tuneforge.report import write_report  # matplotlib: imported only when used

        write_report(folder)


def summarize(cfg, data: Dataset, recipe: Recipe, model, result: FitResult, seconds: float) -> dict:
    """``summary.json``: status, the kept model's scores on val and test, and what went wrong."""
    scores: dict[str, float] = {}
    if result.history:
        scores["train/loss"] = result.history[-1].get("train/loss")
    for part in ("val", "test"):
        if result.status != "diverged":
            scores |= evaluate(model, data, part, recipe)
        if data.size(part):
            pred = predict_tensor(model, data.x[part]).cpu().numpy()
            extra = final_metrics(pred, data.y[part].cpu().numpy(), data.task,
                                  recipe.target_mean, recipe.target_std)  # fmt: skip
            scores |= {f"{part}/{k}": v for k, v in extra.items()}
    warnings, diagnosis = diagnose_run(cfg, data, recipe, result)
    return {
        "status": result.status,
        "task": data.task,
        "epochs": len(result.history),
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "metrics": scores,
        "divergence": result.divergence,
        "warnings": warnings,
        "diagnosis": diagnosis,
        "wall_time_s": round(seconds, 3),
        "parameters": count_parameters(model),
        "model": {"inputs": data.n_features, "outputs": recipe.n_outputs, "classes": data.classes},
        "rows": {part: data.size(part) for part in ("train", "val", "test")},
    }


def load_run(path: str | Path) -> Run:
    """Read a run directory written by :func:`train` (safetensors + skops: nothing unpickled)."""
    folder = Path(path)
    needed = ["config.yaml", "summary.json", "model.safetensors", "encoder.skops"]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: not a finished run directory (missing {', '.join(missing)})")
    cfg = load_config(folder / "config.yaml")
    summary = json.loads((folder / "summary.json").read_text())
    shape = summary["model"]
    model = build_model(cfg.model, shape["inputs"], shape["outputs"])
    model.load_state_dict(load_file(folder / "model.safetensors"))
    model.eval()
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
               if line.strip()] if (folder / "metrics.jsonl").is_file() else []  # fmt: skip
    return Run(cfg, model, Encoder.load(folder / "encoder.skops"), history, summary, folder)


class MetricsWriter:
    """Appends each epoch's record to ``metrics.jsonl`` (rewritten from history on resume)."""

    def __init__(self, path: Path, history: list[dict]):
        self.path = path
        path.write_text("".join(json.dumps(r, default=_jsonable) + "\n" for r in history))

    def __call__(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=_jsonable) + "\n")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: unknown device {name!r}; expected auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda was asked for but no CUDA device is available")
    return device


def resolve(cfg: Config, data: Dataset, recipe: Recipe) -> Config:
    """``cfg`` with what was inferred from the data written in (the task, the default loss)."""
    raw = to_dict(cfg)
    raw["data"]["task"] = data.task
    raw["train"]["loss"] = recipe.loss_name
    return validate(raw, source="resolved config")


#: The task each loss is made for; the data's task (given or inferred) must match it.
LOSS_TASK = {"mse": "regression", "mae": "regression", "huber": "regression",
             "cross_entropy": "classification", "bce": "classification"}  # fmt: skip
_LOSS_FIX = {"regression": "use mse, mae or huber",
             "classification": "use cross_entropy or bce, or set data.task: regression"}  # fmt: skip


def check_against_data(cfg: Config, data: Dataset) -> None:
    """Checks that need the data: loss and model against the task, and the watched metrics.

    The schema catches these contradictions when ``data.task`` is written out; here the task
    may have been inferred from the target column.
    """
    source, task = cfg.data.source, data.task
    loss = cfg.train.loss
    if loss is not None and LOSS_TASK[loss] != task:
        raise ConfigError(f"train.loss: {loss} is a {LOSS_TASK[loss]} loss but {source} is a "
                          f"{task} task; {_LOSS_FIX[task]}")  # fmt: skip
    if cfg.model.kind == "logistic" and task == "regression":
        raise ConfigError(f"model.kind: logistic needs a classification task but {source} is "
                          "a regression task; use kind: linear")  # fmt: skip
    _check_monitors(cfg, data)
    _check_token_ids(cfg, data)


def _check_monitors(cfg: Config, data: Dataset) -> None:
    """Early stopping and plateau watch validation metrics: they need a validation part."""
    watched = {"train.early_stopping.monitor": cfg.train.early_stopping and cfg.train.early_stopping.monitor,
               "train.schedule.monitor": getattr(cfg.train.schedule, "monitor", None)}  # fmt: skip
    names = {"loss", "accuracy", "f1"} if data.task == "classification" else {"loss", "rmse", "mae", "r2"}
    for key, metric in watched.items():
        if not metric:
            continue
        part, _, name = metric.partition("/")
        if part not in ("train", "val") or name not in names or (part == "train" and name != "loss"):
            raise ConfigError(f"{key}: {metric!r} is not a per-epoch metric; expected train/loss "
                              f"or val/ one of {sorted(names)}")  # fmt: skip
        if part == "val" and data.size("val") == 0:
            raise ConfigError(f"{key}: watches {metric} but data.split.val is 0 (no validation rows)")


def _check_token_ids(cfg: Config, data: Dataset) -> None:
    vocab = getattr(cfg.model, "vocab_size", None)
    x = data.x["train"]
    if vocab is not None and not x.is_floating_point() and len(x) and int(x.max()) >= vocab:
        raise ConfigError(f"model.vocab_size: {vocab}, but {cfg.data.source} holds token id "
                          f"{int(x.max())}; ids must lie in [0, vocab_size)")  # fmt: skip


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _jsonable(value):
    if isinstance(value, (np.generic, torch.Tensor)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
