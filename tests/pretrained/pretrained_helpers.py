"""Recipes the pretrained tests share (imported by name, like cohort_helpers)."""

from __future__ import annotations

from pathlib import Path

from tuneforge import Config

#: Quiet, fast runs: no report, no gradient checks, no checkpoints unless a test asks.
QUIET = {"logging": {"report": False}}
FAST_TRAIN = {"batch_size": 32, "optimizer": {"lr": 0.003}, "checkpoint_every": 0,
              "diagnostics": {"grad_every": 0}}  # fmt: skip


def target_config(target: Path, model: dict, seed: int = 0, test: float = 0.79, **train) -> Config:
    """About 100 training rows of the target file; the rest is the test part."""
    return Config(data={"source": str(target), "target": "target",
                        "split": {"val": 0.0, "test": test, "seed": seed}},
                  model=model, train={**FAST_TRAIN, "seed": seed, **train}, **QUIET)  # fmt: skip
