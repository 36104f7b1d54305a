"""Runs: one recipe trained into a run directory, and the workflows built on it.

- :mod:`~tuneforge.run.training`: ``train`` (the API function) and ``check_inputs``;
- :mod:`~tuneforge.run.folder`: the run directory (``Run``, ``load_run``, metrics.jsonl);
- :mod:`~tuneforge.run.summary`: ``summary.json``;
- :mod:`~tuneforge.run.cohort`: runs of cohort members (``train_cohort``, ``CohortPool``);
- :mod:`~tuneforge.run.cv` and :mod:`~tuneforge.run.seeds`: k-fold and several seeds.
"""

from __future__ import annotations

from tuneforge.run.folder import Run, load_run, save_run
from tuneforge.run.summary import summarize
from tuneforge.run.training import check_inputs, train, with_inferred

__all__ = ["Run", "check_inputs", "load_run", "save_run", "summarize", "train", "with_inferred"]
