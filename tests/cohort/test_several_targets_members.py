"""Several regression targets in a cohort: each member (linear or MLP, ``[K, n, targets]``
outputs) equals its module-engine run, per-target scores included; a study may tune one
target's score."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest
from cohort_helpers import make, same_run

import tuneforge
from tuneforge.run.cohort import train_cohort


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3))
    y = np.tanh(x @ rng.normal(size=(3, 2))) * [2.0, 50.0] + 0.1 * rng.normal(size=(120, 2))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(u=y[:, 0], v=y[:, 1])
    frame.to_csv(tmp_path / "uv.csv", index=False)
    return tmp_path / "uv.csv"


def test_members_with_several_targets_equal_their_lone_runs(table) -> None:
    base = [f"data.source={table}", "data.target=[u, v]", "train.batch_size=16", "train.epochs=15",
            "train.checkpoint_every=0", "logging.report=false"]  # fmt: skip
    kinds = (["model.kind=linear", "train.loss=huber"],
             ["model.kind=mlp", "model.hidden=[8]", "model.bias=false"])  # fmt: skip
    for kind in kinds:
        cfgs = [make(*base, *kind, "train.optimizer.lr=0.01"),
                make(*base, *kind, "train.optimizer.lr=0.03", "train.regularization.l2=0.01"),
                make(*base, *kind, "train.optimizer.lr=0.02", "train.seed=2", "train.epochs=12")]  # fmt: skip
        for cfg, run in zip(cfgs, train_cohort(cfgs), strict=True):
            assert {"val/r2/u", "val/r2/v", "val/r2"} <= set(run.history[-1])
            same_run(run, tuneforge.train(cfg))


@pytest.mark.slow  # a whole study: ~10 s here
def test_a_study_tunes_one_targets_score(table, tmp_path) -> None:
    cfg = make(f"data.source={table}", "data.target=[u, v]", "model.kind=linear",
               "train.epochs=4", "train.checkpoint_every=0", "logging.report=false",
               f"tune.storage=sqlite:///{tmp_path / 's.db'}", f"tune.out={tmp_path / 'study'}",
               "tune.objective=val/r2/v")  # fmt: skip
    study = tuneforge.tune(cfg, trials=3)
    assert study.optuna.direction == optuna.study.StudyDirection.MAXIMIZE  # r2: larger is better
    values = study.trials_dataframe()["value"]
    assert study.best_value == values.max()
    best = json.loads((study.best_run / "summary.json").read_text())
    assert best["metrics"]["val/r2/v"] == pytest.approx(study.best_value)
