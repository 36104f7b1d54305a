"""Objectives: names checked against the task, directions inferred, k-fold means."""

from __future__ import annotations

import statistics

import pytest

from tuneforge.config import validate
from tuneforge.errors import ConfigError
from tuneforge.tuning.objective import Objective, resolve_objectives


def resolve(objective, task="classification", n_classes=3, cv=None, has_val=True):
    specs = validate({"tune": {"objective": objective}}).tune.objective
    return resolve_objectives(specs, task, n_classes, cv, has_val)


def test_default_objective_depends_on_the_task():
    assert resolve(None) == [Objective("val/accuracy", "maximize")]
    assert resolve(None, task="regression", n_classes=None) == [Objective("val/rmse", "minimize")]


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("val/accuracy", "maximize"), ("val/f1", "maximize"), ("val/loss", "minimize"),
     ("val/log_loss", "minimize"), ("train/loss", "minimize"), ("params", "minimize"),
     ("wall_time_s", "minimize")],
)  # fmt: skip
def test_direction_is_inferred_from_the_metric(metric, direction):
    assert resolve(metric)[0].direction == direction


def test_mse_is_a_minimized_regression_objective_watched_every_epoch():
    [objective] = resolve("val/mse", task="regression", n_classes=None)
    assert objective == Objective("val/mse", "minimize") and objective.epoch_metric == "val/mse"
    assert objective.value([{"metrics": {"val/mse": 2.5}}]) == 2.5
    with pytest.raises(ConfigError, match="unknown metric 'val/mse' for a classification task"):
        resolve("val/mse")


def test_direction_can_be_given():
    assert resolve({"metric": "val/loss", "direction": "maximize"})[0].direction == "maximize"


def test_multi_objective_list():
    objectives = resolve(["val/accuracy", "params"])
    assert [(o.metric, o.direction) for o in objectives] == [("val/accuracy", "maximize"), ("params", "minimize")]


def test_cv_turns_val_metrics_into_fold_means():
    [objective] = resolve("val/accuracy", cv=3)
    assert objective.metric == "cv/accuracy"
    assert objective.run_metric == "val/accuracy" and objective.epoch_metric == "val/accuracy"
    folds = [{"metrics": {"val/accuracy": a}} for a in (0.9, 0.8, 0.7)]
    assert objective.value(folds) == pytest.approx(statistics.mean([0.9, 0.8, 0.7]))


def test_summary_numbers_are_read_from_the_summary():
    [objective] = resolve("params")
    assert objective.value([{"parameters": 1234, "metrics": {}}]) == 1234
    assert objective.epoch_metric is None


def test_metric_only_known_at_the_end_has_no_epoch_value():
    [objective] = resolve("val/log_loss")
    assert objective.epoch_metric is None


@pytest.mark.parametrize(
    ("objective", "kwargs", "message"),
    [
        ("test/accuracy", {}, "tune.objective: 'test/accuracy' would tune on the test part"),
        ("val/acuracy", {}, "tune.objective: unknown metric 'val/acuracy'"),
        ("accuracy", {}, "tune.objective: unknown metric 'accuracy'"),
        ("val/rmse", {}, "unknown metric 'val/rmse' for a classification task"),
        ("val/accuracy", {"task": "regression", "n_classes": None}, "for a regression task"),
        ("train/accuracy", {}, "only train/loss is recorded"),
        ("val/roc_auc", {"n_classes": 3}, "roc_auc needs 2 classes"),
        ("val/accuracy", {"has_val": False}, "data.split.val is 0"),
        (["val/accuracy", "val/accuracy"], {}, "the same metric is listed twice"),
        (["val/accuracy", "val/nope"], {}, "tune.objective.1: unknown metric"),
    ],
)
def test_bad_objectives_name_the_key(objective, kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(objective, **kwargs)


def test_bad_objective_shapes_are_refused_at_load_time():
    with pytest.raises(ConfigError, match="tune.objective: objective list is empty"):
        validate({"tune": {"objective": []}})
    with pytest.raises(ConfigError, match="tune.objective.0.direction"):
        validate({"tune": {"objective": {"metric": "val/loss", "direction": "up"}}})
