"""Cohorts of any nn.Module through torch.func: each member's run equals its lone run."""

from __future__ import annotations

import math

import pytest
import torch

import tuneforge
from tuneforge.engine.cohort import group_cohorts
from tuneforge.run.cohort import train_cohort

# iris: 90 training rows, batches of 16 -> 6 steps an epoch, 102 steps in 17 epochs
BASE = ["data.source=iris", "train.batch_size=16", "train.epochs=17", "logging.report=false",
        "model.kind=custom", "model.args={width: 12, depth: 2}"]  # fmt: skip


def _cfg(nets, *extra):
    return tuneforge.load_config(overrides=[*BASE, f"model.factory={nets}:ResidualMLP", *extra])


def _close(a, b, rel=1e-4):
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def _same_run(cohort, alone):
    skip = {"seconds", "grad_norm", "grad_checks"}
    assert len(cohort.history) == len(alone.history)
    for mine, theirs in zip(cohort.history, alone.history, strict=True):
        assert set(mine) - skip == set(theirs) - skip
        assert all(_close(mine[k], theirs[k]) for k in theirs if k not in skip), (mine, theirs)
    for key, value in alone.summary["metrics"].items():
        assert _close(cohort.summary["metrics"][key], value, 1e-3), key
    for name, weight in alone.model.state_dict().items():
        assert torch.allclose(cohort.model.state_dict()[name], weight, rtol=1e-3, atol=1e-5), name


def test_members_with_their_own_recipes_match_their_lone_runs(nets):
    cfgs = [
        _cfg(nets, "train.optimizer.lr=0.01"),
        _cfg(nets, "train.optimizer.name=adamw", "train.optimizer.lr=0.003",
             "train.optimizer.weight_decay=0.1", "train.schedule.name=cosine", "train.seed=3"),
        _cfg(nets, "train.optimizer.lr=0.02", "train.regularization.l2=0.001",
             "train.clip_grad_norm=0.5", "train.label_smoothing=0.1", "train.seed=7"),
    ]  # fmt: skip
    assert group_cohorts(cfgs) == [[0, 1, 2]]
    runs = train_cohort(cfgs)
    for cfg, run in zip(cfgs, runs, strict=True):
        assert run.summary["steps"] >= 100
        _same_run(run, tuneforge.train(cfg))


def test_args_that_change_shapes_split_cohorts(nets):
    cfgs = [_cfg(nets), _cfg(nets, "model.args={width: 8, depth: 2}"), _cfg(nets, "train.optimizer.lr=0.1")]
    assert group_cohorts(cfgs) == [[0, 2], [1]]


def test_batch_norm_members_cannot_batch_and_say_why(tmp_path, monkeypatch):
    from user_code import forget, write_module

    from tuneforge.engine.cohort.functional import CohortUnsupported

    monkeypatch.chdir(tmp_path)
    name = write_module(tmp_path, "from torch import nn\n"
                        "def bn(n_inputs, n_outputs):\n"
                        "    return nn.Sequential(nn.Linear(n_inputs, 8), nn.BatchNorm1d(8), nn.Linear(8, n_outputs))\n")
    try:
        cfgs = [_cfg(name, f"model.factory={name}:bn", "model.args={}", f"train.seed={s}") for s in (0, 1)]
        with pytest.raises(CohortUnsupported, match=r"updates buffers in place \(1.running_mean: batch-norm running statistics\)"):
            train_cohort(cfgs)
    finally:
        forget(name)


def test_data_dependent_control_flow_is_refused_before_the_first_step(tmp_path, monkeypatch):
    from user_code import forget, write_module

    from tuneforge.engine.cohort.functional import CohortUnsupported

    monkeypatch.chdir(tmp_path)
    name = write_module(tmp_path, "from torch import nn\n"
                        "class Branchy(nn.Module):\n"
                        "    def __init__(self, n_inputs, n_outputs):\n"
                        "        super().__init__()\n"
                        "        self.fc = nn.Linear(n_inputs, n_outputs)\n"
                        "    def forward(self, x):\n"
                        "        out = self.fc(x)\n"
                        "        return out if out.sum() > 0 else -out\n")
    try:
        cfgs = [_cfg(name, f"model.factory={name}:Branchy", "model.args={}", f"train.seed={s}") for s in (0, 1)]
        with pytest.raises(CohortUnsupported, match=r"torch.func cannot batch Branchy's forward"):
            train_cohort(cfgs)
    finally:
        forget(name)
