"""How a run ends: early stopping, divergence, a callback's status, and reproducible seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import tuneforge
from tuneforge.config.schema import EarlyStoppingConfig
from tuneforge.data import prepare
from tuneforge.engine.callbacks import EarlyStopping
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def trainer_for(*overrides: str) -> ModuleTrainer:
    cfg = tuneforge.load_config(overrides=["train.checkpoint_every=0", *overrides])
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed)
    return ModuleTrainer(model, data, recipe, seed=cfg.train.seed)


# --------------------------------------------------------------------------- early stopping
def _stop_epoch(stopper: EarlyStopping, values: list[float]) -> int | None:
    model = torch.nn.Linear(1, 1)
    for epoch, value in enumerate(values, start=1):
        if stopper.update(value, epoch, model):
            return epoch
    return None


@pytest.mark.parametrize("sign,mode", [(1, "min"), (-1, "max")])
def test_patience_counts_epochs_without_an_improvement_larger_than_min_delta(sign, mode):
    # epoch:  1    2    3     4      5     6    7      8      9
    values = [1.0, 0.9, 0.85, 0.849, 0.86, 0.7, 0.695, 0.692, 0.691]
    # With min_delta 0.01: 0.849 (epoch 4) is no improvement on 0.85; epoch 6 improves;
    # 7, 8 and 9 creep by less than 0.01, so patience 3 stops at epoch 9, epoch 6 the best.
    stopper = EarlyStopping(EarlyStoppingConfig(patience=3, min_delta=0.01, mode=mode))
    assert _stop_epoch(stopper, [sign * v for v in values]) == 9
    assert (stopper.best_epoch, stopper.best) == (6, sign * 0.7)
    # Without min_delta every smaller value is an improvement: no stop, epoch 9 the best.
    stopper = EarlyStopping(EarlyStoppingConfig(patience=3, mode=mode))
    assert _stop_epoch(stopper, [sign * v for v in values]) is None
    assert stopper.best_epoch == 9


def test_patience_zero_stops_at_the_first_epoch_without_improvement_and_nan_never_improves():
    stopper = EarlyStopping(EarlyStoppingConfig(patience=0))
    assert _stop_epoch(stopper, [1.0, 0.5, 0.6, 0.1]) == 3
    stopper = EarlyStopping(EarlyStoppingConfig(patience=2))
    assert _stop_epoch(stopper, [1.0, math.nan, math.nan, 0.1]) == 3


def test_the_monitor_decides_the_mode():
    assert EarlyStopping(EarlyStoppingConfig(monitor="val/loss")).mode == "min"
    assert EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy")).mode == "max"


ITERATES = ["data.source=iris", "train.epochs=200", "train.optimizer.lr=0.05"]


@pytest.mark.parametrize("restore_best", [True, False])
def test_engine_stops_after_patience_and_keeps_the_best_epochs_weights(restore_best):
    patience = 5
    trainer = trainer_for(*ITERATES, f"train.early_stopping={{patience: {patience}, "
                                     f"restore_best: {str(restore_best).lower()}}}")  # fmt: skip
    snapshots = []
    result = trainer.fit([lambda record: snapshots.append(
        {k: v.clone() for k, v in trainer.model.state_dict().items()})])  # fmt: skip
    losses = [r["val/loss"] for r in result.history]
    best = int(np.argmin(losses)) + 1  # first epoch with the lowest validation loss
    assert result.status == "early_stopped"
    assert result.best_epoch == best
    assert len(result.history) == best + patience < 200
    kept = snapshots[best - 1] if restore_best else snapshots[-1]
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, kept[name], rtol=0, atol=0)


def test_run_summary_scores_the_restored_best_model():
    run = tuneforge.train(tuneforge.load_config(overrides=[*ITERATES, "train.checkpoint_every=0",
                                                           "train.early_stopping={patience: 5}"]))  # fmt: skip
    best = run.summary["best_epoch"]
    assert run.summary["status"] == "early_stopped" and best < run.summary["epochs"]
    assert run.summary["metrics"]["val/loss"] == pytest.approx(run.history[best - 1]["val/loss"],
                                                               rel=1e-6)  # fmt: skip


def test_a_callback_status_stops_the_run_after_that_epoch():
    trainer = trainer_for("data.source=iris", "train.epochs=10")
    result = trainer.fit([lambda record: "pruned" if record["epoch"] == 3 else None])
    assert (result.status, len(result.history), trainer.epoch) == ("pruned", 3, 3)


# ------------------------------------------------------------------------------ divergence
def _first_nonfinite_step(cfg) -> int:
    """A hand-written float32 SGD loop over the same rows; the step whose loss is NaN/Inf."""
    data = prepare(cfg.data)
    x, y = data.x["train"], data.y["train"]
    model = build_model(cfg.model, data.n_features, 1, seed=cfg.train.seed)
    size = len(y) if cfg.train.batch_size == "full" else cfg.train.batch_size
    generator = torch.Generator().manual_seed(cfg.train.seed)
    step = 0
    for _ in range(cfg.train.epochs):
        order = torch.arange(len(y)) if size == len(y) else torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), size):
            rows = order[start : start + size]
            loss = (model(x[rows])[:, 0] - y[rows]).square().mean()
            step += 1
            if not torch.isfinite(loss):
                return step
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= cfg.train.optimizer.lr * p.grad
    raise AssertionError("the reference loop did not diverge")


# The diverged model's finite but huge predictions overflow in scikit-learn's final scores.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("batch_size", ["full", 32])
def test_an_absurd_learning_rate_diverges_names_the_step_and_still_writes_the_run(
    batch_size, tmp_path
):
    cfg = tuneforge.load_config(overrides=[
        "data.source=diabetes", "model.kind=linear", "train.epochs=20",
        f"train.batch_size={batch_size}", "train.optimizer={name: sgd, lr: 1.0e+6}",
    ])  # fmt: skip
    run = tuneforge.train(cfg, out=tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == run.summary["status"] == "diverged"
    assert summary["divergence"]["step"] == _first_nonfinite_step(cfg)
    assert summary["divergence"]["lr"] == pytest.approx(1e6)
    assert any("loss became NaN/Inf at step" in w for w in summary["warnings"])
    for name in ("config.yaml", "metrics.jsonl", "model.safetensors", "encoder.json"):
        assert (tmp_path / name).is_file()
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert math.isnan(last["train/loss"]) and last["epoch"] == summary["epochs"] < 20


# ------------------------------------------------------------------------------------ seeds
@pytest.fixture
def restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)


def _final_weights(seed: int) -> dict[str, torch.Tensor]:
    cfg = tuneforge.load_config(overrides=[
        "data.source=wine", "model.hidden=[16]", "model.dropout=0.2", "train.epochs=3",
        "train.batch_size=16", f"train.seed={seed}", "train.deterministic=true",
        "train.checkpoint_every=0",
    ])  # fmt: skip
    return tuneforge.train(cfg).model.state_dict()


def test_the_same_seed_gives_bit_identical_weights_and_another_seed_does_not(restore_determinism):
    first, again, other = _final_weights(3), _final_weights(3), _final_weights(4)
    for name in first:
        torch.testing.assert_close(first[name], again[name], rtol=0, atol=0)
    assert any(not torch.equal(first[name], other[name]) for name in first)
