"""A cohort honours ``model.bias: false`` and the ``zeros`` / ``normal`` initializations: each
member's run equals its module-engine run (the batched layers take a bias-free head)."""

from __future__ import annotations

from cohort_helpers import make, same_run

import tuneforge
from tuneforge.engine.cohort.grouping import group_cohorts
from tuneforge.run.cohort import train_cohort


def test_a_bias_free_zeros_or_normal_member_equals_its_lone_run() -> None:
    """The cohort's batched layers honour a bias-free head and the new initializations."""
    mlp = ["data.source=iris", "train.batch_size=16", "train.epochs=6", "model.kind=mlp",
           "model.hidden=[8, 6]", "model.bias=false"]  # fmt: skip
    cfgs = [make(*mlp, "model.init=normal", "model.init_std=0.3", "train.optimizer.lr=0.01"),
            make(*mlp, "model.init=he", "model.hidden=[4, 6]", "train.optimizer.lr=0.02"),
            make(*mlp, "model.init=xavier", "train.seed=3")]  # fmt: skip
    runs = train_cohort(cfgs)
    for cfg, run in zip(cfgs, runs, strict=True):
        assert run.model[-1].bias is None
        same_run(run, tuneforge.train(cfg))
    linear = ["data.source=iris", "train.batch_size=16", "train.epochs=6", "model.kind=logistic",
              "model.bias=false"]  # fmt: skip
    cfgs = [make(*linear, "model.init=zeros"), make(*linear, "model.init=normal", "model.init_std=0.1")]
    for cfg, run in zip(cfgs, train_cohort(cfgs), strict=True):
        assert run.model.bias is None
        same_run(run, tuneforge.train(cfg))


def test_members_with_and_without_a_head_bias_go_to_different_cohorts() -> None:
    base = ["data.source=iris", "model.kind=mlp"]
    cfgs = [make(*base), make(*base, "model.bias=false"), make(*base, "train.optimizer.lr=0.1")]
    assert group_cohorts(cfgs) == [[0, 2], [1]]
