"""Per-group learning rates: the optimizer's groups, the schedule on each, and exact resume."""

from __future__ import annotations

import pytest
import torch
from pretrained_helpers import target_config
from safetensors.torch import load_file

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def _trainer(cfg) -> ModuleTrainer:
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    return ModuleTrainer(model, data, recipe)


def test_head_and_layer_decayed_body_groups(source_run, digits_files):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "head_lr": 0.01,
                 "body_lr": 0.001, "layer_decay": 0.5}  # fmt: skip
    trainer = _trainer(target_config(digits_files[1], model_cfg))
    model, groups = trainer.model, trainer.optimizer.param_groups
    assert [g["name"] for g in groups] == ["head", "block1", "block0"]
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.001, 0.0005])
    named = {id(p): n for n, p in model.named_parameters()}
    assert [named[id(p)] for p in groups[0]["params"]] == model.head_names
    assert [named[id(p)] for p in groups[2]["params"]] == model.block_names[0]
    # every parameter is in exactly one group (frozen ones too: the groups never change shape)
    assert sorted(named[id(p)] for g in groups for p in g["params"]) == sorted(named.values())


def test_the_schedule_scales_each_group_from_its_own_rate(source_run, digits_files):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "head_lr": 0.01, "body_lr": 0.002}
    cfg = target_config(digits_files[1], model_cfg, epochs=2,
                        schedule={"name": "exponential", "gamma": 0.9})  # fmt: skip
    trainer = _trainer(cfg)
    trainer.fit()
    factor = float(trainer.recipe.factors[trainer.step - 1])
    lrs = [g["lr"] for g in trainer.optimizer.param_groups]
    assert lrs == pytest.approx([0.01 * factor, 0.002 * factor, 0.002 * factor])
    assert factor < 0.9  # it did decay


def _stop_after(epoch: int):
    return lambda record: "interrupted" if record["epoch"] == epoch else None


def test_resume_gives_the_uninterrupted_weights(source_run, digits_files, tmp_path):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "freeze": 1,
                 "unfreeze_epoch": 2, "head_lr": 0.01, "layer_decay": 0.5}  # fmt: skip
    cfg = target_config(digits_files[1], model_cfg, epochs=4, checkpoint_every=1,
                        schedule={"name": "cosine"}, optimizer={"name": "adamw", "lr": 0.003})  # fmt: skip
    whole, split = tmp_path / "whole", tmp_path / "split"
    tuneforge.train(cfg, out=whole)
    stopped = tuneforge.train(cfg, out=split, callbacks=[_stop_after(1)])
    assert stopped.summary["status"] == "interrupted" and stopped.summary["epochs"] == 1
    saved = torch.load(split / "checkpoint" / "optimizer.pt", weights_only=True)
    assert [g["name"] for g in saved["param_groups"]] == ["head", "block1", "block0"]
    assert [g["initial_lr"] for g in saved["param_groups"]] == pytest.approx([0.01, 0.003, 0.0015])
    resumed = tuneforge.train(cfg, out=split, resume=True)
    assert resumed.summary["epochs"] == 4
    a, b = load_file(whole / "model.safetensors"), load_file(split / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
