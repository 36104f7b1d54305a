"""``summary.json``: a run's status, the kept model's scores, and what went wrong."""

from __future__ import annotations

import numpy as np

from tuneforge._compat import fallbacks
from tuneforge.config import Config
from tuneforge.data import Dataset
from tuneforge.diagnose import diagnose_run
from tuneforge.engine.module import FitResult, evaluate, predict_tensor
from tuneforge.evaluate.metrics import final_metrics
from tuneforge.evaluate.scorers import extra_scores
from tuneforge.models import count_parameters
from tuneforge.recipe import Recipe


def summarize(cfg: Config, data: Dataset, recipe: Recipe, model, result: FitResult,
              seconds: float) -> dict:  # fmt: skip
    """Status, the kept model's scores on val and test, the diagnosis, sizes and wall time."""
    scores: dict[str, float] = {}
    if result.history:
        scores["train/loss"] = result.history[-1].get("train/loss")
    for part in ("val", "test"):
        scores |= part_scores(cfg, data, recipe, model, part, losses=result.status != "diverged")
    warnings, diagnosis = diagnose_run(cfg, data, recipe, result)
    return {
        "status": result.status,
        "task": data.task,
        "epochs": len(result.history),
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "metrics": scores,
        "divergence": result.divergence,
        "warnings": data.warnings + warnings,  # the data's doubts first (data/checks.py)
        "diagnosis": diagnosis,
        "wall_time_s": round(seconds, 3),
        "parameters": count_parameters(model),
        "model": {"inputs": data.n_features, "outputs": recipe.n_outputs, "classes": data.classes},
        "rows": {part: data.size(part) for part in ("train", "val", "test")},
        # private torch/Optuna APIs that were missing, and the public path taken instead
        "fallbacks": sorted(fallbacks().values()),
    }


def part_scores(cfg: Config, data: Dataset, recipe: Recipe, model, part: str,
                losses: bool = True) -> dict[str, float]:  # fmt: skip
    """The kept model's ``{part}/...`` scores: the loss and per-epoch metrics (unless not
    ``losses``: a diverged run's), the final metrics and ``train.metrics``; ``{}`` without rows."""
    if not data.size(part):
        return {}
    scores = evaluate(model, data, part, recipe) if losses else {}
    pred = predict_tensor(model, data.x[part]).cpu().numpy()
    y = data.y[part].cpu().numpy()
    extra = final_metrics(pred, y, data.task, recipe.target_mean, recipe.target_std, recipe.targets)
    if cfg.train.metrics and np.isfinite(pred).all():
        extra |= extra_scores(cfg.train.metrics, pred, y, data.task, recipe.target_mean,
                              recipe.target_std)  # fmt: skip
    return scores | {f"{part}/{k}": v for k, v in extra.items()}
