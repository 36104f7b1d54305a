"""Data-parallel training (DDP) against one process training on the same global batches.

The multi-process tests run the real command, ``tuneforge train --nproc 2`` (torchrun, gloo on
CPU, one thread per rank), and compare its weights with an in-process single-process run of
the same recipe: the update of each step must be the one of the whole global batch, so the
weights agree to float rounding (the all-reduce sums in another order).
"""

from __future__ import annotations

import sys

import pytest
import torch
from torchrun_helpers import (
    history,
    run,
    train_killed_after,
    weights,
    write,
)

import tuneforge
from tuneforge import cli
from tuneforge.data import prepare
from tuneforge.engine.distributed import World, torchrun_command
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe

# digits has 1077 training rows: batches of 64 leave a last batch of 53, split 26/27.
BASE = {
    "data": {"source": "digits"},
    "model": {"kind": "mlp", "hidden": [32]},
    # gloo on the CPU, also where a GPU would make `auto` pick NCCL: the tests choose the device
    "train": {"epochs": 3, "batch_size": 64, "device": "cpu",
              "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
    "logging": {"report": False},
}
# L2 penalty, norm clipping of the all-reduced gradient, accumulation (no_sync on the first
# micro-batch of each step) and mixup + noise drawn on the global batch.
REGULARIZED = {
    **BASE,
    "train": {**BASE["train"], "optimizer": {"name": "adam", "lr": 0.003},
              "regularization": {"l2": 0.001}, "clip_grad_norm": 0.5, "accumulate": 2,
              "augment": {"noise": 0.05, "mixup": 0.2}},  # fmt: skip
}

# The summed ½·SSE (a rank's share is scaled by the global batch's rows), accumulation, batches
# in row order and a step budget that ends the third epoch after 2 of its 9 steps.
SUMMED = {
    **BASE,
    "train": {**BASE["train"], "optimizer": {"name": "sgd", "lr": 0.001, "momentum": 0.9},
              "loss_reduction": "sum", "loss_scale": 0.5, "accumulate": 2, "shuffle": False,
              "max_steps": 20},  # fmt: skip
}


# ------------------------------------------------------------------ fast: the sharding math
def test_shards_cover_every_row_once():
    for rows in (1, 2, 7, 53, 64):
        for size in (1, 2, 3, 4):
            parts = [range(rows)[World(r, size).shard(rows)] for r in range(size)]
            assert [i for part in parts for i in part] == list(range(rows))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("recipe", [BASE, REGULARIZED], ids=["plain", "mixup"])
def test_rank_shares_average_to_the_global_batch_gradient(recipe):
    """Each rank's ``batch_loss``, averaged over ranks as DDP does, has the batch mean's gradient."""
    cfg = tuneforge.Config(**recipe)
    data = prepare(cfg.data, torch.device("cpu"))
    recipe_ = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe_.n_outputs, seed=0)
    trainer = ModuleTrainer(model, data, recipe_, seed=0)
    x, y = data.x["train"][:53], data.y["train"][:53]  # an odd batch: shards of 26 and 27 rows
    augment_state = trainer.augment.state() if trainer.augment else None

    def gradient(world: World) -> list[torch.Tensor]:
        if augment_state is not None:  # every rank starts from the same augmentation draws
            trainer.augment.load_state(augment_state)
        trainer.world = world
        model.zero_grad()
        trainer.batch_loss(x, y).backward()
        return [p.grad.clone() for p in model.parameters()]

    whole = gradient(World())
    ranks = [gradient(World(r, 2)) for r in range(2)]
    for full, *shares in zip(whole, *ranks, strict=True):
        torch.testing.assert_close(sum(shares) / 2, full, rtol=1e-5, atol=1e-7)


def test_torchrun_is_this_interpreter_with_an_argument_list():
    command = torchrun_command(2, ["train", "my recipe.yaml"])
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=2" in command and command[-2:] == ["train", "my recipe.yaml"]


@pytest.mark.parametrize("args", [["tune"], ["cv"], ["lr-find"], ["train", "--seeds", "2"]])
def test_commands_without_a_data_parallel_form_refuse_torchrun(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(sys, "argv", ["tuneforge", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2
    assert len(err.splitlines()) == 1 and "torchrun" in err and "WORLD_SIZE=2" in err
    assert list(tmp_path.iterdir()) == []  # refused before writing anything


def test_nproc_with_seeds_is_bad_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tuneforge", "train", "--seeds", "2", "--nproc", "2"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2 and "--nproc" in capsys.readouterr().err


# --------------------------------------------------------- slow: real torchrun processes
@pytest.mark.slow
@pytest.mark.parametrize("recipe", [BASE, REGULARIZED, SUMMED], ids=["plain", "regularized", "summed"])
def test_two_processes_train_the_weights_of_one(recipe, tmp_path):
    path = write(tmp_path, recipe)
    run("train", path, "--nproc", "2", "-q", cwd=tmp_path)
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # rank 1 wrote no folder of its own
    ddp = runs[0]
    assert {"model.safetensors", "summary.json", "config.yaml"} <= {p.name for p in ddp.iterdir()}

    single = tuneforge.train(tuneforge.load_config(path), tmp_path / "single")
    reference = weights(tmp_path / "single")
    got = weights(ddp)
    assert got.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(got[key], reference[key], rtol=0, atol=1e-5)
    records = history(ddp)  # one record per epoch: only rank 0 wrote
    assert [r["epoch"] for r in records] == list(range(1, recipe["train"]["epochs"] + 1))
    for mine, theirs in zip(records, single.history, strict=True):
        for key in ("train/loss", "val/loss", "val/accuracy"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key


RESUMABLE = {  # dropout: each rank's RNG stream has to come back for the weights to match
    "data": {"source": "digits"},
    "model": {"kind": "mlp", "hidden": [32], "dropout": 0.2},
    "train": {"epochs": 40, "batch_size": 32, "optimizer": {"name": "adamw", "lr": 0.003},
              "schedule": {"name": "cosine", "warmup_steps": 10}},  # fmt: skip
    "logging": {"report": False},
}


@pytest.mark.slow
def test_a_killed_ddp_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    path = write(tmp_path, RESUMABLE)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run("train", path, "--nproc", "2", "--out", whole, "-q", cwd=tmp_path)

    train_killed_after(path, killed, 2, cwd=tmp_path)

    run("train", "--resume", killed, "--nproc", "2", "-q", cwd=tmp_path)
    a, b = weights(whole), weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val/loss"] for r in history(whole)] == [r["val/loss"] for r in history(killed)]


def test_nproc_checks_the_data_before_starting_ranks(tmp_path, monkeypatch, capsys):
    """A missing target column is bad input: exit 2, one line, and torchrun is never started."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n3,4\n")
    recipe = write(tmp_path, {"data": {"source": "rows.csv", "target": "label"}})
    monkeypatch.setattr(cli.training.subprocess, "run", lambda *a, **k: pytest.fail("torchrun started"))
    monkeypatch.setattr(sys, "argv", ["tuneforge", "train", str(recipe), "--nproc", "2"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "'label'" in err
