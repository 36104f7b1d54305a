"""Diagnostics: the learning-rate range test, gradient health, and how a run fit.

:func:`diagnose_run` turns a finished fit into the ``warnings`` and ``diagnosis`` of
``summary.json``; the rules are in docs/diagnostics.md.
"""

from __future__ import annotations

from tuneforge.diagnose.fit import constant_baseline, diagnose_fit, fit_warnings
from tuneforge.diagnose.gradients import GradientHealth, assess, warnings_for
from tuneforge.diagnose.lr_finder import LRCurve, lr_find, range_test

__all__ = ["GradientHealth", "LRCurve", "diagnose_run", "lr_find", "range_test"]


def diagnose_run(cfg, data, recipe, result) -> tuple[list[str], dict]:
    """``(warnings, diagnosis)`` for a finished :class:`~tuneforge.engine.module.FitResult`."""
    baseline = constant_baseline(recipe, data.y["train"])
    gradients = assess(result.history, cfg.train.diagnostics)
    fit = diagnose_fit(result.history, result.status, result.divergence, baseline, gradients)
    return fit_warnings(fit) + warnings_for(gradients), {"fit": fit, "gradients": gradients}
