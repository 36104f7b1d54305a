"""Per-member label smoothing: cohort members with different ε match their lone runs.

Label smoothing is batched (it no longer splits cohorts), so the default tuning space, which
samples it, can put those trials in one cohort.
"""

from __future__ import annotations

from cohort_helpers import same_run

from tuneforge import load_config, train
from tuneforge.engine.cohort import group_cohorts
from tuneforge.run.cohort import train_cohort

BASE = ["data.source=digits", "train.epochs=7", "train.batch_size=64", "model.hidden=[64]"]  # 119 steps


def test_members_with_different_label_smoothing_share_a_cohort_and_match_alone():
    cfgs = [load_config(overrides=[*BASE, f"train.optimizer.lr={lr}", f"train.label_smoothing={eps}"])
            for lr, eps in [(0.003, 0.0), (0.01, 0.1), (0.001, 0.2)]]  # fmt: skip
    assert group_cohorts(cfgs) == [[0, 1, 2]]
    for cohort_run, cfg in zip(train_cohort(cfgs), cfgs, strict=True):
        same_run(cohort_run, train(cfg))


def test_one_shared_smoothing_uses_the_recipe_loss_and_matches_alone():
    cfgs = [load_config(overrides=[*BASE, f"train.optimizer.lr={lr}", "train.label_smoothing=0.1"])
            for lr in (0.003, 0.01)]  # fmt: skip
    for cohort_run, cfg in zip(train_cohort(cfgs), cfgs, strict=True):
        same_run(cohort_run, train(cfg))
