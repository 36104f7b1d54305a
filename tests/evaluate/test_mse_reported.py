"""``mse`` is reported per epoch and per part in the target's units, by both engines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import predict_tensor
from tuneforge.run.cohort import train_cohort

DIABETES = ["data.source=diabetes", "model.kind=linear", "train.epochs=3", "train.batch_size=32",
            "train.optimizer.lr=0.05", "logging.report=false", "train.checkpoint_every=0"]  # fmt: skip


def test_a_regression_run_reports_mse_every_epoch_and_on_val_and_test():
    cfg = tuneforge.load_config(overrides=DIABETES)
    run = tuneforge.train(cfg)
    for record in run.history:  # the diabetes target is in its own units (25..346), not standardized
        assert record["val/mse"] == pytest.approx(record["val/rmse"] ** 2, rel=1e-5)
    data = prepare(cfg.data)
    enc = data.encoder
    for part in ("val", "test"):
        guess = predict_tensor(run.model, data.x[part])[:, 0].double().numpy()
        truth = data.y[part].double().numpy()
        want = mean_squared_error(truth * enc.target_std + enc.target_mean,
                                  guess * enc.target_std + enc.target_mean)  # fmt: skip
        assert run.summary["metrics"][f"{part}/mse"] == pytest.approx(want, rel=1e-5)
    assert run.summary["metrics"]["test/mse"] > 100  # squared target units, not standardized ones


def test_a_cohort_member_reports_the_mse_of_its_lone_run():
    cfgs = [tuneforge.load_config(overrides=[*DIABETES, f"train.optimizer.lr={lr}"]) for lr in (0.05, 0.01)]
    for cfg, member in zip(cfgs, train_cohort(cfgs), strict=True):
        alone = tuneforge.train(cfg)
        got = [r["val/mse"] for r in member.history]
        np.testing.assert_allclose(got, [r["val/mse"] for r in alone.history], rtol=1e-4)
        assert member.summary["metrics"]["test/mse"] == pytest.approx(alone.summary["metrics"]["test/mse"], rel=1e-4)
