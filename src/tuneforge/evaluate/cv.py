"""k-fold cross-validation of one recipe over the non-test rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tuneforge.config import Config


def cross_validate(
    cfg: Config, folds: int | None = None, out: str | Path | None = None, callbacks: Sequence = ()
) -> dict:
    """Train once per fold (each fold's validation part is held out in turn).

    ``callbacks`` get every fold's epoch records (e.g. the CLI's progress bar).

    Returns ``{"folds": [per-fold metrics], "mean": {...}, "std": {...}}``; the test part stays
    out of every fold, and each fold fits its own standardization on its own training rows.
    """
    from tuneforge.run import train  # run imports evaluate; keep the import edge one-way at load

    if folds is not None:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"folds": folds})})
    results = []
    for fold in range(cfg.data.folds):
        folder = Path(out) / f"fold{fold}" if out is not None else None
        run = train(cfg, folder, fold=fold, callbacks=callbacks)
        results.append({k: v for k, v in run.summary["metrics"].items() if v is not None})
    keys = [k for k in results[0] if all(k in r for r in results)]
    summary = {
        "folds": results,
        "mean": {k: float(np.mean([r[k] for r in results])) for k in keys},
        "std": {k: float(np.std([r[k] for r in results])) for k in keys},
    }
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "cv.json").write_text(json.dumps(summary, indent=2))
    return summary
