"""k-fold cross-validation of one recipe over the non-test rows, optionally under several seeds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tuneforge.config import Config
from tuneforge.run.seeds import spread, with_seed
from tuneforge.run.training import train


def cross_validate(
    cfg: Config,
    folds: int | None = None,
    out: str | Path | None = None,
    callbacks: Sequence = (),
    seeds: int = 1,
) -> dict:
    """Train once per fold (each fold's validation part is held out in turn).

    ``callbacks`` get every fold's epoch records (e.g. the CLI's progress bar).

    Returns ``{"folds": [per-fold metrics], "mean": {...}, "std": {...}}``; the test part stays
    out of every fold, and each fold fits its own standardization on its own training rows.

    With ``seeds`` > 1 the whole k-fold runs once per training seed ``train.seed + 0 .. n-1``
    (see :func:`cross_validate_seeds`).
    """
    if seeds > 1:
        return cross_validate_seeds(cfg, seeds, folds, out, callbacks)
    if folds is not None:
        cfg = _with_folds(cfg, folds)
    results = [_fold_metrics(cfg, fold, out, callbacks) for fold in range(cfg.data.folds)]
    keys = [k for k in results[0] if all(k in r for r in results)]
    summary = {
        "folds": results,
        "mean": {k: float(np.mean([r[k] for r in results])) for k in keys},
        "std": {k: float(np.std([r[k] for r in results])) for k in keys},
    }
    _write(summary, out)
    return summary


def cross_validate_seeds(
    cfg: Config,
    seeds: int,
    folds: int | None = None,
    out: str | Path | None = None,
    callbacks: Sequence = (),
) -> dict:
    """k-fold cross-validation repeated under ``seeds`` training seeds: ``folds × seeds`` runs.

    Only ``train.seed`` changes (``seed, seed+1, ...``); the folds come from ``data.split.seed``
    and stay the same for every seed, so the spread between seeds is the training's own (weight
    initialisation, batch order, dropout, augmentation) and the spread between folds the data's.
    Runs go to ``<out>/seed<s>/fold<k>/``.

    Returns:
        ``{"seeds", "n_folds", "runs": [{"seed", "fold", "metrics"}], "mean", "std",
        "per_seed": [{"seed", "mean", "std"}], "seed_std"}``: ``mean``/``std`` over all
        ``folds × seeds`` runs, ``per_seed`` over each seed's folds, and ``seed_std`` the std of
        the per-seed means (how much the k-fold score itself moves with the seed). Stds are
        population stds (``ddof=0``), as for plain ``cv``.
    """
    if folds is not None:
        cfg = _with_folds(cfg, folds)
    base = cfg.train.seed
    runs = []
    for seed in range(base, base + seeds):
        seed_out = Path(out) / f"seed{seed}" if out is not None else None
        for fold in range(cfg.data.folds):
            metrics = _fold_metrics(with_seed(cfg, seed), fold, seed_out, callbacks)
            runs.append({"seed": seed, "fold": fold, "metrics": metrics})
    mean, std = spread([r["metrics"] for r in runs])
    per_seed = []
    for seed in range(base, base + seeds):
        seed_mean, seed_std = spread([r["metrics"] for r in runs if r["seed"] == seed])
        per_seed.append({"seed": seed, "mean": seed_mean, "std": seed_std})
    summary = {
        "seeds": list(range(base, base + seeds)),
        "n_folds": cfg.data.folds,
        "runs": runs,
        "mean": mean,
        "std": std,
        "per_seed": per_seed,
        "seed_std": {k: float(np.std([s["mean"][k] for s in per_seed])) for k in mean},
    }
    _write(summary, out)
    return summary


def _with_folds(cfg: Config, folds: int) -> Config:
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"folds": folds})})


def _fold_metrics(cfg: Config, fold: int, out: str | Path | None, callbacks: Sequence) -> dict:
    folder = Path(out) / f"fold{fold}" if out is not None else None
    run = train(cfg, folder, fold=fold, callbacks=callbacks)
    return {k: v for k, v in run.summary["metrics"].items() if v is not None}


def _write(summary: dict, out: str | Path | None) -> None:
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "cv.json").write_text(json.dumps(summary, indent=2))
