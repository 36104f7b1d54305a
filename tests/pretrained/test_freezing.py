"""Frozen parameters stay bit-identical; unfreezing at epoch E lets them change only after E."""

from __future__ import annotations

import torch
from pretrained_helpers import target_config

from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def _train_with_snapshots(cfg):
    """Train ``cfg`` with the module engine; the weights before and after every epoch."""
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed)
    snapshots = [{k: v.clone() for k, v in model.named_parameters()}]
    trainer = ModuleTrainer(model, data, recipe, seed=cfg.train.seed)

    def snapshot(record):
        snapshots.append({k: v.detach().clone() for k, v in model.named_parameters()})

    trainer.fit([snapshot])
    return model, snapshots


def _changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if not torch.equal(before[name], after[name])}


def test_frozen_body_is_bit_identical_and_the_head_trains(source_run, digits_files):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "freeze": "all"}
    model, snaps = _train_with_snapshots(target_config(digits_files[1], model_cfg, epochs=3))
    body = {n for block in model.block_names for n in block}
    assert body and set(model.head_names)
    assert _changed(snaps[0], snaps[-1]) == set(model.head_names)
    # a frozen block runs in eval mode: its dropout is off while the model trains
    assert all(not m.training for m in model._frozen_modules)


def test_freezing_the_first_block_keeps_only_it(source_run, digits_files):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "freeze": 1}
    model, snaps = _train_with_snapshots(target_config(digits_files[1], model_cfg, epochs=2))
    first = set(model.block_names[0])
    assert _changed(snaps[0], snaps[-1]) == set(snaps[0]) - first


def test_unfreezing_at_epoch_e_changes_the_body_only_after_e(source_run, digits_files):
    model_cfg = {"kind": "pretrained", "source": str(source_run), "freeze": "all",
                 "unfreeze_epoch": 2}  # fmt: skip
    model, snaps = _train_with_snapshots(target_config(digits_files[1], model_cfg, epochs=4))
    body = {n for block in model.block_names for n in block}
    head = set(model.head_names)
    per_epoch = [_changed(snaps[e], snaps[e + 1]) for e in range(4)]
    assert per_epoch[0] == head and per_epoch[1] == head  # epochs 1, 2: body frozen
    assert per_epoch[2] == head | body and per_epoch[3] == head | body  # epochs 3, 4: all train
