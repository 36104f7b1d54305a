"""Members with different batch sizes share one cohort and each equals its lone run (SPEC §6).

Iris has 90 training rows: batch sizes 8/16/32 walk the epoch in micro-batches of 8 rows (the
last one 2 rows), so a 32-row member accumulates four micro-batches per step and its last batch
of each epoch is 26 rows (8 + 8 + 8 + 2). Every member's records and summary are compared with
``tuneforge.train`` of the same recipe after 100+ optimizer steps, the reference being the
module engine's own batches, accumulation and schedules.
"""

from __future__ import annotations

import torch
from cohort_helpers import make, same_run

import tuneforge
from tuneforge.engine.cohort import group_cohorts
from tuneforge.engine.cohort.micro import ALL, MicroPlan
from tuneforge.run.cohort import train_cohort

IRIS = ["data.source=iris", "model.kind=mlp", "model.hidden=[12, 8]", "train.epochs=34"]


def check_one_cohort(cfgs) -> list:
    assert group_cohorts(cfgs, max_members=64) == [list(range(len(cfgs)))]
    runs = train_cohort(cfgs)
    for cfg, run in zip(cfgs, runs, strict=True):
        same_run(run, tuneforge.train(cfg))
        assert run.summary["steps"] >= 100
    return runs


def test_adam_members_of_batch_8_16_32_with_accumulation_and_step_schedules() -> None:
    """Fused Adam (CPU): members step on their own micro-batches; step schedules count each
    member's own steps (12, 6, 3 or 2 per epoch)."""
    check_one_cohort([
        make(*IRIS, "train.batch_size=8", "train.optimizer.lr=0.01", "train.epochs=9"),
        make(*IRIS, "train.batch_size=32", "train.optimizer.lr=0.02", "train.schedule.name=cosine",
             "train.schedule.warmup_steps=10", "train.regularization.l2=0.001"),
        make(*IRIS, "train.batch_size=16", "train.accumulate=2", "train.optimizer.name=adamw",
             "train.optimizer.weight_decay=0.1", "train.optimizer.lr=0.03", "train.epochs=50",
             "train.schedule.name=onecycle", "train.seed=3"),
        make(*IRIS, "train.batch_size=16", "train.optimizer.lr=0.005", "model.activation=tanh",
             "train.clip_grad_norm=0.5", "train.schedule.name=step", "train.schedule.step_size=40",
             "train.schedule.gamma=0.5"),
        make(*IRIS, "train.batch_size=128", "train.optimizer.lr=0.05", "train.epochs=100",
             "train.seed=1"),  # larger than the training set: one unshuffled batch, as alone
    ])  # fmt: skip


def test_sgd_members_of_batch_8_16_32_batched_step_with_proximal_l1_and_clipping() -> None:
    """SGD steps through the batched form: a step of some members gathers and scatters their
    rows of parameters and momentum; penalties and clipping see only theirs."""
    sgd = [*IRIS, "train.optimizer.name=sgd", "train.optimizer.momentum=0.9"]
    runs = check_one_cohort([
        make(*sgd, "train.batch_size=32", "train.optimizer.lr=0.1", "train.regularization.l1=0.01",
             "train.regularization.l1_mode=proximal"),
        make(*sgd, "train.batch_size=8", "train.optimizer.lr=0.02", "train.clip_grad_value=0.1",
             "train.epochs=9", "train.optimizer.nesterov=true"),
        make(*sgd, "train.batch_size=16", "train.accumulate=3", "train.optimizer.lr=0.05",
             "train.regularization.l2=0.01", "train.schedule.name=cosine", "train.epochs=50"),
        make(*sgd, "train.batch_size=32", "train.optimizer.lr=0.05", "train.seed=2",
             "train.clip_grad_norm=0.2", "train.schedule.name=inverse_time",
             "train.schedule.decay=0.05"),
    ])  # fmt: skip
    zeros = sum(int((p == 0).sum()) for p in runs[0].model.parameters())
    assert zeros > 0  # the proximal step made exact zeros, in the cohort as alone


def test_plan_weights_sum_to_one_per_step_and_steps_end_with_batches() -> None:
    """The micro-batch weights of each member's step sum to 1 (the step's mean loss) and each
    member steps exactly ``ceil(batches / accumulate)`` times per epoch, as alone."""
    plan = MicroPlan(90, [8, 16, 32, None], [1, 2, 1, 1], torch.device("cpu"))
    assert plan.micro == 8 and plan.rows == [8] * 11 + [2]
    weights = torch.stack(plan.weights, 1)  # [K, M]
    for k, steps in enumerate([12, 3, 3, 1]):
        ends = [i for i, s in enumerate(plan.stepping) if s == ALL or (s and k in s[1])]
        assert len(ends) == steps
        starts = [0] + [i + 1 for i in ends[:-1]]
        for first, last in zip(starts, ends, strict=True):
            assert torch.isclose(weights[k, first : last + 1].sum(), torch.tensor(1.0))
    assert plan.stepping[-1] == ALL
