"""The cohort engine: K recipes of one small model trained at once as one batched model.

:class:`CohortTrainer` trains members (recipes with the same structure: see
:func:`group_cohorts`) as one model with per-member hyperparameters; each member's curve equals
its lone run. The runs each member ends as (``train_cohort``, the rolling ``CohortPool``) live in
:mod:`tuneforge.run.cohort`. See ``docs/cohort.md`` for what is batched, what splits cohorts and
what is guaranteed to be equal.
"""

from __future__ import annotations

from tuneforge.engine.cohort.grouping import band_capacity, group_cohorts, structure, unsupported
from tuneforge.engine.cohort.members import Member
from tuneforge.engine.cohort.trainer import CohortTrainer

__all__ = ["CohortTrainer", "Member", "band_capacity", "group_cohorts", "structure", "unsupported"]
