"""group_cohorts: what a cohort can batch stays together; what it cannot splits."""

from __future__ import annotations

import pytest
from cohort_helpers import make

from tuneforge.engine.cohort import group_cohorts
from tuneforge.errors import ConfigError
from tuneforge.run.cohort import train_cohort

BASE = ["data.source=iris", "model.hidden=[16, 8]"]

BATCHED = [  # differences a cohort batches: all of these share one group with the base
    "train.optimizer.lr=0.1",
    "train.optimizer.name=adamw",
    "train.optimizer.betas=[0.8, 0.9]",
    "train.regularization.l2=0.01",
    "train.regularization.l1_mode=proximal",
    "train.schedule.name=cosine",
    "train.epochs=5",
    "train.seed=3",
    "model.activation=tanh",  # computed for every member, each keeps its own (torch.where)
    "train.clip_grad_norm=1.0",
    "model.hidden=[64, 2]",
    "model.dropout=0.3",
    "model.init=xavier",
    "train.early_stopping.patience=3",
    "train.batch_size=32",  # batch sizes a power of two apart: micro-batches of the smallest
    "train.batch_size=128",
    "train.accumulate=2",
    "train.shuffle=false",  # members in row order read the unshuffled order, the others theirs
    "train.stop_at={metric: train/loss, below: 0.1}",
    "train.loss_scale=0.5",
    "train.loss_reduction=sum",
]
SPLIT = [  # differences it cannot batch: each starts a group of its own
    "model.hidden=[16]",
    "model.norm=batch",
    "model.kind=logistic",
    "train.batch_size=48",  # 48 = 3·16 and 64 = 2⁶ would walk the epoch in 16-row steps
    "train.batch_size=full",
    "train.optimizer.name=sgd",
    "train.optimizer.name=rmsprop",
    "train.loss=cross_entropy",  # explicit loss vs inferred: same loss, still kept apart (cheap)
    "data.source=wine",
    "data.split.seed=1",
]


def test_batchable_differences_share_a_group() -> None:
    cfgs = [make(*BASE)] + [make(*BASE, o) for o in BATCHED]
    assert group_cohorts(cfgs, max_members=64) == [list(range(len(cfgs)))]


@pytest.mark.parametrize("override", SPLIT)
def test_structural_differences_split(override: str) -> None:
    other = (
        make("data.source=iris", override)
        if override.startswith("model.kind")
        else make(*BASE, override)
    )
    cfgs = [make(*BASE), other, make(*BASE, "train.optimizer.lr=0.5")]
    assert group_cohorts(cfgs) == [[0, 2], [1]]


def test_batch_norm_keeps_its_batch_size_exact() -> None:
    """Batch norm's statistics are over a forward pass: its batches are never split."""
    bn = [*BASE, "model.norm=batch"]
    cfgs = [make(*bn), make(*bn, "train.batch_size=32"), make(*bn, "train.accumulate=2")]
    assert group_cohorts(cfgs) == [[0, 2], [1]]


def test_groups_are_capped_and_keep_first_appearance_order() -> None:
    a = [make(*BASE, f"train.optimizer.lr={lr}") for lr in (0.1, 0.2, 0.3, 0.4, 0.5)]
    b = make(*BASE, "model.norm=layer")
    cfgs = [a[0], b, *a[1:]]
    assert group_cohorts(cfgs, max_members=2) == [[0, 2], [1], [3, 4], [5]]
    with pytest.raises(ValueError):
        group_cohorts(cfgs, max_members=0)


def test_by_width_keeps_padding_under_two_fold() -> None:
    widths = ["[100]", "[120]", "[300]", "[64]", "[512]", "[65]"]
    cfgs = [make("data.source=iris", f"model.hidden={w}") for w in widths]
    assert group_cohorts(cfgs) == [[0, 1, 2, 3, 4, 5]]
    assert group_cohorts(cfgs, by_width=True) == [[0, 1, 3, 5], [2, 4]]  # 64: nearest band
    deeper = make("data.source=iris", "model.hidden=[64, 8]")  # no band of its depth: alone
    assert group_cohorts([*cfgs, deeper], by_width=True) == [[0, 1, 3, 5], [2, 4], [6]]
    capped = group_cohorts(cfgs[:3], max_members=2, by_width=True)  # 300 finds no room
    assert capped == [[0, 1], [2]]


@pytest.mark.parametrize("override", ["train.augment={noise: 0.1}", "train.precision=bf16", "train.max_steps=40"])
def test_recipes_the_cohort_cannot_batch_train_alone(override: str) -> None:
    """Augmentation and bf16 are the module engine's: such a recipe is a group of its own, and
    train_cohort refuses it instead of silently training without it."""
    cfgs = [make(*BASE), make(*BASE, override), make(*BASE, "train.optimizer.lr=0.5")]
    assert group_cohorts(cfgs) == [[0, 2], [1]]
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        train_cohort([cfgs[1]])
