"""Training runs for tests that compare them with a closed form or a NumPy transcription."""

from __future__ import annotations

import numpy as np
import torch

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def float64_trainer(base: list[str], *overrides: str) -> ModuleTrainer:
    """The recipe ``base`` + ``overrides`` (``--set`` strings), its data and model in float64."""
    cfg = tuneforge.load_config(overrides=[*base, *overrides])
    data = prepare(cfg.data)
    data.x = {part: x.double() for part, x in data.x.items()}
    data.y = {part: y.double() for part, y in data.y.items()}
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed).double()
    return ModuleTrainer(model, data, recipe, seed=cfg.train.seed)


def flat(model: torch.nn.Module) -> np.ndarray:
    """Every parameter, flattened and concatenated in order."""
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def trained(base: list[str], *overrides: str):
    """Train ``base`` + ``overrides``; the run and the encoded training rows (float64 NumPy)."""
    cfg = tuneforge.load_config(overrides=[*base, *overrides])
    run = tuneforge.train(cfg)
    assert run.summary["status"] == "completed"
    data = prepare(cfg.data)
    return run, data.x["train"].double().numpy(), data.y["train"].numpy()


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / ‖b‖."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
