"""train.precision: bf16 (autocast, fp32 weights) and train.accumulate with the new kinds."""

from __future__ import annotations

import pytest
import torch

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe

FAST = {"diagnostics": {"grad_every": 0}}


def _trainer(cfg):
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed)
    return ModuleTrainer(model, data, recipe, seed=cfg.train.seed)


@pytest.mark.parametrize("model", [{"kind": "cnn", "channels": [8], "head": 32},
                                   {"kind": "transformer", "d_model": 16, "heads": 2, "ff": 32}])  # fmt: skip
def test_bf16_autocasts_the_forward_and_keeps_fp32_weights_and_state(model):
    cfg = tuneforge.Config(model=model, train={"epochs": 6, "precision": "bf16",
                                               "optimizer": {"lr": 0.005}, **FAST})  # fmt: skip
    trainer = _trainer(cfg)
    seen = []
    first = next(m for m in trainer.model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    first.register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    result = trainer.fit()
    losses = [r["train/loss"] for r in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.history[-1]["val/accuracy"] > 0.75, result.history[-1]
    assert seen[0] == torch.bfloat16  # training steps ran under autocast ...
    assert seen[-1] == torch.float32  # ... evaluation did not
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    state = trainer.optimizer.state_dict()["state"]
    assert all(v.dtype == torch.float32 for s in state.values() for k, v in s.items() if k != "step")


@pytest.mark.parametrize("model", [{"kind": "rnn", "cell": "gru", "hidden_size": 8},
                                   {"kind": "cnn", "channels": [4], "head": 8, "batch_norm": False}])  # fmt: skip
def test_two_micro_batches_of_16_step_like_one_batch_of_32(model):
    source = "sine" if model["kind"] == "rnn" else "digits"

    def weights(batch_size, accumulate):
        cfg = tuneforge.Config(data={"source": source}, model=model,
                               train={"epochs": 2, "batch_size": batch_size, "accumulate": accumulate,
                                      "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, **FAST})  # fmt: skip
        trainer = _trainer(cfg)
        trainer.fit()
        return trainer.model.state_dict(), trainer.step

    accumulated, steps_a = weights(16, 2)
    big, steps_b = weights(32, 1)
    assert steps_a == steps_b
    for key in big:
        torch.testing.assert_close(accumulated[key], big[key], rtol=1e-4, atol=1e-5)
    small, _ = weights(16, 1)  # sensitivity: without accumulation the weights differ
    assert any(not torch.allclose(small[k], big[k], rtol=1e-3, atol=1e-4) for k in big)
