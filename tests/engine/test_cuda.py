"""CUDA paths, run where a GPU is (benchmarks/gpu_check.sh); skipped on CPU-only machines.

The CPU-side choices these paths rest on are tested everywhere (tests/engine/test_gpu_ready.py);
what only a GPU shows is here: cuBLAS under deterministic mode, bf16 autocast, resume with the
optimizer state on the device, and each cohort member against its lone run on the same GPU.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import tuneforge
from tuneforge.run.cohort import train_cohort

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FAST = ["data.source=digits", "model.hidden=[64]", "train.epochs=3", "train.device=cuda",
        "train.diagnostics.grad_every=0", "logging.report=false"]  # fmt: skip


class Crash(Exception):
    pass


def _weights(folder):
    return load_file(folder / "model.safetensors")


def test_deterministic_training_runs_and_repeats_bit_for_bit(tmp_path):
    cfg = tuneforge.load_config(overrides=[*FAST, "train.deterministic=true"])
    tuneforge.train(cfg, tmp_path / "a")
    tuneforge.train(cfg, tmp_path / "b")
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.use_deterministic_algorithms(False)


def test_bf16_trains_on_cuda_with_fp32_weights():
    cfg = tuneforge.load_config(overrides=[*FAST, "train.precision=bf16", "train.epochs=5"])
    run = tuneforge.train(cfg)
    assert run.summary["status"] == "completed"
    assert run.summary["metrics"]["val/accuracy"] > 0.85
    assert all(p.dtype == torch.float32 and p.is_cuda for p in run.model.parameters())


def test_a_killed_cuda_run_resumes_to_the_same_weights(tmp_path):
    cfg = tuneforge.load_config(overrides=[*FAST, "train.epochs=4", "train.deterministic=true"])
    tuneforge.train(cfg, tmp_path / "whole")

    def crash(record):
        if record["epoch"] == 2:
            raise Crash

    with pytest.raises(Crash):
        tuneforge.train(cfg, tmp_path / "crashed", callbacks=[crash])
    tuneforge.train(cfg, tmp_path / "crashed", resume=True)
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "crashed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.use_deterministic_algorithms(False)


def test_cohort_members_on_cuda_match_their_lone_cuda_runs():
    cfgs = [tuneforge.load_config(overrides=[*FAST, f"train.optimizer.lr={lr}",
                                             f"train.regularization.l2={l2}"])
            for lr, l2 in ((1e-3, 0.0), (3e-3, 1e-4), (1e-2, 1e-3))]  # fmt: skip
    for member, cfg in zip(train_cohort(cfgs), cfgs, strict=True):
        alone = tuneforge.train(cfg)
        for mine, theirs in zip(member.history, alone.history, strict=True):
            assert mine["train/loss"] == pytest.approx(theirs["train/loss"], rel=1e-4)
            assert mine["val/loss"] == pytest.approx(theirs["val/loss"], rel=1e-4)
