"""``train.epochs: auto``: a training budget that fits the data (recipe/budget.py's rule)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from sklearn import datasets
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tuneforge
from tuneforge.config.schema import TrainConfig
from tuneforge.recipe.budget import epochs_for
from tuneforge.run.cohort import train_cohort
from tuneforge.sklearn import NeuralNetClassifier


@pytest.mark.parametrize(("rows", "keys", "epochs"), [
    (90, {}, 150),             # iris' training part: 2 batches of 64 -> 150 epochs for 300 steps
    (1077, {}, 20),            # digits: 17 steps an epoch; 18 would do, 20 is the least
    (10, {}, 200),             # one step an epoch: 300 would do, 200 is the most
    (90, {"batch_size": "full"}, 200),
    (300, {"accumulate": 2}, 100),        # 5 batches of 64, 3 steps: ceil(300 / 3)
    (90, {"min_steps": 1000}, 200),
    (90, {"epochs": 7}, 7),    # a number is kept as written
])  # fmt: skip
def test_auto_epochs_follow_the_documented_rule(rows, keys, epochs):
    cfg = TrainConfig(**keys)
    assert epochs_for(cfg, rows) == epochs
    if keys.get("epochs") is None:  # the formula of docs/recipes.md, written out
        batch = rows if keys.get("batch_size") == "full" else min(64, rows)
        steps = math.ceil(math.ceil(rows / batch) / keys.get("accumulate", 1))
        assert epochs == min(max(20, math.ceil(keys.get("min_steps", 300) / steps)), 200)


def test_a_run_records_the_epochs_auto_gave_it(tmp_path):
    cfg = tuneforge.load_config(overrides=["data.source=iris", "logging.report=false"])
    assert cfg.train.epochs == "auto"
    run = tuneforge.train(cfg, tmp_path / "run")
    assert run.summary["rows"]["train"] == 90 and run.summary["epochs"] == 150
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["train"]["epochs"] == 150  # config.yaml reproduces the run as it ran


def test_cohort_members_get_the_same_budget_as_alone():
    cfgs = [tuneforge.load_config(overrides=["data.source=iris", "train.device=cpu",
                                             f"train.optimizer.lr={lr}"]) for lr in (1e-3, 1e-2)]  # fmt: skip
    members = train_cohort(cfgs)
    alone = tuneforge.train(cfgs[0])
    assert [m.summary["epochs"] for m in members] == [150, 150] == [alone.summary["epochs"]] * 2
    assert members[0].history[-1]["train/loss"] == pytest.approx(alone.history[-1]["train/loss"], rel=1e-4)


def test_the_default_estimator_is_as_good_as_sklearns_on_iris():
    """Issue #21's bar on small data: the mean of 5-fold CV at least scikit-learn's MLP mean
    minus half its std, measured here against scikit-learn (not a number of our own)."""
    X, y = datasets.load_iris(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(NeuralNetClassifier(device="cpu"), X, y, cv=folds)
    reference = make_pipeline(StandardScaler(), MLPClassifier(random_state=0, max_iter=200))
    with np.errstate(all="ignore"), pytest.warns(Warning):  # sklearn: "not converged"
        theirs = cross_val_score(reference, X, y, cv=folds)
    assert ours.mean() >= theirs.mean() - theirs.std() / 2, (ours, theirs)


def test_the_estimator_says_how_many_epochs_it_trained():
    X, y = datasets.load_iris(return_X_y=True)
    clf = NeuralNetClassifier(device="cpu").fit(X, y)
    assert clf.config_.train.epochs == clf.n_iter_ == 100  # 150 rows in 3 batches of 64: ceil(300 / 3)


def test_auto_epochs_with_a_step_budget_are_the_epochs_the_steps_take():
    from tuneforge.config import validate
    from tuneforge.recipe.budget import epochs_for

    # 90 rows in batches of 16: 6 steps an epoch; 1000 steps take ceil(1000/6) = 167 epochs,
    # 7 steps take 2 (not auto's 20-epoch floor), an explicit epochs count stays as given
    train = validate({"train": {"batch_size": 16, "max_steps": 1000}}).train
    assert epochs_for(train, 90) == 167
    assert epochs_for(train.model_copy(update={"max_steps": 7}), 90) == 2
    assert epochs_for(train.model_copy(update={"epochs": 3}), 90) == 3
