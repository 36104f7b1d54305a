"""One training run: data -> model -> module engine -> run directory (SPEC §4)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from tuneforge.config import Config, dump_config, load_config, to_dict, validate
from tuneforge.config.given import with_given
from tuneforge.data import Dataset, prepare
from tuneforge.diagnose import GradientHealth
from tuneforge.engine import checkpoint, distributed
from tuneforge.engine.module import EpochCallback, ModuleTrainer
from tuneforge.engine.setup import check_devices_per_rank, resolve_device, seed_everything
from tuneforge.models import build_model, check_model
from tuneforge.recipe import Recipe
from tuneforge.report import preload
from tuneforge.report.trackers import Trackers
from tuneforge.run.checks import check_recipe
from tuneforge.run.folder import MetricsWriter, Run, write_outputs
from tuneforge.run.summary import summarize


def train(
    cfg: Config | str | Path,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
    fold: int | None = None,
    refit: bool = False,
    data: Dataset | Any = None,
    model: Any = None,
) -> Run:
    """Train one recipe; with ``out``, write the run directory there (resumable with ``resume``).

    ``data`` reuses a data set already made by ``prepare(cfg.data, device, fold, refit)`` (a
    study's trials share one instead of loading and encoding the same rows again), or gives the
    rows themselves: a DataFrame (with ``data.target``), ``(X, y)`` or a dict of arrays, split and
    encoded like a file. ``model`` is an ``nn.Module`` class or factory used as ``model.kind:
    custom`` (``model.args`` still apply); see docs/custom.md.

    Under ``torchrun`` every rank calls this: each trains on its shard of every global batch
    (DDP), all ranks read a checkpoint to resume, and only rank 0 writes to ``out``.
    """
    cfg = cfg if isinstance(cfg, Config) else load_config(cfg)
    if model is not None or (data is not None and not isinstance(data, Dataset)):
        given = None if isinstance(data, Dataset) else data
        cfg = validate(with_given(to_dict(cfg), model, given), source="config")
        data = data if isinstance(data, Dataset) else None
    started = time.perf_counter()
    world = distributed.world_from_env()
    trackers = Trackers(cfg, out, enabled=world.is_main)  # checks the logging packages exist
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    device = distributed.setup(world, resolve_device(cfg.train.device))
    data = data.to(device) if data is not None else prepare(cfg.data, device, fold=fold, refit=refit)
    check_recipe(cfg, data)
    recipe = Recipe.build(cfg.train, data)
    cfg = with_inferred(cfg, data, recipe)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed).to(device)
    check_model(cfg.model, model, data.x["train"], recipe.n_outputs)
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
    if folder is not None and world.is_main and cfg.logging.report:
        preload.start()  # the report's imports, while the model trains (report/preload.py)
    with trackers:
        result = trainer.fit([*writers, *trackers.callbacks, *callbacks], checkpoints)
        summary = summarize(cfg, data, recipe, model, result, time.perf_counter() - started)
        if folder is not None and world.is_main:
            write_outputs(cfg, folder, model, summary)
        trackers.finish(summary, folder)
    distributed.barrier(world)  # every rank returns once rank 0's outputs are on disk
    distributed.teardown(world)
    return Run(cfg, model, data.encoder, result.history, summary, folder)


def check_inputs(cfg: Config, processes: int = 1) -> None:
    """What ``train`` checks before its first step, without training: the data, the loss and
    model against it, augmentation, devices (one CUDA device per process) and logging packages.
    ``train --nproc`` runs it once before starting the ranks, so bad input fails with exit code
    2 and one line, not in N processes under torchrun's failure report."""
    from tuneforge.data.augment import Augmenter

    Trackers(cfg, None)
    check_devices_per_rank(resolve_device(cfg.train.device), processes)
    data = prepare(cfg.data, torch.device("cpu"))
    check_recipe(cfg, data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(with_inferred(cfg, data, recipe).model, data.n_features, recipe.n_outputs)
    check_model(cfg.model, model, data.x["train"], recipe.n_outputs)
    Augmenter.build(cfg.train.augment, data.x["train"], cfg.train.seed)


def with_inferred(cfg: Config, data: Dataset, recipe: Recipe) -> Config:
    """``cfg`` with what was inferred from the data written in (the task, the default loss,
    the epochs of ``epochs: auto``)."""
    raw = to_dict(cfg)
    raw["data"]["task"] = data.task
    raw["train"]["loss"] = recipe.loss_name
    raw["train"]["epochs"] = recipe.cfg.epochs
    return validate(raw, source="resolved config")
