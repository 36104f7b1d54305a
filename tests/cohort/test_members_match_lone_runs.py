"""A cohort member's numbers equal the module engine's run of the same recipe (SPEC §6).

Members differ in what a cohort batches (learning rate, schedule, L1/L2, weight decay, label
smoothing, width, optimizer hyperparameters); each member's epoch curve is compared with
``tuneforge.train`` of its own config, epoch by epoch.
"""

from __future__ import annotations

import math

import pytest
import torch

from tuneforge import load_config, train
from tuneforge.engine.cohort import group_cohorts, train_cohort


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def recipes(base: list[str], variants: list[list[str]]):
    return [load_config(overrides=[*base, *v]) for v in variants]


def assert_same_curves(cohort_run, alone_run, rel: float = 1e-4) -> None:
    assert len(cohort_run.history) == len(alone_run.history)
    for mine, theirs in zip(cohort_run.history, alone_run.history, strict=True):
        for key in ("train/loss", "val/loss", "val/accuracy", "val/rmse"):
            if key in theirs:
                assert math.isclose(mine[key], theirs[key], rel_tol=rel, abs_tol=1e-7), (key, mine, theirs)
    assert cohort_run.summary["status"] == alone_run.summary["status"]


MLP = ["data.source=digits", "train.epochs=7", "train.batch_size=64", "model.hidden=[64]"]  # 119 steps


@pytest.mark.parametrize("optimizer", [
    ["train.optimizer.name=adam"],
    ["train.optimizer.name=adamw", "train.optimizer.weight_decay=0.05"],
    ["train.optimizer.name=sgd", "train.optimizer.momentum=0.9", "train.optimizer.nesterov=true"],
    ["train.optimizer.name=rmsprop"],
])  # fmt: skip
def test_mlp_members_with_different_recipes_match_their_lone_runs(optimizer):
    cfgs = recipes(MLP + optimizer, [
        ["train.optimizer.lr=0.003"],
        ["train.optimizer.lr=0.01", "model.hidden=[32]", "train.regularization.l2=0.001"],
        ["train.optimizer.lr=0.001", "train.schedule={name: cosine}", "train.label_smoothing=0.1"],
        ["train.optimizer.lr=0.005", "train.schedule={name: inverse_time, decay: 0.05}",
         "train.regularization.l1=0.0001", "train.clip_grad_norm=0.5"],
    ])  # fmt: skip
    assert group_cohorts(cfgs) == [[0, 1, 2, 3]]  # all four batch together
    for cohort_run, cfg in zip(train_cohort(cfgs), cfgs, strict=True):
        assert_same_curves(cohort_run, train(cfg))


def test_linear_and_logistic_members_match_their_lone_runs():
    linear = recipes(["data.source=diabetes", "model.kind=linear", "train.loss=mse", "train.epochs=30",
                      "train.batch_size=full", "train.optimizer={name: sgd}"],
                     [["train.optimizer.lr=0.05"], ["train.optimizer.lr=0.2", "train.regularization.l2=0.01"]])  # fmt: skip
    logistic = recipes(["data.source=breast_cancer", "model.kind=logistic", "train.epochs=10"],
                       [["train.optimizer.lr=0.01"], ["train.optimizer.lr=0.001", "train.label_smoothing=0.2"]])  # fmt: skip
    for cfgs in (linear, logistic):
        for cohort_run, cfg in zip(train_cohort(cfgs), cfgs, strict=True):
            assert_same_curves(cohort_run, train(cfg))


def test_a_diverging_member_leaves_and_never_poisons_the_others():
    sgd = ["data.source=diabetes", "model.hidden=[32]", "train.epochs=6", "train.optimizer={name: sgd}"]
    cfgs = recipes(sgd, [["train.optimizer.lr=0.01"], ["train.optimizer.lr=100"], ["train.optimizer.lr=0.003"]])
    runs = train_cohort(cfgs)
    assert runs[1].summary["status"] == "diverged" and runs[1].summary["divergence"]["step"] >= 1
    assert_same_curves(runs[0], train(cfgs[0]))
    assert_same_curves(runs[2], train(cfgs[2]))


def test_a_pruned_member_leaves_while_the_others_go_on_unchanged():
    cfgs = recipes(MLP, [["train.optimizer.lr=0.003"], ["train.optimizer.lr=0.01"]])
    prune_after_two = [lambda record: "pruned" if record["epoch"] == 2 else None]
    runs = train_cohort(cfgs, [[], prune_after_two])
    assert runs[1].summary["status"] == "pruned" and len(runs[1].history) == 2
    assert_same_curves(runs[0], train(cfgs[0]))


def test_early_stopping_acts_per_member():
    stop = ["train.early_stopping={monitor: val/loss, patience: 1}"]
    cfgs = recipes(MLP + ["train.epochs=25"], [["train.optimizer.lr=0.05", *stop], ["train.optimizer.lr=0.001"]])
    runs = train_cohort(cfgs)
    alone = [train(cfg) for cfg in cfgs]
    assert runs[0].summary["status"] == alone[0].summary["status"] == "early_stopped"
    assert runs[0].summary["best_epoch"] == alone[0].summary["best_epoch"]
    for cohort_run, lone_run in zip(runs, alone, strict=True):
        assert_same_curves(cohort_run, lone_run)


def test_structure_splits_cohorts():
    cfgs = recipes(MLP, [[], ["model.activation=tanh"], ["model.hidden=[32, 16]"], ["train.batch_size=32"],
                         ["train.optimizer.name=sgd"], ["train.optimizer.lr=0.1"]])  # fmt: skip
    assert group_cohorts(cfgs) == [[0, 5], [1], [2], [3], [4]]
    assert group_cohorts(cfgs[:1] * 5, max_members=2) == [[0, 1], [2, 3], [4]]
