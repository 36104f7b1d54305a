"""train.augment inside the engine: training batches only, resumable bit-exactly, less overfit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tuneforge.config import Config
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer, evaluate
from tuneforge.models import build_model
from tuneforge.recipe import Recipe
from tuneforge.run import train

IMAGES = {"image_shape": [1, 8, 8], "rotate": 10, "noise": 2.0, "cutout": 3}


def recipe(augment=None, seed=0, epochs=3, **data) -> Config:
    return Config(data={"source": "digits", "standardize": False, **data}, model={"hidden": [128]},
                  train={"epochs": epochs, "batch_size": 32, "augment": augment, "seed": seed})  # fmt: skip


class Recorder(torch.nn.Module):
    """The model, remembering every input it saw in training and in evaluation mode."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seen = model, {True: [], False: []}

    def forward(self, x):
        self.seen[self.training].append(x.detach().clone())
        return self.model(x)


def seen_inputs(cfg: Config) -> dict[bool, list[torch.Tensor]]:
    data = prepare(cfg.data)
    rec = Recipe.build(cfg.train, data)
    model = Recorder(build_model(cfg.model, data.n_features, rec.n_outputs, seed=0))
    ModuleTrainer(model, data, rec, seed=0).fit()
    return model.seen


@pytest.mark.parametrize("augment", [IMAGES, {"noise": 0.5, "mixup": 0.4}])
def test_validation_batches_are_bit_identical_training_batches_are_not(augment):
    plain, augmented = seen_inputs(recipe()), seen_inputs(recipe(augment))
    assert len(plain[False]) == len(augmented[False]) == 3  # one validation pass per epoch
    for a, b in zip(plain[False], augmented[False], strict=True):
        assert torch.equal(a, b)
    assert len(plain[True]) == len(augmented[True])
    assert not any(torch.equal(a, b) for a, b in zip(plain[True], augmented[True], strict=True))


def test_augmented_training_is_reproducible_with_its_seed():
    first, again = train(recipe(IMAGES | {"mixup": 0.2})), train(recipe(IMAGES | {"mixup": 0.2}))
    other = train(recipe(IMAGES | {"mixup": 0.2, "seed": 1}))
    assert first.history[-1]["train/loss"] == again.history[-1]["train/loss"]
    assert first.history[-1]["train/loss"] != other.history[-1]["train/loss"]


def test_resume_after_a_stop_is_bit_exact_with_augmentation(tmp_path):
    cfg = recipe(IMAGES | {"translate": 1, "mixup": 0.3}, epochs=4)
    straight = train(cfg, tmp_path / "straight")
    stop_at_2 = lambda record: "stopped" if record["epoch"] == 2 else None  # noqa: E731
    assert train(cfg, tmp_path / "resumed", callbacks=[stop_at_2]).summary["status"] == "stopped"
    resumed = train(cfg, tmp_path / "resumed", resume=True)
    assert resumed.summary["epochs"] == 4
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.history[-1]["train/loss"] == resumed.history[-1]["train/loss"]


def gap_and_val(augment) -> tuple[float, float]:
    """Mean train-minus-val accuracy and mean val accuracy over three seeds, 268 training rows."""
    gaps, vals = [], []
    for seed in range(3):
        cfg = recipe(augment, seed=seed, epochs=60, split={"val": 0.3, "test": 0.55})
        run = train(cfg)
        data = prepare(cfg.data)
        fit = evaluate(run.model, data, "train", Recipe.build(cfg.train, data))["train/accuracy"]
        vals.append(run.summary["metrics"]["val/accuracy"])
        gaps.append(fit - vals[-1])
    return float(np.mean(gaps)), float(np.mean(vals))


def test_augmentation_shrinks_the_train_val_gap_on_few_images():
    plain_gap, plain_val = gap_and_val(None)
    aug_gap, aug_val = gap_and_val(IMAGES)
    assert plain_gap > 0.04  # the plain MLP does overfit 268 digits
    assert aug_gap < plain_gap - 0.01
    assert aug_val >= plain_val - 0.005  # by generalising better, not by fitting worse
