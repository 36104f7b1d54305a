"""The same recipe trained with several training seeds: how much of a score is luck.

Only ``train.seed`` changes (``seed, seed+1, ...``): it drives weight initialisation, batch
order, dropout and augmentation. The data split (``data.split.seed``) stays fixed, so every run
is scored on the same validation and test rows and the spread is the training's own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tuneforge.config import Config
from tuneforge.run.training import train


def with_seed(cfg: Config, seed: int) -> Config:
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": seed})})


def spread(results: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and population std (``ddof=0``, as ``cv`` reports) of every metric all runs have."""
    keys = [k for k in results[0] if all(r.get(k) is not None for r in results)]
    mean = {k: float(np.mean([r[k] for r in results])) for k in keys}
    std = {k: float(np.std([r[k] for r in results])) for k in keys}
    return mean, std


def train_seeds(
    cfg: Config,
    n: int,
    out: str | Path | None = None,
    *,
    callbacks: Sequence = (),
    fold: int | None = None,
) -> dict:
    """Train ``cfg`` ``n`` times with seeds ``train.seed + 0 .. n-1``.

    Each run goes to ``<out>/seed<seed>/`` (a normal run directory); ``<out>/seeds.json`` holds
    the per-seed metrics and their mean and std, and ``<out>/report.html`` (unless
    ``logging.report`` is off) shows them: each metric's mean ± std and per-seed values.

    Returns:
        ``{"seeds": [...], "runs": [{"seed", "status", "metrics"}], "mean": {...}, "std": {...}}``.
    """
    seeds = [cfg.train.seed + k for k in range(n)]
    runs = []
    for seed in seeds:
        folder = Path(out) / f"seed{seed}" if out is not None else None
        run = train(with_seed(cfg, seed), folder, callbacks=callbacks, fold=fold)
        metrics = {k: v for k, v in run.summary["metrics"].items() if v is not None}
        runs.append({"seed": seed, "status": run.summary["status"], "metrics": metrics})
    mean, std = spread([r["metrics"] for r in runs])
    summary = {"seeds": seeds, "runs": runs, "mean": mean, "std": std}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "seeds.json").write_text(json.dumps(summary, indent=2))
        if cfg.logging.report:
            from tuneforge.report import preload

            preload.wait()
            from tuneforge.report.html import write_seeds_report  # matplotlib: only when used

            write_seeds_report(out)
    return summary
