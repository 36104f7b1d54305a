"""What would break on CUDA, checked on a CPU (issue: ready for the GPU).

No test here needs a GPU: each one patches what differs (the device count, the device a data
set lies on) or checks the CPU-side choice the GPU path depends on.
"""

from __future__ import annotations

import os

import pytest
import torch

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine import distributed
from tuneforge.engine.cohort import trainer as cohort_trainer
from tuneforge.engine.setup import resolve_device, seed_everything
from tuneforge.errors import ConfigError
from tuneforge.run import check_inputs
from tuneforge.run.cohort import train_cohort


@pytest.fixture
def deterministic_restored():
    yield
    torch.use_deterministic_algorithms(False)


def test_deterministic_mode_sets_the_cublas_workspace(monkeypatch, deterministic_restored):
    # Without CUBLAS_WORKSPACE_CONFIG the first cuBLAS matmul raises under deterministic mode.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0, deterministic=False)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    seed_everything(0, deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (":4096:8", ":16:8")
    assert torch.are_deterministic_algorithms_enabled()


def test_deterministic_mode_keeps_the_users_workspace(monkeypatch, deterministic_restored):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    seed_everything(0, deterministic=True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def _one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_two_processes_on_one_gpu_are_refused_before_launch(monkeypatch):
    _one_gpu(monkeypatch)
    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=1"])
    assert resolve_device(cfg.train.device).type == "cuda"  # auto picks the (patched) GPU
    with pytest.raises(ConfigError, match=r"train.device: 2 processes need 2 CUDA devices.*has 1"):
        check_inputs(cfg, processes=2)


def test_a_rank_without_a_gpu_of_its_own_fails_with_a_clear_error(monkeypatch):
    _one_gpu(monkeypatch)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    rank1 = distributed.World(rank=1, size=2, local_rank=1)
    with pytest.raises(ConfigError, match="2 processes need 2 CUDA devices"):
        distributed.setup(rank1, torch.device("cuda"))  # before any CUDA call


def test_a_data_set_follows_the_device_it_is_asked_for():
    data = prepare(tuneforge.load_config(overrides=["data.source=iris"]).data)
    assert data.to("cpu") is data  # nothing to move
    moved = data.to("meta")  # another device; meta tensors need no hardware
    assert {t.device.type for t in [*moved.x.values(), *moved.y.values()]} == {"meta"}
    assert moved.x["train"].shape == data.x["train"].shape
    assert data.x["train"].device.type == "cpu"  # the original is unchanged


def test_engines_move_a_callers_data_set_to_the_recipes_device(monkeypatch):
    """train(data=...), train_cohort(data=...) and the pool put a prepared data set where the
    recipe trains (a CPU-made set used to reach a CUDA cohort as it was: the cohort failed and
    its members were retrained alone, silently)."""
    asked = []
    real_to = tuneforge.data.Dataset.to

    def spy(self, device):
        asked.append(torch.device(device))
        return real_to(self, device)

    monkeypatch.setattr(tuneforge.data.Dataset, "to", spy)
    cfgs = [tuneforge.load_config(overrides=["data.source=iris", "train.epochs=1", "train.device=cpu",
                                             f"train.optimizer.lr={lr}"]) for lr in (1e-3, 1e-2)]  # fmt: skip
    data = prepare(cfgs[0].data)
    tuneforge.train(cfgs[0], data=data)
    train_cohort(cfgs, data=data)
    assert asked == [torch.device("cpu")] * 2


def test_a_gpu_steps_whole_rows_and_gives_the_chunked_numbers(monkeypatch):
    """On CUDA the batched optimizer steps whole ``[K, size]`` rows (cache-sized column chunks
    only multiply kernel launches there); the numbers are the chunked ones."""
    assert cohort_trainer.chunk_columns(torch.device("cuda"), 16) is None
    assert cohort_trainer.chunk_columns(torch.device("cpu"), 16) == cohort_trainer.CHUNK_ENTRIES // 16
    cfgs = [tuneforge.load_config(overrides=[
        "train.epochs=2", "train.optimizer.name=sgd", "train.optimizer.momentum=0.9",
        f"train.optimizer.lr={lr}", "model.hidden=[64]"]) for lr in (0.01, 0.05)]  # fmt: skip
    monkeypatch.setattr(cohort_trainer, "CHUNK_ENTRIES", 1 << 10)  # several chunks per piece
    chunked = train_cohort(cfgs, device="cpu")
    monkeypatch.setattr(cohort_trainer, "chunk_columns", lambda device, members: None)
    whole = train_cohort(cfgs, device="cpu")
    for a, b in zip(chunked, whole, strict=True):
        for ra, rb in zip(a.history, b.history, strict=True):
            assert ra["train/loss"] == pytest.approx(rb["train/loss"], rel=1e-6)
