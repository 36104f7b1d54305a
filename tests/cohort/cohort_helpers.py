"""Helpers for cohort tests (imported by name: pytest puts this folder on sys.path): configs from overrides, and "same run as alone" comparisons."""

from __future__ import annotations

import math
import os

import tuneforge

#: Where cohort tests train (chosen explicitly, never ``auto``); benchmarks/gpu_check.sh runs
#: them on CUDA with TUNEFORGE_TEST_DEVICE=cuda.
DEVICE = os.environ.get("TUNEFORGE_TEST_DEVICE", "cpu")


def make(*overrides: str):
    return tuneforge.load_config(overrides=[f"train.device={DEVICE}", *overrides])


def close(a, b, rel: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)
    return a == b


def same_history(cohort: list[dict], alone: list[dict], rel: float = 1e-4) -> None:
    """Every epoch record equal (floats within ``rel``), except the wall time."""
    assert len(cohort) == len(alone)
    # Gradient-health checks are a module-engine diagnostic; cohorts do not record them.
    skip = {"seconds", "grad_norm", "grad_checks"}
    for mine, theirs in zip(cohort, alone, strict=True):
        assert set(mine) - skip == set(theirs) - skip
        for key in theirs:
            if key not in skip:
                assert close(mine[key], theirs[key], rel), (key, mine, theirs)


def same_run(cohort_run, alone_run, rel: float = 1e-4) -> None:
    same_history(cohort_run.history, alone_run.history, rel)
    a, b = cohort_run.summary, alone_run.summary
    for key in ("status", "epochs", "steps", "best_epoch", "parameters", "divergence", "task"):
        if key == "divergence" and b[key] is not None:
            assert set(a[key]) == set(b[key])
            assert all(close(a[key][k], b[key][k], rel) for k in b[key]), (a[key], b[key])
        else:
            assert a[key] == b[key], key
    assert set(a["metrics"]) == set(b["metrics"])
    for key, value in b["metrics"].items():
        assert close(a["metrics"][key], value, 10 * rel), (key, a["metrics"][key], value)
