"""Local SGD (``train.distributed.sync: local_sgd``) on 2 gloo ranks against DDP.

The slow tests run the real command under torchrun, as tests/scale/test_ddp.py does. With
``period: 1`` the parameters are averaged after every step, which for SGD with momentum (linear
in the gradient) is DDP's update: the weights must agree to float rounding. With ``period: 8``
the ranks step on their own; a spy on torch's averager counts the all-reduces of parameters.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torchrun_helpers import (
    finish,
    history,
    run,
    start_command,
    train_killed_after,
    weights,
    write,
)

import tuneforge
from tuneforge import cli
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe

SPY = Path(__file__).resolve().parent / "averaging_spy.py"

# digits: 1077 training rows; batches of 32 give 34 steps an epoch (the last one of 21 rows).
DDP = {
    "data": {"source": "digits"},
    "model": {"kind": "mlp", "hidden": [32]},
    "train": {"epochs": 3, "batch_size": 32, "device": "cpu",
              "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},  # fmt: skip
    "logging": {"report": False},
}


def _local(recipe: dict, **distributed) -> dict:
    return {**recipe, "train": {**recipe["train"], "distributed": {"sync": "local_sgd", **distributed}}}


# ------------------------------------------------------------------------------ fast
@pytest.mark.parametrize(("distributed", "key", "expected"), [
    ({"sync": "local_sgd", "period": 0}, "train.distributed.period", "greater than 0"),
    ({"sync": "local_sgd", "warmup_steps": -1}, "train.distributed.warmup_steps", "greater than or equal to 0"),
    ({"sync": "async"}, "train.distributed.sync", "'ddp' or 'local_sgd'"),
    ({"period": 4}, "train.distributed", "local_sgd only"),
    ({"sync": "local_sgd", "every": 4}, "train.distributed.every", "unknown key"),
])  # fmt: skip
def test_bad_distributed_keys_are_one_line_errors(distributed, key, expected, tmp_path,
                                                  monkeypatch, capsys):  # fmt: skip
    recipe = write(tmp_path, {**DDP, "train": {**DDP["train"], "distributed": distributed}})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tuneforge", "train", str(recipe)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1, err
    assert f"{key}:" in err and expected in err, err


def test_one_process_ignores_local_sgd():
    """Without torchrun there is nothing to average: the trainer is the plain one."""
    cfg = tuneforge.Config(**_local(DDP, period=4))
    data = prepare(cfg.data, torch.device("cpu"))
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    trainer = ModuleTrainer(model, data, recipe)
    assert trainer.local_sgd is None and isinstance(trainer.optimizer, torch.optim.SGD)


# --------------------------------------------------------- slow: real torchrun processes
@pytest.mark.slow
def test_period_one_trains_the_weights_of_ddp(tmp_path):
    run("train", write(tmp_path, DDP), "--nproc", "2", "--out", tmp_path / "ddp", "-q", cwd=tmp_path)
    local = write(tmp_path, _local(DDP, period=1), "local.yaml")
    run("train", local, "--nproc", "2", "--out", tmp_path / "local", "-q", cwd=tmp_path)
    reference, got = weights(tmp_path / "ddp"), weights(tmp_path / "local")
    assert got.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(got[key], reference[key], rtol=0, atol=1e-5)
    for mine, theirs in zip(history(tmp_path / "local"), history(tmp_path / "ddp"), strict=True):
        for key in ("train/loss", "val/loss", "val/accuracy"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key


def _spied(tmp_path: Path, recipe: dict, name: str) -> tuple[dict, list[int]]:
    """Run ``recipe`` on 2 ranks under the averager spy: (summary, rounds counted per rank)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(SPY), "train", str(write(tmp_path, recipe, f"{name}.yaml")),
               "--out", str(tmp_path / name), "-q"]  # fmt: skip
    finish(start_command(command, tmp_path, {"SPY_OUT": str(tmp_path / name)}))
    rounds = [json.loads((tmp_path / f"{name}.rank{r}.json").read_text())["rounds"] for r in (0, 1)]
    return json.loads((tmp_path / name / "summary.json").read_text()), rounds


@pytest.mark.slow
def test_period_eight_matches_ddp_accuracy_with_an_eighth_of_the_rounds(tmp_path):
    recipe = {**DDP, "train": {**DDP["train"], "epochs": 20}}
    ddp, ddp_rounds = _spied(tmp_path, recipe, "ddp")
    local, rounds = _spied(tmp_path, _local(recipe, period=8), "local")
    assert ddp_rounds == [0, 0]  # DDP all-reduces gradients instead: one round per step
    assert local["steps"] == ddp["steps"] == 20 * math.ceil(1077 / 32)
    assert rounds == [math.ceil(ddp["steps"] / 8)] * 2  # averages after steps 0, 8, 16, ...
    accuracy = local["metrics"]["test/accuracy"]
    assert abs(accuracy - ddp["metrics"]["test/accuracy"]) <= 0.01


RESUMABLE = {  # dropout: each rank's RNG stream has to come back for the weights to match
    "data": {"source": "digits"},
    "model": {"kind": "mlp", "hidden": [32], "dropout": 0.2},
    "train": {"epochs": 30, "batch_size": 32, "optimizer": {"name": "adamw", "lr": 0.003},
              "schedule": {"name": "cosine", "warmup_steps": 10},
              # 34 steps an epoch: the warm-up (DDP) ends in epoch 2, and epochs 2 to 7 end
              # between two averages, with the ranks' weights apart
              "distributed": {"sync": "local_sgd", "period": 7, "warmup_steps": 40}},  # fmt: skip
    "logging": {"report": False},
}


@pytest.mark.slow
def test_a_killed_local_sgd_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    path = write(tmp_path, RESUMABLE)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run("train", path, "--nproc", "2", "--out", whole, "-q", cwd=tmp_path)

    state = train_killed_after(path, killed, 2, cwd=tmp_path)
    last_step = json.loads(state.read_text())["step"] - 1  # the averager counts from 0
    assert (last_step - 40) % 7, "killed right after an average: the ranks' states are equal"

    run("train", "--resume", killed, "--nproc", "2", "-q", cwd=tmp_path)
    a, b = weights(whole), weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val/loss"] for r in history(whole)] == [r["val/loss"] for r in history(killed)]
