"""Training-loop knobs: ``shuffle: false``, ``max_steps`` and ``stop_at``, checked against a
NumPy transcription of the loop they describe, in both engines, and across a resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tuneforge
from float64_runs import flat, float64_trainer
from tuneforge.errors import ConfigError
from tuneforge.run.cohort import train_cohort

LINEAR = ["data.source=diabetes", "model.kind=linear", "data.split.val=0", "train.checkpoint_every=0",
          "logging.report=false"]  # fmt: skip


def sgd_on_batches(theta: np.ndarray, x: np.ndarray, y: np.ndarray, batches, lrs) -> tuple:
    """Plain SGD on the MSE of each batch of rows; the parameters and each batch's loss."""
    losses = []
    for rows, lr in zip(batches, lrs, strict=True):
        residual = x[rows] @ theta[:-1] + theta[-1] - y[rows]
        losses.append(np.mean(residual**2))
        theta = theta - lr * np.append(2 * x[rows].T @ residual, 2 * residual.sum()) / len(rows)
    return theta, losses


def row_batches(n: int, size: int, order=None) -> list[np.ndarray]:
    order = np.arange(n) if order is None else order
    return [order[start : start + size] for start in range(0, n, size)]


def test_shuffle_false_steps_on_the_rows_in_order_every_epoch():
    trainer = float64_trainer(LINEAR, "train.batch_size=50", "train.epochs=3", "train.shuffle=false",
                              "train.optimizer={name: sgd, lr: 0.05}")  # fmt: skip
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    batches = row_batches(len(y), 50) * 3  # 353 rows: 8 batches, the last of 3 rows
    want, losses = sgd_on_batches(flat(trainer.model), x, y, batches, [0.05] * len(batches))
    trainer.fit()
    np.testing.assert_allclose(flat(trainer.model), want, rtol=1e-12)
    assert trainer.history[0]["train/loss"] == pytest.approx(np.mean(losses[:8]), rel=1e-12)


def test_the_shuffle_test_would_see_shuffled_batches():
    trainer = float64_trainer(LINEAR, "train.batch_size=50", "train.epochs=1", "train.optimizer={name: sgd, lr: 0.05}")
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    in_order, _ = sgd_on_batches(flat(trainer.model), x, y, row_batches(len(y), 50), [0.05] * 8)
    trainer.fit()
    assert not np.allclose(flat(trainer.model), in_order, rtol=1e-6)


def test_max_steps_stops_mid_epoch_and_the_schedule_spans_the_budget():
    # 353 rows in batches of 64: 6 steps an epoch; 15 steps end 3 steps into the third epoch
    trainer = float64_trainer(LINEAR, "train.batch_size=64", "train.max_steps=15", "train.optimizer={name: sgd, lr: 0.05}",
                              "train.schedule={name: cosine, min_factor: 0.1}")  # fmt: skip
    assert trainer.recipe.cfg.epochs == 3  # epochs: auto -> the epochs 15 steps take
    x, y = trainer.data.x["train"].numpy(), trainer.data.y["train"].numpy()
    generator = torch.Generator().manual_seed(0)  # the engine's order: train.seed 0
    batches = [b for _ in range(3) for b in row_batches(len(y), 64, torch.randperm(len(y), generator=generator).numpy())]
    t = np.arange(15)
    lrs = 0.05 * (0.1 + 0.9 * (1 + np.cos(np.pi * t / 15)) / 2)  # cosine over the 15 steps
    want, losses = sgd_on_batches(flat(trainer.model), x, y, batches[:15], lrs)
    result = trainer.fit()
    assert (result.status, result.steps, len(result.history)) == ("completed", 15, 3)
    np.testing.assert_allclose(flat(trainer.model), want, rtol=1e-11)
    assert [r["step"] for r in result.history] == [6, 12, 15]
    assert result.history[-1]["train/loss"] == pytest.approx(np.mean(losses[12:]), rel=1e-12)
    assert result.history[-1]["lr"] == pytest.approx(lrs[-1], rel=1e-12)


def test_max_steps_beside_fewer_epochs_leaves_the_epochs_in_charge():
    trainer = float64_trainer(LINEAR, "train.batch_size=64", "train.epochs=2", "train.max_steps=100")
    assert trainer.fit().steps == 12 == trainer.recipe.total_steps


