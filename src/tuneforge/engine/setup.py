"""Seeds and devices: what every engine sets before its first step."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from tuneforge.errors import ConfigError


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, refuse nondeterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS is deterministic only with a fixed workspace: without this variable the first
        # CUDA matmul under use_deterministic_algorithms raises. It must be set before cuBLAS
        # starts (its first call in the process); a value the user chose is kept.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: ``auto`` is CUDA where there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: unknown device {name!r}; expected auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda was asked for but no CUDA device is available")
    return device


def check_devices_per_rank(device: torch.device, processes: int, name: str = "train.device") -> None:
    """One CUDA device per data-parallel process (NCCL refuses two ranks on one GPU)."""
    if device.type != "cuda" or processes <= 1:
        return
    count = torch.cuda.device_count()
    if count < processes:
        raise ConfigError(f"{name}: {processes} processes need {processes} CUDA devices, this "
                          f"machine has {count}; use --nproc {count} or train.device=cpu (gloo)")