@pytest.mark.parametrize(("threshold", "side"), [(0.7, "below"), (0.45, "above")])
def test_stop_at_ends_the_run_after_the_first_epoch_that_crosses(threshold, side):
    base = ["data.source=diabetes", "model.kind=linear", "train.batch_size=32", "train.epochs=40",
            "train.optimizer={name: sgd, lr: 0.01}", "train.checkpoint_every=0", "logging.report=false"]  # fmt: skip
    metric = "train/loss" if side == "below" else "val/r2"
    whole = tuneforge.train(tuneforge.load_config(overrides=base))
    values = [r[metric] for r in whole.history]
    crossed = [v < threshold if side == "below" else v > threshold for v in values]
    first = crossed.index(True) + 1
    assert 1 < first < 40  # the threshold lies inside the run
    cfg = tuneforge.load_config(overrides=[*base, f"train.stop_at={{metric: {metric}, {side}: {threshold}}}"])
    stopped = tuneforge.train(cfg)
    assert stopped.summary["status"] == "threshold_reached" and len(stopped.history) == first
    assert [r[metric] for r in stopped.history] == values[:first]
    cohort = train_cohort([cfg])[0]  # a cohort member stops at the same epoch
    assert cohort.summary["status"] == "threshold_reached" and len(cohort.history) == first


def test_a_cohort_member_in_row_order_or_with_a_full_batch_budget_matches_its_lone_run():
    base = ["data.source=diabetes", "model.kind=linear", "train.optimizer={name: sgd, lr: 0.02}",
            "logging.report=false"]  # fmt: skip
    cohorts = [[["train.batch_size=32", "train.epochs=4", "train.shuffle=false"],
                ["train.batch_size=32", "train.epochs=4"]],
               [["train.batch_size=full", "train.epochs=50", "train.max_steps=30"],
                ["train.batch_size=full", "train.epochs=40"]]]  # fmt: skip
    for members in cohorts:
        cfgs = [tuneforge.load_config(overrides=[*base, *extra]) for extra in members]
        for cfg, member in zip(cfgs, train_cohort(cfgs), strict=True):
            alone = tuneforge.train(cfg)
            assert member.summary["steps"] == alone.summary["steps"]
            np.testing.assert_allclose([r["train/loss"] for r in member.history],
                                       [r["train/loss"] for r in alone.history], rtol=1e-4)  # fmt: skip
            for name, value in alone.model.state_dict().items():
                torch.testing.assert_close(member.model.state_dict()[name], value, rtol=1e-4, atol=1e-6)
    budgeted = tuneforge.train(cfgs[0])
    assert budgeted.summary["steps"] == len(budgeted.history) == 30


class Crash(Exception):
    pass


def test_a_crashed_run_with_the_knobs_resumes_to_the_same_weights(tmp_path):
    cfg = tuneforge.load_config(overrides=[
        "data.source=iris", "model.hidden=[12]", "model.dropout=0.3", "train.batch_size=16",
        "train.shuffle=false", "train.max_steps=40", "train.stop_at={metric: val/loss, below: 1.0e-9}",
        "train.schedule={name: exponential_growth, gamma: 1.02, max_lr: 0.002}", "logging.report=false"])  # fmt: skip

    def crash(record):
        if record["epoch"] > 3:
            raise Crash

    whole = tuneforge.train(cfg, tmp_path / "whole")
    with pytest.raises(Crash):
        tuneforge.train(cfg, tmp_path / "crashed", callbacks=[crash])
    resumed = tuneforge.train(cfg, tmp_path / "crashed", resume=True)
    assert resumed.summary["steps"] == whole.summary["steps"] == 40  # 6 steps an epoch: 7 epochs
    for name, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    assert [r["train/loss"] for r in resumed.history] == [r["train/loss"] for r in whole.history]


def test_a_stop_at_metric_that_is_not_recorded_every_epoch_is_refused():
    cfg = tuneforge.load_config(overrides=[*LINEAR, "train.stop_at={metric: val/log_loss, above: 1}"])
    with pytest.raises(ConfigError, match=r"train.stop_at.metric: 'val/log_loss' is not a per-epoch metric"):
        tuneforge.train(cfg)
    no_val = tuneforge.load_config(overrides=[*LINEAR, "train.stop_at={metric: val/mse, below: 1}"])
    with pytest.raises(ConfigError, match="train.stop_at.metric: watches val/mse but data.split.val is 0"):
        tuneforge.train(no_val)
